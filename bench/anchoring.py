"""Batched anchoring vs one transaction per event, and anchoring lag, on one devnet.

Starts a throwaway devnet (the pinned anvil) and SQLite database, admits one recording member,
then in one run:

1. per-event transactions: ``anchorEvent`` for each of ``--single`` events, sent pipelined from
   the member's key (the strongest form of that design), events/s and gas per event from
   receipts;
2. batched: ``--batched`` captured events anchored by the anchor worker (Merkle roots of up to
   2,000 events, one ``anchorBatch`` each), events/s and gas per event from receipts;
3. lag: events captured at ``--rate`` per second for ``--seconds`` while the worker runs in the
   background (batches close on size or after 0.5 s); lag = mined time - record time, p50/p95.

    .venv/bin/python bench/anchoring.py

The last line is one JSON object of the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from web3.types import Nonce, Wei

from devnet.launcher import Devnet
from ledger.anchoring import AnchorConfig, AnchorWorker
from ledger.chain import ChainClient
from ledger.deployment import Deployment
from ledger.events import parse_document
from ledger.membership import Member, Membership
from ledger.settings import Settings
from ledger.store.capture import capture_events
from ledger.store.db import make_engine, migrate
from ledger.store.models import AnchorBatch, Event, metadata
from wallets.keyring import Keyring
from wallets.keystore import SCRYPT_N_LIGHT

_event = metadata.tables[Event.__tablename__]
_batch = metadata.tables[AnchorBatch.__tablename__]
_serial = iter(range(10**9))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def document(count: int) -> bytes:
    events = [
        {
            "type": "ObjectEvent",
            "eventTime": "2026-03-01T08:00:00.000Z",
            "eventTimeZoneOffset": "+01:00",
            "epcList": [f"urn:epc:id:sgtin:0614141.812345.B{next(_serial)}"],
            "action": "OBSERVE",
            "bizStep": "shipping",
            "disposition": "in_transit",
            "readPoint": {"id": "urn:epc:id:sgln:0614141.00777.0"},
        }
        for _ in range(count)
    ]
    body = {
        "@context": ["https://ref.gs1.org/standards/epcis/epcis-context.jsonld"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-03-01T09:00:00Z",
        "epcisBody": {"eventList": events},
    }
    return json.dumps(body).encode()


def capture(engine: sa.Engine, member: Member, count: int) -> None:
    capture_events(
        engine, parse_document(document(count), "application/json"), organisation_id=member.id
    )


def per_event(
    chain: ChainClient, deployment: Deployment, keyring: Keyring, member: Member, n: int
) -> tuple[float, float]:
    """Pipelined anchorEvent transactions: events/s and gas per event."""
    anchor = chain.contract("TraceAnchor", deployment.anchor_address)
    signer = keyring.signer(member.org_id, member.signing_addresses[0])
    gas_price = Wei(chain.gas_price())
    start = time.perf_counter()
    hashes = []
    with chain.nonce_for(signer.address) as nonce:
        for i in range(n):
            tx = anchor.functions.anchorEvent(os.urandom(32), os.urandom(32)).build_transaction(
                {
                    "from": signer.address,
                    "chainId": chain.chain_id,
                    "gasPrice": gas_price,
                    "nonce": Nonce(nonce + i),
                    "gas": 100_000,
                }
            )
            hashes.append(chain.broadcast(signer.sign_transaction(tx)))
    receipts = [chain.wait(h) for h in hashes]
    elapsed = time.perf_counter() - start
    assert all(r["status"] == 1 for r in receipts)
    return n / elapsed, statistics.mean(r["gasUsed"] for r in receipts)


def batched(
    engine: sa.Engine, worker: AnchorWorker, chain: ChainClient, member: Member, n: int
) -> tuple[float, float]:
    for _ in range(n // 1000):
        capture(engine, member, 1000)
    start = time.perf_counter()
    anchored = worker.drain(timeout=120)
    elapsed = time.perf_counter() - start
    assert anchored == n, anchored
    with engine.connect() as conn:
        tx_hashes = (
            conn.execute(sa.select(_batch.c.tx_hash).where(_batch.c.status == "mined"))
            .scalars()
            .all()
        )
    gas = sum(chain.wait(h)["gasUsed"] for h in tx_hashes)
    return n / elapsed, gas / n


def lag(
    engine: sa.Engine, worker: AnchorWorker, member: Member, rate: int, seconds: float
) -> tuple[float, float, int]:
    with engine.connect() as conn:
        first_new = (
            int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(_event.c.id), 0))).scalar_one())
            + 1
        )
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    tick, per_tick = 0.1, max(1, int(rate * 0.1))
    deadline = time.monotonic() + seconds
    next_tick = time.monotonic()
    while time.monotonic() < deadline:
        capture(engine, member, per_tick)
        next_tick += tick
        time.sleep(max(0.0, next_tick - time.monotonic()))
    while worker.pending_count():
        time.sleep(0.05)
    stop.set()
    thread.join()
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(_event.c.record_time, _batch.c.mined_at)
            .join(_batch, _batch.c.id == _event.c.batch_id)
            .where(_event.c.id >= first_new)
        ).all()
    lags = sorted(
        (mined - recorded).total_seconds()
        for recorded, mined in rows
        if isinstance(mined, datetime)
    )
    p50 = lags[len(lags) // 2]
    p95 = lags[int(len(lags) * 0.95) - 1]
    return p50, p95, len(lags)


def main() -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--single", type=int, default=400, help="events anchored one tx each")
    parser.add_argument("--batched", type=int, default=20_000, help="events anchored in batches")
    parser.add_argument("--rate", type=int, default=1_000, help="capture rate for the lag test")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the lag test")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        settings = Settings(_env_file=None).updated(  # type: ignore[call-arg]
            data_dir=root, devnet={"port": free_port()}
        )
        net = Devnet(settings, key_work_factor=SCRYPT_N_LIGHT)
        net.up()
        try:
            url = f"sqlite:///{root / 'bench.sqlite3'}"
            migrate(url)
            engine = make_engine(url)
            chain = ChainClient(net.rpc_url)
            deployment = Deployment.load(net.paths.deployment)
            keyring = Keyring(root, work_factor=SCRYPT_N_LIGHT)
            member = Membership(engine, chain, deployment, keyring, net.admin_account()).admit(
                "Bench Foods"
            )
            worker = AnchorWorker(
                engine, chain, deployment, keyring, AnchorConfig(max_events=2_000, max_wait_s=0.5)
            )

            single_rate, single_gas = per_event(chain, deployment, keyring, member, args.single)
            print(f"one tx per event : {single_rate:>10.0f} events/s  {single_gas:>9.0f} gas/event")
            batch_rate, batch_gas = batched(engine, worker, chain, member, args.batched)
            print(f"batched (2000)   : {batch_rate:>10.0f} events/s  {batch_gas:>9.1f} gas/event")
            p50, p95, n = lag(engine, worker, member, args.rate, args.seconds)
            print(f"lag at {args.rate} events/s over {n} events: p50 {p50:.3f} s, p95 {p95:.3f} s")
            engine.dispose()
        finally:
            net.down()
    return {
        "batched_events_per_s": round(batch_rate),
        "per_event_tx_events_per_s": round(single_rate),
        "speedup": round(batch_rate / single_rate, 1),
        "gas_per_event_batched": round(batch_gas, 1),
        "gas_per_event_single_tx": round(single_gas),
        "lag_p50_s": round(p50, 3),
        "lag_p95_s": round(p95, 3),
    }


if __name__ == "__main__":
    print(json.dumps(main()))
