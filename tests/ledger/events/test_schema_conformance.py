"""Our capture validator and GS1's EPCIS 2.0 JSON Schema accept and reject the same documents.

GS1's schema (Draft 7, formats checked) is the oracle: the conformance documents, generated
valid documents and systematic mutations of them go through both, and the verdicts must agree.
Two rules of ours go beyond the schema and have their own tests at the end.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.events import validate
from ledger.events.document import parse_json
from ledger.events.xml_binding import document_from_xml
from tests.ledger.events import epcis_strategies as strategies
from tests.ledger.events.conftest import HASH_VECTORS_DIR, SchemaOracle, require

Mutation = Callable[[dict[str, Any], st.DataObject], None]


def _ours(document: Any) -> bool:
    return not validate(document)


def _agree(oracle: SchemaOracle, document: Any) -> bool:
    ours = _ours(document)
    theirs = oracle.accepts(document)
    assert ours == theirs, (
        f"ours={'valid' if ours else 'invalid'} schema={'valid' if theirs else 'invalid'}\n"
        f"our errors: {[(e.field, e.reason) for e in validate(document)]}\n"
        f"schema errors: {oracle.problems(document)}\n{json.dumps(document, indent=1)}"
    )
    return ours


def test_conformance_documents_agree(schema_oracle: SchemaOracle) -> None:
    """Every example document of the conformance folder (JSON-LD, and XML read as JSON-LD)."""
    folder = require(HASH_VECTORS_DIR)
    checked = 0
    for path in sorted(folder.glob("*.jsonld")) + sorted(folder.glob("*.xml")):
        body = path.read_bytes()
        if path.suffix == ".xml":
            if path.name.startswith("epcisXmlQueryDoc"):
                continue  # not an EPCISQueryDocument by the XML schema; see test_hash_vectors
            document = document_from_xml(body)
        else:
            document = parse_json(body)
        assert _agree(schema_oracle, document), path.name
        checked += 1
    assert checked >= 35


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(strategies.documents())
def test_generated_documents_are_valid_for_both(
    schema_oracle: SchemaOracle, document: dict[str, Any]
) -> None:
    assert _agree(schema_oracle, document)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(strategies.events())
def test_generated_single_events_are_valid_for_both(
    schema_oracle: SchemaOracle, event: dict[str, Any]
) -> None:
    assert _agree(schema_oracle, {"@context": strategies.CONTEXT, **event})


# -- mutations ------------------------------------------------------------------------------------

WRONG_VALUES: list[Any] = [42, 1.5, "x", "", [], {}, True, None, ["x"], {"id": 1}]


def _event(document: dict[str, Any]) -> dict[str, Any]:
    event: dict[str, Any] = document["epcisBody"]["eventList"][0]
    return event


def drop_event_field(document: dict[str, Any], data: st.DataObject) -> None:
    event = _event(document)
    del event[data.draw(st.sampled_from(sorted(event)))]


def wrong_type_event_field(document: dict[str, Any], data: st.DataObject) -> None:
    event = _event(document)
    event[data.draw(st.sampled_from(sorted(event)))] = data.draw(st.sampled_from(WRONG_VALUES))


def wrong_type_nested(document: dict[str, Any], data: st.DataObject) -> None:
    """Replace one value anywhere inside the event."""
    holders: list[tuple[Any, Any]] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            holders.extend((value, key) for key in value)
            for child in value.values():
                walk(child)
        elif isinstance(value, list):
            holders.extend((value, index) for index in range(len(value)))
            for child in value:
                walk(child)

    walk(_event(document))
    holder, key = data.draw(st.sampled_from(holders))
    holder[key] = data.draw(st.sampled_from(WRONG_VALUES))


def drop_nested(document: dict[str, Any], data: st.DataObject) -> None:
    """Delete one key of one object anywhere inside the event."""
    holders: list[tuple[dict[str, Any], str]] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            holders.extend((value, key) for key in value)
            for child in value.values():
                walk(child)
        elif isinstance(value, list):
            for child in value:
                walk(child)

    walk(_event(document))
    holder, key = data.draw(st.sampled_from(holders))
    del holder[key]


def _setter(field: str, values: list[Any]) -> Mutation:
    def mutate(document: dict[str, Any], data: st.DataObject) -> None:
        _event(document)[field] = data.draw(st.sampled_from(values))

    mutate.__name__ = f"set_{field}"
    return mutate


bad_action = _setter("action", ["observe", "MOVE", "", "ADD ", 1])
bad_offset = _setter(
    "eventTimeZoneOffset", ["+15:00", "1:00", "+01:60", "Z", "+0100", "-14:00", "+14:00"]
)
bad_event_time = _setter(
    "eventTime",
    [
        "2020-13-01T00:00:00Z",
        "2021-02-29T00:00:00Z",
        "2020-02-29T00:00:00Z",
        "yesterday",
        "2020-01-01T00:00:00",
        "2020-01-01 00:00:00Z",
        "2020-01-01T24:00:00Z",
        "2020-01-01T00:00:60Z",
        "2020-01-01t00:00:00z",
        "0000-01-01T00:00:00Z",
        "2020-01-01T00:00:00.Z",
    ],
)
bad_biz_step = _setter(
    "bizStep",
    [
        "shiping",
        "Shipping",
        "urn:epcglobal:cbv:bizstep:shipping",
        "https://ref.gs1.org/cbv/BizStep-shipping",
        "https://ns.gs1.org/cbv/BizStep-shipping",
        "not a uri",
        "acme:own_step",
    ],
)
bad_disposition = _setter(
    "disposition", ["in transit", "urn:epcglobal:cbv:disp:in_transit", "sold", "in_transit"]
)
bad_event_id = _setter("eventID", ["not a uri", "urn:uuid:1", "ni:///sha-256;ab?ver=CBV2.0"])
bad_certification = _setter("certificationInfo", [5, "a b", ["https://c.example/1", 2]])
unknown_field = _setter("foo", [1, "bar"])
extended_type = _setter("type", ["Foo", "acme:CustomEvent", "EPCISDocument"])


def bad_quantity(document: dict[str, Any], data: st.DataObject) -> None:
    event = _event(document)
    element = {"epcClass": "urn:epc:class:lgtin:4012345.012345.L1"}
    element.update(
        data.draw(
            st.sampled_from(
                [{"quantity": "5"}, {"uom": "kg"}, {"uom": "KGMS"}, {"quantity": 5, "x": 1}, {}]
            )
        )
    )
    event["quantityList"] = [element]


def bad_parties(document: dict[str, Any], data: st.DataObject) -> None:
    event = _event(document)
    event["sourceList"] = data.draw(
        st.sampled_from(
            [
                [{"source": "https://id.gs1.org/414/4012345000009"}],
                [{"type": "owning_party"}],
                [{"type": "owner", "source": "https://id.gs1.org/414/4012345000009"}],
                [{"type": "urn:epcglobal:cbv:sdt:owning_party", "source": "x:y"}],
            ]
        )
    )


def bad_biz_transactions(document: dict[str, Any], data: st.DataObject) -> None:
    _event(document)["bizTransactionList"] = data.draw(
        st.sampled_from(
            [
                [],
                [{"bizTransaction": "urn:epcglobal:cbv:bt:4012345000009:1"}],
                [{"type": "purchase_order", "bizTransaction": "urn:x:1"}],
                [{"type": "po"}],
                [{"type": "po", "bizTransaction": "urn:x:1", "extra": 1}],
            ]
        )
    )


def bad_sensor(document: dict[str, Any], data: st.DataObject) -> None:
    _event(document)["sensorElementList"] = data.draw(
        st.sampled_from(
            [
                [{"sensorReport": [{"value": 1}]}],
                [{"sensorReport": []}],
                [{"sensorReport": [{"type": "Temp"}]}],
                [{"sensorReport": [{"type": "https://gs1.org/voc/Temperature"}]}],
                [{"sensorReport": [{"type": "gs1:Temperature", "booleanValue": "true"}]}],
                [{"sensorReport": [{"type": "Speed", "hexBinaryValue": "xyz"}]}],
                [{"sensorReport": [{"type": "Speed", "component": "w"}]}],
                [{"sensorReport": [{"type": "Speed", "exception": "ALARM"}]}],
                [{"sensorMetadata": {"time": "now"}, "sensorReport": [{"type": "Mass"}]}],
                [{"sensorMetadata": {"foo": 1}, "sensorReport": [{"type": "Mass"}]}],
                [{"sensorReport": [{"type": "Mass", "value": "1"}]}],
            ]
        )
    )


def bad_location(document: dict[str, Any], data: st.DataObject) -> None:
    _event(document)["readPoint"] = data.draw(
        st.sampled_from([{}, {"id": "no uri"}, "urn:x:y", {"id": "geo:1,2", "foo": 1}])
    )


def bad_persistent_disposition(document: dict[str, Any], data: st.DataObject) -> None:
    _event(document)["persistentDisposition"] = data.draw(
        st.sampled_from([{}, {"set": []}, {"set": ["recalled", "recalled"]}, {"other": ["x"]}])
    )


def ilmd_without_add(document: dict[str, Any], data: st.DataObject) -> None:
    event = _event(document)
    event["ilmd"] = {"acme:lot": "L1"}
    event["action"] = data.draw(st.sampled_from(["OBSERVE", "DELETE", "ADD"]))


def duplicate_epcs(document: dict[str, Any], data: st.DataObject) -> None:
    event = _event(document)
    name = data.draw(st.sampled_from(["epcList", "childEPCs", "inputEPCList", "outputEPCList"]))
    event[name] = ["urn:epc:id:sgtin:4012345.012345.1", "urn:epc:id:sgtin:4012345.012345.1"]


def bad_document(document: dict[str, Any], data: st.DataObject) -> None:
    change = data.draw(
        st.sampled_from(
            [
                ("drop", "schemaVersion"),
                ("drop", "creationDate"),
                ("drop", "epcisBody"),
                ("drop", "@context"),
                ("set", "schemaVersion", "two"),
                ("set", "schemaVersion", 2.0),
                ("set", "creationDate", "today"),
                ("set", "epcisBody", {"events": []}),
                ("set", "sender", 5),
                ("set", "foo", 1),
                ("set", "@context", ["a b"]),
                ("set", "@context", 5),
            ]
        )
    )
    if change[0] == "drop":
        del document[change[1]]
    else:
        document[change[1]] = change[2]


MUTATIONS: list[Mutation] = [
    drop_event_field,
    wrong_type_event_field,
    wrong_type_nested,
    drop_nested,
    bad_action,
    bad_offset,
    bad_event_time,
    bad_biz_step,
    bad_disposition,
    bad_event_id,
    bad_certification,
    unknown_field,
    extended_type,
    bad_quantity,
    bad_parties,
    bad_biz_transactions,
    bad_sensor,
    bad_location,
    bad_persistent_disposition,
    ilmd_without_add,
    duplicate_epcs,
    bad_document,
]


@pytest.mark.parametrize("mutation", MUTATIONS, ids=lambda m: m.__name__)
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutations_agree(
    schema_oracle: SchemaOracle, mutation: Mutation, data: st.DataObject
) -> None:
    document = copy.deepcopy(data.draw(strategies.documents(max_events=2)))
    mutation(document, data)
    _agree(schema_oracle, document)


def test_mutations_do_reject(schema_oracle: SchemaOracle) -> None:
    """The mutations are not vacuous: classic mistakes are rejected by both."""
    base = {
        "@context": strategies.CONTEXT,
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2024-01-01T00:00:00Z",
        "epcisBody": {
            "eventList": [
                {
                    "type": "ObjectEvent",
                    "eventTime": "2024-01-01T10:00:00.000+01:00",
                    "eventTimeZoneOffset": "+01:00",
                    "epcList": ["urn:epc:id:sgtin:4012345.012345.1"],
                    "action": "OBSERVE",
                    "bizStep": "shipping",
                }
            ]
        },
    }
    assert _agree(schema_oracle, base)
    for field, value in [
        ("action", "MOVE"),
        ("eventTimeZoneOffset", "+15:00"),
        ("eventTime", "2024-02-30T10:00:00Z"),
        ("bizStep", "shiping"),
        ("bizStep", "urn:epcglobal:cbv:bizstep:shipping"),
        ("epcList", "urn:epc:id:sgtin:4012345.012345.1"),
    ]:
        document = copy.deepcopy(base)
        _event(document)[field] = value
        assert not _agree(schema_oracle, document), (field, value)
    document = copy.deepcopy(base)
    del _event(document)["eventTime"]
    assert not _agree(schema_oracle, document)


# -- rules beyond the schema ----------------------------------------------------------------------


def test_invalid_gs1_keys_are_ours_to_reject(schema_oracle: SchemaOracle) -> None:
    """The schema sees any URI; we also check GS1 keys (here a wrong GTIN check digit)."""
    document = {
        "@context": strategies.CONTEXT,
        "type": "ObjectEvent",
        "eventTime": "2024-01-01T10:00:00Z",
        "eventTimeZoneOffset": "+00:00",
        "epcList": ["https://id.gs1.org/01/09506000134353/21/1"],
        "action": "OBSERVE",
    }
    assert schema_oracle.accepts(document)
    errors = validate(document)
    assert [(e.field, e.reason) for e in errors] == [
        ("epcList[0]", "GTIN check digit is 3, expected 2")
    ]


def test_undeclared_extension_prefixes_are_ours_to_reject(schema_oracle: SchemaOracle) -> None:
    """The schema cannot see @context; we require extension prefixes to be declared in it."""
    document = {
        "@context": strategies.CONTEXT,
        "type": "ObjectEvent",
        "eventTime": "2024-01-01T10:00:00Z",
        "eventTimeZoneOffset": "+00:00",
        "epcList": [],
        "action": "OBSERVE",
        "other:field": 1,
        "https://ns.other.example/field": 2,
    }
    assert schema_oracle.accepts(document)
    errors = validate(document)
    assert [(e.field, e.reason) for e in errors] == [
        ("other:field", "the prefix 'other' of 'other:field' is not declared in @context")
    ]
