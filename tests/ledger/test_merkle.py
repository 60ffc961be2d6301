"""Merkle trees and proofs (OpenZeppelin-compatible), property-tested."""

from __future__ import annotations

import json

import pytest
from eth_abi.abi import encode
from eth_utils.crypto import keccak
from hypothesis import given
from hypothesis import strategies as st

from ledger.merkle import (
    LEAF_EVENT_HASH,
    LEAF_RECORD,
    MerkleError,
    MerkleTree,
    captured_text,
    coverage,
    event_leaf,
    hash_pair,
    leaf_hash,
    leaf_word,
    process_proof,
    verify,
)

hashes = st.binary(min_size=32, max_size=32)


def test_leaf_matches_standard_merkle_tree_encoding() -> None:
    event_hash, id_key = b"\x11" * 32, b"\x22" * 32
    recorder = "0x00000000000000000000000000000000000000aa"
    expected = keccak(
        keccak(encode(["bytes32", "bytes32", "address"], [event_hash, id_key, recorder]))
    )
    assert leaf_hash(event_hash, id_key, recorder) == expected


@given(hashes, hashes, st.binary(min_size=20, max_size=20))
def test_leaf_is_the_abi_encoded_double_hash(
    event_hash: bytes, id_key: bytes, address: bytes
) -> None:
    expected = keccak(
        keccak(encode(["bytes32", "bytes32", "address"], [event_hash, id_key, address]))
    )
    assert leaf_hash(event_hash, id_key, address) == expected
    assert leaf_hash(event_hash, id_key, "0x" + address.hex()) == expected


def test_single_leaf_tree_is_its_leaf() -> None:
    leaf = b"\x01" * 32
    tree = MerkleTree.build([leaf])
    assert tree.root == leaf
    assert tree.proof(leaf) == []


def test_two_leaves_hash_sorted() -> None:
    a, b = b"\x02" * 32, b"\x01" * 32
    assert MerkleTree.build([a, b]).root == keccak(b + a) == hash_pair(a, b) == hash_pair(b, a)


@given(st.lists(hashes, min_size=1, max_size=200, unique=True), st.data())
def test_every_proof_verifies(leaves: list[bytes], data: st.DataObject) -> None:
    tree = MerkleTree.build(leaves)
    leaf = data.draw(st.sampled_from(leaves))
    proof = tree.proof(leaf)
    assert verify(proof, tree.root, leaf)
    assert len(proof) <= max(1, len(leaves)).bit_length()


@given(st.lists(hashes, min_size=1, max_size=64, unique=True))
def test_root_does_not_depend_on_order(leaves: list[bytes]) -> None:
    assert MerkleTree.build(leaves).root == MerkleTree.build(list(reversed(leaves))).root


@given(st.lists(hashes, min_size=2, max_size=64, unique=True), st.data())
def test_tampering_breaks_the_proof(leaves: list[bytes], data: st.DataObject) -> None:
    tree = MerkleTree.build(leaves)
    index = data.draw(st.integers(0, len(leaves) - 1))
    leaf = leaves[index]
    proof = tree.proof(leaf)
    other = data.draw(hashes.filter(lambda h: h not in leaves))
    assert not verify(proof, tree.root, other)
    if proof:
        position = data.draw(st.integers(0, len(proof) - 1))
        broken = list(proof)
        broken[position] = bytes(b ^ 0xFF for b in broken[position])
        assert process_proof(leaf, broken) != tree.root


@pytest.mark.parametrize(("leaves", "field"), [([], "leaves"), ([b"short"], "leaves")])
def test_bad_trees_raise_typed_errors(leaves: list[bytes], field: str) -> None:
    with pytest.raises(MerkleError) as info:
        MerkleTree.build(leaves)
    assert info.value.field == field


def test_unknown_leaf_has_no_proof() -> None:
    tree = MerkleTree.build([b"\x01" * 32, b"\x02" * 32])
    with pytest.raises(MerkleError):
        tree.proof(b"\x03" * 32)


# ---------------------------------------------------------------------- event leaves


RECORDER = "0x00000000000000000000000000000000000000aa"


@given(hashes, hashes, st.text(), st.none() | st.text(min_size=1))
def test_record_leaf_commits_to_the_captured_json_and_signature(
    event_hash: bytes, id_key: bytes, text: str, signature: str | None
) -> None:
    signed = b"\0" * 32 if signature is None else keccak(signature.encode())
    word = keccak(event_hash + keccak(text.encode("utf-8", "surrogatepass")) + signed)
    assert leaf_word(LEAF_RECORD, event_hash, text, signature) == word
    assert event_leaf(LEAF_RECORD, event_hash, id_key, RECORDER, text, signature) == leaf_hash(
        word, id_key, RECORDER
    )
    # Any other captured JSON or signature is another leaf.
    assert leaf_word(LEAF_RECORD, event_hash, text + " ", signature) != word
    assert leaf_word(LEAF_RECORD, event_hash, text, (signature or "") + "0") != word


def test_the_event_hash_leaf_ignores_the_record() -> None:
    event_hash, id_key = b"\x11" * 32, b"\x22" * 32
    legacy = event_leaf(LEAF_EVENT_HASH, event_hash, id_key, RECORDER, '{"eventID":"a"}', None)
    assert legacy == leaf_hash(event_hash, id_key, RECORDER)
    assert legacy == event_leaf(LEAF_EVENT_HASH, event_hash, id_key, RECORDER, "{}", "0x12")
    assert coverage(LEAF_EVENT_HASH) == "event_hash"
    assert coverage(LEAF_RECORD) == "record"


@pytest.mark.parametrize("version", [0, 3, -1])
def test_unknown_leaf_versions_are_refused(version: int) -> None:
    with pytest.raises(MerkleError):
        leaf_word(version, b"\x11" * 32, "{}", None)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)


@given(st.dictionaries(st.text(), json_values, max_size=5))
def test_captured_text_round_trips(event: dict[str, object]) -> None:
    """A bundle carries the event as JSON; the stored text is rebuilt from it exactly."""
    text = captured_text(event)
    assert captured_text(json.loads(text)) == text
