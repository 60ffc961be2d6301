"""parse_document: the capture entry point, its typed model and its errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from ledger.errors import InvalidInputError
from ledger.events import (
    DocumentValidationError,
    EventValidationError,
    Link,
    Quantity,
    event_hash,
    parse_document,
    prehash,
)
from tests.helpers import document_bytes

CONTEXT = [
    "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
    {"acme": "https://ns.acme.example/epcis/"},
]


def _event(**fields: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "ObjectEvent",
        "eventTime": "2024-05-01T10:00:00.1234+02:00",
        "eventTimeZoneOffset": "+02:00",
        "epcList": ["urn:epc:id:sgtin:4012345.011111.9876"],
        "action": "OBSERVE",
    }
    event.update(fields)
    return event


def _document(*events: dict[str, Any]) -> bytes:
    return document_bytes(*events, context=CONTEXT, creation_date="2024-05-01T10:00:00Z")


def test_typed_fields_of_a_transformation() -> None:
    event = _event(
        type="TransformationEvent",
        eventID="urn:uuid:5f0c6f44-1111-4b2b-8c4b-2b8e3c2f1a01",
        inputQuantityList=[
            {"epcClass": "urn:epc:class:lgtin:4012345.012345.LOT1", "quantity": 25, "uom": "KGM"}
        ],
        outputEPCList=["https://id.gs1.org/01/04012345123456/21/987"],
        bizStep="commissioning",
        disposition="urn:acme:disp:fresh",
        readPoint={"id": "urn:epc:id:sgln:4012345.00001.0", "acme:line": "L2"},
        bizLocation={"id": "https://id.gs1.org/414/4012345000016"},
        bizTransactionList=[
            {"type": "po", "bizTransaction": "urn:epcglobal:cbv:bt:4012345000009:1"}
        ],
        sourceList=[{"type": "owning_party", "source": "https://id.gs1.org/417/4012345000009"}],
        **{"acme:batch": "B-1"},
    )
    del event["epcList"], event["action"]
    [captured] = parse_document(_document(event), "application/ld+json; charset=utf-8")
    assert captured.event_type == "TransformationEvent"
    assert captured.event_time == datetime(2024, 5, 1, 8, 0, 0, 123400, tzinfo=UTC)
    assert captured.event_time.utcoffset() == timedelta(hours=2)
    assert captured.event_time_zone_offset == "+02:00"
    assert captured.event_id == "urn:uuid:5f0c6f44-1111-4b2b-8c4b-2b8e3c2f1a01"
    assert captured.action is None
    assert captured.biz_step == "https://ref.gs1.org/cbv/BizStep-commissioning"
    assert captured.disposition == "urn:acme:disp:fresh"
    assert captured.read_point == "urn:epc:id:sgln:4012345.00001.0"
    assert captured.biz_location == "https://id.gs1.org/414/4012345000016"
    assert captured.identifiers == [
        ("output", "https://id.gs1.org/01/04012345123456/21/987"),
        ("quantity", "urn:epc:class:lgtin:4012345.012345.LOT1"),
    ]
    assert captured.quantities == [
        Quantity("input", "urn:epc:class:lgtin:4012345.012345.LOT1", 25, "KGM")
    ]
    assert captured.biz_transactions == [
        Link("https://ref.gs1.org/cbv/BTT-po", "urn:epcglobal:cbv:bt:4012345000009:1")
    ]
    assert captured.sources == [
        Link("https://ref.gs1.org/cbv/SDT-owning_party", "https://id.gs1.org/417/4012345000009")
    ]
    assert captured.destinations == []
    # raw is the event as received, with the document's @context merged in
    assert captured.raw == {"@context": CONTEXT, **event}
    assert "{https://ns.acme.example/epcis/}batch=B-1" in captured.prehash
    assert "{https://ns.acme.example/epcis/}line=L2" in captured.prehash
    assert captured.prehash == prehash(captured.raw)
    assert captured.hash_id == event_hash(captured.raw)
    assert captured.hash_id.startswith("ni:///sha-256;")
    assert captured.hash_id.endswith("?ver=CBV2.0")


def test_aggregation_roles_and_single_event() -> None:
    event = _event(
        type="AggregationEvent",
        parentID="urn:epc:id:sscc:4012345.0000000001",
        childEPCs=["urn:epc:id:sgtin:4012345.011111.1", "urn:epc:id:sgtin:4012345.011111.2"],
        childQuantityList=[{"epcClass": "https://id.gs1.org/01/04012345111118/10/L1"}],
        action="ADD",
    )
    del event["epcList"]
    body = json.dumps({"@context": CONTEXT, **event}).encode()
    [captured] = parse_document(body, "application/json")
    assert captured.identifiers == [
        ("parent", "urn:epc:id:sscc:4012345.0000000001"),
        ("child", "urn:epc:id:sgtin:4012345.011111.1"),
        ("child", "urn:epc:id:sgtin:4012345.011111.2"),
        ("quantity", "https://id.gs1.org/01/04012345111118/10/L1"),
    ]
    assert captured.quantities == [
        Quantity("child", "https://id.gs1.org/01/04012345111118/10/L1", None, None)
    ]
    assert captured.raw == {"@context": CONTEXT, **event}


def test_query_document() -> None:
    body = json.dumps(
        {
            "@context": CONTEXT,
            "type": "EPCISQueryDocument",
            "schemaVersion": "2.0",
            "epcisBody": {
                "queryResults": {
                    "queryName": "SimpleEventQuery",
                    "resultsBody": {"eventList": [_event(), _event(action="ADD")]},
                }
            },
        }
    ).encode()
    events = parse_document(body, "application/ld+json")
    assert [e.action for e in events] == ["OBSERVE", "ADD"]
    assert events[0].hash_id != events[1].hash_id


def test_every_problem_of_every_event_is_reported_all_or_nothing() -> None:
    good = _event()
    bad_check_digit = _event(epcList=["https://id.gs1.org/01/04012345111117/21/1"])
    bad_action = _event(action="MOVE", bizStep="shiping")
    with pytest.raises(DocumentValidationError) as caught:
        parse_document(_document(good, bad_check_digit, good, bad_action), "application/json")
    error = caught.value
    assert isinstance(error, InvalidInputError)
    assert [(e.field, e.reason) for e in error.errors] == [
        ("epcisBody.eventList[1].epcList[0]", "GTIN check digit is 7, expected 8"),
        (
            "epcisBody.eventList[3].action",
            "'MOVE' is not an action; expected OBSERVE, ADD or DELETE",
        ),
        ("epcisBody.eventList[3].bizStep", "unknown CBV business step 'shiping'"),
    ]
    assert all(isinstance(e, EventValidationError) for e in error.errors)
    assert error.field == "epcisBody.eventList[1].epcList[0]"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{", "not valid JSON"),
        (b'{"a": 1, "a": 2}', "appears twice"),
        (b'{"a": NaN}', "NaN is not a JSON value"),
        (b'{"a": 1e999}', "too large"),
        (b"\xff\xfe", "not UTF-8"),
        (b"[]", "must be a JSON object"),
    ],
)
def test_malformed_json(body: bytes, reason: str) -> None:
    with pytest.raises(DocumentValidationError) as caught:
        parse_document(body, "application/json")
    assert reason in caught.value.errors[0].reason


def test_unsupported_content_type() -> None:
    with pytest.raises(DocumentValidationError) as caught:
        parse_document(b"{}", "text/plain")
    assert caught.value.errors[0].field == "Content-Type"


def test_single_event_needs_context() -> None:
    with pytest.raises(DocumentValidationError) as caught:
        parse_document(json.dumps(_event()).encode(), "application/json")
    assert [(e.field, e.reason) for e in caught.value.errors] == [
        ("@context", "a single event needs its JSON-LD @context")
    ]


def test_event_context_is_merged_after_the_documents() -> None:
    own = {"lab": "https://lab.example.org/v1/"}
    event = _event(**{"@context": own, "lab:grade": "A1"})
    [captured] = parse_document(_document(event), "application/json")
    assert captured.raw["@context"] == [*CONTEXT, own]
    assert "{https://lab.example.org/v1/}grade=A1" in captured.prehash


def test_event_times_are_aware_instants() -> None:
    [a] = parse_document(_document(_event(eventTime="2024-05-01T08:00:00Z")), "application/json")
    [b] = parse_document(
        _document(_event(eventTime="2024-05-01T10:00:00+02:00")), "application/json"
    )
    assert a.event_time == b.event_time
    assert b.event_time.tzinfo == timezone(timedelta(hours=2))
