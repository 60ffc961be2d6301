"""Verification pages under load: the real uvicorn server, 50 concurrent HTTP clients.

Starts a throwaway devnet (the pinned anvil) and ``uvicorn api.app:app`` on a free loopback
port (SQLite, the anchor worker inside the API as by default), records products of 20 events
each through the API (a commissioning ``POST /batches`` plus 19 events of a distributor), waits
until the worker has anchored everything, then 50 httpx async clients fetch the buyers' pages
(``GET /01/{gtin}/10/{lot}`` with a phone's ``Accept: text/html``) as fast as they can.

    .venv/bin/python bench/verify.py

Prints requests per second and latency percentiles; the last line is one JSON object
``{"req_per_s": ..., "p50_ms": ..., "p99_ms": ...}`` (target: p99 under 50 ms).
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import secrets
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from devnet.launcher import Devnet
from ledger.settings import Settings
from wallets.keystore import SCRYPT_N_LIGHT

CLIENTS = 50
PRODUCTS = 10
EVENTS_PER_PRODUCT = 20
WARM_UP_S = 2.0
MEASURE_S = 15.0
ADMIN_KEY = f"tc_{secrets.token_hex(6)}_{secrets.token_urlsafe(32)}"
CONTEXT = "https://ref.gs1.org/standards/epcis/epcis-context.jsonld"
STEPS = ("receiving", "storing", "picking", "loading", "shipping")


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def check_digit(digits: str) -> str:
    """The GS1 mod-10 check digit."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return str((10 - total % 10) % 10)


def gs1(prefix: str, reference: int, width: int) -> str:
    """A GS1 key of ``prefix`` + a zero-padded reference + its check digit."""
    body = prefix + f"{reference:0{width}d}"
    return body + check_digit(body)


def start_server(
    data_dir: Path, devnet_port: int, database: Path
) -> tuple[subprocess.Popen[bytes], str]:
    """``uvicorn api.app:app`` configured by environment, ready to serve."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "TRACECHAIN_DATA_DIR": str(data_dir),
        "TRACECHAIN_DEVNET_PORT": str(devnet_port),
        "DATABASE_URL": f"sqlite:///{database}",
        "TRACECHAIN_PUBLIC_URL": base,
        "TRACECHAIN_ADMIN_API_KEY": ADMIN_KEY,
        "TRACECHAIN_KEYSTORE_WORK_FACTOR": str(1 << 10),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "api.app:app", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning", "--no-access-log"],
        env=env, cwd=data_dir,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return process, base
        except httpx.TransportError:
            pass
        if process.poll() is not None:
            break
        time.sleep(0.2)
    process.terminate()
    raise RuntimeError("the API server did not become ready")


def record(base: str) -> list[str]:
    """Admit a supplier and a distributor, record the products; their page paths."""
    with httpx.Client(base_url=base, timeout=60) as client:
        admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
        prefix = "69" + f"{secrets.randbelow(10**5):05d}"
        keys = []
        for name, prefixes in (("Bench Supplier", [prefix]), ("Bench Distributor", [])):
            member = client.post(
                "/members", json={"name": f"{name} {prefix}", "prefixes": prefixes}, headers=admin
            )
            member.raise_for_status()
            org = member.json()["org_id"]
            key = client.post(f"/members/{org}/api-keys", json={"role": "recorder"}, headers=admin)
            key.raise_for_status()
            keys.append({"Authorization": f"Bearer {key.json()['key']}"})
        supplier, distributor = keys
        paths = []
        for product in range(PRODUCTS):
            batch = client.post(
                "/batches",
                headers=supplier,
                json={
                    "gtin": "0" + gs1(prefix, product + 1, 5),
                    "lot": f"BENCH-{product}",
                    "quantity": 1000,
                    "production_date": "2026-01-01",
                    "expiry_date": "2028-01-01",
                    "site_gln": gs1(prefix, 1, 5),
                    "event_time": "2026-01-01T08:00:00+08:00",
                },
            )
            batch.raise_for_status()
            lot = batch.json()["identifier"]
            events = [
                {
                    "type": "ObjectEvent",
                    "eventTime": f"2026-01-{2 + n:02d}T09:00:00.000+08:00",
                    "eventTimeZoneOffset": "+08:00",
                    "epcList": [],
                    "quantityList": [{"epcClass": lot, "quantity": 100 + n}],
                    "action": "OBSERVE",
                    "bizStep": STEPS[n % len(STEPS)],
                    "readPoint": {"id": f"https://id.gs1.org/414/{gs1(prefix, 2 + n, 5)}"},
                }
                for n in range(EVENTS_PER_PRODUCT - 1)
            ]
            document = {
                "@context": [CONTEXT], "type": "EPCISDocument", "schemaVersion": "2.0",
                "creationDate": "2026-01-31T00:00:00Z", "epcisBody": {"eventList": events},
            }  # fmt: skip
            captured = client.post("/capture", json=document, headers=distributor)
            captured.raise_for_status()
            paths.append(batch.json()["digital_link"][len(base) :])
        deadline = time.monotonic() + 60
        for path in paths:
            while True:
                trail = client.get(path, headers={"Accept": "application/json"}).json()
                if trail["verdict"] == "verified" and len(trail["events"]) == EVENTS_PER_PRODUCT:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{path} not verified: {trail['verdict']}")
                time.sleep(0.2)
        return paths


async def load(base: str, paths: list[str]) -> dict[str, Any]:
    """50 clients in a closed loop; latencies of the requests after the warm-up."""
    latencies: list[float] = []
    errors = 0
    start = time.perf_counter()
    measure_from = start + WARM_UP_S
    stop_at = measure_from + MEASURE_S
    headers = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8", "Accept-Language": "zh-CN"}
    tls = ssl.create_default_context()  # one context for all clients (loopback HTTP uses none)

    async def one_client(number: int) -> None:
        """One client: its own connection, one request at a time."""
        nonlocal errors
        turn = number
        async with httpx.AsyncClient(
            base_url=base, headers=headers, timeout=60, verify=tls
        ) as client:
            requests = [client.build_request("GET", path) for path in paths]
            while True:
                began = time.perf_counter()
                if began >= stop_at:
                    return
                answer = await client.send(requests[turn % len(requests)])
                ended = time.perf_counter()
                turn += 1
                if answer.status_code != 200 or b'data-verdict="verified"' not in answer.content:
                    errors += 1
                if began >= measure_from:
                    latencies.append(ended - began)

    await asyncio.gather(*(one_client(n) for n in range(CLIENTS)))
    latencies.sort()
    count = len(latencies)
    return {
        "requests": count,
        "errors": errors,
        "req_per_s": round(count / MEASURE_S, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p90_ms": round(latencies[int(count * 0.90)] * 1000, 2),
        "p99_ms": round(latencies[int(count * 0.99)] * 1000, 2),
        "max_ms": round(latencies[-1] * 1000, 2),
    }


def main() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        settings = Settings(data_dir=data_dir, devnet_port=free_port(), _env_file=None)  # type: ignore[call-arg]
        devnet = Devnet(settings, key_work_factor=SCRYPT_N_LIGHT)
        devnet.up()
        devnet.admin_account()
        try:
            server, base = start_server(data_dir, settings.devnet_port, data_dir / "bench.sqlite3")
            try:
                paths = record(base)
                print(f"{PRODUCTS} products of {EVENTS_PER_PRODUCT} events recorded and anchored")
                # The load generator's own collector pauses would count as server latency.
                gc.collect()
                gc.disable()
                try:
                    return asyncio.run(load(base, paths))
                finally:
                    gc.enable()
            finally:
                server.terminate()
                server.wait(timeout=15)
        finally:
            devnet.down()


if __name__ == "__main__":
    figures = main()
    print(
        f"{figures['requests']} requests by {CLIENTS} clients in {MEASURE_S:.0f} s: "
        f"{figures['req_per_s']} req/s, p50 {figures['p50_ms']} ms, p90 {figures['p90_ms']} ms, "
        f"p99 {figures['p99_ms']} ms, max {figures['max_ms']} ms, {figures['errors']} errors"
    )
    print(
        json.dumps(
            {k: figures[k] for k in ("req_per_s", "p50_ms", "p99_ms")}
            | {"errors": figures["errors"]}
        )
    )
