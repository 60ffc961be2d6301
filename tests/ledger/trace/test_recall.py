"""The recall question on the supply chain: every product, logistic unit, site and member an
ingredient lot reached."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from ledger.trace import recall_scope
from ledger.visibility import Reader
from tests.ledger.trace.supply_chain import SupplyChain, org_id

#: Traces read as the operator (every event) unless a test says otherwise.
OPERATOR = Reader.operator()


def test_forward_from_an_ingredient_lot_reaches_its_products_and_both_retailers(
    engine: Engine, supply_chain: SupplyChain
) -> None:
    chain = supply_chain
    scope = recall_scope(engine, chain.lots["flour_1"], reader=OPERATOR)
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
    scope = recall_scope(engine, chain.lots["flour_2"], reader=OPERATOR)
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
    scope = recall_scope(engine, chain.lots["sugar"], reader=OPERATOR)
    assert set(scope.products) == {
        *chain.items["cake"],
        chain.lots["biscuit"],
        *chain.items["biscuit"],
    }
    assert {chain.sites["retailer_1"], chain.sites["retailer_2"]} <= set(scope.sites)
