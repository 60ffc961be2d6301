"""Verify a bundle against any node of the chain, with no database and no API.

:func:`verify_bundle` recomputes every hash ID from the captured event
(:func:`ledger.events.event_hash`) and every identifier key, rebuilds every leaf with
:func:`ledger.merkle.event_leaf` (for a version-2 batch from the event as stored,
:func:`ledger.merkle.captured_text` of the bundled JSON, and its signature, so a changed
``eventID``, ``recordTime``, ``errorDeclaration``, ``@context``, ``rdfs:comment`` or signature
shows) and follows every proof, rebuilds every root from its leaves, asks the contract
(``batchOf``, ``verifyEvent``, ``signerInfo``) and the node (the anchoring transaction's sender,
target, block and input), and matches the ``BatchAnchored`` / ``EventAnchored`` logs of the span.
Disagreements are :class:`ledger.audit.Finding` s of the audit's kinds
(:class:`ledger.audit.FindingKind`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from eth_utils.address import is_address, to_checksum_address
from hexbytes import HexBytes
from web3.contract import Contract
from web3.exceptions import Web3Exception

from ledger.audit.chain_reader import NO_ORG_ID, RPC_CHUNK, ChainReader, to_hex
from ledger.audit.findings import Finding, FindingKind
from ledger.audit.primary_key import primary_key_matches
from ledger.bundle.format import Bundle, BundledBatch, BundledEvent, ChainInfo, Span
from ledger.chain import ChainClient
from ledger.errors import ChainError, LedgerError
from ledger.events import event_hash
from ledger.merkle import (
    MerkleError,
    MerkleTree,
    captured_text,
    coverage,
    leaf_hash,
    leaf_word,
    process_proof,
)
from wallets.eip712 import SignatureError, recover_event_signer

__all__ = ["BundleVerification", "verify_bundle"]


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
        """A JSON-ready dict (``by_kind`` in the order kinds were first found)."""
        by_kind = Counter(finding.kind.value for finding in self.findings)
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

    def add(self, kind: FindingKind, message: str, evidence: dict[str, Any], *events: str) -> None:
        self.result.findings.append(Finding(kind, message, evidence))
        self.failed.update(events)


def verify_bundle(
    bundle: Bundle | Mapping[str, Any],
    chain: ChainClient,
    *,
    logs_block_range: int | None = None,
) -> BundleVerification:
    """Verify ``bundle`` (a :class:`~ledger.bundle.format.Bundle`, or the parsed JSON of one)
    against the chain behind ``chain`` (any node; reads only). The bundle's block span is read
    in pages of ``logs_block_range`` blocks (default ``settings.chain.logs_block_range``).

    Raises:
        BundleFormatError: not a tracechain bundle, or a malformed one (an
            :class:`~ledger.errors.InvalidInputError` naming the member at fault).
        ChainError: the node could not be asked.
    """
    if not isinstance(bundle, Bundle):
        bundle = Bundle.load(bundle)
    address = to_checksum_address(bundle.chain.contract)
    result = BundleVerification(chain_id=bundle.chain.chain_id, contract=address)
    failures = _Failures(result)
    _check_chain(chain, bundle.chain, address, failures)
    result.events = len(bundle.events)
    if result.findings:
        return result  # another chain: nothing on it can confirm this bundle
    contract = chain.contract("TraceAnchor", address)
    anchored = _check_events(bundle.events, bundle.batches, failures)
    on_chain = _check_batches(chain, contract, bundle.batches, bundle.events, failures)
    _check_on_chain(chain, contract, [a for a in anchored if a.root in on_chain], failures)
    _check_span(chain, contract, bundle.span, logs_block_range, failures)
    result.batches = len(bundle.batches)
    for entry in bundle.events:
        if entry.hash_id in failures.failed:
            status = "failed"
        elif entry.root is None:
            status = "pending"
            result.pending += 1
        else:
            status = "verified"
            result.verified += 1
        entry_status: dict[str, Any] = {"hash_id": entry.hash_id, "status": status}
        if status != "pending":
            batch = None if entry.root is None else bundle.batches.get(entry.root)
            entry_status["coverage"] = None if batch is None else coverage(batch.leaf_version)
        result.statuses.append(entry_status)
    return result


def _check_chain(chain: ChainClient, info: ChainInfo, address: str, failures: _Failures) -> None:
    try:
        chain_id = chain.chain_id
        genesis = chain.genesis_hash()
        code = chain.code_hash(address)
    except (OSError, Web3Exception, ValueError) as exc:
        raise ChainError(f"the node at {chain.rpc_url} did not answer: {exc}") from None
    evidence = {"rpc_url": chain.rpc_url, "chain_id": chain_id, "genesis_hash": genesis}
    if chain_id != info.chain_id:
        failures.add(
            FindingKind.WRONG_CHAIN,
            f"the node's chain id is {chain_id}, the bundle's {info.chain_id}",
            evidence,
        )
    if genesis != info.genesis_hash:
        failures.add(
            FindingKind.WRONG_CHAIN, "the node's genesis block is not the bundle's", evidence
        )
    if code != info.code_hash:
        failures.add(
            FindingKind.WRONG_CHAIN,
            f"the code at {address} is not the TraceAnchor the bundle names",
            {**evidence, "code_hash": code, "bundle_code_hash": info.code_hash},
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
    events: Sequence[BundledEvent], batches: Mapping[str, BundledBatch], failures: _Failures
) -> list[_Anchored]:
    """Hashes, identifier keys, leaves and proofs, with no chain. Returns the anchored events
    whose content, leaf and proof hold."""
    out: list[_Anchored] = []
    leaf_sets: dict[str, set[str]] = {}
    for index, entry in enumerate(events):
        evidence = {"index": index, "hash_id": entry.hash_id, "root": entry.root}
        if not _content_holds(index, entry, evidence, failures) or entry.root is None:
            continue  # tampered, or pending: listed, not anchored yet
        batch = batches.get(entry.root)
        recorder = entry.recorder
        if batch is None or recorder is None or not is_address(recorder):
            failures.add(
                FindingKind.MISSING_ANCHOR,
                "the event names a batch root (or recorder) the bundle does not describe",
                evidence,
                entry.hash_id,
            )
            continue
        if recorder != batch.recorder or entry.org_id != batch.org_id:
            failures.add(
                FindingKind.WRONG_RECORDER,
                "the event names another recorder than its batch",
                {
                    **evidence,
                    "recorder": recorder,
                    "org_id": entry.org_id,
                    "batch_recorder": batch.recorder,
                    "batch_org_id": batch.org_id,
                },
                entry.hash_id,
            )
        leaves = leaf_sets.setdefault(entry.root, set(batch.leaves))
        anchored = _proof_holds(entry, batch, recorder, leaves, evidence, failures)
        if anchored is not None:
            out.append(anchored)
    return out


def _content_holds(
    index: int, entry: BundledEvent, evidence: dict[str, Any], failures: _Failures
) -> bool:
    """Whether the bundled event hashes to its hash ID, event hash and identifier key."""
    hash_id = entry.hash_id
    try:
        recomputed = event_hash(entry.event)
    except (KeyError, TypeError, ValueError, AttributeError, LedgerError) as exc:
        failures.add(
            FindingKind.TAMPERED_EVENT, f"the bundled event is unreadable: {exc}", {"index": index}
        )
        return False
    if recomputed != hash_id:
        failures.add(
            FindingKind.TAMPERED_EVENT,
            "the captured event hashes to another hash ID than the bundle says",
            {**evidence, "recomputed_hash_id": recomputed},
            hash_id,
        )
        return False
    if "0x" + hash_id[14:78] != entry.event_hash:
        failures.add(
            FindingKind.TAMPERED_EVENT,
            "the event hash is not the digest of the hash ID",
            evidence,
            hash_id,
        )
        return False
    if not primary_key_matches(entry.event, entry.id_key):
        failures.add(
            FindingKind.TAMPERED_EVENT,
            "the identifier key is not the key of the event's first identifier",
            evidence,
            hash_id,
        )
        return False
    return True


def _proof_holds(
    entry: BundledEvent,
    batch: BundledBatch,
    recorder: str,
    leaves: set[str],
    evidence: dict[str, Any],
    failures: _Failures,
) -> _Anchored | None:
    """The event's leaf, rebuilt, and its proof leading to its root; the event when they do
    (also when its leaf is missing from ``leaves``, its batch's, which is reported)."""
    hash_id, root, id_key = entry.hash_id, str(entry.root), entry.id_key
    try:
        digest = bytes.fromhex(entry.event_hash[2:])
        word = leaf_word(batch.leaf_version, digest, captured_text(entry.event), entry.signature)
        leaf = leaf_hash(word, bytes.fromhex(id_key[2:]), bytes(HexBytes(recorder)))
        proof = [bytes(HexBytes(p)) for p in entry.proof]
        reached = to_hex(process_proof(leaf, proof))
    except (MerkleError, ValueError, TypeError) as exc:
        failures.add(
            FindingKind.TAMPERED_PROOF,
            f"the leaf or proof is malformed: {exc}",
            evidence,
            hash_id,
        )
        return None
    if reached != root:
        failures.add(
            FindingKind.TAMPERED_PROOF,
            "the Merkle proof does not lead from the event's leaf (its hash, the event as "
            "bundled, its signature, identifier key and recorder) to its root",
            {**evidence, "proof_leads_to": reached},
            hash_id,
        )
        return None
    if to_hex(leaf) not in leaves:
        failures.add(
            FindingKind.TAMPERED_PROOF,
            "the event's leaf is not among its batch's leaves",
            evidence,
            hash_id,
        )
    return _Anchored(
        hash_id,
        root,
        proof,
        digest,
        word,
        bytes.fromhex(id_key[2:]),
        to_checksum_address(recorder),
        str(entry.org_id),
        entry.signature,
    )


def _events_of(events: Sequence[BundledEvent], root: str) -> list[str]:
    return [e.hash_id for e in events if e.root == root]


def _check_batches(
    chain: ChainClient,
    contract: Contract,
    batches: Mapping[str, BundledBatch],
    events: Sequence[BundledEvent],
    failures: _Failures,
) -> set[str]:
    """Each root: rebuilt from its leaves, anchored by its member from its address. Returns
    the roots anchored on the chain."""
    bundled = {e.event_hash for e in events}
    roots = [root for root in batches if len(root) == 66]
    states = _batch_states(chain, contract, roots)
    anchored: set[str] = set()
    for root in roots:
        batch = batches[root]
        mine = _events_of(events, root)
        evidence = {"root": root, "tx_hash": batch.tx_hash, "block": batch.block}
        leaves = [bytes(HexBytes(leaf)) for leaf in batch.leaves]
        rebuilt = to_hex(MerkleTree.build(leaves).root) if leaves else None
        if rebuilt != root:
            failures.add(
                FindingKind.ROOT_MISMATCH,
                "the batch's leaves do not rebuild its root",
                {**evidence, "rebuilt_root": rebuilt, "leaves": len(leaves)},
                *mine,
            )
        listed = [h for h in batch.events if h not in bundled]
        if listed:
            failures.add(
                FindingKind.MISSING_EVENTS,
                "events the bundle lists in this batch are missing from the bundle",
                {**evidence, "missing_event_hashes": listed},
            )
        org, block, count = states[root]
        if org == NO_ORG_ID:
            failures.add(
                FindingKind.MISSING_ANCHOR, "the root is not anchored on the chain", evidence, *mine
            )
            continue
        anchored.add(root)
        if org != batch.org_id:
            failures.add(
                FindingKind.WRONG_RECORDER,
                f"the root was anchored by member {org}, not {batch.org_id}",
                {**evidence, "anchored_by_org_id": org},
                *mine,
            )
        if block != batch.block:
            failures.add(
                FindingKind.ANCHOR_MISMATCH,
                f"the root is anchored in block {block}, the bundle says {batch.block}",
                {**evidence, "anchored_block": block},
                *mine,
            )
        if count != len(leaves) or count != batch.event_count:
            failures.add(
                FindingKind.MISSING_EVENTS,
                f"the chain says the batch holds {count} events; the bundle gives "
                f"{len(leaves)} leaves and a count of {batch.event_count}",
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
    for start in range(0, len(roots), RPC_CHUNK):
        chunk = roots[start : start + RPC_CHUNK]
        results = chain.calls(batch_of, [(HexBytes(r),) for r in chunk])
        for root, (org, block, count) in zip(chunk, results, strict=True):
            out[root] = (to_hex(org), int(block), int(count))
    return out


def _check_transaction(
    chain: ChainClient,
    contract: Contract,
    root: str,
    batch: BundledBatch,
    count: int,
    evidence: dict[str, Any],
    mine: Sequence[str],
    failures: _Failures,
) -> None:
    """The anchoring transaction: sent by the recorder to the contract, in the block, with
    ``anchorBatch(root, count)``; and the recorder a signing address of the member."""
    tx_hash = batch.tx_hash
    tx = chain.transaction(tx_hash)
    if tx is None:
        failures.add(
            FindingKind.ANCHOR_MISMATCH,
            f"the transaction {tx_hash} is not on the chain",
            evidence,
            *mine,
        )
        return
    problems = []
    if tx.to != contract.address:
        problems.append(f"it was sent to {tx.to}, not to TraceAnchor")
    if tx.block_number != batch.block:
        problems.append(f"it is in block {tx.block_number}")
    try:
        function, args = contract.decode_function_input(tx.input)
        if function.fn_name != "anchorBatch" or to_hex(args["root"]) != root:
            problems.append("it does not anchor this root")
        elif int(args["count"]) != count:
            problems.append(f"it anchors {args['count']} events")
    except (ValueError, KeyError, TypeError, Web3Exception):
        problems.append("its input is not an anchorBatch call")
    if problems:
        failures.add(
            FindingKind.ANCHOR_MISMATCH,
            f"the anchoring transaction {tx_hash} does not match: " + "; ".join(problems),
            evidence,
            *mine,
        )
    sender = tx.sender
    if sender != batch.recorder:
        failures.add(
            FindingKind.WRONG_RECORDER,
            f"the root was sent by {sender}, not by the bundle's recorder {batch.recorder}",
            {**evidence, "sender": sender},
            *mine,
        )
    org, _roles, _active, since = chain.call(contract.functions.signerInfo(sender))
    if to_hex(org) != batch.org_id or int(since) > (tx.block_number or 0):
        failures.add(
            FindingKind.WRONG_RECORDER,
            f"{sender} is not a signing address of member {batch.org_id} (it signs for "
            f"{to_hex(org)} since block {since})",
            {**evidence, "sender": sender, "signer_org_id": to_hex(org)},
            *mine,
        )


def _check_on_chain(
    chain: ChainClient, contract: Contract, anchored: Sequence[_Anchored], failures: _Failures
) -> None:
    """``verifyEvent`` for every anchored event; signatures against the signer registry."""
    verify_event = chain.view(contract, "verifyEvent")
    for start in range(0, len(anchored), RPC_CHUNK):
        chunk = anchored[start : start + RPC_CHUNK]
        results = chain.calls(
            verify_event,
            [(HexBytes(a.root), a.proof, a.word, a.id_key, a.recorder) for a in chunk],
        )
        for item, (ok,) in zip(chunk, results, strict=True):
            if not ok:
                failures.add(
                    FindingKind.TAMPERED_PROOF,
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
                FindingKind.WRONG_RECORDER,
                f"the event signature is malformed: {exc}",
                {"hash_id": item.hash_id},
                item.hash_id,
            )
            continue
        org, _roles, _active, _since = chain.call(contract.functions.signerInfo(signer))
        if to_hex(org) != item.org_id:
            failures.add(
                FindingKind.WRONG_RECORDER,
                f"the event was signed by {signer}, which is no key of member {item.org_id}",
                {"hash_id": item.hash_id, "signer": signer, "signer_org_id": to_hex(org)},
                item.hash_id,
            )


def _check_span(
    chain: ChainClient,
    contract: Contract,
    span: Span,
    logs_block_range: int | None,
    failures: _Failures,
) -> None:
    """The chain's anchors in the span against the ledger's, one to one."""
    low, high = span.from_block, span.to_block
    if low is None or high is None:
        return
    reader = ChainReader(chain, contract, logs_block_range)
    roots = set(span.roots)
    singles = set(span.event_anchors)
    seen: set[str] = set()
    for log in reader.logs(("BatchAnchored", "EventAnchored"), low, high):
        evidence = {
            "tx_hash": HexBytes(log["transactionHash"]).to_0x_hex(),
            "block": int(log["blockNumber"]),
            "member_org_id": reader.org_id(int(log["args"]["member"])),
        }
        if log["event"] == "BatchAnchored":
            root = to_hex(log["args"]["root"])
            seen.add(root)
            if root not in roots:
                failures.add(
                    FindingKind.ORPHAN_ANCHOR,
                    "a root anchored inside the bundle's block span is unknown to the ledger "
                    "that exported it",
                    {**evidence, "root": root, "count": int(log["args"]["count"])},
                )
        elif to_hex(log["args"]["eventHash"]) not in singles:
            failures.add(
                FindingKind.ORPHAN_ANCHOR,
                "an event anchored inside the bundle's block span is unknown to the ledger "
                "that exported it",
                {**evidence, "event_hash": to_hex(log["args"]["eventHash"])},
            )
    for root in sorted(roots - seen):
        failures.add(
            FindingKind.MISSING_ANCHOR,
            "a root the ledger lists in the bundle's span has no anchor in that span",
            {"root": root, "from_block": low, "to_block": high},
        )
