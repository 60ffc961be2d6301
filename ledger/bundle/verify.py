"""Export bundles: everything needed to verify a set of events against the chain, in one JSON
file, with no database and no API.

:func:`export_bundle` selects events by identifier (the events mentioning it, or items of its
lot; optionally every event of its trace), by lot, and/or by event-time range, and writes:

* ``chain``: chain id, genesis hash, TraceAnchor address and code hash;
* ``events``: each event exactly as captured, its CBV 2.0 hash ID, event hash, identifier key,
  recording member and address, signature (if the member signed it), batch root and Merkle
  proof;
* ``batches``: each root with its transaction, block, member, signing address, event count,
  leaf version (:mod:`ledger.merkle`; 1 when absent), the batch's complete list of leaves
  (opaque hashes: the batch rebuilds from them, so an event missing from the ledger shows) and
  the hashes of the bundled events it holds;
* ``span``: the blocks from the first to the last bundled batch, with every root and
  single-event anchor the ledger knows in them, so that the chain's anchors in that span can be
  matched one to one.

:func:`verify_bundle` checks a bundle against any node of the chain: it recomputes every hash
ID from the captured event (:func:`ledger.events.event_hash`) and every identifier key, rebuilds
every leaf with :func:`ledger.merkle.event_leaf` (for a version-2 batch from the event as
stored, :func:`ledger.merkle.captured_text` of the bundled JSON, and its signature, so a
changed ``eventID``, ``recordTime``, ``errorDeclaration``, ``@context``, ``rdfs:comment`` or
signature shows) and follows every proof, rebuilds every root from its leaves, asks the contract
(``batchOf``, ``verifyEvent``, ``signerInfo``) and the node (the anchoring transaction's sender,
target, block and input), and matches the ``BatchAnchored`` / ``EventAnchored`` logs of the span.
Disagreements are :class:`ledger.audit.Finding` s of the audit's kinds.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

import sqlalchemy as sa
from eth_utils.address import is_address, to_checksum_address
from hexbytes import HexBytes
from sqlalchemy.engine import Connection, Engine
from web3.contract import Contract
from web3.exceptions import Web3Exception

from ledger.audit import ChainReader, Finding, primary_key_matches
from ledger.chain import ChainClient
from ledger.deployment import Deployment
from ledger.errors import ChainError, InvalidInputError, LedgerError
from ledger.events import event_hash
from ledger.events.timestamps import parse_timestamp
from ledger.identifiers import IdentifierError, parse
from ledger.merkle import (
    LEAF_EVENT_HASH,
    MerkleError,
    MerkleTree,
    captured_text,
    coverage,
    event_leaf,
    leaf_hash,
    leaf_word,
    process_proof,
)
from ledger.store.indexing import index_identifier
from ledger.store.models import AnchorBatch, Event, EventIdentifier, Organisation, metadata
from ledger.trace import Direction, Tracer
from wallets.eip712 import SignatureError, recover_event_signer

__all__ = [
    "BUNDLE_FORMAT",
    "MAX_BUNDLE_EVENTS",
    "BundleVerification",
    "dump_bundle",
    "export_bundle",
    "load_bundle",
    "verify_bundle",
]

BUNDLE_FORMAT: Final = "tracechain-bundle/1"
#: Most events one bundle holds (narrow the range or the identifier beyond this).
MAX_BUNDLE_EVENTS: Final = 100_000
_CHUNK: Final = 200
_ZERO32: Final = "0x" + "00" * 32

_event = metadata.tables[Event.__tablename__]
_batch = metadata.tables[AnchorBatch.__tablename__]
_org = metadata.tables[Organisation.__tablename__]
_ident = metadata.tables[EventIdentifier.__tablename__]


def _hex(value: bytes) -> str:
    return "0x" + bytes(value).hex()


# ---------------------------------------------------------------------- export


def _time(value: datetime | str | None, name: str) -> datetime | None:
    if value is None or isinstance(value, datetime):
        if isinstance(value, datetime) and value.tzinfo is None:
            raise InvalidInputError("a time needs a UTC offset", field=name)
        return value
    parsed = parse_timestamp(value)
    if parsed is None:
        raise InvalidInputError(
            f"{value!r} is not an RFC 3339 timestamp with an offset", field=name
        )
    return parsed


def _canonical_lot(text: str) -> str:
    try:
        identifier = parse(text)
    except IdentifierError as exc:
        raise InvalidInputError(exc.reason, field="lot") from None
    if identifier.kind != "lgtin":
        raise InvalidInputError(
            f"{text!r} is a {identifier.kind}, not a lot (GTIN + lot: an LGTIN)", field="lot"
        )
    return identifier.canonical


@dataclass(frozen=True, slots=True)
class Selection:
    """What a bundle holds: conditions on stored events and the bundle's ``scope`` member."""

    conditions: list[sa.ColumnElement[bool]]
    scope: dict[str, Any]


def event_selection(
    engine: Engine,
    *,
    identifier: str | None,
    lot: str | None,
    from_time: datetime | str | None,
    to_time: datetime | str | None,
    trace: Direction | None,
) -> Selection:
    """The conditions on stored events of a bundle's selection (checked): events mentioning
    ``identifier`` or items of ``lot`` (with ``trace``, every event of its trace), and/or event
    times in ``[from_time, to_time)``.

    Raises:
        InvalidInputError: no selection, both an identifier and a lot, or a bad one of them.
    """
    start, end = _time(from_time, "from"), _time(to_time, "to")
    if identifier is None and lot is None and start is None and end is None:
        raise InvalidInputError(
            "give an identifier, a lot or a time range (from/to)", field="identifier"
        )
    if identifier is not None and lot is not None:
        raise InvalidInputError("give an identifier or a lot, not both", field="lot")
    target = _canonical_lot(lot) if lot is not None else None
    if identifier is not None:
        if not identifier.strip():
            raise InvalidInputError("an identifier is needed", field="identifier")
        target = index_identifier(identifier.strip()).canonical
    conditions: list[sa.ColumnElement[bool]] = []
    if target is not None:
        mentions = sa.select(_ident.c.event_pk).where(
            sa.or_(_ident.c.canonical == target, _ident.c.class_canonical == target)
        )
        if trace is not None:
            pks = Tracer(engine).trace(target, trace, None).event_pks()
            conditions.append(sa.or_(_event.c.id.in_(mentions), _event.c.id.in_(pks)))
        else:
            conditions.append(_event.c.id.in_(mentions))
    if start is not None:
        conditions.append(_event.c.event_time >= start)
    if end is not None:
        conditions.append(_event.c.event_time < end)
    scope = {
        "identifier": target if lot is None else None,
        "lot": target if lot is not None else None,
        "from": None if start is None else start.isoformat(),
        "to": None if end is None else end.isoformat(),
        "trace": trace,
    }
    return Selection(conditions, scope)


def export_bundle(
    engine: Engine,
    chain: ChainClient,
    deployment: Deployment,
    *,
    identifier: str | None = None,
    lot: str | None = None,
    from_time: datetime | str | None = None,
    to_time: datetime | str | None = None,
    trace: Direction | None = None,
    max_events: int = MAX_BUNDLE_EVENTS,
) -> dict[str, Any]:
    """The bundle (a JSON-ready dict) of the selected events.

    Give an ``identifier`` or a ``lot`` (events mentioning it or items of the lot; with
    ``trace``, every event of its backward or forward trace), and/or a time range
    ``[from_time, to_time)`` of event times.

    Raises:
        InvalidInputError: no selection, a bad identifier, lot or time, or more than
            ``max_events`` events.
    """
    selection = event_selection(
        engine, identifier=identifier, lot=lot, from_time=from_time, to_time=to_time, trace=trace
    )
    conditions = selection.conditions
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                _event.c.id,
                _event.c.hash_id,
                _event.c.event_hash,
                _event.c.captured_json,
                _event.c.primary_id_key,
                _event.c.recorder_address,
                _event.c.signature,
                _event.c.proof,
                _event.c.batch_id,
                _event.c.anchor_status,
                _org.c.org_id,
                _org.c.name,
            )
            .join(_org, _org.c.id == _event.c.organisation_id)
            .where(*conditions)
            .order_by(_event.c.event_time, _event.c.id)
            .limit(max_events + 1)
        ).all()
        if len(rows) > max_events:
            raise InvalidInputError(
                f"more than {max_events} events: narrow the identifier or the time range",
                field="identifier",
            )
        batch_ids = sorted({row.batch_id for row in rows if row.batch_id is not None})
        batches = _batches(conn, batch_ids, deployment.chain_id)
        span = _span(conn, batches, deployment.chain_id)
    events = []
    members: dict[str, dict[str, Any]] = {}
    for row in rows:
        batch = batches.get(row.batch_id) if row.batch_id is not None else None
        anchored = batch is not None and row.anchor_status == "anchored"
        if batch is not None:
            batch["events"].append(row.event_hash)
        members[row.org_id] = {"name": row.name}
        events.append(
            {
                "event": json.loads(row.captured_json),
                "hash_id": row.hash_id,
                "event_hash": row.event_hash,
                "id_key": row.primary_id_key,
                "org_id": row.org_id,
                "recorder": row.recorder_address,
                "signature": row.signature,
                "root": batch["root"] if anchored and batch is not None else None,
                "proof": list(row.proof or []) if anchored else [],
            }
        )
    contract = deployment.contracts["TraceAnchor"]
    span["event_anchors"] = _event_anchors(chain, deployment, span, engine)
    return {
        "format": BUNDLE_FORMAT,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "scope": selection.scope,
        "chain": {
            "chain_id": deployment.chain_id,
            "genesis_hash": deployment.genesis_hash,
            "contract": contract.address,
            "code_hash": contract.code_hash,
            "deployed_block": contract.block,
        },
        "members": members,
        "events": events,
        "batches": {
            batch["root"]: {k: v for k, v in batch.items() if k != "id"}
            for batch in sorted(batches.values(), key=lambda b: b["block"])
        },
        "span": span,
    }


def _batches(conn: Connection, batch_ids: Sequence[int], chain_id: int) -> dict[int, Any]:
    """Mined batches of this chain with their complete leaves."""
    out: dict[int, dict[str, Any]] = {}
    for start in range(0, len(batch_ids), _CHUNK):
        chunk = batch_ids[start : start + _CHUNK]
        for row in conn.execute(
            sa.select(
                _batch.c.id,
                _batch.c.root,
                _batch.c.tx_hash,
                _batch.c.block_number,
                _batch.c.signer_address,
                _batch.c.event_count,
                _batch.c.leaf_version,
                _org.c.org_id,
            )
            .join(_org, _org.c.id == _batch.c.organisation_id)
            .where(
                _batch.c.id.in_(chunk),
                _batch.c.status == "mined",
                _batch.c.chain_id == chain_id,
            )
        ):
            out[row.id] = {
                "id": row.id,
                "root": row.root,
                "tx_hash": row.tx_hash,
                "block": row.block_number,
                "recorder": row.signer_address,
                "org_id": row.org_id,
                "event_count": row.event_count,
                "leaf_version": row.leaf_version,
                "leaves": [],
                "events": [],
            }
        leaves: dict[int, list[bytes]] = defaultdict(list)
        for batch_id, digest, id_key, recorder, text, signature in conn.execute(
            sa.select(
                _event.c.batch_id,
                _event.c.event_hash,
                _event.c.primary_id_key,
                _event.c.recorder_address,
                _event.c.captured_json,
                _event.c.signature,
            ).where(_event.c.batch_id.in_([b for b in chunk if b in out]))
        ):
            try:
                leaves[batch_id].append(
                    event_leaf(
                        out[batch_id]["leaf_version"],
                        bytes.fromhex(digest[2:]),
                        bytes.fromhex(id_key[2:]),
                        bytes.fromhex(str(recorder)[2:]),
                        text,
                        signature,
                    )
                )
            except (ValueError, MerkleError):
                continue  # an unreadable row: the leaves will not rebuild the root
        for batch_id, found in leaves.items():
            out[batch_id]["leaves"] = [_hex(leaf) for leaf in sorted(set(found))]
    return out


def _span(conn: Connection, batches: Mapping[int, Any], chain_id: int) -> dict[str, Any]:
    """The block span of the bundled batches and every root the ledger anchored in it."""
    if not batches:
        return {"from_block": None, "to_block": None, "roots": []}
    low = min(b["block"] for b in batches.values())
    high = max(b["block"] for b in batches.values())
    roots = (
        conn.execute(
            sa.select(_batch.c.root)
            .where(
                _batch.c.chain_id == chain_id,
                _batch.c.block_number >= low,
                _batch.c.block_number <= high,
            )
            .order_by(_batch.c.block_number, _batch.c.id)
        )
        .scalars()
        .all()
    )
    return {"from_block": low, "to_block": high, "roots": list(roots)}


def _event_anchors(
    chain: ChainClient, deployment: Deployment, span: Mapping[str, Any], engine: Engine
) -> list[str]:
    """Event hashes anchored one by one in the span that are events of the ledger."""
    if span["from_block"] is None:
        return []
    contract = chain.contract("TraceAnchor", deployment.anchor_address)
    reader = ChainReader(chain, contract)
    hashes = [
        _hex(log["args"]["eventHash"])
        for log in reader.logs(("EventAnchored",), span["from_block"], span["to_block"])
    ]
    known: list[str] = []
    with engine.connect() as conn:
        for start in range(0, len(hashes), _CHUNK):
            chunk = hashes[start : start + _CHUNK]
            known += (
                conn.execute(
                    sa.select(_event.c.event_hash).distinct().where(_event.c.event_hash.in_(chunk))
                )
                .scalars()
                .all()
            )
    return sorted(known)


# ---------------------------------------------------------------------- verification


@dataclass(slots=True)
class BundleVerification:
    """The verdict on a bundle."""

    chain_id: int | None
    contract: str | None
    events: int = 0
    verified: int = 0
    pending: int = 0
    batches: int = 0
    findings: list[Finding] = field(default_factory=list)
    #: Per event: hash ID, ``verified`` / ``pending`` / ``failed`` and, for an anchored event,
    #: what its anchor covers (``record``, or ``event_hash`` for a version-1 batch).
    statuses: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every event verified and nothing else was found."""
        return not self.findings

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        by_kind: dict[str, int] = defaultdict(int)
        for finding in self.findings:
            by_kind[finding.kind] += 1
        return {
            "ok": self.ok,
            "chain_id": self.chain_id,
            "contract": self.contract,
            "events": self.events,
            "verified": self.verified,
            "pending": self.pending,
            "batches": self.batches,
            "by_kind": dict(by_kind),
            "findings": [f.to_json() for f in self.findings],
            "statuses": self.statuses,
        }


class _Failures:
    """Findings, remembering which events they concern."""

    def __init__(self, result: BundleVerification) -> None:
        self.result = result
        self.failed: set[str] = set()

    def add(self, kind: str, message: str, evidence: dict[str, Any], *events: str) -> None:
        self.result.findings.append(Finding(kind, message, evidence))
        self.failed.update(events)


def verify_bundle(
    bundle: Mapping[str, Any], chain: ChainClient, *, logs_block_range: int | None = None
) -> BundleVerification:
    """Verify ``bundle`` against the chain behind ``chain`` (any node; reads only). The
    bundle's block span is read in pages of ``logs_block_range`` blocks (default
    ``settings.logs_block_range``).

    Raises:
        InvalidInputError: not a tracechain bundle.
        ChainError: the node could not be asked.
    """
    if not isinstance(bundle, Mapping) or bundle.get("format") != BUNDLE_FORMAT:
        raise InvalidInputError(f"not a {BUNDLE_FORMAT} bundle", field="format")
    try:
        info = dict(bundle["chain"])
        events = list(bundle["events"])
        batches = dict(bundle["batches"])
        span = dict(bundle.get("span") or {})
        address = to_checksum_address(info["contract"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInputError(f"malformed bundle: {exc}", field="bundle") from None
    result = BundleVerification(chain_id=info.get("chain_id"), contract=address)
    failures = _Failures(result)
    _check_chain(chain, info, address, failures)
    if result.findings:
        result.events = len(events)
        return result  # another chain: nothing on it can confirm this bundle
    contract = chain.contract("TraceAnchor", address)
    anchored = _check_events(events, batches, failures)
    on_chain = _check_batches(chain, contract, batches, events, failures)
    _check_on_chain(chain, contract, [a for a in anchored if a.root in on_chain], failures)
    _check_span(chain, contract, span, logs_block_range, failures)
    result.events = len(events)
    result.batches = len(batches)
    for entry in events:
        hash_id = str(entry.get("hash_id")) if isinstance(entry, Mapping) else "?"
        if hash_id in failures.failed:
            status = "failed"
        elif isinstance(entry, Mapping) and entry.get("root") is None:
            status = "pending"
            result.pending += 1
        else:
            status = "verified"
            result.verified += 1
        entry_status: dict[str, Any] = {"hash_id": hash_id, "status": status}
        if status != "pending" and isinstance(entry, Mapping):
            entry_status["coverage"] = _coverage_of(batches.get(str(entry.get("root"))))
        result.statuses.append(entry_status)
    return result


def _coverage_of(batch: Any) -> str | None:
    """What the anchor of an event of ``batch`` covers (None: no such batch)."""
    if not isinstance(batch, Mapping):
        return None
    version = batch.get("leaf_version", LEAF_EVENT_HASH)
    return coverage(version) if isinstance(version, int) else None


def _check_chain(
    chain: ChainClient, info: Mapping[str, Any], address: str, failures: _Failures
) -> None:
    try:
        chain_id = chain.chain_id
        genesis = chain.genesis_hash()
        code = chain.code_hash(address)
    except (OSError, Web3Exception, ValueError) as exc:
        raise ChainError(f"the node at {chain.rpc_url} did not answer: {exc}") from None
    evidence = {"rpc_url": chain.rpc_url, "chain_id": chain_id, "genesis_hash": genesis}
    if chain_id != info.get("chain_id"):
        failures.add(
            "wrong_chain",
            f"the node's chain id is {chain_id}, the bundle's {info.get('chain_id')}",
            evidence,
        )
    if genesis != info.get("genesis_hash"):
        failures.add("wrong_chain", "the node's genesis block is not the bundle's", evidence)
    if code != info.get("code_hash"):
        failures.add(
            "wrong_chain",
            f"the code at {address} is not the TraceAnchor the bundle names",
            {**evidence, "code_hash": code, "bundle_code_hash": info.get("code_hash")},
        )


@dataclass(frozen=True, slots=True)
class _Anchored:
    """An event whose content, leaf and proof check out inside the bundle."""

    hash_id: str
    root: str
    proof: list[bytes]
    event_hash: bytes
    #: The leaf's first word (``verifyEvent``'s ``eventHash`` argument).
    word: bytes
    id_key: bytes
    recorder: str
    org_id: str
    signature: str | None


def _check_events(
    events: Sequence[Any], batches: Mapping[str, Any], failures: _Failures
) -> list[_Anchored]:
    """Hashes, identifier keys, leaves and proofs, with no chain."""
    out: list[_Anchored] = []
    leaf_sets: dict[str, set[str]] = {}
    for index, entry in enumerate(events):
        where = {"index": index}
        try:
            raw = entry["event"]
            hash_id = str(entry["hash_id"])
            digest = str(entry["event_hash"])
            id_key = str(entry["id_key"])
            root = entry.get("root")
            evidence = {**where, "hash_id": hash_id, "root": root}
            recomputed = event_hash(raw)
        except (KeyError, TypeError, ValueError, AttributeError, LedgerError) as exc:
            failures.add("tampered_event", f"the bundled event is unreadable: {exc}", where)
            continue
        if recomputed != hash_id:
            failures.add(
                "tampered_event",
                "the captured event hashes to another hash ID than the bundle says",
                {**evidence, "recomputed_hash_id": recomputed},
                hash_id,
            )
            continue
        if "0x" + hash_id[14:78] != digest:
            failures.add(
                "tampered_event",
                "the event hash is not the digest of the hash ID",
                evidence,
                hash_id,
            )
            continue
        if not primary_key_matches(raw, id_key):
            failures.add(
                "tampered_event",
                "the identifier key is not the key of the event's first identifier",
                evidence,
                hash_id,
            )
            continue
        if root is None:
            continue  # pending: listed, not anchored yet
        batch = batches.get(root)
        recorder = entry.get("recorder")
        if batch is None or not isinstance(recorder, str) or not is_address(recorder):
            failures.add(
                "missing_anchor",
                "the event names a batch root (or recorder) the bundle does not describe",
                evidence,
                hash_id,
            )
            continue
        if recorder != batch.get("recorder") or entry.get("org_id") != batch.get("org_id"):
            failures.add(
                "wrong_recorder",
                "the event names another recorder than its batch",
                {
                    **evidence,
                    "recorder": recorder,
                    "org_id": entry.get("org_id"),
                    "batch_recorder": batch.get("recorder"),
                    "batch_org_id": batch.get("org_id"),
                },
                hash_id,
            )
        try:
            version = batch.get("leaf_version", LEAF_EVENT_HASH)
            signature = entry.get("signature")
            word = leaf_word(
                version if isinstance(version, int) else -1,
                bytes.fromhex(digest[2:]),
                captured_text(raw),
                signature if isinstance(signature, str) else None,
            )
            leaf = leaf_hash(word, bytes.fromhex(id_key[2:]), bytes(HexBytes(recorder)))
            proof = [bytes(HexBytes(p)) for p in entry.get("proof") or []]
            reached = _hex(process_proof(leaf, proof))
        except (MerkleError, ValueError, TypeError) as exc:
            failures.add(
                "tampered_proof", f"the leaf or proof is malformed: {exc}", evidence, hash_id
            )
            continue
        if reached != root:
            failures.add(
                "tampered_proof",
                "the Merkle proof does not lead from the event's leaf (its hash, the event as "
                "bundled, its signature, identifier key and recorder) to its root",
                {**evidence, "proof_leads_to": reached},
                hash_id,
            )
            continue
        if _hex(leaf) not in leaf_sets.setdefault(root, set(batch.get("leaves") or ())):
            failures.add(
                "tampered_proof",
                "the event's leaf is not among its batch's leaves",
                evidence,
                hash_id,
            )
        out.append(
            _Anchored(
                hash_id,
                root,
                proof,
                bytes.fromhex(digest[2:]),
                word,
                bytes.fromhex(id_key[2:]),
                to_checksum_address(recorder),
                str(entry.get("org_id")),
                entry.get("signature"),
            )
        )
    return out


def _events_of(events: Sequence[Any], root: str) -> list[str]:
    return [
        str(e.get("hash_id")) for e in events if isinstance(e, Mapping) and e.get("root") == root
    ]


def _check_batches(
    chain: ChainClient,
    contract: Contract,
    batches: Mapping[str, Any],
    events: Sequence[Any],
    failures: _Failures,
) -> set[str]:
    """Each root: rebuilt from its leaves, anchored by its member from its address. Returns
    the roots anchored on the chain."""
    bundled = {str(e.get("event_hash")) for e in events if isinstance(e, Mapping)}
    roots = [root for root in batches if isinstance(root, str) and len(root) == 66]
    states = _batch_states(chain, contract, roots)
    anchored: set[str] = set()
    for root in roots:
        batch = batches[root]
        mine = _events_of(events, root)
        evidence = {"root": root, "tx_hash": batch.get("tx_hash"), "block": batch.get("block")}
        leaves = [bytes(HexBytes(leaf)) for leaf in batch.get("leaves") or ()]
        rebuilt = _hex(MerkleTree.build(leaves).root) if leaves else None
        if rebuilt != root:
            failures.add(
                "root_mismatch",
                "the batch's leaves do not rebuild its root",
                {**evidence, "rebuilt_root": rebuilt, "leaves": len(leaves)},
                *mine,
            )
        listed = [h for h in batch.get("events") or () if h not in bundled]
        if listed:
            failures.add(
                "missing_events",
                "events the bundle lists in this batch are missing from the bundle",
                {**evidence, "missing_event_hashes": listed},
            )
        org, block, count = states[root]
        if org == _ZERO32:
            failures.add("missing_anchor", "the root is not anchored on the chain", evidence, *mine)
            continue
        anchored.add(root)
        if org != batch.get("org_id"):
            failures.add(
                "wrong_recorder",
                f"the root was anchored by member {org}, not {batch.get('org_id')}",
                {**evidence, "anchored_by_org_id": org},
                *mine,
            )
        if block != batch.get("block"):
            failures.add(
                "anchor_mismatch",
                f"the root is anchored in block {block}, the bundle says {batch.get('block')}",
                {**evidence, "anchored_block": block},
                *mine,
            )
        if count != len(leaves) or count != batch.get("event_count"):
            failures.add(
                "missing_events",
                f"the chain says the batch holds {count} events; the bundle gives "
                f"{len(leaves)} leaves and a count of {batch.get('event_count')}",
                {**evidence, "anchored_count": count, "leaves": len(leaves)},
                *mine,
            )
        _check_transaction(chain, contract, root, batch, count, evidence, mine, failures)
    return anchored


def _batch_states(
    chain: ChainClient, contract: Contract, roots: Sequence[str]
) -> dict[str, tuple[str, int, int]]:
    out: dict[str, tuple[str, int, int]] = {}
    batch_of = chain.view(contract, "batchOf")
    for start in range(0, len(roots), _CHUNK):
        chunk = roots[start : start + _CHUNK]
        results = chain.calls(batch_of, [(HexBytes(r),) for r in chunk])
        for root, (org, block, count) in zip(chunk, results, strict=True):
            out[root] = (_hex(org), int(block), int(count))
    return out


def _check_transaction(
    chain: ChainClient,
    contract: Contract,
    root: str,
    batch: Mapping[str, Any],
    count: int,
    evidence: dict[str, Any],
    mine: Sequence[str],
    failures: _Failures,
) -> None:
    """The anchoring transaction: sent by the recorder to the contract, in the block, with
    ``anchorBatch(root, count)``; and the recorder a signing address of the member."""
    tx_hash = batch.get("tx_hash")
    tx = chain.transaction(str(tx_hash))
    if tx is None:
        failures.add(
            "anchor_mismatch", f"the transaction {tx_hash} is not on the chain", evidence, *mine
        )
        return
    problems = []
    if tx.to != contract.address:
        problems.append(f"it was sent to {tx.to}, not to TraceAnchor")
    if tx.block_number != batch.get("block"):
        problems.append(f"it is in block {tx.block_number}")
    try:
        function, args = contract.decode_function_input(tx.input)
        if function.fn_name != "anchorBatch" or _hex(args["root"]) != root:
            problems.append("it does not anchor this root")
        elif int(args["count"]) != count:
            problems.append(f"it anchors {args['count']} events")
    except (ValueError, KeyError, TypeError, Web3Exception):
        problems.append("its input is not an anchorBatch call")
    if problems:
        failures.add(
            "anchor_mismatch",
            f"the anchoring transaction {tx_hash} does not match: " + "; ".join(problems),
            evidence,
            *mine,
        )
    sender = tx.sender
    if sender != batch.get("recorder"):
        failures.add(
            "wrong_recorder",
            f"the root was sent by {sender}, not by the bundle's recorder {batch.get('recorder')}",
            {**evidence, "sender": sender},
            *mine,
        )
    org, _roles, _active, since = chain.call(contract.functions.signerInfo(sender))
    if _hex(org) != batch.get("org_id") or int(since) > (tx.block_number or 0):
        failures.add(
            "wrong_recorder",
            f"{sender} is not a signing address of member {batch.get('org_id')} (it signs for "
            f"{_hex(org)} since block {since})",
            {**evidence, "sender": sender, "signer_org_id": _hex(org)},
            *mine,
        )


def _check_on_chain(
    chain: ChainClient, contract: Contract, anchored: Sequence[_Anchored], failures: _Failures
) -> None:
    """``verifyEvent`` for every anchored event; signatures against the signer registry."""
    verify_event = chain.view(contract, "verifyEvent")
    for start in range(0, len(anchored), _CHUNK):
        chunk = anchored[start : start + _CHUNK]
        results = chain.calls(
            verify_event,
            [(HexBytes(a.root), a.proof, a.word, a.id_key, a.recorder) for a in chunk],
        )
        for item, (ok,) in zip(chunk, results, strict=True):
            if not ok:
                failures.add(
                    "tampered_proof",
                    "the contract's verifyEvent rejects the event's proof",
                    {"hash_id": item.hash_id, "root": item.root},
                    item.hash_id,
                )
    for item in anchored:
        if item.signature is None:
            continue
        try:
            signer = recover_event_signer(
                HexBytes(item.signature),
                chain.chain_id,
                contract.address,
                item.event_hash,
                item.id_key,
            )
        except (SignatureError, ValueError) as exc:
            failures.add(
                "wrong_recorder",
                f"the event signature is malformed: {exc}",
                {"hash_id": item.hash_id},
                item.hash_id,
            )
            continue
        org, _roles, _active, _since = chain.call(contract.functions.signerInfo(signer))
        if _hex(org) != item.org_id:
            failures.add(
                "wrong_recorder",
                f"the event was signed by {signer}, which is no key of member {item.org_id}",
                {"hash_id": item.hash_id, "signer": signer, "signer_org_id": _hex(org)},
                item.hash_id,
            )


def _check_span(
    chain: ChainClient,
    contract: Contract,
    span: Mapping[str, Any],
    logs_block_range: int | None,
    failures: _Failures,
) -> None:
    """The chain's anchors in the span against the ledger's, one to one."""
    low, high = span.get("from_block"), span.get("to_block")
    if not isinstance(low, int) or not isinstance(high, int):
        return
    reader = ChainReader(chain, contract, logs_block_range)
    roots = set(span.get("roots") or ())
    singles = set(span.get("event_anchors") or ())
    seen: set[str] = set()
    for log in reader.logs(("BatchAnchored", "EventAnchored"), low, high):
        evidence = {
            "tx_hash": HexBytes(log["transactionHash"]).to_0x_hex(),
            "block": int(log["blockNumber"]),
            "member_org_id": reader.org_id(int(log["args"]["member"])),
        }
        if log["event"] == "BatchAnchored":
            root = _hex(log["args"]["root"])
            seen.add(root)
            if root not in roots:
                failures.add(
                    "orphan_anchor",
                    "a root anchored inside the bundle's block span is unknown to the ledger "
                    "that exported it",
                    {**evidence, "root": root, "count": int(log["args"]["count"])},
                )
        elif _hex(log["args"]["eventHash"]) not in singles:
            failures.add(
                "orphan_anchor",
                "an event anchored inside the bundle's block span is unknown to the ledger "
                "that exported it",
                {**evidence, "event_hash": _hex(log["args"]["eventHash"])},
            )
    for root in sorted(roots - seen):
        failures.add(
            "missing_anchor",
            "a root the ledger lists in the bundle's span has no anchor in that span",
            {"root": root, "from_block": low, "to_block": high},
        )


def load_bundle(text: str | bytes) -> dict[str, Any]:
    """Read a bundle file's content.

    Raises:
        InvalidInputError: not JSON, or not a bundle.
    """
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise InvalidInputError(f"not JSON: {exc}", field="bundle") from None
    if not isinstance(data, dict) or data.get("format") != BUNDLE_FORMAT:
        raise InvalidInputError(f"not a {BUNDLE_FORMAT} bundle", field="format")
    return data


def dump_bundle(bundle: Mapping[str, Any]) -> str:
    """A bundle as the JSON text of its file."""
    return json.dumps(bundle, indent=1, ensure_ascii=False) + "\n"
