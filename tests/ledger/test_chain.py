"""The chain client's reads against the real anvil devnet: paged logs, batches, transactions,
and ChainError (never a requests or web3 exception) from a node nobody runs."""

from __future__ import annotations

from typing import Any

import pytest
from hexbytes import HexBytes
from web3.contract import Contract

from ledger.chain import ChainClient, RpcRequest, Transaction, TxState, event_topics
from ledger.deployment import Deployment
from ledger.errors import ChainError
from ledger.settings import get_settings
from tests.helpers import free_port, signed_transfer
from tests.ledger.conftest import MakeMember

#: An unknown transaction hash (nobody signed anything hashing to it).
UNKNOWN_TX = "0x" + "ab" * 32


def _key(log: Any) -> tuple[str, int]:
    return HexBytes(log["transactionHash"]).to_0x_hex(), int(log["logIndex"])


@pytest.fixture
def busy_range(
    make_member: MakeMember, chain: ChainClient, deployment: Deployment
) -> tuple[int, int]:
    """Blocks [deployment, head] after admitting members: logs spread over many blocks."""
    for _ in range(4):
        make_member("Paged Logs Ltd")
    return deployment.contracts["TraceAnchor"].block, chain.block_number()


def test_paged_logs_equal_one_big_query(
    chain: ChainClient, anchor: Contract, busy_range: tuple[int, int]
) -> None:
    start, end = busy_range
    whole = list(chain.logs(anchor.address, [], start, end, block_range=end - start + 1))
    blocks = {int(log["blockNumber"]) for log in whole}
    assert len(blocks) >= 4  # so that pages of 1 to 3 blocks split the logs several ways
    for step in (1, 2, 3):
        assert list(chain.logs(anchor.address, [], start, end, block_range=step)) == whole
    default = get_settings().chain.logs_block_range
    assert list(chain.logs(anchor.address, [], start, end)) == list(
        chain.logs(anchor.address, [], start, end, block_range=default)
    )
    by_block = [int(log["blockNumber"]) for log in whole]
    assert by_block == sorted(by_block)


def test_paged_events_are_decoded_and_filtered(
    chain: ChainClient, anchor: Contract, busy_range: tuple[int, int]
) -> None:
    start, end = busy_range
    names = ("MemberAdmitted", "SignerAdded")
    paged = list(chain.events(anchor, names, start, end, block_range=2))
    assert paged == list(chain.events(anchor, names, start, end, block_range=10**9))
    assert {log["event"] for log in paged} == set(names)
    raw = [
        log
        for log in chain.logs(anchor.address, [], start, end)
        if event_topics(anchor.abi).get(bytes(log["topics"][0])) in names
    ]
    assert [_key(log) for log in paged] == [_key(log) for log in raw]
    admitted = [log for log in paged if log["event"] == "MemberAdmitted"]
    assert len(admitted) >= 3
    assert all(len(bytes(log["args"]["orgId"])) == 32 for log in admitted)
    assert list(chain.events(anchor, (), start, end)) == []


def test_batch_answers_in_request_order(chain: ChainClient, busy_range: tuple[int, int]) -> None:
    start, end = busy_range
    numbers = [end, start, end - 1, start + 1]
    requests = [RpcRequest("eth_getBlockByNumber", (hex(n), False)) for n in numbers]
    requests.insert(2, RpcRequest("tracechain_noSuchMethod", ()))
    answers = chain.batch(requests)
    assert len(answers) == 5
    assert answers[2].error is not None
    assert answers[2].result is None
    blocks = [a for n, a in enumerate(answers) if n != 2]
    assert [int(a.result["number"], 16) for a in blocks] == numbers
    assert [a.result["hash"] for a in blocks] == [chain.block_hash(n) for n in numbers]
    assert chain.batch([]) == []


def test_batched_calls_and_transactions(
    chain: ChainClient, anchor: Contract, busy_range: tuple[int, int]
) -> None:
    start, end = busy_range
    logs = list(chain.events(anchor, ("MemberAdmitted",), start, end))
    org_ids = [bytes(log["args"]["orgId"]) for log in logs]
    member_info = chain.view(anchor, "memberInfo")
    infos = chain.calls(member_info, [(org,) for org in reversed(org_ids)])
    assert infos == [
        tuple(chain.call(anchor.functions.memberInfo(org))) for org in reversed(org_ids)
    ]

    hashes = [HexBytes(log["transactionHash"]).to_0x_hex() for log in logs]
    asked = [hashes[-1], UNKNOWN_TX, "not a hash", hashes[0]]
    found = chain.transactions(asked)
    assert found[1] is None
    assert found[2] is None
    for tx_hash, tx in ((hashes[-1], found[0]), (hashes[0], found[3])):
        assert isinstance(tx, Transaction)
        receipt = chain.receipt(tx_hash)
        assert receipt is not None
        assert tx.hash == tx_hash
        assert tx.sender == receipt["from"]
        assert tx.to == anchor.address
        assert tx.block_number == receipt["blockNumber"]
        assert tx.input[:4] == chain.view(anchor, "admitMember").selector
    assert chain.transaction(hashes[0]) == found[3]
    assert chain.transaction(UNKNOWN_TX) is None


def test_unreachable_node_raises_chain_error(anchor: Contract) -> None:
    down = ChainClient(f"http://127.0.0.1:{free_port()}", timeout=2.0)
    with pytest.raises(ChainError):
        down.block_number()
    with pytest.raises(ChainError):
        list(down.logs(anchor.address, [], 0, 10, block_range=3))
    with pytest.raises(ChainError):
        list(down.events(anchor, ("BatchAnchored",), 0, 10))
    with pytest.raises(ChainError):
        down.batch([RpcRequest("eth_blockNumber", ())])
    with pytest.raises(ChainError):
        down.calls(down.view(anchor, "batchOf"), [(b"\0" * 32,)])
    with pytest.raises(ChainError):
        down.transaction(UNKNOWN_TX)
    with pytest.raises(ChainError):
        down.transactions([UNKNOWN_TX, UNKNOWN_TX])


class _MinesAfterReading(ChainClient):
    """A client whose node mines a block right after it answers a transaction look-up: the
    moment between ``tx_state``'s questions where a pending transaction gets mined."""

    def transaction(self, tx_hash: bytes | str) -> Transaction | None:
        found = super().transaction(tx_hash)
        self.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
        return found


def test_a_transaction_mined_between_the_questions_is_mined_not_dropped(
    chain: ChainClient,
) -> None:
    """``tx_state`` reads the transaction (pending), then its sender's mined count; when the
    node mines it in between, the count has passed its nonce. That is not "another transaction
    took its nonce": it is mined (seen as a silent lost round of the anchor worker on a loaded
    machine)."""
    provider = chain.w3.provider
    provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
    try:
        tx_hash = chain.broadcast(signed_transfer(chain.chain_id))
        # Next in line (its nonce is the mined count): pending, whatever the pool's count says.
        assert chain.tx_state(tx_hash) is TxState.PENDING
        racing = _MinesAfterReading(chain.rpc_url)
        assert racing.tx_state(tx_hash) is TxState.MINED
    finally:
        provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]
    assert chain.tx_state(tx_hash) is TxState.MINED
