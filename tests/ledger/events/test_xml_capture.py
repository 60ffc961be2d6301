"""XML capture: DOCTYPEs, nillable fields, single events and GS1's EPCIS 2.0 XSD."""

# ruff: noqa: E501  (XML literals read best on one line)

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ledger.events import DocumentValidationError, parse_document
from ledger.events.xml_binding import document_from_xml, parse_xml
from ledger.events.xml_schema import SCHEMA_FILE, load_schema, schema_problems

NS = 'xmlns:epcis="urn:epcglobal:epcis:xsd:2" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:gs1="https://gs1.org/voc/"'
OBJECT_EVENT = """<ObjectEvent>
  <eventTime>2024-05-01T12:00:00.000+02:00</eventTime><eventTimeZoneOffset>+02:00</eventTimeZoneOffset>
  <epcList><epc>urn:epc:id:sgtin:4012345.011111.1001</epc></epcList>
  <action>OBSERVE</action>
  <bizStep>urn:epcglobal:cbv:bizstep:shipping</bizStep>
  <readPoint><id>urn:epc:id:sgln:4012345.00001.0</id></readPoint>
</ObjectEvent>"""
#: OBJECT_EVENT with bizStep before action: the JSON is the same, the XSD's order is not.
SWAPPED = OBJECT_EVENT.replace(
    "<action>OBSERVE</action>\n  <bizStep>urn:epcglobal:cbv:bizstep:shipping</bizStep>",
    "<bizStep>urn:epcglobal:cbv:bizstep:shipping</bizStep><action>OBSERVE</action>",
)
QUANTITY_EVENT = """<ObjectEvent>
  <eventTime>2024-05-01T13:00:00Z</eventTime><eventTimeZoneOffset>+00:00</eventTimeZoneOffset>
  <epcList/><action>OBSERVE</action>
  <quantityList>
    <quantityElement><epcClass>urn:epc:class:lgtin:4012345.011111.L1</epcClass><quantity>5</quantity><uom>KGM</uom></quantityElement>
    <quantityElement><epcClass>urn:epc:class:lgtin:4012345.011111.L2</epcClass>{second}</quantityElement>
  </quantityList>
</ObjectEvent>"""
SENSOR_EVENT = """<ObjectEvent>
  <eventTime>2024-05-01T14:00:00Z</eventTime><eventTimeZoneOffset>+00:00</eventTimeZoneOffset>
  <epcList/><action>OBSERVE</action>
  <readPoint><id>urn:epc:id:sgln:4012345.00001.0</id></readPoint>
  <sensorElementList><sensorElement>{sensor}</sensorElement></sensorElementList>
</ObjectEvent>"""


def xml_document(
    *events: str, prolog: str = "", namespace: str = "urn:epcglobal:epcis:xsd:2"
) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>{prolog}\n'
        f'<epcis:EPCISDocument {NS.replace("urn:epcglobal:epcis:xsd:2", namespace)} schemaVersion="2.0" creationDate="2024-05-01T10:00:00Z">'
        f"<EPCISBody><EventList>{''.join(events)}</EventList></EPCISBody></epcis:EPCISDocument>"
    ).encode()


def refusal(body: bytes, **kwargs: object) -> DocumentValidationError:
    with pytest.raises(DocumentValidationError) as caught:
        parse_document(body, "application/xml", **kwargs)  # type: ignore[arg-type]
    return caught.value


def fields(error: DocumentValidationError) -> dict[str, str]:
    return {e.field or "": e.reason for e in error.errors}


@pytest.fixture(scope="module")
def xsd_dir(conformance_dir: Path) -> Path:
    folder = conformance_dir / "epcis-2.0" / "XSD"
    assert (folder / SCHEMA_FILE).is_file()
    return folder


# -- DOCTYPE ------------------------------------------------------------------------------------

BILLION_LAUGHS = (
    '<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
        for i in range(1, 10)
    )
    + "]>"
)


def test_a_bare_doctype_is_accepted() -> None:
    """GS1's own examples carry ``<!DOCTYPE project>``: a name, nothing else."""
    for prolog in ("<!DOCTYPE project>", "<!-- GS1 -->\n<!DOCTYPE  project >"):
        [event] = parse_document(xml_document(OBJECT_EVENT, prolog=prolog), "application/xml")
        assert event.raw["bizStep"] == "shipping"
    utf16 = (
        '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE project>'
        + xml_document(OBJECT_EVENT).decode().split("?>", 1)[1]
    ).encode("utf-16")
    assert len(parse_document(utf16, "text/xml")) == 1


@pytest.mark.parametrize(
    ("prolog", "reason"),
    [
        ("<!DOCTYPE project []>", "the <!DOCTYPE project> has an internal DTD subset"),
        ('<!DOCTYPE project [<!ATTLIST ObjectEvent x CDATA "y">]>', "has an internal DTD subset"),
        (
            '<!DOCTYPE project [<!ENTITY e "shipping">]>',
            "the <!DOCTYPE project> declares entities (<!ENTITY",
        ),
        ('<!DOCTYPE project [<!ENTITY % p "x">]>', "declares entities"),
        (
            '<!DOCTYPE project SYSTEM "http://example.com/epcis.dtd">',
            "names an external DTD (SYSTEM",
        ),
        (
            '<!DOCTYPE project PUBLIC "-//GS1//EPCIS//EN" "epcis.dtd">',
            "names an external DTD (PUBLIC",
        ),
        ("<!-- " + "x" * 5000 + ' -->\n<!DOCTYPE project [<!ENTITY e "x">]>', "declares entities"),
        (BILLION_LAUGHS, "the <!DOCTYPE lolz> declares entities"),
    ],
)
def test_any_other_dtd_is_refused_with_its_reason(prolog: str, reason: str) -> None:
    refused = refusal(xml_document(OBJECT_EVENT, prolog=prolog))
    [error] = refused.errors
    assert error.field == "$"
    assert reason in error.reason
    assert "XML documents with a DTD are not accepted" in error.reason


def test_a_utf16_entity_declaration_is_refused() -> None:
    body = (
        '<?xml version="1.0" encoding="UTF-16"?>' + BILLION_LAUGHS + "<lolz>&lol9;</lolz>"
    ).encode("utf-16")
    assert "declares entities" in refusal(body).errors[0].reason


# -- nillable fields ----------------------------------------------------------------------------


def test_nil_quantity_means_no_quantity() -> None:
    """``quantity`` is the XSD's one nillable element; ``xsi:nil="true"`` leaves it out."""
    nil = QUANTITY_EVENT.format(second='<quantity xsi:nil="true"/>')
    [event] = parse_document(xml_document(nil), "application/xml")
    assert event.raw["quantityList"][1] == {"epcClass": "urn:epc:class:lgtin:4012345.011111.L2"}
    [absent] = parse_document(xml_document(QUANTITY_EVENT.format(second="")), "application/xml")
    assert event.hash_id == absent.hash_id
    as_json = json.dumps(
        {"@context": [document_from_xml(xml_document(nil))["@context"][0]], **event.raw}
    )
    [from_json] = parse_document(as_json.encode(), "application/ld+json")
    assert from_json.hash_id == event.hash_id


def test_nil_quantity_in_epcis_12_too() -> None:
    body = xml_document(
        QUANTITY_EVENT.format(second='<quantity xsi:nil="1"/>'),
        namespace="urn:epcglobal:epcis:xsd:1",
    )
    [event] = parse_document(body, "application/xml")
    assert "quantity" not in event.raw["quantityList"][1]


def test_a_nil_quantity_with_a_value_is_refused(xsd_dir: Path) -> None:
    body = xml_document(QUANTITY_EVENT.format(second='<quantity xsi:nil="true">3</quantity>'))
    refused = fields(refusal(body, xsd_dir=xsd_dir))
    assert "EPCIS 2.0 XSD" in refused["epcisBody.eventList[0].quantityList[1].quantity"]


# -- GS1's XSD ----------------------------------------------------------------------------------


def test_element_order_is_checked_against_the_xsd(xsd_dir: Path) -> None:
    refused = refusal(xml_document(OBJECT_EVENT, SWAPPED), xsd_dir=xsd_dir)
    reason = fields(refused)["epcisBody.eventList[1].bizStep"]
    assert reason.startswith("EPCIS 2.0 XSD: Element 'bizStep': This element is not expected")
    assert "action" in reason


def test_xsd_problems_name_nested_json_paths(xsd_dir: Path) -> None:
    quantity = QUANTITY_EVENT.format(second="<uom>KGM</uom><quantity>2</quantity>")
    sensor = SENSOR_EVENT.format(
        sensor='<sensorReport type="gs1:Temperature" value="4"/><sensorReport type="gs1:Temperature" booleanValue="yes"/><sensorMetadata time="2024-05-01T13:59:00Z"/>'
    )
    refused = fields(refusal(xml_document(quantity, sensor), xsd_dir=xsd_dir))
    assert "epcisBody.eventList[0].quantityList[1].uom" in refused
    assert "epcisBody.eventList[1].sensorElementList[0].sensorMetadata" in refused
    # our own rule names booleanValue first; the XSD names the attribute the same way
    assert "epcisBody.eventList[1].sensorElementList[0].sensorReport[1].booleanValue" in refused
    tree = parse_xml(xml_document(quantity, sensor))
    by_xsd = {e.field for e in schema_problems(tree, xsd_dir)}
    assert "epcisBody.eventList[1].sensorElementList[0].sensorReport[1].booleanValue" in by_xsd


def test_cardinality_is_checked_against_the_xsd(xsd_dir: Path) -> None:
    twice = OBJECT_EVENT.replace(
        "<readPoint>",
        "<disposition>urn:epcglobal:cbv:disp:in_transit</disposition><disposition>urn:epcglobal:cbv:disp:in_transit</disposition><readPoint>",
    )
    refused = fields(refusal(xml_document(twice), xsd_dir=xsd_dir))
    assert any(field.startswith("epcisBody.eventList[0].disposition") for field in refused)


def test_epcis_12_is_not_checked_against_the_20_xsd(xsd_dir: Path) -> None:
    body = xml_document(SWAPPED, namespace="urn:epcglobal:epcis:xsd:1")
    assert len(parse_document(body, "application/xml", xsd_dir=xsd_dir)) == 1


def test_without_the_xsd_our_rules_still_apply(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("WARNING"):
        assert len(parse_document(xml_document(SWAPPED), "application/xml", xsd_dir=tmp_path)) == 1
    assert "XSD not found" in caplog.text
    bad = OBJECT_EVENT.replace("OBSERVE", "MOVE")
    assert "epcisBody.eventList[0].action" in fields(refusal(xml_document(bad), xsd_dir=tmp_path))


def test_the_xsd_is_loaded_once(xsd_dir: Path) -> None:
    assert load_schema(xsd_dir) is load_schema(xsd_dir)
    assert load_schema(xsd_dir) is not None


def test_our_reason_wins_where_both_name_a_field(xsd_dir: Path) -> None:
    bad = OBJECT_EVENT.replace("OBSERVE", "MOVE")
    refused = refusal(xml_document(bad), xsd_dir=xsd_dir)
    at_action = [e.reason for e in refused.errors if e.field == "epcisBody.eventList[0].action"]
    assert at_action == ["'MOVE' is not an action; expected OBSERVE, ADD or DELETE"]


def test_the_default_xsd_folder_is_used(xsd_dir: Path) -> None:
    """``parse_document`` finds the XSD beside the checkout without being told."""
    assert "epcisBody.eventList[0].bizStep" in fields(refusal(xml_document(SWAPPED)))


def test_sensor_report_without_type_follows_each_bindings_schema(xsd_dir: Path) -> None:
    """The XSD makes ``type`` optional (an alert-only report); GS1's JSON Schema requires it."""
    sensor = SENSOR_EVENT.format(
        sensor='<sensorReport exception="gs1:SensorAlertType-ALARM_CONDITION" time="2024-05-01T13:59:00Z"/>'
    )
    [event] = parse_document(xml_document(sensor), "application/xml", xsd_dir=xsd_dir)
    [report] = event.raw["sensorElementList"][0]["sensorReport"]
    assert "type" not in report
    as_json = {**document_from_xml(xml_document(sensor)), "epcisBody": {"eventList": [event.raw]}}
    with pytest.raises(DocumentValidationError) as caught:
        parse_document(json.dumps(as_json).encode(), "application/ld+json")
    assert fields(caught.value)[
        "epcisBody.eventList[0].sensorElementList[0].sensorReport[0].type"
    ].startswith("this required field")


def test_query_document_events_are_checked_against_the_xsd(xsd_dir: Path) -> None:
    query = (
        '<epcisq:EPCISQueryDocument xmlns:epcisq="urn:epcglobal:epcis-query:xsd:2" schemaVersion="2.0" creationDate="2024-05-01T10:00:00Z">'
        f"<EPCISBody><QueryResults><queryName>SimpleEventQuery</queryName><resultsBody><EventList>{OBJECT_EVENT}{{}}</EventList></resultsBody></QueryResults></EPCISBody></epcisq:EPCISQueryDocument>"
    )
    assert len(parse_document(query.format("").encode(), "application/xml", xsd_dir=xsd_dir)) == 1
    refused = fields(refusal(query.format(SWAPPED).encode(), xsd_dir=xsd_dir))
    assert "epcisBody.queryResults.resultsBody.eventList[1].bizStep" in refused


def test_gs1_examples_against_gs1_xsd(conformance_dir: Path, xsd_dir: Path) -> None:
    """GS1's hash-vector XML documents pass the XSD, except two that GS1's XSD itself refuses
    (so capture refuses them; the hash-vector tests hash them without the XSD)."""
    refused: dict[str, list[str]] = {}
    for path in sorted((conformance_dir / "epcis-event-hash").glob("*.xml")):
        problems = schema_problems(parse_xml(path.read_bytes()), xsd_dir)
        if problems:
            refused[path.name] = sorted({p.field or "" for p in problems})
    assert refused == {
        "SensorDataExamples.xml": ["epcisBody.eventList[11].sensorElementList"],
        "epcisXmlDocHavingEventWithIgnoreFields.xml": ["repository-x:ignoreFields"],
    }


# -- single events ------------------------------------------------------------------------------


def test_a_single_xml_event_is_captured_like_a_single_json_event(xsd_dir: Path) -> None:
    bare = f'<ObjectEvent xmlns:acme="https://ns.acme.example/">{OBJECT_EVENT.removeprefix("<ObjectEvent>")}'.encode()
    [single] = parse_document(bare, "application/xml", xsd_dir=xsd_dir)
    [inside] = parse_document(xml_document(OBJECT_EVENT), "application/xml", xsd_dir=xsd_dir)
    assert single.hash_id == inside.hash_id
    as_json = json.dumps(document_from_xml(bare)).encode()
    [from_json] = parse_document(as_json, "application/ld+json")
    assert from_json.hash_id == single.hash_id


def test_a_single_xml_event_is_checked_against_the_xsd(xsd_dir: Path) -> None:
    refused = fields(refusal(SWAPPED.encode(), xsd_dir=xsd_dir))
    assert refused["bizStep"].startswith("EPCIS 2.0 XSD: Element 'bizStep'")
    bad = OBJECT_EVENT.replace("OBSERVE", "MOVE")
    assert "action" in fields(refusal(bad.encode(), xsd_dir=xsd_dir))


def test_a_namespaced_event_root_is_refused() -> None:
    body = OBJECT_EVENT.replace(
        "<ObjectEvent>", '<e:ObjectEvent xmlns:e="urn:epcglobal:epcis:xsd:2">'
    ).replace("</ObjectEvent>", "</e:ObjectEvent>")
    reason = refusal(body.encode()).errors[0].reason
    assert "or a single event" in reason
