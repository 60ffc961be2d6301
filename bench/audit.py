"""The audit (events/s) and the recall trace (ms) on a realistic ledger, really anchored.

Run ``.venv/bin/python bench/audit.py [--events N] [--workers W]`` (default 100,000 events;
``--events 1000000`` for a million). It starts a throwaway devnet (the pinned anvil) and SQLite
database, admits five members (two ingredient suppliers, a factory, a distributor, a retail
chain), then builds a supply chain of ``N`` events: ingredient lots commissioned, shipped and
received; transformations of three ingredient lots into a product lot; 240 serialised items
commissioned per product lot, packed 12 to a case and 10 cases to a pallet; pallets shipped to
the distribution centre, cases on to 40 stores; every item sold. Documents of up to 1,000
events are validated and hashed by ``parse_document`` in a process pool and stored by
``capture_events``; the anchor worker anchors everything (batches of 2,000) on the devnet.

Then it times:

1. ``tracechain audit``'s engine (:class:`ledger.audit.Auditor`, both cores): every event
   re-hashed, every root rebuilt and found on chain, every anchor accounted for;
2. the recall question (:func:`ledger.trace.recall_scope`) from one ingredient lot: every
   product, case, pallet, site and member it reached (median of 7 runs).

The last line is one JSON object: ``events``, ``events_per_s`` (audit), ``audit_s``,
``audit_cpu_s`` (CPU seconds of the audit, its worker processes included: the figure to compare
on a loaded machine),
``findings``, ``trace_ms`` and what the trace reached.
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing
import os
import resource
import socket
import statistics
import sys
import tempfile
import time
from collections import defaultdict, deque
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from devnet.launcher import Devnet
from ledger.anchoring import AnchorConfig, AnchorWorker
from ledger.audit import Auditor
from ledger.chain import ChainClient
from ledger.deployment import Deployment
from ledger.events import CapturedEvent, parse_document
from ledger.membership import Membership
from ledger.settings import Settings
from ledger.store.capture import capture_events
from ledger.store.db import make_engine, migrate
from ledger.trace import recall_scope
from ledger.visibility import Reader
from wallets.keyring import Keyring
from wallets.keystore import SCRYPT_N_LIGHT

CONTEXT = "https://ref.gs1.org/standards/epcis/epcis-context.jsonld"
DL = "https://id.gs1.org"
START = datetime(2026, 1, 1, tzinfo=UTC)
DOCUMENT_EVENTS = 1_000
#: Parsed documents waiting to be stored, at most.
IN_FLIGHT = 6
ITEMS_PER_LOT = 240
ITEMS_PER_CASE = 12
CASES_PER_PALLET = 10
STORES = 40
PREFIXES = {
    "supplier_1": "4012345",
    "supplier_2": "4000001",
    "factory": "9506000",
    "distributor": "0614141",
    "retailer": "5012345",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def check_digit(body: str) -> str:
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return str((10 - total % 10) % 10)


def gtin(prefix: str, item: int) -> str:
    body = "0" + prefix + f"{item:05d}"
    return body + check_digit(body)


def gln(prefix: str, location: int) -> str:
    body = prefix + f"{location:05d}"
    return body + check_digit(body)


def sscc(prefix: str, serial: int) -> str:
    body = "0" + prefix + f"{serial:09d}"
    return body + check_digit(body)


class SupplyChain:
    """Generates the supply chain's events, (member, event) in time order."""

    def __init__(self) -> None:
        self.clock = itertools.count()
        self.sscc = itertools.count(1)
        self.lot_numbers = itertools.count(1)
        self.sites = {
            "supplier_1": gln(PREFIXES["supplier_1"], 1),
            "supplier_2": gln(PREFIXES["supplier_2"], 1),
            "factory": gln(PREFIXES["factory"], 1),
            "dc": gln(PREFIXES["distributor"], 1),
        }
        self.stores = [gln(PREFIXES["retailer"], 100 + n) for n in range(STORES)]
        self.ingredients = [
            ("supplier_1", gtin(PREFIXES["supplier_1"], 1)),
            ("supplier_1", gtin(PREFIXES["supplier_1"], 2)),
            ("supplier_2", gtin(PREFIXES["supplier_2"], 1)),
        ]
        self.product = gtin(PREFIXES["factory"], 1)
        #: The ingredient lots of the first product lots (the trace starts at one of them).
        self.first_lots: list[str] = []

    def when(self) -> dict[str, str]:
        moment = START + timedelta(seconds=next(self.clock))
        return {
            "eventTime": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "eventTimeZoneOffset": "+00:00",
        }

    def site(self, gln13: str) -> dict[str, str]:
        return {"id": f"{DL}/414/{gln13}"}

    def move(
        self, org: str, what: dict[str, Any], step: str, source: str, destination: str
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """Shipping from ``source`` and receiving at ``destination``."""
        yield (
            org,
            {
                "type": "ObjectEvent",
                **self.when(),
                **what,
                "action": "OBSERVE",
                "bizStep": step,
                "disposition": "in_transit",
                "readPoint": self.site(source),
                "sourceList": [{"type": "location", "source": f"{DL}/414/{source}"}],
                "destinationList": [{"type": "location", "destination": f"{DL}/414/{destination}"}],
            },
        )

    def ingredient_lot(self, supplier: str, gtin14: str) -> Iterator[tuple[str, dict[str, Any]]]:
        lot = f"{DL}/01/{gtin14}/10/I{next(self.lot_numbers)}"
        quantity = {
            "quantityList": [{"epcClass": lot, "quantity": 500, "uom": "KGM"}],
            "epcList": [],
        }
        yield (
            supplier,
            {
                "type": "ObjectEvent",
                **self.when(),
                **quantity,
                "action": "ADD",
                "bizStep": "commissioning",
                "disposition": "active",
                "readPoint": self.site(self.sites[supplier]),
                "bizLocation": self.site(self.sites[supplier]),
            },
        )
        yield from self.move(
            supplier, quantity, "shipping", self.sites[supplier], self.sites["factory"]
        )
        yield (
            "factory",
            {
                "type": "ObjectEvent",
                **self.when(),
                **quantity,
                "action": "OBSERVE",
                "bizStep": "receiving",
                "disposition": "in_progress",
                "bizLocation": self.site(self.sites["factory"]),
            },
        )
        self.current[gtin14] = lot

    def events(self) -> Iterator[tuple[str, dict[str, Any]]]:
        self.current: dict[str, str] = {}
        for number in itertools.count(1):
            # A new lot of each ingredient every third product lot.
            if number % 3 == 1:
                for supplier, gtin14 in self.ingredients:
                    yield from self.ingredient_lot(supplier, gtin14)
            if number <= 3 and not self.first_lots:
                self.first_lots = list(self.current.values())
            lot = f"{DL}/01/{self.product}/10/P{number}"
            yield (
                "factory",
                {
                    "type": "TransformationEvent",
                    **self.when(),
                    "inputQuantityList": [
                        {"epcClass": ingredient, "quantity": 20, "uom": "KGM"}
                        for ingredient in self.current.values()
                    ],
                    "outputQuantityList": [{"epcClass": lot, "quantity": ITEMS_PER_LOT}],
                    "bizStep": "commissioning",
                    "disposition": "active",
                    "readPoint": self.site(self.sites["factory"]),
                },
            )
            items = [f"{lot}/21/{number}.{n}" for n in range(ITEMS_PER_LOT)]
            yield (
                "factory",
                {
                    "type": "ObjectEvent",
                    **self.when(),
                    "epcList": items,
                    "action": "ADD",
                    "bizStep": "commissioning",
                    "disposition": "active",
                    "readPoint": self.site(self.sites["factory"]),
                },
            )
            cases = []
            for start in range(0, ITEMS_PER_LOT, ITEMS_PER_CASE):
                case = f"{DL}/00/{sscc(PREFIXES['factory'], next(self.sscc))}"
                cases.append((case, items[start : start + ITEMS_PER_CASE]))
                yield (
                    "factory",
                    {
                        "type": "AggregationEvent",
                        **self.when(),
                        "parentID": case,
                        "childEPCs": items[start : start + ITEMS_PER_CASE],
                        "action": "ADD",
                        "bizStep": "packing",
                        "disposition": "in_progress",
                        "readPoint": self.site(self.sites["factory"]),
                    },
                )
            for start in range(0, len(cases), CASES_PER_PALLET):
                pallet = f"{DL}/00/{sscc(PREFIXES['factory'], next(self.sscc))}"
                yield (
                    "factory",
                    {
                        "type": "AggregationEvent",
                        **self.when(),
                        "parentID": pallet,
                        "childEPCs": [c for c, _ in cases[start : start + CASES_PER_PALLET]],
                        "action": "ADD",
                        "bizStep": "packing",
                        "disposition": "in_progress",
                        "readPoint": self.site(self.sites["factory"]),
                    },
                )
                yield from self.move(
                    "factory",
                    {"epcList": [pallet]},
                    "shipping",
                    self.sites["factory"],
                    self.sites["dc"],
                )
                yield from self.move(
                    "distributor",
                    {"epcList": [pallet]},
                    "receiving",
                    self.sites["factory"],
                    self.sites["dc"],
                )
            for index, (case, contents) in enumerate(cases):
                store = self.stores[(number * 7 + index) % STORES]
                yield from self.move(
                    "distributor", {"epcList": [case]}, "shipping", self.sites["dc"], store
                )
                yield (
                    "retailer",
                    {
                        "type": "ObjectEvent",
                        **self.when(),
                        "epcList": [case],
                        "action": "OBSERVE",
                        "bizStep": "receiving",
                        "disposition": "in_progress",
                        "bizLocation": self.site(store),
                    },
                )
                for item in contents:
                    yield (
                        "retailer",
                        {
                            "type": "ObjectEvent",
                            **self.when(),
                            "epcList": [item],
                            "action": "DELETE",
                            "bizStep": "retail_selling",
                            "disposition": "retail_sold",
                            "readPoint": self.site(store),
                        },
                    )


def documents(total: int, chain: SupplyChain) -> Iterator[tuple[str, bytes]]:
    """Documents of 1,000 events of one member (each member's events in time order), ``total``
    events in all: one capture transaction per document, as a member's integration sends them."""
    pending: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for org, event in itertools.islice(chain.events(), total):
        pending[org].append(event)
        if len(pending[org]) == DOCUMENT_EVENTS:
            yield org, _document(pending.pop(org))
    for org, events in pending.items():
        yield org, _document(events)


def _document(events: list[dict[str, Any]]) -> bytes:
    body = {
        "@context": [CONTEXT],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-03-01T00:00:00Z",
        "epcisBody": {"eventList": events},
    }
    return json.dumps(body).encode()


def _parse(job: tuple[str, bytes]) -> tuple[str, list[CapturedEvent]]:
    org, body = job
    return org, parse_document(body, "application/ld+json")


def _store(engine: Any, members: dict[str, Any], parsed: tuple[str, list[CapturedEvent]]) -> int:
    org, events = parsed
    capture_events(engine, events, organisation_id=members[org].id)
    return len(events)


def build(root: Path, net: Devnet, total: int) -> tuple[Any, ChainClient, Deployment, str, float]:
    """The anchored ledger; returns (engine, chain, deployment, a first ingredient lot, s)."""
    started = time.perf_counter()
    url = f"sqlite:///{root / 'bench.sqlite3'}"
    migrate(url)
    engine = make_engine(url)
    chain = ChainClient(net.rpc_url)
    deployment = Deployment.load(net.paths.deployment)
    keyring = Keyring(root, work_factor=SCRYPT_N_LIGHT)
    membership = Membership(engine, chain, deployment, keyring, net.admin_account())
    members = {
        role: membership.admit(f"Bench {role}", prefixes=(prefix,))
        for role, prefix in PREFIXES.items()
    }
    supply = SupplyChain()
    stored = 0
    # At most a few parsed documents wait for the (single) capturing process, so memory stays
    # flat however many events are asked for.
    window: deque[Any] = deque()
    with multiprocessing.get_context("fork").Pool(os.cpu_count() or 1) as pool:
        for job in documents(total, supply):
            window.append(pool.apply_async(_parse, (job,)))
            if len(window) >= IN_FLIGHT:
                stored += _store(engine, members, window.popleft().get())
        while window:
            stored += _store(engine, members, window.popleft().get())
    print(f"captured {stored} events in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    worker = AnchorWorker(engine, chain, deployment, keyring, AnchorConfig(max_events=2_000))
    anchored = worker.drain(timeout=600)
    assert anchored == stored, (anchored, stored)
    elapsed = time.perf_counter() - started
    print(f"anchored them: ledger built in {elapsed:.1f} s", file=sys.stderr)
    return engine, chain, deployment, supply.first_lots[0], elapsed


def _cpu_s() -> float:
    """CPU seconds (user + system) of this process and its ended children (the audit's pool
    workers): what the audit costs, whatever else the machine runs."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000, help="events in the ledger")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="audit processes")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        settings = Settings(_env_file=None).updated(  # type: ignore[call-arg]
            data_dir=root, devnet={"port": free_port()}
        )
        net = Devnet(settings, key_work_factor=SCRYPT_N_LIGHT)
        net.up()
        try:
            engine, chain, deployment, lot, build_s = build(root, net, args.events)
            auditor = Auditor(engine, chain, deployment, workers=args.workers)
            cpu_before = _cpu_s()
            report = auditor.run()
            audit_cpu_s = _cpu_s() - cpu_before
            print(
                f"audit: {report.events} events, {report.batches} batches, "
                f"{len(report.findings)} findings in {report.elapsed_s:.2f} s = "
                f"{report.events_per_s:,.0f} events/s, {audit_cpu_s:.1f} CPU-s "
                f"({audit_cpu_s / max(report.events, 1) * 1e6:.0f} us/event)",
                file=sys.stderr,
            )
            scope = recall_scope(engine, lot, reader=Reader.operator())  # warm the caches once
            timings = []
            for _ in range(7):
                t0 = time.perf_counter()
                scope = recall_scope(engine, lot, reader=Reader.operator())
                timings.append((time.perf_counter() - t0) * 1000)
            trace_ms = statistics.median(timings)
            print(
                f"recall trace from {lot}: {len(scope.products)} products, "
                f"{len(scope.logistic_units)} cases/pallets, {len(scope.sites)} sites, "
                f"{len(scope.members)} members in {trace_ms:.1f} ms (median of 7)",
                file=sys.stderr,
            )
            engine.dispose()
        finally:
            net.down()
    return {
        "events": report.events,
        "events_per_s": round(report.events_per_s),
        "audit_s": round(report.elapsed_s, 2),
        "audit_cpu_s": round(audit_cpu_s, 2),
        "batches": report.batches,
        "findings": len(report.findings),
        "workers": args.workers,
        "build_s": round(build_s, 1),
        "trace_ms": round(trace_ms, 1),
        "trace_products": len(scope.products),
        "trace_logistic_units": len(scope.logistic_units),
        "trace_sites": len(scope.sites),
    }


if __name__ == "__main__":
    print(json.dumps(main()))
