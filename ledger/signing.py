"""Events signed by their recording member (EIP-712), for non-custodial members.

A member that keeps its own key signs ``TraceEvent(eventHash, idKey)`` (see
:mod:`wallets.eip712`) for each event it submits: ``eventHash`` is the SHA-256 digest inside the
event's CBV 2.0 hash ID, ``idKey`` the key of its first identifier (:func:`event_keys`). The
signature is checked here before the event is stored, kept with it, and checked again by every
verification.
"""

from __future__ import annotations

import sqlalchemy as sa
from eth_typing import ChecksumAddress
from hexbytes import HexBytes
from sqlalchemy.engine import Engine

from ledger.errors import InvalidInputError
from ledger.events import CapturedEvent
from ledger.store.indexing import NO_ID_KEY, event_hash_of, identifier_rows, index_identifier
from ledger.store.tables import SIGNING_KEY
from wallets.eip712 import SignatureError, recover_event_signer


class SignatureRejectedError(InvalidInputError):
    """An event signature that is malformed or not made by a key of the recording member."""

    problem = "signature-rejected"


def event_keys(event: CapturedEvent) -> tuple[bytes, bytes]:
    """The (event hash, identifier key) pair a member signs and a Merkle leaf commits to."""
    mentioned = identifier_rows(event)
    id_key = index_identifier(mentioned[0][1]).id_key if mentioned else NO_ID_KEY
    return bytes(HexBytes(event_hash_of(event.hash_id))), bytes(HexBytes(id_key))


def check_event_signature(
    engine: Engine,
    *,
    chain_id: int,
    anchor_address: str,
    organisation_id: int,
    event: CapturedEvent,
    signature: str,
) -> ChecksumAddress:
    """The signer of ``event``; raises unless it is an active key of the recording member."""
    try:
        raw = bytes(HexBytes(signature))
    except ValueError:
        raise SignatureRejectedError(
            "a signature is 0x and 130 hex digits", field="signature"
        ) from None
    event_hash, id_key = event_keys(event)
    try:
        signer = recover_event_signer(raw, chain_id, anchor_address, event_hash, id_key)
    except SignatureError as exc:
        raise SignatureRejectedError(str(exc), field="signature") from None
    with engine.connect() as conn:
        known = conn.execute(
            sa.select(SIGNING_KEY.c.id).where(
                SIGNING_KEY.c.address == signer,
                SIGNING_KEY.c.organisation_id == organisation_id,
                SIGNING_KEY.c.active.is_(True),
            )
        ).first()
    if known is None:
        raise SignatureRejectedError(
            f"the event is signed by {signer}, which is no active key of the recording member",
            field="signature",
        )
    return signer
