"""Capture of an EPCIS document: the one path every way in (the API, the CLI) takes.

:func:`capture_document` reads the body (recording a rejected one as a failed capture job),
holds it to the capture limit, checks that the member may commission what it commissions
(:mod:`ledger.permissions`), checks the member's own EIP-712 signature when there is one
(:mod:`ledger.signing`), and stores every event, all or nothing, queued for anchoring
(:func:`ledger.store.capture.capture_events`). Every refusal is a
:class:`~ledger.errors.LedgerError`; the edges decide how to answer it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from hexbytes import HexBytes
from sqlalchemy.engine import Engine

from ledger.errors import InvalidInputError, TooManyEventsError
from ledger.events import (
    CapturedEvent,
    DocumentValidationError,
    EventValidationError,
    parse_document,
)
from ledger.permissions import check_commissioning
from ledger.signing import SignatureRejectedError, check_event_signature
from ledger.store.capture import (
    DOCUMENT_EVENTS,
    CaptureResult,
    capture_events,
    record_failed_capture,
)
from ledger.store.repository import get_organisation, normalise_org_id
from ledger.store.visibility import default_visibility
from ledger.visibility import Audience, Visibility

__all__ = [
    "SINGLE_EVENT",
    "Captured",
    "EventSignature",
    "FailedCaptureError",
    "NotSingleEventError",
    "capture_audience",
    "capture_document",
    "read_document",
]

#: The JSON path errors name for the event of a single-event capture.
SINGLE_EVENT: Final = "$"


class FailedCaptureError(DocumentValidationError):
    """A document that failed validation, recorded as the failed capture job ``capture_id``."""

    def __init__(self, errors: Sequence[EventValidationError], *, capture_id: str) -> None:
        super().__init__(errors)
        self.capture_id = capture_id


class NotSingleEventError(InvalidInputError):
    """A single-event capture whose body holds another number of events (``count``)."""

    problem = "not-single-event"

    def __init__(self, count: int) -> None:
        super().__init__(f"a single-event capture holds one event, not {count}", field="$")
        self.count = count


@dataclass(frozen=True, slots=True)
class EventSignature:
    """A member's own EIP-712 signature of the one event of a capture, and the domain it must
    have been made for: the chain id and the anchoring contract (:mod:`wallets.eip712`)."""

    signature: bytes
    chain_id: int
    anchor_address: str

    @classmethod
    def from_hex(cls, text: str, *, chain_id: int, anchor_address: str) -> EventSignature:
        """The signature written as hex (0x and 130 hex digits).

        Raises:
            SignatureRejectedError: ``text`` is not hex.
        """
        try:
            raw = bytes(HexBytes(text))
        except ValueError:
            raise SignatureRejectedError(
                "a signature is 0x and 130 hex digits", field="signature"
            ) from None
        return cls(raw, chain_id, anchor_address)

    @property
    def hex(self) -> str:
        """The signature as stored with the event: 0x and lower-case hex."""
        return HexBytes(self.signature).to_0x_hex()


@dataclass(frozen=True, slots=True)
class Captured:
    """An accepted capture and its events, in the document's order, and who may read the
    events it stored (the visibility chosen, or the member's default)."""

    result: CaptureResult
    events: list[CapturedEvent]
    audience: Audience


def read_document(
    engine: Engine,
    body: bytes,
    content_type: str,
    *,
    organisation_id: int,
    max_events: int,
) -> list[CapturedEvent]:
    """Validate a capture body and hold it to ``max_events``, storing nothing but the record
    of a rejected body.

    Raises:
        FailedCaptureError: the body is no valid EPCIS document (or event); it was recorded as
            a failed capture job of ``organisation_id`` (its id in ``capture_id``).
        TooManyEventsError: the document holds more than ``max_events`` events.
    """
    try:
        events = parse_document(body, content_type)
    except DocumentValidationError as exc:
        capture_id = record_failed_capture(
            engine, organisation_id=organisation_id, errors=exc.errors
        )
        raise FailedCaptureError(exc.errors, capture_id=capture_id) from None
    if len(events) > max_events:
        raise TooManyEventsError(len(events), max_events, field=DOCUMENT_EVENTS)
    return events


def capture_document(
    engine: Engine,
    body: bytes,
    content_type: str,
    *,
    organisation_id: int,
    max_events: int,
    signature: EventSignature | None = None,
    single_event: bool = False,
    visibility: Visibility | None = None,
    readers: Sequence[str] = (),
) -> Captured:
    """Capture an EPCIS document (or one event) for member ``organisation_id``.

    ``visibility`` says who may read the events it stores (default: the member's
    ``default_visibility``) and ``readers`` names members (on-chain organisation ids) that
    may read them besides (:mod:`ledger.visibility`).

    The body is read and limited (:func:`read_document`); with ``single_event`` it must hold
    exactly one event (errors then name fields under ``$``, else under
    ``epcisBody.eventList``). Every identifier it commissions must be under a prefix of the
    member; a ``signature`` must be the member's own, by an active key, for every event (it
    signs one event). Then every event is committed in one transaction with its anchoring
    queue entry; events captured before are stored once.

    Raises:
        FailedCaptureError: the body is invalid (recorded as a failed capture job).
        TooManyEventsError: more than ``max_events`` events.
        NotSingleEventError: ``single_event`` and not one event.
        ledger.errors.ForbiddenError: an identifier the member may not commission
            (:mod:`ledger.permissions`).
        ledger.signing.SignatureRejectedError: the signature is malformed or not the member's.
        ledger.errors.LedgerError: the store refused the events (see
            :func:`ledger.store.capture.capture_events`); nothing was stored.
        InvalidInputError: a reader that is not a member.
    """
    audience = capture_audience(engine, organisation_id, visibility, readers)
    events = read_document(
        engine, body, content_type, organisation_id=organisation_id, max_events=max_events
    )
    if single_event and len(events) != 1:
        raise NotSingleEventError(len(events))
    path = SINGLE_EVENT if single_event else DOCUMENT_EVENTS
    check_commissioning(engine, organisation_id, events, path=path)
    signed: str | None = None
    if signature is not None:
        signed = signature.hex
        for event in events:
            check_event_signature(
                engine,
                chain_id=signature.chain_id,
                anchor_address=signature.anchor_address,
                organisation_id=organisation_id,
                event=event,
                signature=signed,
            )
    result = capture_events(
        engine,
        events,
        organisation_id=organisation_id,
        signature=signed,
        events_path=path,
        audience=audience,
    )
    return Captured(result, events, audience)


def capture_audience(
    engine: Engine,
    organisation_id: int,
    visibility: Visibility | None = None,
    readers: Sequence[str] = (),
) -> Audience:
    """Who may read what member ``organisation_id`` captures: ``visibility`` (default: the
    member's own default) and the members ``readers`` names (on-chain organisation ids).

    Raises:
        InvalidInputError: a reader that is malformed or not a member (field ``readers``).
    """
    named: set[int] = set()
    for index, org_id in enumerate(readers):
        try:
            member = get_organisation(engine, org_id=normalise_org_id(org_id))
        except InvalidInputError as error:
            raise InvalidInputError(str(error), field=f"readers[{index}]") from None
        if member is None or member.id is None:
            raise InvalidInputError(
                f"no member has organisation id {org_id}", field=f"readers[{index}]"
            )
        named.add(member.id)
    chosen = visibility or default_visibility(engine, organisation_id)
    return Audience(chosen, frozenset(named))
