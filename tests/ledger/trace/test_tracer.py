"""Traces through a real SQLite ledger: a 3-level supply chain captured through the real parser
and store (ingredient lots -> transformation -> cases -> pallets -> two retailers)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from defusedxml.ElementTree import fromstring
from sqlalchemy.engine import Engine

from ledger.errors import InvalidInputError
from ledger.events import parse_document
from ledger.store.capture import capture_events
from ledger.store.indexing import index_identifier
from ledger.store.repository import create_organisation
from ledger.trace import (
    Tracer,
    identifier_type,
    recall_scope,
    render_svg,
    trace,
)
from tests.ledger.conftest import document

DL = "https://id.gs1.org"
T0 = datetime(2026, 2, 1, 6, 0, tzinfo=UTC)


def check_digit(digits: str) -> str:
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return str((10 - total % 10) % 10)


def gtin(prefix: str, item: int) -> str:
    body = "0" + prefix + f"{item:05d}"
    return body + check_digit(body)


def gln(prefix: str, location: int) -> str:
    body = prefix + f"{location:05d}"
    return body + check_digit(body)


def sscc(prefix: str, serial: int) -> str:
    body = "0" + prefix + f"{serial:09d}"
    return body + check_digit(body)


@dataclass
class SupplyChain:
    """Identifiers and sites of the supply chain, canonical forms."""

    orgs: dict[str, int]
    lots: dict[str, str] = field(default_factory=dict)
    #: Canonical items (the lot is dropped: the serial identifies them) ...
    items: dict[str, list[str]] = field(default_factory=dict)
    #: ... and as the events write them (with the lot, so their class is the lot).
    written: dict[str, list[str]] = field(default_factory=dict)
    cases: dict[str, str] = field(default_factory=dict)
    pallets: dict[str, str] = field(default_factory=dict)
    sites: dict[str, str] = field(default_factory=dict)
    bag: str = ""
    event_count: int = 0


class Recorder:
    """Builds events one minute apart and captures them for a member."""

    def __init__(self, engine: Engine, chain: SupplyChain) -> None:
        self.engine = engine
        self.chain = chain
        self.minute = 0

    def when(self) -> dict[str, str]:
        self.minute += 1
        moment = T0 + timedelta(minutes=self.minute)
        return {
            "eventTime": moment.isoformat().replace("+00:00", "Z"),
            "eventTimeZoneOffset": "+00:00",
        }

    def capture(self, org: str, *events: dict[str, Any]) -> None:
        parsed = parse_document(document(list(events)), "application/ld+json")
        capture_events(self.engine, parsed, organisation_id=self.chain.orgs[org])
        self.chain.event_count += len(events)


def site_of(chain: SupplyChain, name: str) -> dict[str, str]:
    return {"id": chain.sites[name]}


def build_supply_chain(
    engine: Engine, orgs: dict[str, int], prefix: str = "0614141"
) -> SupplyChain:
    """Capture the whole supply chain for the members in ``orgs`` (keys: supplier_a,
    supplier_b, factory, distributor, retailer_1, retailer_2)."""
    chain = SupplyChain(orgs=orgs)
    rec = Recorder(engine, chain)
    for n, name in enumerate(
        ["supplier_a", "supplier_b", "factory", "dc", "retailer_1", "retailer_2"]
    ):
        chain.sites[name] = f"{DL}/414/{gln(prefix, 100 + n)}"
    flour, sugar, cocoa = gtin(prefix, 11), gtin(prefix, 12), gtin(prefix, 13)
    cake, biscuit = gtin(prefix, 21), gtin(prefix, 22)
    chain.lots = {
        "flour_1": f"{DL}/01/{flour}/10/F1",
        "flour_2": f"{DL}/01/{flour}/10/F2",
        "sugar": f"{DL}/01/{sugar}/10/S1",
        "cocoa": f"{DL}/01/{cocoa}/10/C1",
        "cake": f"{DL}/01/{cake}/10/P1",
        "biscuit": f"{DL}/01/{biscuit}/10/P2",
    }
    # One serialised cocoa bag of lot C1 (its lot is consumed by quantity below).
    chain.bag = f"{DL}/01/{cocoa}/21/BAG1"
    bag_with_lot = f"{DL}/01/{cocoa}/10/C1/21/BAG1"

    def quantity(lot: str, amount: int = 100) -> dict[str, Any]:
        return {"epcClass": chain.lots[lot], "quantity": amount, "uom": "KGM"}

    def location(name: str) -> list[dict[str, str]]:
        return [{"type": "location", "source": chain.sites[name]}]

    # Level 0: ingredient lots commissioned at the suppliers.
    for org, lots in (("supplier_a", ("flour_1", "flour_2", "sugar")), ("supplier_b", ("cocoa",))):
        site = "supplier_a" if org == "supplier_a" else "supplier_b"
        rec.capture(
            org,
            *[
                {
                    "type": "ObjectEvent",
                    **rec.when(),
                    "epcList": [],
                    "quantityList": [quantity(lot, 1000)],
                    "action": "ADD",
                    "bizStep": "commissioning",
                    "disposition": "active",
                    "readPoint": site_of(chain, site),
                    "bizLocation": site_of(chain, site),
                }
                for lot in lots
            ],
        )
    rec.capture(
        "supplier_b",
        {
            "type": "ObjectEvent",
            **rec.when(),
            "epcList": [bag_with_lot],
            "action": "ADD",
            "bizStep": "commissioning",
            "readPoint": site_of(chain, "supplier_b"),
        },
    )
    # Ingredients shipped to the factory and received there.
    for org, lots, source in (
        ("supplier_a", ("flour_1", "flour_2", "sugar"), "supplier_a"),
        ("supplier_b", ("cocoa",), "supplier_b"),
    ):
        rec.capture(
            org,
            {
                "type": "ObjectEvent",
                **rec.when(),
                "epcList": [],
                "quantityList": [quantity(lot) for lot in lots],
                "action": "OBSERVE",
                "bizStep": "shipping",
                "disposition": "in_transit",
                "readPoint": site_of(chain, source),
                "sourceList": location(source),
                "destinationList": [{"type": "location", "destination": chain.sites["factory"]}],
            },
        )
    rec.capture(
        "factory",
        {
            "type": "ObjectEvent",
            **rec.when(),
            "epcList": [],
            "quantityList": [quantity(lot) for lot in ("flour_1", "flour_2", "sugar", "cocoa")],
            "action": "OBSERVE",
            "bizStep": "receiving",
            "disposition": "in_progress",
            "bizLocation": site_of(chain, "factory"),
        },
    )
    # Level 1: transformations. Cakes (by instance) from flour 1, sugar and cocoa; biscuits (a
    # lot by quantity, its items commissioned separately) from flour 2 and sugar.
    chain.written["cake"] = [f"{DL}/01/{cake}/10/P1/21/{n}" for n in range(1, 7)]
    chain.written["biscuit"] = [f"{DL}/01/{biscuit}/10/P2/21/{n}" for n in range(1, 4)]
    for name, written in chain.written.items():
        chain.items[name] = [index_identifier(item).canonical for item in written]
    rec.capture(
        "factory",
        {
            "type": "TransformationEvent",
            **rec.when(),
            "inputQuantityList": [
                quantity("flour_1", 50),
                quantity("sugar", 20),
                quantity("cocoa", 5),
            ],
            "outputEPCList": chain.written["cake"],
            "bizStep": "commissioning",
            "disposition": "active",
            "readPoint": site_of(chain, "factory"),
        },
        {
            "type": "TransformationEvent",
            **rec.when(),
            "inputQuantityList": [quantity("flour_2", 40), quantity("sugar", 10)],
            "outputQuantityList": [quantity("biscuit", 3)],
            "bizStep": "commissioning",
            "readPoint": site_of(chain, "factory"),
        },
        {
            "type": "ObjectEvent",
            **rec.when(),
            "epcList": chain.written["biscuit"],
            "action": "ADD",
            "bizStep": "commissioning",
            "readPoint": site_of(chain, "factory"),
        },
    )
    # Level 2: cases and pallets.
    for n in (1, 2, 3):
        chain.cases[f"case_{n}"] = f"{DL}/00/{sscc(prefix, n)}"
    for n in (1, 2):
        chain.pallets[f"pallet_{n}"] = f"{DL}/00/{sscc(prefix, 100 + n)}"
    packing = [
        ("case_1", chain.written["cake"][:3]),
        ("case_2", chain.written["cake"][3:]),
        ("case_3", chain.written["biscuit"]),
    ]
    rec.capture(
        "factory",
        *[
            {
                "type": "AggregationEvent",
                **rec.when(),
                "parentID": chain.cases[case],
                "childEPCs": children,
                "action": "ADD",
                "bizStep": "packing",
                "readPoint": site_of(chain, "factory"),
            }
            for case, children in packing
        ],
        {
            "type": "AggregationEvent",
            **rec.when(),
            "parentID": chain.pallets["pallet_1"],
            "childEPCs": [chain.cases["case_1"], chain.cases["case_2"]],
            "action": "ADD",
            "bizStep": "packing",
            "readPoint": site_of(chain, "factory"),
        },
        {
            "type": "AggregationEvent",
            **rec.when(),
            "parentID": chain.pallets["pallet_2"],
            "childEPCs": [chain.cases["case_3"]],
            "action": "ADD",
            "bizStep": "packing",
            "readPoint": site_of(chain, "factory"),
        },
    )

    def ship(org: str, what: str, source: str, destination: str) -> None:
        rec.capture(
            org,
            {
                "type": "ObjectEvent",
                **rec.when(),
                "epcList": [what],
                "action": "OBSERVE",
                "bizStep": "shipping",
                "disposition": "in_transit",
                "readPoint": site_of(chain, source),
                "sourceList": location(source),
                "destinationList": [{"type": "location", "destination": chain.sites[destination]}],
            },
        )

    def receive(org: str, what: str, site: str) -> None:
        rec.capture(
            org,
            {
                "type": "ObjectEvent",
                **rec.when(),
                "epcList": [what],
                "action": "OBSERVE",
                "bizStep": "receiving",
                "disposition": "in_progress",
                "bizLocation": site_of(chain, site),
            },
        )

    # Level 3: pallet 1 to the distribution centre, unpacked there, its cases to two
    # retailers; pallet 2 straight to retailer 2.
    ship("factory", chain.pallets["pallet_1"], "factory", "dc")
    receive("distributor", chain.pallets["pallet_1"], "dc")
    rec.capture(
        "distributor",
        {
            "type": "AggregationEvent",
            **rec.when(),
            "parentID": chain.pallets["pallet_1"],
            "childEPCs": [chain.cases["case_1"], chain.cases["case_2"]],
            "action": "DELETE",
            "bizStep": "unpacking",
            "readPoint": site_of(chain, "dc"),
        },
    )
    ship("distributor", chain.cases["case_1"], "dc", "retailer_1")
    receive("retailer_1", chain.cases["case_1"], "retailer_1")
    ship("distributor", chain.cases["case_2"], "dc", "retailer_2")
    receive("retailer_2", chain.cases["case_2"], "retailer_2")
    ship("factory", chain.pallets["pallet_2"], "factory", "retailer_2")
    receive("retailer_2", chain.pallets["pallet_2"], "retailer_2")
    return chain


ROLES = ("supplier_a", "supplier_b", "factory", "distributor", "retailer_1", "retailer_2")


def offline_members(engine: Engine) -> dict[str, int]:
    """Organisation rows for the supply chain's members (no chain needed to trace)."""
    orgs = {}
    for n, role in enumerate(ROLES):
        org = create_organisation(
            engine, org_id="0x" + f"{n + 1:064x}", name=role.replace("_", " ").title(), roles=1
        )
        assert org.id is not None
        orgs[role] = org.id
    return orgs


@pytest.fixture
def supply_chain(engine: Engine) -> SupplyChain:
    return build_supply_chain(engine, offline_members(engine))


@contextmanager
def count_statements(engine: Engine) -> Iterator[list[str]]:
    statements: list[str] = []

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", before)


def org_id(n: int) -> str:
    return "0x" + f"{n:064x}"


def test_identifier_types() -> None:
    assert identifier_type(f"{DL}/01/{gtin('0614141', 1)}/21/7") == "item"
    assert identifier_type(f"{DL}/01/{gtin('0614141', 1)}/10/L") == "lot"
    assert identifier_type(f"{DL}/01/{gtin('0614141', 1)}") == "product"
    assert identifier_type(f"{DL}/00/{sscc('0614141', 1)}") == "logistic_unit"
    assert identifier_type(f"{DL}/414/{gln('0614141', 1)}") == "location"
    assert identifier_type("urn:uuid:5c1f0a3e-1b2c-4d5e-8f90-123456789abc") == "other"


def test_forward_from_an_ingredient_lot_reaches_its_products_and_both_retailers(
    engine: Engine, supply_chain: SupplyChain
) -> None:
    chain = supply_chain
    scope = recall_scope(engine, chain.lots["flour_1"])
    assert set(scope.products) == set(chain.items["cake"])
    assert set(scope.logistic_units) == {
        chain.cases["case_1"],
        chain.cases["case_2"],
        chain.pallets["pallet_1"],
    }
    assert set(scope.sites) == {
        chain.sites[s] for s in ("supplier_a", "factory", "dc", "retailer_1", "retailer_2")
    }
    # Every member that handled it, by on-chain organisation id.
    assert set(scope.members) == {org_id(n) for n in (1, 3, 4, 5, 6)}
    assert not scope.graph.truncated
    graph = scope.graph
    # The flow: lot -> 6 cakes (transformation) -> cases -> pallet (packing).
    transformations = [e for e in graph.edges if e.relation == "transformation"]
    assert {(e.source, e.target) for e in transformations} == {
        (chain.lots["flour_1"], item) for item in chain.items["cake"]
    }
    assert {e.event_type for e in transformations} == {"TransformationEvent"}
    packing = {(e.source, e.target, e.action) for e in graph.edges if e.relation == "aggregation"}
    assert (chain.items["cake"][0], chain.cases["case_1"], "ADD") in packing
    assert (chain.cases["case_1"], chain.pallets["pallet_1"], "ADD") in packing
    assert (chain.cases["case_1"], chain.pallets["pallet_1"], "DELETE") in packing
    destinations = {
        (e.source, e.target)
        for e in graph.edges
        if e.relation == "location" and e.role == "destination"
    }
    assert (chain.cases["case_1"], chain.sites["retailer_1"]) in destinations
    assert (chain.cases["case_2"], chain.sites["retailer_2"]) in destinations
    assert (chain.pallets["pallet_1"], chain.sites["dc"]) in destinations
    assert graph.nodes[chain.items["cake"][0]].depth == 1
    assert graph.nodes[chain.cases["case_1"]].depth == 2
    assert graph.nodes[chain.pallets["pallet_1"]].depth == 3


def test_forward_from_the_other_flour_lot_reaches_only_biscuits_and_one_retailer(
    engine: Engine, supply_chain: SupplyChain
) -> None:
    chain = supply_chain
    scope = recall_scope(engine, chain.lots["flour_2"])
    # The biscuit lot (an output class), then its items through their lot.
    assert set(scope.products) == {chain.lots["biscuit"], *chain.items["biscuit"]}
    assert set(scope.logistic_units) == {chain.cases["case_3"], chain.pallets["pallet_2"]}
    assert chain.sites["retailer_2"] in scope.sites
    assert chain.sites["retailer_1"] not in scope.sites
    assert chain.sites["dc"] not in scope.sites
    assert not set(chain.items["cake"]) & set(scope.graph.nodes)


def test_a_shared_ingredient_reaches_both_products(
    engine: Engine, supply_chain: SupplyChain
) -> None:
    chain = supply_chain
    scope = recall_scope(engine, chain.lots["sugar"])
    assert set(scope.products) == {
        *chain.items["cake"],
        chain.lots["biscuit"],
        *chain.items["biscuit"],
    }
    assert {chain.sites["retailer_1"], chain.sites["retailer_2"]} <= set(scope.sites)


def test_an_item_follows_its_lot_consumed_by_quantity(
    engine: Engine, supply_chain: SupplyChain
) -> None:
    chain = supply_chain
    graph = trace(engine, chain.bag, "forward", depth=None)
    assert set(chain.items["cake"]) <= set(graph.nodes)
    assert chain.sites["retailer_1"] in graph.sites()
    # The bag reaches the cakes directly, not through its lot (whose other bags it is not).
    assert chain.lots["cocoa"] not in graph.nodes


@pytest.mark.parametrize("start", ["pallet_1", "case_1", "item"])
def test_backward_from_a_pallet_case_or_cake_finds_its_ingredient_lots(
    engine: Engine, supply_chain: SupplyChain, start: str
) -> None:
    chain = supply_chain
    origin = {
        "pallet_1": chain.pallets["pallet_1"],
        "case_1": chain.cases["case_1"],
        "item": chain.items["cake"][0],
    }[start]
    graph = trace(engine, origin, "backward", depth=None)
    lots = set(graph.identifiers("lot"))
    assert {chain.lots[k] for k in ("flour_1", "sugar", "cocoa")} <= lots
    assert chain.lots["flour_2"] not in lots
    assert chain.lots["biscuit"] not in lots
    assert {chain.sites["supplier_a"], chain.sites["supplier_b"], chain.sites["factory"]} <= set(
        graph.sites()
    )
    # Backward never walks down into sibling containers or other products.
    assert chain.cases["case_3"] not in graph.nodes
    assert not set(chain.items["biscuit"]) & set(graph.nodes)
    if start == "item":
        assert chain.cases["case_1"] not in graph.nodes  # containers are downstream
    # Edges still point downstream: ingredient lot -> cake.
    assert any(
        e.source == chain.lots["cocoa"] and e.relation == "transformation" for e in graph.edges
    )


def test_backward_from_a_biscuit_case_goes_through_the_output_class(
    engine: Engine, supply_chain: SupplyChain
) -> None:
    chain = supply_chain
    graph = trace(engine, chain.cases["case_3"], "backward", depth=None)
    assert set(graph.identifiers("lot")) >= {chain.lots["biscuit"], chain.lots["flour_2"]}
    assert chain.lots["flour_1"] not in graph.nodes
    assert chain.lots["cocoa"] not in graph.nodes
    classes = [e for e in graph.edges if e.relation == "class"]
    assert (chain.lots["biscuit"], chain.items["biscuit"][0]) in {
        (e.source, e.target) for e in classes
    }


def test_depth_limits_the_trace(engine: Engine, supply_chain: SupplyChain) -> None:
    chain = supply_chain
    one = trace(engine, chain.lots["flour_1"], "forward", depth=1)
    assert one.truncated
    assert set(one.identifiers("item")) == set(chain.items["cake"])
    assert not one.identifiers("logistic_unit")
    two = trace(engine, chain.lots["flour_1"], "forward", depth=2)
    assert set(two.identifiers("logistic_unit")) == {chain.cases["case_1"], chain.cases["case_2"]}
    zero = trace(engine, chain.lots["flour_1"], "forward", depth=0)
    assert list(zero.nodes) == [chain.lots["flour_1"]]
    assert zero.truncated
    full = trace(engine, chain.lots["flour_1"], "forward", depth=None)
    assert not full.truncated


def test_any_identifier_form_starts_the_same_trace(
    engine: Engine, supply_chain: SupplyChain
) -> None:
    chain = supply_chain
    gtin14 = chain.lots["flour_1"].split("/01/")[1].split("/")[0]
    by_epc = trace(engine, f"urn:epc:class:lgtin:0614141.{gtin14[0]}{gtin14[8:13]}.F1")
    by_dl = trace(engine, chain.lots["flour_1"])
    assert by_epc.root == by_dl.root == chain.lots["flour_1"]
    assert set(by_epc.nodes) == set(by_dl.nodes)


def test_unknown_identifier_and_bad_arguments(engine: Engine) -> None:
    graph = trace(engine, "urn:uuid:5c1f0a3e-1b2c-4d5e-8f90-123456789abc", "backward")
    assert list(graph.nodes) == ["urn:uuid:5c1f0a3e-1b2c-4d5e-8f90-123456789abc"]
    assert graph.edges == []
    tracer = Tracer(engine)
    with pytest.raises(InvalidInputError):
        tracer.trace("  ")
    with pytest.raises(InvalidInputError):
        tracer.trace(f"{DL}/00/{sscc('0614141', 1)}", "sideways")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        tracer.trace(f"{DL}/00/{sscc('0614141', 1)}", depth=-1)


def test_queries_are_batched_per_level_not_per_node(engine: Engine) -> None:
    orgs = offline_members(engine)
    chain = build_supply_chain(engine, orgs)
    # Widen the lot: 300 more cakes of lot P1 in 30 cases, all from flour lot 1.
    rec = Recorder(engine, chain)
    rec.minute = 1000
    cake = chain.lots["cake"].split("/10/")[0]
    many = [f"{cake}/10/P1/21/X{n}" for n in range(300)]
    rec.capture(
        "factory",
        {
            "type": "TransformationEvent",
            **rec.when(),
            "inputQuantityList": [{"epcClass": chain.lots["flour_1"], "quantity": 1}],
            "outputEPCList": many,
            "bizStep": "commissioning",
        },
        *[
            {
                "type": "AggregationEvent",
                **rec.when(),
                "parentID": f"{DL}/00/{sscc('0614141', 1000 + n)}",
                "childEPCs": many[n * 10 : n * 10 + 10],
                "action": "ADD",
                "bizStep": "packing",
            }
            for n in range(30)
        ],
    )
    with count_statements(engine) as statements:
        graph = trace(engine, chain.lots["flour_1"], "forward", depth=None)
    assert len(graph.identifiers("item")) == 306, graph.identifiers("item")[:5]
    assert len(graph.identifiers("logistic_unit")) == 33
    levels = max(n.depth for n in graph.nodes.values())
    # A few statements per level (the 306 items are one IN list), never one per node.
    assert len(statements) <= 4 * levels + 2, statements


def test_json_round_trip(engine: Engine, supply_chain: SupplyChain) -> None:
    graph = trace(engine, supply_chain.pallets["pallet_1"], "backward", depth=None)
    data = json.loads(json.dumps(graph.to_json()))
    assert data["root"] == supply_chain.pallets["pallet_1"]
    assert data["direction"] == "backward"
    assert {n["id"] for n in data["nodes"]} == set(graph.nodes)
    assert len(data["edges"]) == len(graph.edges)
    assert all(e["source"] in graph.nodes and e["target"] in graph.nodes for e in data["edges"])
    edge = next(e for e in data["edges"] if e["relation"] == "aggregation")
    assert edge["event_type"] == "AggregationEvent"
    assert edge["biz_step"] == "packing"
    assert edge["hash_id"].startswith("ni:///sha-256;")
    assert datetime.fromisoformat(edge["event_time"]).tzinfo is not None


SVG = "{http://www.w3.org/2000/svg}"


def test_svg_is_layered_left_to_right(engine: Engine, supply_chain: SupplyChain) -> None:
    chain = supply_chain
    graph = trace(engine, chain.lots["flour_1"], "forward", depth=None)
    svg = render_svg(graph)
    root = fromstring(svg.encode())
    assert root.tag == f"{SVG}svg"
    boxes = root.findall(f"{SVG}g[@class]")
    nodes = [g for g in boxes if g.get("class", "").startswith("node")]
    assert len(nodes) == len(graph.nodes)
    x_of: dict[str, float] = {}
    for g in nodes:
        title = g.find(f"{SVG}title")
        rect = g.find(f"{SVG}rect")
        assert title is not None
        assert rect is not None
        x_of[str(title.text)] = float(rect.get("x", "0"))
    lot, cake = chain.lots["flour_1"], chain.items["cake"][0]
    case, pallet = chain.cases["case_1"], chain.pallets["pallet_1"]
    assert x_of[lot] < x_of[cake] < x_of[case] < x_of[pallet]
    edges = [g for g in boxes if g.get("class", "").startswith("edge")]
    assert edges
    assert all(g.find(f"{SVG}path") is not None for g in edges)
    assert "packing" in svg
    # Backward: upstream still on the left.
    back = trace(engine, pallet, "backward", depth=None)
    x_back = {}
    for g in fromstring(render_svg(back).encode()).findall(f"{SVG}g[@class]"):
        title, rect = g.find(f"{SVG}title"), g.find(f"{SVG}rect")
        if rect is not None and title is not None:
            x_back[str(title.text)] = float(rect.get("x", "0"))
    assert x_back[lot] < x_back[cake] < x_back[case] < x_back[pallet]


def test_svg_summarises_wide_layers_and_escapes(engine: Engine, supply_chain: SupplyChain) -> None:
    graph = trace(engine, supply_chain.lots["flour_1"], "forward", depth=None)
    svg = render_svg(graph, max_per_layer=3)
    columns: dict[str, int] = {}
    for g in fromstring(svg.encode()).findall(f"{SVG}g[@class]"):
        rect = g.find(f"{SVG}rect")
        if g.get("class", "").startswith("node") and rect is not None:
            columns[rect.get("x", "")] = columns.get(rect.get("x", ""), 0) + 1
    assert max(columns.values()) == 3
    depth_1 = [n for n in graph.nodes.values() if n.depth == 1]
    assert f"+{len(depth_1) - 2} more (" in svg
    weird = trace(engine, 'urn:x:<b a="1">&', "forward")
    text = render_svg(weird)
    fromstring(text.encode())
    assert "&lt;b a=&quot;1&quot;&gt;&amp;" in text


def pgln(prefix: str, party: int) -> str:
    return gln(prefix, party)


def test_a_shipment_to_a_buyer_shows_the_buyer_as_a_party(engine: Engine) -> None:
    """sourceList / destinationList of type owning_party and possessing_party (any CBV form)
    reach party nodes, forward and backward, besides the location ones."""
    chain = SupplyChain(orgs=offline_members(engine))
    rec = Recorder(engine, chain)
    pallet = f"{DL}/00/{sscc('0614141', 900)}"
    seller, buyer, carrier = (f"{DL}/417/{pgln('0614141', n)}" for n in (501, 502, 503))
    store = f"{DL}/414/{gln('0614141', 504)}"
    rec.capture(
        "factory",
        {
            "type": "ObjectEvent",
            **rec.when(),
            "epcList": [pallet],
            "action": "OBSERVE",
            "bizStep": "shipping",
            "sourceList": [{"type": "owning_party", "source": seller}],
            "destinationList": [
                # The buyer's PGLN as an EPC URI (the node is its canonical form).
                {
                    "type": "owning_party",
                    "destination": f"urn:epc:id:pgln:0614141.{pgln('0614141', 502)[7:12]}",
                },
                {"type": "possessing_party", "destination": carrier},
                {"type": "location", "destination": store},
            ],
        },
    )
    forward = trace(engine, pallet, "forward")
    assert forward.nodes[buyer].kind == "party"
    assert forward.nodes[buyer].type == "party"
    assert forward.nodes[buyer].label == f"PGLN {pgln('0614141', 502)}"
    assert forward.parties() == sorted([seller, buyer, carrier])
    assert store in forward.sites()
    roles = {(e.target, e.relation, e.role, e.biz_step) for e in forward.edges}
    assert (buyer, "party", "destination:owning_party", "shipping") in roles
    assert (carrier, "party", "destination:possessing_party", "shipping") in roles
    assert (seller, "party", "source:owning_party", "shipping") in roles
    assert (store, "location", "destination", "shipping") in roles
    backward = trace(engine, pallet, "backward")
    assert backward.parties() == forward.parties()
    assert buyer in recall_scope(engine, pallet).parties
    assert buyer in json.dumps(forward.to_json())


def svg_edge_labels(svg: str) -> list[str]:
    """The label text of every edge group of an SVG trace drawing."""
    out = []
    for g in fromstring(svg.encode()).findall(f"{SVG}g[@class]"):
        text = g.find(f"{SVG}text")
        if g.get("class", "").startswith("edge") and text is not None:
            out.append(str(text.text))
    return out


def test_svg_edge_labels_name_the_events_of_each_link(
    engine: Engine, supply_chain: SupplyChain
) -> None:
    """A link made by several events names each of them, not the first one N times."""
    graph = trace(engine, supply_chain.lots["flour_1"], "forward", depth=None)
    labels = svg_edge_labels(render_svg(graph))
    # case -> pallet: packed at the factory, unpacked at the distribution centre.
    assert "packing ADD, unpacking DELETE" in labels
    # case -> retailer site: shipped there, then received there.
    assert "shipping, receiving" in labels
    # lot -> supplier site: commissioned there (readPoint and bizLocation: one event), shipped.
    assert "commissioning, shipping" in labels
    # cake -> factory site: made there, packed there.
    assert "commissioning, packing" in labels
    assert "packing ADD ×2" not in labels
    # case -> factory site: two packing events (its items into it, it onto the pallet).
    assert "packing ×2" in labels
