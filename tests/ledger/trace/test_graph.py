"""The trace graph: what a canonical identifier names, and the graph's JSON form."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy.engine import Engine

from ledger.trace import identifier_type, trace
from ledger.visibility import Reader
from tests.helpers import DL, gln, gtin, sscc
from tests.ledger.trace.supply_chain import SupplyChain

#: Traces read as the operator (every event) unless a test says otherwise.
OPERATOR = Reader.operator()


def test_identifier_types() -> None:
    assert identifier_type(f"{DL}/01/{gtin('0614141', 1)}/21/7") == "item"
    assert identifier_type(f"{DL}/01/{gtin('0614141', 1)}/10/L") == "lot"
    assert identifier_type(f"{DL}/01/{gtin('0614141', 1)}") == "product"
    assert identifier_type(f"{DL}/00/{sscc('0614141', 1)}") == "logistic_unit"
    assert identifier_type(f"{DL}/414/{gln('0614141', 1)}") == "location"
    assert identifier_type("urn:uuid:5c1f0a3e-1b2c-4d5e-8f90-123456789abc") == "other"


def test_json_round_trip(engine: Engine, supply_chain: SupplyChain) -> None:
    graph = trace(engine, supply_chain.pallets["pallet_1"], "backward", depth=None, reader=OPERATOR)
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
