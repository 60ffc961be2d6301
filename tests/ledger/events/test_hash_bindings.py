"""One event, one hash (CBV 2.0 §8.9): whatever the binding and whatever the prefix labels.

Each case is one event written four ways, all captured through :func:`parse_document`:

* ``xml``: the XML binding (namespaced elements and attributes, URN vocabulary values);
* ``standard``: JSON-LD with the EPCIS context and the user prefix ``example`` (bare CBV terms,
  ``cbv:`` / ``gs1:`` / ``cbvmda:`` compact IRIs from the standard context);
* ``relabelled``: the same JSON-LD with every prefix declared under another label (``ex``,
  ``voc``, ``vocab``, ``mda``), keys and values renamed accordingly;
* ``full-iris``: the standard JSON-LD with every compact IRI *value* written as its full IRI.

All four must give one pre-hash string and one hash ID: CBV 2.0 §8.9.2 builds the pre-hash from
the event's content, so an IRI counts as the same IRI however it is spelled (every compact IRI is
expanded, in keys as ``{namespace}local``, in values as the full IRI).
"""

# ruff: noqa: E501  (XML literals read best on one line)

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import pytest

from ledger.events import parse_document
from ledger.events.xml_binding import EPCIS_CONTEXT_URL
from tests.helpers import document_bytes

EXAMPLE = "https://ns.example.com/epcis/"
#: Standard-context prefixes (and the user's ``example``) with their namespaces.
NAMESPACES = {
    "example": EXAMPLE,
    "cbv": "https://ref.gs1.org/cbv/",
    "gs1": "https://gs1.org/voc/",
    "cbvmda": "urn:epcglobal:cbv:mda:",
}
#: The other labels of the ``relabelled`` variant.
RELABEL = {"example": "ex", "cbv": "vocab", "gs1": "voc", "cbvmda": "mda"}

XML_DOCUMENT = """<?xml version="1.0" encoding="UTF-8"?>
<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:{version}" xmlns:example="https://ns.example.com/epcis/"
    xmlns:cbvmda="urn:epcglobal:cbv:mda" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    xmlns:xsd="http://www.w3.org/2001/XMLSchema" schemaVersion="{version}.{minor}" creationDate="2024-05-01T10:00:00Z">
  <EPCISBody><EventList>{event}</EventList></EPCISBody>
</epcis:EPCISDocument>"""


@dataclass(frozen=True)
class Case:
    """One event in the XML binding and in JSON-LD (standard labels, no ``@context``)."""

    xml: str
    json: dict[str, Any]
    #: EPCIS XML schema version of ``xml`` (1 for EPCIS 1.2 with its extension wrappers).
    version: int = 2


COMMON_XML = "<eventTime>2024-05-01T10:00:00.000+02:00</eventTime><eventTimeZoneOffset>+02:00</eventTimeZoneOffset>"
COMMON_JSON: dict[str, Any] = {
    "eventTime": "2024-05-01T10:00:00.000+02:00",
    "eventTimeZoneOffset": "+02:00",
}

CASES: dict[str, Case] = {
    "epc-lists": Case(
        f"""<AggregationEvent>{COMMON_XML}
            <parentID>urn:epc:id:sscc:4012345.0000000001</parentID>
            <childEPCs><epc>urn:epc:id:sgtin:4012345.011111.2</epc><epc>urn:epc:id:sgtin:4012345.011111.1</epc></childEPCs>
            <action>ADD</action><bizStep>urn:epcglobal:cbv:bizstep:packing</bizStep>
            <disposition>urn:epcglobal:cbv:disp:in_progress</disposition>
            <readPoint><id>urn:epc:id:sgln:4012345.00001.0</id></readPoint>
        </AggregationEvent>""",
        {
            "type": "AggregationEvent",
            **COMMON_JSON,
            "parentID": "https://id.gs1.org/00/040123450000000016",
            "childEPCs": [
                "urn:epc:id:sgtin:4012345.011111.1",
                "https://id.gs1.org/01/04012345111118/21/2",
            ],
            "action": "ADD",
            "bizStep": "packing",
            "disposition": "cbv:Disp-in_progress",
            "readPoint": {"id": "urn:epc:id:sgln:4012345.00001.0"},
        },
    ),
    "transformation-epcs-and-quantities": Case(
        f"""<TransformationEvent>{COMMON_XML}
            <inputEPCList><epc>urn:epc:id:sgtin:4012345.011111.1</epc></inputEPCList>
            <inputQuantityList>
              <quantityElement><epcClass>urn:epc:class:lgtin:4012345.012345.L1</epcClass><quantity>150.0</quantity><uom>KGM</uom></quantityElement>
              <quantityElement><epcClass>urn:epc:idpat:sgtin:4012345.012345.*</epcClass><quantity>2.50</quantity></quantityElement>
            </inputQuantityList>
            <outputEPCList><epc>urn:epc:id:sgtin:4012345.011111.9</epc></outputEPCList>
            <outputQuantityList>
              <quantityElement><epcClass>urn:epc:class:lgtin:4012345.012345.L2</epcClass><quantity>3</quantity></quantityElement>
            </outputQuantityList>
            <transformationID>urn:epc:id:gdti:4012345.00009.T1</transformationID>
            <bizStep>urn:epcglobal:cbv:bizstep:commissioning</bizStep>
        </TransformationEvent>""",
        {
            "type": "TransformationEvent",
            **COMMON_JSON,
            "inputEPCList": ["urn:epc:id:sgtin:4012345.011111.1"],
            "inputQuantityList": [
                {"epcClass": "urn:epc:idpat:sgtin:4012345.012345.*", "quantity": 2.5},
                {
                    "epcClass": "urn:epc:class:lgtin:4012345.012345.L1",
                    "quantity": 150,
                    "uom": "KGM",
                },
            ],
            "outputEPCList": ["urn:epc:id:sgtin:4012345.011111.9"],
            "outputQuantityList": [
                {"epcClass": "https://id.gs1.org/01/04012345123456/10/L2", "quantity": 3.0}
            ],
            "transformationID": "urn:epc:id:gdti:4012345.00009.T1",
            "bizStep": "cbv:BizStep-commissioning",
        },
    ),
    "epcis-1.2-extension-wrappers": Case(
        f"""<ObjectEvent>{COMMON_XML}
            <epcList/><action>ADD</action>
            <extension>
              <quantityList><quantityElement><epcClass>urn:epc:class:lgtin:4012345.012345.L1</epcClass><quantity>5</quantity><uom>KGM</uom></quantityElement></quantityList>
              <ilmd><cbvmda:lotNumber>L1</cbvmda:lotNumber><example:grade>example:A</example:grade></ilmd>
            </extension>
            <baseExtension><eventID>urn:uuid:0d8d5d1e-2b5c-4d0a-9d4e-000000000001</eventID></baseExtension>
        </ObjectEvent>""",
        {
            "type": "ObjectEvent",
            **COMMON_JSON,
            "eventID": "urn:uuid:0d8d5d1e-2b5c-4d0a-9d4e-000000000002",
            "epcList": [],
            "action": "ADD",
            "quantityList": [
                {"epcClass": "urn:epc:class:lgtin:4012345.012345.L1", "quantity": 5, "uom": "KGM"}
            ],
            "ilmd": {"cbvmda:lotNumber": "L1", "example:grade": "example:A"},
        },
        version=1,
    ),
    "biztransactions-sources-destinations": Case(
        f"""<TransactionEvent>{COMMON_XML}
            <bizTransactionList>
              <bizTransaction type="urn:epcglobal:cbv:btt:po">urn:epcglobal:cbv:bt:4012345000009:PO-7</bizTransaction>
              <bizTransaction type="https://ns.example.com/epcis/contract">https://ns.example.com/epcis/contracts/42</bizTransaction>
            </bizTransactionList>
            <epcList><epc>urn:epc:id:sgtin:4012345.011111.1</epc></epcList>
            <action>ADD</action><bizStep>urn:epcglobal:cbv:bizstep:shipping</bizStep>
            <sourceList>
              <source type="urn:epcglobal:cbv:sdt:owning_party">urn:epc:id:pgln:4012345.00000</source>
              <source type="https://ns.example.com/epcis/carrier">urn:epc:id:pgln:4012345.00001</source>
            </sourceList>
            <destinationList>
              <destination type="urn:epcglobal:cbv:sdt:location">urn:epc:id:sgln:4012345.00002.0</destination>
            </destinationList>
        </TransactionEvent>""",
        {
            "type": "TransactionEvent",
            **COMMON_JSON,
            "bizTransactionList": [
                {"type": "example:contract", "bizTransaction": "example:contracts/42"},
                {"type": "po", "bizTransaction": "urn:epcglobal:cbv:bt:4012345000009:PO-7"},
            ],
            "epcList": ["urn:epc:id:sgtin:4012345.011111.1"],
            "action": "ADD",
            "bizStep": "cbv:BizStep-shipping",
            "sourceList": [
                {"type": "example:carrier", "source": "urn:epc:id:pgln:4012345.00001"},
                {"type": "owning_party", "source": "urn:epc:id:pgln:4012345.00000"},
            ],
            "destinationList": [
                {"type": "cbv:SDT-location", "destination": "urn:epc:id:sgln:4012345.00002.0"}
            ],
        },
    ),
    "ilmd-with-cbvmda": Case(
        f"""<ObjectEvent>{COMMON_XML}
            <epcList><epc>urn:epc:id:sgtin:4012345.011111.1</epc></epcList>
            <action>ADD</action><bizStep>urn:epcglobal:cbv:bizstep:commissioning</bizStep>
            <ilmd>
              <cbvmda:lotNumber>LOT-1</cbvmda:lotNumber>
              <cbvmda:itemExpirationDate>2025-01-31</cbvmda:itemExpirationDate>
              <example:grade>example:gradeA</example:grade>
              <example:origin><example:country>DE</example:country><example:farm>F7</example:farm></example:origin>
            </ilmd>
        </ObjectEvent>""",
        {
            "type": "ObjectEvent",
            **COMMON_JSON,
            "epcList": ["urn:epc:id:sgtin:4012345.011111.1"],
            "action": "ADD",
            "bizStep": "commissioning",
            "ilmd": {
                "example:origin": {"example:farm": "F7", "example:country": "DE"},
                "cbvmda:itemExpirationDate": "2025-01-31",
                "example:grade": "example:gradeA",
                "cbvmda:lotNumber": "LOT-1",
            },
        },
    ),
    "sensor-elements": Case(
        f"""<ObjectEvent>{COMMON_XML}
            <epcList><epc>urn:epc:id:sgtin:4012345.011111.1</epc></epcList>
            <action>OBSERVE</action><bizStep>urn:epcglobal:cbv:bizstep:inspecting</bizStep>
            <readPoint><id>urn:epc:id:sgln:4012345.00001.0</id></readPoint>
            <sensorElementList>
              <sensorElement>
                <sensorMetadata time="2024-05-01T08:00:00Z" deviceID="urn:epc:id:giai:4000001.111" deviceMetadata="https://id.gs1.org/8004/4000001111" example:someFurtherMetadata="someText"/>
                <sensorReport type="gs1:Temperature" value="26.0" uom="CEL" sDev="0.1"/>
                <sensorReport type="example:someSensorProperty" stringValue="someSensorOutput"/>
                <sensorReport type="gs1:Angle" component="https://ref.gs1.org/cbv/Comp-latitude" value="52.5" uom="DD"/>
                <sensorReport type="example:doorOpen" booleanValue="true"/>
                <sensorReport type="gs1:Temperature" component="example:core" value="4" uom="CEL" example:probe="example:p2"/>
                <example:furtherSensorData><example:measure1>123.5</example:measure1></example:furtherSensorData>
              </sensorElement>
            </sensorElementList>
        </ObjectEvent>""",
        {
            "type": "ObjectEvent",
            **COMMON_JSON,
            "epcList": ["urn:epc:id:sgtin:4012345.011111.1"],
            "action": "OBSERVE",
            "bizStep": "inspecting",
            "readPoint": {"id": "urn:epc:id:sgln:4012345.00001.0"},
            "sensorElementList": [
                {
                    "example:furtherSensorData": {"example:measure1": 123.5},
                    "sensorReport": [
                        {"type": "example:doorOpen", "booleanValue": True},
                        {"type": "Temperature", "value": 26, "uom": "CEL", "sDev": 0.1},
                        {"type": "example:someSensorProperty", "stringValue": "someSensorOutput"},
                        {
                            "type": "Angle",
                            "component": "cbv:Comp-latitude",
                            "value": 52.5,
                            "uom": "DD",
                        },
                        {
                            "example:probe": "example:p2",
                            "type": "Temperature",
                            "component": "example:core",
                            "value": 4,
                            "uom": "CEL",
                        },
                    ],
                    "sensorMetadata": {
                        "example:someFurtherMetadata": "someText",
                        "time": "2024-05-01T10:00:00+02:00",
                        "deviceID": "urn:epc:id:giai:4000001.111",
                        "deviceMetadata": "https://id.gs1.org/8004/4000001111",
                    },
                }
            ],
        },
    ),
    "readpoint-bizlocation-extensions": Case(
        f"""<ObjectEvent>{COMMON_XML}
            <epcList><epc>urn:epc:id:sgtin:4012345.011111.1</epc></epcList>
            <action>OBSERVE</action>
            <readPoint><id>urn:epc:id:sgln:4012345.00001.0</id><example:dock>example:dock7</example:dock></readPoint>
            <bizLocation><id>urn:epc:id:sgln:4012345.00002.0</id><example:room><example:floor>2</example:floor></example:room></bizLocation>
        </ObjectEvent>""",
        {
            "type": "ObjectEvent",
            **COMMON_JSON,
            "epcList": ["urn:epc:id:sgtin:4012345.011111.1"],
            "action": "OBSERVE",
            "readPoint": {"example:dock": "example:dock7", "id": "urn:epc:id:sgln:4012345.00001.0"},
            "bizLocation": {
                "id": "https://id.gs1.org/414/4012345000023",
                "example:room": {"example:floor": 2},
            },
        },
    ),
    "top-level-extensions": Case(
        f"""<ObjectEvent>{COMMON_XML}
            <epcList><epc>urn:epc:id:sgtin:4012345.011111.1</epc></epcList>
            <action>OBSERVE</action>
            <example:myField1><example:mySubField1>2</example:mySubField1><example:mySubField2>example:five</example:mySubField2></example:myField1>
            <example:tag>b</example:tag><example:tag>a</example:tag>
            <example:measure xsi:type="xsd:decimal">12.50</example:measure>
            <example:weight example:unit="example:kg">12</example:weight>
            <example:ref>https://ns.example.com/epcis/things/1</example:ref>
        </ObjectEvent>""",
        {
            "type": "ObjectEvent",
            **COMMON_JSON,
            "epcList": ["urn:epc:id:sgtin:4012345.011111.1"],
            "action": "OBSERVE",
            "example:ref": "example:things/1",
            "example:tag": ["a", "b"],
            "example:measure": 12.5,
            "example:weight": {"#text": "12", "example:unit": "example:kg"},
            "example:myField1": {"example:mySubField2": "example:five", "example:mySubField1": 2},
        },
    ),
    "certification-info": Case(
        f"""<ObjectEvent>{COMMON_XML}
            <certificationInfo>https://ns.example.com/epcis/certificates/ABC-1</certificationInfo>
            <epcList><epc>urn:epc:id:sgtin:4012345.011111.1</epc></epcList>
            <action>OBSERVE</action>
            <example:auditor>QA</example:auditor>
        </ObjectEvent>""",
        {
            "type": "ObjectEvent",
            **COMMON_JSON,
            "epcList": ["urn:epc:id:sgtin:4012345.011111.1"],
            "action": "OBSERVE",
            "certificationInfo": "example:certificates/ABC-1",
            "example:auditor": "QA",
        },
    ),
    "error-declaration-and-persistent-disposition": Case(
        f"""<ObjectEvent>{COMMON_XML}
            <errorDeclaration>
              <declarationTime>2024-05-02T00:00:00Z</declarationTime>
              <reason>urn:epcglobal:cbv:er:incorrect_data</reason>
              <correctiveEventIDs><correctiveEventID>urn:uuid:0d8d5d1e-2b5c-4d0a-9d4e-000000000009</correctiveEventID></correctiveEventIDs>
              <example:vendorExtension>example:x</example:vendorExtension>
            </errorDeclaration>
            <epcList><epc>urn:epc:id:sgtin:4012345.011111.1</epc></epcList>
            <action>OBSERVE</action>
            <disposition>urn:epcglobal:cbv:disp:damaged</disposition>
            <persistentDisposition><unset>urn:epcglobal:cbv:disp:available</unset><set>urn:epcglobal:cbv:disp:damaged</set></persistentDisposition>
        </ObjectEvent>""",
        {
            "type": "ObjectEvent",
            **COMMON_JSON,
            "epcList": ["urn:epc:id:sgtin:4012345.011111.1"],
            "action": "OBSERVE",
            "disposition": "damaged",
            "persistentDisposition": {"unset": ["available"], "set": ["cbv:Disp-damaged"]},
        },
    ),
}


def _is_curie(text: str, prefixes: dict[str, str]) -> str | None:
    """The prefix of ``text`` if it is a compact IRI with one of ``prefixes``."""
    prefix, colon, rest = text.partition(":")
    return prefix if colon and prefix in prefixes and not rest.startswith("//") else None


def _rewrite(value: Any, *, keys: bool, values: Any) -> Any:
    """``value`` with compact IRIs rewritten by ``values(prefix, rest)`` (keys too if asked)."""
    if isinstance(value, dict):
        return {
            (_rename(key, values) if keys else key): _rewrite(child, keys=keys, values=values)
            for key, child in value.items()
        }
    if isinstance(value, list):
        return [_rewrite(child, keys=keys, values=values) for child in value]
    if isinstance(value, str):
        return _rename(value, values)
    return value


def _rename(text: str, values: Any) -> str:
    prefix = _is_curie(text, NAMESPACES)
    return text if prefix is None else str(values(prefix, text.partition(":")[2]))


def _json_document(event: dict[str, Any], context: list[Any]) -> bytes:
    return document_bytes(event, context=context, creation_date="2024-05-01T10:00:00Z")


def variants(case: Case) -> dict[str, tuple[bytes, str]]:
    """The case's four documents, each with its content type."""
    standard = copy.deepcopy(case.json)
    relabelled = _rewrite(standard, keys=True, values=lambda p, rest: f"{RELABEL[p]}:{rest}")
    full = _rewrite(standard, keys=False, values=lambda p, rest: NAMESPACES[p] + rest)
    other_context = {RELABEL[p]: namespace for p, namespace in NAMESPACES.items()}
    xml = XML_DOCUMENT.format(
        version=case.version, minor=2 if case.version == 1 else 0, event=case.xml
    )
    json_type = "application/ld+json"
    return {
        "xml": (xml.encode(), "application/xml"),
        "standard": (
            _json_document(standard, [EPCIS_CONTEXT_URL, {"example": EXAMPLE}]),
            json_type,
        ),
        "relabelled": (_json_document(relabelled, [EPCIS_CONTEXT_URL, other_context]), json_type),
        "full-iris": (_json_document(full, [EPCIS_CONTEXT_URL, {"example": EXAMPLE}]), json_type),
    }


def prehashes(case: Case) -> dict[str, str]:
    """Each variant's pre-hash string (one event per document)."""
    result = {}
    for name, (body, content_type) in variants(case).items():
        (event,) = parse_document(body, content_type)
        result[name] = event.prehash
    return result


def hash_ids(case: Case) -> dict[str, str]:
    """Each variant's hash ID."""
    result = {}
    for name, (body, content_type) in variants(case).items():
        (event,) = parse_document(body, content_type)
        result[name] = event.hash_id
    return result


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_one_event_one_hash_in_every_binding_and_spelling(case: Case) -> None:
    texts = prehashes(case)
    assert texts["standard"] == texts["xml"]
    assert texts["relabelled"] == texts["standard"]
    assert texts["full-iris"] == texts["standard"]
    assert len(set(hash_ids(case).values())) == 1


def test_the_table_really_varies_the_spelling() -> None:
    """The variants differ as text, so the table is not comparing a document with itself."""
    for name, case in CASES.items():
        bodies = {body for body, _ in variants(case).values()}
        assert len(bodies) == 4, name


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("ilmd-with-cbvmda", "{urn:epcglobal:cbv:mda}lotNumber=LOT-1"),
        (
            "ilmd-with-cbvmda",
            "{https://ns.example.com/epcis/}grade=https://ns.example.com/epcis/gradeA",
        ),
        ("sensor-elements", "type=https://ns.example.com/epcis/someSensorProperty"),
        ("sensor-elements", "component=https://ns.example.com/epcis/core"),
        ("sensor-elements", "{https://ns.example.com/epcis/}probe=https://ns.example.com/epcis/p2"),
        ("biztransactions-sources-destinations", "type=https://ns.example.com/epcis/contract"),
        ("certification-info", "certificationInfo=https://ns.example.com/epcis/certificates/ABC-1"),
        (
            "top-level-extensions",
            "{https://ns.example.com/epcis/}unit=https://ns.example.com/epcis/kg",
        ),
    ],
)
def test_compact_iris_are_expanded(case: str, expected: str) -> None:
    """CBV 2.0 §8.9.2 hashes IRIs: ``example:x`` stands for the full IRI, keys as {namespace}local."""
    assert expected in prehashes(CASES[case])["standard"]


# -- rules that hold today, pinned ------------------------------------------------------------

MINIMAL_XML = f"""<ObjectEvent>{COMMON_XML}
    <epcList><epc>urn:epc:id:sgtin:4012345.011111.1</epc></epcList><action>OBSERVE</action>{{rest}}
</ObjectEvent>"""
MINIMAL_JSON: dict[str, Any] = {
    "type": "ObjectEvent",
    **COMMON_JSON,
    "epcList": ["urn:epc:id:sgtin:4012345.011111.1"],
    "action": "OBSERVE",
}


def _xml_event(rest: str, *, namespaces: str = "") -> Any:
    document = XML_DOCUMENT.format(version=2, minor=0, event=MINIMAL_XML.format(rest=rest))
    if namespaces:
        document = document.replace("<epcis:EPCISDocument ", f"<epcis:EPCISDocument {namespaces} ")
    (event,) = parse_document(document.encode(), "application/xml")
    return event


def _json_event(fields: dict[str, Any], context: list[Any] | None = None) -> Any:
    event = {**MINIMAL_JSON, **fields}
    body = _json_document(event, context or [EPCIS_CONTEXT_URL, {"example": EXAMPLE}])
    (captured,) = parse_document(body, "application/ld+json")
    return captured


@pytest.mark.parametrize(
    ("xml", "json_value"), [("true", True), ("1", True), ("false", False), ("0", False)]
)
def test_booleans_hash_as_xml_writes_them(xml: str, json_value: bool) -> None:
    """CBV 2.0 §8.9.2 takes the XML lexical form: a JSON boolean is ``true``/``false``, never
    Python's ``True`` (the reference's JSON reader writes ``True``, its XML reader ``true``)."""
    report = f'<sensorElementList><sensorElement><sensorReport type="example:open" booleanValue="{xml}"/></sensorElement></sensorElementList><example:x>1</example:x>'
    ours_xml = _xml_event(report)
    ours_json = _json_event(
        {
            "sensorElementList": [
                {"sensorReport": [{"type": "example:open", "booleanValue": json_value}]}
            ],
            "example:x": "1",
        }
    )
    assert f"booleanValue={str(json_value).lower()}" in ours_json.prehash
    assert ours_json.hash_id == ours_xml.hash_id


def test_an_events_own_context_is_not_data() -> None:
    """JSON-LD: an event's own ``@context`` (inside the eventList) declares prefixes for it; it is
    not part of the event's content, so CBV 2.0 §8.9.2 leaves it out of the pre-hash string."""
    event = {**MINIMAL_JSON, "@context": {"ev": EXAMPLE}, "ev:note": "ev:n1"}
    body = _json_document(event, [EPCIS_CONTEXT_URL])
    (captured,) = parse_document(body, "application/ld+json")
    assert "@context" not in captured.prehash
    assert captured.hash_id == _json_event({"example:note": "example:n1"}).hash_id
    assert captured.hash_id == _xml_event("<example:note>example:n1</example:note>").hash_id


def test_a_nested_context_inside_an_extension_is_not_data_and_applies_to_it() -> None:
    """JSON-LD 1.1 §4.1 (embedded contexts): ``@context`` in a node object scopes prefixes to that
    node; it is no field, so it is not hashed (CBV 2.0 §8.9.2 hashes the event's content)."""
    scoped = _json_event({"example:a": {"@context": {"zz": "https://zz.example/"}, "zz:b": "zz:c"}})
    assert "@context" not in scoped.prehash
    assert (
        "{https://ns.example.com/epcis/}a{https://zz.example/}b=https://zz.example/c"
        in scoped.prehash
    )
    xml = _xml_event(
        "<example:a><zz:b>zz:c</zz:b></example:a>", namespaces='xmlns:zz="https://zz.example/"'
    )
    assert scoped.hash_id == xml.hash_id


def test_extensions_follow_their_parents_regular_fields() -> None:
    """CBV 2.0 §8.9.2: inside readPoint, bizLocation and sensor elements, user extensions come
    after the element's standard fields (in canonical order), not sorted among them."""
    text = _json_event(
        {
            "readPoint": {"example:a": "1", "id": "urn:epc:id:sgln:4012345.00001.0"},
            "bizLocation": {"example:a": "2", "id": "urn:epc:id:sgln:4012345.00002.0"},
            "sensorElementList": [
                {
                    "example:a": "3",
                    "sensorReport": [{"example:a": "4", "value": 1, "type": "Mass", "uom": "KGM"}],
                    "sensorMetadata": {"example:a": "5", "time": "2024-05-01T08:00:00Z"},
                }
            ],
        }
    ).prehash
    a = "{https://ns.example.com/epcis/}a="
    assert f"readPointid=https://id.gs1.org/414/4012345000016{a}1bizLocation" in text
    assert f"bizLocationid=https://id.gs1.org/414/4012345000023{a}2sensorElementList" in text
    assert (
        f"sensorElementsensorMetadatatime=2024-05-01T08:00:00.000Z{a}5"
        f"sensorReporttype=https://gs1.org/voc/Massvalue=1uom=KGM{a}4{a}3"
    ) in text


def test_xsi_type_on_extension_elements_is_ignored() -> None:
    """EPCIS 2.0 XML binding: ``xsi:type`` says how to validate an element, not what it holds,
    and JSON has no counterpart, so CBV 2.0 §8.9 (one event, one hash) leaves it out."""
    typed = _xml_event(
        '<example:m xsi:type="xsd:decimal">2.50</example:m><example:o xsi:type="xsd:anyType"><example:p>x</example:p></example:o>'
    )
    plain = _xml_event("<example:m>2.50</example:m><example:o><example:p>x</example:p></example:o>")
    assert "XMLSchema-instance" not in typed.prehash
    assert typed.hash_id == plain.hash_id
    assert typed.hash_id == _json_event({"example:m": 2.5, "example:o": {"example:p": "x"}}).hash_id


# -- ILMD in the CBV master-data namespace -----------------------------------------------------


@pytest.mark.parametrize(
    "namespaces",
    ['xmlns:cbvmda="urn:epcglobal:cbv:mda"', 'xmlns:mda="urn:epcglobal:cbv:mda:"'],
    ids=["xml-namespace", "json-ld-prefix-as-namespace"],
)
def test_cbvmda_keys_hash_in_the_xml_namespace(namespaces: str) -> None:
    """ILMD ``cbvmda:lotNumber`` (JSON-LD, standard context: ``urn:epcglobal:cbv:mda:``) is the
    XML binding's ``{urn:epcglobal:cbv:mda}lotNumber``: CBV 2.0 §8.9.2 writes it that way in both
    bindings (GS1's SensorDataExamples vector does; epcisDocWithVariousEventTypes does not)."""
    prefix = namespaces.split("=")[0].split(":")[1]
    ilmd = f"<ilmd><{prefix}:lotNumber>LOT-1</{prefix}:lotNumber></ilmd>"
    document = XML_DOCUMENT.format(
        version=2,
        minor=0,
        event=MINIMAL_XML.replace("OBSERVE", "ADD").format(rest=ilmd),
    ).replace('xmlns:cbvmda="urn:epcglobal:cbv:mda"', namespaces)
    (xml,) = parse_document(document.encode(), "application/xml")
    json_event = _json_event({"action": "ADD", "ilmd": {"cbvmda:lotNumber": "LOT-1"}})
    assert "ilmd{urn:epcglobal:cbv:mda}lotNumber=LOT-1" in json_event.prehash
    assert json_event.hash_id == xml.hash_id


def test_a_prefix_used_only_in_xml_values_is_expanded() -> None:
    """An XML document's namespace declarations are its prefixes for values too: the converted
    @context carries every declared prefix, so the value expands as in JSON-LD (CBV 2.0 §8.9)."""
    report = '<sensorReport type="example:someSensorProperty" stringValue="s"/>'
    xml = _xml_event(
        f"<sensorElementList><sensorElement>{report}</sensorElement></sensorElementList>"
    )
    json_event = _json_event(
        {
            "sensorElementList": [
                {"sensorReport": [{"type": "example:someSensorProperty", "stringValue": "s"}]}
            ]
        }
    )
    assert xml.hash_id == json_event.hash_id
