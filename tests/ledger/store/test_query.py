"""EPCIS queries: every parameter against a known data set, on SQLite and PostgreSQL."""

from __future__ import annotations

import string
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from ledger.errors import InvalidInputError
from ledger.identifiers import parse as parse_identifier
from ledger.store.capture import capture_events
from ledger.store.db import make_engine, migrate
from ledger.store.indexing import index_identifier
from ledger.store.models import OrgRole, utc_now
from ledger.store.query import (
    MAX_PER_PAGE,
    EventQuery,
    QueryError,
    identifier_match,
    parse_query,
    query_events,
    query_statement,
)
from ledger.store.repository import create_organisation
from ledger.visibility import Reader
from tests.helpers import sgtin_observation
from tests.ledger.store.conftest import BACKENDS
from tests.ledger.store.documents import mixed_events, parse

#: These tests read as the operator (every event); visibility has tests of its own.
OPERATOR = Reader.operator()


def uuid_of(n: int) -> str:
    """The eventID of data-set event ``n``."""
    return f"urn:uuid:00000000-0000-4000-8000-{n:012d}"


def at(day: int) -> str:
    """10:00 UTC on January ``day``, 2024."""
    return f"2024-01-{day:02d}T10:00:00.000Z"


def _event(n: int, kind: str, day: int, **fields: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": kind,
        "eventTime": at(day),
        "eventTimeZoneOffset": "+00:00",
        **fields,
    }
    if n != 10:
        event["eventID"] = uuid_of(n)
    return event


#: The data set: E1..E5 in a first capture, E6..E10 in a second one.
DATASET: dict[int, dict[str, Any]] = {
    1: _event(
        1,
        "ObjectEvent",
        1,
        epcList=["https://id.gs1.org/01/80614141123458/10/L1/21/1"],
        action="ADD",
        bizStep="commissioning",
        disposition="active",
        readPoint={"id": "urn:epc:id:sgln:0614141.00777.0"},
        bizLocation={"id": "urn:epc:id:sgln:0614141.00888.0"},
    ),
    2: _event(
        2,
        "ObjectEvent",
        2,
        epcList=["urn:epc:id:sgtin:0614141.812345.2"],
        action="OBSERVE",
        bizStep="shipping",
        disposition="in_transit",
        readPoint={"id": "https://id.gs1.org/414/0614141007776"},
    ),
    3: _event(
        3,
        "AggregationEvent",
        3,
        parentID="urn:epc:id:sscc:0614141.1234567890",
        childEPCs=["urn:epc:id:sgtin:0614141.812345.1"],
        childQuantityList=[
            {"epcClass": "urn:epc:class:lgtin:4012345.012345.998877", "quantity": 10}
        ],
        action="ADD",
        bizStep="packing",
    ),
    4: _event(
        4,
        "TransformationEvent",
        4,
        inputEPCList=["urn:epc:id:sgtin:0614141.812345.3"],
        outputEPCList=["urn:epc:id:sgtin:0614141.812345.4"],
        inputQuantityList=[{"epcClass": "urn:epc:class:lgtin:4012345.012345.LOTIN"}],
        outputQuantityList=[{"epcClass": "urn:epc:class:lgtin:4012345.012345.LOTOUT"}],
    ),
    5: _event(
        5,
        "TransactionEvent",
        5,
        parentID="urn:epc:id:sscc:0614141.0000000001",
        epcList=["urn:epc:id:sgtin:0614141.712345.9"],
        bizTransactionList=[
            {"type": "po", "bizTransaction": "urn:epcglobal:cbv:bt:0614141073467:1"}
        ],
        action="ADD",
        bizStep="receiving",
        disposition="in_progress",
    ),
    6: _event(
        6,
        "ObjectEvent",
        6,
        epcList=[],
        quantityList=[{"epcClass": "urn:epc:idpat:sgtin:4012345.012345.*", "quantity": 3}],
        action="OBSERVE",
        readPoint={"id": "https://example.com/rp/1"},
    ),
    7: _event(
        7,
        "ObjectEvent",
        7,
        epcList=["https://example.com/things/42"],
        action="DELETE",
        bizStep="https://example.com/steps/inspect",
    ),
    8: _event(
        8,
        "AssociationEvent",
        8,
        parentID="urn:epc:id:grai:0614141.12345.400",
        childEPCs=["urn:epc:id:giai:0614141.12345400"],
        action="ADD",
    ),
    9: _event(
        9,
        "ObjectEvent",
        1,
        epcList=["https://id.gs1.org/01/80614141123458/10/L2/21/5"],
        action="OBSERVE",
    ),
    10: _event(
        10,
        "ObjectEvent",
        9,
        epcList=["urn:epc:id:sgtin:0614141.812345.10"],
        action="OBSERVE",
        eventTime="2024-01-09T05:00:00.000-05:00",
        eventTimeZoneOffset="-05:00",
    ),
}
ALL = set(DATASET)
FIRST_CAPTURE = {1, 2, 3, 4, 5}


@dataclass(frozen=True)
class Loaded:
    """A database holding the data set."""

    engine: Engine
    #: Between the two captures' record times.
    middle: datetime
    #: Data-set number of each stored event id.
    number_of: dict[int, int]

    def numbers(self, params: dict[str, Any]) -> set[int]:
        """The data-set numbers a query returns (all pages)."""
        found: list[int] = []
        params = {**params, "perPage": str(MAX_PER_PAGE)}
        page = query_events(self.engine, params, reader=OPERATOR)
        found += [self.number_of[e.id] for e in page.events]
        assert page.next_page_token is None
        assert len(found) == len(set(found))
        return set(found)


@pytest.fixture(scope="module", params=BACKENDS)
def loaded(request: pytest.FixtureRequest, database_url: Callable[[str], str]) -> Iterator[Loaded]:
    """A fresh database of the back end with the data set captured in two captures."""
    engine = make_engine(database_url(request.param))
    migrate(engine)
    org = create_organisation(engine, org_id="0x" + "01" * 32, name="Org", roles=OrgRole.RECORDER)
    assert org.id is not None
    first = capture_events(
        engine, parse([DATASET[n] for n in sorted(FIRST_CAPTURE)]), organisation_id=org.id
    )
    time.sleep(0.002)
    middle = utc_now()
    time.sleep(0.002)
    rest = sorted(ALL - FIRST_CAPTURE)
    second = capture_events(engine, parse([DATASET[n] for n in rest]), organisation_id=org.id)
    numbers = sorted(FIRST_CAPTURE) + rest
    records = first.events + second.events
    assert all(record.new for record in records)
    yield Loaded(engine, middle, {r.event_pk: n for r, n in zip(records, numbers, strict=True)})
    engine.dispose()


GTIN_812345 = "urn:epc:idpat:sgtin:0614141.812345.*"
QUERY_CASES: list[tuple[dict[str, Any], set[int]]] = [
    ({}, ALL),
    ({"eventType": "ObjectEvent"}, {1, 2, 6, 7, 9, 10}),
    ({"eventType": "AggregationEvent|TransformationEvent"}, {3, 4}),
    ({"eventType": ["AggregationEvent", "AssociationEvent"]}, {3, 8}),
    ({"eventType": "ExtensionEvent"}, set()),
    ({"GE_eventTime": "2024-01-05T00:00:00Z"}, {5, 6, 7, 8, 10}),
    ({"LT_eventTime": "2024-01-03T00:00:00.000+00:00"}, {1, 2, 9}),
    ({"GE_eventTime": "2024-01-03T01:00:00+01:00", "LT_eventTime": "2024-01-05T00:00:00Z"}, {3, 4}),
    ({"GE_eventTime": "2024-01-09T10:00:00Z", "LT_eventTime": "2024-01-09T10:00:00.001Z"}, {10}),
    ({"EQ_action": "ADD"}, {1, 3, 5, 8}),
    ({"EQ_action": "OBSERVE,DELETE"}, {2, 6, 7, 9, 10}),
    ({"EQ_bizStep": "shipping"}, {2}),
    ({"EQ_bizStep": "urn:epcglobal:cbv:bizstep:shipping"}, {2}),
    ({"EQ_bizStep": "https://ref.gs1.org/cbv/BizStep-shipping|packing"}, {2, 3}),
    ({"EQ_bizStep": "https://example.com/steps/inspect"}, {7}),
    ({"EQ_disposition": "in_transit|in_progress"}, {2, 5}),
    ({"EQ_disposition": "urn:epcglobal:cbv:disp:active"}, {1}),
    ({"EQ_readPoint": "urn:epc:id:sgln:0614141.00777.0"}, {1, 2}),
    ({"EQ_readPoint": "https://id.gs1.org/414/0614141007776"}, {1, 2}),
    ({"EQ_readPoint": "https://example.com/rp/1"}, {6}),
    ({"EQ_bizLocation": "urn:epc:id:sgln:0614141.00888.0"}, {1}),
    ({"EQ_bizLocation": "urn:epc:id:sgln:0614141.00777.0"}, set()),
    ({"EQ_eventID": f"{uuid_of(1)}|{uuid_of(5)}"}, {1, 5}),
    ({"EQ_eventID": [uuid_of(8), "urn:uuid:not-there"]}, {8}),
    # MATCH_epc: epcList and childEPCs; EPC URI or Digital Link; the lot does not matter.
    ({"MATCH_epc": "urn:epc:id:sgtin:0614141.812345.1"}, {1, 3}),
    ({"MATCH_epc": "https://id.gs1.org/01/80614141123458/21/1"}, {1, 3}),
    ({"MATCH_epc": "https://example.org/01/80614141123458/10/OTHER/21/1"}, {1, 3}),
    ({"MATCH_epc": GTIN_812345}, {1, 2, 3, 9, 10}),
    ({"MATCH_epc": "https://id.gs1.org/01/80614141123458"}, {1, 2, 3, 9, 10}),
    ({"MATCH_epc": "urn:epc:class:lgtin:0614141.812345.L1"}, {1}),
    (
        {"MATCH_epc": "urn:epc:class:lgtin:0614141.812345.L1|urn:epc:id:sgtin:0614141.812345.2"},
        {1, 2},
    ),
    ({"MATCH_epc": "urn:epc:id:sgtin:0614141.812345.3"}, set()),
    ({"MATCH_epc": "https://example.com/things/42"}, {7}),
    ({"MATCH_anyEPC": GTIN_812345}, {1, 2, 3, 4, 9, 10}),
    ({"MATCH_anyEPC": "urn:epc:idpat:sgtin:0614141.*.*"}, {1, 2, 3, 4, 5, 9, 10}),
    ({"MATCH_anyEPC": "urn:epc:id:sscc:0614141.1234567890"}, {3}),
    ({"MATCH_anyEPC": "urn:epc:idpat:sgln:0614141.00777.*"}, set()),
    ({"MATCH_parentID": "urn:epc:id:sscc:0614141.1234567890"}, {3}),
    ({"MATCH_parentID": "urn:epc:idpat:sscc:0614141.*"}, {3, 5}),
    ({"MATCH_parentID": "urn:epc:idpat:sscc:0614142.*"}, set()),
    ({"MATCH_parentID": "urn:epc:idpat:grai:0614141.12345.*"}, {8}),
    ({"MATCH_parentID": "urn:epc:idpat:grai:0614141.*.*"}, {8}),
    ({"MATCH_parentID": "urn:epc:id:grai:0614141.12345.401"}, set()),
    ({"MATCH_epc": "urn:epc:idpat:giai:0614141.*"}, {8}),
    ({"MATCH_inputEPC": "urn:epc:id:sgtin:0614141.812345.3"}, {4}),
    ({"MATCH_outputEPC": "urn:epc:id:sgtin:0614141.812345.4"}, {4}),
    ({"MATCH_outputEPC": "urn:epc:id:sgtin:0614141.812345.3"}, set()),
    # Classes: quantityList / childQuantityList; patterns cover the GTIN's lots.
    ({"MATCH_epcClass": "urn:epc:class:lgtin:4012345.012345.998877"}, {3}),
    ({"MATCH_epcClass": "urn:epc:idpat:sgtin:4012345.012345.*"}, {3, 6}),
    ({"MATCH_epcClass": "https://id.gs1.org/01/04012345123456/10/998877"}, {3}),
    ({"MATCH_inputEPCClass": "urn:epc:class:lgtin:4012345.012345.LOTIN"}, {4}),
    ({"MATCH_outputEPCClass": "urn:epc:class:lgtin:4012345.012345.LOTOUT"}, {4}),
    ({"MATCH_outputEPCClass": "urn:epc:class:lgtin:4012345.012345.LOTIN"}, set()),
    ({"MATCH_anyEPCClass": "urn:epc:idpat:sgtin:4012345.012345.*"}, {3, 4, 6}),
    # Several parameters are ANDed.
    ({"eventType": "ObjectEvent", "EQ_bizStep": "shipping|commissioning"}, {1, 2}),
    ({"MATCH_epc": GTIN_812345, "EQ_action": "OBSERVE", "LT_eventTime": at(3)}, {2, 9}),
    ({"MATCH_anyEPC": GTIN_812345, "MATCH_epcClass": "urn:epc:idpat:sgtin:4012345.012345.*"}, {3}),
]


@pytest.mark.parametrize(("params", "expected"), QUERY_CASES, ids=[str(c[0]) for c in QUERY_CASES])
def test_query_parameter(loaded: Loaded, params: dict[str, Any], expected: set[int]) -> None:
    assert loaded.numbers(params) == expected


@pytest.mark.parametrize(
    ("parameter", "before"),
    [("GE_recordTime", False), ("LT_recordTime", True)],
)
def test_record_time(loaded: Loaded, parameter: str, before: bool) -> None:
    value = loaded.middle.isoformat()
    assert loaded.numbers({parameter: value}) == (FIRST_CAPTURE if before else ALL - FIRST_CAPTURE)


def test_results_carry_the_captured_json_and_metadata(loaded: Loaded) -> None:
    page = query_events(loaded.engine, {"EQ_eventID": uuid_of(1)}, reader=OPERATOR)
    (event,) = page.events
    assert event.event == {"@context": [DATASET_CONTEXT], **DATASET[1]}
    assert event.event_id == uuid_of(1)
    assert event.hash_id.startswith("ni:///sha-256;")
    assert event.event_hash == "0x" + event.hash_id[len("ni:///sha-256;") :].split("?")[0]
    assert event.anchor_status == "pending"
    assert event.event_time == datetime(2024, 1, 1, 10, tzinfo=UTC)
    assert event.record_time < loaded.middle


DATASET_CONTEXT = "https://ref.gs1.org/standards/epcis/epcis-context.jsonld"


@pytest.mark.parametrize(
    ("params", "key"),
    [
        ({"orderBy": "eventTime", "orderDirection": "ASC"}, lambda e: (e.event_time, e.id)),
        ({"orderBy": "eventTime"}, lambda e: (-e.event_time.timestamp(), -e.id)),
        ({"orderBy": "recordTime", "orderDirection": "ASC"}, lambda e: (e.record_time, e.id)),
        (
            {"orderBy": "recordTime", "orderDirection": "DESC"},
            lambda e: (-e.record_time.timestamp(), -e.id),
        ),
        ({}, lambda e: e.id),
    ],
)
def test_order(loaded: Loaded, params: dict[str, str], key: Callable[[Any], Any]) -> None:
    events = list(query_events(loaded.engine, {**params, "perPage": "100"}, reader=OPERATOR).events)
    assert len(events) == len(ALL)
    assert events == sorted(events, key=key)


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"orderBy": "eventTime"},
        {"orderBy": "eventTime", "orderDirection": "ASC"},
        {"orderBy": "recordTime"},
        {"orderBy": "recordTime", "orderDirection": "ASC"},
        {"MATCH_anyEPC": GTIN_812345, "orderBy": "eventTime"},
    ],
)
def test_pages_of_the_data_set(loaded: Loaded, params: dict[str, str]) -> None:
    first = query_events(loaded.engine, {**params, "perPage": "100"}, reader=OPERATOR)
    everything = [e.id for e in first.events]
    walked: list[int] = []
    token: str | None = None
    pages = 0
    while True:
        page_params = {**params, "perPage": "2"}
        if token is not None:
            page_params["nextPageToken"] = token
        page = query_events(loaded.engine, page_params, reader=OPERATOR)
        assert len(page.events) <= 2
        walked += [e.id for e in page.events]
        pages += 1
        token = page.next_page_token
        if token is None:
            break
    assert walked == everything
    assert pages == (len(everything) + 1) // 2


ERROR_CASES: list[tuple[dict[str, Any], str]] = [
    ({"foo": "bar"}, "foo"),
    ({"EQ_quantity": "3"}, "EQ_quantity"),
    ({"WD_readPoint": "urn:epc:id:sgln:0614141.00777.0"}, "WD_readPoint"),
    ({"EQ_action": "ADDED"}, "EQ_action"),
    ({"EQ_action": "add"}, "EQ_action"),
    ({"GE_eventTime": "yesterday"}, "GE_eventTime"),
    ({"LT_eventTime": "2024-01-01T00:00:00"}, "LT_eventTime"),
    ({"GE_recordTime": "2024-02-30T00:00:00Z"}, "GE_recordTime"),
    ({"LT_recordTime": ["2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z"]}, "LT_recordTime"),
    ({"orderBy": "bizStep"}, "orderBy"),
    ({"orderBy": "eventTime", "orderDirection": "UP"}, "orderDirection"),
    ({"perPage": "0"}, "perPage"),
    ({"perPage": "-5"}, "perPage"),
    ({"perPage": "ten"}, "perPage"),
    ({"perPage": "²"}, "perPage"),
    ({"nextPageToken": "garbage!"}, "nextPageToken"),
    ({"nextPageToken": "WzEsImFiYyIsbnVsbCwxXQ"}, "nextPageToken"),
    ({"EQ_bizStep": "not_a_step"}, "EQ_bizStep"),
    ({"EQ_disposition": "in transit"}, "EQ_disposition"),
    ({"eventType": ""}, "eventType"),
    ({"EQ_eventID": "a||b"}, "EQ_eventID"),
    ({"MATCH_epc": "urn:epc:idpat:gdti:0614141.12345.*"}, "MATCH_epc"),
    ({"MATCH_epc": "urn:epc:idpat:sscc:0614.*"}, "MATCH_epc"),
    ({"MATCH_parentID": "urn:epc:idpat:sgln:0614141.1234567.*"}, "MATCH_parentID"),
    ({"MATCH_anyEPC": "x" * 3000}, "MATCH_anyEPC"),
]


@pytest.mark.parametrize(
    ("params", "field"), ERROR_CASES, ids=[c[1] + str(i) for i, c in enumerate(ERROR_CASES)]
)
def test_invalid_parameters(params: dict[str, Any], field: str) -> None:
    with pytest.raises(QueryError) as raised:
        parse_query(params)
    assert raised.value.field == field
    assert isinstance(raised.value, InvalidInputError)
    assert raised.value.client_error


def test_page_token_is_bound_to_its_query(loaded: Loaded) -> None:
    page = query_events(loaded.engine, {"orderBy": "eventTime", "perPage": "2"}, reader=OPERATOR)
    assert page.next_page_token is not None
    with pytest.raises(QueryError) as raised:
        parse_query({"orderBy": "recordTime", "nextPageToken": page.next_page_token})
    assert raised.value.field == "nextPageToken"
    with pytest.raises(QueryError):
        parse_query(
            {"orderBy": "eventTime", "EQ_action": "ADD", "nextPageToken": page.next_page_token}
        )
    # perPage may change between pages.
    follow = parse_query(
        {"orderBy": "eventTime", "perPage": "5", "nextPageToken": page.next_page_token}
    )
    assert follow.per_page == 5


def test_per_page_is_capped_and_defaults_to_30() -> None:
    assert parse_query({}).per_page == 30
    assert parse_query({"perPage": "1000000"}).per_page == MAX_PER_PAGE


def test_orderDirection_defaults_to_descending() -> None:  # noqa: N802
    assert parse_query({"orderBy": "eventTime"}).descending
    assert not parse_query({"orderBy": "eventTime", "orderDirection": "ASC"}).descending
    assert not parse_query({}).descending


# --- pagination under concurrent inserts ------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"orderBy": "eventTime", "orderDirection": "ASC"},
        {"orderBy": "eventTime", "orderDirection": "DESC"},
        {"orderBy": "recordTime", "orderDirection": "ASC"},
        {"orderBy": "recordTime", "orderDirection": "DESC"},
        {"orderBy": "eventTime", "MATCH_epc": GTIN_812345},
    ],
)
def test_pagination_walks_every_event_once_while_events_are_inserted(
    engine: Engine, org: int, params: dict[str, str]
) -> None:
    # 60 events, several sharing one event time (ties broken by id).
    originals = [sgtin_observation([f"o{i}"], minute=i // 3) for i in range(60)]
    first = capture_events(engine, parse(originals), organisation_id=org)
    original_ids = {r.event_pk for r in first.events}
    seen: list[int] = []
    token: str | None = None
    inserted = 0
    while True:
        page_params = {**params, "perPage": "7"}
        if token is not None:
            page_params["nextPageToken"] = token
        page = query_events(engine, page_params, reader=OPERATOR)
        seen += [e.id for e in page.events]
        token = page.next_page_token
        if token is None:
            break
        # Between pages, others capture events before, among and after the ones walked so far.
        batch = [
            sgtin_observation([f"n{inserted}-{k}"], minute=minute)
            for k, minute in enumerate((-5, 3, 10, 19, 40))
        ]
        capture_events(engine, parse(batch), organisation_id=org)
        inserted += 1
    assert inserted >= 8
    assert len(seen) == len(set(seen))
    assert original_ids <= set(seen)


def test_record_time_is_set_per_capture(engine: Engine, org: int) -> None:
    before = utc_now()
    result = capture_events(engine, parse(mixed_events(3)), organisation_id=org)
    after = utc_now()
    assert before <= result.record_time <= after
    page = query_events(engine, {}, reader=OPERATOR)
    assert {e.record_time for e in page.events} == {result.record_time}


# --- index use --------------------------------------------------------------------------------

PLAN_CASES: list[tuple[dict[str, str], str]] = [
    ({"eventType": "ObjectEvent"}, "ix_event_event_type"),
    ({"EQ_action": "ADD"}, "ix_event_action"),
    ({"EQ_bizStep": "shipping"}, "ix_event_biz_step"),
    ({"EQ_disposition": "active"}, "ix_event_disposition"),
    ({"EQ_readPoint": "urn:epc:id:sgln:0614141.00777.0"}, "ix_event_read_point"),
    ({"EQ_bizLocation": "urn:epc:id:sgln:0614141.00777.0"}, "ix_event_biz_location"),
    ({"EQ_eventID": uuid_of(1)}, "ix_event_event_id"),
    ({"GE_eventTime": "2024-01-01T00:00:00Z", "orderBy": "eventTime"}, "ix_event_event_time_id"),
    ({"LT_recordTime": "2024-01-01T00:00:00Z", "orderBy": "recordTime"}, "ix_event_record_time_id"),
    ({"MATCH_epc": "urn:epc:id:sgtin:0614141.812345.1"}, "ix_event_identifier_canonical_role"),
    ({"MATCH_anyEPC": GTIN_812345}, "ix_event_identifier_canonical_role"),
    (
        {"MATCH_epc": "urn:epc:class:lgtin:0614141.812345.L1"},
        "ix_event_identifier_class_canonical_role",
    ),
]


@pytest.mark.parametrize(("params", "index"), PLAN_CASES, ids=[c[1] for c in PLAN_CASES])
def test_filters_use_their_index(loaded: Loaded, params: dict[str, str], index: str) -> None:
    """The query plan reads the filter's index (PostgreSQL: with sequential scans disabled,
    so that the tiny data set cannot make a full scan look cheaper)."""
    statement = query_statement(parse_query(params), OPERATOR)
    with loaded.engine.connect() as connection:
        compiled = statement.compile(connection, compile_kwargs={"literal_binds": True})
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text("SET enable_seqscan = off"))
            plan = "\n".join(connection.execute(sa.text(f"EXPLAIN {compiled}")).scalars())
            connection.rollback()
            assert "Seq Scan" not in plan
        else:
            rows = connection.execute(sa.text(f"EXPLAIN QUERY PLAN {compiled}")).all()
            plan = "\n".join(str(row[-1]) for row in rows)
            assert "SCAN event_identifier" not in plan
    assert index in plan, plan


def test_event_query_is_reusable(loaded: Loaded) -> None:
    query = parse_query({"eventType": "ObjectEvent", "perPage": "2"})
    assert isinstance(query, EventQuery)
    first = query_events(loaded.engine, query, reader=OPERATOR)
    again = query_events(loaded.engine, query, reader=OPERATOR)
    assert first == again
    assert len(first.events) == 2


def test_time_filters_compare_instants_not_wall_clocks(loaded: Loaded) -> None:
    # E10 happened at 05:00 in UTC-5, i.e. 10:00 UTC.
    local = datetime(2024, 1, 9, 5, tzinfo=UTC) - timedelta(hours=0)
    assert loaded.numbers({"GE_eventTime": local.isoformat(), "LT_eventTime": at(9)}) == set()
    assert loaded.numbers({"GE_eventTime": "2024-01-09T05:00:00-05:00"}) == {10}


# --- identifier patterns as ranges (property-based) ---------------------------------------------

_SERIALS = st.text(
    alphabet=string.ascii_letters + string.digits + "!'()*+-.:;=_", min_size=1, max_size=20
)
_COMPANY_ITEMS = st.sampled_from(
    [
        ("0614141", "812345"),
        ("0614141", "812346"),
        ("0614141", "112345"),
        ("061414", "1812345"),
        ("4012345", "012345"),
        ("40123456", "01234"),
    ]
)


@given(_COMPANY_ITEMS, _COMPANY_ITEMS, _SERIALS, st.sampled_from(["L1", "LOT-9", None]))
def test_sgtin_patterns_match_exactly_their_items(
    pattern_of: tuple[str, str], item_of: tuple[str, str], serial: str, lot: str | None
) -> None:
    company, item = item_of
    epc = f"urn:epc:id:sgtin:{company}.{item}.{serial}"
    indexed = index_identifier(epc)
    if lot is not None:  # the same item read from a Digital Link that shows its lot
        gtin = parse_identifier(epc).canonical.split("/21/")[0]
        with_lot = index_identifier(f"{gtin}/10/{lot}/21/{quote(serial, safe='')}")
        assert with_lot.canonical == indexed.canonical
        indexed = with_lot
    same_gtin = pattern_of == item_of
    # cp.*.* matches every GTIN whose digits after the indicator start with cp (GS1 never
    # allocates a company prefix that is a prefix of another one).
    same_company = (company + item[1:]).startswith(pattern_of[0])
    by_gtin = identifier_match(f"urn:epc:idpat:sgtin:{pattern_of[0]}.{pattern_of[1]}.*")
    by_company = identifier_match(f"urn:epc:idpat:sgtin:{pattern_of[0]}.*.*")
    assert by_gtin.accepts(indexed.canonical, indexed.class_canonical) == same_gtin
    assert by_company.accepts(indexed.canonical, indexed.class_canonical) == same_company
    exact = identifier_match(epc)
    assert exact.accepts(indexed.canonical, indexed.class_canonical)
    if lot is not None:
        lgtin = identifier_match(f"urn:epc:class:lgtin:{pattern_of[0]}.{pattern_of[1]}.{lot}")
        assert lgtin.accepts(indexed.canonical, indexed.class_canonical) == same_gtin
        other_lot = identifier_match(f"urn:epc:class:lgtin:{company}.{item}.OTHER")
        assert not other_lot.accepts(indexed.canonical, indexed.class_canonical)
