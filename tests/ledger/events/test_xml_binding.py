"""The XML binding: EPCIS 1.2 and 2.0 documents read into the JSON-LD shape, safely."""

# ruff: noqa: E501  (vocabulary and XML literals read best on one line)

from __future__ import annotations

import json

import pytest

from ledger.events import DocumentValidationError, document_from_xml, parse_document
from ledger.events.xml_binding import EPCIS_CONTEXT_URL

EPCIS_12 = b"""<?xml version="1.0" encoding="UTF-8"?>
<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:1" xmlns:acme="https://ns.acme.example/epcis/"
    xmlns:cbvmda="urn:epcglobal:cbv:mda" schemaVersion="1.2" creationDate="2024-05-01T10:00:00Z">
  <EPCISBody><EventList>
    <ObjectEvent>
      <eventTime>2024-05-01T12:00:00.000+02:00</eventTime>
      <eventTimeZoneOffset>+02:00</eventTimeZoneOffset>
      <epcList/>
      <action>ADD</action>
      <bizStep>urn:epcglobal:cbv:bizstep:commissioning</bizStep>
      <disposition>urn:epcglobal:cbv:disp:active</disposition>
      <readPoint><id>urn:epc:id:sgln:4012345.00001.0</id></readPoint>
      <bizTransactionList>
        <bizTransaction type="urn:epcglobal:cbv:btt:po">urn:epcglobal:cbv:bt:4012345000009:7</bizTransaction>
      </bizTransactionList>
      <extension>
        <quantityList><quantityElement>
          <epcClass>urn:epc:class:lgtin:4012345.012345.L1</epcClass>
          <quantity>150.0</quantity><uom>KGM</uom>
        </quantityElement></quantityList>
        <sourceList><source type="urn:epcglobal:cbv:sdt:owning_party">urn:epc:id:sgln:4012345.00001.0</source></sourceList>
        <ilmd><cbvmda:lotNumber>L1</cbvmda:lotNumber></ilmd>
      </extension>
      <baseExtension><eventID>urn:uuid:0d8d5d1e-2b5c-4d0a-9d4e-000000000001</eventID></baseExtension>
      <acme:shift>2</acme:shift>
    </ObjectEvent>
    <extension><TransformationEvent>
      <eventTime>2024-05-01T13:00:00Z</eventTime>
      <eventTimeZoneOffset>+00:00</eventTimeZoneOffset>
      <inputEPCList><epc>urn:epc:id:sgtin:4012345.011111.1</epc></inputEPCList>
      <outputEPCList><epc>urn:epc:id:sgtin:4012345.011111.2</epc></outputEPCList>
    </TransformationEvent></extension>
  </EventList></EPCISBody>
</epcis:EPCISDocument>"""


def test_epcis_12_extension_wrappers_are_dissolved() -> None:
    document = document_from_xml(EPCIS_12)
    assert document["@context"] == [
        EPCIS_CONTEXT_URL,
        {"cbvmda1": "urn:epcglobal:cbv:mda", "acme": "https://ns.acme.example/epcis/"},
    ]
    object_event, transformation = document["epcisBody"]["eventList"]
    assert object_event == {
        "type": "ObjectEvent",
        "eventTime": "2024-05-01T12:00:00.000+02:00",
        "eventTimeZoneOffset": "+02:00",
        "epcList": [],
        "action": "ADD",
        "bizStep": "commissioning",
        "disposition": "active",
        "readPoint": {"id": "urn:epc:id:sgln:4012345.00001.0"},
        "bizTransactionList": [
            {"type": "po", "bizTransaction": "urn:epcglobal:cbv:bt:4012345000009:7"}
        ],
        "quantityList": [
            {"epcClass": "urn:epc:class:lgtin:4012345.012345.L1", "quantity": 150.0, "uom": "KGM"}
        ],
        "sourceList": [{"type": "owning_party", "source": "urn:epc:id:sgln:4012345.00001.0"}],
        "ilmd": {"cbvmda1:lotNumber": "L1"},
        "eventID": "urn:uuid:0d8d5d1e-2b5c-4d0a-9d4e-000000000001",
        "acme:shift": "2",
    }
    assert transformation["type"] == "TransformationEvent"
    assert transformation["inputEPCList"] == ["urn:epc:id:sgtin:4012345.011111.1"]


def test_xml_and_json_forms_of_an_event_hash_alike() -> None:
    from_xml = parse_document(EPCIS_12, "application/xml")
    document = document_from_xml(EPCIS_12)
    from_json = parse_document(json.dumps(document).encode(), "application/ld+json")
    assert [e.hash_id for e in from_xml] == [e.hash_id for e in from_json]
    assert "{urn:epcglobal:cbv:mda}lotNumber=L1" in from_xml[0].prehash
    assert "bizStep=https://ref.gs1.org/cbv/BizStep-commissioning" in from_xml[0].prehash


def test_sensor_attributes_are_typed() -> None:
    xml = b"""<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2" xmlns:gs1="https://gs1.org/voc/"
        schemaVersion="2.0" creationDate="2024-05-01T10:00:00Z"><EPCISBody><EventList><ObjectEvent>
      <eventTime>2024-05-01T12:00:00Z</eventTime><eventTimeZoneOffset>+00:00</eventTimeZoneOffset>
      <action>OBSERVE</action><readPoint><id>urn:epc:id:sgln:4012345.00001.0</id></readPoint>
      <sensorElementList><sensorElement>
        <sensorMetadata time="2024-05-01T11:59:00Z"/>
        <sensorReport type="gs1:Temperature" value="4.50" uom="CEL" booleanValue="true" component="cbv:Comp-x"/>
      </sensorElement></sensorElementList>
    </ObjectEvent></EventList></EPCISBody></epcis:EPCISDocument>"""
    event = document_from_xml(xml)["epcisBody"]["eventList"][0]
    assert event["sensorElementList"] == [
        {
            "sensorMetadata": {"time": "2024-05-01T11:59:00Z"},
            "sensorReport": [
                {
                    "type": "Temperature",
                    "value": 4.5,
                    "uom": "CEL",
                    "booleanValue": True,
                    "component": "x",
                }
            ],
        }
    ]
    [captured] = parse_document(xml, "text/xml")
    assert "booleanValue=true" in captured.prehash


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"<a>", "not well-formed XML"),
        (
            b'<?xml version="1.0"?><!DOCTYPE lol [<!ENTITY lol "lol">]>'
            b'<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2">&lol;</epcis:EPCISDocument>',
            "DTD",
        ),
        (
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
            b'<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2">&e;</epcis:EPCISDocument>',
            "DTD",
        ),
        (b'<EPCISDocument xmlns="urn:other"/>', "expected an EPCIS 1.2/2.0 EPCISDocument"),
        (b'<e:EPCISDocument xmlns:e="urn:epcglobal:epcis:xsd:2"/>', "has no EPCISBody"),
    ],
)
def test_unsafe_or_foreign_xml_is_rejected(body: bytes, reason: str) -> None:
    with pytest.raises(DocumentValidationError) as caught:
        parse_document(body, "application/xml")
    assert reason in caught.value.errors[0].reason
    assert caught.value.errors[0].field == "$"


def test_invalid_xml_events_report_json_paths() -> None:
    xml = EPCIS_12.replace(b"<action>ADD</action>", b"<action>MOVE</action>")
    with pytest.raises(DocumentValidationError) as caught:
        parse_document(xml, "application/xml")
    fields = [e.field for e in caught.value.errors]
    assert "epcisBody.eventList[0].action" in fields
