"""Capture throughput: validate + hash + store of 1000-event EPCIS documents, SQLite and PostgreSQL.

Run ``.venv/bin/python bench/capture.py [--documents N] [--events M]``. It builds N distinct
EPCIS 2.0 JSON-LD documents of M events each (a realistic mix: ObjectEvents with read points
and business locations, AggregationEvents packing cases onto SSCC pallets, TransactionEvents
with purchase orders, TransformationEvents with lot quantities, AssociationEvents; SGTINs as
EPC URIs and as GS1 Digital Link URIs with lots), then for each back end captures every
document as the API does: ``parse_document`` (JSON parse, schema and CBV validation, event
hash IDs) and ``capture_events`` (one transaction: events, identifier index, outbox, capture
row), timing the whole path from request bytes to commit.

SQLite runs in a temporary file (WAL, synchronous=FULL, as in production); PostgreSQL in a
database the bench creates on the server of ``TEST_DATABASE_URL`` (default
``postgresql://postgres@127.0.0.1:5432/test``) and drops at the end. The same documents are
also written in the XML binding (EPCIS 2.0, the XSD's element order) and captured into SQLite:
``xml_events_per_s`` includes GS1's EPCIS 2.0 XSD check (``../shared/conformance``, when
present), and the breakdown gives XML parsing with and without the XSD. The last line is one
JSON object: ``{"sqlite_events_per_s": ..., "postgresql_events_per_s": ...,
"xml_events_per_s": ...}``; the line before it breaks the time down (parse only, store only).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from ledger.events import CapturedEvent, parse_document
from ledger.events.xml_schema import DEFAULT_XSD_DIR, load_schema
from ledger.runtime import tune_gc
from ledger.store.capture import capture_events
from ledger.store.db import make_engine, migrate
from ledger.store.models import OrgRole
from ledger.store.repository import create_organisation

CONTEXT = "https://ref.gs1.org/standards/epcis/epcis-context.jsonld"
MEDIA_TYPE = "application/ld+json"
COMPANIES = ("0614141", "4012345", "9506000", "4000001")
BIZ_STEPS = ("shipping", "receiving", "storing", "picking", "loading", "inspecting")
DISPOSITIONS = ("in_transit", "in_progress", "active", "sellable_accessible", "container_closed")
START = datetime(2024, 1, 1, tzinfo=UTC)
XML_MEDIA_TYPE = "application/xml"
#: The XSD's element order of the fields the factory writes, per event type.
XML_ORDER = {
    "ObjectEvent": ("epcList", "action", "bizStep", "disposition", "readPoint", "bizLocation"),
    "AggregationEvent": (
        "parentID",
        "childEPCs",
        "action",
        "bizStep",
        "disposition",
        "readPoint",
    ),
    "TransactionEvent": ("bizTransactionList", "epcList", "action", "bizStep"),
    "TransformationEvent": ("inputEPCList", "outputEPCList", "outputQuantityList", "bizStep"),
    "AssociationEvent": ("parentID", "childEPCs", "action", "bizStep"),
}


def _check_digit(body: str) -> str:
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return str((10 - total % 10) % 10)


class DocumentFactory:
    """Distinct, valid EPCIS 2.0 documents from a seeded generator."""

    def __init__(self, seed: int) -> None:
        self.random = random.Random(seed)
        self.serial = 0
        self.run = uuid.UUID(int=self.random.getrandbits(128)).hex[:8]
        self.locations = [
            f"urn:epc:id:sgln:{cp}.{n:05d}.0" for cp in COMPANIES for n in range(1, 13)
        ]

    def _next(self) -> str:
        self.serial += 1
        return f"{self.run}{self.serial}"

    def sgtin(self) -> str:
        """An SGTIN, mostly as an EPC URI, sometimes as a Digital Link with its lot."""
        cp = self.random.choice(COMPANIES)
        item = f"{self.random.randrange(10**5):05d}"[: 12 - len(cp)].rjust(12 - len(cp), "0")
        if self.random.random() < 0.8:
            return f"urn:epc:id:sgtin:{cp}.0{item}.{self._next()}"
        body = "0" + cp + item
        gtin = body + _check_digit(body)
        return f"https://id.gs1.org/01/{gtin}/10/LOT{self.random.randrange(50)}/21/{self._next()}"

    def sscc(self) -> str:
        """An SSCC with a fresh serial reference."""
        cp = self.random.choice(COMPANIES)
        digits = 16 - len(cp)
        return (
            f"urn:epc:id:sscc:{cp}.{self.serial % 10}{self.random.randrange(10**digits):0{digits}d}"
        )

    def lgtin(self) -> str:
        """A lot of one of a few GTINs."""
        item = f"0{self.random.randrange(20):05d}"
        return f"urn:epc:class:lgtin:4012345.{item}.L{self.random.randrange(100)}"

    def event(self, index: int) -> dict[str, Any]:
        """One event; the type is drawn 40/20/15/15/10 Object/Aggregation/Transaction/
        Transformation/Association."""
        when = START + timedelta(seconds=self.serial, milliseconds=self.random.randrange(1000))
        event: dict[str, Any] = {
            "eventTime": when.isoformat(timespec="milliseconds"),
            "eventTimeZoneOffset": "+00:00",
        }
        if index % 3 == 0:
            event["eventID"] = f"urn:uuid:{uuid.UUID(int=self.random.getrandbits(128))}"
        roll = self.random.random()
        if roll < 0.40:
            event |= {
                "type": "ObjectEvent",
                "epcList": [self.sgtin() for _ in range(self.random.randint(1, 3))],
                "action": "OBSERVE",
                "bizStep": self.random.choice(BIZ_STEPS),
                "disposition": self.random.choice(DISPOSITIONS),
                "readPoint": {"id": self.random.choice(self.locations)},
                "bizLocation": {"id": self.random.choice(self.locations)},
            }
        elif roll < 0.60:
            event |= {
                "type": "AggregationEvent",
                "parentID": self.sscc(),
                "childEPCs": [self.sgtin() for _ in range(4)],
                "action": "ADD",
                "bizStep": "packing",
                "disposition": "in_progress",
                "readPoint": {"id": self.random.choice(self.locations)},
            }
        elif roll < 0.75:
            event |= {
                "type": "TransactionEvent",
                "bizTransactionList": [
                    {
                        "type": "po",
                        "bizTransaction": f"urn:epcglobal:cbv:bt:0614141000005:{self._next()}",
                    }
                ],
                "epcList": [self.sgtin() for _ in range(self.random.randint(1, 2))],
                "action": "ADD",
                "bizStep": "shipping",
            }
        elif roll < 0.90:
            event |= {
                "type": "TransformationEvent",
                "inputEPCList": [self.sgtin(), self.sgtin()],
                "outputEPCList": [self.sgtin()],
                "outputQuantityList": [
                    {
                        "epcClass": self.lgtin(),
                        "quantity": self.random.randint(1, 500),
                        "uom": "KGM",
                    }
                ],
                "bizStep": "commissioning",
            }
        else:
            event |= {
                "type": "AssociationEvent",
                "parentID": f"urn:epc:id:grai:0614141.12345.{self._next()}",
                "childEPCs": [f"urn:epc:id:giai:0614141.{self._next()}"],
                "action": "ADD",
                "bizStep": "assembling",
            }
        return event

    def document(self, events: int) -> bytes:
        """An EPCISDocument of ``events`` events, as request bytes."""
        body = {
            "@context": [CONTEXT],
            "type": "EPCISDocument",
            "schemaVersion": "2.0",
            "creationDate": START.isoformat(),
            "epcisBody": {"eventList": [self.event(i) for i in range(events)]},
        }
        return json.dumps(body).encode()


def _xml_field(name: str, value: Any) -> str:
    """One event field in the XML binding (only the shapes the factory writes)."""
    if name in ("epcList", "childEPCs", "inputEPCList", "outputEPCList"):
        return f"<{name}>{''.join(f'<epc>{epc}</epc>' for epc in value)}</{name}>"
    if name == "outputQuantityList":
        items = "".join(
            f"<quantityElement><epcClass>{q['epcClass']}</epcClass>"
            f"<quantity>{q['quantity']}</quantity><uom>{q['uom']}</uom></quantityElement>"
            for q in value
        )
        return f"<{name}>{items}</{name}>"
    if name == "bizTransactionList":
        items = "".join(
            f'<bizTransaction type="urn:epcglobal:cbv:btt:{t["type"]}">'
            f"{t['bizTransaction']}</bizTransaction>"
            for t in value
        )
        return f"<{name}>{items}</{name}>"
    if name in ("readPoint", "bizLocation"):
        return f"<{name}><id>{value['id']}</id></{name}>"
    if name == "bizStep":
        value = f"urn:epcglobal:cbv:bizstep:{value}"
    elif name == "disposition":
        value = f"urn:epcglobal:cbv:disp:{value}"
    return f"<{name}>{value}</{name}>"


def xml_document(json_document: bytes) -> bytes:
    """The EPCIS 2.0 XML form of a factory document (same events, same hashes)."""
    document = json.loads(json_document)
    events = []
    for event in document["epcisBody"]["eventList"]:
        kind = event["type"]
        fields = [f"<eventTime>{event['eventTime']}</eventTime>"]
        fields.append(f"<eventTimeZoneOffset>{event['eventTimeZoneOffset']}</eventTimeZoneOffset>")
        if "eventID" in event:
            fields.append(f"<eventID>{event['eventID']}</eventID>")
        fields += [_xml_field(name, event[name]) for name in XML_ORDER[kind] if name in event]
        events.append(f"<{kind}>{''.join(fields)}</{kind}>")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2" schemaVersion="2.0" '
        f'creationDate="{document["creationDate"]}"><EPCISBody><EventList>{"".join(events)}'
        "</EventList></EPCISBody></epcis:EPCISDocument>"
    ).encode()


def _organisation(url: str) -> int:
    """Migrate the database at ``url`` and add the recording member; its row id."""
    engine = make_engine(url)
    try:
        migrate(engine)
        org = create_organisation(
            engine, org_id="0x" + os.urandom(32).hex(), name="Bench", roles=OrgRole.RECORDER
        )
        assert org.id is not None
        return org.id
    finally:
        engine.dispose()


def _capture_all(
    url: str,
    org: int,
    documents: list[bytes],
    barrier: Any = None,
    media_type: str = MEDIA_TYPE,
) -> tuple[float, float, float, float]:
    """Warm up on the first document, then capture the others one after the other.

    Returns (start, end, seconds parsing, seconds storing) on the monotonic clock. The process
    runs with the API's garbage-collector settings (:func:`ledger.runtime.tune_gc`).
    """
    tune_gc()
    engine = make_engine(url)
    try:
        warm_up, *measured = documents
        capture_events(engine, parse_document(warm_up, media_type), organisation_id=org)
        if barrier is not None:
            barrier.wait()
        parse_seconds = store_seconds = 0.0
        started = time.monotonic()
        for body in measured:
            t0 = time.perf_counter()
            parsed: list[CapturedEvent] = parse_document(body, media_type)
            t1 = time.perf_counter()
            result = capture_events(engine, parsed, organisation_id=org)
            t2 = time.perf_counter()
            if result.new_count != len(parsed):
                raise RuntimeError("the bench documents must hold distinct events")
            parse_seconds += t1 - t0
            store_seconds += t2 - t1
        return started, time.monotonic(), parse_seconds, store_seconds
    finally:
        engine.dispose()


def measure(
    url: str, documents: list[bytes], events: int, media_type: str = MEDIA_TYPE
) -> dict[str, float]:
    """One client capturing document after document into a fresh database at ``url``."""
    org = _organisation(url)
    started, ended, parse_seconds, store_seconds = _capture_all(
        url, org, documents, media_type=media_type
    )
    total = events * (len(documents) - 1)
    return {
        "events_per_s": total / (ended - started),
        "parse_events_per_s": total / parse_seconds,
        "store_events_per_s": total / store_seconds,
    }


def measure_xml_parsing(documents: list[bytes], events: int) -> dict[str, float]:
    """XML parsing alone (bytes to hashed events), with GS1's XSD and without it."""
    figures = {}
    for name, xsd_dir in (("with_xsd", DEFAULT_XSD_DIR), ("without_xsd", None)):
        parse_document(documents[0], XML_MEDIA_TYPE, xsd_dir=xsd_dir)  # warm up (loads the XSD)
        started = time.perf_counter()
        for body in documents[1:]:
            parse_document(body, XML_MEDIA_TYPE, xsd_dir=xsd_dir)
        seconds = time.perf_counter() - started
        figures[f"parse_events_per_s_{name}"] = events * (len(documents) - 1) / seconds
    return figures


def measure_workers(url: str, batches: list[list[bytes]], events: int) -> float:
    """Several worker processes (as API workers) capturing at once into one fresh database;
    events per second of wall time."""
    org = _organisation(url)
    context = multiprocessing.get_context("spawn")
    barrier = context.Manager().Barrier(len(batches))
    with ProcessPoolExecutor(len(batches), mp_context=context) as pool:
        futures = [pool.submit(_capture_all, url, org, batch, barrier) for batch in batches]
        spans = [future.result() for future in futures]
    total = events * sum(len(batch) - 1 for batch in batches)
    return total / (max(span[1] for span in spans) - min(span[0] for span in spans))


@contextmanager
def postgresql_database(server_url: str) -> Iterator[str]:
    """The URL of a database created on ``server_url`` for the run, dropped afterwards."""
    admin = make_url(server_url).set(drivername="postgresql")
    dsn = admin.render_as_string(hide_password=False)
    name = f"tracechain_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(dsn, autocommit=True) as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def main() -> None:
    """Run the bench and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--documents", type=int, default=8, help="measured documents per run")
    parser.add_argument("--events", type=int, default=1000, help="events per document")
    parser.add_argument("--workers", type=int, default=2, help="processes of the parallel run")
    parser.add_argument("--seed", type=int, default=46802)
    args = parser.parse_args()
    server = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    factory = DocumentFactory(args.seed)

    def documents(count: int) -> list[bytes]:
        return [factory.document(args.events) for _ in range(count)]

    def batches() -> list[list[bytes]]:
        per_worker = max(1, args.documents // args.workers)
        return [documents(per_worker + 1) for _ in range(args.workers)]

    figures: dict[str, Any] = {"events_per_document": args.events, "documents": args.documents}
    with tempfile.TemporaryDirectory(prefix="tracechain-bench-") as folder:
        single = measure(
            f"sqlite:///{Path(folder) / 'one.sqlite3'}", documents(args.documents + 1), args.events
        )
        parallel = measure_workers(
            f"sqlite:///{Path(folder) / 'many.sqlite3'}", batches(), args.events
        )
    figures["sqlite"] = {**single, f"events_per_s_{args.workers}_workers": parallel}
    with postgresql_database(server) as url:
        single = measure(url, documents(args.documents + 1), args.events)
    with postgresql_database(server) as url:
        parallel = measure_workers(url, batches(), args.events)
    figures["postgresql"] = {**single, f"events_per_s_{args.workers}_workers": parallel}
    xml_documents = [xml_document(body) for body in documents(args.documents + 1)]
    with tempfile.TemporaryDirectory(prefix="tracechain-bench-") as folder:
        url = f"sqlite:///{Path(folder) / 'xml.sqlite3'}"
        xml = measure(url, xml_documents, args.events, XML_MEDIA_TYPE)
    xml |= measure_xml_parsing(xml_documents, args.events)
    figures["xml_sqlite"] = {**xml, "xsd": load_schema() is not None}
    for backend in ("sqlite", "postgresql", "xml_sqlite"):
        figures[backend] = {
            name: round(value) if isinstance(value, float) else value
            for name, value in figures[backend].items()
        }
    print(json.dumps(figures))
    print(
        json.dumps(
            {
                "sqlite_events_per_s": figures["sqlite"]["events_per_s"],
                "postgresql_events_per_s": figures["postgresql"]["events_per_s"],
                # Both cores: one capture process each, as API workers would run.
                f"sqlite_events_per_s_{args.workers}_processes": figures["sqlite"][
                    f"events_per_s_{args.workers}_workers"
                ],
                f"postgresql_events_per_s_{args.workers}_processes": figures["postgresql"][
                    f"events_per_s_{args.workers}_workers"
                ],
                # The same documents in XML, checked against GS1's XSD, into SQLite.
                "xml_events_per_s": figures["xml_sqlite"]["events_per_s"],
            }
        )
    )


if __name__ == "__main__":
    main()
