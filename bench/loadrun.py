"""The API under mixed load: the real uvicorn server on a real devnet, 50 concurrent clients.

Starts a throwaway devnet (the pinned anvil) and ``uvicorn api.app:app`` on a free loopback port
(SQLite unless ``database_url`` is given; the anchor worker inside the API, as by default),
admits a supplier and a distributor, commissions ``cold_lots`` distinct lots (the cold trail
pages: each scanned once, as real scans are) and ``hot_lots`` lots of a few events each (the hot
set), waits until all are anchored, then runs ``clients`` httpx async clients for
``duration_s`` seconds, each in a closed loop over a mix of

* ``cold``: ``GET /01/{gtin}/10/{lot}`` of a lot nobody has scanned yet (JSON trail);
* ``hot``: the same for one of the hot lots (a phone's ``Accept: text/html``);
* ``capture``: ``POST /capture`` of a small document (3 events with unique eventIDs) by the
  distributor.

Afterwards every acknowledged capture's events are looked up in the database (``missing``), and
the server's resident memory is read from ``/proc`` before and after the load.

    .venv/bin/python bench/loadrun.py

The last line is one JSON object: ``cold_trail_p99_ms``, ``hot_trail_p99_ms``,
``capture_p99_ms``, ``req_per_s``, ``errors_5xx`` (5xx answers other than a 503 with
``Retry-After``, which is load shedding).
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import random
import secrets
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import httpx
import sqlalchemy as sa

from devnet.launcher import Devnet
from ledger.identifiers.gs1 import check_digit
from ledger.settings import Settings
from wallets.keystore import SCRYPT_N_LIGHT

CONTEXT: Final = "https://ref.gs1.org/standards/epcis/epcis-context.jsonld"
KINDS: Final = ("cold", "hot", "capture")
#: Events per capture document of the load.
CAPTURE_EVENTS: Final = 3
_HOT_EVENTS: Final = 5
_STEPS: Final = ("receiving", "storing", "picking", "loading", "shipping")


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def gs1(prefix: str, reference: int, width: int) -> str:
    """A GS1 key of ``prefix`` + a zero-padded reference + its check digit."""
    body = prefix + f"{reference:0{width}d}"
    return body + check_digit(body)


def rss_bytes(pid: int) -> int:
    """Resident memory of process ``pid`` (``VmRSS`` of ``/proc/{pid}/status``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


@dataclass
class Server:
    """A running ``uvicorn api.app:app`` process."""

    process: subprocess.Popen[bytes]
    base: str
    admin_key: str
    database_url: str
    log: Path

    @property
    def pid(self) -> int:
        """The server's process id."""
        return self.process.pid


@contextmanager
def serve(
    data_dir: Path,
    devnet_port: int,
    *,
    database_url: str | None = None,
    env: Mapping[str, str] | None = None,
    admin_key: str | None = None,
    access_log: bool = False,
    ready_path: str = "/readyz",
) -> Iterator[Server]:
    """``uvicorn api.app:app`` on a free port, configured by environment, ready to serve;
    stopped (SIGTERM) afterwards. Its output goes to ``data_dir/server.log`` (with uvicorn's
    access log at info level when ``access_log``). Ready means ``ready_path`` answers 200
    (``/healthz`` for a server whose ledger is not meant to be anchored)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    key = admin_key or f"tc_{secrets.token_hex(6)}_{secrets.token_urlsafe(32)}"
    url = database_url or f"sqlite:///{data_dir / 'load.sqlite3'}"
    full_env = {
        **os.environ,
        "TRACECHAIN_DATA_DIR": str(data_dir),
        "TRACECHAIN_DEVNET_PORT": str(devnet_port),
        "DATABASE_URL": url,
        "TRACECHAIN_PUBLIC_URL": base,
        "TRACECHAIN_ADMIN_API_KEY": key,
        "TRACECHAIN_KEYSTORE_WORK_FACTOR": str(1 << 10),
        **(env or {}),
    }
    log = data_dir / "server.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "api.app:app", "--host", "127.0.0.1",
             "--port", str(port),
             *(["--log-level", "info"] if access_log else ["--log-level", "warning",
                                                           "--no-access-log"])],
            env=full_env, cwd=data_dir, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 180  # a machine shared with other work starts slowly
        while True:
            try:
                if httpx.get(f"{base}{ready_path}", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the API server did not become ready:\n{log.read_text()}")
            time.sleep(0.2)
        yield Server(process, base, key, url, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class Ledger:
    """What the load runs on: members' keys and the trail paths."""

    supplier: dict[str, str]
    distributor: dict[str, str]
    prefix: str
    hot: list[str]
    cold: list[str]
    capture_lots: list[str]


def _document(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "@context": [CONTEXT],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-01-31T00:00:00Z",
        "epcisBody": {"eventList": events},
    }


def _commissioning(prefix: str, lot: str, gtin: str, when: str) -> dict[str, Any]:
    site = f"https://id.gs1.org/414/{gs1(prefix, 1, 5)}"
    return {
        "type": "ObjectEvent",
        "eventTime": when,
        "eventTimeZoneOffset": "+08:00",
        "epcList": [],
        "quantityList": [{"epcClass": f"https://id.gs1.org/01/{gtin}/10/{lot}", "quantity": 100}],
        "action": "ADD",
        "bizStep": "commissioning",
        "disposition": "active",
        "readPoint": {"id": site},
        "bizLocation": {"id": site},
        "ilmd": {"cbvmda:lotNumber": lot},
    }


def _observation(prefix: str, epc_class: str, n: int, event_id: str | None) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "ObjectEvent",
        "eventTime": (
            f"2026-02-{1 + n % 27:02d}T09:{n % 60:02d}:{(n // 60) % 60:02d}.{n % 1000:03d}+08:00"
        ),
        "eventTimeZoneOffset": "+08:00",
        "epcList": [],
        "quantityList": [{"epcClass": epc_class, "quantity": 1 + n % 90}],
        "action": "OBSERVE",
        "bizStep": _STEPS[n % len(_STEPS)],
        "readPoint": {"id": f"https://id.gs1.org/414/{gs1(prefix, 2 + n % 50, 5)}"},
    }
    if event_id is not None:
        event["eventID"] = event_id
    return event


def record_ledger(base: str, admin_key: str, *, cold_lots: int, hot_lots: int) -> Ledger:
    """Admit a supplier (with a prefix) and a distributor, commission ``cold_lots`` +
    ``hot_lots`` lots, give the hot ones a few distributor events, wait until all anchored."""
    with httpx.Client(base_url=base, timeout=120) as client:
        admin = {"Authorization": f"Bearer {admin_key}"}
        prefix = "69" + f"{secrets.randbelow(10**5):05d}"
        keys = []
        for name, prefixes in (("Load Supplier", [prefix]), ("Load Distributor", [])):
            member = client.post(
                "/members", json={"name": f"{name} {prefix}", "prefixes": prefixes}, headers=admin
            )
            member.raise_for_status()
            org = member.json()["org_id"]
            key = client.post(f"/members/{org}/api-keys", json={"role": "recorder"}, headers=admin)
            key.raise_for_status()
            keys.append({"Authorization": f"Bearer {key.json()['key']}"})
        supplier, distributor = keys
        gtin = "0" + gs1(prefix, 1, 5)
        lots = [f"L{n}" for n in range(cold_lots + hot_lots + 2)]
        for start in range(0, len(lots), 1000):
            chunk = lots[start : start + 1000]
            events = [
                _commissioning(prefix, lot, gtin, f"2026-01-01T08:00:00.{i % 1000:03d}+08:00")
                for i, lot in enumerate(chunk, start)
            ]
            client.post("/capture", json=_document(events), headers=supplier).raise_for_status()
        paths = [f"/01/{gtin}/10/{lot}" for lot in lots]
        hot = paths[cold_lots : cold_lots + hot_lots]
        classes = [f"https://id.gs1.org/01/{gtin}/10/{lot}" for lot in lots]
        events = [
            _observation(prefix, epc_class, n, None)
            for epc_class in classes[cold_lots : cold_lots + hot_lots]
            for n in range(_HOT_EVENTS - 1)
        ]
        client.post("/capture", json=_document(events), headers=distributor).raise_for_status()
        deadline = time.monotonic() + 120
        for path in (paths[0], paths[cold_lots - 1], *hot):
            while client.get(path, headers={"Accept": "application/json"}).json()["verdict"] != (
                "verified"
            ):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{path} was not anchored in time")
                time.sleep(0.2)
        return Ledger(supplier, distributor, prefix, hot, paths[:cold_lots], classes[-2:])


@dataclass
class Tally:
    """Answers of one kind of request."""

    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors_5xx: int = 0
    shed: int = 0
    samples: list[str] = field(default_factory=list)


async def _load(
    base: str, ledger: Ledger, *, clients: int, duration_s: float, mix: tuple[float, ...]
) -> tuple[dict[str, Tally], list[str], float]:
    tallies = {kind: Tally() for kind in KINDS}
    acknowledged: list[str] = []
    cold = iter(ledger.cold)
    rng = random.Random(7)
    serial = 0
    stop_at = time.perf_counter() + duration_s  # reset when the clients are ready
    html = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    as_json = {"Accept": "application/json"}
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)

    def next_request(client: httpx.AsyncClient) -> tuple[str, httpx.Request, list[str]]:
        nonlocal serial
        kind = rng.choices(KINDS, weights=mix)[0]
        if kind == "cold":
            path = next(cold, None)
            if path is not None:
                return kind, client.build_request("GET", path, headers=as_json), []
            kind = "hot"  # every cold lot was scanned: the rest are hot
        if kind == "hot":
            path = rng.choice(ledger.hot)
            return kind, client.build_request("GET", path, headers=html), []
        ids = []
        events = []
        for _ in range(CAPTURE_EVENTS):
            serial += 1
            ids.append(f"urn:uuid:{uuid.uuid4()}")
            events.append(
                _observation(ledger.prefix, rng.choice(ledger.capture_lots), serial, ids[-1])
            )
        request = client.build_request(
            "POST", "/capture", json=_document(events), headers=ledger.distributor
        )
        return kind, request, ids

    async def one_client(client: httpx.AsyncClient) -> None:
        async with client:
            while time.perf_counter() < stop_at:
                kind, request, ids = next_request(client)
                began = time.perf_counter()
                try:
                    answer = await client.send(request)
                    status = answer.status_code
                except httpx.TransportError as error:
                    status = 599  # the connection failed: counted as a server error
                    answer = None
                    detail = repr(error)
                ended = time.perf_counter()
                tally = tallies[kind]
                tally.latencies.append(ended - began)
                tally.statuses[status] = tally.statuses.get(status, 0) + 1
                if status == 503 and answer is not None and "retry-after" in answer.headers:
                    tally.shed += 1
                elif status >= 500:
                    tally.errors_5xx += 1
                    if len(tally.samples) < 3:
                        detail = answer.text[:300] if answer is not None else detail
                        tally.samples.append(f"{status} {request.url.path}: {detail}")
                elif kind == "capture" and status == 202:
                    acknowledged.extend(ids)

    # Clients are made before the clock starts, with one TLS context (making one per client
    # costs tens of ms of CPU each, which would count as latency of the first requests).
    tls = ssl.create_default_context()
    made = [
        httpx.AsyncClient(base_url=base, timeout=120, limits=limits, verify=tls)
        for _ in range(clients)
    ]
    began = time.perf_counter()
    stop_at = began + duration_s
    await asyncio.gather(*(one_client(client) for client in made))
    return tallies, acknowledged, time.perf_counter() - began


def missing_events(database_url: str, event_ids: list[str]) -> int:
    """How many of ``event_ids`` the database does not hold."""
    engine = sa.create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    found: set[str] = set()
    column: sa.ColumnClause[str] = sa.column("event_id")
    try:
        with engine.connect() as connection:
            for start in range(0, len(event_ids), 500):
                chunk = event_ids[start : start + 500]
                found.update(
                    connection.execute(
                        sa.select(column).select_from(sa.table("event")).where(column.in_(chunk))
                    ).scalars()
                )
    finally:
        engine.dispose()
    return len(set(event_ids) - found)


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * share))] * 1000, 1)


def run_on(
    server: Server,
    ledger: Ledger,
    *,
    clients: int = 50,
    duration_s: float = 15.0,
    mix: tuple[float, float, float] = (0.4, 0.4, 0.2),
) -> dict[str, Any]:
    """The load on a running server and a recorded ledger; the figures (see :func:`run_load`)."""
    rss_before = rss_bytes(server.pid)
    gc.collect()
    gc.disable()  # the load generator's own collector pauses would count as server latency
    try:
        tallies, acknowledged, elapsed = asyncio.run(
            _load(server.base, ledger, clients=clients, duration_s=duration_s, mix=mix)
        )
    finally:
        gc.enable()
    rss_after = rss_bytes(server.pid)
    total = sum(len(t.latencies) for t in tallies.values())
    figures: dict[str, Any] = {
        "clients": clients,
        "duration_s": round(elapsed, 1),
        "requests": total,
        "req_per_s": round(total / elapsed, 1),
        "errors_5xx": sum(t.errors_5xx for t in tallies.values()),
        "shed_503": sum(t.shed for t in tallies.values()),
        "acknowledged_events": len(acknowledged),
        "missing_events": missing_events(server.database_url, acknowledged),
        "rss_before_mb": round(rss_before / 2**20, 1),
        "rss_after_mb": round(rss_after / 2**20, 1),
        "error_samples": [s for t in tallies.values() for s in t.samples],
    }
    for kind, tally in tallies.items():
        figures[kind] = {
            "requests": len(tally.latencies),
            "req_per_s": round(len(tally.latencies) / elapsed, 1),
            "p50_ms": _percentile(tally.latencies, 0.50),
            "p99_ms": _percentile(tally.latencies, 0.99),
            "statuses": {str(k): v for k, v in sorted(tally.statuses.items())},
        }
    figures["cold_trail_p99_ms"] = figures["cold"]["p99_ms"]
    figures["hot_trail_p99_ms"] = figures["hot"]["p99_ms"]
    figures["capture_p99_ms"] = figures["capture"]["p99_ms"]
    return figures


def run_load(
    *,
    clients: int = 50,
    duration_s: float = 15.0,
    cold_lots: int = 3000,
    hot_lots: int = 10,
    database_url: str | None = None,
    mix: tuple[float, float, float] = (0.4, 0.4, 0.2),
) -> dict[str, Any]:
    """A throwaway devnet and API server, a recorded ledger, then ``clients`` clients for
    ``duration_s`` seconds; the figures (per kind: requests, req/s, p50/p99 in ms, statuses;
    overall: req/s, ``errors_5xx``, ``shed_503``, ``missing_events``, RSS before/after)."""
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        settings = Settings(_env_file=None).updated(  # type: ignore[call-arg]
            data_dir=data_dir, devnet={"port": free_port()}
        )
        devnet = Devnet(settings, key_work_factor=SCRYPT_N_LIGHT)
        devnet.up()
        try:
            with serve(data_dir, settings.devnet.port, database_url=database_url) as server:
                ledger = record_ledger(
                    server.base, server.admin_key, cold_lots=cold_lots, hot_lots=hot_lots
                )
                return run_on(server, ledger, clients=clients, duration_s=duration_s, mix=mix)
        finally:
            devnet.down()


SUMMARY: Final = (
    "cold_trail_p99_ms",
    "hot_trail_p99_ms",
    "capture_p99_ms",
    "req_per_s",
    "errors_5xx",
)


if __name__ == "__main__":
    result = run_load()
    for kind in KINDS:
        k = result[kind]
        print(
            f"{kind:8} {k['requests']:6} requests, {k['req_per_s']:7} req/s, "
            f"p50 {k['p50_ms']} ms, p99 {k['p99_ms']} ms, statuses {k['statuses']}"
        )
    print(
        f"{result['requests']} requests by {result['clients']} clients in {result['duration_s']} s:"
        f" {result['req_per_s']} req/s; 5xx {result['errors_5xx']}, shed 503 {result['shed_503']},"
        f" missing {result['missing_events']} of {result['acknowledged_events']};"
        f" RSS {result['rss_before_mb']} -> {result['rss_after_mb']} MB"
    )
    for sample in result["error_samples"]:
        print("  " + sample)
    print(json.dumps({key: result[key] for key in SUMMARY}))
