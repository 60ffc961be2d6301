"""The independent audit against the real anvil devnet and real SQLite: a clean ledger audits
clean, and every planted tamper is found with its evidence."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from sqlalchemy.engine import Engine
from web3.contract import Contract

from ledger.anchoring import AnchorConfig, AnchorWorker
from ledger.audit import Auditor, AuditReport
from ledger.chain import ChainClient
from ledger.deployment import Deployment
from ledger.membership import Member, Membership, reason_hash
from ledger.merkle import MerkleTree, leaf_hash
from ledger.store.models import AnchorBatch, Event, EventIdentifier, metadata
from tests.helpers import gtin, sgtin_event, unique_prefix
from tests.ledger.conftest import Capture, MakeMember
from wallets.keyring import Keyring

_event = metadata.tables[Event.__tablename__]
_batch = metadata.tables[AnchorBatch.__tablename__]
_ident = metadata.tables[EventIdentifier.__tablename__]


@dataclass
class Ledger:
    """A small anchored ledger of two members."""

    engine: Engine
    members: list[Member]
    pks: list[int]
    from_block: int
    auditor: Auditor

    def audit(self, **kw: Any) -> AuditReport:
        return self.auditor.run(from_block=self.from_block, **kw)


def make_worker(
    engine: Engine, chain: ChainClient, deployment: Deployment, keyring: Keyring
) -> AnchorWorker:
    return AnchorWorker(
        engine, ChainClient(chain.rpc_url), deployment, keyring, AnchorConfig(max_events=5)
    )


@pytest.fixture
def ledger(
    engine: Engine,
    chain: ChainClient,
    deployment: Deployment,
    keyring: Keyring,
    make_member: MakeMember,
    capture: Capture,
) -> Ledger:
    from_block = chain.w3.eth.block_number + 1
    members = [make_member("Audited A"), make_member("Audited B")]
    pks = []
    for member in members:
        for _ in range(2):
            result = capture(member, [sgtin_event(offset_minutes=i) for i in range(6)])
            pks += [r.event_pk for r in result.events]
    assert make_worker(engine, chain, deployment, keyring).drain() == 24
    auditor = Auditor(engine, ChainClient(chain.rpc_url), deployment, workers=1)
    return Ledger(engine, members, pks, from_block, auditor)


def kinds(report: AuditReport) -> list[str]:
    return sorted(f.kind for f in report.findings)


def batch_rows(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(_batch).order_by(_batch.c.id)))


def event_row(engine: Engine, pk: int) -> Any:
    with engine.connect() as conn:
        return conn.execute(sa.select(_event).where(_event.c.id == pk)).one()


def update_event(engine: Engine, pk: int, **values: Any) -> None:
    with engine.begin() as conn:
        conn.execute(_event.update().where(_event.c.id == pk).values(**values))


def test_a_clean_ledger_audits_clean(ledger: Ledger) -> None:
    seen: list[tuple[int, int]] = []
    report = ledger.audit(progress=lambda done, total: seen.append((done, total)))
    assert report.ok, [f.to_json() for f in report.findings]
    assert report.events == 24
    assert report.batches == report.mined_batches == len(batch_rows(ledger.engine))
    assert report.anchors_on_chain == report.batches
    assert report.pending_events == 0
    assert seen[-1] == (24, 24)
    summary = report.summary()
    assert summary["ok"] is True
    assert summary["findings"] == 0


def test_pending_events_are_hashed_too(
    ledger: Ledger, make_member: MakeMember, capture: Capture
) -> None:
    late = make_member("Late")
    (record,) = capture(late, [sgtin_event()]).events
    clean = ledger.audit()
    assert clean.ok
    assert clean.pending_events == 1
    row = event_row(ledger.engine, record.event_pk)
    update_event(
        ledger.engine, record.event_pk, captured_json=row.captured_json.replace("ADD", "DELETE")
    )
    report = ledger.audit()
    assert kinds(report) == ["tampered_event"]
    assert report.findings[0].evidence["event_pk"] == record.event_pk
    assert report.findings[0].evidence["batch_id"] is None


def test_changed_captured_event(ledger: Ledger) -> None:
    victim = ledger.pks[3]
    row = event_row(ledger.engine, victim)
    update_event(
        ledger.engine,
        victim,
        captured_json=row.captured_json.replace("commissioning", "decommissioning"),
    )
    report = ledger.audit()
    # The leaf covers the captured JSON too: the batch no longer rebuilds its root and the
    # event's proof no longer leads to it.
    assert kinds(report) == ["root_mismatch", "tampered_event", "tampered_proof"]
    (finding,) = [f for f in report.findings if f.kind == "tampered_event"]
    assert finding.evidence["event_pk"] == victim
    assert finding.evidence["hash_id"] == row.hash_id
    assert finding.evidence["recomputed_hash_id"] != row.hash_id
    assert finding.evidence["recomputed_hash_id"].startswith("ni:///sha-256;")


def test_changed_identifier_key_and_unreadable_json(ledger: Ledger) -> None:
    update_event(ledger.engine, ledger.pks[0], captured_json="{not json")
    update_event(ledger.engine, ledger.pks[1], primary_id_key="0x" + "33" * 32)
    report = ledger.audit()
    tampered = [f for f in report.findings if f.kind == "tampered_event"]
    assert {f.evidence["event_pk"] for f in tampered} == {ledger.pks[0], ledger.pks[1]}
    assert any("no longer reads" in f.message for f in tampered)
    assert any("identifier key" in f.message for f in tampered)
    # The forged key also changes the event's leaf, so its batch no longer rebuilds its root.
    assert "root_mismatch" in kinds(report)


def test_changed_proof(ledger: Ledger) -> None:
    victim = ledger.pks[7]
    row = event_row(ledger.engine, victim)
    update_event(ledger.engine, victim, proof=["0x" + "11" * 32, *row.proof[1:]])
    report = ledger.audit()
    assert kinds(report) == ["tampered_proof"]
    assert report.findings[0].evidence["event_pk"] == victim
    assert report.findings[0].evidence["batch_id"] == row.batch_id


def test_changed_root(ledger: Ledger) -> None:
    batch = batch_rows(ledger.engine)[1]
    forged = "0x" + os.urandom(32).hex()
    with ledger.engine.begin() as conn:
        conn.execute(_batch.update().where(_batch.c.id == batch.id).values(root=forged))
    report = ledger.audit()
    assert kinds(report) == ["missing_anchor", "root_mismatch"]
    mismatch = next(f for f in report.findings if f.kind == "root_mismatch")
    assert mismatch.evidence["root"] == forged
    assert mismatch.evidence["rebuilt_root"] == batch.root
    assert mismatch.evidence["rebuilt_root_anchored"] is True
    missing = next(f for f in report.findings if f.kind == "missing_anchor")
    assert missing.evidence["batch_id"] == batch.id
    assert missing.evidence["tx_hash"] == batch.tx_hash


def test_deleted_event(ledger: Ledger) -> None:
    victim = ledger.pks[5]
    row = event_row(ledger.engine, victim)
    with ledger.engine.begin() as conn:
        conn.execute(_ident.delete().where(_ident.c.event_pk == victim))
        conn.execute(_event.delete().where(_event.c.id == victim))
    report = ledger.audit()
    assert kinds(report) == ["missing_events", "root_mismatch"]
    missing = next(f for f in report.findings if f.kind == "missing_events")
    assert missing.evidence["batch_id"] == row.batch_id
    assert missing.evidence["found"] == missing.evidence["recorded_count"] - 1
    # Hiding the deletion by fixing the recorded count: the chain still says how many.
    with ledger.engine.begin() as conn:
        conn.execute(
            _batch.update()
            .where(_batch.c.id == row.batch_id)
            .values(event_count=_batch.c.event_count - 1)
        )
    report = ledger.audit()
    assert kinds(report) == ["missing_events", "root_mismatch"]
    hidden = next(f for f in report.findings if f.kind == "missing_events")
    assert hidden.evidence["anchored_count"] == hidden.evidence["found"] + 1


def test_swapped_recorder_of_an_event(ledger: Ledger) -> None:
    victim = ledger.pks[2]  # recorded by member A
    other = ledger.members[1]
    update_event(ledger.engine, victim, organisation_id=other.id)
    report = ledger.audit()
    # Its capture job still names member A.
    assert kinds(report) == ["tampered_event", "wrong_recorder"]
    assert "capture job" in report.findings[0].message
    finding = report.findings[1]
    assert finding.evidence["event_pks"] == [victim]
    assert finding.evidence["events_org_id"] == other.org_id
    assert finding.evidence["batch_org_id"] == ledger.members[0].org_id


def test_swapped_recorder_of_a_batch(ledger: Ledger) -> None:
    """The batch and its events handed to another member: the chain says who anchored it."""
    batch = batch_rows(ledger.engine)[0]
    other = ledger.members[1]
    with ledger.engine.begin() as conn:
        conn.execute(
            _batch.update().where(_batch.c.id == batch.id).values(organisation_id=other.id)
        )
        conn.execute(
            _event.update().where(_event.c.batch_id == batch.id).values(organisation_id=other.id)
        )
    report = ledger.audit()
    # The events' capture jobs still name member A; the chain says who anchored the batch.
    tampered = [f for f in report.findings if f.kind == "tampered_event"]
    assert {f.evidence["batch_id"] for f in tampered} == {batch.id}
    assert all("capture job" in f.message for f in tampered)
    assert set(kinds(report)) == {"tampered_event", "wrong_recorder"}
    (finding,) = [f for f in report.findings if f.kind == "wrong_recorder"]
    assert finding.evidence["anchored_by_org_id"] == ledger.members[0].org_id
    assert finding.evidence["batch_org_id"] == other.org_id
    assert "not " + other.org_id in finding.message


def test_swapped_recorder_address(ledger: Ledger) -> None:
    victim = ledger.pks[9]
    forged = "0x" + "22" * 20
    update_event(ledger.engine, victim, recorder_address=forged)
    report = ledger.audit()
    # The forged address changes the event's leaf: the batch no longer rebuilds its root (the
    # stored proof may or may not still fit the rebuilt tree, depending on where the leaf sorts).
    assert (
        {"root_mismatch", "wrong_recorder"}
        <= set(kinds(report))
        <= {
            "root_mismatch",
            "wrong_recorder",
            "tampered_proof",
        }
    )
    wrong = next(f for f in report.findings if f.kind == "wrong_recorder")
    assert wrong.evidence["events_recorder"] == forged


def test_recorded_transaction_differs(ledger: Ledger) -> None:
    batch = batch_rows(ledger.engine)[2]
    with ledger.engine.begin() as conn:
        conn.execute(
            _batch.update()
            .where(_batch.c.id == batch.id)
            .values(tx_hash="0x" + "44" * 32, block_number=batch.block_number + 1000)
        )
    report = ledger.audit()
    assert kinds(report) == ["anchor_mismatch"]
    evidence = report.findings[0].evidence
    assert evidence["tx_hash"] == batch.tx_hash
    assert evidence["recorded_tx_hash"] == "0x" + "44" * 32


def test_orphan_anchors_nobody_recorded(
    ledger: Ledger, chain: ChainClient, anchor: Contract, keyring: Keyring
) -> None:
    member = ledger.members[1]
    signer = keyring.signer(member.org_id, member.signing_addresses[0])
    root = os.urandom(32)
    receipt = chain.transact(signer, anchor.functions.anchorBatch(root, 7))
    stray = os.urandom(32)
    chain.transact(signer, anchor.functions.anchorEvent(os.urandom(32), stray))
    # A single-event anchor of an event the ledger holds is accounted for.
    known = event_row(ledger.engine, ledger.pks[-1])
    chain.transact(
        signer,
        anchor.functions.anchorEvent(HexBytes(known.primary_id_key), HexBytes(known.event_hash)),
    )
    report = ledger.audit()
    assert kinds(report) == ["orphan_anchor", "orphan_anchor"]
    batch_orphan = next(f for f in report.findings if "root" in f.evidence)
    assert batch_orphan.evidence["root"] == "0x" + root.hex()
    assert batch_orphan.evidence["member_org_id"] == member.org_id
    assert batch_orphan.evidence["count"] == 7
    assert batch_orphan.evidence["block"] == receipt["blockNumber"]
    assert batch_orphan.evidence["sender"] == signer.address
    event_orphan = next(f for f in report.findings if "event_hash" in f.evidence)
    assert event_orphan.evidence["event_hash"] == "0x" + stray.hex()
    assert report.event_anchors_on_chain == 2
    # Outside the audited block range the orphans are not the audit's business.
    later = ledger.auditor.run(from_block=chain.w3.eth.block_number + 1)
    assert later.ok, [f.to_json() for f in later.findings]


def test_missing_anchor(ledger: Ledger, make_member: MakeMember, capture: Capture) -> None:
    """A batch the database says is mined, whose root never reached the chain."""
    member = make_member("Never Sent")
    records = capture(member, [sgtin_event() for _ in range(3)]).events
    pks = [r.event_pk for r in records]
    address = member.signing_addresses[0]
    rows = [event_row(ledger.engine, pk) for pk in pks]
    leaves = [leaf_hash(HexBytes(r.event_hash), HexBytes(r.primary_id_key), address) for r in rows]
    tree = MerkleTree.build(leaves)
    with ledger.engine.begin() as conn:
        batch_id = conn.execute(
            _batch.insert()
            .values(
                organisation_id=member.id,
                signer_address=address,
                root="0x" + tree.root.hex(),
                event_count=3,
                status="mined",
                tx_hash="0x" + "55" * 32,
                block_number=ledger.from_block + 1,
                chain_id=ledger.auditor.deployment.chain_id,
            )
            .returning(_batch.c.id)
        ).scalar_one()
        for row, leaf in zip(rows, leaves, strict=True):
            conn.execute(
                _event.update()
                .where(_event.c.id == row.id)
                .values(
                    batch_id=batch_id,
                    anchor_status="anchored",
                    recorder_address=address,
                    proof=["0x" + p.hex() for p in tree.proof(leaf)],
                )
            )
    report = ledger.audit()
    assert kinds(report) == ["missing_anchor"]
    evidence = report.findings[0].evidence
    assert evidence["batch_id"] == batch_id
    assert evidence["root"] == "0x" + tree.root.hex()
    assert evidence["rebuilt_root_anchored"] is False


def test_batches_anchored_before_the_range_are_looked_up(
    ledger: Ledger, chain: ChainClient
) -> None:
    report = ledger.auditor.run(from_block=chain.w3.eth.block_number + 1)
    assert report.ok, [f.to_json() for f in report.findings]
    assert report.anchors_on_chain == 0
    assert report.mined_batches == len(batch_rows(ledger.engine))
    # ... and their anchors are still checked: a forged transaction hash is found.
    batch = batch_rows(ledger.engine)[0]
    with ledger.engine.begin() as conn:
        conn.execute(
            _batch.update().where(_batch.c.id == batch.id).values(tx_hash="0x" + "66" * 32)
        )
    report = ledger.auditor.run(from_block=chain.w3.eth.block_number + 1)
    assert kinds(report) == ["anchor_mismatch"]


def test_two_worker_processes_find_the_same(ledger: Ledger, chain: ChainClient) -> None:
    victim = ledger.pks[4]
    row = event_row(ledger.engine, victim)
    update_event(ledger.engine, victim, captured_json=row.captured_json.replace("ADD", "DELETE"))
    pooled = Auditor(
        ledger.engine,
        ChainClient(chain.rpc_url),
        ledger.auditor.deployment,
        workers=2,
        unit_events=5,
    )
    seen: list[int] = []
    report = pooled.run(from_block=ledger.from_block, progress=lambda d, t: seen.append(d))
    inline = ledger.audit()
    assert [f.to_json() for f in report.findings] == [f.to_json() for f in inline.findings]
    assert report.batches == inline.batches
    assert kinds(report) == ["root_mismatch", "tampered_event", "tampered_proof"]
    assert report.events == 24
    assert seen[-1] == 24
    assert len(seen) > 1  # more than one unit came back


def test_recalls_are_listed_and_non_owner_recalls_found(
    engine: Engine,
    chain: ChainClient,
    anchor: Contract,
    admin: LocalAccount,
    membership: Membership,
    keyring: Keyring,
    make_member: MakeMember,
    capture: Capture,
    deployment: Deployment,
) -> None:
    start = chain.w3.eth.block_number + 1
    gcp = unique_prefix("07")
    owner = make_member("Prefix Owner", prefixes=(gcp,))
    intruder = make_member("Intruder")
    lot_gtin = gtin(gcp, 7)
    lot = f"https://id.gs1.org/01/{lot_gtin}/10/LOT-1"
    event = sgtin_event()
    event["epcList"] = [f"{lot}/21/1"]
    capture(owner, [event])
    make_worker(engine, chain, deployment, keyring).drain()
    membership.recall(owner.org_id, lot, "listeria")
    # The intruder gets a longer prefix of the same GTIN on the chain only (the database is
    # never told), which lets it recall the lot on chain.
    longer = "gs1:" + lot_gtin[1:9]
    chain.transact(admin, anchor.functions.assignPrefix(longer, HexBytes(intruder.org_id)))
    signer = keyring.signer(intruder.org_id, intruder.signing_addresses[0])
    chain.transact(signer, anchor.functions.liftRecall(lot, reason_hash("all clear")))
    report = Auditor(engine, ChainClient(chain.rpc_url), deployment, workers=1).run(
        from_block=start
    )
    assert kinds(report) == ["recall_by_non_owner"]
    recall, lift = report.recalls
    assert recall["action"] == "recall"
    assert recall["identifier"] == lot
    assert recall["member_org_id"] == recall["db_prefix_owner"] == owner.org_id
    assert recall["db_events"] == 1
    assert lift["action"] == "lift"
    assert lift["identifier"] == lot  # named by the earlier Recalled log
    assert lift["member_org_id"] == intruder.org_id
    finding = report.findings[0]
    assert finding.evidence["tx_hash"] == lift["tx_hash"]
    assert finding.evidence["db_prefix_owner"] == owner.org_id
    assert report.summary()["recalls_of_ledger_identifiers"] == 2


def test_wrong_chain(ledger: Ledger, deployment: Deployment) -> None:
    forged = Deployment(
        chain_id=deployment.chain_id + 1,
        genesis_hash=deployment.genesis_hash,
        admin=deployment.admin,
        contracts=deployment.contracts,
    )
    report = Auditor(ledger.engine, ledger.auditor.chain, forged, workers=1).run()
    assert set(kinds(report)) == {"wrong_chain"}
    assert report.events == 24  # the database side is still audited


def test_report_json(ledger: Ledger, tmp_path: Path) -> None:
    update_event(ledger.engine, ledger.pks[0], captured_json="{}")
    report = ledger.audit()
    path = tmp_path / "report" / "audit.json"
    report.write(path)
    data = json.loads(path.read_text())
    assert data["summary"]["ok"] is False
    assert data["summary"]["by_kind"] == {
        "tampered_event": 1,
        "tampered_proof": 1,
        "root_mismatch": 1,
    }
    assert data["chain"]["contract"] == ledger.auditor.deployment.anchor_address
    assert data["chain"]["from_block"] == ledger.from_block
    assert data["findings"][0]["evidence"]["event_pk"] == ledger.pks[0]
