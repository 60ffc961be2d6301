"""Traces through a real SQLite ledger: a 3-level supply chain captured through the real parser
and store (ingredient lots -> transformation -> cases -> pallets -> two retailers)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ledger.errors import InvalidInputError
from ledger.trace import Tracer, recall_scope, trace
from ledger.visibility import Reader
from tests.helpers import DL, gln, sscc
from tests.ledger.trace.supply_chain import (
    Recorder,
    SupplyChain,
    build_supply_chain,
    offline_members,
    pgln,
)

#: Traces read as the operator (every event) unless a test says otherwise.
OPERATOR = Reader.operator()


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


def test_an_item_follows_its_lot_consumed_by_quantity(
    engine: Engine, supply_chain: SupplyChain
) -> None:
    chain = supply_chain
    graph = trace(engine, chain.bag, "forward", depth=None, reader=OPERATOR)
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
    graph = trace(engine, origin, "backward", depth=None, reader=OPERATOR)
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
    graph = trace(engine, chain.cases["case_3"], "backward", depth=None, reader=OPERATOR)
    assert set(graph.identifiers("lot")) >= {chain.lots["biscuit"], chain.lots["flour_2"]}
    assert chain.lots["flour_1"] not in graph.nodes
    assert chain.lots["cocoa"] not in graph.nodes
    classes = [e for e in graph.edges if e.relation == "class"]
    assert (chain.lots["biscuit"], chain.items["biscuit"][0]) in {
        (e.source, e.target) for e in classes
    }


def test_depth_limits_the_trace(engine: Engine, supply_chain: SupplyChain) -> None:
    chain = supply_chain
    one = trace(engine, chain.lots["flour_1"], "forward", depth=1, reader=OPERATOR)
    assert one.truncated
    assert set(one.identifiers("item")) == set(chain.items["cake"])
    assert not one.identifiers("logistic_unit")
    two = trace(engine, chain.lots["flour_1"], "forward", depth=2, reader=OPERATOR)
    assert set(two.identifiers("logistic_unit")) == {chain.cases["case_1"], chain.cases["case_2"]}
    zero = trace(engine, chain.lots["flour_1"], "forward", depth=0, reader=OPERATOR)
    assert list(zero.nodes) == [chain.lots["flour_1"]]
    assert zero.truncated
    full = trace(engine, chain.lots["flour_1"], "forward", depth=None, reader=OPERATOR)
    assert not full.truncated


def test_any_identifier_form_starts_the_same_trace(
    engine: Engine, supply_chain: SupplyChain
) -> None:
    chain = supply_chain
    gtin14 = chain.lots["flour_1"].split("/01/")[1].split("/")[0]
    by_epc = trace(
        engine, f"urn:epc:class:lgtin:0614141.{gtin14[0]}{gtin14[8:13]}.F1", reader=OPERATOR
    )
    by_dl = trace(engine, chain.lots["flour_1"], reader=OPERATOR)
    assert by_epc.root == by_dl.root == chain.lots["flour_1"]
    assert set(by_epc.nodes) == set(by_dl.nodes)


def test_unknown_identifier_and_bad_arguments(engine: Engine) -> None:
    graph = trace(
        engine, "urn:uuid:5c1f0a3e-1b2c-4d5e-8f90-123456789abc", "backward", reader=OPERATOR
    )
    assert list(graph.nodes) == ["urn:uuid:5c1f0a3e-1b2c-4d5e-8f90-123456789abc"]
    assert graph.edges == []
    tracer = Tracer(engine)
    with pytest.raises(InvalidInputError):
        tracer.trace("  ", reader=OPERATOR)
    with pytest.raises(InvalidInputError):
        tracer.trace(f"{DL}/00/{sscc('0614141', 1)}", "sideways", reader=OPERATOR)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        tracer.trace(f"{DL}/00/{sscc('0614141', 1)}", depth=-1, reader=OPERATOR)


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
        graph = trace(engine, chain.lots["flour_1"], "forward", depth=None, reader=OPERATOR)
    assert len(graph.identifiers("item")) == 306, graph.identifiers("item")[:5]
    assert len(graph.identifiers("logistic_unit")) == 33
    levels = max(n.depth for n in graph.nodes.values())
    # A few statements per level (the 306 items are one IN list), never one per node.
    assert len(statements) <= 4 * levels + 2, statements


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
    forward = trace(engine, pallet, "forward", reader=OPERATOR)
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
    backward = trace(engine, pallet, "backward", reader=OPERATOR)
    assert backward.parties() == forward.parties()
    assert buyer in recall_scope(engine, pallet, reader=OPERATOR).parties
    assert buyer in json.dumps(forward.to_json())
