"""The independent audit: the whole database checked against the chain itself.

:class:`Auditor` reads the chain through plain ``eth_getLogs`` / ``eth_call`` /
``eth_getTransactionByHash`` (never through our API or our verification code) and the database
through keyset-paginated reads, and reports every disagreement as a :class:`Finding` with its
evidence:

``tampered_event``
    an event's CBV 2.0 hash, recomputed from its captured JSON, differs from the recorded hash
    ID; or the recorded digest, identifier key or any other column capture derives from the
    captured JSON (``event_id``, ``event_time``, ``biz_step``, ``prehash``...) differs from
    what the captured JSON gives; or its record time or member differ from its capture job's;
    or its anchoring state disagrees with its batch's (:mod:`ledger.store.integrity`);
``tampered_index``
    an event's identifier index rows are not those capture derives from its captured JSON, or
    an index row names no stored event;
``tampered_proof``
    an event's leaf (:func:`ledger.merkle.event_leaf`: its hash, captured JSON as stored and
    signature for leaf version 2) with its stored Merkle proof leads neither to its batch's
    recorded root nor to the root its batch's events rebuild;
``root_mismatch``
    the leaves of a batch's events rebuild a root (:mod:`ledger.merkle`) other than the
    recorded one;
``missing_events``
    a batch holds fewer (or more) events than it recorded, or than the chain says it anchored;
``missing_anchor``
    a mined batch's root has no ``BatchAnchored`` log on the chain;
``anchor_mismatch``
    the root is anchored, but in another transaction or block than the database records, or
    the batch says it belongs to another chain while its root is anchored on this one;
``wrong_recorder``
    the root was anchored by another member than the batch's, from an address that is not the
    batch's signing address, or not a signing address of the member at that block (from
    ``SignerAdded`` / ``SignerRevoked`` logs); or the batch's events name another member or
    address than the batch;
``orphan_anchor``
    a ``BatchAnchored`` or ``EventAnchored`` log in the audited block range that no batch or
    event of the database accounts for;
``recall_by_non_owner``
    a ``Recalled`` / ``RecallLifted`` log by a member that does not own the identifier's prefix
    according to the database;
``wrong_chain``
    the node is not the chain of the deployment record (chain id, genesis block as block 1's
    parent records it, deployment transaction, code);
``anchoring_stalled``
    the oldest event waiting to be anchored has waited longer than the anchoring lag bound
    (``settings.anchor_lag_bound_seconds``): the anchor worker is stopped or stuck.

Recalls live on the chain only: every recall in the range is listed in the report with the
number of events the database holds for its identifier.

Memory stays constant in the number of events: the database is read in units of whole batches
(keyset pagination over ``anchor_batch``, then ``WHERE batch_id IN (...)``), hashed in a
process pool over both CPU cores, and only per-batch summaries come back; the chain is read in
block ranges of ``settings.logs_block_range`` (Besu and anvil cap ``eth_getLogs``), keeping a
map of anchored roots, which grows with batches, not events.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

import sqlalchemy as sa
from eth_utils.address import to_checksum_address
from hexbytes import HexBytes
from sqlalchemy.engine import Connection, Engine
from web3.contract import Contract

from ledger.chain import ChainClient
from ledger.deployment import Deployment
from ledger.errors import LedgerError
from ledger.events.epc import normalise
from ledger.events.model import captured_event
from ledger.identifiers import IdentifierError, parse, prefix_candidates
from ledger.identifiers.hashing import keccak256
from ledger.merkle import LEAF_VERSIONS, MerkleError, MerkleTree, event_leaf, process_proof
from ledger.settings import get_settings
from ledger.store.db import make_engine
from ledger.store.indexing import NO_ID_KEY, index_identifier
from ledger.store.integrity import (
    DERIVED_COLUMNS,
    IndexRow,
    anchor_state_problems,
    capture_problems,
    expected_record,
    record_problems,
)
from ledger.store.models import (
    AnchorBatch,
    Capture,
    Event,
    EventIdentifier,
    Organisation,
    Outbox,
    Prefix,
    SigningKey,
    metadata,
)

__all__ = [
    "FINDING_KINDS",
    "AuditReport",
    "Auditor",
    "ChainReader",
    "Finding",
    "primary_id_key",
    "primary_identifier",
    "primary_key_matches",
]

_event = metadata.tables[Event.__tablename__]
_batch = metadata.tables[AnchorBatch.__tablename__]
_org = metadata.tables[Organisation.__tablename__]
_key = metadata.tables[SigningKey.__tablename__]
_prefix = metadata.tables[Prefix.__tablename__]
_ident = metadata.tables[EventIdentifier.__tablename__]
_outbox = metadata.tables[Outbox.__tablename__]
_capture = metadata.tables[Capture.__tablename__]

FINDING_KINDS: Final = (
    "wrong_chain",
    "tampered_event",
    "tampered_index",
    "tampered_proof",
    "root_mismatch",
    "missing_events",
    "missing_anchor",
    "anchor_mismatch",
    "wrong_recorder",
    "orphan_anchor",
    "recall_by_non_owner",
    "anchoring_stalled",
)
#: Events per unit of work handed to a worker process (whole batches; one batch may exceed it).
UNIT_EVENTS: Final = 4_000
#: Batches read per keyset page while planning units.
_PAGE: Final = 1_000
#: Hashes per JSON-RPC batch request and per ``IN (...)`` list.
_RPC_CHUNK: Final = 200
#: Event pks listed in one finding's evidence at most (the count is always exact).
_SAMPLE: Final = 50
_ZERO32: Final = b"\0" * 32
_PAD: Final = b"\0" * 12

#: Instance lists in the order that picks an event's primary identifier
#: (:func:`ledger.store.indexing.identifier_rows`), then the quantity lists.
_INSTANCE_KEYS: Final = ("epcList", "parentID", "childEPCs", "outputEPCList", "inputEPCList")
_QUANTITY_KEYS: Final = (
    "quantityList",
    "childQuantityList",
    "inputQuantityList",
    "outputQuantityList",
)
_ANCHOR_EVENTS: Final = ("BatchAnchored", "EventAnchored", "Recalled", "RecallLifted")
_MEMBER_EVENTS: Final = ("SignerAdded", "SignerRevoked")


# ---------------------------------------------------------------------- pure helpers


def primary_identifier(raw: Mapping[str, Any]) -> str | None:
    """The identifier an event's Merkle leaf commits to, as written: the first of epcList,
    parentID, childEPCs, outputEPCList, inputEPCList, then the first quantity class
    (quantityList, childQuantityList, inputQuantityList, outputQuantityList)."""
    for key in _INSTANCE_KEYS:
        value = raw.get(key)
        if isinstance(value, str) and value:
            return value
        if isinstance(value, list):
            for item in value:
                if isinstance(item, str):
                    return item
    for key in _QUANTITY_KEYS:
        for element in raw.get(key) or ():
            if isinstance(element, Mapping) and isinstance(element.get("epcClass"), str):
                return str(element["epcClass"])
    return None


#: A canonical SGTIN Digital Link: the form ``ledger.identifiers`` gives every serialised
#: GTIN, and the form the event hash gives it when nothing needs escaping.
_CANONICAL_SGTIN: Final = re.compile(
    r"https://id\.gs1\.org/01/[0-9]{14}/21/[0-9A-Za-z_.\-]{1,20}"
).fullmatch


def primary_key_matches(raw: Mapping[str, Any], recorded: str) -> bool:
    """Whether ``recorded`` is the key of the event's primary identifier.

    The event hash has just normalised the identifier (``ledger.events.epc.normalise``,
    cached): when that constrained Digital Link is a canonical SGTIN, it *is* the canonical
    form, and its keccak256 settles the question without parsing the identifier again. Any
    other identifier, or a key that does not match, is decided by the full parse.
    """
    value = primary_identifier(raw)
    if value is None:
        return recorded == NO_ID_KEY
    constrained = normalise(value)
    if (
        constrained is not None
        and _CANONICAL_SGTIN(constrained) is not None
        and "0x" + keccak256(constrained.encode()).hex() == recorded
    ):
        return True
    return _id_key(value) == recorded


def primary_id_key(raw: Mapping[str, Any]) -> str:
    """0x-hex key of :func:`primary_identifier` (32 zero bytes for an event without one)."""
    value = primary_identifier(raw)
    return NO_ID_KEY if value is None else _id_key(value)


@lru_cache(maxsize=65_536)
def _id_key(value: str) -> str:
    """``index_identifier(value).id_key`` without the class it also derives: keccak256 of the
    canonical form, or of the value itself when :func:`ledger.identifiers.parse` rejects it."""
    try:
        return "0x" + parse(value).id_key.hex()
    except IdentifierError:
        return "0x" + keccak256(value.encode()).hex()


def _hex(value: bytes) -> str:
    return "0x" + bytes(value).hex()


# ---------------------------------------------------------------------- report


@dataclass(frozen=True, slots=True)
class Finding:
    """One disagreement between the database and the chain (or within the database)."""

    kind: str
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"kind": self.kind, "message": self.message, "evidence": self.evidence}


@dataclass(slots=True)
class AuditReport:
    """What an audit checked and found."""

    chain_id: int
    genesis_hash: str
    contract: str
    from_block: int
    to_block: int
    started_at: str
    database: str
    events: int = 0
    pending_events: int = 0
    #: Seconds the oldest event waiting to be anchored has waited (0 when none waits).
    anchor_lag_s: float = 0.0
    anchor_lag_bound_s: float = 0.0
    batches: int = 0
    mined_batches: int = 0
    in_flight_batches: int = 0
    other_chain_batches: int = 0
    anchors_on_chain: int = 0
    event_anchors_on_chain: int = 0
    blocks_scanned: int = 0
    elapsed_s: float = 0.0
    findings: list[Finding] = field(default_factory=list)
    recalls: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether nothing was found."""
        return not self.findings

    @property
    def events_per_s(self) -> float:
        """Events audited per second of the whole run."""
        return self.events / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def counts(self) -> dict[str, int]:
        """How many findings of each kind (kinds without findings left out)."""
        out: dict[str, int] = defaultdict(int)
        for finding in self.findings:
            out[finding.kind] += 1
        return {kind: out[kind] for kind in FINDING_KINDS if out.get(kind)}

    def summary(self) -> dict[str, Any]:
        """The figures of the run, without the findings' evidence."""
        return {
            "ok": self.ok,
            "chain_id": self.chain_id,
            "contract": self.contract,
            "blocks": [self.from_block, self.to_block],
            "events": self.events,
            "pending_events": self.pending_events,
            "anchor_lag_s": round(self.anchor_lag_s, 3),
            "anchor_lag_bound_s": self.anchor_lag_bound_s,
            "batches": self.batches,
            "mined_batches": self.mined_batches,
            "in_flight_batches": self.in_flight_batches,
            "other_chain_batches": self.other_chain_batches,
            "anchors_on_chain": self.anchors_on_chain,
            "event_anchors_on_chain": self.event_anchors_on_chain,
            "recalls": len(self.recalls),
            "recalls_of_ledger_identifiers": sum(1 for r in self.recalls if r["db_events"]),
            "findings": len(self.findings),
            "by_kind": self.counts(),
            "elapsed_s": round(self.elapsed_s, 3),
            "events_per_s": round(self.events_per_s),
        }

    def to_json(self) -> dict[str, Any]:
        """The whole report, JSON-ready."""
        return {
            "tracechain_audit": 1,
            "started_at": self.started_at,
            "database": self.database,
            "chain": {
                "chain_id": self.chain_id,
                "genesis_hash": self.genesis_hash,
                "contract": self.contract,
                "from_block": self.from_block,
                "to_block": self.to_block,
            },
            "summary": self.summary(),
            "findings": [f.to_json() for f in self.findings],
            "recalls": self.recalls,
        }

    def write(self, path: Path) -> None:
        """Write the JSON report to ``path``."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=2, sort_keys=False) + "\n")


# ---------------------------------------------------------------------- database side


@dataclass(frozen=True, slots=True)
class _Unit:
    """Work for one process: whole batches, or a range of unbatched events."""

    batch_ids: tuple[int, ...] = ()
    #: (after id, last id] of events with no batch.
    pending: tuple[int, int] | None = None


@dataclass(slots=True)
class _BatchSummary:
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
class _UnitResult:
    events: int = 0
    pending: int = 0
    batches: list[_BatchSummary] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


_EVENT_COLUMNS: Final = (
    _event.c.id,
    _event.c.batch_id,
    *(_event.c[name] for name in DERIVED_COLUMNS),
    _event.c.captured_json,
    _event.c.recorder_address,
    _event.c.signature,
    _event.c.proof,
    _event.c.anchor_status,
    _event.c.organisation_id,
    _event.c.record_time,
    _capture.c.created_at.label("capture_created_at"),
    _capture.c.organisation_id.label("capture_org"),
)


#: Where :data:`DERIVED_COLUMNS` are in a row of :func:`_events` (after id and batch_id).
_DERIVED: Final = slice(2, 2 + len(DERIVED_COLUMNS))


def _events(*conditions: sa.ColumnElement[bool]) -> sa.Select[Any]:
    """The audited columns of the events matching ``conditions`` (with their capture job)."""
    return (
        sa.select(*_EVENT_COLUMNS)
        .outerjoin(_capture, _capture.c.id == _event.c.capture_id)
        .where(*conditions)
    )


def _index_of(conn: Connection, *conditions: sa.ColumnElement[bool]) -> dict[int, list[IndexRow]]:
    """The identifier index rows of the events matching ``conditions``, by event pk."""
    out: dict[int, list[IndexRow]] = defaultdict(list)
    for row in conn.execute(
        sa.select(
            _ident.c.event_pk,
            _ident.c.role,
            _ident.c.value,
            _ident.c.canonical,
            _ident.c.id_key,
            _ident.c.class_canonical,
        )
        .join(_event, _event.c.id == _ident.c.event_pk)
        .where(*conditions)
    ):
        out[row[0]].append(IndexRow(*row[1:]))
    return out


_worker_engine: Engine | None = None


def _init_worker(url: str) -> None:
    """Pool initializer: each worker process opens its own engine."""
    global _worker_engine
    _worker_engine = make_engine(url)


def _run_unit(unit: _Unit) -> _UnitResult:
    """Pool entry point."""
    if _worker_engine is None:
        raise LedgerError("audit worker started without a database")
    return audit_unit(_worker_engine, unit)


def audit_unit(engine: Engine, unit: _Unit) -> _UnitResult:
    """Check the events of one unit: hashes, derived columns, identifier index rows, anchoring
    state, leaves, roots and proofs."""
    result = _UnitResult()
    with engine.connect() as conn:
        if unit.pending is not None:
            low, high = unit.pending
            where = (_event.c.batch_id.is_(None), _event.c.id > low, _event.c.id <= high)
            index = _index_of(conn, *where)
            rows = conn.execution_options(yield_per=1000).execute(
                _events(*where).order_by(_event.c.id)
            )
            for row in rows:
                result.events += 1
                result.pending += 1
                _check_event(row, None, index.get(row.id, ()), result.findings)
            return result
        batches = {
            row.id: _BatchSummary(
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
                    _batch.c.id,
                    _batch.c.organisation_id,
                    _batch.c.signer_address,
                    _batch.c.root,
                    _batch.c.event_count,
                    _batch.c.status,
                    _batch.c.tx_hash,
                    _batch.c.block_number,
                    _batch.c.chain_id,
                    _batch.c.leaf_version,
                ).where(_batch.c.id.in_(unit.batch_ids))
            )
        }
        in_unit = _event.c.batch_id.in_(unit.batch_ids)
        index = _index_of(conn, in_unit)
        rows = conn.execution_options(yield_per=1000).execute(
            _events(in_unit).order_by(_event.c.batch_id, _event.c.id)
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
    row: Any, batch: _BatchSummary | None, index: Sequence[IndexRow], findings: list[Finding]
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
    problems += capture_problems(
        record_time=row.record_time,
        organisation_id=row.organisation_id,
        capture_created_at=row.capture_created_at,
        capture_org=row.capture_org,
    )
    problems += anchor_state_problems(
        anchor_status=row.anchor_status,
        batch_id=row.batch_id,
        batch_status=batch.status if batch else None,
        proof=row.proof,
        recorder_address=row.recorder_address,
    )
    if problems:
        findings.append(
            Finding(
                "tampered_event",
                "; ".join(problems),
                {**evidence, "recomputed_hash_id": recomputed, "event_hash": row.event_hash},
            )
        )
    if index_problems:
        findings.append(Finding("tampered_index", "; ".join(index_problems), evidence))
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
    batch: _BatchSummary, events: Sequence[tuple[Any, bytes | None]], findings: list[Finding]
) -> None:
    """Rebuild the batch's root from its events' leaves and check every stored proof."""
    batch.found = len(events)
    for row, _ in events:
        pair = (row.organisation_id, row.recorder_address)
        entry = batch.recorders.setdefault(pair, [0, []])
        entry[0] += 1
        if len(entry[1]) < _SAMPLE:
            entry[1].append(row.id)
    leaves = [leaf for _, leaf in events if leaf is not None]
    if not leaves:
        return
    tree = MerkleTree.build(leaves)
    batch.rebuilt = _hex(tree.root)
    recorded = HexBytes(batch.root) if len(batch.root) == 66 else b""
    # Every node in hex once, so each event's canonical proof is a list of look-ups
    # (MerkleTree.proof's path: the sibling on each layer, then up to the parent).
    layers = [[_hex(node) for node in layer] for layer in tree.layers[:-1]]
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
                    "tampered_proof",
                    "the event's leaf (its hash, captured JSON as stored, signature, identifier "
                    "key and recorder) with its stored Merkle proof does not lead to the batch's "
                    "recorded root",
                    {
                        "event_pk": row.id,
                        "hash_id": row.hash_id,
                        "batch_id": batch.id,
                        "root": batch.root,
                        "rebuilt_root": batch.rebuilt,
                        "proof_leads_to": _hex(reached) if reached else None,
                    },
                )
            )


def _pool_context() -> multiprocessing.context.BaseContext:
    """``fork`` (instant) when this process runs no other thread, else ``forkserver`` (a
    fork of a process with live threads may inherit a lock held by one of them)."""
    if threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["ledger.audit.auditor"])
    return context


# ---------------------------------------------------------------------- chain side


@dataclass(frozen=True, slots=True)
class _Anchor:
    root: str
    member: int
    count: int
    tx_hash: str
    block: int


@dataclass(frozen=True, slots=True)
class _EventAnchor:
    id_key: str
    event_hash: str
    member: int
    tx_hash: str
    block: int


@dataclass(slots=True)
class _ChainView:
    anchors: dict[str, _Anchor] = field(default_factory=dict)
    event_anchors: list[_EventAnchor] = field(default_factory=list)
    recalls: list[dict[str, Any]] = field(default_factory=list)
    #: signer address -> [(member number, added block, revoked block or None)]
    signers: dict[str, list[list[Any]]] = field(default_factory=lambda: defaultdict(list))
    blocks: int = 0


class ChainReader:
    """Logs and state of TraceAnchor through standard JSON-RPC."""

    def __init__(
        self, chain: ChainClient, contract: Contract, logs_block_range: int | None = None
    ) -> None:
        self.chain = chain
        self.contract = contract
        #: Blocks per eth_getLogs (None: ``settings.logs_block_range``).
        self.logs_block_range = logs_block_range
        self._org_ids: dict[int, str] = {}

    def logs(self, names: Sequence[str], start: int, end: int) -> Iterator[Any]:
        """Decoded logs of ``names`` in blocks [start, end], block range by block range."""
        return self.chain.events(
            self.contract, names, start, end, block_range=self.logs_block_range
        )

    def scan(self, deploy_block: int, start: int, end: int) -> _ChainView:
        """Anchors and recalls in [start, end]; signer history from the deployment on."""
        view = _ChainView()
        if start > deploy_block:
            for log in self.logs(_MEMBER_EVENTS, deploy_block, start - 1):
                self._member_log(view, log)
        names = _ANCHOR_EVENTS + _MEMBER_EVENTS
        for log in self.logs(names, start, end):
            name = log["event"]
            args = log["args"]
            tx = HexBytes(log["transactionHash"]).to_0x_hex()
            block = int(log["blockNumber"])
            if name == "BatchAnchored":
                root = _hex(args["root"])
                view.anchors[root] = _Anchor(
                    root, int(args["member"]), int(args["count"]), tx, block
                )
            elif name == "EventAnchored":
                view.event_anchors.append(
                    _EventAnchor(
                        _hex(args["idKey"]), _hex(args["eventHash"]), int(args["member"]), tx, block
                    )
                )
            elif name in ("Recalled", "RecallLifted"):
                view.recalls.append(
                    {
                        "action": "recall" if name == "Recalled" else "lift",
                        "identifier": args.get("identifier"),
                        "id_key": _hex(args["idKey"]),
                        "member": int(args["member"]),
                        "reason_hash": _hex(args["reasonHash"]),
                        "tx_hash": tx,
                        "block": block,
                    }
                )
            else:
                self._member_log(view, log)
        view.blocks = max(0, end - start + 1)
        return view

    @staticmethod
    def _member_log(view: _ChainView, log: Any) -> None:
        args = log["args"]
        signer = to_checksum_address(args["signer"])
        if log["event"] == "SignerAdded":
            view.signers[signer].append([int(args["member"]), int(log["blockNumber"]), None])
        else:
            for entry in view.signers.get(signer, []):
                if entry[2] is None:
                    entry[2] = int(log["blockNumber"])

    def org_id(self, member: int) -> str:
        """The organisation id of a member number (``orgIdOf``, cached)."""
        if member not in self._org_ids:
            self._org_ids[member] = _hex(self.chain.call(self.contract.functions.orgIdOf(member)))
        return self._org_ids[member]

    def senders(self, tx_hashes: Iterable[str]) -> dict[str, str | None]:
        """``from`` of each transaction (None for one the node does not know)."""
        hashes = sorted(set(tx_hashes))
        out: dict[str, str | None] = {}
        for start in range(0, len(hashes), _RPC_CHUNK):
            chunk = hashes[start : start + _RPC_CHUNK]
            for h, tx in zip(chunk, self.chain.transactions(chunk), strict=True):
                out[h] = None if tx is None else tx.sender
        return out

    def batch_of(self, root: str) -> tuple[str, int, int]:
        """(org id, block, count) of a root from ``batchOf`` (zero org id: not anchored)."""
        org, block, count = self.chain.call(self.contract.functions.batchOf(HexBytes(root)))
        return _hex(org), int(block), int(count)

    def anchor_at(self, root: str, block: int) -> _Anchor | None:
        """The ``BatchAnchored`` log of ``root`` in ``block``."""
        for log in self.logs(("BatchAnchored",), block, block):
            if _hex(log["args"]["root"]) == root:
                return _Anchor(
                    root,
                    int(log["args"]["member"]),
                    int(log["args"]["count"]),
                    HexBytes(log["transactionHash"]).to_0x_hex(),
                    block,
                )
        return None


# ---------------------------------------------------------------------- the auditor


Progress = Callable[[int, int], None]


class Auditor:
    """Audits one database against the chain of one deployment."""

    def __init__(
        self,
        engine: Engine,
        chain: ChainClient,
        deployment: Deployment,
        *,
        logs_block_range: int | None = None,
        workers: int | None = None,
        unit_events: int = UNIT_EVENTS,
        anchor_lag_bound_s: float | None = None,
    ) -> None:
        self.engine = engine
        self.anchor_lag_bound_s = (
            get_settings().anchor_lag_bound_seconds
            if anchor_lag_bound_s is None
            else anchor_lag_bound_s
        )
        self.unit_events = max(1, unit_events)
        self.chain = chain
        self.deployment = deployment
        self.contract: Contract = chain.contract("TraceAnchor", deployment.anchor_address)
        self.reader = ChainReader(chain, self.contract, logs_block_range)
        self.workers = workers if workers is not None else (os.cpu_count() or 1)
        self._view = _ChainView()

    # ------------------------------------------------------------------ run

    def run(
        self,
        *,
        from_block: int | None = None,
        to_block: int | None = None,
        progress: Progress | None = None,
    ) -> AuditReport:
        """Audit everything; ``from_block`` / ``to_block`` bound the chain scan for orphan
        anchors and recalls (default: from the contract's deployment to the head). Batches
        anchored outside the range are still looked up one by one."""
        started = time.perf_counter()
        deploy_block = self.deployment.contracts["TraceAnchor"].block
        head = self._head()
        start = deploy_block if from_block is None else max(0, from_block)
        end = head if to_block is None else min(head, to_block)
        report = AuditReport(
            chain_id=self.deployment.chain_id,
            genesis_hash=self.deployment.genesis_hash,
            contract=self.deployment.anchor_address,
            from_block=start,
            to_block=end,
            started_at=datetime.now(UTC).isoformat(timespec="seconds"),
            database=self.engine.url.render_as_string(hide_password=True),
            anchor_lag_bound_s=self.anchor_lag_bound_s,
        )
        self._anchoring_lag(report)
        wrong_chain = self.deployment.mismatches(self.chain)
        for problem in wrong_chain:
            report.findings.append(
                Finding(
                    "wrong_chain",
                    problem,
                    {"rpc_url": self.chain.rpc_url, "deployment_chain_id": report.chain_id},
                )
            )
        units, total = self._plan()
        batches: dict[int, _BatchSummary] = {}
        done = 0
        for result in self._results(units, report, wrong_chain, deploy_block, start, end):
            report.events += result.events
            report.pending_events += result.pending
            report.findings.extend(result.findings)
            for summary in result.batches:
                batches[summary.id] = summary
            done += result.events
            if progress is not None:
                progress(done, total)
        report.batches = len(batches)
        self._orphan_index_rows(report)
        if not wrong_chain:
            self._reconcile(report, batches)
        report.elapsed_s = time.perf_counter() - started
        return report

    def _orphan_index_rows(self, report: AuditReport) -> None:
        """Identifier index rows that name no stored event."""
        orphan = (
            sa.select(_ident.c.event_pk, _ident.c.role, _ident.c.value)
            .outerjoin(_event, _event.c.id == _ident.c.event_pk)
            .where(_event.c.id.is_(None))
        )
        with self.engine.connect() as conn:
            count = conn.execute(
                sa.select(sa.func.count()).select_from(orphan.subquery())
            ).scalar_one()
            if not count:
                return
            sample = conn.execute(orphan.limit(_SAMPLE)).all()
        report.findings.append(
            Finding(
                "tampered_index",
                f"{count} identifier index rows name no stored event",
                {"rows": int(count), "sample": [list(row) for row in sample]},
            )
        )

    def _anchoring_lag(self, report: AuditReport) -> None:
        """The age of the oldest event waiting to be anchored; a finding above the bound."""
        with self.engine.connect() as conn:
            waiting, oldest = conn.execute(
                sa.select(sa.func.count(), sa.func.min(_outbox.c.created_at)).select_from(_outbox)
            ).one()
            if oldest is None:
                return
            event_pk = conn.execute(
                sa.select(_outbox.c.event_pk)
                .where(_outbox.c.created_at == oldest)
                .order_by(_outbox.c.id)
                .limit(1)
            ).scalar()
        report.anchor_lag_s = max(0.0, (datetime.now(UTC) - oldest).total_seconds())
        if report.anchor_lag_s > self.anchor_lag_bound_s:
            report.findings.append(
                Finding(
                    "anchoring_stalled",
                    f"{waiting} events wait to be anchored, the oldest for "
                    f"{report.anchor_lag_s:.0f} s (bound {self.anchor_lag_bound_s:g} s): the "
                    "anchor worker is stopped or stuck",
                    {
                        "waiting_events": int(waiting),
                        "oldest_event_pk": event_pk,
                        "oldest_queued_at": oldest.isoformat(),
                        "lag_s": round(report.anchor_lag_s, 3),
                        "bound_s": self.anchor_lag_bound_s,
                    },
                )
            )

    def _head(self) -> int:
        return self.chain.block_number()

    def _plan(self) -> tuple[list[_Unit], int]:
        """Units of whole batches (keyset pages over anchor_batch), then of unbatched events."""
        units: list[_Unit] = []
        with self.engine.connect() as conn:
            total = int(conn.execute(sa.select(sa.func.count()).select_from(_event)).scalar_one())
            last = 0
            group: list[int] = []
            size = 0
            while True:
                page = conn.execute(
                    sa.select(_batch.c.id, _batch.c.event_count)
                    .where(_batch.c.id > last)
                    .order_by(_batch.c.id)
                    .limit(_PAGE)
                ).all()
                if not page:
                    break
                for batch_id, count in page:
                    if group and size + count > self.unit_events:
                        units.append(_Unit(batch_ids=tuple(group)))
                        group, size = [], 0
                    group.append(batch_id)
                    size += count
                last = page[-1][0]
            if group:
                units.append(_Unit(batch_ids=tuple(group)))
            units.extend(self._pending_units(conn))
        return units, total

    def _pending_units(self, conn: Connection) -> Iterator[_Unit]:
        last = 0
        while True:
            ids = (
                conn.execute(
                    sa.select(_event.c.id)
                    .where(_event.c.batch_id.is_(None), _event.c.id > last)
                    .order_by(_event.c.id)
                    .limit(self.unit_events)
                )
                .scalars()
                .all()
            )
            if not ids:
                return
            yield _Unit(pending=(last, ids[-1]))
            last = ids[-1]

    def _results(
        self,
        units: list[_Unit],
        report: AuditReport,
        wrong_chain: list[str],
        deploy_block: int,
        start: int,
        end: int,
    ) -> Iterator[_UnitResult]:
        """Unit results, computed in a process pool while the main process reads the chain."""
        url = self.engine.url
        in_memory = url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")
        workers = min(self.workers, len(units))
        if workers <= 1 or in_memory:
            self._scan_chain(report, wrong_chain, deploy_block, start, end)
            for unit in units:
                yield audit_unit(self.engine, unit)
            return
        with _pool_context().Pool(
            workers, initializer=_init_worker, initargs=(url.render_as_string(hide_password=False),)
        ) as pool:
            pending = pool.imap_unordered(_run_unit, units)
            self._scan_chain(report, wrong_chain, deploy_block, start, end)
            yield from pending

    def _scan_chain(
        self, report: AuditReport, wrong_chain: list[str], deploy_block: int, start: int, end: int
    ) -> None:
        self._view = _ChainView()
        if wrong_chain:
            return
        self._view = self.reader.scan(deploy_block, start, end)
        report.blocks_scanned = self._view.blocks
        report.anchors_on_chain = len(self._view.anchors)
        report.event_anchors_on_chain = len(self._view.event_anchors)

    # ------------------------------------------------------------------ chain vs database

    def _reconcile(self, report: AuditReport, batches: Mapping[int, _BatchSummary]) -> None:
        view = self._view
        with self.engine.connect() as conn:
            orgs = {pk: org_id for pk, org_id in conn.execute(sa.select(_org.c.id, _org.c.org_id))}
            keys: dict[str, int] = {
                address: org
                for address, org in conn.execute(sa.select(_key.c.address, _key.c.organisation_id))
            }
        accounted: set[str] = set()
        lookups: list[_BatchSummary] = []
        for summary in batches.values():
            accounted.add(summary.root)
            if summary.rebuilt is not None:
                accounted.add(summary.rebuilt)
            self._batch_findings(report, summary, orgs)
            if summary.chain_id != report.chain_id:
                report.other_chain_batches += 1
                if summary.root in view.anchors:
                    report.findings.append(
                        Finding(
                            "anchor_mismatch",
                            f"the batch says it was anchored on chain {summary.chain_id}, but "
                            "its root is anchored on this chain",
                            {"batch_id": summary.id, "root": summary.root},
                        )
                    )
            elif summary.status in ("prepared", "sent"):
                report.in_flight_batches += 1
            elif summary.status == "mined":
                report.mined_batches += 1
                lookups.append(summary)
        senders = self.reader.senders(a.tx_hash for a in view.anchors.values())
        for summary in lookups:
            anchor = view.anchors.get(summary.root)
            if anchor is None:
                anchor = self._lookup(summary)
                if anchor is None:
                    report.findings.append(self._missing(summary, view))
                    continue
                senders.update(self.reader.senders([anchor.tx_hash]))
            self._anchor_findings(report, summary, anchor, senders.get(anchor.tx_hash), orgs, keys)
        for root, anchor in sorted(view.anchors.items(), key=lambda kv: kv[1].block):
            if root not in accounted:
                report.findings.append(
                    Finding(
                        "orphan_anchor",
                        "a batch root is anchored on the chain but no batch of the database "
                        "accounts for it",
                        {
                            "root": root,
                            "member_org_id": self.reader.org_id(anchor.member),
                            "count": anchor.count,
                            "tx_hash": anchor.tx_hash,
                            "block": anchor.block,
                            "sender": senders.get(anchor.tx_hash),
                        },
                    )
                )
        self._event_anchors(report, view.event_anchors, orgs)
        self._recalls(report, view.recalls)

    def _batch_findings(
        self, report: AuditReport, summary: _BatchSummary, orgs: Mapping[int, str]
    ) -> None:
        """Findings the database shows on its own: root, count, recorders of the events."""
        evidence = {
            "batch_id": summary.id,
            "root": summary.root,
            "tx_hash": summary.tx_hash,
            "block": summary.block_number,
        }
        if summary.rebuilt is not None and summary.rebuilt != summary.root:
            report.findings.append(
                Finding(
                    "root_mismatch",
                    "the batch's events rebuild another Merkle root than the recorded one",
                    {
                        **evidence,
                        "rebuilt_root": summary.rebuilt,
                        "rebuilt_root_anchored": summary.rebuilt in self._view.anchors,
                        "events": summary.found,
                    },
                )
            )
        if summary.leaf_version not in LEAF_VERSIONS:
            report.findings.append(
                Finding(
                    "root_mismatch",
                    f"the batch's leaf version {summary.leaf_version!r} is unknown: its "
                    "leaves cannot be rebuilt",
                    {**evidence, "leaf_version": summary.leaf_version},
                )
            )
        if summary.found != summary.event_count:
            report.findings.append(
                Finding(
                    "missing_events",
                    f"the batch records {summary.event_count} events but the database holds "
                    f"{summary.found}",
                    {**evidence, "recorded_count": summary.event_count, "found": summary.found},
                )
            )
        batch_org = orgs.get(summary.organisation_id)
        for (org_pk, address), (count, sample) in summary.recorders.items():
            if org_pk != summary.organisation_id or address != summary.signer_address:
                report.findings.append(
                    Finding(
                        "wrong_recorder",
                        "events of the batch name another recorder than the batch",
                        {
                            **evidence,
                            "batch_org_id": batch_org,
                            "batch_signer": summary.signer_address,
                            "events_org_id": orgs.get(org_pk),
                            "events_recorder": address,
                            "events": count,
                            "event_pks": sample,
                        },
                    )
                )

    def _lookup(self, summary: _BatchSummary) -> _Anchor | None:
        """A mined batch's anchor outside the scanned range, by ``batchOf`` then its block."""
        if len(summary.root) != 66:
            return None
        org, block, _count = self.reader.batch_of(summary.root)
        if org == _hex(_ZERO32):
            return None
        return self.reader.anchor_at(summary.root, block)

    def _missing(self, summary: _BatchSummary, view: _ChainView) -> Finding:
        return Finding(
            "missing_anchor",
            "the batch is recorded as mined but its root is not anchored on the chain",
            {
                "batch_id": summary.id,
                "root": summary.root,
                "tx_hash": summary.tx_hash,
                "block": summary.block_number,
                "rebuilt_root": summary.rebuilt,
                "rebuilt_root_anchored": summary.rebuilt in view.anchors,
                "events": summary.found,
            },
        )

    def _anchor_findings(
        self,
        report: AuditReport,
        summary: _BatchSummary,
        anchor: _Anchor,
        sender: str | None,
        orgs: Mapping[int, str],
        keys: Mapping[str, int],
    ) -> None:
        evidence = {
            "batch_id": summary.id,
            "root": summary.root,
            "tx_hash": anchor.tx_hash,
            "block": anchor.block,
        }
        if anchor.tx_hash != summary.tx_hash or anchor.block != summary.block_number:
            report.findings.append(
                Finding(
                    "anchor_mismatch",
                    "the root is anchored in another transaction or block than recorded",
                    {
                        **evidence,
                        "recorded_tx_hash": summary.tx_hash,
                        "recorded_block": summary.block_number,
                    },
                )
            )
        if anchor.count != summary.event_count:
            report.findings.append(
                Finding(
                    "missing_events",
                    f"the chain says the batch holds {anchor.count} events, the database "
                    f"records {summary.event_count} and holds {summary.found}",
                    {
                        **evidence,
                        "anchored_count": anchor.count,
                        "recorded_count": summary.event_count,
                        "found": summary.found,
                    },
                )
            )
        on_chain_org = self.reader.org_id(anchor.member)
        batch_org = orgs.get(summary.organisation_id)
        problems = []
        if on_chain_org != batch_org:
            problems.append(f"the root was anchored by member {on_chain_org}, not {batch_org}")
        if sender != summary.signer_address:
            problems.append(
                f"the anchoring transaction was sent by {sender}, not by the batch's signing "
                f"address {summary.signer_address}"
            )
        if keys.get(summary.signer_address) != summary.organisation_id:
            problems.append(
                f"the database does not list {summary.signer_address} as a key of {batch_org}"
            )
        if sender is not None and not self._signer_at(sender, anchor.member, anchor.block):
            problems.append(
                f"{sender} was not a signing address of member {on_chain_org} at block "
                f"{anchor.block}"
            )
        if problems:
            report.findings.append(
                Finding(
                    "wrong_recorder",
                    "; ".join(problems),
                    {
                        **evidence,
                        "anchored_by_org_id": on_chain_org,
                        "sender": sender,
                        "batch_org_id": batch_org,
                        "batch_signer": summary.signer_address,
                    },
                )
            )

    def _signer_at(self, address: str, member: int, block: int) -> bool:
        for owner, added, revoked in self._view.signers.get(address, []):
            if owner == member and added <= block and (revoked is None or revoked > block):
                return True
        return False

    def _event_anchors(
        self, report: AuditReport, anchors: Sequence[_EventAnchor], orgs: Mapping[int, str]
    ) -> None:
        """Single-event anchors must be events of the database, by the same member."""
        for start in range(0, len(anchors), _RPC_CHUNK):
            chunk = anchors[start : start + _RPC_CHUNK]
            # An event and its error declaration share an event hash: either may be anchored.
            known: dict[str, list[Any]] = {}
            with self.engine.connect() as conn:
                for stored in conn.execute(
                    sa.select(
                        _event.c.id,
                        _event.c.event_hash,
                        _event.c.primary_id_key,
                        _event.c.organisation_id,
                    )
                    .where(_event.c.event_hash.in_([a.event_hash for a in chunk]))
                    .order_by(_event.c.id)
                ):
                    known.setdefault(stored.event_hash, []).append(stored)
            for anchor in chunk:
                evidence = {
                    "event_hash": anchor.event_hash,
                    "id_key": anchor.id_key,
                    "member_org_id": self.reader.org_id(anchor.member),
                    "tx_hash": anchor.tx_hash,
                    "block": anchor.block,
                }
                rows = known.get(anchor.event_hash, [])
                row = next(
                    (
                        r
                        for r in rows
                        if r.primary_id_key == anchor.id_key
                        and orgs.get(r.organisation_id) == evidence["member_org_id"]
                    ),
                    rows[0] if rows else None,
                )
                if row is None:
                    report.findings.append(
                        Finding(
                            "orphan_anchor",
                            "an event is anchored on the chain but the database has no such event",
                            evidence,
                        )
                    )
                elif (
                    row.primary_id_key != anchor.id_key
                    or orgs.get(row.organisation_id) != evidence["member_org_id"]
                ):
                    report.findings.append(
                        Finding(
                            "wrong_recorder",
                            "an event anchored on its own names another identifier key or "
                            "member on the chain than in the database",
                            {
                                **evidence,
                                "event_pk": row.id,
                                "db_id_key": row.primary_id_key,
                                "db_org_id": orgs.get(row.organisation_id),
                            },
                        )
                    )

    def _recalls(self, report: AuditReport, recalls: Sequence[dict[str, Any]]) -> None:
        """List the chain's recalls with what the database knows of each identifier."""
        named = {r["id_key"]: r["identifier"] for r in recalls if r["identifier"]}
        with self.engine.connect() as conn:
            for recall in recalls:
                identifier = recall["identifier"] or named.get(recall["id_key"])
                if identifier is None:
                    identifier = conn.execute(
                        sa.select(_ident.c.canonical)
                        .where(_ident.c.id_key == recall["id_key"])
                        .limit(1)
                    ).scalar_one_or_none()
                condition = _ident.c.id_key == recall["id_key"]
                if identifier is not None:
                    condition = sa.or_(condition, _ident.c.class_canonical == identifier)
                mentions = sa.select(_ident.c.event_pk).where(condition).distinct()
                db_events = int(
                    conn.execute(
                        sa.select(sa.func.count()).select_from(mentions.subquery())
                    ).scalar_one()
                )
                owner = self._db_owner(conn, identifier)
                member = self.reader.org_id(recall["member"])
                entry = {
                    **{k: v for k, v in recall.items() if k != "member"},
                    "identifier": identifier,
                    "member_org_id": member,
                    "db_events": db_events,
                    "db_prefix_owner": owner,
                }
                report.recalls.append(entry)
                if owner != member:
                    did = "recalled" if recall["action"] == "recall" else "lifted the recall of"
                    report.findings.append(
                        Finding(
                            "recall_by_non_owner",
                            f"member {member} {did} {identifier}, whose prefix the database "
                            f"gives to {owner}",
                            entry,
                        )
                    )

    @staticmethod
    def _db_owner(conn: Connection, identifier: str | None) -> str | None:
        if identifier is None:
            return None
        try:
            candidates = list(prefix_candidates(parse(identifier)))
        except IdentifierError:
            return None
        row = conn.execute(
            sa.select(_org.c.org_id)
            .join(_prefix, _prefix.c.organisation_id == _org.c.id)
            .where(_prefix.c.prefix.in_(candidates))
            .order_by(sa.func.length(_prefix.c.prefix).desc())
            .limit(1)
        ).first()
        return None if row is None else str(row[0])
