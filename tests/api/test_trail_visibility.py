"""The buyer-facing and tracing reads answer for their caller (:mod:`ledger.visibility`).

Five members on an app of their own: a brand owner, two competing suppliers, a retailer and an
outsider who recorded nothing. About one item of the owner's they capture a private
commissioning, a restricted observation (naming the retailer), a linked observation, a linked
packing into a case (an aggregation) and a public receipt. Each cell asserts exactly which of
them the trail JSON, the trail page, the Digital Link resolver, the trace (and its ``hidden``
count), the Handle REST values and the linkset show to the public (no key), each member's key
and the admin key (a trail lists what its caller may read in full, and the other events the
public may read as their public projection); an identifier whose only event is private answers
the public as one never recorded; a recalled item's public trail shows the recall and its
reason.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest

from api.routers.trace import TraceOut
from tests.api.conftest import ADMIN_KEY, Api, Member, admit
from tests.api.test_auth import problem
from tests.helpers import (
    document,
    gln,
    gtin,
    moment,
    object_event,
    sscc,
    unique_handle_prefix,
    unique_prefix,
)

DL = "https://id.gs1.org"
EVENTS = ("commission", "restricted", "linked", "packed", "public")


@dataclass
class World:
    """The app, its members (by role) and what they recorded."""

    api: Api
    members: dict[str, Member]
    prefix: str
    handles: str
    item: str
    #: Event name -> (eventID, the GLN of its site).
    events: dict[str, tuple[str, str]]
    #: An item whose only event is the owner's private commissioning ...
    private_item: str
    #: ... and one never recorded (same owner's prefix).
    unseen_item: str
    #: Handles: one with a private and a linked event, one with a private event only.
    handle: str
    private_handle: str

    def key(self, who: str) -> str | None:
        """The key ``who`` reads with (None: the public)."""
        if who == "public":
            return None
        if who == "admin":
            return ADMIN_KEY
        return self.members[who].key


#: Who sees which events about the item (the rule of ledger.store.visibility.visible).
SEES: dict[str, set[str]] = {
    "public": {"linked", "packed", "public"},
    "owner": {"commission", "linked", "packed", "public"},
    "supplier_1": {"restricted", "linked", "packed", "public"},
    "supplier_2": {"linked", "packed", "public"},
    "retailer": {"restricted", "linked", "packed", "public"},
    # Linked to nothing: a member reads linked events of its partners only.
    "outsider": {"public"},
    "admin": set(EVENTS),
}
READERS = list(SEES)
#: What each caller's trail lists: the events it may read, in full, and the other events the
#: public may read, as their public projection (ledger.disclosure) ...
LISTED: dict[str, set[str]] = {who: seen | SEES["public"] for who, seen in SEES.items()}
#: ... and which of them it reads in full (the public: none, every event is projected).
FULL: dict[str, set[str]] = {who: set() if who == "public" else seen for who, seen in SEES.items()}


def _record(
    api: Api,
    member: Member,
    event: dict[str, Any],
    visibility: str,
    readers: Sequence[str] = (),
) -> None:
    headers = {"Content-Type": "application/ld+json", "GS1-Visibility": visibility}
    if readers:
        headers["GS1-Readers"] = ",".join(readers)
    answer = api.post(
        "/capture", content=json.dumps(document(event)), headers=headers, key=member.key
    )
    assert answer.status_code == 202, answer.text


def _uuid(n: int) -> str:
    return f"urn:uuid:{n:08x}-0000-4000-8000-{n:012x}"


@pytest.fixture(scope="module")
def world(make_api: Callable[..., Api]) -> World:
    api = make_api()
    prefix, handles = unique_prefix(), unique_handle_prefix()
    members = {
        "owner": admit(api, "Brand Owner", prefixes=(prefix, handles)),
        **{
            role: admit(api, role.replace("_", " ").title())
            for role in ("supplier_1", "supplier_2", "retailer", "outsider")
        },
    }
    serial = int(prefix) * 10
    item = f"{DL}/01/{gtin(prefix, 5)}/21/V{serial}"
    events: dict[str, tuple[str, str]] = {}

    def site(name: str, member: str, n: int) -> str:
        events[name] = (_uuid(serial + len(events)), gln(members[member].prefix, n))
        return f"{DL}/414/{events[name][1]}"

    owner, s1, s2, retailer = (members[r] for r in ("owner", "supplier_1", "supplier_2",
                                                      "retailer"))  # fmt: skip
    events["commission"] = (_uuid(serial), gln(prefix, 1))
    _record(api, owner, object_event(
        epcs=[item], action="ADD", biz_step="commissioning", disposition="active",
        read_point=f"{DL}/414/{gln(prefix, 1)}", eventID=_uuid(serial)), "private")  # fmt: skip
    _record(api, s1, object_event(
        epcs=[item], biz_step="inspecting", disposition=None,
        read_point=site("restricted", "supplier_1", 1), eventID=events["restricted"][0]),
        "restricted", readers=[retailer.org_id])  # fmt: skip
    _record(api, s2, object_event(
        epcs=[item], biz_step="storing", disposition=None,
        read_point=site("linked", "supplier_2", 1), eventID=events["linked"][0]),
        "linked")  # fmt: skip
    packing = {
        "type": "AggregationEvent", "eventTime": moment(), "eventTimeZoneOffset": "+08:00",
        "parentID": f"{DL}/00/{sscc(s1.prefix, 1)}", "childEPCs": [item], "action": "ADD",
        "bizStep": "packing", "readPoint": {"id": site("packed", "supplier_1", 2)},
    }  # fmt: skip
    packing["eventID"] = events["packed"][0]
    _record(api, s1, packing, "linked")
    _record(api, retailer, object_event(
        epcs=[item], biz_step="receiving", disposition="in_progress",
        read_point=site("public", "retailer", 1), eventID=events["public"][0]),
        "public")  # fmt: skip
    private_item = f"{DL}/01/{gtin(prefix, 5)}/21/P{serial}"
    _record(api, owner, object_event(epcs=[private_item], action="ADD",
            biz_step="commissioning", disposition="active"), "private")  # fmt: skip
    handle, private_handle = f"{handles}/V-{serial}", f"{handles}/P-{serial}"
    for text in (handle, private_handle):
        _record(api, owner, object_event(epcs=[f"hdl:{text}"], action="ADD",
                biz_step="commissioning", disposition="active"), "private")  # fmt: skip
    _record(api, s2, object_event(epcs=[f"hdl:{handle}"], biz_step="storing"), "linked")
    api.drain()
    return World(
        api, members, prefix, handles, item, events, private_item,
        f"{DL}/01/{gtin(prefix, 5)}/21/U{serial}", handle, private_handle,
    )  # fmt: skip


def _trail(world: World, who: str, identifier: str, **params: str) -> dict[str, Any]:
    answer = world.api.get(
        f"/identifiers/{quote(identifier, safe='')}",
        params=params,
        headers={"Accept": "application/json"},
        key=world.key(who),
    )
    assert answer.status_code == 200, answer.text
    data: dict[str, Any] = answer.json()
    return data


def _names(world: World, event_ids: Sequence[str | None]) -> set[str]:
    by_id = {event_id: name for name, (event_id, _) in world.events.items()}
    return {by_id[event_id] for event_id in event_ids if event_id is not None}


@pytest.mark.parametrize("who", READERS)
def test_trail_json_shows_what_the_caller_may_read(world: World, who: str) -> None:
    data = _trail(world, who, world.item)
    assert _names(world, [e["event_id"] for e in data["events"]]) == LISTED[who]
    assert len(data["events"]) == len(LISTED[who])
    for event in data["events"]:
        (name,) = _names(world, [event["event_id"]])
        if name in FULL[who]:
            assert event["disclosure"] == "full"
            assert event["withheld"] == []
            assert event["event"]["readPoint"] == {"id": f"{DL}/414/{world.events[name][1]}"}
        else:
            # The default projection: when and which step, never where (not the owner's
            # commissioning), which objects or any other member.
            assert event["disclosure"] == "public", name
            assert "readPoint" not in event["event"]
            assert event["read_point"] is None
            assert set(event["event"]) <= {"type", "eventID", "eventTime",
                                           "eventTimeZoneOffset", "recordTime", "action",
                                           "bizStep", "disposition"}  # fmt: skip
            assert "place" in event["withheld"]
            assert "when" not in event["withheld"]
            assert event["verification"]["status"] == "verified"
            assert event["verification"]["anchor"]["proof"] is not None
    assert data["verdict"] == "verified"
    # The owner's private commissioning counts for the origin whoever reads ...
    origin = data["origin"]
    assert origin["status"] == "confirmed"
    listed = [e["hash_id"] for e in origin["commissioning"]]
    if "commission" in SEES[who]:
        # ... and is listed to whoever may read it ...
        assert len(listed) == 1
        assert listed[0] in {e["hash_id"] for e in data["events"]}
        assert origin["reasons"] == []
    else:
        # ... and only counted for the others.
        assert listed == []
        assert origin["reasons"] == [
            "1 commissioning event of the brand owner counted but not shown: not visible to "
            "this reader"
        ]


@pytest.mark.parametrize("who", READERS)
def test_trail_page_shows_what_the_caller_may_read(world: World, who: str) -> None:
    answer = world.api.get(
        f"/identifiers/{quote(world.item, safe='')}",
        params={"format": "html", "lang": "en"},
        key=world.key(who),
    )
    assert answer.status_code == 200, answer.text
    page = answer.text
    assert page.count('<li class="event') == len(LISTED[who])
    assert page.count('data-disclosure="public"') == len(LISTED[who] - FULL[who])
    for name, (_, site) in world.events.items():
        assert (f"GLN {site}" in page) == (name in FULL[who]), name
    assert answer.headers["Cache-Control"] == (
        "no-cache" if who == "public" else "private, no-cache"
    )
    assert "Authorization" in answer.headers["Vary"]


@pytest.mark.parametrize("who", ["public", "owner", "retailer", "admin"])
def test_the_resolver_answers_the_callers_trail(world: World, who: str) -> None:
    path = world.item[len(DL) :]
    answer = world.api.get(path, params={"linkType": "gs1:traceability"}, key=world.key(who))
    assert answer.status_code == 200, answer.text
    assert _names(world, [e["event_id"] for e in answer.json()["events"]]) == LISTED[who]


def test_cached_views_never_cross_callers(world: World) -> None:
    """The public view is cached and replayed to the public only; a key always gets its own
    view, whatever was asked before and in whichever order."""
    order = ["public", "owner", "public", "admin", "public", "retailer", "admin", "outsider",
             "public", "owner"]  # fmt: skip
    for who in order:
        for _ in range(2):  # the second ask may come from a cache
            data = _trail(world, who, world.item)
            assert _names(world, [e["event_id"] for e in data["events"]]) == LISTED[who], who
            full = {e["event_id"] for e in data["events"] if e["disclosure"] == "full"}
            assert _names(world, list(full)) == FULL[who], who
    services = world.api.services
    assert services.trails.hits > 0


def test_an_identifier_whose_events_are_hidden_looks_unrecorded(world: World) -> None:
    private = _trail(world, "public", world.private_item)
    unseen = _trail(world, "public", world.unseen_item)
    assert private["events"] == unseen["events"] == []
    for field in ("verdict", "reasons", "origin", "owner", "recall"):
        said = json.dumps(private[field]).replace(world.private_item, "X")
        assert said == json.dumps(unseen[field]).replace(world.unseen_item, "X"), field
    # Its owner reads it.
    assert len(_trail(world, "owner", world.private_item)["events"]) == 1
    # Another member sees nothing either.
    assert _trail(world, "supplier_1", world.private_item)["events"] == []


@pytest.mark.parametrize("who", ["owner", "supplier_1", "supplier_2", "retailer", "outsider",
                                 "admin"])  # fmt: skip
def test_a_trace_follows_visible_events_and_counts_the_hidden(world: World, who: str) -> None:
    for path in (
        f"/trace/{quote(world.item, safe='')}",
        f"/identifiers/{quote(world.item, safe='')}/trace",
    ):
        answer = world.api.get(path, params={"direction": "forward"}, key=world.key(who))
        assert answer.status_code == 200, answer.text
        graph = answer.json()
        assert TraceOut.model_validate(graph).hidden == graph["hidden"]
        hashes = {e["hash_id"] for e in graph["edges"] if e["hash_id"]}
        trail = _trail(world, "admin", world.item)["events"]
        followed = {e["event_id"] for e in trail if e["hash_id"] in hashes}
        assert _names(world, list(followed)) == SEES[who]
        assert graph["hidden"] == len(EVENTS) - len(SEES[who])
    scope = world.api.get(
        f"/identifiers/{quote(world.item, safe='')}/recall-scope", key=world.key(who)
    ).json()
    assert scope["hidden"] == len(EVENTS) - len(SEES[who])
    assert world.api.get(f"/trace/{quote(world.item, safe='')}").status_code == 401


@pytest.mark.parametrize("who", READERS)
def test_handle_values_need_a_visible_event(world: World, who: str) -> None:
    # The handle: the owner's private commissioning and supplier 2's linked observation.
    shared = world.api.get(f"/api/handles/{world.handle}", key=world.key(who))
    readable = who in ("public", "owner", "supplier_2", "admin")
    if readable:
        assert shared.status_code == 200, shared.text
        assert shared.json()["responseCode"] == 1
    else:
        assert problem(shared, 404, "not-found")["responseCode"] == 100
    # Only a private commissioning: unknown (as a handle never recorded) to all but the owner
    # and the admin.
    private = world.api.get(f"/api/handles/{world.private_handle}", key=world.key(who))
    if who in ("owner", "admin"):
        assert private.status_code == 200, private.text
    else:
        body = problem(private, 404, "not-found")
        never = problem(
            world.api.get(f"/api/handles/{world.handles}/NEVER", key=world.key(who)),
            404,
            "not-found",
        )
        assert {k: v for k, v in body.items() if k not in ("handle", "instance")} == {
            k: v for k, v in never.items() if k not in ("handle", "instance")
        } | {"detail": body["detail"], "message": body["message"]}


@pytest.mark.parametrize("who", ["public", "owner", "outsider"])
def test_a_linkset_says_nothing_about_events(world: World, who: str) -> None:
    def linkset(item: str) -> str:
        answer = world.api.get(item[len(DL) :], params={"linkType": "all"}, key=world.key(who))
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"].startswith("application/linkset+json")
        return re.sub(r"(/|%2F)21(/|%2F)[A-Z]\d+", "/21/X", answer.text)

    assert linkset(world.private_item) == linkset(world.unseen_item) == linkset(world.item)


def test_a_recalled_item_shows_its_recall_to_the_public(world: World) -> None:
    """The owner's events about the item are private, its recall notice public: the buyer's
    scan shows the recall and its reason, and nothing else the owner recorded."""
    api, owner = world.api, world.members["owner"]
    item = f"{DL}/01/{gtin(world.prefix, 5)}/21/R{world.prefix}"
    _record(api, owner, object_event(epcs=[item], action="ADD", biz_step="commissioning",
            disposition="active"), "private")  # fmt: skip
    answer = api.post(
        f"/identifiers/{quote(item, safe='')}/recall",
        json={"reason": "contaminated seal"},
        key=owner.key,
    )
    assert answer.status_code == 200, answer.text
    public = _trail(world, "public", item)
    assert public["verdict"] == "recalled"
    assert public["recall"]["reason"] == "contaminated seal"
    assert [e["event"].get("tracechain:recallReason") for e in public["events"]] == [
        "contaminated seal"
    ]
    assert [e["disclosure"] for e in public["events"]] == ["public"]
    assert len(_trail(world, "owner", item)["events"]) == 2
    state = api.get(f"/identifiers/{quote(item, safe='')}/recall").json()
    assert state["recalled"] is True
    assert state["reason"] == "contaminated seal"
    page = api.get(f"/identifiers/{quote(item, safe='')}", params={"format": "html"})
    assert "contaminated seal" in page.text
