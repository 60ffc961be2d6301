"""Export bundles of a supply chain, by lot, identifier (with its trace) and time range, against
the real devnet and real SQLite: each verifies with nothing but a node, and reads back to the
same text."""

from __future__ import annotations

import pytest

from ledger.bundle import BUNDLE_FORMAT, Bundle, dump_bundle, load_bundle
from ledger.errors import InvalidInputError
from tests.ledger.bundle.conftest import Exported


def test_a_lot_bundle_verifies_offline(exported: Exported) -> None:
    bundle = exported.export(lot=exported.supply.lots["cocoa"])
    assert bundle["format"] == BUNDLE_FORMAT
    assert bundle["chain"]["chain_id"] == exported.deployment.chain_id
    assert bundle["chain"]["contract"] == exported.deployment.anchor_address
    assert bundle["chain"]["genesis_hash"] == exported.deployment.genesis_hash
    # The lot's events: commissioned, the bag of it, shipped, received, consumed.
    assert len(bundle["events"]) == 5
    for entry in bundle["events"]:
        assert entry["root"] in bundle["batches"]
        assert entry["proof"]
        assert entry["recorder"]
        assert entry["hash_id"].startswith("ni:///sha-256;")
    for batch in bundle["batches"].values():
        assert batch["tx_hash"].startswith("0x")
        assert len(batch["leaves"]) == batch["event_count"]
    result = exported.verify(bundle)
    assert result.ok, [f.to_json() for f in result.findings]
    assert result.verified == 5
    assert {s["status"] for s in result.statuses} == {"verified"}


def test_identifier_trace_and_time_range_bundles(exported: Exported) -> None:
    supply = exported.supply
    pallet = exported.export(identifier=supply.pallets["pallet_1"])
    assert len(pallet["events"]) == 4  # packed, shipped, received, unpacked
    traced = exported.export(identifier=supply.pallets["pallet_1"], trace="backward")
    assert len(traced["events"]) > len(pallet["events"])
    hash_ids = {e["hash_id"] for e in traced["events"]}
    assert {e["hash_id"] for e in pallet["events"]} <= hash_ids
    assert exported.verify(traced).ok
    timed = exported.export(from_time="2026-02-01T06:00:00Z", to_time="2026-02-01T06:10:00Z")
    assert len(timed["events"]) == 9
    assert timed["scope"]["from"].startswith("2026-02-01T06:00:00")
    assert exported.verify(timed).ok
    everything = exported.export(from_time="2026-01-01T00:00:00Z")
    assert len(everything["events"]) == supply.event_count
    result = exported.verify(everything)
    assert result.ok, [f.to_json() for f in result.findings]


def test_bad_selections(exported: Exported) -> None:
    with pytest.raises(InvalidInputError):
        exported.export()
    with pytest.raises(InvalidInputError):
        exported.export(lot=exported.supply.pallets["pallet_1"])  # not a lot
    with pytest.raises(InvalidInputError):
        exported.export(from_time="yesterday")
    with pytest.raises(InvalidInputError):
        exported.export(from_time="2026-01-01T00:00:00Z", max_events=3)
    with pytest.raises(InvalidInputError):
        load_bundle(b'{"format": "something else"}')


def test_a_bundle_reads_back_to_the_same_text(exported: Exported) -> None:
    """Bundle.load of an exported bundle dumps to the very text the exporter wrote, and
    load_bundle reads that text to the same typed bundle."""
    supply = exported.supply
    for scope in (
        {"lot": supply.lots["cocoa"]},
        {"identifier": supply.pallets["pallet_1"], "trace": "backward"},
        {"from_time": "2026-01-01T00:00:00Z"},
        {"from_time": "2031-01-01T00:00:00Z"},  # nothing: no batch, no span
    ):
        bundle = exported.export(**scope)
        text = dump_bundle(bundle)
        typed = Bundle.load(bundle)
        assert typed.dump() == bundle
        assert dump_bundle(typed) == text
        assert load_bundle(text) == typed
        assert len(typed.events) == len(bundle["events"])
        assert set(typed.batches) == set(bundle["batches"])
