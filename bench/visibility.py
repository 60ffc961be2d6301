"""What the visibility rule costs a read: an EPCIS query and trails as a member, as the admin and
as the public, on a ledger of mixed visibility.

Run ``.venv/bin/python bench/visibility.py [--events N] [--requests R]`` (default 100,000
events, 300 requests of each kind). It builds a SQLite ledger in a temp dir: 20 members (each
with a GS1 company prefix, 20 GTINs and an API key) and ``N`` events of lot flows, five events
each: the producer commissions a lot and ships it to a customer (an ``owning_party`` in its
destination list), the customer receives it and ships it on to a third member, who receives
it. Every member chooses each flow's visibility (private 20 %, restricted 30 %, linked 35 %,
public 15 %), so a capture is one member's events of one visibility. Capture is
``ledger.store.capture.capture_events`` cut at its transaction: documents of up to 1,000
events are parsed, validated and hashed (``parse_document``) and their rows computed
(``prepare_capture``, with the capture's ``Audience``) in a process pool, and the main
process stores each in one write transaction (``capture_events_in``) while the pool prepares
the next ones; nothing is anchored (reads need no chain).

Then it starts a throwaway devnet and ``uvicorn api.app:app`` on that database (no anchor
worker) and times, one request at a time, kinds interleaved:

* ``GET /events?EQ_bizStep=shipping&GE_eventTime=..&LT_eventTime=..`` (a random one-day window,
  first page) as a member (``--member``, a producer and customer like the others) and as the
  admin (every event: no visibility condition). The public has no key and ``GET /events``
  needs one;
* the trail JSON of a random lot (``GET /01/{gtin}/10/{lot}``, ``Accept: application/json``;
  every lot once per caller, so no trail is served from a cache) as the member, as the admin
  and as the public.

Prints p50/p99 of each; the last line is one JSON object with ``filtered_p99_ms`` and
``unfiltered_p99_ms`` of the query kind whose ratio is worst (``kind``), their ``ratio``
(target <= 1.5: the predicate uses indexes, not a Python filter over rows), each kind's ratio,
and the build's ``capture_events_per_s``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlmodel import Session

if __package__ in (None, ""):  # run as `python bench/visibility.py`: the root holds `bench`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api.auth import create_api_key
from bench.loadrun import free_port, serve
from devnet.launcher import Devnet
from ledger.events import parse_document
from ledger.identifiers.gs1 import check_digit
from ledger.settings import Settings
from ledger.store.capture import PreparedCapture, capture_events_in, prepare_capture
from ledger.store.db import make_engine, migrate, write_transaction
from ledger.store.models import OrgRole
from ledger.store.repository import assign_prefix, create_organisation
from ledger.visibility import Audience, Visibility
from wallets.keystore import SCRYPT_N_LIGHT

CONTEXT = "https://ref.gs1.org/standards/epcis/epcis-context.jsonld"
DL = "https://id.gs1.org"
START = datetime(2026, 1, 1, tzinfo=UTC)
EVENTS = 100_000
MEMBERS = 20
GTINS = 20
REQUESTS = 300
#: Rounds of every kind before the timed ones (connections, statement caches, pages).
WARM_UP = 10
DOCUMENT_EVENTS = 1_000
#: Parsed documents waiting to be stored, at most.
IN_FLIGHT = 4
#: Minutes between the starts of two flows; each flow's events are an hour apart.
FLOW_MINUTES = 5
EVENTS_PER_FLOW = 5
MODES = (Visibility.PRIVATE, Visibility.RESTRICTED, Visibility.LINKED, Visibility.PUBLIC)
WEIGHTS = (20, 30, 35, 15)
ADMIN_KEY = "tc_a1b2c3d4e5f6_" + "b" * 43


def prefix_of(member: int) -> str:
    return f"69{member + 10:02d}100"


def gtin(member: int, product: int) -> str:
    body = "0" + prefix_of(member) + f"{product:05d}"
    return body + check_digit(body)


def pgln(member: int) -> str:
    body = prefix_of(member) + "00001"
    return f"{DL}/417/{body}{check_digit(body)}"


def site(member: int) -> dict[str, str]:
    body = prefix_of(member) + "00002"
    return {"id": f"{DL}/414/{body}{check_digit(body)}"}


def stamp(when: datetime) -> str:
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


#: One event of a lot flow: (flow, its step 0-4, producer, customer, retailer, GTIN).
Step = tuple[int, int, int, int, int, str]


def _event(when: datetime, lot: str, step: str, at: int, **extra: Any) -> dict[str, Any]:
    return {
        "type": "ObjectEvent",
        "eventTime": stamp(when),
        "eventTimeZoneOffset": "+08:00",
        "epcList": [],
        "quantityList": [{"epcClass": lot, "quantity": 100}],
        "action": "ADD" if step == "commissioning" else "OBSERVE",
        "bizStep": step,
        "readPoint": site(at),
        **extra,
    }


def _ship(when: datetime, lot: str, sender: int, to: int) -> dict[str, Any]:
    return _event(
        when,
        lot,
        "shipping",
        sender,
        sourceList=[{"type": "owning_party", "source": pgln(sender)}],
        destinationList=[{"type": "owning_party", "destination": pgln(to)}],
    )


def flow_event(step: Step) -> dict[str, Any]:
    """The EPCIS event of one step of a flow, its steps an hour apart: the producer
    commissions the lot and ships it to the customer, who receives it and ships it on to the
    retailer, who receives it."""
    flow, index, producer, customer, retailer, product = step
    lot = f"{DL}/01/{product}/10/L{flow}"
    when = START + timedelta(minutes=FLOW_MINUTES * flow, hours=index)
    if index == 0:
        return _event(when, lot, "commissioning", producer)
    if index == 1:
        return _ship(when, lot, producer, customer)
    if index == 2:
        return _event(when, lot, "receiving", customer)
    if index == 3:
        return _ship(when, lot, customer, retailer)
    return _event(when, lot, "receiving", retailer)


class Flows:
    """The lot flows of the ledger, their events grouped by (recorder, visibility)."""

    def __init__(self, total: int, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.flows = max(1, total // EVENTS_PER_FLOW)
        #: (gtin, lot) of every flow.
        self.lots: list[tuple[str, str]] = []

    def events(self) -> Iterator[tuple[int, Visibility, Step]]:
        """Each flow's steps (:func:`flow_event` makes their events), with who records each
        and its visibility (the recorder's choice for the flow)."""
        rng = self.rng
        for flow in range(self.flows):
            producer, customer, retailer = rng.sample(range(MEMBERS), 3)
            product = gtin(producer, rng.randrange(1, GTINS + 1))
            self.lots.append((product, f"L{flow}"))
            choice = {m: rng.choices(MODES, WEIGHTS)[0] for m in (producer, customer, retailer)}
            recorders = (producer, producer, customer, customer, retailer)
            for index, recorder in enumerate(recorders):
                step = (flow, index, producer, customer, retailer, product)
                yield recorder, choice[recorder], step

    @property
    def span(self) -> tuple[datetime, datetime]:
        """The event times of the flows' first events."""
        return START, START + timedelta(minutes=FLOW_MINUTES * self.flows)


def documents(flows: Flows) -> Iterator[tuple[int, Visibility, list[Step]]]:
    """The steps of documents of up to 1,000 events of one member and one visibility."""
    pending: dict[tuple[int, Visibility], list[Step]] = defaultdict(list)
    for recorder, mode, step in flows.events():
        bucket = pending[(recorder, mode)]
        bucket.append(step)
        if len(bucket) == DOCUMENT_EVENTS:
            yield recorder, mode, pending.pop((recorder, mode))
    yield from ((recorder, mode, steps) for (recorder, mode), steps in pending.items())


def _document(events: list[dict[str, Any]]) -> bytes:
    body = {
        "@context": [CONTEXT],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-03-01T00:00:00Z",
        "epcisBody": {"eventList": events},
    }
    return json.dumps(body).encode()


def _prepare(job: tuple[int, Visibility, list[Step]]) -> PreparedCapture:
    """A document written, parsed, validated and hashed (``parse_document``) and its rows
    computed (``prepare_capture``, what ``capture_events`` does before its transaction), in a
    worker."""
    organisation_id, mode, steps = job
    body = _document([flow_event(step) for step in steps])
    return prepare_capture(
        parse_document(body, "application/ld+json"),
        organisation_id=organisation_id,
        capture_id=str(uuid.uuid4()),
        audience=Audience(mode),
    )


def build(database: Path, total: int, member: int) -> tuple[Flows, dict[str, str], float]:
    """The ledger: its flows, the API keys of ``member`` and the admin, capture events/s."""
    url = f"sqlite:///{database}"
    migrate(url)
    engine = make_engine(url)
    ids: dict[int, int] = {}
    keys: dict[str, str] = {}
    for m in range(MEMBERS):
        organisation = create_organisation(
            engine, org_id="0x" + f"{m + 1:02x}" * 32, name=f"Bench {m}", roles=OrgRole.RECORDER
        )
        assert organisation.id is not None
        ids[m] = organisation.id
        assign_prefix(engine, organisation_id=organisation.id, prefix=prefix_of(m))
        if m == member:
            with Session(engine) as session:
                _, keys["member"] = create_api_key(
                    session, role="recorder", organisation_id=organisation.id
                )
    flows = Flows(total)
    stored = 0
    window: deque[Any] = deque()
    started = time.perf_counter()

    def store(prepared: PreparedCapture) -> int:
        # The rest of capture_events: the capture's rows in one write transaction.
        with write_transaction(engine) as connection:
            return len(capture_events_in(connection, prepared).events)

    with multiprocessing.get_context("fork").Pool(os.cpu_count() or 1) as pool:
        for recorder, mode, steps in documents(flows):
            window.append(pool.apply_async(_prepare, ((ids[recorder], mode, steps),)))
            if len(window) >= IN_FLIGHT:
                stored += store(window.popleft().get())
        while window:
            stored += store(window.popleft().get())
    elapsed = time.perf_counter() - started
    engine.dispose()
    print(f"captured {stored} events in {elapsed:.1f} s", file=sys.stderr)
    return flows, keys, stored / elapsed


def _figures(latencies: list[float], sizes: list[int]) -> dict[str, Any]:
    latencies.sort()
    count = len(latencies)
    return {
        "requests": count,
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(latencies[min(count - 1, int(count * 0.99))] * 1000, 2),
        "max_ms": round(latencies[-1] * 1000, 2),
        "mean_events": round(statistics.mean(sizes), 1),
    }


def measure(base: str, flows: Flows, keys: dict[str, str], requests: int) -> dict[str, Any]:
    """Time every kind, one request at a time, kinds interleaved."""
    rng = random.Random(11)
    first, last = flows.span
    days = max(1, (last - first).days - 1)
    callers = {
        "admin": {"Authorization": f"Bearer {ADMIN_KEY}"},
        "member": {"Authorization": f"Bearer {keys['member']}"},
        "public": {},
    }
    latencies: dict[str, list[float]] = defaultdict(list)
    sizes: dict[str, list[int]] = defaultdict(list)
    lots = rng.sample(flows.lots, min(requests + WARM_UP, len(flows.lots)))
    errors = 0
    with httpx.Client(base_url=base, timeout=60) as client:

        def timed(kind: str, path: str, headers: dict[str, str], count: str) -> None:
            nonlocal errors
            began = time.perf_counter()
            answer = client.get(path, headers={"Accept": "application/json", **headers})
            latencies[kind].append(time.perf_counter() - began)
            if answer.status_code == 200:
                body = answer.json()
                found = (
                    body["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
                    if (count == "query")
                    else body.get("events", [])
                )
                sizes[kind].append(len(found))
            elif answer.status_code == 404 and count == "trail":
                sizes[kind].append(0)  # a lot none of whose events the caller may read
            else:
                errors += 1
                sizes[kind].append(0)

        for n in range(-WARM_UP, requests):
            if n == 0:
                latencies.clear()
                sizes.clear()
            day = first + timedelta(days=rng.randrange(days))
            query = (
                f"/events?EQ_bizStep=shipping&GE_eventTime={stamp(day)}"
                f"&LT_eventTime={stamp(day + timedelta(days=1))}"
            )
            product, lot = lots[(n + WARM_UP) % len(lots)]
            trail = f"/01/{product}/10/{lot}"
            order = ["admin", "member", "public"]
            rng.shuffle(order)
            for caller in order:
                if caller != "public":
                    timed(f"events_{caller}", query, callers[caller], "query")
                timed(f"trail_{caller}", trail, callers[caller], "trail")
    result: dict[str, Any] = {
        kind: _figures(values, sizes[kind]) for kind, values in sorted(latencies.items())
    }
    result["errors"] = errors
    return result


def main(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        database = data_dir / "bench.sqlite3"
        flows, keys, per_s = build(database, args.events, args.member)
        settings = Settings(_env_file=None).updated(  # type: ignore[call-arg]
            data_dir=data_dir, devnet={"port": free_port()}
        )
        devnet = Devnet(settings, key_work_factor=SCRYPT_N_LIGHT)
        devnet.up()
        try:
            # No anchor worker, and ready when it answers (the ledger is not meant to be
            # anchored, so /readyz would report the anchoring lag).
            with serve(
                data_dir,
                settings.devnet.port,
                database_url=f"sqlite:///{database}",
                env={"TRACECHAIN_ANCHOR_WORKER_IN_API": "false"},
                admin_key=ADMIN_KEY,
                ready_path="/healthz",
            ) as server:
                figures = measure(server.base, flows, keys, args.requests)
        finally:
            devnet.down()
    figures["capture_events_per_s"] = round(per_s, 1)
    figures["events"] = len(flows.lots) * EVENTS_PER_FLOW
    return figures


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--events", type=int, default=EVENTS)
    parser.add_argument("--requests", type=int, default=REQUESTS)
    parser.add_argument("--member", type=int, default=3, help="the member timed (0-19)")
    return parser.parse_args()


if __name__ == "__main__":
    arguments = _arguments()
    result = main(arguments)
    for kind, figures in result.items():
        if isinstance(figures, dict):
            print(
                f"{kind}: {figures['requests']} requests, p50 {figures['p50_ms']} ms, p99 "
                f"{figures['p99_ms']} ms, max {figures['max_ms']} ms, "
                f"{figures['mean_events']} events per answer"
            )
    ratios = {
        "events_member": result["events_member"]["p99_ms"] / result["events_admin"]["p99_ms"],
        "trail_member": result["trail_member"]["p99_ms"] / result["trail_admin"]["p99_ms"],
        "trail_public": result["trail_public"]["p99_ms"] / result["trail_admin"]["p99_ms"],
    }
    worst = max(ratios, key=lambda kind: ratios[kind])
    unfiltered = "events_admin" if worst.startswith("events") else "trail_admin"
    print(
        json.dumps(
            {
                "filtered_p99_ms": result[worst]["p99_ms"],
                "unfiltered_p99_ms": result[unfiltered]["p99_ms"],
                "ratio": round(ratios[worst], 2),
                "kind": worst,
                **{f"{kind}_ratio": round(value, 2) for kind, value in ratios.items()},
                "events": result["events"],
                "capture_events_per_s": result["capture_events_per_s"],
                "errors": result["errors"],
            }
        )
    )
