"""Capture rules: one eventID names one event (error declarations excepted), bounded JSON
nesting, capture jobs that list their events; on SQLite and PostgreSQL alike."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from api.problems import status_of
from ledger.events import DocumentValidationError, parse_document
from ledger.events.validation import MAX_BODY_DEPTH, MAX_EVENT_DEPTH
from ledger.store.capture import (
    CaptureResult,
    DuplicateEventIDError,
    capture_event_ids,
    capture_events,
    capture_events_in,
    prepare_capture,
)
from ledger.store.db import make_engine, migrate, write_transaction
from ledger.store.models import Capture, Event
from tests.helpers import EPCIS_CONTEXT, document, sgtin_observation
from tests.ledger.store.conftest import BACKENDS
from tests.ledger.store.documents import parse
from tests.ledger.store.test_capture import counts

_EVENT: sa.Table = Event.__table__  # type: ignore[attr-defined]
_CAPTURE: sa.Table = Capture.__table__  # type: ignore[attr-defined]

EVENT_ID = "urn:uuid:5a1e9c3e-8d4b-4b7e-9a55-0c1d2e3f4a5b"
OTHER_ID = "urn:uuid:0b6f2c8a-1e2d-4f3a-8b9c-7d6e5f4a3b2c"


def declaration(event: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """``event`` declared in error (EPCIS 2.0 section 7.4.1.2): a copy with errorDeclaration."""
    return {
        **event,
        **changes,
        "errorDeclaration": {
            "declarationTime": "2024-03-02T08:00:00.000Z",
            "reason": "incorrect_data",
            "correctiveEventIDs": [OTHER_ID],
        },
    }


def event_ids_stored(engine: Engine) -> list[tuple[str | None, bool]]:
    """``(event_id, error_declaration)`` of every stored event, in id order."""
    with engine.connect() as connection:
        return [
            (row.event_id, row.error_declaration)
            for row in connection.execute(
                sa.select(_EVENT.c.event_id, _EVENT.c.error_declaration).order_by(_EVENT.c.id)
            )
        ]


# --- one eventID, one event -------------------------------------------------------------------


def test_two_events_with_one_event_id_in_a_document_store_nothing(engine: Engine, org: int) -> None:
    capture_events(engine, parse([sgtin_observation([100])]), organisation_id=org)
    before = counts(engine)
    events = parse(
        [
            sgtin_observation([1], eventID=EVENT_ID),
            sgtin_observation([2]),
            sgtin_observation([3], eventID=EVENT_ID),  # another event (another hash), same eventID
        ]
    )
    with pytest.raises(DuplicateEventIDError) as refused:
        capture_events(engine, events, organisation_id=org)
    assert refused.value.field == "epcisBody.eventList[2].eventID"
    assert status_of(refused.value) == 409
    assert "epcisBody.eventList[0]" in refused.value.reason
    assert [e.field for e in refused.value.errors] == ["epcisBody.eventList[2].eventID"]
    assert counts(engine) == before


def test_an_event_id_taken_by_a_stored_event_is_refused_and_nothing_stored(
    engine: Engine, org: int
) -> None:
    (first,) = capture_events(
        engine, parse([sgtin_observation([1], eventID=EVENT_ID)]), organisation_id=org
    ).events
    before = counts(engine)
    events = parse(
        [
            sgtin_observation([2]),
            sgtin_observation([3], eventID=OTHER_ID),
            sgtin_observation([4], eventID=EVENT_ID),
            sgtin_observation([5]),
        ]
    )
    with pytest.raises(DuplicateEventIDError) as refused:
        capture_events(engine, events, organisation_id=org)
    assert refused.value.field == "epcisBody.eventList[2].eventID"
    assert first.hash_id in refused.value.reason  # names the event holding the eventID
    assert counts(engine) == before  # no partial write: events 0, 1 and 3 are not stored
    assert event_ids_stored(engine) == [(EVENT_ID, False)]


def test_a_single_event_names_its_event_id_from_the_root(engine: Engine, org: int) -> None:
    capture_events(engine, parse([sgtin_observation([1], eventID=EVENT_ID)]), organisation_id=org)
    with pytest.raises(DuplicateEventIDError) as refused:
        capture_events(
            engine,
            parse([sgtin_observation([2], eventID=EVENT_ID)]),
            organisation_id=org,
            events_path="$",
        )
    assert refused.value.field == "eventID"


def test_recapturing_the_identical_event_stays_idempotent(engine: Engine, org: int) -> None:
    event = sgtin_observation([1], eventID=EVENT_ID)
    first = capture_events(engine, parse([event, event]), organisation_id=org)
    again = capture_events(engine, parse([event]), organisation_id=org)
    assert [r.new for r in first.events] == [True, False]
    assert again.events[0].event_pk == first.events[0].event_pk
    assert not again.events[0].new
    assert event_ids_stored(engine) == [(EVENT_ID, False)]


def test_an_error_declaration_may_repeat_the_event_id(engine: Engine, org: int) -> None:
    original = sgtin_observation([1], eventID=EVENT_ID)
    capture_events(engine, parse([original]), organisation_id=org)
    # A copy of the original with errorDeclaration: the same CBV 2.0 hash (errorDeclaration
    # and eventID are not hashed), stored as a record of its own beside the event.
    same = capture_events(engine, parse([declaration(original)]), organisation_id=org)
    assert same.events[0].new
    # A declaration that differs from the original is another event, and is stored.
    differing = declaration(original, disposition="damaged")
    stored = capture_events(engine, parse([differing]), organisation_id=org)
    assert stored.events[0].new
    assert event_ids_stored(engine) == [(EVENT_ID, False), (EVENT_ID, True), (EVENT_ID, True)]
    # ...and in one document with its original.
    other = sgtin_observation([2], eventID=OTHER_ID)
    both = capture_events(
        engine, parse([other, declaration(other, disposition="damaged")]), organisation_id=org
    )
    assert [r.new for r in both.events] == [True, True]
    # A declaration does not take the eventID from a later plain event either.
    assert len(event_ids_stored(engine)) == 5


def test_concurrent_captures_of_one_event_id_store_one(engine: Engine, org: int) -> None:
    """The first capture holds its transaction open; the second, started meanwhile, must
    wait for it (PostgreSQL: on the unique index; SQLite: on the write lock) and then be
    refused. A check that only reads before inserting lets both in on PostgreSQL."""
    first = prepare_capture(
        parse([sgtin_observation([1], eventID=EVENT_ID)]), organisation_id=org, capture_id="first"
    )
    second = parse([sgtin_observation([2], eventID=EVENT_ID)])
    outcome: list[CaptureResult | BaseException] = []

    def capture_second() -> None:
        try:
            outcome.append(capture_events(engine, second, organisation_id=org))
        except BaseException as error:  # reported by the assertions below
            outcome.append(error)

    with write_transaction(engine) as connection:
        capture_events_in(connection, first)
        thread = threading.Thread(target=capture_second)
        thread.start()
        if engine.dialect.name == "postgresql":
            wait_until_blocked_or_done(engine, thread)
    thread.join(timeout=60)
    assert len(outcome) == 1
    assert isinstance(outcome[0], DuplicateEventIDError), outcome
    assert outcome[0].field == "epcisBody.eventList[0].eventID"
    assert event_ids_stored(engine) == [(EVENT_ID, False)]
    assert counts(engine)["capture"] == 1


def wait_until_blocked_or_done(engine: Engine, thread: threading.Thread) -> None:
    """Wait until ``thread`` finished or another PostgreSQL backend waits on a lock."""
    deadline = time.monotonic() + 30
    with engine.connect() as watcher:
        while thread.is_alive() and time.monotonic() < deadline:
            waiting = watcher.execute(
                sa.text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
                )
            ).scalar_one()
            watcher.rollback()
            if waiting:
                return
            time.sleep(0.01)


def test_the_unique_index_is_the_arbiter(engine: Engine, org: int) -> None:
    """A row written behind capture's back cannot break the rule either."""
    capture_events(engine, parse([sgtin_observation([1], eventID=EVENT_ID)]), organisation_id=org)
    with engine.connect() as connection:
        row = dict(connection.execute(sa.select(_EVENT)).mappings().one())
    row.pop("id")
    row["event_hash"] = "0x" + "11" * 32
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as connection:
        connection.execute(sa.insert(_EVENT), row)
    with engine.begin() as connection:  # a declaration may
        connection.execute(sa.insert(_EVENT), {**row, "error_declaration": True})


# --- capture jobs list their events -----------------------------------------------------------


def listed(engine: Engine, capture_id: str) -> list[str]:
    """What the capture job ``capture_id`` lists."""
    with engine.connect() as connection:
        pks = connection.execute(
            sa.select(_CAPTURE.c.event_pks).where(_CAPTURE.c.id == capture_id)
        ).scalar_one()
        return capture_event_ids(connection, pks)


def test_a_capture_lists_its_events_in_input_order(engine: Engine, org: int) -> None:
    with_id = sgtin_observation([1], eventID=EVENT_ID)
    without_id = sgtin_observation([2])
    result = capture_events(
        engine, parse([with_id, without_id, with_id]), organisation_id=org, capture_id="listed"
    )
    expected = [EVENT_ID, result.events[1].hash_id, EVENT_ID]
    assert result.event_ids == expected
    assert listed(engine, "listed") == expected
    # Captured again (under another eventID: the same event, as eventID is not hashed), the
    # job lists the stored event's eventID, the one GET /events/{eventID} finds.
    again = capture_events(
        engine,
        parse([without_id, {**with_id, "eventID": OTHER_ID}]),
        organisation_id=org,
        capture_id="again",
    )
    assert again.event_ids == listed(engine, "again") == [result.events[1].hash_id, EVENT_ID]
    # A capture id used again keeps its first list.
    capture_events(
        engine, parse([sgtin_observation([3])]), organisation_id=org, capture_id="listed"
    )
    assert listed(engine, "listed") == expected


# --- the migration ----------------------------------------------------------------------------


def _old_rows(connection: sa.Connection, *events: tuple[str, str | None, str]) -> None:
    """Rows at revision 0002: an organisation, a capture and ``(hash, event_id, json)``
    events."""
    connection.execute(
        sa.text(
            "INSERT INTO organisation (id, org_id, name, roles, active, created_at) "
            "VALUES (1, :org, 'Old Co', 1, :yes, :now)"
        ),
        {"org": "0x" + "cd" * 32, "yes": True, "now": "2024-01-01 00:00:00+00:00"},
    )
    connection.execute(
        sa.text(
            "INSERT INTO capture (id, organisation_id, created_at, status, event_count) "
            "VALUES ('old', 1, :now, 'accepted', 2)"
        ),
        {"now": "2024-01-01 00:00:00+00:00"},
    )
    for digest, event_id, raw in events:
        connection.execute(
            sa.text(
                "INSERT INTO event (event_hash, hash_id, event_id, event_type, event_time, "
                "event_time_zone_offset, record_time, captured_json, prehash, organisation_id, "
                "primary_id_key, capture_id, anchor_status) VALUES (:hash, :hash_id, :event_id, "
                "'ObjectEvent', :now, '+00:00', :then, :raw, '', 1, :key, 'old', 'pending')"
            ),
            {
                "hash": digest,
                "hash_id": digest,
                "key": digest,
                "event_id": event_id,
                "raw": raw,
                "now": "2024-01-01 00:00:00+00:00",
                "then": "2024-01-01 00:00:00+00:00",
            },
        )


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_migration_marks_declarations_and_refuses_duplicate_event_ids(
    backend: str, database_url: Callable[[str], str]
) -> None:
    plain = json.dumps({"type": "ObjectEvent", "eventID": EVENT_ID})
    declared = json.dumps(
        {"type": "ObjectEvent", "eventID": EVENT_ID, "errorDeclaration": {"declarationTime": "x"}}
    )
    engine = make_engine(database_url(backend))
    try:
        migrate(engine, "0002")
        with engine.begin() as connection:
            _old_rows(connection, ("0x01", EVENT_ID, plain), ("0x02", EVENT_ID, declared))
        migrate(engine)
        with engine.connect() as connection:
            rows = connection.execute(
                sa.select(_EVENT.c.event_hash, _EVENT.c.error_declaration).order_by(_EVENT.c.id)
            ).all()
        assert [tuple(row) for row in rows] == [("0x01", False), ("0x02", True)]
    finally:
        engine.dispose()

    engine = make_engine(database_url(backend))
    try:
        migrate(engine, "0002")
        with engine.begin() as connection:
            _old_rows(connection, ("0x01", EVENT_ID, plain), ("0x03", EVENT_ID, plain))
        with pytest.raises(RuntimeError, match=f"{EVENT_ID} \\(2 events\\)"):
            migrate(engine)
        with engine.connect() as connection:  # the failed upgrade changed nothing
            version = connection.execute(sa.text("SELECT version_num FROM alembic_version"))
            assert version.scalar_one() == "0002"
    finally:
        engine.dispose()


# --- JSON nesting depth -----------------------------------------------------------------------


def nested(levels: int) -> Any:
    """``levels`` nested objects ``{"ex:n": {"ex:n": ... "leaf"}}`` (a string at the bottom)."""
    value: Any = "leaf"
    for _ in range(levels):
        value = {"ex:n": value}
    return value


def deep_event(levels: int) -> dict[str, Any]:
    """An event whose extension nests ``levels`` objects below the event (the event itself is
    level 1, so its deepest object is at level ``levels + 1``)."""
    return {**sgtin_observation([1]), "ex:deep": nested(levels)}


def body(events: list[dict[str, Any]], kind: str = "EPCISDocument") -> bytes:
    """A document (``@context`` declaring ``ex``) of ``events``."""
    context = [EPCIS_CONTEXT, {"ex": "https://example.com/ns/"}]
    if kind == "EPCISDocument":
        doc = document(*events, context=context)
    else:
        doc = {
            "@context": context,
            "type": "EPCISQueryDocument",
            "schemaVersion": "2.0",
            "creationDate": "2024-03-01T00:00:00.000Z",
            "epcisBody": {
                "queryResults": {
                    "queryName": "SimpleEventQuery",
                    "resultsBody": {"eventList": events},
                }
            },
        }
    return json.dumps(doc).encode()


@pytest.mark.parametrize("kind", ["EPCISDocument", "EPCISQueryDocument", "event"])
def test_an_event_nests_at_most_64_levels_wherever_it_is(kind: str) -> None:
    def read(levels: int) -> Any:
        event = deep_event(levels)
        if kind == "event":
            event = {"@context": [EPCIS_CONTEXT, {"ex": "https://example.com/ns/"}], **event}
            return parse_document(json.dumps(event).encode(), "application/ld+json")
        return parse_document(body([sgtin_observation([0]), event], kind), "application/ld+json")

    assert MAX_EVENT_DEPTH == 64
    read(MAX_EVENT_DEPTH - 1)  # the deepest object at level 64: accepted
    with pytest.raises(DocumentValidationError) as refused:
        read(MAX_EVENT_DEPTH)
    (error,) = refused.value.errors
    base = {
        "EPCISDocument": "epcisBody.eventList[1].",
        "EPCISQueryDocument": "epcisBody.queryResults.resultsBody.eventList[1].",
        "event": "",
    }[kind]
    assert error.field == base + "ex:deep" + ".ex:n" * (MAX_EVENT_DEPTH - 1)
    assert "at most 64 levels" in error.reason


def test_document_level_values_nest_at_most_69_levels() -> None:
    doc = json.loads(body([sgtin_observation([0])]))
    doc["ex:header"] = nested(MAX_BODY_DEPTH - 1)  # document level 1, so the last is level 69
    parse_document(json.dumps(doc).encode(), "application/ld+json")
    doc["ex:header"] = nested(MAX_BODY_DEPTH)
    with pytest.raises(DocumentValidationError) as refused:
        parse_document(json.dumps(doc).encode(), "application/ld+json")
    assert refused.value.field == "ex:header" + ".ex:n" * (MAX_BODY_DEPTH - 1)


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("[" * 100_000 + "]" * 100_000, "[0]" * MAX_BODY_DEPTH),
        ('{"a":' * 100_000 + "1" + "}" * 100_000, ".".join("a" * MAX_BODY_DEPTH)),
        (
            # Deep inside an event, after strings holding brackets and escaped quotes.
            body([{**sgtin_observation([0]), "ex:s": '[{"\\'}]).decode()[:-4]
            + ', "ex:deep": '
            + "[" * 100_000
            + "]" * 100_000
            + "}]}}",
            "epcisBody.eventList[0].ex:deep" + "[0]" * (MAX_BODY_DEPTH - 4),
        ),
    ],
    ids=["arrays", "objects", "in-an-event"],
)
def test_a_pathologically_deep_body_is_a_validation_error(text: str | bytes, field: str) -> None:
    raw = text if isinstance(text, bytes) else text.encode()
    with pytest.raises(DocumentValidationError) as refused:
        parse_document(raw, "application/json")
    (error,) = refused.value.errors
    assert error.field == field
    assert "nested too deeply" in error.reason


def test_deep_xml_is_a_validation_error() -> None:
    def xml(levels: int) -> bytes:
        inner = "<ex:n>" * levels + "x" + "</ex:n>" * levels
        return (
            '<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2" '
            'xmlns:ex="https://example.com/ns/" schemaVersion="2.0" '
            'creationDate="2024-03-01T00:00:00Z"><EPCISBody><EventList><ObjectEvent>'
            "<eventTime>2024-03-01T08:00:00Z</eventTime>"
            "<eventTimeZoneOffset>+00:00</eventTimeZoneOffset>"
            "<epcList><epc>urn:epc:id:sgtin:0614141.812345.1</epc></epcList>"
            f"<action>OBSERVE</action>{inner}</ObjectEvent></EventList></EPCISBody>"
            "</epcis:EPCISDocument>"
        ).encode()

    parse_document(xml(MAX_EVENT_DEPTH), "application/xml")  # text at the bottom: 63 objects
    for levels in (MAX_EVENT_DEPTH + 1, 200, 100_000):
        with pytest.raises(DocumentValidationError):
            parse_document(xml(levels), "application/xml")
