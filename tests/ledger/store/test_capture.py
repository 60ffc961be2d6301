"""Capture: atomic, idempotent, concurrent-safe; on SQLite and PostgreSQL alike."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from eth_utils.crypto import keccak
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from ledger.errors import InvalidInputError
from ledger.events import DocumentValidationError, parse_document
from ledger.events.errors import EventValidationError
from ledger.identifiers import parse as parse_identifier
from ledger.store.capture import (
    CaptureResult,
    DuplicateEventIDError,
    capture_events,
    record_failed_capture,
)
from ledger.store.indexing import NO_ID_KEY
from ledger.store.models import Capture, Event, EventIdentifier, Outbox
from tests.helpers import sgtin_observation
from tests.ledger.store.documents import mixed_events, parse

_EVENT: sa.Table = Event.__table__  # type: ignore[attr-defined]
_IDENTIFIER: sa.Table = EventIdentifier.__table__  # type: ignore[attr-defined]
_OUTBOX: sa.Table = Outbox.__table__  # type: ignore[attr-defined]
_CAPTURE: sa.Table = Capture.__table__  # type: ignore[attr-defined]


def counts(engine: Engine) -> dict[str, int]:
    """Rows per table."""
    with engine.connect() as connection:
        return {
            table.name: connection.execute(
                sa.select(sa.func.count()).select_from(table)
            ).scalar_one()
            for table in (_EVENT, _IDENTIFIER, _OUTBOX, _CAPTURE)
        }


def test_capture_stores_events_identifiers_outbox_and_capture(engine: Engine, org: int) -> None:
    events = parse(mixed_events(10))
    result = capture_events(engine, events, organisation_id=org, capture_id="cap-1")

    assert result.capture_id == "cap-1"
    assert [r.hash_id for r in result.events] == [e.hash_id for e in events]
    assert all(r.new for r in result.events)
    assert result.new_count == 10
    assert len({r.event_pk for r in result.events}) == 10
    identifier_count = sum(len(e.identifiers) for e in events)
    assert counts(engine) == {
        "event": 10,
        "event_identifier": identifier_count,
        "outbox": 10,
        "capture": 1,
    }
    with engine.connect() as connection:
        rows = {row["id"]: row for row in connection.execute(sa.select(_EVENT)).mappings()}
        capture = connection.execute(sa.select(_CAPTURE)).mappings().one()
        outbox = set(connection.execute(sa.select(_OUTBOX.c.event_pk)).scalars())
    assert capture["status"] == "accepted"
    assert capture["event_count"] == 10
    assert capture["organisation_id"] == org
    assert outbox == set(rows)
    for record, event in zip(result.events, events, strict=True):
        row = rows[record.event_pk]
        assert row["event_hash"] == "0x" + event.hash_id.split(";")[1].split("?")[0]
        assert row["hash_id"] == event.hash_id
        assert json.loads(row["captured_json"]) == event.raw
        assert row["prehash"] == event.prehash
        assert row["event_type"] == event.event_type
        assert row["event_time"] == event.event_time
        assert row["record_time"] == result.record_time
        assert row["anchor_status"] == "pending"
        assert (row["proof"], row["batch_id"], row["signature"]) == (None, None, None)
        assert (row["capture_id"], row["organisation_id"]) == ("cap-1", org)


def test_primary_id_key_and_identifier_index(engine: Engine, org: int) -> None:
    item = "https://id.gs1.org/01/80614141123458/10/LOT7/21/77"
    events = parse(
        [
            {
                "type": "AggregationEvent",
                "eventTime": "2024-03-01T10:00:00.000+02:00",
                "eventTimeZoneOffset": "+02:00",
                "parentID": "urn:epc:id:sscc:0614141.1234567890",
                "childEPCs": [item],
                "childQuantityList": [
                    {"epcClass": "urn:epc:class:lgtin:4012345.012345.998877", "quantity": 3}
                ],
                "action": "ADD",
                "readPoint": {"id": "urn:epc:id:sgln:0614141.00777.0"},
                "bizLocation": {"id": "https://example.com/warehouses/7"},
            },
            sgtin_observation([], quantityList=[{"epcClass": "https://example.com/classes/x"}]),
            {
                "type": "TransformationEvent",
                "eventTime": "2024-03-01T10:00:00.000Z",
                "eventTimeZoneOffset": "+00:00",
                "inputQuantityList": [
                    {"epcClass": "urn:epc:class:lgtin:4012345.012345.IN", "quantity": 1}
                ],
                "outputQuantityList": [
                    {"epcClass": "urn:epc:class:lgtin:4012345.012345.OUT", "quantity": 1}
                ],
            },
        ]
    )
    result = capture_events(engine, events, organisation_id=org)
    aggregation, custom, transformation = (record.event_pk for record in result.events)
    with engine.connect() as connection:
        event = {
            row.id: row
            for row in connection.execute(
                sa.select(
                    _EVENT.c.id, _EVENT.c.primary_id_key, _EVENT.c.read_point, _EVENT.c.biz_location
                )
            )
        }
        index = connection.execute(
            sa.select(_IDENTIFIER).where(_IDENTIFIER.c.event_pk == aggregation)
        ).mappings()
        by_role = {row["role"]: row for row in index}
        roles_of = {
            pk: sorted(
                connection.execute(
                    sa.select(_IDENTIFIER.c.role).where(_IDENTIFIER.c.event_pk == pk)
                ).scalars()
            )
            for pk in (custom, transformation)
        }
    # Primary order: epcList, parentID, childEPCs, outputEPCList, inputEPCList, quantities.
    sscc = parse_identifier("urn:epc:id:sscc:0614141.1234567890")
    assert event[aggregation].primary_id_key == "0x" + sscc.id_key.hex()
    assert event[aggregation].read_point == "https://id.gs1.org/414/0614141007776"
    assert event[aggregation].biz_location == "https://example.com/warehouses/7"
    assert set(by_role) == {"parent", "child", "child_quantity"}
    child = by_role["child"]
    assert child["value"] == item
    assert child["canonical"] == "https://id.gs1.org/01/80614141123458/21/77"
    assert child["class_canonical"] == "https://id.gs1.org/01/80614141123458/10/LOT7"
    assert child["id_key"] == "0x" + parse_identifier(item).id_key.hex()
    # An identifier ledger.identifiers does not know is indexed by its literal value.
    assert event[custom].primary_id_key == "0x" + keccak(text="https://example.com/classes/x").hex()
    assert roles_of == {
        custom: ["quantity"],
        transformation: ["input_quantity", "output_quantity"],
    }
    assert event[transformation].primary_id_key != NO_ID_KEY


def test_event_without_identifiers_has_zero_primary_key(engine: Engine, org: int) -> None:
    result = capture_events(engine, parse([sgtin_observation([])]), organisation_id=org)
    with engine.connect() as connection:
        key = connection.execute(sa.select(_EVENT.c.primary_id_key)).scalar_one()
    assert key == NO_ID_KEY == "0x" + "00" * 32
    assert result.new_count == 1


def test_same_document_twice_stores_nothing_new(engine: Engine, org: int) -> None:
    events = parse(mixed_events(25))
    first = capture_events(engine, events, organisation_id=org)
    before = counts(engine)
    second = capture_events(engine, parse(mixed_events(25)), organisation_id=org)

    assert [r.event_pk for r in second.events] == [r.event_pk for r in first.events]
    assert not any(r.new for r in second.events)
    assert second.new_count == 0
    assert second.capture_id != first.capture_id
    after = counts(engine)
    assert after == {**before, "capture": before["capture"] + 1}


def test_duplicate_inside_one_document(engine: Engine, org: int) -> None:
    event = sgtin_observation([1, 2])
    same_again = sgtin_observation([2, 1])  # same event: EPC list order does not change the hash
    other = sgtin_observation([3])
    result = capture_events(engine, parse([event, other, same_again, event]), organisation_id=org)

    pks = [r.event_pk for r in result.events]
    assert pks[0] == pks[2] == pks[3] != pks[1]
    assert [r.new for r in result.events] == [True, True, False, False]
    assert counts(engine)["event"] == 2
    assert counts(engine)["outbox"] == 2
    assert counts(engine)["event_identifier"] == 3


def test_capture_under_an_existing_capture_id_keeps_the_first(engine: Engine, org: int) -> None:
    first = capture_events(engine, parse(mixed_events(3)), organisation_id=org, capture_id="c-1")
    again = capture_events(engine, parse(mixed_events(3)), organisation_id=org, capture_id="c-1")
    assert [r.event_pk for r in again.events] == [r.event_pk for r in first.events]
    assert counts(engine)["capture"] == 1


@pytest.mark.parametrize("capture_id", ["", "x" * 37])
def test_bad_capture_id(engine: Engine, org: int, capture_id: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        capture_events(engine, parse(mixed_events(1)), organisation_id=org, capture_id=capture_id)
    assert raised.value.field == "capture_id"


def test_signature_is_for_one_event(engine: Engine, org: int) -> None:
    signature = "0x" + "12" * 65
    with pytest.raises(InvalidInputError) as raised:
        capture_events(engine, parse(mixed_events(2)), organisation_id=org, signature=signature)
    assert raised.value.field == "signature"
    assert counts(engine)["event"] == 0

    event = sgtin_observation([9])
    capture_events(engine, parse([event, event]), organisation_id=org, signature=signature)
    with engine.connect() as connection:
        assert connection.execute(sa.select(_EVENT.c.signature)).scalar_one() == signature


def test_empty_document_is_an_accepted_capture(engine: Engine, org: int) -> None:
    result = capture_events(engine, [], organisation_id=org)
    assert result.events == ()
    assert counts(engine) == {"event": 0, "event_identifier": 0, "outbox": 0, "capture": 1}


def test_unknown_organisation_is_a_database_error(engine: Engine, org: int) -> None:
    with pytest.raises(SQLAlchemyError):
        capture_events(engine, parse(mixed_events(2)), organisation_id=org + 1000)
    assert counts(engine) == {"event": 0, "event_identifier": 0, "outbox": 0, "capture": 0}


def test_record_failed_capture(engine: Engine, org: int) -> None:
    errors = [
        EventValidationError("eventTime is missing", field="epcisBody.eventList[0]"),
        EventValidationError("not a URI", field="epcisBody.eventList[1].epcList[0]"),
    ]
    capture_id = record_failed_capture(engine, organisation_id=org, errors=errors)
    with engine.connect() as connection:
        row = connection.execute(sa.select(_CAPTURE)).mappings().one()
    assert (row["id"], row["status"], row["event_count"]) == (capture_id, "failed", 0)
    assert row["errors"] == [
        {
            "problem": "invalid-epcis-event",
            "field": "epcisBody.eventList[0]",
            "reason": "eventTime is missing",
        },
        {
            "problem": "invalid-epcis-event",
            "field": "epcisBody.eventList[1].epcList[0]",
            "reason": "not a URI",
        },
    ]


# --- all or nothing ---------------------------------------------------------------------------

POISON = "urn:epc:id:sgtin:0614141.812345.poison"


@contextmanager
def failing_trigger(engine: Engine) -> Iterator[None]:
    """A database trigger that rejects the identifier row of the poisoned event."""
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(
                sa.text(
                    "CREATE FUNCTION reject_poison() RETURNS trigger AS $$ BEGIN "
                    "IF NEW.value = :poison THEN RAISE EXCEPTION 'poisoned event'; END IF; "
                    "RETURN NEW; END $$ LANGUAGE plpgsql".replace(":poison", f"'{POISON}'")
                )
            )
            connection.execute(
                sa.text(
                    "CREATE TRIGGER reject_poison BEFORE INSERT ON event_identifier "
                    "FOR EACH ROW EXECUTE FUNCTION reject_poison()"
                )
            )
        else:
            connection.execute(
                sa.text(
                    "CREATE TRIGGER reject_poison BEFORE INSERT ON event_identifier "
                    f"WHEN NEW.value = '{POISON}' BEGIN SELECT RAISE(ABORT, 'poisoned event'); END"
                )
            )
    try:
        yield
    finally:
        with engine.begin() as connection:
            connection.execute(
                sa.text(
                    "DROP TRIGGER reject_poison"
                    + (" ON event_identifier" if connection.dialect.name == "postgresql" else "")
                )
            )
            if connection.dialect.name == "postgresql":
                connection.execute(sa.text("DROP FUNCTION reject_poison()"))


def test_database_error_on_the_500th_event_stores_nothing(engine: Engine, org: int) -> None:
    capture_events(engine, parse(mixed_events(5, seed="kept")), organisation_id=org)
    before = counts(engine)
    raw = mixed_events(999, seed="doc")
    raw.insert(499, sgtin_observation(["poison"]))
    events = parse(raw)
    with failing_trigger(engine), pytest.raises(SQLAlchemyError, match="poisoned event"):
        capture_events(engine, events, organisation_id=org)
    assert counts(engine) == before
    # The same document without the trigger goes in whole.
    result = capture_events(engine, events, organisation_id=org)
    assert result.new_count == 1000
    assert counts(engine)["event"] == before["event"] + 1000


def test_exception_raised_in_an_event_hook_stores_nothing(engine: Engine, org: int) -> None:
    """A real exception from inside SQLAlchemy's execution, after events and identifiers went in."""

    class BoomError(RuntimeError):
        pass

    def explode(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO OUTBOX"):
            raise BoomError("disk on fire")

    sa.event.listen(engine, "before_cursor_execute", explode)
    try:
        with pytest.raises(BoomError):
            capture_events(engine, parse(mixed_events(600)), organisation_id=org)
    finally:
        sa.event.remove(engine, "before_cursor_execute", explode)
    assert counts(engine) == {"event": 0, "event_identifier": 0, "outbox": 0, "capture": 0}


# --- concurrency ------------------------------------------------------------------------------


def test_concurrent_overlapping_captures(engine: Engine, org: int) -> None:
    """Eight threads (eight connections) capture overlapping documents at once."""
    pool = mixed_events(300, seed="shared")
    documents = [pool[start : start + 150] for start in range(0, 300, 50) for _ in range(2)]
    parsed = [parse(doc) for doc in documents]
    barrier = threading.Barrier(8)

    def capture(events: list[Any]) -> CaptureResult:
        barrier.wait(timeout=30)
        return capture_events(engine, events, organisation_id=org)

    with ThreadPoolExecutor(8) as executor:
        results = list(executor.map(capture, parsed[:8]))
        results += list(
            executor.map(lambda e: capture_events(engine, e, organisation_id=org), parsed[8:])
        )

    pk_of: dict[str, int] = {}
    new_per_hash: dict[str, int] = {}
    for result in results:
        for record in result.events:
            assert pk_of.setdefault(record.hash_id, record.event_pk) == record.event_pk
            new_per_hash[record.hash_id] = new_per_hash.get(record.hash_id, 0) + record.new
    assert len(pk_of) == 300
    assert set(new_per_hash.values()) == {1}  # each event stored by exactly one capture
    if engine.dialect.name == "sqlite":
        # Writers are serialised and take their record time under the lock: record times
        # follow commit (and so id) order.
        with engine.connect() as connection:
            times = list(
                connection.execute(sa.select(_EVENT.c.record_time).order_by(_EVENT.c.id)).scalars()
            )
        assert times == sorted(times)
    expected_identifiers = sum(len(e.identifiers) for e in parse(pool))
    assert counts(engine) == {
        "event": 300,
        "event_identifier": expected_identifiers,
        "outbox": 300,
        "capture": len(documents),
    }


# --- GS1's example documents ------------------------------------------------------------------


def test_gs1_example_documents(engine: Engine, org: int, conformance_dir: Path) -> None:
    """Every example document in both bindings; the XML and JSON-LD forms of one document
    give the same events, which are stored once."""
    folder = conformance_dir / "epcis-event-hash"
    paths = sorted(folder.glob("*.jsonld")) + sorted(folder.glob("*.xml"))
    distinct: dict[str, dict[str, Any]] = {}
    captured_documents = 0
    refusals: list[tuple[str, str | None]] = []
    for path in paths:
        media = "application/ld+json" if path.suffix == ".jsonld" else "application/xml"
        try:
            events = parse_document(path.read_bytes(), media)
        except DocumentValidationError:
            continue  # a document the parser rejects is the parser's business, not storage's
        try:
            result = capture_events(engine, events, organisation_id=org)
        except DuplicateEventIDError as refused:
            refusals.append((path.name, refused.field))
            continue
        captured_documents += 1
        for record, event in zip(result.events, events, strict=True):
            if record.new:
                distinct[record.hash_id] = event.raw
            assert record.hash_id in distinct
    assert captured_documents >= 30
    # Only GS1's "ignore fields" documents are refused: one eventID on two events that differ
    # in repository-private fields (GS1's hash tool is told to leave them out; we keep every
    # field, so they are two events and the second may not take the first one's eventID).
    assert refusals
    for name, field in refusals:
        assert "IgnoreFields" in name, name
        assert field == "epcisBody.eventList[1].eventID"
    with engine.connect() as connection:
        stored = {
            row.hash_id: row.captured_json
            for row in connection.execute(sa.select(_EVENT.c.hash_id, _EVENT.c.captured_json))
        }
    assert stored.keys() == distinct.keys()
    for hash_id, raw in distinct.items():
        assert json.loads(stored[hash_id]) == raw
    assert counts(engine)["outbox"] == len(distinct)
