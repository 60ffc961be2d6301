"""TraceAnchor (with its MemberRegistry) against a real anvil node."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak
from hexbytes import HexBytes
from hypothesis import given, settings
from hypothesis import strategies as st
from web3.contract import Contract
from web3.logs import DISCARD
from web3.types import TxReceipt

from ledger.chain import ChainClient, ContractRevertError, decode_revert
from ledger.deployment import Deployment
from ledger.merkle import MerkleTree, leaf_hash, verify

RECORDER = 1
AUDITOR = 2

Admit = Callable[..., tuple[bytes, LocalAccount]]


def logs(anchor: Contract, event: str, receipt: TxReceipt) -> list[Any]:
    """The decoded ``event`` logs of a receipt (other events of the receipt are skipped)."""
    return list(anchor.events[event]().process_receipt(receipt, errors=DISCARD))


def org_id(name: str) -> bytes:
    return keccak(text=name)


@pytest.fixture
def admit(chain: ChainClient, anchor: Contract, admin: LocalAccount) -> Admit:
    """Admit a fresh member with one fresh signing key; return (orgId, signer)."""

    def _admit(roles: int = RECORDER, prefixes: tuple[str, ...] = ()) -> tuple[bytes, LocalAccount]:
        oid = os.urandom(32)
        signer: LocalAccount = Account.create()
        chain.transact(admin, anchor.functions.admitMember(oid, roles, signer.address))
        for prefix in prefixes:
            chain.transact(admin, anchor.functions.assignPrefix(prefix, oid))
        return oid, signer

    return _admit


def rpc(chain: ChainClient, method: str, params: list[object]) -> dict[str, object]:
    """A raw JSON-RPC request, as any client would send it."""
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
    answer: dict[str, object] = httpx.post(chain.rpc_url, json=body, timeout=10).json()
    return answer


def raw_revert(chain: ChainClient, anchor: Contract, sender: str, data: str) -> ContractRevertError:
    """eth_call straight over JSON-RPC; decode the custom error from the error data."""
    answer = rpc(
        chain, "eth_call", [{"from": sender, "to": anchor.address, "data": data}, "latest"]
    )
    error = answer["error"]
    assert isinstance(error, dict), answer
    return decode_revert(chain.w3, anchor.abi, str(error["data"]))


def expect_revert(name: str, fn: Callable[[], object]) -> ContractRevertError:
    with pytest.raises(ContractRevertError) as info:
        fn()
    assert info.value.name == name, info.value
    return info.value


# ---------------------------------------------------------------- deployment


def test_deployment_record_matches_chain(chain: ChainClient, deployment: Deployment) -> None:
    assert deployment.chain_id == chain.chain_id
    assert deployment.mismatches(chain) == []


def test_admin_holds_default_admin_role(
    chain: ChainClient, anchor: Contract, admin: LocalAccount, new_account: LocalAccount
) -> None:
    role = chain.call(anchor.functions.DEFAULT_ADMIN_ROLE())
    assert chain.call(anchor.functions.hasRole(role, admin.address))
    assert not chain.call(anchor.functions.hasRole(role, new_account.address))


# ---------------------------------------------------------------- membership


def test_admission_is_recorded_with_an_event(
    chain: ChainClient, anchor: Contract, admin: LocalAccount, new_account: LocalAccount
) -> None:
    oid = org_id("acme-pumps-" + new_account.address)
    receipt = chain.transact(
        admin, anchor.functions.admitMember(oid, RECORDER | AUDITOR, new_account.address)
    )
    (admitted,) = logs(anchor, "MemberAdmitted", receipt)
    assert admitted.args.orgId == oid
    assert admitted.args.signer == new_account.address
    number, roles, active, admitted_at = chain.call(anchor.functions.memberInfo(oid))
    assert (roles, active, admitted_at) == (RECORDER | AUDITOR, True, receipt["blockNumber"])
    assert number >= 1
    assert chain.call(anchor.functions.signerInfo(new_account.address))[:3] == (
        oid,
        RECORDER | AUDITOR,
        True,
    )
    expect_revert(
        "MemberExists",
        lambda: chain.transact(admin, anchor.functions.admitMember(oid, RECORDER, admin.address)),
    )


@pytest.mark.parametrize(
    ("roles", "error"), [(0, "InvalidRoles"), (4, "InvalidRoles"), (255, "InvalidRoles")]
)
def test_admission_rejects_bad_roles(
    chain: ChainClient, anchor: Contract, admin: LocalAccount, roles: int, error: str
) -> None:
    expect_revert(
        error,
        lambda: chain.transact(
            admin, anchor.functions.admitMember(os.urandom(32), roles, Account.create().address)
        ),
    )


def test_only_the_admin_admits(
    chain: ChainClient, anchor: Contract, admit: Admit, new_account: LocalAccount
) -> None:
    _, member = admit()
    err = expect_revert(
        "AccessControlUnauthorizedAccount",
        lambda: chain.transact(
            member, anchor.functions.admitMember(os.urandom(32), RECORDER, new_account.address)
        ),
    )
    assert err.args_[0] == member.address


def test_non_member_anchor_reverts_over_raw_json_rpc(
    chain: ChainClient, anchor: Contract, new_account: LocalAccount
) -> None:
    data = anchor.encode_abi("anchorBatch", args=[os.urandom(32), 10])
    err = raw_revert(chain, anchor, new_account.address, data)
    assert (err.name, err.args_) == ("UnknownMember", (new_account.address,))
    # Sent as a signed transaction it is mined and fails: nothing is stored.
    tx = {
        "to": anchor.address,
        "data": data,
        "gas": 100_000,
        "gasPrice": 0,
        "nonce": 0,
        "chainId": chain.chain_id,
    }
    raw = new_account.sign_transaction(tx).raw_transaction
    answer = rpc(chain, "eth_sendRawTransaction", [HexBytes(raw).to_0x_hex()])
    receipt = chain.wait(str(answer["result"]))
    assert receipt["status"] == 0


def test_suspended_member_cannot_anchor_until_reinstated(
    chain: ChainClient, anchor: Contract, admin: LocalAccount, admit: Admit
) -> None:
    oid, member = admit()
    chain.transact(member, anchor.functions.anchorBatch(os.urandom(32), 5))
    receipt = chain.transact(admin, anchor.functions.suspendMember(oid))
    assert logs(anchor, "MemberSuspended", receipt)[0].args.orgId == oid
    data = anchor.encode_abi("anchorBatch", args=[os.urandom(32), 5])
    err = raw_revert(chain, anchor, member.address, data)
    assert (err.name, err.args_) == ("SuspendedMember", (oid,))
    expect_revert(
        "SuspendedMember",
        lambda: chain.transact(
            member, anchor.functions.anchorEvent(os.urandom(32), os.urandom(32))
        ),
    )
    expect_revert(
        "SuspendedMember", lambda: chain.transact(admin, anchor.functions.suspendMember(oid))
    )
    chain.transact(admin, anchor.functions.reinstateMember(oid))
    chain.transact(member, anchor.functions.anchorBatch(os.urandom(32), 5))


def test_auditor_only_member_cannot_anchor(
    chain: ChainClient, anchor: Contract, admit: Admit
) -> None:
    _, auditor = admit(roles=AUDITOR)
    err = expect_revert(
        "MissingMemberRole",
        lambda: chain.transact(auditor, anchor.functions.anchorBatch(os.urandom(32), 1)),
    )
    assert err.args_ == (auditor.address, RECORDER)


def test_key_rotation_keeps_past_anchors(
    chain: ChainClient, anchor: Contract, admin: LocalAccount, admit: Admit
) -> None:
    oid, old_key = admit()
    root = os.urandom(32)
    chain.transact(old_key, anchor.functions.anchorBatch(root, 3))
    new_key: LocalAccount = Account.create()
    chain.transact(admin, anchor.functions.addSigner(oid, new_key.address))
    assert set(chain.call(anchor.functions.signersOf(oid))) == {old_key.address, new_key.address}
    receipt = chain.transact(admin, anchor.functions.revokeSigner(old_key.address))
    assert logs(anchor, "SignerRevoked", receipt)[0].args.signer == old_key.address
    assert chain.call(anchor.functions.signersOf(oid)) == [new_key.address]
    expect_revert(
        "RevokedSigner",
        lambda: chain.transact(old_key, anchor.functions.anchorBatch(os.urandom(32), 1)),
    )
    chain.transact(new_key, anchor.functions.anchorBatch(os.urandom(32), 1))
    recorded_org, _, count = chain.call(anchor.functions.batchOf(root))
    assert (recorded_org, count) == (oid, 3)
    # An address is never reused, even after revocation.
    expect_revert(
        "SignerExists",
        lambda: chain.transact(admin, anchor.functions.addSigner(oid, old_key.address)),
    )


def test_suspension_covers_every_signer(
    chain: ChainClient, anchor: Contract, admin: LocalAccount, admit: Admit
) -> None:
    oid, first = admit()
    second: LocalAccount = Account.create()
    chain.transact(admin, anchor.functions.addSigner(oid, second.address))
    chain.transact(admin, anchor.functions.suspendMember(oid))
    for key in (first, second):
        expect_revert(
            "SuspendedMember",
            lambda key=key: chain.transact(key, anchor.functions.anchorBatch(os.urandom(32), 1)),
        )


# ---------------------------------------------------------------- anchoring


def test_batch_anchor_packs_member_block_and_count(
    chain: ChainClient, anchor: Contract, admit: Admit
) -> None:
    oid, member = admit()
    root = os.urandom(32)
    receipt = chain.transact(member, anchor.functions.anchorBatch(root, 1000))
    (event,) = logs(anchor, "BatchAnchored", receipt)
    assert event.args.root == root
    assert event.args.count == 1000
    assert chain.call(anchor.functions.batchOf(root)) == (oid, receipt["blockNumber"], 1000)
    assert chain.call(anchor.functions.batchOf(os.urandom(32))) == (b"\0" * 32, 0, 0)


def test_duplicate_root_is_rejected(chain: ChainClient, anchor: Contract, admit: Admit) -> None:
    _, member = admit()
    _, other = admit()
    root = os.urandom(32)
    chain.transact(member, anchor.functions.anchorBatch(root, 2))
    for sender in (member, other):
        err = expect_revert(
            "AlreadyAnchored",
            lambda sender=sender: chain.transact(sender, anchor.functions.anchorBatch(root, 2)),
        )
        assert err.args_ == (root,)


@pytest.mark.parametrize(
    ("root", "count", "error"),
    [(b"\0" * 32, 1, "EmptyHash"), (b"\1" * 32, 0, "EmptyBatch")],
)
def test_empty_batches_are_rejected(
    chain: ChainClient, anchor: Contract, admit: Admit, root: bytes, count: int, error: str
) -> None:
    _, member = admit()
    expect_revert(error, lambda: chain.transact(member, anchor.functions.anchorBatch(root, count)))


def test_single_event_anchor_indexes_the_identifier(
    chain: ChainClient, anchor: Contract, admit: Admit
) -> None:
    oid, member = admit()
    id_key, event_hash = keccak(text="https://id.gs1.org/01/09506000134352/21/1"), os.urandom(32)
    receipt = chain.transact(member, anchor.functions.anchorEvent(id_key, event_hash))
    logs = anchor.events.EventAnchored().get_logs(
        from_block=receipt["blockNumber"], argument_filters={"idKey": id_key}
    )
    assert [(log.args.eventHash, log.transactionHash) for log in logs] == [
        (event_hash, receipt["transactionHash"])
    ]
    assert chain.call(anchor.functions.eventAnchorOf(event_hash)) == (oid, receipt["blockNumber"])
    expect_revert(
        "AlreadyAnchored",
        lambda: chain.transact(member, anchor.functions.anchorEvent(id_key, event_hash)),
    )


# ---------------------------------------------------------------- prefixes and recalls


def test_prefix_assignment(
    chain: ChainClient, anchor: Contract, admin: LocalAccount, admit: Admit
) -> None:
    oid, _ = admit()
    other, _ = admit()
    prefix = f"gs1:{int.from_bytes(os.urandom(4), 'big') % 10**9:09d}"
    receipt = chain.transact(admin, anchor.functions.assignPrefix(prefix, oid))
    (event,) = logs(anchor, "PrefixAssigned", receipt)
    assert (event.args.prefixKey, event.args.prefix) == (keccak(text=prefix), prefix)
    assert chain.call(anchor.functions.prefixOwner(keccak(text=prefix))) == oid
    err = expect_revert(
        "PrefixTaken", lambda: chain.transact(admin, anchor.functions.assignPrefix(prefix, other))
    )
    assert err.args_ == (keccak(text=prefix), oid)
    chain.transact(admin, anchor.functions.revokePrefix(keccak(text=prefix)))
    assert chain.call(anchor.functions.prefixOwner(keccak(text=prefix))) == b"\0" * 32
    chain.transact(admin, anchor.functions.assignPrefix(prefix, other))


RECALL_CASES = [
    # (owned prefix, identifier in canonical form)
    ("gs1:0614141", "https://id.gs1.org/01/80614141123458/21/6789"),
    ("gs1:0614141", "https://id.gs1.org/01/80614141123458/10/LOT-7"),
    ("gs1:0614141", "https://id.gs1.org/00/106141411234567897"),
    ("gs1:4012345", "https://id.gs1.org/414/4012345000115/254/987"),
    ("gs1:4012345", "https://id.gs1.org/8003/04012345000016SN42"),
    ("gs1:4012345", "https://id.gs1.org/8004/4012345ABC-99"),
    ("handle:88.118.8", "88.118.8/PUMP-0001"),
    ("handle:88.118", "88.118.8/PUMP/0002"),
    ("oid:1.2.156.112557", "urn:oid:1.2.156.112557.1.42"),
]


@pytest.mark.parametrize(("prefix", "identifier"), RECALL_CASES)
def test_recall_only_by_prefix_owner(
    chain: ChainClient,
    anchor: Contract,
    admin: LocalAccount,
    admit: Admit,
    prefix: str,
    identifier: str,
) -> None:
    owner_org, owner = admit()
    _, stranger = admit(prefixes=(f"gs1:9{os.urandom(3).hex()[:5]}".replace("a", "1"),))
    key = keccak(text=prefix)
    previous = chain.call(anchor.functions.prefixOwner(key))
    if previous != b"\0" * 32:
        chain.transact(admin, anchor.functions.revokePrefix(key))
    chain.transact(admin, anchor.functions.assignPrefix(prefix, owner_org))
    id_key = keccak(text=identifier)
    reason = keccak(text="Salmonella found in lot")
    err = expect_revert(
        "NotPrefixOwner",
        lambda: chain.transact(stranger, anchor.functions.recall(identifier, reason)),
    )
    assert err.args_ == (stranger.address, id_key)
    receipt = chain.transact(owner, anchor.functions.recall(identifier, reason))
    (event,) = logs(anchor, "Recalled", receipt)
    assert (event.args.idKey, event.args.prefixKey, event.args.identifier) == (
        id_key,
        key,
        identifier,
    )
    assert chain.call(anchor.functions.recallOf(id_key)) == (
        True,
        owner_org,
        receipt["blockNumber"],
        reason,
    )
    expect_revert(
        "AlreadyRecalled",
        lambda: chain.transact(owner, anchor.functions.recall(identifier, reason)),
    )
    expect_revert(
        "NotPrefixOwner",
        lambda: chain.transact(stranger, anchor.functions.liftRecall(identifier, reason)),
    )
    lifted = keccak(text="cleared by lab report 17")
    chain.transact(owner, anchor.functions.liftRecall(identifier, lifted))
    assert chain.call(anchor.functions.recallOf(id_key))[0] is False
    expect_revert(
        "NotRecalled",
        lambda: chain.transact(owner, anchor.functions.liftRecall(identifier, lifted)),
    )


@pytest.mark.parametrize(
    ("identifier", "error"),
    [
        ("https://id.gs1.org/99/123456789", "UnsupportedGs1Key"),
        ("https://id.gs1.org/01/8061", "MalformedIdentifier"),
        ("https://id.gs1.org/01", "MalformedIdentifier"),
        ("/suffix-without-prefix", "MalformedIdentifier"),
        ("88.118.8/", "MalformedIdentifier"),
        ("no-slash-at-all", "MalformedIdentifier"),
    ],
)
def test_recall_rejects_malformed_identifiers(
    chain: ChainClient, anchor: Contract, admit: Admit, identifier: str, error: str
) -> None:
    _, owner = admit()
    expect_revert(
        error, lambda: chain.transact(owner, anchor.functions.recall(identifier, b"\1" * 32))
    )


# ---------------------------------------------------------------- Merkle proofs


def test_python_proofs_verify_on_chain(chain: ChainClient, anchor: Contract, admit: Admit) -> None:
    _, member = admit()
    events = [(os.urandom(32), os.urandom(32)) for _ in range(37)]
    leaves = [leaf_hash(h, k, member.address) for h, k in events]
    tree = MerkleTree.build(leaves)
    assert [
        chain.call(anchor.functions.leafHash(h, k, member.address)) for h, k in events[:3]
    ] == leaves[:3]
    unanchored_proof = tree.proof(leaves[0])
    assert not chain.call(
        anchor.functions.verifyEvent(tree.root, unanchored_proof, *events[0], member.address)
    )
    chain.transact(member, anchor.functions.anchorBatch(tree.root, len(leaves)))
    for (event_hash, id_key), leaf in zip(events, leaves, strict=True):
        proof = tree.proof(leaf)
        assert chain.call(
            anchor.functions.verifyEvent(tree.root, proof, event_hash, id_key, member.address)
        )
    event_hash, id_key = events[5]
    proof = tree.proof(leaves[5])
    # A wrong proof, a changed event, a swapped identifier or recorder: all false.
    assert not chain.call(
        anchor.functions.verifyEvent(tree.root, proof[1:], event_hash, id_key, member.address)
    )
    assert not chain.call(
        anchor.functions.verifyEvent(tree.root, proof, os.urandom(32), id_key, member.address)
    )
    assert not chain.call(
        anchor.functions.verifyEvent(tree.root, proof, event_hash, events[6][1], member.address)
    )
    assert not chain.call(
        anchor.functions.verifyEvent(tree.root, proof, event_hash, id_key, Account.create().address)
    )


@pytest.fixture(scope="module")
def recorder(chain: ChainClient, anchor: Contract, admin: LocalAccount) -> LocalAccount:
    """One recording member for the property test (fixtures are not re-run per example)."""
    signer: LocalAccount = Account.create()
    chain.transact(admin, anchor.functions.admitMember(os.urandom(32), RECORDER, signer.address))
    return signer


@settings(max_examples=25, deadline=None)
@given(size=st.integers(min_value=1, max_value=70), pick=st.integers(min_value=0, max_value=69))
def test_proofs_of_every_tree_shape_verify_on_chain(
    chain: ChainClient, anchor: Contract, recorder: LocalAccount, size: int, pick: int
) -> None:
    events = [(os.urandom(32), os.urandom(32)) for _ in range(size)]
    leaves = [leaf_hash(h, k, recorder.address) for h, k in events]
    tree = MerkleTree.build(leaves)
    chain.transact(recorder, anchor.functions.anchorBatch(tree.root, size))
    event_hash, id_key = events[pick % size]
    proof = tree.proof(leaves[pick % size])
    assert verify(proof, tree.root, leaves[pick % size])
    assert chain.call(
        anchor.functions.verifyEvent(tree.root, proof, event_hash, id_key, recorder.address)
    )
    assert not chain.call(
        anchor.functions.verifyEvent(tree.root, proof, os.urandom(32), id_key, recorder.address)
    )


# ---------------------------------------------------------------- EIP-712


def test_eip712_event_signature_recovers_the_member(
    chain: ChainClient, anchor: Contract, deployment: Deployment, admit: Admit
) -> None:
    oid, member = admit()
    event_hash, id_key = os.urandom(32), os.urandom(32)
    typed = {
        "domain": {
            "name": "tracechain",
            "version": "1",
            "chainId": chain.chain_id,
            "verifyingContract": deployment.anchor_address,
        },
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            "TraceEvent": [
                {"name": "eventHash", "type": "bytes32"},
                {"name": "idKey", "type": "bytes32"},
            ],
        },
        "primaryType": "TraceEvent",
        "message": {"eventHash": event_hash, "idKey": id_key},
    }
    signed = member.sign_message(encode_typed_data(full_message=typed))
    assert chain.call(anchor.functions.eventDigest(event_hash, id_key)) == signed.message_hash
    signer, signer_org = chain.call(
        anchor.functions.eventSigner(event_hash, id_key, signed.signature)
    )
    assert (signer, signer_org) == (member.address, oid)
    other, _ = chain.call(anchor.functions.eventSigner(os.urandom(32), id_key, signed.signature))
    assert other != member.address
