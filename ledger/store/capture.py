"""Atomic, idempotent capture: a document's events, their identifier index rows, their outbox
rows and the capture row, in ONE database transaction.

Idempotency rests on the record key ``(event.event_hash, event.error_declaration)`` (unique):
events are inserted with ``INSERT … ON CONFLICT DO NOTHING … RETURNING id``, so an event
captured twice (in two documents, twice in one document, or by two processes at the same
moment) is stored once and every capture of it gets the same event pk back.

An error declaration (EPCIS 2.0 section 7.4.1.2: a copy of the event with an
``errorDeclaration`` member) has the event hash of the event it declares in error (CBV 2.0
leaves ``errorDeclaration`` out of the hash), so it is stored as its own record beside the
event, under the key ``(event_hash, True)``. One event is declared in error once: capturing the
same declaration again (the same ``errorDeclaration`` member) is idempotent, a different one is
refused (:class:`DuplicateDeclarationError`, nothing of the document is stored). A declaration
of an event this ledger does not hold is stored too (EPCIS allows declaring an event captured
elsewhere, or before the event itself arrives).

An ``eventID`` names one event: a different event (another hash) with the ``eventID`` of a
stored event, or of an earlier event of the same document, is refused
(:class:`DuplicateEventIDError`, nothing of the document is stored) unless it is an error
declaration (``errorDeclaration``), which repeats the eventID of the event it declares in
error (EPCIS 2.0 section 7.4.1.2). The partial unique index ``uq_event_event_id`` is the
arbiter: the same ``ON CONFLICT DO NOTHING`` skips an event whose eventID a concurrent capture
has just stored (PostgreSQL waits for that capture to commit or roll back first), and the
read-back then finds the event neither inserted nor stored under its hash.

Rows go in sorted by hash, so concurrent PostgreSQL transactions over overlapping documents
take their row locks in the same order and cannot deadlock; SQLite transactions take the write
lock at ``BEGIN IMMEDIATE``.

Everything is SQLAlchemy Core: one multi-row ``INSERT`` per table and page of rows
(``executemany`` with ``RETURNING`` through SQLAlchemy's insertmanyvalues), no ORM objects.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from ledger.errors import ConflictError, InvalidInputError, LedgerError
from ledger.events import CapturedEvent
from ledger.events.validation import item_path, join_path
from ledger.store.db import write_transaction
from ledger.store.indexing import (
    NO_ID_KEY,
    event_hash_of,
    identifier_rows,
    index_identifier,
    location_key,
)
from ledger.store.models import utc_now
from ledger.store.tables import CAPTURE, EVENT, EVENT_IDENTIFIER, OUTBOX
from ledger.store.visibility import NewRecord, record_audience
from ledger.visibility import Audience, party_identifiers

__all__ = [
    "DOCUMENT_EVENTS",
    "CaptureResult",
    "CapturedRecord",
    "DuplicateDeclarationError",
    "DuplicateEventIDError",
    "PreparedCapture",
    "RecordKey",
    "capture_event_ids",
    "capture_events",
    "capture_events_in",
    "derived_columns",
    "index_rows",
    "is_error_declaration",
    "prepare_capture",
    "record_failed_capture",
]


#: SQLSTATEs after which PostgreSQL asks for the transaction to be retried.
_RETRY_SQLSTATES: Final = frozenset({"40001", "40P01"})
#: How often a capture is retried after a deadlock or serialization failure.
MAX_ATTEMPTS: Final = 5
#: Rows per ``WHERE event_hash IN (...)`` read-back (well under every parameter limit).
_READ_BACK_CHUNK: Final = 500
_MAX_CAPTURE_ID: Final = 36
#: The JSON path of an EPCISDocument's events (errors name ``epcisBody.eventList[3]...``).
DOCUMENT_EVENTS: Final = "epcisBody.eventList"
#: Columns of an identifier index row, in the order of :data:`_SQLITE_IDENTIFIER_INSERT`.
_IDENTIFIER_COLUMNS: Final = ("event_pk", "role", "value", "canonical", "id_key", "class_canonical")
#: ``sa.insert(EVENT_IDENTIFIER)`` and ``sa.insert(OUTBOX)`` of capture, as SQLite (qmark) SQL.
_SQLITE_IDENTIFIER_INSERT: Final = str(
    sa.insert(EVENT_IDENTIFIER).compile(
        dialect=sqlite.dialect(), column_keys=list(_IDENTIFIER_COLUMNS)
    )
)
_SQLITE_OUTBOX_INSERT: Final = str(
    sa.insert(OUTBOX).compile(
        dialect=sqlite.dialect(), column_keys=["event_pk", "organisation_id", "created_at"]
    )
)


class DuplicateEventIDError(ConflictError):
    """Events whose ``eventID`` already names a different event; nothing was stored.

    ``errors`` holds one :class:`~ledger.errors.ConflictError` per refused event, its
    ``field`` the path of that event's ``eventID``.
    """

    problem = "duplicate-event-id"

    def __init__(self, errors: Sequence[ConflictError]) -> None:
        if not errors:
            raise ValueError("a DuplicateEventIDError needs at least one conflict")
        self.errors: tuple[ConflictError, ...] = tuple(errors)
        first, more = self.errors[0], len(self.errors) - 1
        summary = first.reason if not more else f"{first.reason} (and {more} more)"
        super().__init__(summary, field=first.field)


class DuplicateDeclarationError(ConflictError):
    """Error declarations of events already declared in error by another declaration;
    nothing was stored.

    ``errors`` holds one :class:`~ledger.errors.ConflictError` per refused declaration, its
    ``field`` the path of that declaration's ``errorDeclaration``.
    """

    problem = "already-declared-in-error"

    def __init__(self, errors: Sequence[ConflictError]) -> None:
        if not errors:
            raise ValueError("a DuplicateDeclarationError needs at least one conflict")
        self.errors: tuple[ConflictError, ...] = tuple(errors)
        first, more = self.errors[0], len(self.errors) - 1
        summary = first.reason if not more else f"{first.reason} (and {more} more)"
        super().__init__(summary, field=first.field)


#: What identifies a stored record: its event hash and whether it is an error declaration
#: (the unique constraint ``uq_event_event_hash_error_declaration``).
RecordKey = tuple[str, bool]


def is_error_declaration(event: CapturedEvent) -> bool:
    """Whether ``event`` declares an earlier event in error (it has ``errorDeclaration``)."""
    return "errorDeclaration" in event.raw


def _declaration_of(captured_json: str) -> Any:
    """The ``errorDeclaration`` member of a stored record's captured JSON."""
    return json.loads(captured_json).get("errorDeclaration")


@dataclass(frozen=True, slots=True)
class CapturedRecord:
    """What became of one event of a capture request."""

    #: ``event.id`` of the stored event (the first record when it was captured before).
    event_pk: int
    hash_id: str
    #: 0x-hex digest (``event.event_hash``).
    event_hash: str
    #: Whether this capture stored the event (False: it was already there, or appeared earlier
    #: in the same document).
    new: bool
    #: The stored event's ``eventID`` (that of the first capture when it was captured before).
    event_id: str | None = None
    #: Whether the record is an error declaration (stored beside the event it declares).
    error_declaration: bool = False

    @property
    def listed_id(self) -> str:
        """What a capture job lists for the event: its ``eventID``, else its hash ID."""
        return self.event_id or self.hash_id


@dataclass(frozen=True, slots=True)
class CaptureResult:
    """The outcome of an accepted capture, one record per input event in input order."""

    capture_id: str
    record_time: datetime
    events: tuple[CapturedRecord, ...]

    @property
    def new_count(self) -> int:
        """How many events this capture stored."""
        return sum(1 for record in self.events if record.new)

    @property
    def event_ids(self) -> list[str]:
        """What the capture job lists: each input event's stored ``eventID`` (else its hash
        ID), in input order."""
        return [record.listed_id for record in self.events]


@dataclass(frozen=True, slots=True)
class PreparedCapture:
    """The rows of one capture, computed without touching the database."""

    capture_id: str
    organisation_id: int
    #: Record key (event hash, error declaration) of each input event, in input order.
    keys: tuple[RecordKey, ...]
    hash_ids: tuple[str, ...]
    #: One row per distinct record, sorted by record key (the lock order); their
    #: ``record_time`` is filled in when stored.
    event_rows: tuple[dict[str, Any], ...]
    #: Identifier index rows per record key; their ``event_pk`` is filled in when stored.
    identifier_rows: dict[RecordKey, tuple[dict[str, Any], ...]]
    #: The input's JSON path of its events (:data:`DOCUMENT_EVENTS`, or ``"$"`` for one event).
    events_path: str = DOCUMENT_EVENTS
    #: Who may read the events this capture stores (:mod:`ledger.visibility`).
    audience: Audience = field(default_factory=Audience)
    #: The owning/possessing parties each record's source and destination lists name.
    parties: dict[RecordKey, tuple[str, ...]] = field(default_factory=dict)

    @property
    def hashes(self) -> tuple[str, ...]:
        """Event hash of each input event, in input order."""
        return tuple(digest for digest, _ in self.keys)

    def field_of(self, key: RecordKey, name: str) -> str:
        """The path of member ``name`` of the first input event with record key ``key``."""
        return join_path(item_path(self.events_path, self.keys.index(key)), name)


def prepare_capture(
    events: Sequence[CapturedEvent],
    *,
    organisation_id: int,
    capture_id: str,
    signature: str | None = None,
    events_path: str = DOCUMENT_EVENTS,
    audience: Audience | None = None,
) -> PreparedCapture:
    """Compute every row of a capture, without touching the database.

    ``events_path`` is where the events are in the input, for the paths errors name;
    ``audience`` who may read the events it stores (default: ``linked``, no one named).

    Raises:
        DuplicateEventIDError: two different events (not error declarations) of the input
            carry one ``eventID``.
        DuplicateDeclarationError: two different error declarations of one event.
        InvalidInputError: a ``signature`` for a capture of more than one distinct event, or
            an event whose ``hash_id`` is not a CBV 2.0 Event Hash ID.
    """
    hashes = tuple(event_hash_of(event.hash_id) for event in events)
    keys = tuple(
        (digest, is_error_declaration(event)) for digest, event in zip(hashes, events, strict=True)
    )
    distinct: dict[RecordKey, CapturedEvent] = {}
    for key, event in zip(keys, events, strict=True):
        distinct.setdefault(key, event)
    _check_event_ids(events, hashes, events_path)
    _check_declarations(events, keys, distinct, events_path)
    if signature is not None and len(distinct) > 1:
        raise InvalidInputError(
            "an EIP-712 event signature signs one event; this capture holds "
            f"{len(distinct)} distinct events",
            field="signature",
        )
    audience = audience or Audience()
    event_rows: list[dict[str, Any]] = []
    index: dict[RecordKey, tuple[dict[str, Any], ...]] = {}
    parties: dict[RecordKey, tuple[str, ...]] = {}
    for key in sorted(distinct):
        event = distinct[key]
        rows = index_rows(event)
        index[key] = rows
        parties[key] = tuple(party_identifiers(event.raw))
        event_rows.append(
            {
                "event_hash": key[0],
                **derived_columns(event, rows),
                "record_time": None,  # set inside the transaction
                "captured_json": json.dumps(
                    event.raw, ensure_ascii=False, check_circular=False, separators=(",", ":")
                ),
                "organisation_id": organisation_id,
                "signature": signature,
                "capture_id": capture_id,
                "anchor_status": "pending",
                "visibility": audience.visibility.value,
            }
        )
    return PreparedCapture(
        capture_id=capture_id,
        organisation_id=organisation_id,
        keys=keys,
        hash_ids=tuple(event.hash_id for event in events),
        event_rows=tuple(event_rows),
        identifier_rows=index,
        events_path=events_path,
        audience=audience,
        parties=parties,
    )


def index_rows(event: CapturedEvent) -> tuple[dict[str, Any], ...]:
    """The identifier index rows capture writes for ``event`` (``event_pk`` unset)."""
    rows = []
    for role, value in identifier_rows(event):
        indexed = index_identifier(value)
        rows.append(
            {
                "event_pk": None,  # set once the event has its id
                "role": role,
                "value": value,
                "canonical": indexed.canonical,
                "id_key": indexed.id_key,
                "class_canonical": indexed.class_canonical,
            }
        )
    return tuple(rows)


def derived_columns(event: CapturedEvent, rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The event columns capture derives from ``event`` alone, given its :func:`index_rows`
    (verification and the audit recompute them: :mod:`ledger.store.integrity`)."""
    return {
        "hash_id": event.hash_id,
        "event_id": event.event_id,
        "error_declaration": is_error_declaration(event),
        "event_type": event.event_type,
        "action": event.action,
        "event_time": event.event_time,
        "event_time_zone_offset": event.event_time_zone_offset,
        "biz_step": event.biz_step,
        "disposition": event.disposition,
        "read_point": location_key(event.read_point),
        "biz_location": location_key(event.biz_location),
        "prehash": event.prehash,
        "primary_id_key": rows[0]["id_key"] if rows else NO_ID_KEY,
    }


def _check_event_ids(
    events: Sequence[CapturedEvent], hashes: Sequence[str], events_path: str
) -> None:
    """Refuse an input in which two different events (not error declarations) share an
    ``eventID``; the later one is named."""
    first: dict[str, tuple[str, int]] = {}
    conflicts: list[ConflictError] = []
    for index, (digest, event) in enumerate(zip(hashes, events, strict=True)):
        if event.event_id is None or is_error_declaration(event):
            continue
        holder, position = first.setdefault(event.event_id, (digest, index))
        if holder != digest:
            earlier = item_path(events_path, position) or "$"
            conflicts.append(
                ConflictError(
                    f"the eventID {event.event_id!r} already names another event of this "
                    f"capture ({earlier}); an eventID names one event (only an error "
                    "declaration may repeat it)",
                    field=join_path(item_path(events_path, index), "eventID"),
                )
            )
    if conflicts:
        raise DuplicateEventIDError(conflicts)


def _declared_in_error(event_id: str | None, hash_id: str, where: str) -> str:
    """The reason a second, different error declaration of an event is refused."""
    named = f"the event {event_id!r} ({hash_id})" if event_id else f"the event {hash_id}"
    return (
        f"{named} is already declared in error by another error declaration ({where}); an "
        "event is declared in error once (re-capturing the same declaration is idempotent)"
    )


def _check_declarations(
    events: Sequence[CapturedEvent],
    keys: Sequence[RecordKey],
    distinct: Mapping[RecordKey, CapturedEvent],
    events_path: str,
) -> None:
    """Refuse an input holding two different error declarations of one event (another
    ``errorDeclaration`` member); the later one is named."""
    conflicts: list[ConflictError] = []
    for index, (key, event) in enumerate(zip(keys, events, strict=True)):
        first = distinct[key]
        if not key[1] or first is event:
            continue
        if first.raw["errorDeclaration"] != event.raw["errorDeclaration"]:
            earlier = item_path(events_path, keys.index(key)) or "$"
            conflicts.append(
                ConflictError(
                    _declared_in_error(event.event_id, event.hash_id, f"{earlier} of this capture"),
                    field=join_path(item_path(events_path, index), "errorDeclaration"),
                )
            )
    if conflicts:
        raise DuplicateDeclarationError(conflicts)


def _stored_declaration_conflicts(
    prepared: PreparedCapture, stored: Mapping[RecordKey, _Stored]
) -> None:
    """Refuse error declarations whose event is declared in error already by a different
    stored declaration."""
    rows = {(row["event_hash"], row["error_declaration"]): row for row in prepared.event_rows}
    conflicts = []
    for key, found in sorted(stored.items(), key=lambda item: prepared.keys.index(item[0])):
        if not key[1] or found.declaration is None:
            continue
        mine = _declaration_of(rows[key]["captured_json"])
        if mine != _declaration_of(found.declaration):
            conflicts.append(
                ConflictError(
                    _declared_in_error(rows[key]["event_id"], rows[key]["hash_id"], "stored"),
                    field=prepared.field_of(key, "errorDeclaration"),
                )
            )
    if conflicts:
        raise DuplicateDeclarationError(conflicts)


def _stored_conflicts(
    connection: Connection, prepared: PreparedCapture, unseen: Sequence[RecordKey]
) -> DuplicateEventIDError:
    """Why events were neither inserted nor found under their record key: their eventID
    names another stored event (the unique index skipped them)."""
    rows = {(row["event_hash"], row["error_declaration"]): row for row in prepared.event_rows}
    wanted = sorted({rows[key]["event_id"] for key in unseen if rows[key]["event_id"]})
    holders: dict[str, str] = {}
    for start in range(0, len(wanted), _READ_BACK_CHUNK):
        chunk = wanted[start : start + _READ_BACK_CHUNK]
        rows_held = connection.execute(
            sa.select(EVENT.c.event_id, EVENT.c.hash_id).where(
                EVENT.c.event_id.in_(chunk), sa.not_(EVENT.c.error_declaration)
            )
        )
        holders.update((event_id, hash_id) for event_id, hash_id in rows_held)
    conflicts = []
    for key in sorted(unseen, key=prepared.keys.index):
        event_id = rows[key]["event_id"]
        if event_id not in holders:
            # Cannot happen under READ COMMITTED: ON CONFLICT waits for a concurrent inserter
            # to commit (then its row is visible to the next statement) or roll back (then
            # ours goes in). A stricter isolation level can hide the winner's row.
            raise LedgerError("captured events neither inserted nor visible; retry the capture")
        conflicts.append(
            ConflictError(
                f"the eventID {event_id!r} already names another event ({holders[event_id]}); "
                "an eventID names one event (only an error declaration may repeat it)",
                field=prepared.field_of(key, "eventID"),
            )
        )
    return DuplicateEventIDError(conflicts)


def _insert(connection: Connection, table: sa.Table) -> Any:
    """The dialect's INSERT (SQLite and PostgreSQL both have ON CONFLICT)."""
    if connection.dialect.name == "postgresql":
        return postgresql.insert(table)
    if connection.dialect.name == "sqlite":
        return sqlite.insert(table)
    raise LedgerError(f"unsupported database {connection.dialect.name!r}")


def _created_at_param(connection: Connection, when: datetime) -> Any:
    """``when`` as the driver gets it for ``outbox.created_at`` (UTCDateTime's bind step)."""
    dialect = connection.dialect
    process = OUTBOX.c.created_at.type.dialect_impl(dialect).bind_processor(dialect)
    return when if process is None else process(when)


@dataclass(frozen=True, slots=True)
class _Stored:
    """A record found stored under a record key."""

    pk: int
    event_id: str | None
    #: The captured JSON of an error declaration (None for an event).
    declaration: str | None


def _read_back(connection: Connection, keys: Sequence[RecordKey]) -> dict[RecordKey, _Stored]:
    """The stored records among ``keys``."""
    wanted = set(keys)
    hashes = sorted({digest for digest, _ in keys})
    found: dict[RecordKey, _Stored] = {}
    c = EVENT.c
    declaration = sa.case((c.error_declaration, c.captured_json), else_=sa.null())
    for start in range(0, len(hashes), _READ_BACK_CHUNK):
        chunk = hashes[start : start + _READ_BACK_CHUNK]
        rows = connection.execute(
            sa.select(c.id, c.event_hash, c.error_declaration, c.event_id, declaration).where(
                c.event_hash.in_(chunk)
            )
        )
        for pk, digest, declared, event_id, captured in rows:
            key = (digest, bool(declared))
            if key in wanted:
                found[key] = _Stored(pk, event_id, captured)
    return found


def capture_event_ids(connection: Connection, event_pks: Sequence[int]) -> list[str]:
    """What a capture job lists for the stored events ``event_pks`` (``capture.event_pks``):
    each one's ``eventID``, else its hash ID, in the given order."""
    listed: dict[int, str] = {}
    distinct = sorted(set(event_pks))
    for start in range(0, len(distinct), _READ_BACK_CHUNK):
        chunk = distinct[start : start + _READ_BACK_CHUNK]
        rows = connection.execute(
            sa.select(EVENT.c.id, EVENT.c.event_id, EVENT.c.hash_id).where(EVENT.c.id.in_(chunk))
        )
        listed.update((pk, event_id or hash_id) for pk, event_id, hash_id in rows)
    return [listed[pk] for pk in event_pks if pk in listed]


def capture_events_in(connection: Connection, prepared: PreparedCapture) -> CaptureResult:
    """Store a prepared capture on ``connection``, inside the caller's transaction.

    The record time is taken here, once the transaction holds SQLite's write lock, so on
    SQLite record times increase in commit order. (On PostgreSQL concurrent captures may
    commit out of record-time order: a client polling by ``GE_recordTime`` should let its
    windows overlap a little.)
    """
    record_time = utc_now()
    for row in prepared.event_rows:
        row["record_time"] = record_time
    connection.execute(
        _insert(connection, CAPTURE).on_conflict_do_nothing(index_elements=["id"]),
        {
            "id": prepared.capture_id,
            "organisation_id": prepared.organisation_id,
            "created_at": record_time,
            "status": "accepted",
            "event_count": len(prepared.hashes),
            "errors": None,
        },
    )
    new_ids: dict[RecordKey, int] = {}
    insert_events = (
        # No conflict target: a record whose key (event hash, error declaration) OR whose
        # eventID (uq_event_event_id) is stored already is skipped; the read-back tells which.
        _insert(connection, EVENT)
        .on_conflict_do_nothing()
        .returning(EVENT.c.id, EVENT.c.event_hash, EVENT.c.error_declaration)
    )
    if prepared.event_rows:
        rows = connection.execute(insert_events, list(prepared.event_rows))
        for pk, digest, declared in rows:
            new_ids[(digest, bool(declared))] = pk
    missing = [key for key in sorted(set(prepared.keys)) if key not in new_ids]
    existing = _read_back(connection, missing)
    if len(existing) != len(missing):
        unseen = [key for key in missing if key not in existing]
        raise _stored_conflicts(connection, prepared, unseen)
    _stored_declaration_conflicts(prepared, existing)
    if new_ids:
        ordered = sorted(new_ids.items(), key=lambda item: item[1])
        identifier_params = []
        for key, pk in ordered:
            for row in prepared.identifier_rows[key]:
                row["event_pk"] = pk
                identifier_params.append(row)
        if connection.dialect.paramstyle == "qmark":
            # SQLite: the INSERTs below, run by the driver's executemany without SQLAlchemy's
            # per-row parameter processing (the one conversion, created_at's UTCDateTime
            # text, is done once).
            if identifier_params:
                connection.exec_driver_sql(
                    _SQLITE_IDENTIFIER_INSERT,
                    [tuple(row[name] for name in _IDENTIFIER_COLUMNS) for row in identifier_params],
                )
            created_at = _created_at_param(connection, record_time)
            organisation_id = prepared.organisation_id
            connection.exec_driver_sql(
                _SQLITE_OUTBOX_INSERT,
                [(pk, organisation_id, created_at) for _, pk in ordered],
            )
        else:
            if identifier_params:
                connection.execute(sa.insert(EVENT_IDENTIFIER), identifier_params)
            connection.execute(
                sa.insert(OUTBOX),
                [
                    {
                        "event_pk": pk,
                        "organisation_id": prepared.organisation_id,
                        "created_at": record_time,
                    }
                    for _, pk in ordered
                ],
            )
    event_types = {
        (row["event_hash"], row["error_declaration"]): row["event_type"]
        for row in prepared.event_rows
    }
    record_audience(
        connection,
        prepared.organisation_id,
        prepared.audience,
        [
            NewRecord(pk, event_types[key], prepared.identifier_rows[key], prepared.parties[key])
            for key, pk in sorted(new_ids.items(), key=lambda item: item[1])
        ],
        [stored.pk for stored in existing.values()],
        [prepared.identifier_rows[key] for key in existing],
    )
    records = []
    seen: set[RecordKey] = set()
    event_ids = {
        (row["event_hash"], row["error_declaration"]): row["event_id"]
        for row in prepared.event_rows
    }
    for key, hash_id in zip(prepared.keys, prepared.hash_ids, strict=True):
        is_new = key in new_ids and key not in seen
        seen.add(key)
        if key in new_ids:
            pk, event_id = new_ids[key], event_ids[key]
        else:
            pk, event_id = existing[key].pk, existing[key].event_id
        records.append(CapturedRecord(pk, hash_id, key[0], is_new, event_id, key[1]))
    # The capture job's list of events (kept when a capture id is reused: the first stays).
    connection.execute(
        sa.update(CAPTURE)
        .where(CAPTURE.c.id == prepared.capture_id, CAPTURE.c.event_pks.is_(None))
        .values(event_pks=[record.event_pk for record in records])
    )
    return CaptureResult(prepared.capture_id, record_time, tuple(records))


def _retryable(error: DBAPIError) -> bool:
    return getattr(error.orig, "sqlstate", None) in _RETRY_SQLSTATES


def _capture_id(capture_id: str | None) -> str:
    if capture_id is None:
        return str(uuid.uuid4())
    if not capture_id or len(capture_id) > _MAX_CAPTURE_ID:
        raise InvalidInputError(
            f"a capture id has 1 to {_MAX_CAPTURE_ID} characters", field="capture_id"
        )
    return capture_id


def capture_events(
    engine: Engine,
    events: Sequence[CapturedEvent],
    *,
    organisation_id: int,
    capture_id: str | None = None,
    signature: str | None = None,
    events_path: str = DOCUMENT_EVENTS,
    audience: Audience | None = None,
) -> CaptureResult:
    """Store a document's events, all or none, idempotently, in one transaction.

    ``capture_id`` defaults to a new UUID; capturing again under an existing id keeps the
    first capture row. ``signature`` is an EIP-712 event signature and so only fits a capture
    of one (distinct) event; it is stored on the event if this capture stores it.

    ``events_path`` is where the events were in the input (:data:`DOCUMENT_EVENTS`, or ``"$"``
    for a single event), for the paths errors name.

    Returns one :class:`CapturedRecord` per input event, in input order.

    Raises:
        DuplicateEventIDError: an event whose ``eventID`` names another event of the input or
            of the store (error declarations excepted); nothing was stored.
        DuplicateDeclarationError: an error declaration of an event that another (different)
            declaration of the input or of the store declares in error; nothing was stored.
        InvalidInputError: see :func:`prepare_capture`; a bad ``capture_id``.
        sqlalchemy.exc.SQLAlchemyError: the database failed; nothing was stored.
    """
    prepared = prepare_capture(
        events,
        organisation_id=organisation_id,
        capture_id=_capture_id(capture_id),
        signature=signature,
        events_path=events_path,
        audience=audience,
    )
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            with write_transaction(engine) as connection:
                return capture_events_in(connection, prepared)
        except DBAPIError as error:
            if attempt == MAX_ATTEMPTS or not _retryable(error):
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def record_failed_capture(
    engine: Engine,
    *,
    organisation_id: int,
    errors: Iterable[LedgerError],
    capture_id: str | None = None,
) -> str:
    """Record a rejected capture request (status ``failed``) with its errors; returns its id.

    Each error is kept as ``{"problem": ..., "field": ..., "reason": ...}``.
    """
    failed_id = _capture_id(capture_id)
    details = [
        {"problem": error.problem, "field": error.field, "reason": error.reason} for error in errors
    ]
    with write_transaction(engine) as connection:
        connection.execute(
            sa.insert(CAPTURE),
            {
                "id": failed_id,
                "organisation_id": organisation_id,
                "created_at": utc_now(),
                "status": "failed",
                "event_count": 0,
                "errors": details,
            },
        )
    return failed_id
