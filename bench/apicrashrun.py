"""API crash run: the real API server SIGKILLed again and again while a client captures.

A throwaway devnet (the pinned anvil) and ``uvicorn api.app:app`` (its anchor worker inside, as
by default) on a fresh data dir and database (SQLite, or the PostgreSQL ``database_url``). A
recording member is admitted over HTTP; then a client thread captures ``events`` commissioning
events, in documents of 1-4 events with unique eventIDs, one ``POST /capture`` at a time. Meanwhile
the server is killed with SIGKILL ``kills`` times, at moments drawn from ``seed``: the kill
waits until the client reaches a drawn document, then a drawn delay of up to 0.3 s (so it lands
inside a request, between requests, or in the middle of an anchoring round), and the server is
started again on the same data dir and database. The client retries every unacknowledged
document after the restart (the same bytes: capture is idempotent), except after every second
kill, where it gives up the document it had in flight (a client that went away): that document
must then be stored whole or not at all.

Afterwards the run waits (up to ``deadline_s``) until nothing waits to be anchored, then
counts, from what the client was acknowledged (202) and computed itself (each event's CBV 2.0
hash):

``lost``
    acknowledged events missing from the database;
``duplicated``
    acknowledged events stored more than once (by eventID), plus events of roots anchored on the
    chain twice or by no mined batch (the chain's ``BatchAnchored`` logs);
``stalled``
    acknowledged events not anchored on the chain by the deadline;
``half_stored``
    events missing from documents stored in part (acknowledged or given up);
``unserved``
    acknowledged events ``GET /events`` does not list exactly once;
``unverified``
    stored events :class:`ledger.verify.Verifier` does not find ``verified``;
``audit_findings``
    findings of :class:`ledger.audit.Auditor` (it reports a root anchored twice, orphan anchors,
    a batch the chain does not have...);
``errors_5xx``
    answers 500-599 other than a 503 with ``Retry-After`` (load shedding).

    .venv/bin/python -m bench.apicrashrun [--events 200] [--kills 3] [--seed 11]
        [--database-url postgresql://postgres@127.0.0.1:5432/test]

The last line printed is the JSON object of the figures. With ``--database-url`` a database of
a unique name is created on that server for the run and dropped afterwards.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import secrets
import signal
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

import httpx
import sqlalchemy as sa

if __package__ in (None, ""):  # run as `python bench/apicrashrun.py`: the root holds `bench`
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.capture import postgresql_database
from bench.crashrun import anchoring_figures, wait_until
from bench.loadrun import Server, free_port, serve
from devnet.launcher import Devnet
from ledger.audit import Auditor
from ledger.chain import ChainClient
from ledger.deployment import Deployment
from ledger.events import parse_document
from ledger.settings import Settings
from ledger.store.db import make_engine
from ledger.store.indexing import event_hash_of
from ledger.store.models import Event, Outbox, metadata
from ledger.verify import Verifier
from wallets.keystore import SCRYPT_N_LIGHT

CONTEXT: Final = "https://ref.gs1.org/standards/epcis/epcis-context.jsonld"
#: The longest drawn pause between the client reaching a kill's document and the kill (s).
MAX_KILL_DELAY_S: Final = 0.3
#: How long a client waits for a restarted server before it tries again anyway (s).
_RETRY_WAIT_S: Final = 0.5
_event = metadata.tables[Event.__tablename__]
_outbox = metadata.tables[Outbox.__tablename__]


# ---------------------------------------------------------------------- the plan (pure)


@dataclass(frozen=True, slots=True)
class Document:
    """One capture document: its bytes, its events' eventIDs and CBV 2.0 hashes (0x-hex)."""

    body: bytes
    event_ids: tuple[str, ...]
    hashes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Kill:
    """Kill the server once the client reaches document ``at``, ``delay_s`` later; whether the
    client then gives up the document it has in flight."""

    at: int
    delay_s: float
    abandon: bool


@dataclass(frozen=True, slots=True)
class Plan:
    """The documents of a run, in order, and its kills."""

    prefix: str
    documents: tuple[Document, ...]
    kills: tuple[Kill, ...]

    @property
    def events(self) -> int:
        """Events in all documents."""
        return sum(len(d.event_ids) for d in self.documents)


def _commissioning(prefix: str, serial: int, event_id: str) -> dict[str, Any]:
    second = serial % 86_400
    return {
        "type": "ObjectEvent",
        "eventID": event_id,
        "eventTime": f"2026-04-01T{second // 3600:02d}:{second // 60 % 60:02d}:"
        f"{second % 60:02d}.{serial // 86_400 % 1000:03d}Z",
        "eventTimeZoneOffset": "+08:00",
        "epcList": [f"urn:epc:id:sgtin:{prefix}.012345.K{serial}"],
        "action": "ADD",
        "bizStep": "commissioning",
        "disposition": "active",
        "readPoint": {"id": f"urn:epc:id:sgln:{prefix}.00001.0"},
    }


def document(events: list[dict[str, Any]]) -> Document:
    """A capture document of ``events`` with their eventIDs and hashes (as the server hashes)."""
    body = json.dumps(
        {
            "@context": [CONTEXT],
            "type": "EPCISDocument",
            "schemaVersion": "2.0",
            "creationDate": "2026-04-01T00:00:00Z",
            "epcisBody": {"eventList": events},
        }
    ).encode()
    parsed = parse_document(body, "application/ld+json")
    return Document(
        body,
        tuple(str(e["eventID"]) for e in events),
        tuple(event_hash_of(e.hash_id) for e in parsed),
    )


def make_plan(events: int, kills: int, seed: int) -> Plan:
    """Documents of 1-4 events (``events`` in all) and ``kills`` kills, all drawn from ``seed``.
    Every second kill makes the client give up the document it has in flight."""
    rng = random.Random(seed)
    prefix = "69" + f"{rng.randrange(10**5):05d}"
    docs: list[Document] = []
    serial = 0
    while serial < events:
        size = min(rng.randint(1, 4), events - serial)
        batch = []
        for _ in range(size):
            event_id = f"urn:uuid:{uuid.UUID(int=rng.getrandbits(128), version=4)}"
            batch.append(_commissioning(prefix, serial, event_id))
            serial += 1
        docs.append(document(batch))
    if kills and len(docs) < 2:
        raise ValueError("a crash run with kills needs at least two documents")
    points = sorted(rng.sample(range(1, len(docs)), min(kills, len(docs) - 1))) if kills else []
    planned = tuple(
        Kill(at, round(rng.uniform(0.0, MAX_KILL_DELAY_S), 3), abandon=j % 2 == 1)
        for j, at in enumerate(points)
    )
    return Plan(prefix, tuple(docs), planned)


# ---------------------------------------------------------------------- the run


class Target:
    """The server the client talks to now; the supervisor publishes each restart."""

    def __init__(self, base: str) -> None:
        self._cond = threading.Condition()
        self.base = base
        self.generation = 0
        #: Kills done so far, and how many the client may answer by giving up a request.
        self.kills = 0
        self.abandons_due = 0

    def killed(self, *, abandon: bool) -> None:
        """Note a kill (before it happens)."""
        with self._cond:
            self.kills += 1
            self.abandons_due += abandon

    def take_abandon(self, kills_before: int) -> bool:
        """Whether the client gives up its request (a kill since ``kills_before`` asks it)."""
        with self._cond:
            if self.kills > kills_before and self.abandons_due:
                self.abandons_due -= 1
                return True
            return False

    def now(self) -> tuple[str, int, int]:
        """The server's base URL, its generation and the kills so far."""
        with self._cond:
            return self.base, self.generation, self.kills

    def publish(self, base: str) -> None:
        """A restarted server is ready at ``base``."""
        with self._cond:
            self.base = base
            self.generation += 1
            self._cond.notify_all()

    def wait_newer(self, generation: int, timeout: float) -> None:
        """Wait (at most ``timeout``) for a server newer than ``generation``."""
        with self._cond:
            self._cond.wait_for(lambda: self.generation > generation, timeout=timeout)


@dataclass
class ClientLog:
    """What the client did and was told."""

    reached: int = -1
    acknowledged: list[int] = field(default_factory=list)
    abandoned: list[int] = field(default_factory=list)
    retries: int = 0
    errors_5xx: int = 0
    shed_503: int = 0
    unexpected: list[str] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)
    progress: threading.Condition = field(default_factory=threading.Condition)


def _client(plan: Plan, target: Target, key: str, out: ClientLog, deadline: float) -> None:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/ld+json"}
    try:
        with httpx.Client(timeout=60) as client:
            for index, doc in enumerate(plan.documents):
                with out.progress:
                    out.reached = index
                    out.progress.notify_all()
                while time.monotonic() < deadline:
                    base, generation, kills = target.now()
                    try:
                        answer = client.post(f"{base}/capture", content=doc.body, headers=headers)
                    except httpx.TransportError:
                        if target.take_abandon(kills):
                            out.abandoned.append(index)
                            break
                        out.retries += 1
                        target.wait_newer(generation, _RETRY_WAIT_S)
                        continue
                    if answer.status_code == 202:
                        out.acknowledged.append(index)
                        break
                    if answer.status_code == 503 and "retry-after" in answer.headers:
                        out.shed_503 += 1
                        target.wait_newer(generation, _RETRY_WAIT_S)
                        continue
                    if answer.status_code >= 500:
                        out.errors_5xx += 1
                    out.unexpected.append(f"document {index}: {answer.status_code} {answer.text}")
                    break
                else:
                    out.unexpected.append(f"document {index}: no answer before the deadline")
                    return
    finally:
        with out.progress:
            out.done.set()
            out.progress.notify_all()


def _admit(base: str, admin_key: str, prefix: str) -> str:
    """Admit a recording member owning ``prefix``; its recorder API key."""
    admin = {"Authorization": f"Bearer {admin_key}"}
    with httpx.Client(base_url=base, timeout=120) as client:
        member = client.post(
            "/members",
            json={"name": f"Crash Foods {prefix}", "roles": ["recorder"], "prefixes": [prefix]},
            headers=admin,
        )
        member.raise_for_status()
        org = member.json()["org_id"]
        created = client.post(f"/members/{org}/api-keys", json={"role": "recorder"}, headers=admin)
        created.raise_for_status()
        return str(created.json()["key"])


def _settled(engine: sa.Engine) -> bool:
    """Nothing waits in the outbox and every stored event is anchored."""
    with engine.connect() as conn:
        waiting = conn.execute(sa.select(sa.func.count()).select_from(_outbox)).scalar_one()
        pending = conn.execute(
            sa.select(sa.func.count())
            .select_from(_event)
            .where(_event.c.anchor_status != "anchored")
        ).scalar_one()
    return waiting == 0 and pending == 0


def served_event_ids(base: str, key: str, *, per_page: int = 100) -> list[str]:
    """Every eventID ``GET /events`` lists, page by page (a repeated one twice)."""
    found: list[str] = []
    headers = {"Authorization": f"Bearer {key}"}
    url: str | None = f"{base}/events?perPage={per_page}"
    with httpx.Client(timeout=60) as client:
        while url is not None:
            page = client.get(url, headers=headers)
            page.raise_for_status()
            body = page.json()
            events = body["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
            found += [str(e.get("eventID")) for e in events]
            token = body.get("nextPageToken")
            url = (
                f"{base}/events?perPage={per_page}&nextPageToken={quote(token, safe='')}"
                if token
                else None
            )
    return found


def _stored(engine: sa.Engine) -> dict[str, list[int]]:
    """eventID -> primary keys of the events stored under it."""
    out: dict[str, list[int]] = {}
    with engine.connect() as conn:
        for pk, event_id in conn.execute(sa.select(_event.c.id, _event.c.event_id)):
            out.setdefault(str(event_id), []).append(int(pk))
    return out


@contextlib.contextmanager
def _database(database_url: str | None, data_dir: Path) -> Iterator[str]:
    if database_url is None:
        yield f"sqlite:///{data_dir / 'crash.sqlite3'}"
    else:
        with postgresql_database(database_url) as url:
            yield url


def run_api_crash(
    *,
    events: int = 200,
    kills: int = 3,
    seed: int = 11,
    database_url: str | None = None,
    deadline_s: float = 90.0,
    lease_s: float = 3.0,
) -> dict[str, Any]:
    """A crash run (see the module's docstring); its figures. ``database_url`` names a
    PostgreSQL server to create the run's database on (default: SQLite in the data dir);
    ``lease_s`` is the anchor worker's lease, which a killed server's claims keep until it
    ends."""
    started = time.monotonic()
    plan = make_plan(events, kills, seed)
    admin_key = f"tc_{secrets.token_hex(6)}_{secrets.token_urlsafe(32)}"
    env = {
        "TRACECHAIN_ANCHOR_LEASE_S": str(lease_s),
        "TRACECHAIN_ANCHOR_BATCH_MAX_WAIT_S": "0.2",
        # /readyz (which a start waits for) must not refuse while a killed server's events wait.
        "TRACECHAIN_ANCHOR_LAG_BOUND_SECONDS": str(deadline_s),
    }
    log = ClientLog()
    restarts = 0
    with tempfile.TemporaryDirectory(prefix="tracechain-apicrash-") as tmp:
        data_dir = Path(tmp)
        settings = Settings(_env_file=None).updated(  # type: ignore[call-arg]
            data_dir=data_dir, devnet={"port": free_port(), "state_interval": 1}
        )
        net = Devnet(settings, key_work_factor=SCRYPT_N_LIGHT)
        net.up()
        try:
            with _database(database_url, data_dir) as url, contextlib.ExitStack() as stack:

                def start() -> Server:
                    return stack.enter_context(
                        serve(data_dir, net.settings.devnet.port, database_url=url,
                              env=env, admin_key=admin_key)
                    )  # fmt: skip

                server = start()
                key = _admit(server.base, admin_key, plan.prefix)
                target = Target(server.base)
                deadline = time.monotonic() + deadline_s + 20 * (len(plan.kills) + 1)
                client = threading.Thread(
                    target=_client,
                    args=(plan, target, key, log, deadline),
                    name="apicrash-client",
                    daemon=True,
                )
                client.start()
                for kill in plan.kills:
                    with log.progress:
                        log.progress.wait_for(
                            lambda: log.reached >= kill.at or log.done.is_set(),  # noqa: B023
                            timeout=max(0.0, deadline - time.monotonic()),
                        )
                    # Killed even when the client finished meanwhile: the worker is still busy.
                    time.sleep(kill.delay_s)  # the drawn moment; nothing waits on it
                    target.killed(abandon=kill.abandon)
                    os.kill(server.pid, signal.SIGKILL)
                    server.process.wait()
                    stack.close()  # the dead server's context (its SIGTERM is a no-op now)
                    server = start()
                    restarts += 1
                    target.publish(server.base)
                client.join(timeout=max(0.0, deadline - time.monotonic()))
                engine = make_engine(url)
                try:
                    wait_until(lambda: _settled(engine), time.monotonic() + deadline_s)
                    served = served_event_ids(server.base, key)
                    stack.close()  # a clean stop before the counting
                    figures = _figures(plan, log, engine, net, served, deadline_s)
                finally:
                    engine.dispose()
        finally:
            net.down()
    return {
        "database": "postgresql" if database_url else "sqlite",
        "seed": seed,
        "events": plan.events,
        "documents": len(plan.documents),
        "kills": restarts,
        "kill_points": [[k.at, k.delay_s] for k in plan.kills],
        **figures,
        "elapsed_s": round(time.monotonic() - started, 1),
    }


def _figures(
    plan: Plan,
    log: ClientLog,
    engine: sa.Engine,
    net: Devnet,
    served: list[str],
    deadline_s: float,
) -> dict[str, Any]:
    chain = ChainClient(net.rpc_url)
    deployment = Deployment.load(net.paths.deployment)
    acked = [plan.documents[i] for i in log.acknowledged]
    acked_ids = [event_id for doc in acked for event_id in doc.event_ids]
    stored = _stored(engine)
    counted = anchoring_figures(engine, chain, deployment, {h for doc in acked for h in doc.hashes})
    twice = sum(len(stored.get(i, [])) - 1 for i in acked_ids if len(stored.get(i, [])) > 1)
    half = 0
    abandoned_stored = 0
    for doc in plan.documents:
        present = sum(1 for i in doc.event_ids if i in stored)
        if 0 < present < len(doc.event_ids):
            half += len(doc.event_ids) - present
    for index in log.abandoned:
        abandoned_stored += sum(1 for i in plan.documents[index].event_ids if i in stored)
    listed: dict[str, int] = {}
    for event_id in served:
        listed[event_id] = listed.get(event_id, 0) + 1
    verifier = Verifier(engine, chain, deployment)
    statuses: dict[str, int] = {}
    for pks in stored.values():
        for pk in pks:
            status = verifier.verify_event(pk).status
            statuses[status] = statuses.get(status, 0) + 1
    report = Auditor(engine, chain, deployment, workers=1, anchor_lag_bound_s=deadline_s).run()
    return {
        "acknowledged": len(acked_ids),
        "abandoned_documents": len(log.abandoned),
        "abandoned_stored_events": abandoned_stored,
        "stored": sum(len(pks) for pks in stored.values()),
        "lost": counted["lost"],
        "duplicated": counted["duplicated"] + twice,
        "stalled": counted["stalled"],
        "half_stored": half,
        "unserved": sum(1 for i in acked_ids if listed.get(i) != 1),
        "unverified": sum(n for status, n in statuses.items() if status != "verified"),
        "verify_statuses": statuses,
        "audit_findings": len(report.findings),
        "audit_summary": [f"{f.kind}: {f.message}" for f in report.findings[:5]],
        "retries": log.retries,
        "shed_503": log.shed_503,
        "errors_5xx": log.errors_5xx,
        "unexpected": log.unexpected[:5],
    }


def main() -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=200, help="events captured in all")
    parser.add_argument("--kills", type=int, default=3, help="times the API is killed")
    parser.add_argument("--seed", type=int, default=11, help="draws the documents and kills")
    parser.add_argument("--database-url", default=None, help="a PostgreSQL server (default SQLite)")
    parser.add_argument("--deadline", type=float, default=90.0, help="seconds to converge")
    args = parser.parse_args()
    return run_api_crash(
        events=args.events,
        kills=args.kills,
        seed=args.seed,
        database_url=args.database_url,
        deadline_s=args.deadline,
    )


if __name__ == "__main__":
    print(json.dumps(main()))
