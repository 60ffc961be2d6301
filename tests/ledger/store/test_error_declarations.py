"""Error declarations (EPCIS 2.0 section 7.4.1.2) are records of their own, on SQLite and
PostgreSQL alike.

A declaration is a copy of the event it declares in error with an ``errorDeclaration`` member;
CBV 2.0 leaves that member (and the eventID) out of the event hash, so the declaration has the
hash of its event. The store keeps both records (unique on ``(event_hash, error_declaration)``),
captures the same declaration again idempotently and refuses a second, different one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Engine

from api.problems import status_of
from ledger.store.capture import DuplicateDeclarationError, capture_events
from ledger.store.db import alembic_config, make_engine, migrate
from ledger.store.models import Event, EventIdentifier, Outbox
from ledger.store.query import QueryError, query_events
from ledger.store.records import ErrorDeclaration
from ledger.store.repository import create_organisation, get_event_by_event_id, get_event_by_hash
from ledger.visibility import Reader
from tests.helpers import sgtin_observation
from tests.ledger.store.conftest import BACKENDS
from tests.ledger.store.documents import parse
from tests.ledger.store.test_capture import counts

#: These tests read as the operator (every event); visibility has tests of its own.
OPERATOR = Reader.operator()

_EVENT: sa.Table = Event.__table__  # type: ignore[attr-defined]
_IDENTIFIER: sa.Table = EventIdentifier.__table__  # type: ignore[attr-defined]
_OUTBOX: sa.Table = Outbox.__table__  # type: ignore[attr-defined]

EVENT_ID = "urn:uuid:6c1f0e2a-3b4c-4d5e-8f90-a1b2c3d4e5f6"
CORRECTIVE_ID = "urn:uuid:7d2e1f3b-4c5d-4e6f-9a01-b2c3d4e5f6a7"


def declaration(event: dict[str, Any], *, reason: str = "incorrect_data") -> dict[str, Any]:
    """``event`` declared in error: a copy with ``errorDeclaration``."""
    return {
        **event,
        "errorDeclaration": {
            "declarationTime": "2024-03-02T08:00:00.000Z",
            "reason": reason,
            "correctiveEventIDs": [CORRECTIVE_ID],
        },
    }


def records(engine: Engine) -> list[tuple[str, str | None, bool]]:
    """``(event_hash, event_id, error_declaration)`` of every stored record, in id order."""
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(_EVENT.c.event_hash, _EVENT.c.event_id, _EVENT.c.error_declaration).order_by(
                _EVENT.c.id
            )
        )
        return [(digest, event_id, bool(declared)) for digest, event_id, declared in rows]


def test_a_declaration_is_stored_beside_its_event(engine: Engine, org: int) -> None:
    original = sgtin_observation([1], eventID=EVENT_ID)
    event = capture_events(engine, parse([original]), organisation_id=org).events[0]
    declared = capture_events(engine, parse([declaration(original)]), organisation_id=org)
    record = declared.events[0]
    # The same CBV 2.0 hash, a record of its own: indexed and queued for anchoring.
    assert record.new
    assert record.error_declaration
    assert record.event_hash == event.event_hash
    assert record.event_pk != event.event_pk
    assert records(engine) == [
        (event.event_hash, EVENT_ID, False),
        (event.event_hash, EVENT_ID, True),
    ]
    with engine.connect() as connection:
        outbox = connection.execute(sa.select(_OUTBOX.c.event_pk)).scalars().all()
        indexed = connection.execute(
            sa.select(_IDENTIFIER.c.event_pk).where(_IDENTIFIER.c.event_pk == record.event_pk)
        ).all()
    assert sorted(outbox) == sorted([event.event_pk, record.event_pk])
    assert len(indexed) == 1


def test_recapturing_the_same_declaration_is_idempotent(engine: Engine, org: int) -> None:
    original = sgtin_observation([1], eventID=EVENT_ID)
    twice = capture_events(
        engine, parse([original, declaration(original), declaration(original)]), organisation_id=org
    )
    assert [r.new for r in twice.events] == [True, True, False]
    again = capture_events(engine, parse([declaration(original)]), organisation_id=org)
    assert not again.events[0].new
    assert again.events[0].event_pk == twice.events[1].event_pk
    assert len(records(engine)) == 2


def test_a_second_different_declaration_is_refused_and_nothing_is_stored(
    engine: Engine, org: int
) -> None:
    original = sgtin_observation([1], eventID=EVENT_ID)
    capture_events(engine, parse([original, declaration(original)]), organisation_id=org)
    before = counts(engine)
    other = sgtin_observation([9])
    with pytest.raises(DuplicateDeclarationError) as raised:
        capture_events(
            engine,
            parse([other, declaration(original, reason="did_not_occur")]),
            organisation_id=org,
        )
    assert raised.value.field == "epcisBody.eventList[1].errorDeclaration"
    assert "already declared in error" in raised.value.reason
    assert EVENT_ID in raised.value.reason
    assert status_of(raised.value) == 409
    # All or nothing: the other event of the document is not stored either.
    assert counts(engine) == before


def test_two_different_declarations_in_one_document_are_refused(engine: Engine, org: int) -> None:
    original = sgtin_observation([1], eventID=EVENT_ID)
    with pytest.raises(DuplicateDeclarationError) as raised:
        capture_events(
            engine,
            parse([declaration(original), declaration(original, reason="did_not_occur")]),
            organisation_id=org,
        )
    assert raised.value.field == "epcisBody.eventList[1].errorDeclaration"
    assert "epcisBody.eventList[0]" in raised.value.reason
    assert records(engine) == []


def test_a_declaration_of_an_event_not_stored_is_stored(engine: Engine, org: int) -> None:
    # EPCIS allows declaring an event captured elsewhere; the event may still arrive later.
    original = sgtin_observation([1], eventID=EVENT_ID)
    first = capture_events(engine, parse([declaration(original)]), organisation_id=org)
    later = capture_events(engine, parse([original]), organisation_id=org)
    assert first.events[0].new
    assert later.events[0].new
    assert [declared for _, _, declared in records(engine)] == [True, False]


def test_readers_find_the_declaration(engine: Engine, org: int) -> None:
    original = sgtin_observation([1], eventID=EVENT_ID)
    plain = sgtin_observation([2])
    capture_events(engine, parse([original, plain, declaration(original)]), organisation_id=org)
    only = query_events(engine, {"EXISTS_errorDeclaration": ""}, reader=OPERATOR).events
    assert [e.error_declaration for e in only] == [True]
    assert ErrorDeclaration.of(only[0].event) == ErrorDeclaration(
        "2024-03-02T08:00:00.000Z", "incorrect_data", (CORRECTIVE_ID,)
    )
    assert query_events(engine, {"EXISTS_errorDeclaration": "true"}, reader=OPERATOR).events == only
    both = query_events(engine, {"EQ_eventID": EVENT_ID}, reader=OPERATOR).events
    assert [e.error_declaration for e in both] == [False, True]
    assert len(query_events(engine, {}, reader=OPERATOR).events) == 3
    with pytest.raises(QueryError) as raised:
        query_events(engine, {"EXISTS_errorDeclaration": "yes"}, reader=OPERATOR)
    assert raised.value.field == "EXISTS_errorDeclaration"
    # One eventID or hash, two records: the declaration supersedes the event it declares.
    by_id = get_event_by_event_id(engine, EVENT_ID, reader=OPERATOR)
    by_hash = get_event_by_hash(engine, only[0].hash_id, reader=OPERATOR)
    assert by_id is not None
    assert by_id.error_declaration
    assert by_hash is not None
    assert by_hash.id == by_id.id


@pytest.mark.parametrize("backend", BACKENDS)
def test_migration_0005_keeps_every_row_and_its_downgrade_refuses_shared_hashes(
    backend: str, database_url: Callable[[str], str]
) -> None:
    engine = make_engine(database_url(backend))
    try:
        # Rows stored by today's code, then taken back to revision 0004 (today's code cannot
        # write a 0004 schema): the upgrade through 0005 must keep every one of them.
        migrate(engine)
        org = create_organisation(engine, org_id="0x" + "cd" * 32, name="Acme", roles=1).id
        assert org is not None
        capture_events(
            engine, parse([sgtin_observation([1, 2]), sgtin_observation([3])]), organisation_id=org
        )
        with engine.begin() as connection:
            command.downgrade(alembic_config(connection), "0004")
        before = counts(engine)
        migrate(engine)
        assert counts(engine) == before
        original = sgtin_observation([1, 2])
        declared = capture_events(engine, parse([declaration(original)]), organisation_id=org)
        assert declared.events[0].new
        with engine.begin() as connection, pytest.raises(RuntimeError, match="share an event"):
            command.downgrade(alembic_config(connection), "0004")
        with engine.begin() as connection:
            connection.execute(
                _OUTBOX.delete().where(_OUTBOX.c.event_pk == declared.events[0].event_pk)
            )
            connection.execute(
                _IDENTIFIER.delete().where(_IDENTIFIER.c.event_pk == declared.events[0].event_pk)
            )
            connection.execute(_EVENT.delete().where(_EVENT.c.id == declared.events[0].event_pk))
            command.downgrade(alembic_config(connection), "0004")
        # Every event, identifier and outbox row is still there (the declaration's capture
        # row too).
        assert counts(engine) == {**before, "capture": before["capture"] + 1}
    finally:
        engine.dispose()
