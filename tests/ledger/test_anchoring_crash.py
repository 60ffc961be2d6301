"""Crash safety: kill -9 the anchor worker at each crash point, restart, nothing lost or doubled.

And: a devnet that loses blocks (killed before its state dump) is reconciled, its lost batches
re-anchored.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from hexbytes import HexBytes
from sqlalchemy.engine import Engine

from devnet.launcher import Devnet
from ledger.anchoring import CRASH_ENV, AnchorConfig, AnchorWorker
from ledger.chain import ChainClient
from ledger.deployment import Deployment
from ledger.membership import Membership
from ledger.settings import REPO_ROOT
from ledger.store.models import AnchorBatch, Event, metadata
from ledger.verify import Verifier
from tests.conftest import devnet_settings
from tests.helpers import sgtin_event
from tests.ledger.conftest import Capture, MakeMember
from wallets.keyring import Keyring
from wallets.keystore import SCRYPT_N_LIGHT

#: Every test here starts or kills an anvil devnet of its own.
pytestmark = pytest.mark.chain

_event = metadata.tables[Event.__tablename__]
_batch = metadata.tables[AnchorBatch.__tablename__]


def run_worker(
    tmp_path: Path, devnet: Devnet, engine: Engine, crash_at: str | None
) -> subprocess.CompletedProcess[str]:
    """`tracechain anchor-worker --drain` in its own process, on the test's DB and keys."""
    data_dir = tmp_path  # the keyring of the test lives here
    shutil.copy(devnet.paths.deployment, data_dir / "deployment.json")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "TRACECHAIN_DATA_DIR": str(data_dir),
        "TRACECHAIN_RPC_URL": devnet.rpc_url,
        "DATABASE_URL": str(engine.url),
        "TRACECHAIN_ANCHOR_BATCH_MAX_EVENTS": "10",
        "TRACECHAIN_KEYSTORE_WORK_FACTOR": str(SCRYPT_N_LIGHT),
    }
    if crash_at:
        env[CRASH_ENV] = crash_at
    return subprocess.run(
        [sys.executable, "-m", "cli", "anchor-worker", "--drain", "--timeout", "60"],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("crash_at", ["before_send", "after_send", "after_receipt"])
def test_kill_9_at_each_crash_point_loses_and_doubles_nothing(
    tmp_path: Path,
    devnet: Devnet,
    engine: Engine,
    chain: ChainClient,
    deployment: Deployment,
    make_member: MakeMember,
    capture: Capture,
    crash_at: str,
) -> None:
    member = make_member()
    signer = member.signing_addresses[0]
    pks = [r.event_pk for r in capture(member, [sgtin_event() for _ in range(25)]).events]
    crashed = run_worker(tmp_path, devnet, engine, crash_at)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    assert f"crash point {crash_at}" in crashed.stderr
    with engine.connect() as conn:
        states = conn.execute(sa.select(_batch.c.status)).scalars().all()
    assert states == [{"before_send": "prepared"}.get(crash_at, "sent")]
    if crash_at == "before_send":
        assert chain.w3.eth.get_transaction_count(signer) == 0
    else:
        assert chain.w3.eth.get_transaction_count(signer) == 1
    restarted = run_worker(tmp_path, devnet, engine, None)
    assert restarted.returncode == 0, restarted.stderr
    with engine.connect() as conn:
        rows = conn.execute(sa.select(_batch).order_by(_batch.c.id)).all()
        anchored = conn.execute(
            sa.select(sa.func.count()).where(_event.c.anchor_status == "anchored")
        ).scalar_one()
    assert [r.status for r in rows] == ["mined", "mined", "mined"]
    assert sum(r.event_count for r in rows) == anchored == 25
    # Exactly one transaction per batch was ever sent from the member's key.
    assert chain.w3.eth.get_transaction_count(signer) == 3
    anchor = chain.contract("TraceAnchor", deployment.anchor_address)
    for row in rows:
        org, block, count = chain.call(anchor.functions.batchOf(HexBytes(row.root)))
        assert ("0x" + bytes(org).hex(), block, count) == (
            member.org_id,
            row.block_number,
            row.event_count,
        )
    verifier = Verifier(engine, chain, deployment)
    assert {verifier.verify_event(pk).status for pk in pks} == {"verified"}


def test_lost_blocks_are_reconciled_and_re_anchored(
    tmp_path: Path, engine: Engine, capture: Capture, caplog: pytest.LogCaptureFixture
) -> None:
    # A devnet of its own, dumping state only on a clean stop.
    settings = devnet_settings(tmp_path / "chain")
    settings = settings.updated(devnet={"state_interval": 3600})
    net = Devnet(settings, key_work_factor=SCRYPT_N_LIGHT)
    net.up()
    try:
        chain = ChainClient(net.rpc_url)
        deployment = Deployment.load(net.paths.deployment)
        keyring = Keyring(tmp_path, work_factor=SCRYPT_N_LIGHT)
        membership = Membership(engine, chain, deployment, keyring, net.admin_account())
        member = membership.admit("Lost Blocks Ltd")
        net.down()  # a clean stop: the member's admission is in the dump
        net.up()
        pks = [r.event_pk for r in capture(member, [sgtin_event() for _ in range(6)]).events]
        worker = AnchorWorker(engine, chain, deployment, keyring, AnchorConfig())
        assert worker.drain() == 6
        assert worker.reconcile() == []
        net.kill()  # kill -9: the anchoring blocks were never dumped
        net.up()
        chain = ChainClient(net.rpc_url)
        worker = AnchorWorker(engine, chain, deployment, keyring, AnchorConfig())
        verifier = Verifier(engine, chain, deployment)
        assert {verifier.verify_event(pk).status for pk in pks} == {"tampered"}
        orphaned = worker.reconcile()
        assert len(orphaned) == 1
        assert worker.pending_count() == 6
        assert worker.drain() == 6
        with engine.connect() as conn:
            statuses = (
                conn.execute(sa.select(_batch.c.status).order_by(_batch.c.id)).scalars().all()
            )
        assert statuses == ["mined"]
        assert "is no longer on the chain" in caplog.text
        assert {verifier.verify_event(pk).status for pk in pks} == {"verified"}
    finally:
        net.down()


def test_chain_down_then_back_the_worker_catches_up(
    tmp_path: Path, engine: Engine, capture: Capture
) -> None:
    net = Devnet(devnet_settings(tmp_path / "chain"), key_work_factor=SCRYPT_N_LIGHT)
    net.up()
    try:
        chain = ChainClient(net.rpc_url, timeout=2)
        deployment = Deployment.load(net.paths.deployment)
        keyring = Keyring(tmp_path, work_factor=SCRYPT_N_LIGHT)
        member = Membership(engine, chain, deployment, keyring, net.admin_account()).admit(
            "Outage Co"
        )
        worker = AnchorWorker(
            engine, chain, deployment, keyring, AnchorConfig(max_wait_s=0.05, poll_interval_s=0.02)
        )
        stop = threading.Event()
        thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
        thread.start()
        net.down()
        # The chain is gone: capture goes on, nothing is lost, everything waits.
        pks = [r.event_pk for r in capture(member, [sgtin_event() for _ in range(12)]).events]
        time.sleep(1.5)
        assert worker.pending_count() == 12
        net.up()
        deadline = time.monotonic() + 30
        while worker.pending_count() and time.monotonic() < deadline:
            time.sleep(0.1)
        stop.set()
        thread.join(timeout=10)
        assert worker.pending_count() == 0
        verifier = Verifier(engine, chain, deployment)
        assert {verifier.verify_event(pk).status for pk in pks} == {"verified"}
    finally:
        net.down()
