"""What a stored event's rows must be, recomputed from what is anchored: pure checks shared by
verification (:mod:`ledger.verify`) and the audit (:mod:`ledger.audit`).

The anchored leaf covers an event's hash, its captured JSON exactly as stored and its signature
(:func:`ledger.merkle.event_leaf`). Every other column a reader sees or a query filters on is
either derived from the captured JSON by capture (``event_id``, ``event_type``, ``event_time``,
``biz_step``, ``read_point``..., the identifier index rows) or state of the anchoring
(``anchor_status``, ``batch_id``, ``proof``, ``recorder_address``) or of the capture job
(``record_time``, ``capture_id``):

* :func:`derivation` recomputes the derived columns and index rows with capture's own code
  (:func:`ledger.store.capture.derived_columns`, :func:`~ledger.store.capture.index_rows`) and
  :func:`record_problems` names those that differ (the captured JSON itself is covered by the
  leaf, byte for byte);
* :func:`anchor_state_problems` checks the anchoring state against the batch's;
* :func:`capture_problems` checks the record time and capture job against the capture row (both
  written in the transaction that stored the event; not anchored).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any, Final, NamedTuple

from ledger.events import CapturedEvent, parse_document
from ledger.store.capture import derived_columns, index_rows
from ledger.store.indexing import event_hash_of

__all__ = [
    "DERIVED_COLUMNS",
    "Derivation",
    "IndexRow",
    "anchor_state_problems",
    "capture_problems",
    "derivation",
    "expected_record",
    "record_problems",
    "stored_state_problems",
]

#: Event columns capture derives from the captured event alone.
DERIVED_COLUMNS: Final = (
    "event_hash",
    "hash_id",
    "event_id",
    "error_declaration",
    "event_type",
    "action",
    "event_time",
    "event_time_zone_offset",
    "biz_step",
    "disposition",
    "read_point",
    "biz_location",
    "prehash",
    "primary_id_key",
)

_LABELS: Final = {
    "primary_id_key": "identifier key (primary_id_key)",
}


class IndexRow(NamedTuple):
    """One ``event_identifier`` row of an event (without its event pk)."""

    role: str
    value: str
    canonical: str
    id_key: str
    class_canonical: str | None


def expected_record(event: CapturedEvent) -> tuple[tuple[Any, ...], frozenset[IndexRow]]:
    """What capture derives from ``event``: the values of :data:`DERIVED_COLUMNS` (in that
    order) and the identifier index rows."""
    rows = index_rows(event)
    columns = derived_columns(event, rows)
    columns["event_hash"] = event_hash_of(event.hash_id)
    index = frozenset(
        IndexRow(r["role"], r["value"], r["canonical"], r["id_key"], r["class_canonical"])
        for r in rows
    )
    return tuple(columns[name] for name in DERIVED_COLUMNS), index


class Derivation(NamedTuple):
    """What capture derives from one captured JSON text."""

    hash_id: str
    #: The values of :data:`DERIVED_COLUMNS`, in that order.
    columns: tuple[Any, ...]
    rows: frozenset[IndexRow]

    @property
    def primary_id_key(self) -> str:
        """The identifier key of the event's first identifier (what its leaf commits to)."""
        return str(self.columns[_PRIMARY_ID_KEY])


_PRIMARY_ID_KEY: Final = DERIVED_COLUMNS.index("primary_id_key")
#: Captured JSON texts whose derivation is kept (a few MB): the events a trail page shows are
#: mostly shared with other pages (a lot's commissioning, a case's packing).
DERIVATION_CACHE_SIZE: Final = 4096


@lru_cache(maxsize=DERIVATION_CACHE_SIZE)
def derivation(captured_json: str) -> Derivation:
    """:func:`expected_record` of the event ``captured_json`` holds (parsed and validated as
    capture does), with its hash ID.

    A pure function of the text, so it is memoised on it: verifying an event whose captured
    JSON was verified before costs a dictionary lookup instead of a parse, and a changed byte
    is a different text. Raises :class:`~ledger.errors.LedgerError` or ``ValueError`` when the
    text no longer reads as one EPCIS event (errors are not memoised).
    """
    (event,) = parse_document(captured_json.encode(), "application/json")
    columns, rows = expected_record(event)
    return Derivation(event.hash_id, columns, rows)


def record_problems(
    columns: Sequence[Any],
    rows: frozenset[IndexRow],
    stored_columns: Sequence[Any],
    index: Iterable[IndexRow] | None,
) -> list[str]:
    """What of a stored event differs from what capture derives from its captured JSON, given
    :func:`expected_record`'s ``columns`` and ``rows``, the stored values of
    :data:`DERIVED_COLUMNS` (in that order) and the event's stored index rows (``None``: not
    checked): one tuple comparison when nothing differs, the messages only when something
    does."""
    problems: list[str] = []
    if tuple(stored_columns) != tuple(columns):
        problems = [
            f"the stored {_LABELS.get(name, name)} {stored!r} is not what the captured event "
            f"gives ({expected!r})"
            for name, expected, stored in zip(DERIVED_COLUMNS, columns, stored_columns, strict=True)
            if expected != stored
        ]
    if index is not None:
        stored_rows = index if isinstance(index, list | tuple) else list(index)
        if len(stored_rows) != len(rows) or set(stored_rows) != rows:
            missing = rows - set(stored_rows)
            extra = [r for r in stored_rows if r not in rows]
            problems.append(
                "the identifier index rows are not those of the captured event: "
                f"missing {sorted(missing, key=repr)}, unexpected {sorted(extra, key=repr)}"
            )
    return problems


def anchor_state_problems(
    *,
    anchor_status: str,
    batch_id: int | None,
    batch_status: str | None,
    proof: Any,
    recorder_address: str | None,
    batch_signer: str | None = None,
    event_org: int | None = None,
    batch_org: int | None = None,
) -> list[str]:
    """Whether an event's anchoring state agrees with its batch's (the anchor worker changes
    both in one transaction: ``anchored`` exactly when the batch is ``mined``)."""
    if batch_id is None:
        if anchor_status != "pending" or proof is not None or recorder_address is not None:
            return [f"the event is {anchor_status!r} with a proof or recorder but in no batch"]
        return []
    if batch_status is None:
        return [f"the event's batch {batch_id} does not exist"]
    problems = []
    expected = {"mined": "anchored", "prepared": "pending", "sent": "pending"}.get(batch_status)
    if expected is None:
        problems.append(f"the event belongs to a batch that is {batch_status!r}")
    elif anchor_status != expected:
        problems.append(
            f"the event is {anchor_status!r} but its batch is {batch_status!r} "
            f"(it would be {expected!r})"
        )
    if not isinstance(proof, list) or not all(isinstance(p, str) for p in proof):
        problems.append("the event's stored proof is not a list of hashes")
    if batch_signer is not None and recorder_address != batch_signer:
        problems.append(f"the event names recorder {recorder_address}, its batch {batch_signer}")
    if event_org is not None and batch_org is not None and event_org != batch_org:
        problems.append("the event and its batch name different members")
    return problems


def capture_problems(
    *,
    record_time: datetime,
    organisation_id: int,
    capture_created_at: datetime | None,
    capture_org: int | None,
) -> list[str]:
    """Whether the event's record time and member agree with its capture job's row (written in
    the same transaction as the event; neither is anchored)."""
    if capture_created_at is None:
        return ["the event's capture job does not exist"]
    problems = []
    if capture_org != organisation_id:
        problems.append("the event and its capture job name different members")
    if record_time != capture_created_at:
        problems.append(
            f"the event's record time {record_time.isoformat()} is not its capture job's "
            f"{capture_created_at.isoformat()}"
        )
    return problems


def stored_state_problems(
    row: Any,
    *,
    batch_status: str | None,
    batch_signer: str | None = None,
    batch_org: int | None = None,
) -> list[str]:
    """:func:`capture_problems` and :func:`anchor_state_problems` of a stored event ``row``
    (its ``record_time``, ``organisation_id``, ``capture_created_at``, ``capture_org``,
    ``anchor_status``, ``batch_id``, ``proof`` and ``recorder_address``) and its batch's
    state: the checks of what is not anchored, as verification and the audit both run them."""
    return capture_problems(
        record_time=row.record_time,
        organisation_id=row.organisation_id,
        capture_created_at=row.capture_created_at,
        capture_org=row.capture_org,
    ) + anchor_state_problems(
        anchor_status=row.anchor_status,
        batch_id=row.batch_id,
        batch_status=batch_status,
        proof=row.proof,
        recorder_address=row.recorder_address,
        batch_signer=batch_signer,
        event_org=row.organisation_id,
        batch_org=batch_org,
    )
