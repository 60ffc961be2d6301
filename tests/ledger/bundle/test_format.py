"""The bundle format as typed classes: a bundle loads and dumps back to itself, members it may
lack read as before, and a malformed bundle is refused with the member at fault named."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from ledger.bundle import (
    BUNDLE_FORMAT,
    Bundle,
    BundledBatch,
    BundleFormatError,
    Span,
    dump_bundle,
    load_bundle,
)
from ledger.errors import InvalidInputError

ROOT = "0x" + "1a" * 32
OTHER_ROOT = "0x" + "2b" * 32
ORG = "0x" + "00" * 31 + "07"
RECORDER = "0x" + "Ab" * 20


def bundle_dict() -> dict[str, Any]:
    """A bundle as the exporter writes one: an anchored event, a pending one, one batch."""
    anchored = {
        "event": {"type": "ObjectEvent", "action": "OBSERVE", "epcList": ["urn:x:1"]},
        "hash_id": "ni:///sha-256;" + "3c" * 32 + "?ver=CBV2.0",
        "event_hash": "0x" + "3c" * 32,
        "id_key": "0x" + "4d" * 32,
        "org_id": ORG,
        "recorder": RECORDER,
        "signature": None,
        "root": ROOT,
        "proof": ["0x" + "5e" * 32],
    }
    pending = {
        **anchored,
        "event": {"type": "ObjectEvent", "action": "ADD", "epcList": ["urn:x:2"]},
        "recorder": None,
        "root": None,
        "proof": [],
    }
    return {
        "format": BUNDLE_FORMAT,
        "created_at": "2026-11-29T12:00:00+00:00",
        "scope": {"identifier": None, "lot": "urn:x:lot", "from": None, "to": None, "trace": None},
        "chain": {
            "chain_id": 31337,
            "genesis_hash": "0x" + "6f" * 32,
            "contract": "0x5FbDB2315678afecb367f032d93F642f64180aa3",
            "code_hash": "0x" + "70" * 32,
            "deployed_block": 2,
        },
        "members": {ORG: {"name": "Grower"}},
        "events": [anchored, pending],
        "batches": {
            ROOT: {
                "root": ROOT,
                "tx_hash": "0x" + "81" * 32,
                "block": 12,
                "recorder": RECORDER,
                "org_id": ORG,
                "event_count": 2,
                "leaf_version": 2,
                "leaves": ["0x" + "92" * 32, "0x" + "a3" * 32],
                "events": ["0x" + "3c" * 32],
            }
        },
        "span": {"from_block": 12, "to_block": 12, "roots": [ROOT], "event_anchors": []},
    }


def test_a_bundle_loads_and_dumps_back_to_itself() -> None:
    data = bundle_dict()
    bundle = Bundle.load(data)
    assert bundle.chain.chain_id == 31337
    assert bundle.events[0].proof == ("0x" + "5e" * 32,)
    assert bundle.events[1].root is None
    assert bundle.batches[ROOT].leaf_version == 2
    assert bundle.members[ORG].name == "Grower"
    assert bundle.scope.lot == "urn:x:lot"
    assert bundle.dump() == data
    text = dump_bundle(data)
    assert dump_bundle(bundle) == text
    assert load_bundle(text) == bundle
    assert load_bundle(text.encode()) == bundle


def test_members_a_bundle_may_lack_read_as_the_verifier_always_read_them() -> None:
    data = bundle_dict()
    del data["events"][0]["signature"]
    del data["batches"][ROOT]["leaf_version"]
    del data["batches"][ROOT]["events"]
    del data["span"]["event_anchors"]
    bundle = Bundle.load(data)
    assert bundle.events[0].signature is None
    assert bundle.batches[ROOT].leaf_version == 1  # leaf version 1 when absent
    assert bundle.batches[ROOT].events == ()
    assert bundle.span.event_anchors == ()
    del data["span"]
    assert Bundle.load(data).span == Span()
    # A batch keyed by another root than it names keeps both (the verifier goes by the key).
    data["batches"][OTHER_ROOT] = data["batches"].pop(ROOT)
    moved = Bundle.load(data).batches[OTHER_ROOT]
    assert isinstance(moved, BundledBatch)
    assert moved.root == ROOT


def _set(path: list[Any], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        target = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return change


def _delete(path: list[Any]) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        target = data
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return change


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (_set(["format"], "tracechain-bundle/0"), "format"),
        (_delete(["format"]), "format"),
        (_delete(["chain"]), "chain"),
        (_set(["chain"], [31337]), "chain"),
        (_set(["chain", "chain_id"], "31337"), "chain.chain_id"),
        (_set(["chain", "chain_id"], True), "chain.chain_id"),
        (_delete(["chain", "genesis_hash"]), "chain.genesis_hash"),
        (_set(["chain", "contract"], "0x1234"), "chain.contract"),
        (_set(["events"], {}), "events"),
        (_delete(["events"]), "events"),
        (_set(["events", 1], "an event"), "events[1]"),
        (_delete(["events", 0, "hash_id"]), "events[0].hash_id"),
        (_set(["events", 0, "event_hash"], 7), "events[0].event_hash"),
        (_set(["events", 1, "event"], ["ObjectEvent"]), "events[1].event"),
        (_set(["events", 0, "proof"], "0x" + "5e" * 32), "events[0].proof"),
        (_set(["events", 0, "proof", 0], None), "events[0].proof[0]"),
        (_set(["events", 0, "root"], 12), "events[0].root"),
        (_delete(["batches"]), "batches"),
        (_set(["batches", ROOT, "block"], "12"), f"batches[{ROOT}].block"),
        (_delete(["batches", ROOT, "tx_hash"]), f"batches[{ROOT}].tx_hash"),
        (_set(["batches", ROOT, "leaves", 1], "not hex"), f"batches[{ROOT}].leaves[1]"),
        (_set(["batches", ROOT, "leaf_version"], "2"), f"batches[{ROOT}].leaf_version"),
        (_set(["span", "to_block"], 12.5), "span.to_block"),
        (_set(["span", "roots"], ROOT), "span.roots"),
        (_set(["scope", "trace"], "sideways"), "scope.trace"),
        (_set(["members", ORG], "Grower"), f"members[{ORG}]"),
        (_set(["created_at"], 20261129), "created_at"),
    ],
)
def test_a_malformed_bundle_is_refused_with_the_member_named(
    change: Callable[[dict[str, Any]], None], field: str
) -> None:
    data = copy.deepcopy(bundle_dict())
    change(data)
    with pytest.raises(BundleFormatError) as refused:
        Bundle.load(data)
    assert refused.value.field == field
    assert str(refused.value).startswith(f"{field}: ")
    # An invalid-input error like any other (the API answers 422, the CLI exits 1).
    assert isinstance(refused.value, InvalidInputError)
    with pytest.raises(BundleFormatError) as read:
        load_bundle(json.dumps(data))
    assert read.value.field == field


def test_text_that_is_no_json_or_no_bundle_is_refused() -> None:
    with pytest.raises(InvalidInputError) as not_json:
        load_bundle("{not json")
    assert not_json.value.field == "bundle"
    for text in ('{"format": "something else"}', "[]", '"tracechain-bundle/1"'):
        with pytest.raises(BundleFormatError) as not_a_bundle:
            load_bundle(text)
        assert not_a_bundle.value.field == "format"
        assert BUNDLE_FORMAT in not_a_bundle.value.reason
