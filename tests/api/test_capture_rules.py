"""Capture rules through the real app on the session devnet: one eventID names one event (409),
bounded JSON nesting (400, never a 500 or a dead process), capture jobs that list their events,
and 403s that say whose prefix an identifier is under, naming each field with its indexes."""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import quote

import httpx

from ledger.events import parse_document
from tests.api.conftest import Api, Member, capture, event_list
from tests.helpers import EPCIS_CONTEXT, document, gtin, object_event, single, unique_prefix


def problem(answer: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    """Check that ``answer`` is an RFC 9457 problem of ``status`` and ``slug``."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = answer.json()
    assert body["status"] == status
    assert body["type"].endswith(f"/problems/{slug}"), body
    assert body["detail"]
    return body


def item(member: Member, serial: str) -> str:
    """A serialised item (Digital Link) under ``member``'s prefix."""
    return f"https://id.gs1.org/01/{gtin(member.prefix, 3)}/21/{serial}"


def new_id() -> str:
    """A fresh eventID."""
    return f"urn:uuid:{uuid.uuid4()}"


def stored(api: Api, member: Member, epc: str) -> list[dict[str, Any]]:
    """The stored events mentioning ``epc``."""
    answer = api.get(f"/events?MATCH_epc={quote(epc, safe='')}", key=member.key)
    assert answer.status_code == 200, answer.text
    return event_list(answer.json())


def declared(event: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """``event`` declared in error: a copy with errorDeclaration (EPCIS 2.0 section 7.4.1.2)."""
    return {
        **event,
        **changes,
        "errorDeclaration": {
            "declarationTime": "2026-03-01T00:00:00.000Z",
            "reason": "did_not_occur",
        },
    }


# --- one eventID, one event -------------------------------------------------------------------


def test_an_event_id_of_a_stored_event_is_409_and_nothing_stored(
    api: Api, supplier: Member
) -> None:
    event_id = new_id()
    first = object_event(epcs=[item(supplier, "A1")], eventID=event_id)
    assert capture(api, supplier.key, document(first)).status_code == 202
    bystander = object_event(epcs=[item(supplier, "A2")])
    thief = object_event(epcs=[item(supplier, "A3")], eventID=event_id)
    refused = problem(
        capture(api, supplier.key, document(bystander, thief)), 409, "duplicate-event-id"
    )
    assert [e["field"] for e in refused["errors"]] == ["epcisBody.eventList[1].eventID"]
    assert event_id in refused["detail"]
    assert stored(api, supplier, item(supplier, "A2")) == []  # no partial write
    assert stored(api, supplier, item(supplier, "A3")) == []
    # The eventID still names the first event.
    found = api.get(f"/events/{quote(event_id, safe='')}", key=supplier.key)
    assert event_list(found.json())[0]["epcList"] == [item(supplier, "A1")]
    # POST /events names the field from the event's root.
    alone = single(object_event(epcs=[item(supplier, "A4")], eventID=event_id))
    refused = problem(api.post("/events", json=alone, key=supplier.key), 409, "duplicate-event-id")
    assert [e["field"] for e in refused["errors"]] == ["eventID"]


def test_two_events_with_one_event_id_in_a_document_is_409(api: Api, supplier: Member) -> None:
    event_id = new_id()
    doc = document(
        object_event(epcs=[item(supplier, "B1")], eventID=event_id),
        object_event(epcs=[item(supplier, "B2")]),
        object_event(epcs=[item(supplier, "B3")], eventID=event_id),
    )
    refused = problem(capture(api, supplier.key, doc), 409, "duplicate-event-id")
    assert [e["field"] for e in refused["errors"]] == ["epcisBody.eventList[2].eventID"]
    assert "epcisBody.eventList[0]" in refused["errors"][0]["reason"]
    for serial in ("B1", "B2", "B3"):
        assert stored(api, supplier, item(supplier, serial)) == []


def test_recapture_is_idempotent_and_an_error_declaration_may_repeat_the_event_id(
    api: Api, supplier: Member
) -> None:
    event_id = new_id()
    original = object_event(epcs=[item(supplier, "C1")], eventID=event_id)
    assert capture(api, supplier.key, document(original)).status_code == 202
    assert capture(api, supplier.key, document(original, original)).status_code == 202
    assert capture(api, supplier.key, document(declared(original))).status_code == 202
    correction = declared(original, disposition="damaged")
    assert capture(api, supplier.key, document(correction)).status_code == 202
    events = stored(api, supplier, item(supplier, "C1"))
    # The copy with errorDeclaration has the original's hash and is stored beside it.
    assert [e.get("eventID") for e in events] == [event_id, event_id, event_id]
    assert ["errorDeclaration" in e for e in events] == [False, True, True]


# --- JSON nesting -----------------------------------------------------------------------------


def nested(levels: int) -> Any:
    """``levels`` nested objects with a string at the bottom."""
    value: Any = "leaf"
    for _ in range(levels):
        value = {"ex:n": value}
    return value


def with_extension(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` with the ``ex`` prefix declared."""
    return {**doc, "@context": [EPCIS_CONTEXT, {"ex": "https://example.com/ns/"}]}


def test_an_event_nesting_past_64_levels_is_400_naming_the_path(api: Api, supplier: Member) -> None:
    event_id = new_id()
    deepest = object_event(epcs=[item(supplier, "D1")], eventID=event_id)
    deepest["ex:deep"] = nested(63)  # its last object at level 64 (the event is level 1)
    assert capture(api, supplier.key, with_extension(document(deepest))).status_code == 202
    answer = api.get(f"/events/{quote(event_id, safe='')}", key=supplier.key)
    assert event_list(answer.json())[0]["ex:deep"] == nested(63)  # read back whole

    too_deep = object_event(epcs=[item(supplier, "D2")])
    too_deep["ex:deep"] = nested(64)
    doc = with_extension(document(object_event(epcs=[item(supplier, "D3")]), too_deep))
    refused = problem(capture(api, supplier.key, doc), 400, "invalid-epcis-document")
    (error,) = refused["errors"]
    assert error["field"] == "epcisBody.eventList[1].ex:deep" + ".ex:n" * 63
    assert "64 levels" in error["reason"]
    assert stored(api, supplier, item(supplier, "D2")) == []


def test_a_pathologically_deep_body_is_400_and_the_server_lives_on(
    api: Api, supplier: Member
) -> None:
    """100,000 nested arrays: json.loads would recurse 100,000 times (and the process's
    recursion limit is 100,000 since py_ecc was imported, so it would crash, not raise)."""
    for body in ("[" * 100_000 + "]" * 100_000, '{"a":' * 100_000 + "1" + "}" * 100_000):
        answer = api.post(
            "/capture",
            content=body,
            headers={"Content-Type": "application/json"},
            key=supplier.key,
        )
        refused = problem(answer, 400, "invalid-epcis-document")
        assert "nested too deeply" in refused["errors"][0]["reason"]
        assert refused["errors"][0]["field"].startswith(("[0][0][0]", "a.a.a"))
        single_event = api.post(
            "/events", content=body, headers={"Content-Type": "application/json"}, key=supplier.key
        )
        problem(single_event, 400, "invalid-epcis-document")
    assert api.get("/healthz").status_code == 200


# --- capture jobs list their events -----------------------------------------------------------


def test_a_capture_job_lists_its_event_ids(api: Api, supplier: Member) -> None:
    event_id = new_id()
    with_id = object_event(epcs=[item(supplier, "E1")], eventID=event_id)
    without_id = object_event(epcs=[item(supplier, "E2")])
    doc = document(with_id, without_id)
    hash_id = parse_document(json.dumps(doc).encode(), "application/ld+json")[1].hash_id
    accepted = capture(api, supplier.key, doc)
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["eventIDs"] == [event_id, hash_id]
    job = api.get(accepted.headers["Location"], key=supplier.key)
    assert job.status_code == 200, job.text
    assert job.json()["eventIDs"] == [event_id, hash_id]
    assert job.json()["eventCount"] == 2
    # Each listed id finds its event.
    for listed in job.json()["eventIDs"]:
        found = api.get(f"/events/{quote(listed, safe='')}", key=supplier.key)
        assert found.status_code == 200, found.text


# --- whose prefix -----------------------------------------------------------------------------


def test_a_403_says_whose_prefix_and_names_each_item(
    api: Api, supplier: Member, distributor: Member
) -> None:
    nobody = f"https://id.gs1.org/01/{gtin(unique_prefix())}/21/F1"
    own = item(distributor, "F2")
    doc = document(
        object_event(epcs=[own, own.replace("F2", "F3"), nobody], action="ADD"),
    )
    refused = problem(capture(api, distributor.key, doc), 403, "unassigned-prefix")
    assert refused["title"] == "The identifier is under no member's prefix"
    assert [e["field"] for e in refused["errors"]] == ["epcisBody.eventList[0].epcList[2]"]
    assert "under no member's prefix" in refused["errors"][0]["reason"]

    theirs = item(supplier, "F4")
    lot = f"urn:epc:class:lgtin:{supplier.prefix}.000003.L1"
    doc = document(
        object_event(epcs=[own], action="ADD"),
        object_event(epcs=[own.replace("F2", "F5"), theirs], classes=[lot], action="ADD"),
    )
    refused = problem(capture(api, distributor.key, doc), 403, "not-prefix-owner")
    assert refused["title"] == "The identifier belongs to another member's prefix"
    assert [e["field"] for e in refused["errors"]] == [
        "epcisBody.eventList[1].epcList[1]",
        "epcisBody.eventList[1].quantityList[0].epcClass",
    ]
    assert supplier.name in refused["errors"][0]["reason"]
    # A single event names its fields from its root.
    alone = single(object_event(epcs=[own.replace("F2", "F6"), nobody], action="ADD"))
    refused = problem(
        api.post("/events", json=alone, key=distributor.key), 403, "unassigned-prefix"
    )
    assert [e["field"] for e in refused["errors"]] == ["epcList[1]"]
