"""Benchmark: CBV 2.0 Event Hash IDs per second, ours against GS1's reference implementation.

Run ``.venv/bin/python bench/hashing.py [--events N] [--seed S]``. It builds N realistic events
(all five event types, EPC lists, quantities, business transactions, sources/destinations,
sensor data, ILMD and user extensions), hashes the same events with ``ledger.events.hashing``
and with the PyPI package ``epcis-event-hash-generator`` (fed documents of 50 events, as it is
used), checks that both give the same hashes (exit status 1 if any differs), and prints both
rates. Rates are in CPU seconds of this process, so other load on the machine does not skew
them; ours is the median of ``--repeats`` runs (each with a cold identifier cache), the
reference's one run is long enough on its own. The last line is one JSON object:
``{"ours_per_s": ..., "reference_per_s": ..., "ratio": ..., "identical": ...}``.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import random
import statistics
import time
import warnings
from typing import Any

from ledger.events.epc import normalise
from ledger.events.hashing import event_hash

CONTEXT: list[Any] = [
    "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
    {"acme": "https://ns.acme.example/epcis/"},
]
COMPANIES = ("4012345", "0614141", "9506000", "4000001")
BATCH = 50
TRANSACTIONS = "urn:epcglobal:cbv:bt:4012345000009:"


def _check_digit(body: str) -> str:
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return str((10 - total % 10) % 10)


class EventFactory:
    """Realistic, valid EPCIS 2.0 events from a seeded random generator.

    Serialised items and parents are unique; like in a real supply chain, read points,
    business locations and parties come from a pool of sites, and quantities from a pool of
    product lots.
    """

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.sites = [self._new_sgln() for _ in range(60)]
        self.parties = [self._new_pgln() for _ in range(40)]
        self.lots = [self._new_lgtin() for _ in range(300)]

    def digits(self, n: int) -> str:
        return "".join(self.rng.choice("0123456789") for _ in range(n))

    def sgtin(self) -> str:
        company = self.rng.choice(COMPANIES)
        item = self.digits(13 - len(company))
        if self.rng.random() < 0.7:
            return f"urn:epc:id:sgtin:{company}.{item}.{self.digits(8)}"
        body = item[0] + company + item[1:]
        return f"https://id.gs1.org/01/{body}{_check_digit(body)}/21/{self.digits(6)}"

    def sscc(self) -> str:
        company = self.rng.choice(COMPANIES)
        return f"urn:epc:id:sscc:{company}.{self.digits(17 - len(company))}"

    def lgtin(self) -> str:
        return self.rng.choice(self.lots)

    def sgln(self) -> str:
        return self.rng.choice(self.sites)

    def _new_lgtin(self) -> str:
        company = self.rng.choice(COMPANIES)
        return f"urn:epc:class:lgtin:{company}.{self.digits(13 - len(company))}.L{self.digits(4)}"

    def party(self) -> str:
        return self.rng.choice(self.parties)

    def _new_pgln(self) -> str:
        company = self.rng.choice(COMPANIES)
        return f"urn:epc:id:pgln:{company}.{self.digits(12 - len(company))}"

    def _new_sgln(self) -> str:
        company = self.rng.choice(COMPANIES)
        return f"urn:epc:id:sgln:{company}.{self.digits(12 - len(company))}.0"

    def time(self) -> str:
        return (
            f"2024-{self.rng.randint(1, 12):02d}-{self.rng.randint(1, 28):02d}T"
            f"{self.rng.randint(0, 23):02d}:{self.rng.randint(0, 59):02d}:"
            f"{self.rng.randint(0, 59):02d}.{self.digits(3)}+01:00"
        )

    def quantities(self) -> list[dict[str, Any]]:
        return [
            {"epcClass": self.lgtin(), "quantity": self.rng.randint(1, 500), "uom": "KGM"}
            for _ in range(self.rng.randint(1, 3))
        ]

    def event(self) -> dict[str, Any]:
        kind = self.rng.choice(
            (
                "ObjectEvent",
                "ObjectEvent",
                "AggregationEvent",
                "TransactionEvent",
                "TransformationEvent",
                "AssociationEvent",
            )
        )
        event: dict[str, Any] = {
            "type": kind,
            "eventTime": self.time(),
            "eventTimeZoneOffset": "+01:00",
            "eventID": f"urn:uuid:{self.rng.getrandbits(128):032x}",
        }
        epcs = [self.sgtin() for _ in range(self.rng.randint(1, 12))]
        if kind == "ObjectEvent":
            event["epcList"] = epcs
            event["action"] = self.rng.choice(("OBSERVE", "ADD"))
            if self.rng.random() < 0.3:
                event["quantityList"] = self.quantities()
            if event["action"] == "ADD" and self.rng.random() < 0.5:
                event["ilmd"] = {"acme:bestBefore": "2025-01-31", "acme:batch": self.digits(5)}
        elif kind in ("AggregationEvent", "AssociationEvent"):
            event["parentID"] = self.sscc()
            event["childEPCs"] = epcs
            event["action"] = "ADD"
        elif kind == "TransactionEvent":
            event["epcList"] = epcs
            event["action"] = "ADD"
        else:
            event["inputQuantityList"] = self.quantities()
            event["outputEPCList"] = epcs
        event["bizStep"] = self.rng.choice(("shipping", "receiving", "packing", "commissioning"))
        event["disposition"] = self.rng.choice(("in_transit", "in_progress", "active"))
        event["readPoint"] = {"id": self.sgln()}
        event["bizLocation"] = {"id": self.sgln()}
        if kind == "TransactionEvent" or self.rng.random() < 0.5:
            event["bizTransactionList"] = [
                {
                    "type": "po",
                    "bizTransaction": f"urn:epcglobal:cbv:bt:4012345000009:{self.digits(6)}",
                }
            ]
        if self.rng.random() < 0.4:
            event["sourceList"] = [
                {"type": "owning_party", "source": self.party()},
                {"type": "location", "source": self.sgln()},
            ]
            event["destinationList"] = [
                {"type": "owning_party", "destination": self.party()},
                {"type": "location", "destination": self.sgln()},
            ]
        if self.rng.random() < 0.2:
            event["sensorElementList"] = [
                {
                    "sensorMetadata": {"time": self.time()},
                    "sensorReport": [
                        {"type": "Temperature", "value": self.rng.randint(-20, 40), "uom": "CEL"},
                        {
                            "type": "RelativeHumidity",
                            "value": self.rng.randint(0, 100),
                            "uom": "P1",
                        },
                    ],
                }
            ]
        if self.rng.random() < 0.5:
            event["acme:operator"] = f"op{self.digits(3)}"
        return event


def ours(events: list[dict[str, Any]], repeats: int = 5) -> tuple[list[str], float]:
    """Our hash IDs and the median CPU seconds of ``repeats`` runs, each with the identifier
    cache cleared first (every run sees the events' identifiers for the first time)."""
    seconds = []
    hashes: list[str] = []
    for _ in range(max(1, repeats)):
        normalise.cache_clear()
        start = time.process_time()
        hashes = [event_hash({"@context": CONTEXT, **event}) for event in events]
        seconds.append(time.process_time() - start)
    return hashes, statistics.median(seconds)


def reference(events: list[dict[str, Any]]) -> tuple[list[str], float]:
    """The reference implementation's hash IDs (documents of BATCH events) and their seconds."""
    from epcis_event_hash_generator import hash_generator, json_to_py

    logging.disable(logging.CRITICAL)
    warnings.simplefilter("ignore")
    hashes: list[str] = []
    start = time.process_time()
    for first in range(0, len(events), BATCH):
        document = {
            "@context": CONTEXT,
            "type": "EPCISDocument",
            "schemaVersion": "2.0",
            "creationDate": "2024-01-01T00:00:00Z",
            "epcisBody": {"eventList": copy.deepcopy(events[first : first + BATCH])},
        }
        json_to_py._namespaces.clear()
        parsed = json_to_py.event_list_from_epcis_document_json(document)
        hashes.extend(hash_generator.epcis_hashes_from_events(parsed))
    return hashes, time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=3000, help="events to hash (default 3000)")
    parser.add_argument("--seed", type=int, default=20240501)
    parser.add_argument("--repeats", type=int, default=5, help="runs of ours (median kept)")
    args = parser.parse_args()
    factory = EventFactory(args.seed)
    events = [factory.event() for _ in range(args.events)]
    our_hashes, our_seconds = ours(events, args.repeats)
    their_hashes, their_seconds = reference(events)
    same = sum(a == b for a, b in zip(our_hashes, their_hashes, strict=True))
    ours_per_s = len(events) / our_seconds
    reference_per_s = len(events) / their_seconds
    print(f"events: {len(events)}; identical hash IDs: {same}/{len(events)}")
    print(f"ours:      {ours_per_s:12.0f} events/s ({our_seconds:.3f} CPU s)")
    print(f"reference: {reference_per_s:12.0f} events/s ({their_seconds:.3f} CPU s)")
    result = {
        "ours_per_s": round(ours_per_s, 1),
        "reference_per_s": round(reference_per_s, 1),
        "ratio": round(ours_per_s / reference_per_s, 1),
        "identical": same,
    }
    print(json.dumps(result))
    if same != len(events):
        raise SystemExit(f"{len(events) - same} hash IDs differ from the reference's")


if __name__ == "__main__":
    main()
