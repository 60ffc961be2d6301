"""Merkle trees compatible with OpenZeppelin's ``MerkleProof`` (sorted pairs, double-hashed leaves).

A leaf is ``keccak256(bytes.concat(keccak256(abi.encode(word, idKey, recorder))))``, as in
OpenZeppelin's StandardMerkleTree, so that a leaf can never be mistaken for an inner node. Inner
nodes hash the sorted pair, so a proof is just the list of siblings from the leaf up, and
``MerkleProof.verify(proof, root, leaf)`` (or ``TraceAnchor.verifyEvent``) checks it with no code
of ours. Leaves are sorted before building, so the same set of events always gives the same root.

:func:`event_leaf` is the one leaf builder of the ledger (anchor worker, verification, audit,
export bundles). What the leaf's first word commits to depends on the batch's leaf version:

``1`` (:data:`LEAF_EVENT_HASH`, batches anchored before records were covered)
    the event hash (the digest in the CBV 2.0 Event Hash ID) alone. The members the CBV 2.0
    hash leaves out (``eventID``, ``recordTime``, ``errorDeclaration``, ``@context``,
    ``rdfs:comment``) and the signature are *not* covered.
``2`` (:data:`LEAF_RECORD`, every batch anchored now)
    :func:`leaf_word`: ``keccak256(eventHash ‖ keccak256(capturedJSON) ‖ keccak256(signature))``
    (32 zero bytes for an unsigned event), so the anchored root covers the event exactly as
    stored and served, byte for byte, and its EIP-712 signature.

``TraceAnchor`` is unchanged: ``leafHash`` / ``verifyEvent(root, proof, word, idKey, recorder)``
take the word as their first argument, whatever it commits to; EIP-712 signatures still sign
``TraceEvent(eventHash, idKey)``.
"""

from __future__ import annotations

import json
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from eth_utils.address import to_canonical_address

from ledger.errors import InvalidInputError
from ledger.identifiers.hashing import keccak256 as keccak

HASH_SIZE = 32
ADDRESS_SIZE = 20
#: ABI-encoding an address left-pads its 20 bytes to a 32-byte word.
_ADDRESS_PAD = b"\0" * (HASH_SIZE - ADDRESS_SIZE)


#: Leaf version of batches anchored before leaves covered the stored record: the event hash.
LEAF_EVENT_HASH: Final = 1
#: Leaf version covering the event hash, the captured JSON as stored and the signature.
LEAF_RECORD: Final = 2
#: The version the anchor worker builds now.
CURRENT_LEAF_VERSION: Final = LEAF_RECORD
LEAF_VERSIONS: Final = (LEAF_EVENT_HASH, LEAF_RECORD)
#: What an event's anchor covers (``EventVerification.coverage``).
Coverage = Literal["record", "event_hash"]
_NO_SIGNATURE: Final = b"\0" * HASH_SIZE


class MerkleError(InvalidInputError):
    """A tree with no leaves, or a leaf or proof element of the wrong size, or an unknown leaf
    version."""

    problem = "merkle"


def captured_text(event: Mapping[str, Any]) -> str:
    """The stored text of a captured event: compact JSON, key order and non-ASCII kept.

    Capture stores exactly this (so ``captured_text(json.loads(stored)) == stored``), and an
    export bundle, which carries the event as JSON, rebuilds the stored bytes with it.
    """
    return json.dumps(event, ensure_ascii=False, check_circular=False, separators=(",", ":"))


def record_digest(captured_json: str, signature: str | None) -> bytes:
    """``keccak256(capturedJSON) ‖ keccak256(signature)``: what a version-2 leaf adds to the
    event hash (the signature as stored, 0x-hex; 32 zero bytes when there is none)."""
    signed = _NO_SIGNATURE if signature is None else keccak(signature.encode())
    return keccak(captured_json.encode("utf-8", "surrogatepass")) + signed


def leaf_word(version: int, event_hash: bytes, captured_json: str, signature: str | None) -> bytes:
    """The leaf's first word (``eventHash`` of ``TraceAnchor.leafHash``) for a leaf version."""
    if len(event_hash) != HASH_SIZE:
        raise MerkleError("an event hash is 32 bytes", field="leaf")
    if version == LEAF_EVENT_HASH:
        return bytes(event_hash)
    if version == LEAF_RECORD:
        return keccak(bytes(event_hash) + record_digest(captured_json, signature))
    raise MerkleError(f"unknown leaf version {version!r}", field="leaf_version")


def event_leaf(
    version: int,
    event_hash: bytes,
    id_key: bytes,
    recorder: str | bytes,
    captured_json: str,
    signature: str | None,
) -> bytes:
    """The leaf of one stored event in a batch of leaf ``version``: the one leaf builder."""
    word = leaf_word(version, event_hash, captured_json, signature)
    return leaf_hash(word, id_key, recorder)


def coverage(version: int) -> Coverage:
    """What a leaf of ``version`` covers: the whole stored record, or the event hash only."""
    return "record" if version == LEAF_RECORD else "event_hash"


def leaf_hash(event_hash: bytes, id_key: bytes, recorder: str | bytes) -> bytes:
    """The double-hashed leaf over a first word, an identifier key and an address
    (``TraceAnchor.leafHash``); events' leaves are built with :func:`event_leaf`.

    ``recorder`` is an address as text or its 20 raw bytes. ``abi.encode`` of two ``bytes32``
    and an ``address`` is their concatenation with the address left-padded, so the leaf is
    built without an ABI encoder (it runs for every event an anchor batch or an audit holds).
    """
    if len(event_hash) != HASH_SIZE or len(id_key) != HASH_SIZE:
        raise MerkleError("event hash and identifier key must be 32 bytes", field="leaf")
    address = recorder if isinstance(recorder, bytes) else to_canonical_address(recorder)
    if len(address) != ADDRESS_SIZE:
        raise MerkleError("a recorder address is 20 bytes", field="leaf")
    return keccak(keccak(bytes(event_hash) + bytes(id_key) + _ADDRESS_PAD + address))


def hash_pair(a: bytes, b: bytes) -> bytes:
    """OpenZeppelin's commutative node hash: keccak256 of the sorted pair."""
    return keccak(a + b) if a < b else keccak(b + a)


def process_proof(leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The root a proof leads to from ``leaf`` (``MerkleProof.processProof``)."""
    node = leaf
    for sibling in proof:
        if len(sibling) != HASH_SIZE:
            raise MerkleError("proof elements must be 32 bytes", field="proof")
        node = hash_pair(node, sibling)
    return node


def verify(proof: Sequence[bytes], root: bytes, leaf: bytes) -> bool:
    """Whether ``proof`` leads from ``leaf`` to ``root``."""
    return process_proof(leaf, proof) == root


@dataclass(frozen=True, slots=True)
class MerkleTree:
    """A tree over sorted, distinct leaves; ``layers[0]`` are the leaves, the last the root."""

    layers: tuple[tuple[bytes, ...], ...]

    @classmethod
    def build(cls, leaves: Sequence[bytes]) -> MerkleTree:
        """Build the tree; duplicate leaves are kept once."""
        if not leaves:
            raise MerkleError("a tree needs at least one leaf", field="leaves")
        if any(len(leaf) != HASH_SIZE for leaf in leaves):
            raise MerkleError("leaves must be 32 bytes", field="leaves")
        layer = tuple(sorted(set(leaves)))
        layers = [layer]
        while len(layer) > 1:
            pairs = [hash_pair(layer[i], layer[i + 1]) for i in range(0, len(layer) - 1, 2)]
            if len(layer) % 2:
                pairs.append(layer[-1])  # an odd node is promoted unchanged
            layer = tuple(pairs)
            layers.append(layer)
        return cls(tuple(layers))

    @property
    def root(self) -> bytes:
        """The root."""
        return self.layers[-1][0]

    @property
    def leaves(self) -> tuple[bytes, ...]:
        """The sorted, distinct leaves."""
        return self.layers[0]

    def proof(self, leaf: bytes) -> list[bytes]:
        """The siblings from ``leaf`` up to the root."""
        index = _index(self.leaves, leaf)
        proof: list[bytes] = []
        for layer in self.layers[:-1]:
            sibling = index ^ 1
            if sibling < len(layer):
                proof.append(layer[sibling])
            index //= 2
        return proof

    def proofs(self) -> dict[bytes, list[bytes]]:
        """Every leaf's proof."""
        return {leaf: self.proof(leaf) for leaf in self.leaves}


def _index(sorted_leaves: tuple[bytes, ...], leaf: bytes) -> int:
    i = bisect_left(sorted_leaves, leaf)
    if i == len(sorted_leaves) or sorted_leaves[i] != leaf:
        raise MerkleError("the leaf is not in the tree", field="leaf")
    return i
