"""Chain faults under a running anchor worker: anvil killed before its state dump (blocks lost,
the member's nonce goes back) and after it; every acknowledged event ends up anchored once,
within a bound, without restarting the worker or the API. And a stall is reported: /readyz
and the audit compare the anchoring lag with ``anchoring.lag_bound_seconds``.

Conditions are waited for with generous deadlines; no sleep decides an outcome.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from api.app import create_app
from bench.crashrun import run_crash, wait_until
from devnet.launcher import Devnet
from ledger.anchoring import AnchorConfig, AnchorWorker
from ledger.audit import Auditor
from ledger.chain import ChainClient
from ledger.store.models import AnchorBatch, Outbox, metadata
from tests.api.conftest import Api, admit, app_settings, capture
from tests.conftest import devnet_settings
from tests.helpers import document, object_event
from wallets.keystore import SCRYPT_N_LIGHT

_batch = metadata.tables[AnchorBatch.__tablename__]
_outbox = metadata.tables[Outbox.__tablename__]
#: Generous bound on convergence after the chain comes back (a stalled run takes this long).
DEADLINE_S = 45.0
_serials = itertools.count()


@pytest.mark.slow
def test_kills_before_and_after_the_dump_lose_double_and_stall_nothing() -> None:
    figures = run_crash(events=60, kills=2, deadline_s=DEADLINE_S)
    print(json.dumps(figures))
    assert figures["kills_before_dump"] == 1
    assert figures["lost_blocks"] > 0  # the kill before the dump did take blocks away
    assert figures["events"] == 60
    assert (figures["lost"], figures["duplicated"], figures["stalled"]) == (0, 0, 0)
    assert figures["audit_findings"] == 0


def _anchored(api: Api, chain: ChainClient) -> bool:
    """Nothing waits in the outbox and every mined root is on the chain."""
    services = api.services
    with services.engine.connect() as conn:
        waiting = conn.execute(sa.select(sa.func.count()).select_from(_outbox)).scalar_one()
        roots = conn.execute(sa.select(_batch.c.root).where(_batch.c.status == "mined")).scalars()
        mined = list(roots)
    if waiting:
        return False
    anchor = chain.contract("TraceAnchor", services.deployment().anchor_address)
    return all(bytes(chain.call(anchor.functions.batchOf(root))[0]) != b"\0" * 32 for root in mined)


def _prefix_events(prefix: str, count: int) -> list[dict[str, Any]]:
    return [
        object_event(epcs=[f"urn:epc:id:sgtin:{prefix}.012345.F{next(_serials)}"])
        for _ in range(count)
    ]


@pytest.mark.slow
def test_the_api_keeps_anchoring_after_the_chain_lost_blocks(tmp_path: Path) -> None:
    settings = devnet_settings(tmp_path / "chain").updated(
        devnet={"state_interval": 3600}  # a dump only on a clean stop
    )
    net = Devnet(settings, key_work_factor=SCRYPT_N_LIGHT)
    net.up()
    api = Api(create_app(app_settings(net, f"sqlite:///{tmp_path / 'api.sqlite3'}", worker=True)))
    try:
        chain = ChainClient(net.rpc_url, timeout=2.0)
        member = admit(api, "Lost Blocks Api")
        assert member.recorder_key is not None
        net.down()  # a clean stop: the admission is in the dump
        net.up()
        first = capture(api, member.recorder_key, document(*_prefix_events(member.prefix, 5)))
        assert first.status_code == 202, first.text
        assert wait_until(lambda: _anchored(api, chain), time.monotonic() + DEADLINE_S)
        head = chain.block_number()
        net.kill()  # before any dump: the anchoring blocks are lost, the nonce goes back
        net.up()
        assert chain.block_number() < head
        second = capture(api, member.recorder_key, document(*_prefix_events(member.prefix, 5)))
        assert second.status_code == 202, second.text
        # The API was never restarted: its worker resynchronises and re-anchors by itself.
        assert wait_until(lambda: _anchored(api, chain), time.monotonic() + DEADLINE_S)
        ready = api.get("/readyz")
        assert ready.status_code == 200, ready.text
        report = Auditor(
            api.services.engine,
            chain,
            api.services.deployment(),
            workers=1,
            anchor_lag_bound_s=DEADLINE_S,
        ).run()
        assert report.findings == [], report.summary()
        assert report.events == 10
    finally:
        api.close()
        net.down()


def test_a_stall_is_reported_by_readyz_and_the_audit(tmp_path: Path) -> None:
    bound = 1.0
    # A devnet of its own: on the session's, another module's anchor worker could add anchors
    # that this ledger's audit rightly calls orphans.
    devnet = Devnet(devnet_settings(tmp_path / "chain"), key_work_factor=SCRYPT_N_LIGHT)
    devnet.up()
    api = Api(
        create_app(
            app_settings(
                devnet,
                f"sqlite:///{tmp_path / 'stall.sqlite3'}",
                worker=False,  # nobody anchors: the events stall
                anchoring={"lag_bound_seconds": bound},
            )
        )
    )
    # The session devnet carries other tests' anchors: audit only what this test adds.
    first_block = api.services.chain.block_number()
    try:
        member = admit(api, "Stalled Foods")
        assert member.recorder_key is not None
        answer = capture(api, member.recorder_key, document(*_prefix_events(member.prefix, 3)))
        assert answer.status_code == 202, answer.text
        assert wait_until(
            lambda: api.get("/readyz").status_code == 503, time.monotonic() + DEADLINE_S
        )
        body = api.get("/readyz").json()
        assert body["ready"] is False
        assert body["database"]["ok"]
        assert body["chain"]["ok"]
        assert body["anchoring"]["ok"] is False
        assert body["anchoring"]["detail"].startswith("stalled: 3 events wait")
        services = api.services
        chain, deployment = services.chain, services.deployment()
        report = Auditor(
            services.engine, chain, deployment, workers=1, anchor_lag_bound_s=bound
        ).run(from_block=first_block)
        assert not report.ok
        assert [f.kind for f in report.findings] == ["anchoring_stalled"]
        assert report.findings[0].evidence["waiting_events"] == 3
        assert report.anchor_lag_s > bound
        assert api.drain() == 3
        assert api.get("/readyz").status_code == 200
        after = Auditor(
            services.engine, chain, deployment, workers=1, anchor_lag_bound_s=bound
        ).run(from_block=first_block)
        assert after.findings == [], after.summary()
    finally:
        api.close()
        devnet.down()


@pytest.mark.slow
def test_a_lost_anchoring_block_is_noticed_at_the_next_check(tmp_path: Path) -> None:
    """The worker's marker follows the blocks it anchored in, not only the head it last polled:
    when anvil is killed before its dump and restarts with a block the worker polled earlier
    (unchanged), the lost anchoring block still tells it that the chain went back."""
    settings = devnet_settings(tmp_path / "chain").updated(
        devnet={"state_interval": 3600}  # a dump only on a clean stop
    )
    net = Devnet(settings, key_work_factor=SCRYPT_N_LIGHT)
    net.up()
    api = Api(create_app(app_settings(net, f"sqlite:///{tmp_path / 'api.sqlite3'}")))
    try:
        member = admit(api, "Marker Foods")
        assert member.recorder_key is not None
        net.down()  # a clean stop: the admission is in the dump
        net.up()
        s = api.services
        chain = ChainClient(net.rpc_url, timeout=2.0)
        worker = AnchorWorker(s.engine, chain, s.deployment(), s.keyring, AnchorConfig())
        assert not worker.chain_went_back()  # the marker: the head before anchoring
        answer = capture(api, member.recorder_key, document(*_prefix_events(member.prefix, 3)))
        assert answer.status_code == 202, answer.text
        assert worker.drain(timeout=60) == 3
        net.kill()  # before any dump: the anchoring block is lost, the polled head is not
        net.up()
        assert worker.chain_went_back()
    finally:
        api.close()
        net.down()


@pytest.mark.slow
def test_an_anchor_in_a_block_that_replaced_a_lost_one_starts_reconciliation(
    tmp_path: Path,
) -> None:
    """After a loss, the next batch can land in a block of the same height as the lost one:
    the worker notices the marked block changed while anchoring and reconciles at once, with
    no periodic check (``rewind_check_s`` is an hour here) and long before the periodic
    reconciliation."""
    settings = devnet_settings(tmp_path / "chain").updated(devnet={"state_interval": 3600})
    net = Devnet(settings, key_work_factor=SCRYPT_N_LIGHT)
    net.up()
    api = Api(create_app(app_settings(net, f"sqlite:///{tmp_path / 'api.sqlite3'}")))
    stop = threading.Event()
    try:
        member = admit(api, "Same Height Foods")
        assert member.recorder_key is not None
        net.down()
        net.up()
        s = api.services
        chain = ChainClient(net.rpc_url, timeout=2.0)
        config = AnchorConfig(max_wait_s=0.01, rewind_check_s=3600.0)
        worker = AnchorWorker(s.engine, chain, s.deployment(), s.keyring, config)
        # The loop's own start-up reconciliation happens now, before anything is lost.
        thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
        thread.start()
        first = capture(api, member.recorder_key, document(*_prefix_events(member.prefix, 3)))
        assert first.status_code == 202, first.text
        assert wait_until(lambda: _anchored(api, chain), time.monotonic() + DEADLINE_S)
        lost_height = chain.block_number()
        net.kill()  # before any dump: the first batch's block is lost
        net.up()
        assert chain.block_number() < lost_height
        second = capture(api, member.recorder_key, document(*_prefix_events(member.prefix, 3)))
        assert second.status_code == 202, second.text
        assert wait_until(lambda: _anchored(api, chain), time.monotonic() + DEADLINE_S)
    finally:
        stop.set()
        api.close()
        net.down()
