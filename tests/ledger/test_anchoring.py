"""The anchor worker and verification against the real anvil devnet and real SQLite."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from hexbytes import HexBytes
from sqlalchemy.engine import Engine
from web3.contract import Contract

from ledger.anchoring import AnchorConfig, AnchorWorker
from ledger.chain import ChainClient
from ledger.deployment import Deployment
from ledger.identifiers import parse
from ledger.membership import Membership, PrefixOwnershipError
from ledger.store.db import make_engine, migrate
from ledger.store.models import AnchorBatch, Event, Organisation, Outbox, metadata
from ledger.verify import Verifier
from ledger.visibility import Reader
from tests.helpers import sgtin_event, unique_prefix
from tests.ledger.conftest import Capture, MakeMember
from wallets.keyring import Keyring

#: Trails read as the operator (every event); visibility has tests of its own.
OPERATOR = Reader.operator()

_event = metadata.tables[Event.__tablename__]
_batch = metadata.tables[AnchorBatch.__tablename__]
_outbox = metadata.tables[Outbox.__tablename__]
_org = metadata.tables[Organisation.__tablename__]

MakeWorker = Callable[..., AnchorWorker]


@pytest.fixture
def make_worker(
    engine: Engine, chain: ChainClient, deployment: Deployment, keyring: Keyring
) -> MakeWorker:
    def _make(**config: float) -> AnchorWorker:
        return AnchorWorker(
            engine, ChainClient(chain.rpc_url), deployment, keyring, AnchorConfig(**config)
        )

    return _make


@pytest.fixture
def verifier(engine: Engine, chain: ChainClient, deployment: Deployment) -> Verifier:
    return Verifier(engine, chain, deployment)


def event_pks(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(_event.c.id).order_by(_event.c.id)).scalars())


def batches(engine: Engine) -> list[sa.Row[tuple[object, ...]]]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(_batch).order_by(_batch.c.id)).all())


def on_chain_roots(anchor: Contract, from_block: int = 0) -> list[bytes]:
    logs = anchor.events.BatchAnchored().get_logs(from_block=from_block)
    return [bytes(log.args.root) for log in logs]


def test_capture_anchor_verify(
    engine: Engine,
    make_member: MakeMember,
    capture: Capture,
    make_worker: MakeWorker,
    verifier: Verifier,
    anchor: Contract,
    chain: ChainClient,
) -> None:
    member = make_member()
    result = capture(member, [sgtin_event(offset_minutes=i) for i in range(25)])
    pks = [r.event_pk for r in result.events]
    assert {verifier.verify_event(pk).status for pk in pks} == {"pending"}
    start = chain.w3.eth.block_number
    worker = make_worker(max_events=10)
    assert worker.drain() == 25
    rows = batches(engine)
    assert [row.event_count for row in rows] == [10, 10, 5]
    assert {row.status for row in rows} == {"mined"}
    assert sorted(on_chain_roots(anchor, start)) == sorted(HexBytes(r.root) for r in rows)
    assert worker.pending_count() == 0
    for pk in pks:
        result_ = verifier.verify_event(pk)
        assert result_.status == "verified", result_.reasons
        assert result_.tx_hash is not None
        assert result_.recorder_address in member.signing_addresses
    # Capturing the same events again adds nothing to anchor.
    again = capture(member, [json.loads(_captured(engine, pk)) for pk in pks[:3]])
    assert again.new_count == 0
    assert worker.run_once(force=True) == 0


def _captured(engine: Engine, pk: int) -> str:
    with engine.connect() as conn:
        return str(
            conn.execute(sa.select(_event.c.captured_json).where(_event.c.id == pk)).scalar_one()
        )


def test_batches_close_on_size_or_time(
    engine: Engine, make_member: MakeMember, capture: Capture, make_worker: MakeWorker
) -> None:
    member = make_member()
    capture(member, [sgtin_event() for _ in range(7)])
    slow = make_worker(max_events=5, max_wait_s=3600)
    assert slow.run_once() == 5  # one full batch; the remaining 2 wait for time or size
    assert slow.pending_count() == 2
    fast = make_worker(max_events=5, max_wait_s=0.001)
    assert fast.run_once() == 2


TAMPERS = [
    # (what is changed, new value builder, expected reason fragment)
    (
        "captured_json",
        lambda row: row.captured_json.replace('"ADD"', '"DELETE"'),
        "hashes to",
    ),
    (
        "captured_json",
        lambda row: row.captured_json.replace("commissioning", "decommissioning"),
        "hashes to",
    ),
    (
        "proof",
        lambda row: ["0x" + "11" * 32, *list(row.proof[1:])],
        "Merkle proof",
    ),
    # The batch names its signing address: the event's no longer agrees with it.
    ("recorder_address", lambda row: "0x" + "22" * 20, "recorder"),
    ("primary_id_key", lambda row: "0x" + "33" * 32, "identifier key"),
]


@pytest.mark.parametrize(("column", "change", "reason"), TAMPERS)
def test_tampering_is_detected(
    engine: Engine,
    make_member: MakeMember,
    capture: Capture,
    make_worker: MakeWorker,
    verifier: Verifier,
    column: str,
    change: Callable[[sa.Row[tuple[object, ...]]], object],
    reason: str,
) -> None:
    member = make_member()
    pks = [r.event_pk for r in capture(member, [sgtin_event() for _ in range(4)]).events]
    make_worker().drain()
    victim = pks[1]
    with engine.begin() as conn:
        row = conn.execute(sa.select(_event).where(_event.c.id == victim)).one()
        conn.execute(_event.update().where(_event.c.id == victim).values({column: change(row)}))
    result = verifier.verify_event(victim)
    assert result.status == "tampered"
    assert any(reason in r for r in result.reasons), result.reasons
    assert {verifier.verify_event(pk).status for pk in pks if pk != victim} == {"verified"}


def test_one_changed_byte_of_the_stored_event_is_detected(
    engine: Engine,
    make_member: MakeMember,
    capture: Capture,
    make_worker: MakeWorker,
    verifier: Verifier,
) -> None:
    member = make_member()
    (record,) = capture(member, [sgtin_event(serial="ABC123")]).events
    make_worker().drain()
    text = _captured(engine, record.event_pk)
    at = text.index("ABC123") + 3
    with engine.begin() as conn:
        conn.execute(
            _event.update()
            .where(_event.c.id == record.event_pk)
            .values(captured_json=text[:at] + "D" + text[at + 1 :])
        )
    result = verifier.verify_event(record.event_pk)
    assert result.status == "tampered"


def test_swapped_recorder_is_detected(
    engine: Engine,
    make_member: MakeMember,
    capture: Capture,
    make_worker: MakeWorker,
    verifier: Verifier,
) -> None:
    honest, other = make_member("Honest"), make_member("Other")
    (record,) = capture(honest, [sgtin_event()]).events
    make_worker().drain()
    with engine.begin() as conn:
        conn.execute(
            _event.update().where(_event.c.id == record.event_pk).values(organisation_id=other.id)
        )
    result = verifier.verify_event(record.event_pk)
    assert result.status == "tampered"
    # Its capture job and batch still name the honest member...
    assert any("capture job" in r for r in result.reasons), result.reasons
    assert any("batch name different members" in r for r in result.reasons), result.reasons
    # ...and when they are changed too, the chain says who anchored the root.
    with engine.begin() as conn:
        row = conn.execute(sa.select(_event).where(_event.c.id == record.event_pk)).one()
        conn.execute(
            _batch.update().where(_batch.c.id == row.batch_id).values(organisation_id=other.id)
        )
        jobs = metadata.tables["capture"]
        conn.execute(
            jobs.update().where(jobs.c.id == row.capture_id).values(organisation_id=other.id)
        )
    result = verifier.verify_event(record.event_pk)
    assert result.status == "tampered"
    assert any("not by the recorder" in r for r in result.reasons), result.reasons


def test_suspended_member_cannot_anchor_until_reinstated(
    make_member: MakeMember,
    membership: Membership,
    capture: Capture,
    make_worker: MakeWorker,
    verifier: Verifier,
) -> None:
    member = make_member()
    membership.suspend(member.org_id)
    (record,) = capture(member, [sgtin_event()]).events
    worker = make_worker()
    assert worker.run_once(force=True) == 0
    assert worker.pending_count() == 1
    assert verifier.verify_event(record.event_pk).status == "pending"
    membership.reinstate(member.org_id)
    fresh = make_worker()  # a new worker has no back-off memory
    assert fresh.drain() == 1
    assert verifier.verify_event(record.event_pk).status == "verified"


def test_key_rotation_keeps_old_anchors_valid(
    make_member: MakeMember,
    membership: Membership,
    capture: Capture,
    make_worker: MakeWorker,
    verifier: Verifier,
) -> None:
    member = make_member()
    (old,) = capture(member, [sgtin_event()]).events
    make_worker().drain()
    new_address = membership.rotate_key(member.org_id)
    assert membership.member(member.org_id).signing_addresses == (new_address,)
    (new,) = capture(member, [sgtin_event()]).events
    make_worker().drain()
    old_result, new_result = (
        verifier.verify_event(old.event_pk),
        verifier.verify_event(new.event_pk),
    )
    assert old_result.status == new_result.status == "verified"
    assert old_result.recorder_address == member.signing_addresses[0]
    assert new_result.recorder_address == new_address


def test_concurrent_workers_never_double_anchor(
    engine: Engine,
    make_member: MakeMember,
    capture: Capture,
    make_worker: MakeWorker,
    anchor: Contract,
    chain: ChainClient,
) -> None:
    members = [make_member(f"Member {i}") for i in range(3)]
    for member in members:
        for _ in range(4):
            capture(member, [sgtin_event() for _ in range(15)])
    start = chain.w3.eth.block_number
    workers = [make_worker(max_events=20, max_wait_s=0.01) for _ in range(3)]
    stop = threading.Event()
    threads = [threading.Thread(target=w.run, args=(stop,)) for w in workers]
    for t in threads:
        t.start()
    try:
        deadline = 60.0
        t0 = time.monotonic()
        while workers[0].pending_count() and time.monotonic() - t0 < deadline:
            time.sleep(0.1)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert workers[0].pending_count() == 0
    rows = [row for row in batches(engine) if row.status == "mined"]
    assert sum(row.event_count for row in rows) == 180
    roots = on_chain_roots(anchor, start)
    assert len(roots) == len(set(roots)) == len(rows)
    with engine.connect() as conn:
        counts = conn.execute(
            sa.select(_event.c.batch_id, sa.func.count()).group_by(_event.c.batch_id)
        ).all()
    assert {batch_id: n for batch_id, n in counts} == {row.id: row.event_count for row in rows}
    # One transaction per batch, none wasted: each member's nonce equals its batch count.
    for member in members:
        mined = [r for r in rows if r.signer_address == member.signing_addresses[0]]
        assert chain.w3.eth.get_transaction_count(member.signing_addresses[0]) == len(mined)


def test_trail_of_an_identifier_and_recall(
    make_member: MakeMember,
    membership: Membership,
    capture: Capture,
    make_worker: MakeWorker,
    verifier: Verifier,
) -> None:
    gcp = unique_prefix("09")  # the member owns it: its commissioning confirms the origin
    member = make_member(prefixes=(gcp,))
    serial = "TRAIL-1"
    capture(
        member,
        [
            sgtin_event(serial, company_prefix=gcp, biz_step="commissioning", offset_minutes=0),
            sgtin_event(serial, company_prefix=gcp, biz_step="packing", offset_minutes=5),
            sgtin_event(serial, company_prefix=gcp, biz_step="shipping", offset_minutes=10),
        ],
    )
    epc = f"urn:epc:id:sgtin:{gcp}.812345.TRAIL-1"
    pending = verifier.verify_identifier(epc, reader=OPERATOR)
    assert pending.verdict == "pending"
    make_worker().drain()
    link = parse(epc).digital_link().replace("https://id.gs1.org/", "https://example.com/")
    trail = verifier.verify_identifier(link, reader=OPERATOR)
    assert trail.verdict == "verified"
    assert [e.biz_step for e in trail.events] == [
        "https://ref.gs1.org/cbv/BizStep-commissioning",
        "https://ref.gs1.org/cbv/BizStep-packing",
        "https://ref.gs1.org/cbv/BizStep-shipping",
    ]
    assert trail.recall is None
    assert (
        verifier.verify_identifier("urn:epc:id:sgtin:0614141.812345.NOPE", reader=OPERATOR).verdict
        == "unknown"
    )


@pytest.mark.parametrize("scope", ["item", "lot"])
def test_recall_by_prefix_owner_shows_in_the_trail(
    make_member: MakeMember,
    membership: Membership,
    capture: Capture,
    make_worker: MakeWorker,
    verifier: Verifier,
    scope: str,
) -> None:
    gcp = unique_prefix("09")
    owner = make_member("Owner", prefixes=(gcp,))
    stranger = make_member("Stranger")
    epc = f"urn:epc:id:sgtin:{gcp}.812345.R1"
    lot_event = sgtin_event("R1", company_prefix=gcp)
    lot_event["ilmd"] = {"cbvmda:lotNumber": "LOT-9"}
    capture(owner, [lot_event])
    make_worker().drain()
    target = epc
    if scope == "lot":
        (item,) = [parse(epc)]
        target = item.digital_link().split("/21/")[0] + "/10/LOT-9"
    with pytest.raises(PrefixOwnershipError):
        membership.recall(stranger.org_id, target, "not ours to recall")
    status = membership.recall(owner.org_id, target, "Salmonella found in lot LOT-9")
    assert status.recalled
    if scope == "item":
        trail = verifier.verify_identifier(epc, reader=OPERATOR)
        assert trail.verdict == "recalled"
        assert trail.recall is not None
        assert trail.recall["org_id"] == owner.org_id
    membership.lift_recall(owner.org_id, target, "cleared")
    assert not membership.recall_status(target).recalled


def test_batches_of_an_older_database_keep_the_event_hash_leaf(tmp_path: Path) -> None:
    """Migration 0004: batches anchored before it are leaf version 1 (and so still verify)."""
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    migrate(url, "0003")
    old = make_engine(url)
    with old.begin() as conn:
        org = conn.execute(
            sa.text("INSERT INTO organisation (org_id, name, roles, active, created_at) "
                    "VALUES ('0x' || hex(randomblob(32)), 'Old', 1, 1, '2026-01-01') RETURNING id")
        ).scalar_one()  # fmt: skip
        conn.execute(
            sa.text("INSERT INTO anchor_batch (organisation_id, signer_address, root, event_count, "
                    "status, chain_id, created_at) VALUES (:org, '0x' || hex(randomblob(20)), "
                    "'0x' || hex(randomblob(32)), 1, 'mined', 1, '2026-01-01')"),
            {"org": org},
        )  # fmt: skip
    old.dispose()
    migrate(url)
    new = make_engine(url)
    with new.connect() as conn:
        assert conn.execute(sa.select(_batch.c.leaf_version)).scalars().all() == [1]
    new.dispose()
