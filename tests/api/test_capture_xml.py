"""POST /capture with XML through the real app: single events like JSON ones, DOCTYPEs, nil
quantities and GS1's EPCIS 2.0 XSD, answered 202 or with a problem naming the field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from tests.api.conftest import Api, Member, capture
from tests.api.test_auth import problem
from tests.helpers import gtin, moment, object_event, single


def xml_event(member: Member, *, action: str = "OBSERVE", swapped: bool = False) -> str:
    """An ObjectEvent in XML (``swapped``: bizStep before action, against the XSD's order)."""
    epc = f"https://id.gs1.org/01/{gtin(member.prefix)}/21/X{moment()[-9:-5]}"
    fields = [
        f"<action>{action}</action>",
        "<bizStep>urn:epcglobal:cbv:bizstep:shipping</bizStep>",
    ]
    if swapped:
        fields.reverse()
    return (
        f"<ObjectEvent><eventTime>{moment()}</eventTime>"
        "<eventTimeZoneOffset>+08:00</eventTimeZoneOffset>"
        f"<epcList><epc>{epc}</epc></epcList>{''.join(fields)}</ObjectEvent>"
    )


def xml_document(*events: str, prolog: str = "") -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>{prolog}<epcis:EPCISDocument '
        'xmlns:epcis="urn:epcglobal:epcis:xsd:2" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        f'schemaVersion="2.0" creationDate="{moment()}"><EPCISBody><EventList>'
        f"{''.join(events)}</EventList></EPCISBody></epcis:EPCISDocument>"
    ).encode()


def post_xml(api: Api, member: Member, body: bytes) -> httpx.Response:
    return api.post(
        "/capture", content=body, headers={"Content-Type": "application/xml"}, key=member.key
    )


def accepted(api: Api, member: Member, answer: httpx.Response, events: int) -> None:
    assert answer.status_code == 202, answer.text
    job = api.get(answer.headers["Location"], key=member.key).json()
    assert job["success"] is True
    assert job["eventCount"] == events


def errors(answer: httpx.Response) -> dict[str, str]:
    body = problem(answer, 400, "invalid-epcis-document")
    return {error["field"]: error["reason"] for error in body["errors"]}


def test_single_xml_and_json_events_are_both_captured(api: Api, supplier: Member) -> None:
    accepted(api, supplier, post_xml(api, supplier, xml_event(supplier).encode()), 1)
    epc = f"https://id.gs1.org/01/{gtin(supplier.prefix)}/21/J{moment()[-9:-5]}"
    accepted(api, supplier, capture(api, supplier.key, single(object_event(epcs=[epc]))), 1)


def test_single_xml_and_json_events_are_refused_alike(api: Api, supplier: Member) -> None:
    from_xml = errors(post_xml(api, supplier, xml_event(supplier, action="MOVE").encode()))
    epc = f"https://id.gs1.org/01/{gtin(supplier.prefix)}/21/J1"
    event: dict[str, Any] = single(object_event(epcs=[epc], action="MOVE"))
    from_json = errors(capture(api, supplier.key, event))
    assert from_xml["action"] == from_json["action"]
    assert "is not an action" in from_xml["action"]


def test_the_xsd_refuses_a_misordered_event(
    api: Api, supplier: Member, conformance_dir: Path
) -> None:
    # GS1's XSD is read from the conformance folder beside the checkout (skips without it).
    assert (conformance_dir / "epcis-2.0" / "XSD").is_dir()
    body = xml_document(xml_event(supplier), xml_event(supplier, swapped=True))
    reason = errors(post_xml(api, supplier, body))["epcisBody.eventList[1].bizStep"]
    assert reason.startswith("EPCIS 2.0 XSD: Element 'bizStep': This element is not expected")
    single_swapped = xml_event(supplier, swapped=True).encode()
    assert "bizStep" in errors(post_xml(api, supplier, single_swapped))


def test_a_bare_doctype_is_accepted_and_a_dtd_refused(api: Api, supplier: Member) -> None:
    bare = xml_document(xml_event(supplier), prolog="<!DOCTYPE project>")
    accepted(api, supplier, post_xml(api, supplier, bare), 1)
    laughs = '<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;">]>'
    refused = errors(post_xml(api, supplier, xml_document(xml_event(supplier), prolog=laughs)))
    assert "declares entities" in refused["$"]
    system = '<!DOCTYPE project SYSTEM "http://example.com/epcis.dtd">'
    refused = errors(post_xml(api, supplier, xml_document(xml_event(supplier), prolog=system)))
    assert "names an external DTD (SYSTEM" in refused["$"]


def test_a_nil_quantity_is_captured_without_quantity(api: Api, supplier: Member) -> None:
    lot = f"https://id.gs1.org/01/{gtin(supplier.prefix)}/10/L{moment()[-9:-5]}"
    event = (
        f"<ObjectEvent><eventTime>{moment()}</eventTime>"
        "<eventTimeZoneOffset>+08:00</eventTimeZoneOffset><epcList/><action>OBSERVE</action>"
        f'<quantityList><quantityElement><epcClass>{lot}</epcClass><quantity xsi:nil="true"/>'
        "</quantityElement></quantityList></ObjectEvent>"
    )
    answer = post_xml(api, supplier, xml_document(event))
    accepted(api, supplier, answer, 1)
    found = api.get("/events", params={"MATCH_epcClass": lot}, key=supplier.key).json()
    [stored] = found["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    assert stored["quantityList"] == [{"epcClass": lot}], json.dumps(stored)
