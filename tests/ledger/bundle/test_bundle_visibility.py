"""Bundles hold only what their reader may read, and still verify: a member's bundle leaves out
the events of a batch it may not read (their leaves stay, as opaque hashes that rebuild the
anchored root), and every event it holds proves its place in its batch on its own. Real
SQLite, the real devnet."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine

from ledger.bundle import (
    BundleVerification,
    dump_bundle,
    export_bundle,
    load_bundle,
    plan_bundle,
    verify_bundle,
)
from ledger.chain import ChainClient
from ledger.deployment import Deployment
from ledger.events import parse_document
from ledger.store.capture import capture_events
from ledger.visibility import Audience, Reader, Visibility
from tests.helpers import DL, document_bytes, gtin, object_event
from tests.ledger.bundle.conftest import drain
from tests.ledger.conftest import MakeMember
from wallets.keyring import Keyring

PREFIX = "0614141"
#: Who reads which event (see :func:`_ledger`).
EXPECTED = {
    "operator": {"private", "restricted", "linked", "public", "received", "rival"},
    "brand": {"private", "restricted", "linked", "public", "received"},
    "retailer": {"restricted", "linked", "public", "received"},
    "rival": {"public", "rival"},
    "public": {"linked", "public", "received"},
}


@dataclass
class Ledger:
    engine: Engine
    chain: ChainClient
    deployment: Deployment

    def export(self, reader: Reader, **scope: Any) -> dict[str, Any]:
        return export_bundle(self.engine, self.chain, self.deployment, reader=reader, **scope)

    def verify(self, bundle: dict[str, Any]) -> BundleVerification:
        # Only an RPC URL: no database, no API.
        return verify_bundle(load_bundle(dump_bundle(bundle)), ChainClient(self.chain.rpc_url))


def _event(minute: int, item: str, name: str) -> dict[str, Any]:
    return object_event(
        epcs=[item],
        biz_step="storing",
        disposition=None,
        event_time=f"2026-05-01T08:{minute:02d}:00Z",
        time_zone_offset="+00:00",
        eventID=f"urn:uuid:00000000-0000-4000-8000-{minute:012d}",
        **{"rdfs:comment": name},
    )


def _ledger(
    engine: Engine,
    chain: ChainClient,
    deployment: Deployment,
    keyring: Keyring,
    make_member: MakeMember,
) -> tuple[Ledger, dict[str, Reader]]:
    """The brand records four events in one batch (private, restricted to the retailer,
    linked, public), the retailer one linked event about the brand's linked item, a rival one
    private event; all anchored."""
    brand, retailer, rival = (make_member(n) for n in ("Brand", "Retailer", "Rival"))
    assert brand.id is not None
    assert retailer.id is not None
    assert rival.id is not None
    item = f"{DL}/01/{gtin(PREFIX)}/21/"

    def capture(org: int, audience: Audience, *events: dict[str, Any]) -> None:
        parsed = parse_document(document_bytes(*events), "application/ld+json")
        capture_events(engine, parsed, organisation_id=org, audience=audience)

    capture(brand.id, Audience(Visibility.PRIVATE), _event(0, item + "1", "private"))
    capture(
        brand.id,
        Audience(Visibility.RESTRICTED, frozenset({retailer.id})),
        _event(1, item + "1", "restricted"),
    )
    capture(brand.id, Audience(Visibility.LINKED), _event(2, item + "2", "linked"))
    capture(brand.id, Audience(Visibility.PUBLIC), _event(3, item + "3", "public"))
    capture(retailer.id, Audience(), _event(4, item + "2", "received"))
    other = f"{DL}/01/{gtin('0614142')}/21/1"
    capture(rival.id, Audience(Visibility.PRIVATE), _event(5, other, "rival"))
    assert drain(engine, chain, deployment, keyring) == 6
    readers = {
        "operator": Reader.operator(),
        "brand": Reader.member(brand.id),
        "retailer": Reader.member(retailer.id),
        "rival": Reader.member(rival.id),
        "public": Reader.public(),
    }
    return Ledger(engine, chain, deployment), readers


def _names(bundle: dict[str, Any]) -> set[str]:
    return {entry["event"]["rdfs:comment"] for entry in bundle["events"]}


def test_a_bundle_holds_what_its_reader_reads_and_verifies(
    engine: Engine,
    chain: ChainClient,
    deployment: Deployment,
    keyring: Keyring,
    make_member: MakeMember,
) -> None:
    exported, readers = _ledger(engine, chain, deployment, keyring, make_member)
    whole = exported.export(reader=readers["operator"], from_time="2026-05-01T00:00:00Z")
    # The brand's four events were anchored in one batch (at most 4 a batch).
    brands = {"private", "restricted", "linked", "public"}
    brand_batches = {e["root"] for e in whole["events"] if e["event"]["rdfs:comment"] in brands}
    assert len(brand_batches) == 1
    (brand_root,) = brand_batches
    for who, reader in readers.items():
        bundle = exported.export(reader=reader, from_time="2026-05-01T00:00:00Z")
        assert _names(bundle) == EXPECTED[who], who
        held = {digest for batch in bundle["batches"].values() for digest in batch["events"]}
        assert held == {entry["event_hash"] for entry in bundle["events"]}
        if brand_root in bundle["batches"]:
            batch = bundle["batches"][brand_root]
            # Every leaf of the batch stays (the root rebuilds from them), not every event.
            assert batch["leaves"] == whole["batches"][brand_root]["leaves"]
            assert len(batch["leaves"]) == batch["event_count"] == 4
        result = exported.verify(bundle)
        assert result.ok, (who, [f.to_json() for f in result.findings])
        assert result.verified == len(EXPECTED[who])
    # A bundle by identifier is filtered alike; so is the streamed plan of GET /export.
    retailer = exported.export(
        reader=readers["retailer"], identifier=f"{DL}/01/{gtin(PREFIX)}/21/1"
    )
    assert _names(retailer) == {"restricted"}
    plan = plan_bundle(
        engine, chain, deployment, reader=readers["rival"], from_time="2026-05-01T00:00:00Z"
    )
    streamed = json.loads("".join(plan.chunks()))
    built = exported.export(reader=readers["rival"], from_time="2026-05-01T00:00:00Z")
    assert plan.event_count == 2
    streamed.pop("created_at")
    built.pop("created_at")
    assert streamed == built
