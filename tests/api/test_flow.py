"""The whole flow: the consortium admin admits members, a supplier commissions a lot and its
items, a distributor records shipping and receiving, the in-app anchor worker anchors it all,
a buyer scans and verifies (also independently, on chain), an auditor queries, and the supplier
recalls the lot."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from eth_utils.crypto import keccak
from web3.contract import Contract

from ledger.events import parse_document
from tests.api.conftest import (
    ADMIN_KEY,
    Api,
    Member,
    admit,
    capture,
    event_list,
    new_batch,
    path_of,
)
from tests.helpers import document, gtin, moment, object_event, single, sscc


def wait_for(api: Api, url: str, verdict: str, timeout: float = 30.0) -> dict[str, Any]:
    """Poll a JSON trail until its verdict is ``verdict``."""
    deadline = time.monotonic() + timeout
    data: dict[str, Any] = {}
    while time.monotonic() < deadline:
        answer = api.get(url, headers={"Accept": "application/json"})
        assert answer.status_code == 200, answer.text
        data = answer.json()
        if data["verdict"] == verdict:
            return data
        time.sleep(0.2)
    raise AssertionError(f"verdict stayed {data.get('verdict')}: {data.get('events')}")


def xml_commissioning(gtin14: str, lot: str, serials: list[str]) -> bytes:
    """An EPCIS 2.0 XML document commissioning serialised items of a lot."""
    epcs = "".join(f"<epc>https://id.gs1.org/01/{gtin14}/10/{lot}/21/{s}</epc>" for s in serials)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2"
    xmlns:cbvmda="urn:epcglobal:cbv:mda" schemaVersion="2.0" creationDate="{moment()}">
  <EPCISBody><EventList><ObjectEvent>
    <eventTime>{moment()}</eventTime><eventTimeZoneOffset>+08:00</eventTimeZoneOffset>
    <epcList>{epcs}</epcList>
    <action>ADD</action>
    <bizStep>urn:epcglobal:cbv:bizstep:commissioning</bizStep>
    <disposition>urn:epcglobal:cbv:disp:active</disposition>
    <ilmd><cbvmda:lotNumber>{lot}</cbvmda:lotNumber></ilmd>
  </ObjectEvent></EventList></EPCISBody>
</epcis:EPCISDocument>""".encode()


def test_supplier_buyer_auditor(make_api: Callable[..., Api], anchor: Contract) -> None:
    api = make_api(worker=True)  # the default: the anchor worker runs inside the API
    # ---- the consortium admin
    me = api.get("/me", key=ADMIN_KEY)
    assert me.status_code == 200
    assert me.json()["role"] == "admin"
    supplier = admit(api, "Hangzhou Medical Devices")
    distributor = admit(api, "Shenzhen Distribution")
    auditor = admit(api, "Provincial Audit Office", roles=("auditor",))
    # The independent audit reads with an operator's auditor key (of no member): every event.
    # A member's auditor key (above) reads what its member reads.
    operator = api.post("/keys", json={"role": "auditor"}, key=ADMIN_KEY)
    assert operator.status_code == 201, operator.text
    audit_key = operator.json()["key"]
    members = api.get("/members", key=ADMIN_KEY).json()
    assert {m["org_id"] for m in members} >= {supplier.org_id, distributor.org_id}
    assert api.get(f"/members/{supplier.org_id}", key=auditor.key).json()["prefixes"] == [
        f"gs1:{supplier.prefix}"
    ]

    # ---- the supplier: a lot, then its serialised items (XML)
    batch = new_batch(api, supplier, lot="LOT-A1", quantity=3, uom=None)
    lot = batch["identifier"]
    assert batch["digital_link"] == f"http://tracechain.test/01/{gtin(supplier.prefix)}/10/LOT-A1"
    assert batch["epc_class"] == f"urn:epc:class:lgtin:{supplier.prefix}.000001.LOT-A1"
    assert batch["event"]["bizStep"] == "commissioning"
    assert batch["event"]["ilmd"]["cbvmda:itemExpirationDate"] == "2028-01-05"
    items = api.post(
        "/capture",
        content=xml_commissioning(gtin(supplier.prefix), "LOT-A1", ["1001", "1002", "1003"]),
        headers={"Content-Type": "application/xml"},
        key=supplier.key,
    )
    assert items.status_code == 202, items.text
    job = api.get(items.headers["Location"], key=supplier.key).json()
    assert job["success"] is True
    assert job["running"] is False
    assert job["eventCount"] == 1

    # ---- the distributor: receives the lot (a document), ships one item (a single event)
    received = capture(
        api,
        distributor.key,
        document(object_event(classes=[lot], biz_step="receiving", disposition="in_progress")),
    )
    assert received.status_code == 202, received.text
    item = f"https://id.gs1.org/01/{gtin(supplier.prefix)}/10/LOT-A1/21/1002"
    shipped = api.post(
        "/events",
        json=single(object_event(epcs=[item], biz_step="shipping", eventID="urn:uuid:" + "7" * 8
                                 + "-7777-4777-8777-" + "7" * 12)),
        key=distributor.key,
    )  # fmt: skip
    assert shipped.status_code == 201, shipped.text
    one = api.get(shipped.headers["Location"], key=audit_key)
    assert one.status_code == 200
    # The distributor's event, linked to the supplier's lot: the supplier reads it, the
    # member's auditor (its member recorded nothing) does not: to it the event does not exist.
    assert api.get(shipped.headers["Location"], key=supplier.key).status_code == 200
    assert api.get(shipped.headers["Location"], key=auditor.key).status_code == 404
    assert event_list(one.json())[0]["bizStep"] == "shipping"
    again = api.post("/events", json=shipped.json(), key=distributor.key)
    assert again.status_code == 409
    assert again.headers["Location"] == shipped.headers["Location"]

    # ---- the in-app worker anchors everything; the buyer scans the lot
    trail = wait_for(api, path_of(batch["digital_link"]), "verified")
    steps = [e["biz_step"].rsplit("-", 1)[-1] for e in trail["events"]]
    assert steps == ["commissioning", "commissioning", "receiving", "shipping"] or sorted(
        steps
    ) == sorted(["commissioning", "commissioning", "receiving", "shipping"])
    assert trail["product"]["lot"] == "LOT-A1"
    assert trail["product"]["made_by"] == supplier.name
    assert trail["product"]["expiry_date"] == "2028-01-05"
    assert trail["owner"]["org_id"] == supplier.org_id
    # The buyer reads each event as the brand owner's public projection (its anchor and the
    # server's verdict; no quantities, no parties) ...
    for event in trail["events"]:
        assert event["disclosure"] == "public"
        assert event["verification"]["status"] == "verified"
        assert not {"quantityList", "epcList", "sourceList"} & set(event["event"])
    # ... and the supplier's key, linked to every event of its lot, reads them in full.
    full = api.get(
        path_of(batch["digital_link"]), headers={"Accept": "application/json"}, key=supplier.key
    ).json()
    assert [e["hash_id"] for e in full["events"]] == [e["hash_id"] for e in trail["events"]]
    for event in full["events"]:
        assert event["disclosure"] == "full"
        check = event["verification"]
        assert check["status"] == "verified", check
        assert check["anchor"]["block_number"] > 0
        assert check["anchor"]["tx_hash"].startswith("0x")
        # Independently: re-hash the event and ask the contract, trusting nothing of ours.
        (recomputed,) = parse_document(json.dumps(event["event"]).encode(), "application/json")
        assert recomputed.hash_id == event["hash_id"]
        digest = bytes.fromhex(recomputed.hash_id.split(";")[1].split("?")[0])
        # The leaf's first word commits to the event as stored (compact JSON) and its
        # signature (none here: 32 zero bytes) beside its hash (README, "what is anchored").
        assert check["signed"] is False
        stored = json.dumps(event["event"], ensure_ascii=False, separators=(",", ":"))
        word = keccak(digest + keccak(stored.encode()) + b"\0" * 32)
        assert anchor.functions.verifyEvent(
            bytes.fromhex(check["anchor"]["root"][2:]),
            [bytes.fromhex(p[2:]) for p in check["anchor"]["proof"]],
            word,
            bytes.fromhex(check["anchor"]["id_key"][2:]),
            check["recorder"]["address"],
        ).call()
    page = api.get(path_of(batch["digital_link"]), headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "Verified: this product" in page.text
    assert "LOT-A1" in page.text
    assert page.headers["X-Trail-Verdict"] == "verified"
    cached = api.get(
        path_of(batch["digital_link"]),
        headers={"Accept": "text/html", "If-None-Match": page.headers["ETag"]},
    )
    assert cached.status_code == 304

    # ---- the auditor: EPCIS queries, paginated with Link headers
    seen: list[str] = []
    url: str | None = f"/events?MATCH_anyEPCClass={quote(lot, safe='')}&perPage=1"
    while url:
        answer = api.get(url, key=audit_key)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["type"] == "EPCISQueryDocument"
        seen += [
            e["eventID"] for e in body["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        ]
        link = answer.headers.get("Link")
        url = path_of(link[1 : link.index(">")]) if link else None
    assert len(seen) == 2  # the commissioning of the lot and its receipt
    epcs = api.get(f"/events?MATCH_epc={quote(item, safe='')}", key=audit_key).json()
    assert len(event_list(epcs)) == 2
    jobs = api.get("/capture?perPage=50", key=audit_key).json()
    assert {j["captureID"] for j in jobs} >= {items.headers["Location"].rsplit("/", 1)[1]}

    # ---- the supplier recalls the lot: the next scan shows it, items of the lot too
    recalled = api.post(
        f"/identifiers/{quote(lot, safe='')}/recall",
        json={"reason": "Sterility breach found in batch testing"},
        key=supplier.key,
    )
    assert recalled.status_code == 200, recalled.text
    assert recalled.json()["recalled"] is True
    scan = api.get(path_of(batch["digital_link"]), headers={"Accept": "text/html"})
    assert "RECALL" in scan.text
    assert "Sterility breach" in scan.text
    item_scan = api.get(f"/01/{gtin(supplier.prefix)}/10/LOT-A1/21/1001?linkType=gs1:pip")
    assert item_scan.headers["X-Trail-Verdict"] == "recalled"
    assert "Sterility breach" in item_scan.text
    status = api.get(path_of(batch["digital_link"]) + "?linkType=gs1:recallStatus").json()
    assert status["recalled"]
    assert status["reason"] == "Sterility breach found in batch testing"
    twice = api.post(
        f"/identifiers/{quote(lot, safe='')}/recall", json={"reason": "again"}, key=supplier.key
    )
    assert twice.status_code == 409, twice.text
    lifted = api.post(
        f"/identifiers/{quote(lot, safe='')}/recall/lift",
        json={"reason": "Retested: sterile"},
        key=supplier.key,
    )
    assert lifted.status_code == 200
    assert lifted.json()["recalled"] is False
    wait_for(api, path_of(batch["digital_link"]), "verified")

    # ---- operations
    assert api.get("/readyz").json()["ready"] is True
    metrics = api.get("/metrics").text
    assert "tracechain_captured_events_total" in metrics
    assert "tracechain_pending_events 0.0" in metrics
    assert 'tracechain_recalls_total{action="recall"} 1.0' in metrics


def test_unknown_identifier_and_linkset(api: Api, supplier: Member) -> None:
    """A product nobody recorded is 'unknown'; the linkset lists our link types."""
    unknown = f"/01/{gtin(supplier.prefix, 999)}"
    answer = api.get(unknown)
    assert answer.status_code == 200
    assert answer.json()["verdict"] == "unknown"
    page = api.get(unknown, headers={"Accept": "text/html"})
    assert "Unknown: no record" in page.text
    linkset = api.get(unknown, headers={"Accept": "application/linkset+json"})
    assert linkset.headers["content-type"].startswith("application/linkset+json")
    entry = linkset.json()["linkset"][0]
    assert entry["anchor"] == f"http://tracechain.test{unknown}"
    assert {"https://gs1.org/voc/pip", "https://gs1.org/voc/traceability"} <= set(entry)
    assert api.get(unknown + "?linkType=all").json() == linkset.json()
    epcis = api.get(unknown + "?linkType=gs1:epcis")
    assert epcis.status_code == 307
    assert "/events?MATCH_anyEPC" in epcis.headers["location"]
    assert 'rel="linkset"' in answer.headers["Link"]
    described = api.get("/.well-known/gs1resolver").json()
    assert described["resolverRoot"] == "http://tracechain.test"


def test_trail_by_any_identifier_form(api: Api, supplier: Member) -> None:
    """``/identifiers/{id}`` takes EPC URIs, element strings and Digital Links alike."""
    batch = new_batch(api, supplier, lot="FORM-1")
    api.drain()
    forms = [
        batch["epc_class"],
        f"(01){gtin(supplier.prefix)}(10)FORM-1",
        batch["identifier"],
    ]
    verdicts = set()
    for form in forms:
        answer = api.get(f"/identifiers/{quote(form, safe='')}")
        assert answer.status_code == 200, answer.text
        assert answer.json()["identifier"]["canonical"] == batch["identifier"]
        verdicts.add(answer.json()["verdict"])
    assert verdicts == {"verified"}
    html = api.get(f"/identifiers/{quote(forms[1], safe='')}?format=html&lang=zh")
    assert html.headers["Content-Language"] == "zh-Hans"
    assert "已验证" in html.text


def test_capture_job_visibility(api: Api, supplier: Member, distributor: Member) -> None:
    """A recorder sees its own capture jobs only; the admin's key has no member."""
    answer = capture(api, supplier.key, document(object_event(classes=[new_batch(api, supplier)[
        "identifier"]])))  # fmt: skip
    location = answer.headers["Location"]
    assert api.get(location, key=supplier.key).status_code == 200
    assert api.get(location, key=distributor.key).status_code == 404
    listed = api.get("/capture?perPage=1", key=supplier.key)
    assert listed.status_code == 200
    assert len(listed.json()) == 1
    assert 'rel="next"' in listed.headers["Link"]
    follow = api.get(path_of(listed.headers["Link"][1 : listed.headers["Link"].index(">")]),
                     key=supplier.key)  # fmt: skip
    assert follow.status_code == 200
    assert follow.json()[0]["captureID"] != listed.json()[0]["captureID"]


def test_options_capture(api: Api) -> None:
    """OPTIONS /capture announces the limits in the REST binding's headers."""
    answer = api.request("OPTIONS", "/capture")
    assert answer.status_code == 204
    assert answer.headers["GS1-EPCIS-Capture-Limit"] == "10000"
    assert answer.headers["GS1-Capture-Error-Behaviour"] == "rollback"


def test_trace_and_recall_scope(
    api: Api, supplier: Member, distributor: Member, auditor: Member
) -> None:
    """Members trace a lot forward to the pallet that carried its items and back again."""
    batch = new_batch(api, supplier, lot="TRACE-1")
    item = f"https://id.gs1.org/01/{gtin(supplier.prefix)}/10/TRACE-1/21/77"
    commissioned = object_event(epcs=[item], action="ADD", biz_step="commissioning",
                                disposition="active")  # fmt: skip
    assert capture(api, supplier.key, document(commissioned)).status_code == 202
    pallet = f"https://id.gs1.org/00/{sscc(distributor.prefix, 1)}"
    packing = {
        "type": "AggregationEvent",
        "eventTime": moment(),
        "eventTimeZoneOffset": "+08:00",
        "parentID": pallet,
        "childEPCs": [item],
        "action": "ADD",
        "bizStep": "packing",
    }
    assert capture(api, distributor.key, document(packing)).status_code == 202
    lot = quote(batch["identifier"], safe="")
    # The trading partners see each other's events about the lot and its items (linked).
    forward = api.get(f"/identifiers/{lot}/trace?direction=forward", key=supplier.key)
    assert forward.status_code == 200, forward.text
    nodes = {node["id"] for node in forward.json()["nodes"]}
    assert {batch["identifier"], pallet} <= nodes
    assert forward.json()["hidden"] == 0
    scope = api.get(f"/identifiers/{lot}/recall-scope", key=supplier.key).json()
    assert pallet in scope["logistic_units"]
    svg = api.get(f"/identifiers/{lot}/trace?format=svg", key=supplier.key)
    assert svg.headers["content-type"] == "image/svg+xml"
    assert svg.text.lstrip().startswith("<")
    backward = api.get(
        f"/identifiers/{quote(pallet, safe='')}/trace?direction=backward", key=distributor.key
    ).json()
    assert batch["identifier"] in {node["id"] for node in backward["nodes"]}
    # A member's auditor reads what its member reads: nothing of this lot.
    unrelated = api.get(f"/identifiers/{lot}/trace", key=auditor.key).json()
    assert [node["id"] for node in unrelated["nodes"]] == [batch["identifier"]]
    assert unrelated["hidden"] >= 1
    assert api.get(f"/identifiers/{lot}/trace").status_code == 401
