"""Who reads which event through ``GET /events``, ``GET /events/{id}``, the capture jobs and
``GET /export``, after captures that choose their visibility (``GS1-Visibility`` /
``visibility``, ``reader`` / ``GS1-Readers``): the real app on a database of its own, the
session devnet, members admitted and keyed through the API.

The ledger of this module (every event with an eventID, its name in :data:`EXPECTED`):

- ``private``: the brand commissions item 1 (``private``);
- ``restricted``: the brand ships item 1, naming the retailer a reader (``restricted``);
- ``linked``: the brand observes item 2 (``linked``, the default);
- ``public``: the brand observes item 3 (``public``);
- ``received``: the retailer receives item 2 (its default, ``linked``): the retailer is now
  linked to item 2 and its GTIN, so it reads ``linked``, and the brand reads ``received``;
- ``rival``: a rival observes an item of its own (``private``);
- ``single``: the rival's single-event capture (``POST /events``) of another item of its own,
  ``restricted`` to the brand through ``GS1-Readers``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from devnet.launcher import Devnet
from ledger.bundle import verify_bundle
from ledger.chain import ChainClient
from tests.api.conftest import ADMIN_KEY, Api, Member, admit, event_list, path_of
from tests.helpers import DL, document, gtin, object_event, single, timestamp

T0 = datetime(2026, 4, 1, 8, 0, tzinfo=UTC)
#: Who reads which events ("admin" is the consortium admin; "inspector" an auditor-only
#: member, which reads what its member reads: public events).
EXPECTED: dict[str, set[str]] = {
    "admin": {"private", "restricted", "linked", "public", "received", "rival", "single"},
    "brand": {"private", "restricted", "linked", "public", "received", "single"},
    "retailer": {"restricted", "linked", "public", "received"},
    "rival": {"public", "rival", "single"},
    "inspector": {"public"},
}
#: Whose capture jobs each key lists (by the event each job stored).
JOBS: dict[str, set[str]] = {
    "admin": {"private", "restricted", "linked", "public", "received", "rival", "single"},
    "brand": {"private", "restricted", "linked", "public"},
    "retailer": {"received"},
    "rival": {"rival", "single"},
    "inspector": set(),
}


@dataclass
class World:
    api: Api
    members: dict[str, Member]
    #: Event name -> its eventID.
    event_ids: dict[str, str]
    #: Event name -> the capture job that stored it.
    captures: dict[str, str]

    def key(self, who: str) -> str:
        return ADMIN_KEY if who == "admin" else self.members[who].key

    def names(self, event_ids: list[str]) -> set[str]:
        by_id = {event_id: name for name, event_id in self.event_ids.items()}
        return {by_id[event_id] for event_id in event_ids}


def _item(member: Member, serial: int) -> str:
    return f"{DL}/01/{gtin(member.prefix)}/21/{serial}"


def _event(minute: int, item: str, **fields: Any) -> dict[str, Any]:
    return object_event(
        epcs=[item],
        event_time=timestamp(T0 + timedelta(minutes=minute)),
        time_zone_offset="+00:00",
        eventID=f"urn:uuid:{uuid.uuid4()}",
        **fields,
    )


def _capture(
    api: Api,
    member: Member,
    event: dict[str, Any],
    *,
    params: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return api.post(
        "/capture",
        content=json.dumps(document(event)),
        params=params or {},
        headers={"Content-Type": "application/ld+json", **(headers or {})},
        key=member.key,
    )


@pytest.fixture(scope="module")
def world(make_api: Callable[..., Api]) -> World:
    api = make_api()
    members = {
        "brand": admit(api, "Brand Owner"),
        "retailer": admit(api, "Retailer"),
        "rival": admit(api, "Rival Brand"),
        "inspector": admit(api, "Inspector", roles=("auditor",)),
    }
    brand, retailer, rival = members["brand"], members["retailer"], members["rival"]
    plan: list[tuple[str, Member, dict[str, Any], dict[str, Any], dict[str, str]]] = [
        ("private", brand,
         _event(0, _item(brand, 1), action="ADD", biz_step="commissioning", disposition="active"),
         {"visibility": "private"}, {}),
        ("restricted", brand, _event(1, _item(brand, 1)),
         {"reader": [retailer.org_id]}, {"GS1-Visibility": "Restricted"}),
        ("linked", brand, _event(2, _item(brand, 2), biz_step="storing", disposition=None),
         {}, {}),
        ("public", brand, _event(3, _item(brand, 3), biz_step="storing", disposition=None),
         {"visibility": "public"}, {"GS1-Visibility": "public"}),
        ("received", retailer, _event(4, _item(brand, 2), biz_step="receiving", disposition=None),
         {}, {}),
        ("rival", rival, _event(5, _item(rival, 1), biz_step="storing", disposition=None),
         {"visibility": "private"}, {}),
    ]  # fmt: skip
    event_ids: dict[str, str] = {}
    captures: dict[str, str] = {}
    for name, member, event, params, headers in plan:
        answer = _capture(api, member, event, params=params, headers=headers)
        assert answer.status_code == 202, answer.text
        job = answer.json()
        chosen = "restricted" if name == "restricted" else params.get("visibility", "linked")
        assert job["visibility"] == chosen
        event_ids[name] = event["eventID"]
        captures[name] = job["captureID"]
    lone = _event(6, _item(rival, 2), biz_step="storing", disposition=None)
    answer = api.post(
        "/events",
        content=json.dumps(single(lone)),
        headers={
            "Content-Type": "application/ld+json",
            "GS1-Visibility": "restricted",
            "GS1-Readers": f" {brand.org_id.upper().replace('0X', '0x')} ",
        },
        key=rival.key,
    )
    assert answer.status_code == 201, answer.text
    assert answer.headers["GS1-Visibility"] == "restricted"
    event_ids["single"] = lone["eventID"]
    jobs = api.get("/capture", params={"perPage": 1}, key=rival.key).json()
    captures["single"] = jobs[0]["captureID"]
    assert api.drain() == 7
    return World(api, members, event_ids, captures)


WHO = sorted(EXPECTED)


@pytest.mark.parametrize("who", WHO)
def test_event_queries_answer_only_what_the_key_may_read(world: World, who: str) -> None:
    """Every page of ``GET /events`` (one event a page, following nextPageToken) and the
    filtered queries hold exactly the events the key may read."""
    seen: list[str] = []
    url: str | None = "/events?perPage=1"
    while url is not None:
        answer = world.api.get(url, key=world.key(who))
        assert answer.status_code == 200, answer.text
        seen += [e["eventID"] for e in event_list(answer.json())]
        link = answer.headers.get("Link")
        url = path_of(link[1 : link.index(">")]) if link else None
    assert len(seen) == len(set(seen))
    assert world.names(seen) == EXPECTED[who]
    brand = world.members["brand"]
    about_brand = world.api.get(
        "/events",
        params={"MATCH_epc": f"{DL}/01/{gtin(brand.prefix)}", "perPage": 100},
        key=world.key(who),
    )
    assert about_brand.status_code == 200, about_brand.text
    wanted = EXPECTED[who] & {"private", "restricted", "linked", "public", "received"}
    assert world.names([e["eventID"] for e in event_list(about_brand.json())]) == wanted


@pytest.mark.parametrize("who", WHO)
def test_one_event_is_found_or_absent_as_it_may_be_read(world: World, who: str) -> None:
    """``GET /events/{id}`` (by eventID) answers the events the key may read; any other is
    a 404 exactly like an event that does not exist."""
    missing = world.api.get(f"/events/{quote('urn:uuid:' + str(uuid.uuid4()), safe='')}",
                            key=world.key(who))  # fmt: skip
    assert missing.status_code == 404
    for name, event_id in world.event_ids.items():
        answer = world.api.get(f"/events/{quote(event_id, safe='')}", key=world.key(who))
        if name in EXPECTED[who]:
            assert answer.status_code == 200, (name, answer.text)
            assert world.names([e["eventID"] for e in event_list(answer.json())]) == {name}
        else:
            assert answer.status_code == 404, (name, answer.text)
            body = answer.json()
            assert body["type"] == missing.json()["type"]
            assert body["title"] == missing.json()["title"]


def test_without_a_key_no_event_is_read(world: World) -> None:
    assert world.api.get("/events").status_code == 401
    public = quote(world.event_ids["public"], safe="")
    assert world.api.get(f"/events/{public}").status_code == 401
    assert world.api.get("/capture").status_code == 401
    assert world.api.get(f"/capture/{world.captures['public']}").status_code == 401
    assert world.api.get("/export", params={"from": "2026-01-01T00:00:00Z"}).status_code == 401


@pytest.mark.parametrize("who", WHO)
def test_capture_jobs_are_their_members(world: World, who: str) -> None:
    """A member's keys list and open only its own member's jobs (another's is a 404); the
    admin all of them; a job shows the visibility its events got."""
    listed = world.api.get("/capture", params={"perPage": 100}, key=world.key(who))
    assert listed.status_code == 200, listed.text
    by_capture = {capture_id: name for name, capture_id in world.captures.items()}
    assert {by_capture[j["captureID"]] for j in listed.json()} == JOBS[who]
    for name, capture_id in world.captures.items():
        answer = world.api.get(f"/capture/{capture_id}", key=world.key(who))
        if name not in JOBS[who]:
            assert answer.status_code == 404, (name, answer.text)
            continue
        assert answer.status_code == 200, answer.text
        job = answer.json()
        assert job["eventIDs"] == [world.event_ids[name]]
        assert job["visibility"] == {
            "private": "private", "rival": "private", "restricted": "restricted",
            "single": "restricted", "public": "public",
        }.get(name, "linked")  # fmt: skip


@pytest.mark.parametrize("who", WHO)
def test_an_export_holds_what_the_key_may_read_and_verifies(
    world: World, devnet: Devnet, who: str
) -> None:
    answer = world.api.get("/export", params={"from": "2026-04-01T00:00:00Z"}, key=world.key(who))
    assert answer.status_code == 200, answer.text
    bundle = answer.json()
    assert world.names([e["event"]["eventID"] for e in bundle["events"]]) == EXPECTED[who]
    held = {digest for batch in bundle["batches"].values() for digest in batch["events"]}
    assert held == {e["event_hash"] for e in bundle["events"]}
    result = verify_bundle(bundle, ChainClient(devnet.rpc_url))
    assert result.ok, [f.to_json() for f in result.findings]
    assert result.verified == len(EXPECTED[who])
    # The trace walks only through what the key reads: item 2's backward trace.
    item = _item(world.members["brand"], 2)
    traced = world.api.get(
        "/export", params={"identifier": item, "trace": "backward"}, key=world.key(who)
    )
    assert traced.status_code == 200, traced.text
    names = world.names([e["event"]["eventID"] for e in traced.json()["events"]])
    assert names == EXPECTED[who] & {"linked", "received"}


BAD = [
    ({"visibility": "secret"}, {}, "visibility"),
    ({}, {"GS1-Visibility": "everyone"}, "GS1-Visibility"),
    ({"visibility": "public"}, {"GS1-Visibility": "private"}, "visibility"),
    ({"visibility": ["public", "linked"]}, {}, "visibility"),
    ({"reader": "0x1234"}, {}, "reader"),
    ({}, {"GS1-Readers": "0x" + "ab" * 32 + ",nobody"}, "GS1-Readers"),
    ({"reader": "0x" + "ef" * 32}, {}, "readers[0]"),
]


@pytest.mark.parametrize(("params", "headers", "field"), BAD)
def test_a_bad_audience_is_a_problem_naming_its_field(
    world: World, params: dict[str, Any], headers: dict[str, str], field: str
) -> None:
    brand = world.members["brand"]
    before = world.api.get("/capture", params={"perPage": 100}, key=brand.key).json()
    event = _event(30, _item(brand, 9), biz_step="storing", disposition=None)
    answer = _capture(world.api, brand, event, params=params, headers=headers)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert field in [e["field"] for e in answer.json()["errors"]]
    after = world.api.get("/capture", params={"perPage": 100}, key=brand.key).json()
    assert after == before  # nothing stored, no job recorded


def test_the_audience_is_documented(world: World) -> None:
    schema = world.api.get("/openapi.json").json()
    for path, method in (("/capture", "post"), ("/events", "post")):
        parameters = {(p["name"], p["in"]): p for p in schema["paths"][path][method]["parameters"]}
        assert {
            ("GS1-Visibility", "header"), ("visibility", "query"),
            ("reader", "query"), ("GS1-Readers", "header"),
        } <= parameters.keys()  # fmt: skip
        header = parameters[("GS1-Visibility", "header")]
        assert "private" in header["description"]
        assert set(json.dumps(header["schema"]).split('"')) >= {
            "private",
            "restricted",
            "linked",
            "public",
        }
    job = schema["components"]["schemas"]["CaptureJobOut"]["properties"]
    assert "visibility" in job
