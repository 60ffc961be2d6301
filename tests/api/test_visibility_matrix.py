"""THE proof of issue 13: who may see what, on every read path, for every kind of reader.

One ledger (module-scoped, an app and database of its own, the session devnet), four members:

- the **owner** (brand owner, holds the product's prefix): transforms the suppliers' input lots
  into its product lot ``LP``, commissions items carrying ``LP``, packs them into a ``case``,
  ships the case naming the retailer as ``owning_party`` in its ``destinationList``, commissions
  another lot ``LP2`` (``o_other``) and recalls ``LP`` (a public recall notice);
- **supplier A** and **supplier B** (competitors): each commissions its input lot (``LA``,
  ``LB``) and ships it to the owner;
- the **retailer**: receives the case.

The events, each captured in a document of its own with the visibility chosen for it:

==========  ============  ========  ========================================================
name        recorder      mode      about
==========  ============  ========  ========================================================
a_made      supplier A    private   commissioning of LA (quantity)
a_ship      supplier A    restr.    shipping LA; the owner named a reader explicitly
b_made      supplier B    linked    commissioning of LB
b_ship      supplier B    linked    shipping LB; the owner its destination ``owning_party``
transform   owner         linked    TransformationEvent: LA + LB (quantities) -> LP
o_made      owner         private   commissioning of items 1-3 of LP (``/10/LP/21/n``)
pack        owner         linked    AggregationEvent: the items into the case (SSCC)
o_ship      owner         restr.    shipping the case; the retailer its ``owning_party``
r_recv      retailer      public    receiving the case
o_other     owner         linked    commissioning of an item of another lot, LP2
recall      owner         public    the recall notice of LP (``POST .../recall``)
==========  ============  ========  ========================================================

Who is linked to what (the documented rule: a member is linked to the identifiers it recorded
events about and their lots, and one hop up or down through aggregation/transformation: "one
up, one down"): the owner to LA, LB, LP, the items, the case, LP2; supplier A to LA and, one
down, LP; supplier B to LB and LP; the retailer to the case and, one up (what was packed in
it), the items and LP. A supplier is **not** linked to its competitor's lot: LB is not up or
down from LA, it is a sibling input of the same transformation.

:data:`TABLE` is the expectation, written by hand from that rule: for each principal and event,
``F`` (reads it in full), ``P`` (may not read it, but the public may: trails show the brand
owner's public projection) or ``.`` (absent everywhere). Each read path turns it into its own
expected answer (:func:`expected`) and every (principal, path) cell asserts exact equality,
printing the events that differ. The principals: each member's recorder key, supplier A's
auditor key (reads as A), the admin key, an operator's auditor key (``POST /keys``), the
regulator's capability link (the owner's, for lot LP) and no key. The paths: ``GET /events``
(unfiltered, paged), ``GET /events/{id}`` of every event, ``GET /capture/{id}`` of every job,
``GET /trace/{LA}`` (events reached and ``hidden``), ``GET /export``, the trail JSON and page of
LA, LB, LP, the case and LP2, and the Digital Link resolver's trail of LP.

Supplier A reads nothing of its competitor B's lot LB although both lots went into the same
transformation: linking crosses a relationship (input to output), never to a sibling input.

Then: a grant (A -> the retailer, lot LA) and its revocation, expired and forged links, the
link outside its scope, the public trail of the recalled lot, and the linkset.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from urllib.parse import quote

import httpx
import pytest

from ledger.access import issue_link
from tests.api.conftest import ADMIN_KEY, Api, Member, admit, event_list, path_of
from tests.api.test_auth import problem
from tests.helpers import DL, document, gln, gtin, object_event, sscc, timestamp

T0: Final = datetime(2026, 4, 1, 8, 0, tzinfo=UTC)

# ------------------------------------------------------------------------- the expectation

EVENTS: Final = ("a_made", "a_ship", "b_made", "b_ship", "transform", "o_made", "pack",
                 "o_ship", "r_recv", "o_other", "recall")  # fmt: skip

#: Principal x event: F full, P the public projection (trails only), . absent.
#: ``regulator`` is a capability link the owner issued for lot LP; ``public`` has no key.
TABLE_TEXT: Final = """
                    a_made a_ship b_made b_ship transform o_made pack o_ship r_recv o_other recall
admin               F      F      F      F      F         F      F    F      F      F       F
operator_auditor    F      F      F      F      F         F      F    F      F      F       F
owner               .      F      F      F      F         F      F    F      F      F       F
supplier_a          F      F      P      P      F         .      F    .      F      P       F
supplier_a_auditor  F      F      P      P      F         .      F    .      F      P       F
supplier_b          .      .      F      F      F         .      F    .      F      P       F
retailer            .      .      P      P      F         .      F    F      F      P       F
regulator           .      .      P      P      F         F      F    .      P      P       F
public              .      .      P      P      P         .      P    .      P      P       P
"""


def _parse_table(text: str) -> dict[str, dict[str, str]]:
    header, *rows = [line.split() for line in text.strip().splitlines()]
    assert tuple(header) == EVENTS
    marks = {"F": "full", "P": "projected", ".": "absent"}
    return {row[0]: dict(zip(EVENTS, (marks[m] for m in row[1:]), strict=True)) for row in rows}


TABLE: Final = _parse_table(TABLE_TEXT)
PRINCIPALS: Final = tuple(TABLE)

#: Whose capture job stored each event (a member's keys open their member's jobs; the
#: operator's keys every job; a link or no key none).
JOB_OF: Final = {
    "a_made": "supplier_a", "a_ship": "supplier_a", "b_made": "supplier_b",
    "b_ship": "supplier_b", "transform": "owner", "o_made": "owner", "pack": "owner",
    "o_ship": "owner", "r_recv": "retailer", "o_other": "owner", "recall": "owner",
}  # fmt: skip
#: The member each principal reads as (None: the operator; absent: no member at all).
MEMBER_OF: Final[dict[str, str | None]] = {
    "admin": None, "operator_auditor": None, "owner": "owner", "supplier_a": "supplier_a",
    "supplier_a_auditor": "supplier_a", "supplier_b": "supplier_b", "retailer": "retailer",
}  # fmt: skip

#: The trails the matrix reads and the events each lists for a reader of everything (events
#: mentioning the identifier or an item of the lot).
TRAIL_OF: Final = {
    "LA": ("a_made", "a_ship", "transform"),
    "LB": ("b_made", "b_ship", "transform"),
    "LP": ("transform", "o_made", "pack", "recall"),
    "case": ("pack", "o_ship", "r_recv"),
    "LP2": ("o_other",),
}
#: The forward trace of LA reaches these events for a reader of everything (LA's own events,
#: the transformation to LP, LP's items and their packing, the case's shipment and receipt,
#: the recall of LP). Every path to the later ones passes the transformation and the packing,
#: which every key reads, so a reader reaches exactly what it reads of these and counts the
#: rest as hidden.
TRACE_OF_LA: Final = ("a_made", "a_ship", "transform", "o_made", "pack", "recall", "o_ship",
                      "r_recv")  # fmt: skip

#: Routes that need credentials: without a key they are a 401 problem.
SIGNED_IN_PATHS: Final = ("events", "event_by_id", "capture_jobs", "trace", "export")
PATHS: Final = (*SIGNED_IN_PATHS, "trail_json", "trail_html", "resolver")

Cell = dict[str, str]
UNAUTHORISED: Final[Cell] = {"status": "401 unauthorized"}


def expected(principal: str, path: str, row: Mapping[str, str] | None = None) -> Cell:
    """The answer of ``path`` to ``principal``, from its row of :data:`TABLE` alone (or
    ``row``, what it reads after a grant)."""
    row = TABLE[principal] if row is None else row
    full = {name for name, mark in row.items() if mark == "full"}
    if principal == "public" and path in SIGNED_IN_PATHS:
        return dict(UNAUTHORISED)
    if path in ("events", "event_by_id", "export"):
        return dict.fromkeys(sorted(full), "full")
    if path == "capture_jobs":
        if principal not in MEMBER_OF:
            return {}
        member = MEMBER_OF[principal]
        return {n: "full" for n, whose in JOB_OF.items() if member in (None, whose)}
    if path == "trace":
        cell = {name: "reached" for name in TRACE_OF_LA if name in full}
        return cell | {"hidden": str(len(TRACE_OF_LA) - len(cell))}
    trails = ("LP",) if path == "resolver" else tuple(TRAIL_OF)
    return {
        f"{trail}/{name}": row[name]
        for trail in trails
        for name in TRAIL_OF[trail]
        if row[name] != "absent"
    }


def _diff(want: Mapping[str, str], got: Mapping[str, str]) -> str:
    lines = [
        f"  {key}: expected {want.get(key, '-')}, got {got.get(key, '-')}"
        for key in sorted(want.keys() | got.keys())
        if want.get(key) != got.get(key)
    ]
    return "\n".join(lines)


# ------------------------------------------------------------------------------- the ledger


@dataclass
class World:
    """The app, the members, the credentials of each principal and what was recorded."""

    api: Api
    members: dict[str, Member]
    credentials: dict[str, str | None]
    #: Identifier names (LA, LB, LP, LP2, case, item1) -> Digital Link.
    ids: dict[str, str]
    #: Event name -> eventID (the recall notice: its hash ID).
    event_ids: dict[str, str] = field(default_factory=dict)
    #: Event name -> its Event Hash ID (ni:///...) and its hex hash.
    hash_ids: dict[str, str] = field(default_factory=dict)
    hashes: dict[str, str] = field(default_factory=dict)
    #: Event name -> the minute the trail page shows.
    minutes: dict[str, str] = field(default_factory=dict)
    #: Event name -> its capture job.
    jobs: dict[str, str] = field(default_factory=dict)
    #: The regulator's link (its answer to POST /links, token included).
    link: dict[str, Any] = field(default_factory=dict)

    def get(self, who: str, url: str, **kwargs: Any) -> httpx.Response:
        """GET ``url`` as ``who``."""
        return self.api.get(url, key=self.credentials[who], **kwargs)

    def name_of(self, *, event_id: str | None = None, hash_id: str | None = None) -> str:
        """The name of an event by its eventID or its hash ID (or hex hash)."""
        for name in EVENTS:
            if event_id is not None and self.event_ids.get(name) == event_id:
                return name
            if hash_id is not None and hash_id in (self.hash_ids[name], self.hashes[name]):
                return name
        raise AssertionError(f"an event this module did not record: {event_id or hash_id}")


def _at(minute: int) -> str:
    return timestamp(T0 + timedelta(minutes=minute))


def _party(member: Member) -> str:
    return f"{DL}/417/{gln(member.prefix, 9)}"


def _site(member: Member) -> str:
    return f"{DL}/414/{gln(member.prefix, 1)}"


def _capture(
    api: Api, member: Member, event: dict[str, Any], visibility: str, readers: tuple[str, ...] = ()
) -> str:
    """Capture ``event`` alone with ``visibility`` (and explicitly named readers); its job."""
    params: dict[str, Any] = {"visibility": visibility}
    if readers:
        params["reader"] = list(readers)
    answer = api.post(
        "/capture",
        content=json.dumps(document(event)),
        params=params,
        headers={"Content-Type": "application/ld+json"},
        key=member.key,
    )
    assert answer.status_code == 202, answer.text
    assert answer.json()["visibility"] == visibility
    job: str = answer.json()["captureID"]
    return job


#: The fields of a commissioning ObjectEvent.
MADE: Final = {"action": "ADD", "biz_step": "commissioning", "disposition": "active"}


def _object(minute: int, site: str, **fields: Any) -> dict[str, Any]:
    """An ObjectEvent at ``site``, ``minute`` minutes after :data:`T0` (shipping unless
    ``fields`` say otherwise)."""
    return object_event(location=site, event_time=_at(minute), time_zone_offset="+00:00",
                        **fields)  # fmt: skip


def _plan(
    m: dict[str, Member], ids: dict[str, str]
) -> list[tuple[str, str, dict[str, Any], str, tuple[str, ...]]]:
    """(name, recorder, event, visibility, explicitly named readers) in capture order."""
    owner, a, b, retailer = m["owner"], m["supplier_a"], m["supplier_b"], m["retailer"]
    items = [ids[f"item{n}"] for n in (1, 2, 3)]
    transform = {
        "type": "TransformationEvent", "eventTime": _at(4), "eventTimeZoneOffset": "+00:00",
        "inputQuantityList": [{"epcClass": ids["LA"], "quantity": 40, "uom": "KGM"},
                              {"epcClass": ids["LB"], "quantity": 60, "uom": "KGM"}],
        "outputQuantityList": [{"epcClass": ids["LP"], "quantity": 3}],
        "readPoint": {"id": _site(owner)},
    }  # fmt: skip
    pack = {
        "type": "AggregationEvent", "eventTime": _at(6), "eventTimeZoneOffset": "+00:00",
        "parentID": ids["case"], "childEPCs": items, "action": "ADD", "bizStep": "packing",
        "readPoint": {"id": _site(owner)},
    }  # fmt: skip
    to_owner = [{"type": "owning_party", "destination": _party(owner)}]
    to_retailer = [{"type": "owning_party", "destination": _party(retailer)}]
    # fmt: off
    return [
        ("a_made", "supplier_a", _object(0, _site(a), classes=[ids["LA"]], **MADE),
         "private", ()),
        ("a_ship", "supplier_a", _object(1, _site(a), classes=[ids["LA"]]),
         "restricted", (owner.org_id,)),
        ("b_made", "supplier_b", _object(2, _site(b), classes=[ids["LB"]], **MADE),
         "linked", ()),
        ("b_ship", "supplier_b", _object(3, _site(b), classes=[ids["LB"]],
                                         destinationList=to_owner),
         "linked", ()),
        ("transform", "owner", transform, "linked", ()),
        ("o_made", "owner", _object(5, _site(owner), epcs=items, **MADE), "private", ()),
        ("pack", "owner", pack, "linked", ()),
        ("o_ship", "owner", _object(7, _site(owner), epcs=[ids["case"]],
                                    destinationList=to_retailer),
         "restricted", ()),
        ("r_recv", "retailer", _object(8, _site(retailer), epcs=[ids["case"]],
                                       biz_step="receiving", disposition="in_progress"),
         "public", ()),
        ("o_other", "owner", _object(9, _site(owner), epcs=[ids["other_item"]], **MADE),
         "linked", ()),
    ]
    # fmt: on


def _trail(world: World, who: str, identifier: str) -> dict[str, Any]:
    answer = world.get(
        who, f"/identifiers/{quote(identifier, safe='')}", headers={"Accept": "application/json"}
    )
    assert answer.status_code == 200, answer.text
    data: dict[str, Any] = answer.json()
    return data


def _minute(iso: str) -> str:
    """An event time as the trail page shows it."""
    return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M UTC")


@pytest.fixture(scope="module")
def world(make_api: Callable[..., Api]) -> World:
    api = make_api()
    members = {
        "owner": admit(api, "Brand Owner"),
        "supplier_a": admit(api, "Supplier A", roles=("recorder", "auditor")),
        "supplier_b": admit(api, "Supplier B"),
        "retailer": admit(api, "Retailer"),
    }
    owner, a, b = members["owner"], members["supplier_a"], members["supplier_b"]
    lp = f"{DL}/01/{gtin(owner.prefix)}/10/LP{owner.prefix}"
    ids = {
        "LA": f"{DL}/01/{gtin(a.prefix)}/10/LA{a.prefix}",
        "LB": f"{DL}/01/{gtin(b.prefix)}/10/LB{b.prefix}",
        "LP": lp,
        **{f"item{n}": f"{lp}/21/{n}" for n in (1, 2, 3)},
        "case": f"{DL}/00/{sscc(owner.prefix, 1)}",
        "LP2": f"{DL}/01/{gtin(owner.prefix)}/10/LQ{owner.prefix}",
    }
    ids["other_item"] = f"{ids['LP2']}/21/9"  # (a serial of its own: items are GTIN + serial)
    world = World(api, members, {}, ids)
    for name, recorder, event, visibility, readers in _plan(members, ids):
        event["eventID"] = f"urn:uuid:{uuid.uuid4()}"
        world.event_ids[name] = event["eventID"]
        world.jobs[name] = _capture(api, members[recorder], event, visibility, readers)
    recalled = api.post(
        f"/identifiers/{quote(lp, safe='')}/recall", json={"reason": "seal may leak"},
        key=owner.key,
    )  # fmt: skip
    assert recalled.status_code == 200, recalled.text
    jobs = api.get("/capture", params={"perPage": 1}, key=owner.key).json()
    world.jobs["recall"] = jobs[0]["captureID"]
    api.drain()

    auditor = api.post("/keys", json={"role": "auditor", "label": "matrix"}, key=ADMIN_KEY)
    assert auditor.status_code == 201, auditor.text
    link = api.post("/links", json={"scope_kind": "lot", "scope": lp, "label": "regulator"},
                    key=owner.key)  # fmt: skip
    assert link.status_code == 201, link.text
    world.link = link.json()
    world.credentials = {
        "admin": ADMIN_KEY,
        "operator_auditor": auditor.json()["key"],
        "owner": owner.key,
        "supplier_a": a.key,
        "supplier_a_auditor": a.auditor_key,
        "supplier_b": b.key,
        "retailer": members["retailer"].key,
        "regulator": world.link["token"],
        "public": None,
    }
    # Each event's hashes and the minute its page row shows, as the admin reads them.
    for trail in ("LA", "LB", "LP", "case", "LP2"):
        for entry in _trail(world, "admin", ids[trail])["events"]:
            name = next((n for n, e in world.event_ids.items() if e == entry["event_id"]), "recall")
            if name == "recall":
                assert entry["event"]["tracechain:recallReason"] == "seal may leak"
                world.event_ids.setdefault("recall", entry["hash_id"])
            world.hash_ids[name] = entry["hash_id"]
            world.minutes[name] = _minute(entry["event_time"])
    bundle = api.get("/export", params={"from": "2026-01-01T00:00:00Z"}, key=ADMIN_KEY).json()
    for entry in bundle["events"]:
        event_id = entry["event"].get("eventID")
        name = next((n for n, e in world.event_ids.items() if e == event_id), "recall")
        world.hashes[name] = entry["event_hash"]
    assert set(world.hash_ids) == set(world.hashes) == set(EVENTS)
    assert len(set(world.minutes.values())) == len(EVENTS)
    return world


# ------------------------------------------------------------------------------ the paths


def _refused(answer: httpx.Response) -> Cell | None:
    """The cell of a 401 problem (None for any other answer)."""
    if answer.status_code != 401:
        return None
    problem(answer, 401, "unauthorized")
    return dict(UNAUTHORISED)


def read_events(world: World, who: str) -> Cell:
    """``GET /events`` with no filter (it would return every event), two a page, following
    the ``Link`` header."""
    seen: list[str] = []
    url: str | None = "/events?perPage=2"
    while url is not None:
        answer = world.get(who, url)
        if (refused := _refused(answer)) is not None:
            return refused
        assert answer.status_code == 200, answer.text
        seen += [world.name_of(event_id=e["eventID"]) for e in event_list(answer.json())]
        link = answer.headers.get("Link")
        url = path_of(link[1 : link.index(">")]) if link else None
    assert len(seen) == len(set(seen)), seen
    return dict.fromkeys(sorted(seen), "full")


def read_event_by_id(world: World, who: str) -> Cell:
    """``GET /events/{id}`` of every event: found (the event itself), or a 404 exactly like an
    event that does not exist."""
    missing = world.get(who, f"/events/{quote(f'urn:uuid:{uuid.uuid4()}', safe='')}")
    if (refused := _refused(missing)) is not None:
        return refused
    nothing = problem(missing, 404, "not-found")
    cell: Cell = {}
    for name in EVENTS:
        answer = world.get(who, f"/events/{quote(world.event_ids[name], safe='')}")
        if answer.status_code == 404:
            body = problem(answer, 404, "not-found")
            assert (body["type"], body["title"]) == (nothing["type"], nothing["title"])
            continue
        assert answer.status_code == 200, answer.text
        (event,) = event_list(answer.json())
        assert event.get("eventID", world.event_ids[name]) == world.event_ids[name]
        cell[name] = "full"
    return cell


def read_capture_jobs(world: World, who: str) -> Cell:
    """``GET /capture/{id}`` of every job: the events of the jobs the key opens (each job
    lists its event's eventID); another member's job is a 404."""
    cell: Cell = {}
    for name in EVENTS:
        answer = world.get(who, f"/capture/{world.jobs[name]}")
        if (refused := _refused(answer)) is not None:
            return refused
        if answer.status_code == 404:
            problem(answer, 404, "not-found")
            continue
        assert answer.status_code == 200, answer.text
        listed = answer.json()["eventIDs"]
        assert len(listed) == 1, listed
        assert world.name_of(event_id=listed[0], hash_id=listed[0]) == name
        cell[name] = "full"
    return cell


def read_trace(world: World, who: str) -> Cell:
    """``GET /trace/{LA}`` forward: the events whose edges it shows, and ``hidden``."""
    answer = world.get(who, f"/trace/{quote(world.ids['LA'], safe='')}",
                       params={"direction": "forward"})  # fmt: skip
    if (refused := _refused(answer)) is not None:
        return refused
    assert answer.status_code == 200, answer.text
    graph = answer.json()
    reached = {world.name_of(hash_id=e["hash_id"]) for e in graph["edges"] if e["hash_id"]}
    return dict.fromkeys(sorted(reached), "reached") | {"hidden": str(graph["hidden"])}


def read_export(world: World, who: str) -> Cell:
    """``GET /export`` of every event time: the events of the bundle, by their hashes."""
    answer = world.get(who, "/export", params={"from": "2026-01-01T00:00:00Z"})
    if (refused := _refused(answer)) is not None:
        return refused
    assert answer.status_code == 200, answer.text
    bundle = answer.json()
    names = [world.name_of(hash_id=e["event_hash"]) for e in bundle["events"]]
    assert len(names) == len(set(names))
    held = {digest for batch in bundle["batches"].values() for digest in batch["events"]}
    assert held == {e["event_hash"] for e in bundle["events"]}
    return dict.fromkeys(sorted(names), "full")


def _trail_cell(world: World, trail: str, data: dict[str, Any]) -> Cell:
    cell: Cell = {}
    for entry in data["events"]:
        name = world.name_of(hash_id=entry["hash_id"])
        assert entry["disclosure"] in ("full", "public"), entry
        cell[f"{trail}/{name}"] = "full" if entry["disclosure"] == "full" else "projected"
        if entry["disclosure"] == "public":
            assert entry["verification"]["status"] == "verified"
            assert "identifiers" in entry["withheld"]
    return cell


def read_trail_json(world: World, who: str) -> Cell:
    """The trail JSON of LA, LB, LP, the case and LP2: which events each lists, and whether
    in full or as the public projection."""
    cell: Cell = {}
    for trail in TRAIL_OF:
        cell |= _trail_cell(world, trail, _trail(world, who, world.ids[trail]))
    return cell


_ROW = re.compile(
    r'<li class="event [^"]*" data-disclosure="(full|public)">.*?'
    r'<span translate="no">([^<]*)</span>',
    re.DOTALL,
)


def read_trail_html(world: World, who: str) -> Cell:
    """The trail pages of the same identifiers: each row's event (by the minute it shows) and
    whether it is marked a public summary."""
    by_minute = {minute: name for name, minute in world.minutes.items()}
    cell: Cell = {}
    for trail in TRAIL_OF:
        answer = world.get(who, f"/identifiers/{quote(world.ids[trail], safe='')}",
                           params={"format": "html", "lang": "en"})  # fmt: skip
        assert answer.status_code == 200, answer.text
        rows = _ROW.findall(answer.text)
        assert len(rows) == answer.text.count('<li class="event'), answer.text
        for disclosure, minute in rows:
            name = by_minute[minute]
            cell[f"{trail}/{name}"] = "full" if disclosure == "full" else "projected"
    return cell


def read_resolver(world: World, who: str) -> Cell:
    """The Digital Link resolver's traceability link of LP (its trail)."""
    answer = world.get(who, world.ids["LP"][len(DL) :], params={"linkType": "gs1:traceability"})
    assert answer.status_code == 200, answer.text
    return _trail_cell(world, "LP", answer.json())


READ: Final[dict[str, Callable[[World, str], Cell]]] = {
    "events": read_events,
    "event_by_id": read_event_by_id,
    "capture_jobs": read_capture_jobs,
    "trace": read_trace,
    "export": read_export,
    "trail_json": read_trail_json,
    "trail_html": read_trail_html,
    "resolver": read_resolver,
}


# ------------------------------------------------------------------------------ the matrix


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("who", PRINCIPALS)
def test_matrix(world: World, who: str, path: str) -> None:
    """Each (principal, path) cell answers exactly what :data:`TABLE` says."""
    want, got = expected(who, path), READ[path](world, who)
    assert got == want, f"{who} on {path}:\n{_diff(want, got)}"


# --------------------------------------------------------------------- grants and links


def test_a_grant_shows_exactly_its_events_until_revoked(world: World) -> None:
    """Supplier A grants the retailer its lot LA: the retailer reads A's two events about LA
    (the private commissioning, the restricted shipment) on every path at once, nothing else
    changes, and the revocation takes them away again."""
    a, retailer = world.members["supplier_a"], world.members["retailer"]
    paths = ("events", "event_by_id", "export", "trail_json", "trail_html")
    granted = TABLE["retailer"] | {"a_made": "full", "a_ship": "full"}
    answer = world.api.post(
        "/grants",
        json={"grantee": retailer.org_id, "scope_kind": "lot", "scope": world.ids["LA"]},
        key=a.key,
    )
    assert answer.status_code == 201, answer.text
    try:
        for path in paths:
            want, got = expected("retailer", path, granted), READ[path](world, "retailer")
            assert got == want, f"granted, {path}:\n{_diff(want, got)}"
        # Nobody else's view changed.
        for who in ("supplier_b", "public"):
            want, got = expected(who, "trail_json"), read_trail_json(world, who)
            assert got == want, f"{who}:\n{_diff(want, got)}"
    finally:
        revoked = world.api.delete(f"/grants/{answer.json()['id']}", key=a.key)
        assert revoked.status_code == 204, revoked.text
    for path in paths:
        want, got = expected("retailer", path), READ[path](world, "retailer")
        assert got == want, f"revoked, {path}:\n{_diff(want, got)}"


def _forged(token: str) -> str:
    return token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")


def test_expired_and_forged_links_are_401_problems(world: World) -> None:
    past = datetime.now(UTC) - timedelta(days=10)
    _, expired = issue_link(
        world.api.services.engine,
        issuer_id=None,
        issued_by="test",
        scope_kind="lot",
        scope=world.ids["LP"],
        expires_at=past + timedelta(days=1),
        now=past,
    )
    urls = [
        "/events",
        f"/events/{quote(world.event_ids['pack'], safe='')}",
        f"/trace/{quote(world.ids['LP'], safe='')}",
        "/export?from=2026-01-01T00:00:00Z",
        f"/identifiers/{quote(world.ids['LP'], safe='')}",  # a public route: still refused
    ]
    for token, says in ((expired, "expired"), (_forged(world.link["token"]), None)):
        for url in urls:
            for how in ({"params": {"access": token}}, {"key": token}):
                answer = world.api.get(url, **how)
                body = problem(answer, 401, "invalid-credentials")
                assert "access" in {error["field"] for error in body["errors"]}
                if says is not None:
                    assert says in body["detail"]


def test_a_link_outside_its_scope_sees_nothing(world: World) -> None:
    """The regulator's link (lot LP) asked about another lot of the same owner and product:
    no event, no bundle, no trace through it; its trail is the public's, every event a
    projection."""
    other, item = world.event_ids["o_other"], world.ids["other_item"]
    problem(world.get("regulator", f"/events/{quote(other, safe='')}"), 404, "not-found")
    for params in ({"MATCH_epc": item}, {"MATCH_anyEPCClass": world.ids["LP2"]},
                   {"EQ_bizStep": "commissioning", "MATCH_epc": item}):  # fmt: skip
        answer = world.get("regulator", "/events", params=params)
        assert answer.status_code == 200, answer.text
        assert event_list(answer.json()) == [], params
    bundle = world.get("regulator", "/export", params={"identifier": item})
    assert bundle.status_code == 200, bundle.text
    assert bundle.json()["events"] == []
    graph = world.get("regulator", f"/trace/{quote(item, safe='')}").json()
    assert [e for e in graph["edges"] if e["hash_id"]] == []
    assert graph["hidden"] == 1
    for trail in ("LP2", "other_item"):
        seen = _trail(world, "regulator", world.ids[trail])["events"]
        assert [e["disclosure"] for e in seen] == ["public"]
        assert seen == _trail(world, "public", world.ids[trail])["events"]
    # Within its scope the ready URL (?access=) reads what the bearer token reads.
    ready = world.api.get(path_of(world.link["url"]))
    assert ready.status_code == 200, ready.text
    names = {world.name_of(event_id=e["eventID"]) for e in event_list(ready.json())}
    assert dict.fromkeys(sorted(names), "full") == expected("regulator", "events")
    # Every use was logged for the owner who issued it, the token nowhere.
    uses = world.api.get(f"/links/{world.link['id']}/uses", key=world.members["owner"].key)
    assert uses.status_code == 200, uses.text
    assert {u["status"] for u in uses.json()} >= {200, 404}
    assert world.link["token"] not in uses.text


# --------------------------------------------------------------------------- the recall


def test_the_public_trail_of_the_recalled_lot_is_the_recall_and_projections(
    world: World,
) -> None:
    """A buyer scanning LP (or one of its items) reads the recall and its reason, and of the
    rest only the public projection: when, which step, and where the owner made it (its
    transformation commissions LP); no supplier, supplier lot or site, case, party or
    quantity."""
    for trail in ("LP", "item1"):
        data = _trail(world, "public", world.ids[trail])
        assert data["verdict"] == "recalled"
        assert data["recall"]["recalled"] is True
        assert data["recall"]["reason"] == "seal may leak"
        assert {e["disclosure"] for e in data["events"]} == {"public"}
    data = _trail(world, "public", world.ids["LP"])
    by_name = {world.name_of(hash_id=e["hash_id"]): e for e in data["events"]}
    assert list(by_name) == ["transform", "pack", "recall"]
    owner_site = f"{DL}/414/{gln(world.members['owner'].prefix, 1)}"
    assert by_name["transform"]["event"]["readPoint"] == {"id": owner_site}
    assert "readPoint" not in by_name["pack"]["event"]
    assert by_name["recall"]["event"]["tracechain:recallReason"] == "seal may leak"
    text = json.dumps(data)
    a, b = world.members["supplier_a"], world.members["supplier_b"]
    sites = [gln(member.prefix, 1) for member in (a, b)]
    for secret in (world.ids["LA"], world.ids["LB"], world.ids["case"], "quantityList",
                   *(f"/414/{site}" for site in sites), *(f"GLN {site}" for site in sites),
                   a.name, b.name):  # fmt: skip
        assert secret not in text, secret
    page = world.api.get(
        f"/identifiers/{quote(world.ids['LP'], safe='')}", params={"format": "html", "lang": "en"}
    ).text
    assert 'id="recall-banner"' in page
    assert "seal may leak" in page
    assert page.count('data-disclosure="public"') == 3
    assert 'data-disclosure="full"' not in page


def test_the_linkset_is_the_same_for_every_reader(world: World) -> None:
    """A Digital Link's linkset names links, never events: every principal gets the same."""
    answers = {
        who: world.get(who, world.ids["LP"][len(DL) :], params={"linkType": "all"})
        for who in PRINCIPALS
    }
    for who, answer in answers.items():
        assert answer.status_code == 200, (who, answer.text)
        assert answer.headers["content-type"].startswith("application/linkset+json")
    assert len({answer.text for answer in answers.values()}) == 1
