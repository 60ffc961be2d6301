"""The database side of the audit, run in a process pool over both CPU cores.

The database is read in :class:`Unit` s of whole batches (keyset pagination over
``anchor_batch`` by the auditor, then ``WHERE batch_id IN (...)`` here), or of ranges of events
no batch holds yet. :func:`audit_unit` re-hashes every event of a unit, compares every column
and identifier index row capture derives, rebuilds every batch's root from its events' leaves
and follows every stored proof; only per-batch summaries and findings come back, so memory
stays constant in the number of events.
"""

from __future__ import annotations

import json
import multiprocessing
import threading
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import sqlalchemy as sa
from hexbytes import HexBytes
from sqlalchemy.engine import Connection, Engine

from ledger.audit.chain_reader import to_hex
from ledger.audit.findings import Finding, FindingKind
from ledger.errors import LedgerError
from ledger.events.model import captured_event
from ledger.merkle import MerkleError, MerkleTree, event_leaf, process_proof
from ledger.store.db import make_engine
from ledger.store.indexing import index_identifier
from ledger.store.integrity import (
    DERIVED_COLUMNS,
    IndexRow,
    expected_record,
    record_problems,
    stored_state_problems,
)
from ledger.store.tables import ANCHOR_BATCH, CAPTURE, EVENT, EVENT_IDENTIFIER

__all__ = [
    "SAMPLE",
    "BatchSummary",
    "Unit",
    "UnitResult",
    "audit_unit",
    "init_worker",
    "pool_context",
    "run_unit",
]


#: Event pks listed in one finding's evidence at most (the count is always exact).
SAMPLE: Final = 50


@dataclass(frozen=True, slots=True)
class Unit:
    """Work for one process: whole batches, or a range of unbatched events."""

    batch_ids: tuple[int, ...] = ()
    #: (after id, last id] of events with no batch.
    pending: tuple[int, int] | None = None


@dataclass(slots=True)
class BatchSummary:
    """One batch as recorded, and what its events gave."""

    id: int
    organisation_id: int
    signer_address: str
    root: str
    event_count: int
    status: str
    tx_hash: str | None
    block_number: int | None
    chain_id: int
    leaf_version: int = 1
    found: int = 0
    rebuilt: str | None = None
    #: (organisation id, recorder address) of the events -> [count, sample event pks].
    recorders: dict[tuple[int, str | None], list[Any]] = field(default_factory=dict)


@dataclass(slots=True)
class UnitResult:
    """What one unit gave: counts, its batches' summaries and the findings of its events."""

    events: int = 0
    pending: int = 0
    batches: list[BatchSummary] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


_EVENT_COLUMNS: Final = (
    EVENT.c.id,
    EVENT.c.batch_id,
    *(EVENT.c[name] for name in DERIVED_COLUMNS),
    EVENT.c.captured_json,
    EVENT.c.recorder_address,
    EVENT.c.signature,
    EVENT.c.proof,
    EVENT.c.anchor_status,
    EVENT.c.organisation_id,
    EVENT.c.record_time,
    CAPTURE.c.created_at.label("capture_created_at"),
    CAPTURE.c.organisation_id.label("capture_org"),
)


#: Where :data:`DERIVED_COLUMNS` are in a row of :func:`_events` (after id and batch_id).
_DERIVED: Final = slice(2, 2 + len(DERIVED_COLUMNS))


def _events(*conditions: sa.ColumnElement[bool]) -> sa.Select[Any]:
    """The audited columns of the events matching ``conditions`` (with their capture job)."""
    return (
        sa.select(*_EVENT_COLUMNS)
        .outerjoin(CAPTURE, CAPTURE.c.id == EVENT.c.capture_id)
        .where(*conditions)
    )


def _index_of(conn: Connection, *conditions: sa.ColumnElement[bool]) -> dict[int, list[IndexRow]]:
    """The identifier index rows of the events matching ``conditions``, by event pk."""
    out: dict[int, list[IndexRow]] = defaultdict(list)
    for row in conn.execute(
        sa.select(
            EVENT_IDENTIFIER.c.event_pk,
            EVENT_IDENTIFIER.c.role,
            EVENT_IDENTIFIER.c.value,
            EVENT_IDENTIFIER.c.canonical,
            EVENT_IDENTIFIER.c.id_key,
            EVENT_IDENTIFIER.c.class_canonical,
        )
        .join(EVENT, EVENT.c.id == EVENT_IDENTIFIER.c.event_pk)
        .where(*conditions)
    ):
        out[row[0]].append(IndexRow(*row[1:]))
    return out


_worker_engine: Engine | None = None


def init_worker(url: str) -> None:
    """Pool initializer: each worker process opens its own engine."""
    global _worker_engine
    _worker_engine = make_engine(url)


def run_unit(unit: Unit) -> UnitResult:
    """Pool entry point: :func:`audit_unit` on the worker's engine."""
    if _worker_engine is None:
        raise LedgerError("audit worker started without a database")
    return audit_unit(_worker_engine, unit)


def audit_unit(engine: Engine, unit: Unit) -> UnitResult:
    """Check the events of one unit: hashes, derived columns, identifier index rows, anchoring
    state, leaves, roots and proofs."""
    with engine.connect() as conn:
        if unit.pending is not None:
            return _audit_pending(conn, unit.pending)
        return _audit_batches(conn, unit.batch_ids)


def _audit_pending(conn: Connection, pending: tuple[int, int]) -> UnitResult:
    """Content checks of the events in (low, high] that no batch holds."""
    result = UnitResult()
    low, high = pending
    where = (EVENT.c.batch_id.is_(None), EVENT.c.id > low, EVENT.c.id <= high)
    index = _index_of(conn, *where)
    rows = conn.execution_options(yield_per=1000).execute(_events(*where).order_by(EVENT.c.id))
    for row in rows:
        result.events += 1
        result.pending += 1
        _check_event(row, None, index.get(row.id, ()), result.findings)
    return result


def _audit_batches(conn: Connection, batch_ids: tuple[int, ...]) -> UnitResult:
    """Content checks of the events of whole batches, then each batch's root and proofs."""
    result = UnitResult()
    batches = {
        row.id: BatchSummary(
            row.id,
            row.organisation_id,
            row.signer_address,
            row.root,
            row.event_count,
            row.status,
            row.tx_hash,
            row.block_number,
            row.chain_id,
            row.leaf_version,
        )
        for row in conn.execute(
            sa.select(
                ANCHOR_BATCH.c.id,
                ANCHOR_BATCH.c.organisation_id,
                ANCHOR_BATCH.c.signer_address,
                ANCHOR_BATCH.c.root,
                ANCHOR_BATCH.c.event_count,
                ANCHOR_BATCH.c.status,
                ANCHOR_BATCH.c.tx_hash,
                ANCHOR_BATCH.c.block_number,
                ANCHOR_BATCH.c.chain_id,
                ANCHOR_BATCH.c.leaf_version,
            ).where(ANCHOR_BATCH.c.id.in_(batch_ids))
        )
    }
    in_unit = EVENT.c.batch_id.in_(batch_ids)
    index = _index_of(conn, in_unit)
    rows = conn.execution_options(yield_per=1000).execute(
        _events(in_unit).order_by(EVENT.c.batch_id, EVENT.c.id)
    )
    current: list[tuple[Any, bytes | None]] = []
    for row in rows:
        result.events += 1
        if current and current[0][0].batch_id != row.batch_id:
            _close_batch(batches[current[0][0].batch_id], current, result.findings)
            current = []
        leaf = _check_event(row, batches[row.batch_id], index.get(row.id, ()), result.findings)
        current.append((row, leaf))
    if current:
        _close_batch(batches[current[0][0].batch_id], current, result.findings)
    result.batches = list(batches.values())
    return result


def _check_event(
    row: Any, batch: BatchSummary | None, index: Sequence[IndexRow], findings: list[Finding]
) -> bytes | None:
    """Content checks of one event; its leaf from the recorded values (None if unusable)."""
    evidence = {
        "event_pk": row.id,
        "hash_id": row.hash_id,
        "batch_id": row.batch_id,
        "root": batch.root if batch else None,
    }
    problems: list[str] = []
    index_problems: list[str] = []
    recomputed: str | None = None
    # The stored index rows name the event's identifiers: parsing them first (cached, pure)
    # lets the event hash's Digital Link normalisation reuse each parse (ledger.identifiers'
    # recent-parse cache) instead of reading every SSCC and lot link twice. Only a warm-up:
    # what is checked is still what the captured JSON gives.
    for stored in index:
        if isinstance(stored.value, str):
            index_identifier(stored.value)
    try:
        event = captured_event(json.loads(row.captured_json))
        recomputed = event.hash_id
        if recomputed != row.hash_id:
            problems.append("the captured event hashes to another hash ID than the recorded one")
        elif "0x" + row.hash_id[14:78] != row.event_hash:
            problems.append("the recorded event hash is not the digest of the recorded hash ID")
        else:
            columns, rows = expected_record(event)
            for problem in record_problems(columns, rows, row[_DERIVED], index):
                target = index_problems if "identifier index" in problem else problems
                target.append(problem)
    except (ValueError, TypeError, KeyError, AttributeError, LedgerError) as exc:
        problems.append(f"the captured event no longer reads as an EPCIS event: {exc}")
    problems += stored_state_problems(row, batch_status=batch.status if batch else None)
    if problems:
        findings.append(
            Finding(
                FindingKind.TAMPERED_EVENT,
                "; ".join(problems),
                {**evidence, "recomputed_hash_id": recomputed, "event_hash": row.event_hash},
            )
        )
    if index_problems:
        findings.append(Finding(FindingKind.TAMPERED_INDEX, "; ".join(index_problems), evidence))
    if batch is None:
        return None
    try:
        return event_leaf(
            batch.leaf_version,
            bytes.fromhex(row.event_hash[2:]),
            bytes.fromhex(row.primary_id_key[2:]),
            bytes.fromhex(str(row.recorder_address)[2:]),
            row.captured_json,
            row.signature,
        )
    except (ValueError, MerkleError):
        return None


def _close_batch(
    batch: BatchSummary, events: Sequence[tuple[Any, bytes | None]], findings: list[Finding]
) -> None:
    """Rebuild the batch's root from its events' leaves and check every stored proof."""
    batch.found = len(events)
    for row, _ in events:
        pair = (row.organisation_id, row.recorder_address)
        entry = batch.recorders.setdefault(pair, [0, []])
        entry[0] += 1
        if len(entry[1]) < SAMPLE:
            entry[1].append(row.id)
    leaves = [leaf for _, leaf in events if leaf is not None]
    if not leaves:
        return
    tree = MerkleTree.build(leaves)
    batch.rebuilt = to_hex(tree.root)
    recorded = HexBytes(batch.root) if len(batch.root) == 66 else b""
    # Every node in hex once, so each event's canonical proof is a list of look-ups
    # (MerkleTree.proof's path: the sibling on each layer, then up to the parent).
    layers = [[to_hex(node) for node in layer] for layer in tree.layers[:-1]]
    position = {leaf: index for index, leaf in enumerate(tree.leaves)}
    reached_by: list[tuple[Any, bytes | None, bytes]] = []
    for row, leaf in events:
        if leaf is None:
            continue
        stored = row.proof if isinstance(row.proof, list) else []
        index = position[leaf]
        canonical = []
        for layer in layers:
            if index ^ 1 < len(layer):
                canonical.append(layer[index ^ 1])
            index //= 2
        if stored == canonical and tree.root == recorded:
            continue  # the canonical path to the recorded root
        try:
            reached = process_proof(leaf, [HexBytes(p) for p in stored])
        except (MerkleError, ValueError, TypeError):
            reached = b""
        reached_by.append((row, leaf, reached))
    # Events whose leaf is unchanged still reach the recorded root with the proofs stored at
    # anchoring. When some do, any event that does not is the one that changed (its proof may
    # well lead to the rebuilt root); when none do, the recorded root is what changed and only
    # events reaching neither root are named.
    some_reach_recorded = any(reached == recorded for _, _, reached in reached_by) or (
        tree.root == recorded
    )
    accepted = (recorded,) if some_reach_recorded else (tree.root, recorded)
    for row, _leaf, reached in reached_by:
        if reached not in accepted:
            findings.append(
                Finding(
                    FindingKind.TAMPERED_PROOF,
                    "the event's leaf (its hash, captured JSON as stored, signature, identifier "
                    "key and recorder) with its stored Merkle proof does not lead to the batch's "
                    "recorded root",
                    {
                        "event_pk": row.id,
                        "hash_id": row.hash_id,
                        "batch_id": batch.id,
                        "root": batch.root,
                        "rebuilt_root": batch.rebuilt,
                        "proof_leads_to": to_hex(reached) if reached else None,
                    },
                )
            )


def pool_context() -> multiprocessing.context.BaseContext:
    """``fork`` (instant) when this process runs no other thread, else ``forkserver`` (a
    fork of a process with live threads may inherit a lock held by one of them)."""
    if threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["ledger.audit.workers"])
    return context
