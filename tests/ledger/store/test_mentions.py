"""Reads of the identifier index: first record of an identifier, what the index gained."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from ledger.store.capture import capture_events
from ledger.store.indexing import index_identifier
from ledger.store.mentions import Mention, first_recorded, last_mention_pk, mentions_after
from ledger.store.repository import get_event_by_hash
from ledger.visibility import Reader
from tests.helpers import sgtin_observation
from tests.ledger.store.documents import parse

#: These tests read as the operator (every event); visibility has tests of its own.
OPERATOR = Reader.operator()

SERIAL_1 = index_identifier("urn:epc:id:sgtin:0614141.812345.1")
SERIAL_2 = index_identifier("urn:epc:id:sgtin:0614141.812345.2")


def test_first_recorded(engine: Engine, org: int) -> None:
    assert SERIAL_1.class_canonical is not None
    assert first_recorded(engine, SERIAL_1.canonical, reader=OPERATOR) is None
    first = capture_events(engine, parse([sgtin_observation([1])]), organisation_id=org)
    capture_events(engine, parse([sgtin_observation([1, 2], minute=5)]), organisation_id=org)
    stored = get_event_by_hash(engine, first.events[0].hash_id, reader=OPERATOR)
    assert stored is not None
    assert first_recorded(engine, SERIAL_1.canonical, reader=OPERATOR) == stored.record_time
    # The class (the GTIN) was first recorded with the first serial that mentions it.
    assert first_recorded(engine, SERIAL_1.class_canonical, reader=OPERATOR) == stored.record_time
    later = first_recorded(engine, SERIAL_2.canonical, reader=OPERATOR)
    assert later is not None
    assert later > stored.record_time
    assert first_recorded(engine, "https://id.gs1.org/01/00000000000000", reader=OPERATOR) is None


def test_mentions_after(engine: Engine, org: int) -> None:
    assert last_mention_pk(engine) == 0
    assert mentions_after(engine, 0) == []
    one = capture_events(engine, parse([sgtin_observation([1])]), organisation_id=org)
    pk_one = one.events[0].event_pk
    assert last_mention_pk(engine) == pk_one
    two = capture_events(engine, parse([sgtin_observation([2], minute=1)]), organisation_id=org)
    pk_two = two.events[0].event_pk
    assert last_mention_pk(engine) == pk_two
    assert mentions_after(engine, pk_one) == [
        Mention(pk_two, SERIAL_2.canonical, SERIAL_2.class_canonical)
    ]
    both = mentions_after(engine, 0)
    assert [m.event_pk for m in both] == [pk_one, pk_two]
    assert mentions_after(engine, 0, limit=1) == both[:1]
    assert mentions_after(engine, pk_two) == []
