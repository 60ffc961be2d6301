"""Restarts are not resets: ten clean ``devnet down``/``up`` cycles and ten kills after the
state dump, with the anchor worker running; the deployment is recognised every time and the
audit is clean.

anvil appends a fresh genesis entry to its dumped state on every start and may answer
``eth_getBlockByNumber(0)`` with it; the chain must be identified by what survives restarts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.crashrun import FaultLedger, dumped_head, wait_until
from devnet.launcher import Devnet
from ledger.audit import Auditor
from ledger.settings import REPO_ROOT

pytestmark = pytest.mark.slow

CYCLES = 10
#: Generous: a condition, not a sleep, decides; this only bounds a broken run.
DEADLINE_S = 60.0


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[FaultLedger]:
    run = FaultLedger(tmp_path, tx_stuck_s=1.0)
    run.start()
    yield run
    run.close()


def recognised_and_clean(ledger: FaultLedger, net: Devnet, cycle: str) -> None:
    status = net.up()
    assert not status.deployed_now, cycle
    assert status.deployment == ledger.deployment, cycle
    assert ledger.deployment.mismatches(ledger.chain) == [], cycle
    assert wait_until(ledger.all_anchored, time.monotonic() + DEADLINE_S), cycle
    report = Auditor(
        ledger.engine, ledger.chain, ledger.deployment, workers=1, anchor_lag_bound_s=DEADLINE_S
    ).run()
    assert report.findings == [], (cycle, report.summary())


def test_ten_clean_restarts_and_ten_kills_after_the_dump(ledger: FaultLedger) -> None:
    net = ledger.devnet(before_dump=False)
    recognised_and_clean(ledger, net, "first start")
    for cycle in range(CYCLES):
        ledger.capture(3)
        assert wait_until(ledger.all_anchored, time.monotonic() + DEADLINE_S)
        assert net.down()
        recognised_and_clean(ledger, net, f"clean restart {cycle + 1}")
    for cycle in range(CYCLES):
        ledger.capture(3)
        assert wait_until(ledger.all_anchored, time.monotonic() + DEADLINE_S)
        head = ledger.chain.block_number()
        assert wait_until(lambda: dumped_head(net) >= head, time.monotonic() + DEADLINE_S)  # noqa: B023
        assert net.kill()
        recognised_and_clean(ledger, net, f"kill {cycle + 1}")
    assert ledger.figures() == {"lost": 0, "duplicated": 0, "stalled": 0}
    assert len(ledger.acknowledged) == 3 * 2 * CYCLES
    # The auditor's CLI agrees (it once reported only `wrong_chain` after a few restarts).
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "TRACECHAIN_DATA_DIR": str(ledger.root),
        "TRACECHAIN_DEVNET_PORT": str(ledger.port),
        "DATABASE_URL": str(ledger.engine.url),
    }
    done = subprocess.run(
        [sys.executable, "-m", "cli", "audit", "--json", "--no-progress", "--workers", "1"],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert json.loads(done.stdout)["ok"] is True
