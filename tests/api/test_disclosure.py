"""The public projection on the buyer's trail, and the brand owner's disclosure rules
(``PUT/GET/DELETE /disclosure``).

Four members on an app of their own: a brand owner, a supplier, a retailer and an outsider who
recorded nothing. About one item of the owner's: the owner's commissioning (with its lot's
master data and its site), the supplier's shipment to the retailer (quantities, parties, a
purchase order, a price extension) and the retailer's public receipt, all anchored. The public
reads every event as the owner's projection; the retailer, a linked partner, reads the shipment
in full; the outsider's key never sees less than the public. The owner's rules change what the
public sees at the next read; no other member may set them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest

from tests.api.conftest import ADMIN_KEY, Api, Member, admit
from tests.api.test_auth import problem
from tests.helpers import document, gln, gtin, object_event

DL = "https://id.gs1.org"
#: What the default projection shows of an event that is not the owner's commissioning.
WHEN_AND_STEP = {"type", "eventID", "eventTime", "eventTimeZoneOffset", "recordTime", "action",
                 "bizStep", "disposition"}  # fmt: skip
ALL_GROUPS = ["when", "step", "place", "lot", "identifiers", "quantity", "parties",
              "transactions", "sensors", "extensions"]  # fmt: skip


@dataclass
class World:
    api: Api
    owner: Member
    supplier: Member
    retailer: Member
    outsider: Member
    item: str
    gtin: str
    #: Event name -> eventID.
    events: dict[str, str]


def _uuid(n: int) -> str:
    return f"urn:uuid:{n:08x}-0000-4000-8000-{n:012x}"


def _record(api: Api, member: Member, event: dict[str, Any], visibility: str) -> None:
    doc = document(event)
    doc["@context"] = [*doc["@context"], {"ex": "https://example.com/ns/"}]
    answer = api.post(
        "/capture",
        content=json.dumps(doc),
        headers={"Content-Type": "application/ld+json", "GS1-Visibility": visibility},
        key=member.key,
    )
    assert answer.status_code == 202, answer.text


@pytest.fixture(scope="module")
def world(make_api: Callable[..., Api]) -> World:
    api = make_api()
    owner = admit(api, "Brand Owner")
    supplier, retailer, outsider = (admit(api, n) for n in ("Supplier", "Retailer", "Outsider"))
    base = int(owner.prefix) * 10
    product = f"{DL}/01/{gtin(owner.prefix, 3)}"
    item = f"{product}/21/D{base}"
    events = {name: _uuid(base + n) for n, name in enumerate(("made", "shipped", "received"))}
    _record(api, owner, object_event(
        epcs=[item], action="ADD", biz_step="commissioning", disposition="active",
        read_point=f"{DL}/414/{gln(owner.prefix, 1)}", eventID=events["made"],
        ilmd={"cbvmda:lotNumber": "L7", "cbvmda:itemExpirationDate": "2028-05-01"},
    ), "linked")  # fmt: skip
    _record(api, supplier, object_event(
        epcs=[item], classes=[product], biz_step="shipping", disposition="in_transit",
        location=f"{DL}/414/{gln(supplier.prefix, 1)}", eventID=events["shipped"],
        bizTransactionList=[{"type": "po", "bizTransaction": "urn:example:po:PO4711X"}],
        sourceList=[{"type": "owning_party", "source": f"{DL}/417/{gln(supplier.prefix, 9)}"}],
        destinationList=[{"type": "owning_party",
                          "destination": f"{DL}/417/{gln(retailer.prefix, 9)}"}],
        **{"ex:price": "12.50 CNY"},
    ), "linked")  # fmt: skip
    _record(api, retailer, object_event(
        epcs=[item], biz_step="receiving", disposition="in_progress",
        read_point=f"{DL}/414/{gln(retailer.prefix, 1)}", eventID=events["received"],
    ), "public")  # fmt: skip
    api.drain()
    return World(api, owner, supplier, retailer, outsider, item, product, events)


def _trail(world: World, key: str | None = None, item: str | None = None) -> dict[str, Any]:
    answer = world.api.get(
        f"/identifiers/{quote(item or world.item, safe='')}",
        headers={"Accept": "application/json"},
        key=key,
    )
    assert answer.status_code == 200, answer.text
    data: dict[str, Any] = answer.json()
    return data


def _by_name(world: World, data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    names = {event_id: name for name, event_id in world.events.items()}
    return {names[e["event_id"]]: e for e in data["events"] if e["event_id"] in names}


def _fields(body: dict[str, Any]) -> set[str]:
    """The fields a problem names."""
    return {error.get("field") for error in body["errors"]}


def _put(world: World, body: dict[str, Any], key: str | None = None) -> Any:
    return world.api.request("PUT", "/disclosure", json=body, key=key or world.owner.key)


@pytest.fixture
def clean(world: World) -> Any:
    """Delete every rule of the owner after the test."""
    yield
    for rule in world.api.get("/disclosure", key=world.owner.key).json()["rules"]:
        answer = world.api.delete(f"/disclosure/{rule['id']}", key=world.owner.key)
        assert answer.status_code == 204, answer.text


def test_the_public_reads_the_default_projection(world: World) -> None:
    data = _trail(world)
    assert data["verdict"] == "verified"
    events = _by_name(world, data)
    assert set(events) == {"made", "shipped", "received"}
    for name, event in events.items():
        assert event["disclosure"] == "public", name
        # The always-public core: type, recorder, hash ID, anchor and proof, the verdict.
        check = event["verification"]
        assert check["status"] == "verified"
        assert check["recorder"]["org_id"]
        assert check["anchor"]["root"]
        assert check["anchor"]["proof"] is not None
        assert event["hash_id"].startswith("ni:///")
        assert event["event_time"] is not None
    # The owner's own commissioning: also where and which lot.
    made = events["made"]
    assert set(made["event"]) == WHEN_AND_STEP - {"recordTime"} | {"readPoint", "ilmd"}
    assert made["withheld"] == ["identifiers", "quantity", "parties", "transactions", "sensors",
                                "extensions"]  # fmt: skip
    assert data["product"]["expiry_date"] == "2028-05-01"
    assert data["product"]["made_at"] == f"GLN {gln(world.owner.prefix, 1)}"
    # The supplier's shipment: when and which step, nothing of its parties, quantities,
    # order, price or site.
    shipped = events["shipped"]
    assert set(shipped["event"]) <= WHEN_AND_STEP
    assert shipped["event"]["bizStep"] == "shipping"
    assert shipped["read_point"] is shipped["biz_location"] is None
    assert shipped["withheld"] == ALL_GROUPS[2:]
    text = json.dumps(data)
    secrets = ("PO4711X", "12.50 CNY", gln(world.supplier.prefix, 9),
               gln(world.retailer.prefix, 9), gln(world.supplier.prefix, 1),
               gln(world.retailer.prefix, 1))  # fmt: skip
    for secret in secrets:
        assert secret not in text, secret


def test_a_linked_partner_reads_the_shipment_in_full(world: World) -> None:
    shipped = _by_name(world, _trail(world, world.retailer.key))["shipped"]
    assert shipped["disclosure"] == "full"
    assert shipped["withheld"] == []
    assert shipped["event"]["quantityList"] == [{"epcClass": world.gtin, "quantity": 10}]
    assert shipped["event"]["ex:price"] == "12.50 CNY"
    assert shipped["event"]["destinationList"][0]["destination"].endswith(
        gln(world.retailer.prefix, 9)
    )


def test_a_key_linked_to_nothing_sees_no_less_than_the_public(world: World) -> None:
    public = _trail(world)
    outsider = _trail(world, world.outsider.key)
    assert [e["hash_id"] for e in outsider["events"]] == [e["hash_id"] for e in public["events"]]
    for mine, theirs in zip(outsider["events"], public["events"], strict=True):
        if mine["event_id"] == world.events["received"]:  # public: every member reads it
            assert mine["disclosure"] == "full"
        else:
            assert mine == theirs


def test_the_owner_chooses_what_the_public_sees(world: World, clean: Any) -> None:
    before = _trail(world)
    assert _trail(world) == before  # (from the cache)
    # The supplier's object events of this GTIN: where too, still no parties.
    body = {"scope_kind": "class", "scope": world.item, "recorder": world.supplier.org_id,
            "event_type": "ObjectEvent", "fields": ["when", "step", "place"]}  # fmt: skip
    created = _put(world, body)
    assert created.status_code == 201, created.text
    rule = created.json()
    assert rule["scope_key"] == world.gtin  # an item names its GTIN
    assert rule["owner"] == world.owner.org_id
    assert created.headers["Location"] == f"/disclosure/{rule['id']}"
    # A prefix-wide rule for every other event: only the step.
    wide = _put(world, {"scope_kind": "prefix", "scope": world.owner.prefix, "fields": ["step"]})
    assert wide.status_code == 201, wide.text
    assert wide.json()["scope_key"] == f"gs1:{world.owner.prefix}"
    events = _by_name(world, _trail(world))
    shipped = events["shipped"]
    assert set(shipped["event"]) <= WHEN_AND_STEP | {"readPoint", "bizLocation"}
    assert shipped["event"]["readPoint"] == {"id": f"{DL}/414/{gln(world.supplier.prefix, 1)}"}
    assert shipped["read_point"] == f"{DL}/414/{gln(world.supplier.prefix, 1)}"
    assert "sourceList" not in shipped["event"]
    assert "quantity" in shipped["withheld"]
    received = events["received"]
    assert set(received["event"]) == {"type", "eventID", "action", "bizStep", "disposition"}
    assert received["event_time"] is None
    assert "when" in received["withheld"]
    # Replacing a rule (same scope, recorder and type) keeps its id.
    body["fields"] = ["when", "step", "parties", "quantity"]
    replaced = _put(world, body)
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["id"] == rule["id"]
    assert replaced.json()["fields"] == ["when", "step", "quantity", "parties"]
    shipped = _by_name(world, _trail(world))["shipped"]
    assert shipped["event"]["quantityList"] == [{"epcClass": world.gtin, "quantity": 10}]
    assert "readPoint" not in shipped["event"]
    assert "bizTransactionList" not in shipped["event"]
    listed = world.api.get("/disclosure", key=world.owner.key).json()
    assert [r["id"] for r in listed["rules"]] == [rule["id"], wide.json()["id"]]
    assert listed["default"] == {"fields": ["when", "step"], "commissioning": ["place", "lot"]}
    # Deleting the rules brings back the default.
    for found in listed["rules"]:
        assert world.api.delete(f"/disclosure/{found['id']}", key=world.owner.key).status_code == (
            204
        )
    assert _trail(world) == before


def test_the_page_marks_projected_events_in_both_languages(world: World) -> None:
    path = f"/identifiers/{quote(world.item, safe='')}"
    english = world.api.get(path, params={"format": "html", "lang": "en"}).text
    assert english.count('data-disclosure="public"') == 3
    assert "Public summary" in english
    assert "Not shown publicly" in english
    assert "quantities, parties, transactions" in english
    assert 'id="disclosure-note"' in english
    assert gln(world.supplier.prefix, 1) not in english
    assert f"GLN {gln(world.owner.prefix, 1)}" in english
    chinese = world.api.get(path, params={"format": "html", "lang": "zh"}).text
    assert chinese.count('data-disclosure="public"') == 3
    assert "公开摘要" in chinese
    assert "未公开" in chinese
    assert "数量、交易方" in chinese
    # The linked partner's page: the shipment in full, its site shown.
    partner = world.api.get(
        path, params={"format": "html", "lang": "en"}, key=world.retailer.key
    ).text
    assert partner.count('data-disclosure="full"') == 3
    assert f"GLN {gln(world.supplier.prefix, 1)}" in partner
    assert 'id="disclosure-note"' not in partner


def test_only_the_brand_owner_sets_its_rules(world: World, clean: Any) -> None:
    body = {"scope_kind": "class", "scope": world.gtin, "fields": list(ALL_GROUPS)}
    assert _fields(problem(_put(world, body, world.supplier.key), 403, "forbidden")) == {"scope"}
    prefix = {"scope_kind": "prefix", "scope": world.owner.prefix, "fields": ["when"]}
    assert problem(_put(world, prefix, world.supplier.key), 403, "forbidden")
    assert problem(_put(world, body, ADMIN_KEY), 403, "wrong-role")
    no_key = world.api.request("PUT", "/disclosure", json=body)
    assert no_key.status_code == 401
    # A member may set rules for its own products only; nothing changed for the public.
    assert world.api.get("/disclosure", key=world.supplier.key).json()["rules"] == []
    assert all(e["disclosure"] == "public" for e in _trail(world)["events"])
    assert "quantityList" not in json.dumps(_trail(world))
    # Another member's rule is answered as one that does not exist.
    mine = _put(world, {**body, "fields": ["when"]})
    assert mine.status_code == 201, mine.text
    gone = world.api.delete(f"/disclosure/{mine.json()['id']}", key=world.supplier.key)
    assert problem(gone, 404, "not-found")
    assert [r["id"] for r in world.api.get("/disclosure", key=world.owner.key).json()["rules"]] == [
        mine.json()["id"]
    ]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"fields": ["when", "price"]}, "fields[1]"),
        ({"commissioning": ["everything"]}, "commissioning[0]"),
        ({"event_type": "Shipment"}, "event_type"),
        ({"scope_kind": "lot"}, "scope_kind"),
        ({"scope": "not an identifier"}, "scope"),
        ({"recorder": "0x" + "e" * 64}, "recorder"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_rules_are_422_naming_the_field(
    world: World, change: dict[str, Any], field: str
) -> None:
    body = {"scope_kind": "class", "scope": world.gtin, "fields": ["when"], **change}
    answer = _put(world, body)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert field in _fields(answer.json()), answer.json()


def test_a_recalled_lot_shows_its_recall_in_the_projection(world: World) -> None:
    api, owner = world.api, world.owner
    lot = f"{DL}/01/{gtin(owner.prefix, 4)}/10/RL{owner.prefix}"
    item = f"{DL}/01/{gtin(owner.prefix, 4)}/10/RL{owner.prefix}/21/1"
    _record(api, owner, object_event(epcs=[item], action="ADD", biz_step="commissioning",
                                     disposition="active"), "private")  # fmt: skip
    recalled = api.post(
        f"/identifiers/{quote(lot, safe='')}/recall",
        json={"reason": "seal may leak"},
        key=owner.key,
    )
    assert recalled.status_code == 200, recalled.text
    for identifier in (lot, item):
        public = _trail(world, item=identifier)
        assert public["verdict"] == "recalled"
        assert public["recall"]["recalled"] is True
        assert public["recall"]["reason"] == "seal may leak"
    notice = _trail(world, item=lot)["events"]
    assert [e["disclosure"] for e in notice] == ["public"]
    assert notice[0]["event"]["tracechain:recallReason"] == "seal may leak"
    page = api.get(f"/identifiers/{quote(item, safe='')}", params={"format": "html"}).text
    assert "seal may leak" in page
    assert 'id="recall-banner"' in page
