"""Crash run: the devnet killed again and again under a running anchor worker.

One devnet (the pinned anvil), one SQLite database, one recording member and one anchor worker
thread that is never restarted (as inside the API). ``kills`` times: the devnet is started,
events are captured and anchored, then anvil is killed with SIGKILL, alternately *before* its
state dump (it runs with a state interval of an hour, so every block since its last clean stop
is lost, the member's nonce goes back and the anchored roots vanish) and *after* it (it dumps
every second and is killed once the dump holds the head). More events are captured while the
chain is down. Finally the devnet is started once more, the rest of the events captured, and
the run waits (up to ``deadline_s``) until every acknowledged event is anchored by a root that
is on the chain.

    .venv/bin/python bench/crashrun.py [--events 120] [--kills 4]

Figures: ``events`` acknowledged, ``kills``, ``lost`` (acknowledged events missing from the
database), ``duplicated`` (events anchored on the chain under a root no mined batch accounts
for, or a root anchored more than once), ``stalled`` (acknowledged events not anchored on the
chain by the deadline), ``lost_blocks`` (blocks the kills before a dump took away),
``audit_findings`` (``tracechain audit``'s findings at the end) and ``elapsed_s``. The last
line printed is that JSON object.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from hexbytes import HexBytes
from web3.contract import Contract

from devnet.launcher import Devnet
from ledger.anchoring import AnchorConfig, AnchorWorker
from ledger.audit import Auditor
from ledger.chain import ChainClient
from ledger.deployment import Deployment
from ledger.errors import ChainError
from ledger.events import parse_document
from ledger.membership import Member, Membership
from ledger.settings import Settings
from ledger.store.capture import capture_events
from ledger.store.db import make_engine, migrate
from ledger.store.models import AnchorBatch, Event, metadata
from wallets.keyring import Keyring
from wallets.keystore import SCRYPT_N_LIGHT
from wallets.signer import as_signer

_event = metadata.tables[Event.__tablename__]
_batch = metadata.tables[AnchorBatch.__tablename__]
_serial = itertools.count()
#: anvil's state interval when a kill must lose blocks: no dump but on a clean stop.
_NO_DUMP_S = 3600
#: How often conditions are looked at (seconds); never what decides the outcome.
_POLL_S = 0.05

log = logging.getLogger("tracechain.bench.crashrun")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def document(count: int) -> bytes:
    """An EPCIS 2.0 document of ``count`` distinct commissioning events."""
    events = [
        {
            "type": "ObjectEvent",
            "eventTime": "2026-03-01T08:00:00.000Z",
            "eventTimeZoneOffset": "+01:00",
            "epcList": [f"urn:epc:id:sgtin:0614141.812345.C{next(_serial)}"],
            "action": "ADD",
            "bizStep": "commissioning",
            "disposition": "active",
            "readPoint": {"id": "urn:epc:id:sgln:0614141.00777.0"},
        }
        for _ in range(count)
    ]
    return json.dumps(
        {
            "@context": ["https://ref.gs1.org/standards/epcis/epcis-context.jsonld"],
            "type": "EPCISDocument",
            "schemaVersion": "2.0",
            "creationDate": "2026-03-01T09:00:00Z",
            "epcisBody": {"eventList": events},
        }
    ).encode()


def wait_until(condition: Callable[[], bool], deadline: float) -> bool:
    """Whether ``condition`` held before ``deadline`` (a ``time.monotonic()`` value)."""
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL_S)


def dumped_head(net: Devnet) -> int:
    """The head block in anvil's last state dump (-1 while there is none or it is half
    written)."""
    try:
        state = json.loads(net.paths.state.read_text())
        value = state["best_block_number"]
    except (OSError, ValueError, KeyError, TypeError):
        return -1
    return int(value, 16) if isinstance(value, str) else int(value)


def roots_missing(engine: sa.Engine, chain: ChainClient, anchor: Contract) -> list[str]:
    """Roots of mined batches the chain does not have (a chain call failing counts)."""
    with engine.connect() as conn:
        roots = conn.execute(sa.select(_batch.c.root).where(_batch.c.status == "mined")).scalars()
        roots_list = list(roots)
    missing: list[str] = []
    try:
        for root in roots_list:
            org, _block, _count = chain.call(anchor.functions.batchOf(root))
            if bytes(org) == b"\0" * 32:
                missing.append(root)
    except ChainError:  # the chain is down: nothing is known to be there
        return roots_list
    return missing


def anchoring_figures(
    engine: sa.Engine, chain: ChainClient, deployment: Deployment, acknowledged: set[str]
) -> dict[str, Any]:
    """``lost``, ``duplicated`` and ``stalled`` of the ``acknowledged`` event hashes (0x-hex
    digests), counted from the database and the chain's ``BatchAnchored`` logs."""
    anchor = chain.contract("TraceAnchor", deployment.anchor_address)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(_event.c.event_hash, _event.c.anchor_status, _batch.c.root)
            .select_from(_event)
            .outerjoin(_batch, _batch.c.id == _event.c.batch_id)
        ).all()
        mined = {
            root: count
            for root, count in conn.execute(
                sa.select(_batch.c.root, _batch.c.event_count).where(_batch.c.status == "mined")
            )
        }
    stored = {row.event_hash: row for row in rows}
    missing_roots = set(roots_missing(engine, chain, anchor))
    lost = len(acknowledged - stored.keys())
    stalled = sum(
        1
        for h in acknowledged & stored.keys()
        if stored[h].anchor_status != "anchored" or stored[h].root in missing_roots
    )
    deploy_block = deployment.contracts["TraceAnchor"].block
    logs = anchor.events.BatchAnchored().get_logs(
        from_block=deploy_block, to_block=chain.block_number()
    )
    seen: set[str] = set()
    duplicated = 0
    for entry in logs:
        root = HexBytes(entry["args"]["root"]).to_0x_hex()
        count = int(entry["args"]["count"])
        if root in seen or root not in mined:
            duplicated += count
        seen.add(root)
    return {"lost": lost, "duplicated": duplicated, "stalled": stalled}


class FaultLedger:
    """A devnet, a database, a member and an anchor worker thread that outlives every restart."""

    def __init__(self, root: Path, *, tx_stuck_s: float) -> None:
        self.root = root
        self.port = _free_port()
        url = f"sqlite:///{root / 'crashrun.sqlite3'}"
        migrate(url)
        self.engine = make_engine(url)
        net = self.devnet(before_dump=False)
        net.up()
        self.deployment = Deployment.load(net.paths.deployment)
        # One client for the whole run, as in the API: it must outlive every restart.
        self.chain = ChainClient(net.rpc_url, timeout=2.0)
        self.anchor: Contract = self.chain.contract("TraceAnchor", self.deployment.anchor_address)
        self.keyring = Keyring(root, work_factor=SCRYPT_N_LIGHT)
        self.member: Member = Membership(
            self.engine, self.chain, self.deployment, self.keyring, as_signer(net.admin_account())
        ).admit("Crash Run Foods")
        net.down()  # a clean stop: the member's admission is in the dump
        self.worker = AnchorWorker(
            self.engine,
            self.chain,
            self.deployment,
            self.keyring,
            AnchorConfig(max_wait_s=0.05, poll_interval_s=0.02, tx_stuck_s=tx_stuck_s),
        )
        self.stop = threading.Event()
        self.thread = threading.Thread(
            target=self.worker.run, args=(self.stop,), name="crashrun-worker", daemon=True
        )
        self.acknowledged: set[str] = set()

    def start(self) -> None:
        """Start the anchor worker thread."""
        self.thread.start()

    def devnet(self, *, before_dump: bool) -> Devnet:
        """The run's devnet, dumping its state every second or only on a clean stop."""
        settings = Settings(_env_file=None).updated(  # type: ignore[call-arg]
            data_dir=self.root,
            devnet={"port": self.port, "state_interval": _NO_DUMP_S if before_dump else 1},
        )
        return Devnet(settings, key_work_factor=SCRYPT_N_LIGHT)

    def capture(self, count: int) -> None:
        """Capture ``count`` new events (remembered as acknowledged)."""
        if count <= 0:
            return
        parsed = parse_document(document(count), "application/json")
        result = capture_events(self.engine, parsed, organisation_id=self.member.id)
        with self.engine.connect() as conn:
            hashes = conn.execute(
                sa.select(_event.c.event_hash).where(
                    _event.c.id.in_([e.event_pk for e in result.events])
                )
            ).scalars()
            self.acknowledged.update(hashes)

    def all_anchored(self) -> bool:
        """Nothing waits and every mined batch's root is on the chain."""
        return self.worker.pending_count() == 0 and not self.roots_missing()

    def roots_missing(self) -> list[str]:
        """Roots of mined batches the chain does not have (a chain call failing counts)."""
        return roots_missing(self.engine, self.chain, self.anchor)

    def figures(self) -> dict[str, Any]:
        """lost, duplicated and stalled, counted from the database and the chain's logs."""
        return anchoring_figures(self.engine, self.chain, self.deployment, self.acknowledged)

    def close(self) -> None:
        """Stop the worker and the devnet."""
        self.stop.set()
        self.thread.join(timeout=30)
        self.devnet(before_dump=False).down()
        self.engine.dispose()


def run_crash(
    events: int = 120,
    kills: int = 4,
    *,
    deadline_s: float = 45.0,
    tx_stuck_s: float = 1.0,
    audit: bool = True,
) -> dict[str, Any]:
    """A bounded crash run (see the module's docstring); its figures."""
    started = time.monotonic()
    per_phase = max(1, events // (2 * kills + 1))
    lost_blocks = 0
    kills_before = 0
    with tempfile.TemporaryDirectory(prefix="tracechain-crashrun-") as tmp:
        run = FaultLedger(Path(tmp), tx_stuck_s=tx_stuck_s)
        try:
            deadline = time.monotonic() + deadline_s
            run.start()
            for k in range(kills):
                before = k % 2 == 0
                net = run.devnet(before_dump=before)
                net.up()  # the deployment must be recognised every time
                round_start = run.chain.block_number() + 1
                run.capture(per_phase)
                if not wait_until(run.all_anchored, deadline):
                    log.warning("round %d: events still pending at the deadline", k)
                head = run.chain.block_number()
                # The blocks of this round, by hash: after the restart a block is lost when it
                # is gone or another (the worker may refill the height at once, so the
                # height alone would not tell).
                seen = {n: run.chain.block_hash(n) for n in range(round_start, head + 1)}
                if not before:
                    wait_until(lambda: dumped_head(net) >= head, deadline)  # noqa: B023
                net.kill()
                kills_before += before
                run.capture(per_phase)  # the chain is down: capture goes on
                net.up()
                lost_blocks += sum(run.chain.block_hash(n) != h for n, h in seen.items())
                net.down()
            net = run.devnet(before_dump=False)
            net.up()
            run.capture(events - 2 * kills * per_phase)
            wait_until(run.all_anchored, deadline)
            figures = run.figures()
            findings: int | None = None
            if audit:
                report = Auditor(
                    run.engine, run.chain, run.deployment, workers=1, anchor_lag_bound_s=deadline_s
                ).run()
                findings = len(report.findings)
        finally:
            run.close()
    return {
        "events": len(run.acknowledged),
        "kills": kills,
        "kills_before_dump": kills_before,
        **figures,
        "lost_blocks": lost_blocks,
        "audit_findings": findings,
        "elapsed_s": round(time.monotonic() - started, 2),
    }


def main() -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=120, help="events captured in all")
    parser.add_argument("--kills", type=int, default=4, help="times anvil is killed")
    parser.add_argument("--deadline", type=float, default=45.0, help="seconds to converge")
    args = parser.parse_args()
    return run_crash(args.events, args.kills, deadline_s=args.deadline)


if __name__ == "__main__":
    print(json.dumps(main()))
