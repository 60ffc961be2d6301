"""Tamper run: random single-field mutations of a small anchored ledger, each of which the
verifier (:class:`ledger.verify.Verifier`) and the audit (:class:`ledger.audit.Auditor`) must
both see.

A ledger of two members is captured and anchored on a real devnet: commissioning events that
carry the members the CBV 2.0 hash leaves out (``eventID``, ``recordTime``, ``rdfs:comment``, a
user ``@context``), an error declaration, an aggregation, a quantity event and an event signed
by its member (EIP-712). Then, one at a time, a mutation is written straight into the database
(as someone with write access to it would: foreign keys off), the affected events are verified
and the whole ledger audited, and the mutation is undone. Mutated are:

``event``
    every stored column of the ``event`` table (the row id included);
``captured_json``
    every member of every event's captured JSON (a changed value, the member removed) and an
    added member;
``proof``
    the stored Merkle proofs (an element changed, dropped, added, the order changed, emptied);
``anchor_batch``
    root, transaction hash, block number, status, signing address, event count, leaf version,
    member and chain id;
``event_identifier``
    every column of the identifier index rows (the event they belong to included).

Values are drawn from a seeded :class:`random.Random`, so a run is repeatable. A mutation is
*detected by verify* when one of the events it touches verifies ``tampered``, *by the audit*
when the audit has a finding (the ledger audits clean before every mutation).

    .venv/bin/python bench/tamperrun.py [--seed 11] [--per-column 2]

Mutations the database itself refuses (a unique index) are listed apart and not counted. The
last line printed is the JSON object ``{"mutations", "detected_by_verify", "detected_by_audit",
"undetected", "refused_by_database", "by_table", "elapsed_s"}``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Final

import sqlalchemy as sa
from eth_account import Account
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from ledger.anchoring import AnchorConfig, AnchorWorker
from ledger.audit import Auditor
from ledger.chain import ChainClient
from ledger.deployment import Deployment
from ledger.events import parse_document
from ledger.membership import Member, Membership
from ledger.signing import event_keys
from ledger.store.capture import capture_events
from ledger.store.models import AnchorBatch, Event, EventIdentifier, metadata
from ledger.verify import Verifier
from wallets.eip712 import sign_event
from wallets.keyring import Keyring
from wallets.signer import AccountSigner

__all__ = [
    "TABLES",
    "Mutation",
    "TamperLedger",
    "TamperResult",
    "build_ledger",
    "mutations",
    "run_tamper",
    "tamper",
]

_event = metadata.tables[Event.__tablename__]
_batch = metadata.tables[AnchorBatch.__tablename__]
_ident = metadata.tables[EventIdentifier.__tablename__]
EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/epcis-context.jsonld"
#: The groups of mutations, in report order.
TABLES = ("event", "captured_json", "proof", "anchor_batch", "event_identifier")


# ---------------------------------------------------------------------- the ledger


@dataclass(frozen=True, slots=True)
class TamperLedger:
    """An anchored ledger and the block range its anchors are in."""

    engine: Engine
    chain: ChainClient
    deployment: Deployment
    event_pks: tuple[int, ...]
    from_block: int
    to_block: int


def _events(prefix: str, tag: str) -> list[dict[str, Any]]:
    """Events carrying every kind of member the CBV 2.0 hash leaves out."""

    def sgtin(serial: str) -> str:
        return f"urn:epc:id:sgtin:{prefix}.812345.{tag}{serial}"

    base = {
        "eventTimeZoneOffset": "+01:00",
        "readPoint": {"id": f"urn:epc:id:sgln:{prefix}.00777.0"},
    }
    out: list[dict[str, Any]] = []
    for i in range(3):
        out.append(
            {
                "type": "ObjectEvent",
                "eventTime": f"2026-03-01T08:0{i}:00.000Z",
                **base,
                "epcList": [sgtin(f"S{i}")],
                "action": "ADD",
                "bizStep": "commissioning",
                "disposition": "active",
                "bizLocation": {"id": f"urn:epc:id:sgln:{prefix}.00777.0"},
                "eventID": f"urn:uuid:{uuid.uuid4()}",
                "recordTime": "2026-03-01T09:00:00.000Z",
                "rdfs:comment": f"commissioned {i}",
            }
        )
    out[0]["@context"] = [{"ex": "https://example.com/tamper#"}]
    out[0]["ex:line"] = "L1"
    out.append(
        {
            "type": "AggregationEvent",
            "eventTime": "2026-03-01T08:10:00.000Z",
            **base,
            "parentID": f"urn:epc:id:sscc:{prefix}.{len(tag)}{tag[-1]}23456789".replace("T", "1"),
            "childEPCs": [sgtin("S0"), sgtin("S1")],
            "action": "ADD",
            "bizStep": "packing",
        }
    )
    out.append(
        {
            "type": "ObjectEvent",
            "eventTime": "2026-03-01T08:20:00.000Z",
            **base,
            "epcList": [],
            "quantityList": [
                {"epcClass": f"urn:epc:class:lgtin:{prefix}.812345.LOT{tag}", "quantity": 5}
            ],
            "action": "OBSERVE",
            "bizStep": "inspecting",
        }
    )
    # An error declaration repeating out[2]'s eventID (the CBV 2.0 hash leaves
    # errorDeclaration out, so it differs from out[2] in its identifier to be stored apart).
    declared = dict(out[2])
    declared["epcList"] = [sgtin("S9")]
    declared["errorDeclaration"] = {
        "declarationTime": "2026-03-02T08:00:00.000Z",
        "reason": "incorrect_data",
    }
    out.append(declared)
    return out


def _document(events: list[dict[str, Any]]) -> bytes:
    return json.dumps(
        {
            "@context": [EPCIS_CONTEXT],
            "type": "EPCISDocument",
            "schemaVersion": "2.0",
            "creationDate": "2026-03-01T09:00:00Z",
            "epcisBody": {"eventList": events},
        }
    ).encode()


def build_ledger(
    engine: Engine,
    chain: ChainClient,
    deployment: Deployment,
    membership: Membership,
    keyring: Keyring,
    *,
    prefixes: tuple[str, str] = ("0614141", "0614142"),
) -> TamperLedger:
    """Capture and anchor the tamper ledger: two members, one of them signing an event itself."""
    from_block = chain.block_number() + 1
    pks: list[int] = []
    members: list[Member] = []
    for n, prefix in enumerate(prefixes):
        member = membership.admit(f"Tamper {n} {uuid.uuid4().hex[:8]}", 1)
        members.append(member)
        parsed = parse_document(_document(_events(prefix, f"T{n}")), "application/ld+json")
        result = capture_events(engine, parsed, organisation_id=member.id)
        pks += [r.event_pk for r in result.events if r.new]
    own = AccountSigner(Account.create())
    membership.add_external_key(members[0].org_id, own.address)
    (signed,) = parse_document(_document([_events(prefixes[0], "SIG")[1]]), "application/ld+json")
    digest, id_key = event_keys(signed)
    signature = sign_event(own, chain.chain_id, deployment.anchor_address, digest, id_key)
    result = capture_events(
        engine,
        [signed],
        organisation_id=members[0].id,
        signature="0x" + bytes(signature).hex(),
    )
    pks += [r.event_pk for r in result.events]
    worker = AnchorWorker(
        engine, ChainClient(chain.rpc_url), deployment, keyring, AnchorConfig(max_events=4)
    )
    worker.drain()
    return TamperLedger(engine, chain, deployment, tuple(pks), from_block, chain.block_number())


# ---------------------------------------------------------------------- mutations


@dataclass(frozen=True, slots=True)
class Mutation:
    """One field of one row changed: ``UPDATE table SET column = new WHERE key``."""

    table: str
    label: str
    sa_table: str
    key: dict[str, Any]
    column: str
    old: Any
    new: Any
    #: The events whose verification must show it.
    events: tuple[int, ...]

    def apply(self, conn: Connection) -> None:
        _update(conn, self.sa_table, self.key, {self.column: self.new})

    def undo(self, conn: Connection) -> None:
        key = dict(self.key)
        if self.column in key:
            key[self.column] = self.new
        _update(conn, self.sa_table, key, {self.column: self.old})


def _update(conn: Connection, table: str, key: dict[str, Any], values: dict[str, Any]) -> None:
    t = metadata.tables[table]
    done = conn.execute(t.update().where(*(t.c[k] == v for k, v in key.items())).values(**values))
    if done.rowcount != 1:
        raise RuntimeError(f"mutation of {table} {key} touched {done.rowcount} rows")


def _hex(rng: random.Random, size: int = 32) -> str:
    return "0x" + rng.randbytes(size).hex()


def _text(rng: random.Random, value: str) -> str:
    """``value`` with one character changed (or one appended)."""
    if not value:
        return "x"
    i = rng.randrange(len(value))
    replacement = "Z" if value[i] != "Z" else "Y"
    return value[:i] + replacement + value[i + 1 :]


def _json_value(rng: random.Random, value: Any) -> Any:
    """Another JSON value of about the same shape."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value + 1
    if isinstance(value, str):
        return _text(rng, value)
    if isinstance(value, list):
        if not value:
            return ["urn:epc:id:sgtin:0614141.812345.EXTRA"]
        changed = list(value)
        i = rng.randrange(len(changed))
        changed[i] = _json_value(rng, changed[i])
        return changed
    if isinstance(value, dict):
        if not value:
            return {"x": 1}
        members = dict(value)
        name = rng.choice(sorted(members))
        members[name] = _json_value(rng, members[name])
        return members
    return "changed"


#: Columns of ``event`` that are this node's access control, not the record: who may read an
#: event is neither anchored nor served as verified content (README, "Keys, anchoring and
#: verification"), so a change to it is not a tampered record.
ACCESS_COLUMNS: Final = frozenset({"visibility"})


def _column_value(rng: random.Random, column: str, old: Any, row: Any, ctx: dict[str, Any]) -> Any:
    if column == "id":
        return ctx["max_event_id"] + rng.randint(100, 999)
    if column in ("event_hash", "primary_id_key"):
        return _hex(rng)
    if column == "hash_id":
        return f"ni:///sha-256;{rng.randbytes(32).hex()}?ver=CBV2.0"
    if column == "recorder_address":
        return Account.create().address
    if column == "signature":
        return None if old is not None and rng.random() < 0.5 else _hex(rng, 65)
    if column == "capture_id":
        others = [c for c in ctx["captures"] if c != old]
        return rng.choice(others) if others and rng.random() < 0.5 else str(uuid.uuid4())
    if column in ("event_time", "record_time"):
        return old + timedelta(microseconds=rng.choice([1, -1, 1_000_000]))
    if column == "error_declaration":
        return not old
    if column == "organisation_id":
        return rng.choice([o for o in ctx["orgs"] if o != old])
    if column == "batch_id":
        return rng.choice([b for b in ctx["batches"] if b != old])
    if column == "anchor_status":
        return "pending" if old == "anchored" else "anchored"
    if column == "proof":
        return [*old, _hex(rng)] if isinstance(old, list) else [_hex(rng)]
    if column == "captured_json":
        event = json.loads(old)
        event["eventTime"] = "2026-03-01T07:59:59.000Z"
        return json.dumps(event, separators=(",", ":"))
    if column == "event_time_zone_offset":
        return "+05:00" if old != "+05:00" else "-03:00"
    if column == "action":
        return rng.choice([a for a in ("ADD", "OBSERVE", "DELETE", None) if a != old])
    if isinstance(old, str) or old is None:
        nullable = _event.c[column].nullable
        return (
            None if nullable and old is not None and rng.random() < 0.2 else _text(rng, old or "")
        )
    raise AssertionError(f"no mutation for event.{column}")


def mutations(engine: Engine, seed: int, per_column: int) -> list[Mutation]:
    """The mutations of one run (``per_column`` random ones per column or JSON member)."""
    rng = random.Random(seed)
    out: list[Mutation] = []
    with engine.connect() as conn:
        events = conn.execute(sa.select(_event).order_by(_event.c.id)).all()
        batches = conn.execute(sa.select(_batch).order_by(_batch.c.id)).all()
        idents = conn.execute(sa.select(_ident).order_by(_ident.c.event_pk)).all()
    ctx = {
        "max_event_id": max(e.id for e in events),
        "captures": sorted({e.capture_id for e in events}),
        "orgs": sorted({e.organisation_id for e in events}),
        "batches": sorted(b.id for b in batches),
    }
    by_batch: dict[int, tuple[int, ...]] = {
        b.id: tuple(e.id for e in events if e.batch_id == b.id) for b in batches
    }
    # Spare candidates per column: tamper() keeps ``per_column`` the database accepts.
    spare = per_column + 3
    for column in [c.name for c in _event.c if c.name not in ACCESS_COLUMNS]:
        for row in rng.sample(events, min(spare, len(events))):
            old = getattr(row, column)
            new = _column_value(rng, column, old, row, ctx)
            if new == old:
                continue
            events_of = (new,) if column == "id" else (row.id,)
            out.append(
                Mutation("event", f"event.{column}", "event", {"id": row.id}, column, old, new,
                         events_of)
            )  # fmt: skip
    for row in events:
        captured = json.loads(row.captured_json)
        for name in sorted(captured):
            for _ in range(per_column):
                changed = dict(captured)
                if rng.random() < 0.25:
                    del changed[name]
                    label = f"captured_json.{name} removed"
                else:
                    changed[name] = _json_value(rng, captured[name])
                    label = f"captured_json.{name}"
                out.append(_json_mutation(row, label, changed))
        changed = dict(captured)
        changed["rdfs:comment" if "rdfs:comment" not in captured else "ex:added"] = "added"
        out.append(_json_mutation(row, "captured_json member added", changed))
    proof_kinds: list[tuple[str, Callable[[list[str]], list[str]]]] = [
        ("element changed", lambda p: [_hex(rng), *p[1:]] if p else [_hex(rng)]),
        ("element dropped", lambda p: p[:-1]),
        ("element added", lambda p: [*p, _hex(rng)]),
        ("order changed", lambda p: list(reversed(p)) if len(p) > 1 else [*p, *p]),
        ("emptied", lambda p: [] if p else [_hex(rng)]),
    ]
    for label, change in proof_kinds:
        for row in rng.sample(events, min(spare, len(events))):
            new = change(list(row.proof))
            if new != row.proof:
                out.append(
                    Mutation("proof", f"proof {label}", "event", {"id": row.id}, "proof",
                             row.proof, new, (row.id,))
                )  # fmt: skip
    batch_columns: dict[str, Callable[[Any], Any]] = {
        "root": lambda b: _hex(rng),
        "tx_hash": lambda b: rng.choice([_hex(rng), *(o.tx_hash for o in batches if o.id != b.id)]),
        "block_number": lambda b: b.block_number + rng.choice([1, -1]),
        "status": lambda b: rng.choice(["prepared", "sent", "orphaned"]),
        "signer_address": lambda b: Account.create().address,
        "event_count": lambda b: b.event_count + rng.choice([1, -1]),
        "leaf_version": lambda b: rng.choice([1, 3]),
        "organisation_id": lambda b: rng.choice([o for o in ctx["orgs"] if o != b.organisation_id]),
        "chain_id": lambda b: b.chain_id + 1,
    }
    for column, value in batch_columns.items():
        for row in rng.sample(batches, min(spare, len(batches))):
            out.append(
                Mutation("anchor_batch", f"anchor_batch.{column}", "anchor_batch", {"id": row.id},
                         column, getattr(row, column), value(row), by_batch[row.id])
            )  # fmt: skip
    pks = [e.id for e in events]
    ident_columns: dict[str, Callable[[Any], Any]] = {
        "event_pk": lambda r: rng.choice([p for p in pks if p != r.event_pk]),
        "role": lambda r: rng.choice(
            [x for x in ("epc", "parent", "child", "input") if x != r.role]
        ),
        "value": lambda r: _text(rng, r.value),
        "canonical": lambda r: _text(rng, r.canonical),
        "id_key": lambda r: _hex(rng),
        "class_canonical": lambda r: None if r.class_canonical else "https://id.gs1.org/01/1",
    }
    for column, value in ident_columns.items():
        for row in rng.sample(idents, min(spare, len(idents))):
            key = {"event_pk": row.event_pk, "role": row.role, "value": row.value}
            new = value(row)
            touched = (row.event_pk, new) if column == "event_pk" else (row.event_pk,)
            out.append(
                Mutation("event_identifier", f"event_identifier.{column}", "event_identifier", key,
                         column, getattr(row, column), new, touched)
            )  # fmt: skip
    return out


def _json_mutation(row: Any, label: str, changed: dict[str, Any]) -> Mutation:
    text = json.dumps(changed, ensure_ascii=False, separators=(",", ":"))
    return Mutation(
        "captured_json", label, "event", {"id": row.id}, "captured_json", row.captured_json,
        text, (row.id,),
    )  # fmt: skip


# ---------------------------------------------------------------------- the run


@dataclass
class TamperResult:
    """What a run found, per group of mutations."""

    mutations: int = 0
    detected_by_verify: int = 0
    detected_by_audit: int = 0
    by_table: dict[str, dict[str, int]] = field(default_factory=dict)
    #: Labels of mutations one of the two did not see, with which.
    undetected: list[str] = field(default_factory=list)
    #: Mutations the database refused (a unique index, say): not counted.
    refused: list[str] = field(default_factory=list)
    #: The labels of the mutations made (``event.event_id``, ``captured_json.eventID``...).
    labels: set[str] = field(default_factory=set)

    def add(self, mutation: Mutation, *, verify: bool, audit: bool) -> None:
        self.mutations += 1
        self.labels.add(mutation.label)
        self.detected_by_verify += verify
        self.detected_by_audit += audit
        entry = self.by_table.setdefault(mutation.table, {"mutations": 0, "verify": 0, "audit": 0})
        entry["mutations"] += 1
        entry["verify"] += verify
        entry["audit"] += audit
        if not verify:
            self.undetected.append(f"verify: {mutation.label} {mutation.old!r} -> {mutation.new!r}")
        if not audit:
            self.undetected.append(f"audit: {mutation.label} {mutation.old!r} -> {mutation.new!r}")

    def lines(self) -> Iterator[str]:
        """``table: detected M/M by verify, M/M by the audit`` per group."""
        for table in TABLES:
            e = self.by_table.get(table)
            if e:
                n = e["mutations"]
                yield (
                    f"{table}: detected {e['verify']}/{n} by verify, {e['audit']}/{n} by the audit"
                )

    def to_json(self) -> dict[str, Any]:
        """The figures, JSON-ready."""
        return {
            "mutations": self.mutations,
            "detected_by_verify": self.detected_by_verify,
            "detected_by_audit": self.detected_by_audit,
            "undetected": self.undetected,
            "refused_by_database": self.refused,
            "by_table": self.by_table,
        }


def _write(engine: Engine, mutation: Mutation, *, undo: bool) -> None:
    """Apply or undo ``mutation`` with foreign keys off, as a raw write would."""
    with engine.connect() as conn:
        raw: Any = conn.connection.dbapi_connection
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:  # outside any transaction (the driver is in autocommit mode)
            raw.execute("PRAGMA foreign_keys = OFF")
        try:
            with conn.begin():
                (mutation.undo if undo else mutation.apply)(conn)
        finally:
            if sqlite:
                raw.execute("PRAGMA foreign_keys = ON")


def tamper(ledger: TamperLedger, *, seed: int = 11, per_column: int = 1) -> TamperResult:
    """Every mutation once: applied, looked for by verify and by the audit, undone."""
    verifier = Verifier(ledger.engine, ledger.chain, ledger.deployment)
    auditor = Auditor(
        ledger.engine, ChainClient(ledger.chain.rpc_url), ledger.deployment, workers=1
    )

    def audit_findings() -> list[str]:
        report = auditor.run(from_block=ledger.from_block, to_block=ledger.to_block)
        return [f.kind for f in report.findings]

    clean = audit_findings()
    if clean:
        raise RuntimeError(f"the ledger does not audit clean before tampering: {clean}")
    for pk in ledger.event_pks:
        status = verifier.verify_event(pk)
        if status.status != "verified":
            raise RuntimeError(f"event {pk} does not verify before tampering: {status.reasons}")
    result = TamperResult()
    accepted: dict[str, int] = {}
    for mutation in mutations(ledger.engine, seed, per_column):
        if mutation.table != "captured_json" and accepted.get(mutation.label, 0) >= per_column:
            continue  # enough of this column: the rest were spares
        try:
            _write(ledger.engine, mutation, undo=False)
        except IntegrityError:
            result.refused.append(mutation.label)  # the database's own constraints refuse it
            continue
        try:
            seen_by_verify = any(_status(verifier, pk) == "tampered" for pk in mutation.events)
            seen_by_audit = bool(audit_findings())
        finally:
            _write(ledger.engine, mutation, undo=True)
        accepted[mutation.label] = accepted.get(mutation.label, 0) + 1
        result.add(mutation, verify=seen_by_verify, audit=seen_by_audit)
    return result


def _status(verifier: Verifier, pk: int) -> str:
    # Nothing is caught: a verifier that fails on tampered data is a defect to fix.
    return verifier.verify_event(pk).status


def run_tamper(*, seed: int = 11, per_column: int = 1) -> dict[str, Any]:
    """A whole run on a fresh devnet and SQLite database; the figures as a dict."""
    from devnet.launcher import Devnet
    from ledger.settings import Settings
    from ledger.store.db import make_engine, migrate
    from wallets.keystore import SCRYPT_N_LIGHT
    from wallets.signer import as_signer

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="tamperrun-") as tmp:
        root = Path(tmp)
        settings = Settings(_env_file=None).updated(  # type: ignore[call-arg]
            data_dir=root / "devnet", devnet={"port": _free_port(), "state_interval": 1}
        )
        net = Devnet(settings, key_work_factor=SCRYPT_N_LIGHT)
        net.up()
        try:
            url = f"sqlite:///{root / 'tamper.sqlite3'}"
            migrate(url)
            engine = make_engine(url)
            deployment = Deployment.load(net.paths.deployment)
            chain = ChainClient(net.rpc_url)
            keyring = Keyring(root, work_factor=SCRYPT_N_LIGHT)
            membership = Membership(
                engine, chain, deployment, keyring, as_signer(net.admin_account())
            )
            ledger = build_ledger(engine, chain, deployment, membership, keyring)
            result = tamper(ledger, seed=seed, per_column=per_column)
            engine.dispose()
        finally:
            net.down()
    out = result.to_json()
    out["elapsed_s"] = round(time.perf_counter() - started, 1)
    return out


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    """Run once and print the figures as the last line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=int(os.environ.get("TAMPER_SEED", "11")))
    parser.add_argument("--per-column", type=int, default=1)
    args = parser.parse_args()
    figures = run_tamper(seed=args.seed, per_column=args.per_column)
    for table, entry in figures["by_table"].items():
        n = entry["mutations"]
        print(
            f"{table}: detected {entry['verify']}/{n} by verify, {entry['audit']}/{n} by the audit"
        )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
