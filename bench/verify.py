"""Verification pages under load: the real uvicorn server, 50 concurrent HTTP clients, cold
and hot.

Starts a throwaway devnet (the pinned anvil) and ``uvicorn api.app:app`` on a free loopback
port (SQLite, the anchor worker inside the API as by default) and records through the API:

* the *hot* set: 10 lots of 20 events each (a commissioning ``POST /batches`` plus 19 events of
  a distributor);
* the *cold* set: ``--cold-items`` serialised items (3,000 by default), commissioned by their
  brand owner ten to an ``ObjectEvent``, packed ten to a case (``AggregationEvent``) and
  received by the distributor: a three-event trail each.

Once the worker has anchored everything, 50 httpx async clients fetch the buyers' pages with a
phone's ``Accept: text/html``:

1. cold: every cold item's page (``GET /01/{gtin}/21/{serial}``) exactly once, as real scans
   are (no trail of them has been rendered before, so none is in the trail cache), until all
   are served or ``--cold-max-s`` passes;
2. hot: the ten lots' pages in a closed loop for ``--measure-s`` seconds after a warm-up.

    .venv/bin/python bench/verify.py [--cold-items 10000] [--measure-s 15]

Prints requests per second and latency percentiles of each phase, and the server's CPU time per
request (user + system, from ``/proc``; less sensitive to other load on the machine than
latency) and anvil's; the last line is one JSON object with ``req_per_s``, ``p50_ms``,
``p99_ms`` (hot), ``cold_req_per_s``, ``cold_p50_ms``, ``cold_p99_ms``,
``cold_cpu_ms_per_req`` and ``errors`` (targets at 50 clients on a quiet 2-core machine:
hot p99 under 50 ms, cold p99 under 150 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import secrets
import ssl
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

if __package__ in (None, ""):  # run as `python bench/verify.py`: the root holds `bench`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.loadrun import free_port, serve
from devnet.launcher import Devnet
from ledger.identifiers.gs1 import check_digit
from ledger.settings import Settings
from wallets.keystore import SCRYPT_N_LIGHT

CLIENTS = 50
PRODUCTS = 10
EVENTS_PER_PRODUCT = 20
WARM_UP_S = 2.0
MEASURE_S = 10.0
COLD_ITEMS = 3_000
COLD_MAX_S = 25.0
#: Items per commissioning / packing / receiving event of the cold set.
ITEMS_PER_EVENT = 10
ADMIN_KEY = f"tc_{secrets.token_hex(6)}_{secrets.token_urlsafe(32)}"
CONTEXT = "https://ref.gs1.org/standards/epcis/epcis-context.jsonld"
STEPS = ("receiving", "storing", "picking", "loading", "shipping")


def gs1(prefix: str, reference: int, width: int) -> str:
    """A GS1 key of ``prefix`` + a zero-padded reference + its check digit."""
    body = prefix + f"{reference:0{width}d}"
    return body + check_digit(body)


def record(base: str, cold_items: int) -> tuple[list[str], list[str]]:
    """Admit a supplier and a distributor, record the products; the page paths of the hot
    lots and of the cold items."""
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
        cold = record_cold(client, prefix, supplier, distributor, cold_items)
        deadline = time.monotonic() + 120
        for path in paths:
            while True:
                trail = client.get(path, headers={"Accept": "application/json"}).json()
                if trail["verdict"] == "verified" and len(trail["events"]) == EVENTS_PER_PRODUCT:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{path} not verified: {trail['verdict']}")
                time.sleep(0.2)
        for path in (cold[0], cold[-1]):  # anchored in order: the last one comes last
            while True:
                trail = client.get(path, headers={"Accept": "application/json"}).json()
                if trail["verdict"] == "verified" and len(trail["events"]) == 3:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{path} not verified: {trail['verdict']}")
                time.sleep(0.2)
        return paths, cold


def _documents(events: list[dict[str, Any]], size: int = 1_500) -> Iterator[dict[str, Any]]:
    for start in range(0, len(events), size):
        yield {
            "@context": [CONTEXT], "type": "EPCISDocument", "schemaVersion": "2.0",
            "creationDate": "2026-02-28T00:00:00Z",
            "epcisBody": {"eventList": events[start : start + size]},
        }  # fmt: skip


def record_cold(
    client: httpx.Client,
    prefix: str,
    supplier: dict[str, str],
    distributor: dict[str, str],
    items: int,
) -> list[str]:
    """Commission, pack and receive ``items`` serialised items; their page paths."""
    gtin = "0" + gs1(prefix, 99_999, 5)
    made: list[dict[str, Any]] = []
    received: list[dict[str, Any]] = []
    paths = []
    for group in range(0, items, ITEMS_PER_EVENT):
        serials = [f"C{n}" for n in range(group, min(group + ITEMS_PER_EVENT, items))]
        epcs = [f"https://id.gs1.org/01/{gtin}/21/{serial}" for serial in serials]
        paths += [f"/01/{gtin}/21/{serial}" for serial in serials]
        minute = group // ITEMS_PER_EVENT
        when = f"2026-02-{1 + minute // 1440:02d}T{minute // 60 % 24:02d}:{minute % 60:02d}"
        made.append({
            "type": "ObjectEvent", "eventTime": f"{when}:00.000+08:00",
            "eventTimeZoneOffset": "+08:00", "epcList": epcs, "action": "ADD",
            "bizStep": "commissioning", "disposition": "active",
            "readPoint": {"id": f"https://id.gs1.org/414/{gs1(prefix, 1, 5)}"},
        })  # fmt: skip
        made.append({
            "type": "AggregationEvent", "eventTime": f"{when}:10.000+08:00",
            "eventTimeZoneOffset": "+08:00", "action": "ADD", "bizStep": "packing",
            "parentID": f"https://id.gs1.org/00/{gs1('0' + prefix, minute, 9)}",
            "childEPCs": epcs,
        })  # fmt: skip
        received.append({
            "type": "ObjectEvent", "eventTime": f"{when}:20.000+08:00",
            "eventTimeZoneOffset": "+08:00", "epcList": epcs, "action": "OBSERVE",
            "bizStep": "receiving", "disposition": "in_progress",
        })  # fmt: skip
    for events, key in ((made, supplier), (received, distributor)):
        for document in _documents(events):
            client.post("/capture", json=document, headers=key).raise_for_status()
    return paths


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _figures(latencies: list[float], seconds: float, errors: int) -> dict[str, Any]:
    latencies.sort()
    count = len(latencies)
    return {
        "requests": count,
        "seconds": round(seconds, 2),
        "errors": errors,
        "req_per_s": round(count / seconds, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p90_ms": round(latencies[int(count * 0.90)] * 1000, 2),
        "p99_ms": round(latencies[int(count * 0.99)] * 1000, 2),
        "max_ms": round(latencies[-1] * 1000, 2),
    }


HEADERS = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8", "Accept-Language": "zh-CN"}


async def load_cold(base: str, paths: list[str], clients: int, max_s: float) -> dict[str, Any]:
    """``clients`` clients share ``paths``: each path requested once, until all are served or
    ``max_s`` passes."""
    latencies: list[float] = []
    errors = 0
    queue = iter(paths)
    tls = ssl.create_default_context()
    start = time.perf_counter()
    stop_at = start + max_s

    async def one_client() -> None:
        nonlocal errors
        async with httpx.AsyncClient(
            base_url=base, headers=HEADERS, timeout=60, verify=tls
        ) as client:
            for path in queue:
                began = time.perf_counter()
                if began >= stop_at:
                    return
                answer = await client.get(path)
                latencies.append(time.perf_counter() - began)
                if answer.status_code != 200 or b'data-verdict="verified"' not in answer.content:
                    errors += 1

    await asyncio.gather(*(one_client() for _ in range(clients)))
    return _figures(latencies, time.perf_counter() - start, errors)


async def load(base: str, paths: list[str], clients: int, measure_s: float) -> dict[str, Any]:
    """``clients`` clients in a closed loop; latencies of the requests after the warm-up."""
    latencies: list[float] = []
    errors = 0
    start = time.perf_counter()
    measure_from = start + WARM_UP_S
    stop_at = measure_from + measure_s
    headers = HEADERS
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

    await asyncio.gather(*(one_client(n) for n in range(clients)))
    return _figures(latencies, measure_s, errors)


def _measure(
    coroutine: Any, pids: dict[str, int | None]
) -> tuple[dict[str, Any], dict[str, float]]:
    """Run a load phase; its figures and the CPU seconds each process spent meanwhile."""
    before = {name: cpu_seconds(pid) for name, pid in pids.items() if pid}
    # The load generator's own collector pauses would count as server latency.
    gc.collect()
    gc.disable()
    try:
        figures: dict[str, Any] = asyncio.run(coroutine)
    finally:
        gc.enable()
    spent = {name: cpu_seconds(pid) - before[name] for name, pid in pids.items() if pid}
    return figures, spent


def main(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        settings = Settings(_env_file=None).updated(  # type: ignore[call-arg]
            data_dir=data_dir, devnet={"port": free_port()}
        )
        devnet = Devnet(settings, key_work_factor=SCRYPT_N_LIGHT)
        devnet.up()
        devnet.admin_account()
        try:
            with serve(
                data_dir,
                settings.devnet.port,
                database_url=f"sqlite:///{data_dir / 'bench.sqlite3'}",
                admin_key=ADMIN_KEY,
            ) as server:
                base = server.base
                paths, cold_paths = record(base, args.cold_items)
                print(
                    f"{PRODUCTS} products of {EVENTS_PER_PRODUCT} events and "
                    f"{len(cold_paths)} items of 3 events recorded and anchored"
                )
                pids = {"api": server.pid, "anvil": devnet.status().pid}
                cold, cold_cpu = _measure(
                    load_cold(base, cold_paths, args.clients, args.cold_max_s), pids
                )
                hot, hot_cpu = _measure(load(base, paths, args.clients, args.measure_s), pids)
                return {
                    "hot": hot,
                    "cold": cold,
                    "cold_cpu_ms_per_req": {
                        k: round(v * 1000 / max(cold["requests"], 1), 2)
                        for k, v in cold_cpu.items()
                    },
                    "hot_cpu_ms_per_req": {
                        k: round(v * 1000 / max(hot["requests"], 1), 3) for k, v in hot_cpu.items()
                    },
                }
        finally:
            devnet.down()


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--clients", type=int, default=CLIENTS)
    parser.add_argument("--cold-items", type=int, default=COLD_ITEMS)
    parser.add_argument("--cold-max-s", type=float, default=COLD_MAX_S)
    parser.add_argument("--measure-s", type=float, default=MEASURE_S)
    return parser.parse_args()


def _line(name: str, figures: dict[str, Any], cpu: dict[str, float]) -> str:
    return (
        f"{name}: {figures['requests']} requests in {figures['seconds']} s"
        f": {figures['req_per_s']} req/s, p50 {figures['p50_ms']} ms, p90 {figures['p90_ms']}"
        f" ms, p99 {figures['p99_ms']} ms, max {figures['max_ms']} ms, {figures['errors']} errors;"
        f" CPU per request: API {cpu.get('api')} ms, anvil {cpu.get('anvil')} ms"
    )


if __name__ == "__main__":
    arguments = _arguments()
    result = main(arguments)
    hot, cold = result["hot"], result["cold"]
    print(f"{arguments.clients} clients")
    print(_line("cold (distinct items, each once)", cold, result["cold_cpu_ms_per_req"]))
    print(_line("hot (10 lots in a loop)", hot, result["hot_cpu_ms_per_req"]))
    print(
        json.dumps(
            {k: hot[k] for k in ("req_per_s", "p50_ms", "p99_ms")}
            | {f"cold_{k}": cold[k] for k in ("req_per_s", "p50_ms", "p99_ms", "requests")}
            | {
                "cold_cpu_ms_per_req": result["cold_cpu_ms_per_req"].get("api"),
                "cold_anvil_cpu_ms_per_req": result["cold_cpu_ms_per_req"].get("anvil"),
                "hot_cpu_ms_per_req": result["hot_cpu_ms_per_req"].get("api"),
                "errors": hot["errors"] + cold["errors"],
            }
        )
    )
