"""Export bundles and their offline verification, against the real devnet and real SQLite:
a bundle of a supply chain verifies with nothing but a node, and every planted tamper (in the
bundle file or in the ledger it was exported from) is found."""

from __future__ import annotations

import copy
import os
from typing import Any

import pytest
import sqlalchemy as sa
from web3.contract import Contract

from ledger.bundle import BundleFormatError, verify_bundle
from ledger.chain import ChainClient
from ledger.errors import InvalidInputError
from ledger.events import parse_document
from ledger.merkle import MerkleTree, leaf_hash
from ledger.signing import event_keys
from ledger.store.capture import capture_events
from ledger.store.models import AnchorBatch, Event, EventIdentifier, metadata
from tests.helpers import document_bytes, sgtin_event
from tests.ledger.bundle.conftest import Exported, drain, kinds
from tests.ledger.conftest import MakeMember
from wallets.eip712 import sign_event
from wallets.keyring import Keyring

_event = metadata.tables[Event.__tablename__]
_batch = metadata.tables[AnchorBatch.__tablename__]
_ident = metadata.tables[EventIdentifier.__tablename__]


# ---------------------------------------------------------------------- tampered bundles


def _cocoa(exported: Exported) -> dict[str, Any]:
    return exported.export(lot=exported.supply.lots["cocoa"])


def test_changed_captured_event(exported: Exported) -> None:
    bundle = _cocoa(exported)
    bundle["events"][1]["event"]["bizStep"] = "destroying"
    result = exported.verify(bundle)
    assert kinds(result) == {"tampered_event"}
    assert result.findings[0].evidence["hash_id"] == bundle["events"][1]["hash_id"]
    assert [s["status"] for s in result.statuses].count("failed") == 1


@pytest.mark.parametrize(
    ("member", "value"),
    [
        ("eventID", "urn:uuid:00000000-0000-4000-8000-00000000beef"),
        ("recordTime", "2020-01-01T00:00:00Z"),
        ("errorDeclaration", {"declarationTime": "2026-03-02T00:00:00Z"}),
        ("rdfs:comment", "added later"),
    ],
)
def test_members_outside_the_cbv_hash_are_covered_offline(
    exported: Exported, member: str, value: Any
) -> None:
    """The version-2 leaf commits to the event as stored: a bundled event whose eventID (or
    any member the CBV 2.0 hash leaves out) was changed no longer reaches its anchored root."""
    bundle = exported.export(lot=exported.supply.lots["cocoa"])
    assert {b["leaf_version"] for b in bundle["batches"].values()} == {2}
    assert {s.get("coverage") for s in exported.verify(bundle).statuses} == {"record"}
    bundle["events"][0]["event"][member] = value
    result = exported.verify(bundle)
    assert kinds(result) == {"tampered_proof"}
    assert result.statuses[0]["status"] == "failed"


def test_changed_proof(exported: Exported) -> None:
    bundle = _cocoa(exported)
    bundle["events"][0]["proof"][0] = "0x" + "11" * 32
    result = exported.verify(bundle)
    assert kinds(result) == {"tampered_proof"}


def test_changed_root(exported: Exported) -> None:
    bundle = _cocoa(exported)
    entry = bundle["events"][2]
    old = entry["root"]
    forged = "0x" + os.urandom(32).hex()
    for e in bundle["events"]:
        if e["root"] == old:
            e["root"] = forged
    bundle["batches"][forged] = bundle["batches"].pop(old)
    result = exported.verify(bundle)
    assert kinds(result) == {"tampered_proof", "root_mismatch", "missing_anchor"}
    # Rewriting the span's list of roots too: the real root is now an orphan in the span.
    bundle["span"]["roots"] = [forged if r == old else r for r in bundle["span"]["roots"]]
    result = exported.verify(bundle)
    assert "orphan_anchor" in kinds(result)
    orphan = next(f for f in result.findings if f.kind == "orphan_anchor")
    assert orphan.evidence["root"] == old


def test_deleted_event_from_the_bundle(exported: Exported) -> None:
    bundle = _cocoa(exported)
    gone = bundle["events"].pop(3)
    result = exported.verify(bundle)
    assert kinds(result) == {"missing_events"}
    assert result.findings[0].evidence["missing_event_hashes"] == [gone["event_hash"]]


def test_deleted_event_from_the_ledger(exported: Exported) -> None:
    bundle = _cocoa(exported)
    victim = bundle["events"][3]["event_hash"]
    with exported.engine.begin() as conn:
        pk = conn.execute(sa.select(_event.c.id).where(_event.c.event_hash == victim)).scalar_one()
        batch_id = conn.execute(sa.select(_event.c.batch_id).where(_event.c.id == pk)).scalar()
        # A batch with another event of the lot, so the lot's bundle still names it.
        conn.execute(_ident.delete().where(_ident.c.event_pk == pk))
        conn.execute(_event.delete().where(_event.c.id == pk))
    assert batch_id is not None
    result = exported.verify(_cocoa(exported))
    assert {"root_mismatch", "missing_events"} <= kinds(result)


def test_swapped_recorder(exported: Exported) -> None:
    bundle = _cocoa(exported)
    intruder = exported.org_ids["retailer_2"]
    entry = bundle["events"][0]
    entry["org_id"] = intruder
    bundle["batches"][entry["root"]]["org_id"] = intruder
    result = exported.verify(bundle)
    assert kinds(result) == {"wrong_recorder"}
    assert any(f.evidence.get("anchored_by_org_id") for f in result.findings)
    # ... or another address named as the recorder: the leaf, the proof and the sender differ.
    bundle = _cocoa(exported)
    bundle["events"][1]["recorder"] = "0x" + "22" * 20
    assert {"wrong_recorder", "tampered_proof"} <= kinds(exported.verify(bundle))


def test_swapped_recorder_in_the_ledger(exported: Exported) -> None:
    target = exported.supply.lots["cocoa"]
    with exported.engine.begin() as conn:
        pks = conn.execute(
            sa.select(_ident.c.event_pk).where(_ident.c.canonical == target)
        ).scalars()
        conn.execute(
            _event.update()
            .where(_event.c.id.in_(list(pks)))
            .values(organisation_id=exported.member_ids["retailer_1"])
        )
    result = exported.verify(_cocoa(exported))
    assert kinds(result) == {"wrong_recorder"}


def test_orphan_anchor_in_the_span(exported: Exported, anchor: Contract, keyring: Keyring) -> None:
    before = exported.export(from_time="2026-01-01T00:00:00Z")
    assert exported.verify(before).ok
    # Somebody anchors a root between two of the ledger's batches...
    member = exported.org_ids["factory"]
    address = next(iter(keyring.addresses(member)))
    signer = keyring.signer(member, address)
    root = os.urandom(32)
    exported.chain.transact(signer, anchor.functions.anchorBatch(root, 3))
    supply = exported.supply
    late = sgtin_event(offset_minutes=500)
    capture_events(
        exported.engine,
        parse_document(document_bytes(late), "application/ld+json"),
        organisation_id=exported.member_ids["factory"],
    )
    drain(exported.engine, exported.chain, exported.deployment, keyring)
    result = exported.verify(exported.export(from_time="2026-01-01T00:00:00Z"))
    assert kinds(result) == {"orphan_anchor"}
    assert result.findings[0].evidence["root"] == "0x" + root.hex()
    assert result.findings[0].evidence["member_org_id"] == member
    # A bundle whose span ends before the orphan does not see it.
    assert exported.verify(exported.export(lot=supply.lots["cocoa"])).ok


def test_missing_anchor(exported: Exported, make_member: MakeMember) -> None:
    """Events the ledger says are anchored under a root that never reached the chain."""
    member = make_member("Never Sent")
    parsed = parse_document(document_bytes(sgtin_event(offset_minutes=900)), "application/ld+json")
    (record,) = capture_events(exported.engine, parsed, organisation_id=member.id).events
    address = member.signing_addresses[0]
    digest, id_key = event_keys(parsed[0])
    leaf = leaf_hash(digest, id_key, address)
    tree = MerkleTree.build([leaf])
    with exported.engine.begin() as conn:
        batch_id = conn.execute(
            _batch.insert()
            .values(
                organisation_id=member.id,
                signer_address=address,
                root="0x" + tree.root.hex(),
                event_count=1,
                status="mined",
                tx_hash="0x" + "55" * 32,
                block_number=exported.chain.w3.eth.block_number,
                chain_id=exported.deployment.chain_id,
            )
            .returning(_batch.c.id)
        ).scalar_one()
        conn.execute(
            _event.update()
            .where(_event.c.id == record.event_pk)
            .values(batch_id=batch_id, anchor_status="anchored", recorder_address=address, proof=[])
        )
    bundle = exported.export(identifier=parsed[0].identifiers[0][1])
    result = exported.verify(bundle)
    assert "missing_anchor" in kinds(result)
    assert kinds(result) <= {"missing_anchor"}
    assert result.statuses[0]["status"] == "failed"


def test_wrong_chain(exported: Exported) -> None:
    bundle = _cocoa(exported)
    bundle["chain"]["chain_id"] += 1
    bundle["chain"]["genesis_hash"] = "0x" + "00" * 32
    result = exported.verify(bundle)
    assert kinds(result) == {"wrong_chain"}
    assert len(result.findings) == 2


def test_pending_events_are_listed_not_verified(
    exported: Exported, make_member: MakeMember
) -> None:
    member = make_member("Pending")
    parsed = parse_document(document_bytes(sgtin_event(offset_minutes=700)), "application/ld+json")
    capture_events(exported.engine, parsed, organisation_id=member.id)
    bundle = exported.export(identifier=parsed[0].identifiers[0][1])
    assert bundle["events"][0]["root"] is None
    result = exported.verify(bundle)
    assert result.ok
    assert result.pending == 1
    assert result.statuses[0]["status"] == "pending"
    tampered = copy.deepcopy(bundle)
    tampered["events"][0]["event"]["action"] = "DELETE"
    assert kinds(exported.verify(tampered)) == {"tampered_event"}


def test_signed_events(
    exported: Exported, keyring: Keyring, make_member: MakeMember, anchor: Contract
) -> None:
    member = make_member("Signs Itself")
    other = make_member("Someone Else")
    parsed = parse_document(document_bytes(sgtin_event(offset_minutes=800)), "application/ld+json")
    digest, id_key = event_keys(parsed[0])
    signer = keyring.signer(member.org_id, member.signing_addresses[0])
    chain_id, contract = exported.chain.chain_id, exported.deployment.anchor_address
    signature = sign_event(signer, chain_id, contract, digest, id_key)
    capture_events(
        exported.engine,
        parsed,
        organisation_id=member.id,
        signature="0x" + bytes(signature).hex(),
    )
    drain(exported.engine, exported.chain, exported.deployment, keyring)
    bundle = exported.export(identifier=parsed[0].identifiers[0][1])
    assert bundle["events"][0]["signature"]
    assert exported.verify(bundle).ok
    forger = keyring.signer(other.org_id, other.signing_addresses[0])
    forged = sign_event(forger, chain_id, contract, digest, id_key)
    bundle["events"][0]["signature"] = "0x" + bytes(forged).hex()
    result = exported.verify(bundle)
    # The anchored leaf covers the signature as stored: another one breaks the proof.
    assert kinds(result) == {"tampered_proof"}
    assert result.statuses[0]["status"] == "failed"
    del bundle["events"][0]["signature"]
    assert kinds(exported.verify(bundle)) == {"tampered_proof"}


def test_a_malformed_bundle_is_refused_naming_the_member(exported: Exported) -> None:
    """A bundle whose shape is broken is no bundle: refused before the chain is asked, with
    the member at fault named (its values, once the shape holds, are what findings are for)."""
    bundle = _cocoa(exported)
    del bundle["events"][2]["hash_id"]
    with pytest.raises(BundleFormatError) as refused:
        exported.verify(bundle)
    assert refused.value.field == "events[2].hash_id"
    bundle = _cocoa(exported)
    root = bundle["events"][0]["root"]
    bundle["batches"][root]["block"] = str(bundle["batches"][root]["block"])
    with pytest.raises(InvalidInputError) as refused:
        verify_bundle(bundle, ChainClient(exported.chain.rpc_url))
    assert refused.value.field == f"batches[{root}].block"
