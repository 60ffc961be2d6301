"""A batch transaction stuck behind a nonce gap is sent again with the chain's nonce; the stale
one runs later as a harmless ``AlreadyAnchored`` revert, and the root is anchored once."""

from __future__ import annotations

import time

import sqlalchemy as sa
from hexbytes import HexBytes
from sqlalchemy.engine import Engine

from ledger.anchoring import AnchorConfig, AnchorWorker
from ledger.chain import ChainClient, TxState
from ledger.deployment import Deployment
from ledger.identifiers.hashing import keccak256
from ledger.store.models import AnchorBatch, metadata
from tests.helpers import sgtin_event, signed_transfer
from tests.ledger.conftest import Capture, MakeMember
from wallets.keyring import Keyring

_batch = metadata.tables[AnchorBatch.__tablename__]


def test_a_queued_batch_transaction_is_replaced_by_one_with_the_chains_nonce(
    engine: Engine,
    chain: ChainClient,
    deployment: Deployment,
    keyring: Keyring,
    make_member: MakeMember,
    capture: Capture,
) -> None:
    member = make_member()
    capture(member, [sgtin_event() for _ in range(4)])
    worker = AnchorWorker(
        engine, chain, deployment, keyring, AnchorConfig(max_wait_s=0.01, tx_stuck_s=0.2)
    )
    batch = worker._prepare(member.id, force=True)
    assert batch is not None
    # The batch's transaction went out with a nonce one past the chain's (as after lost blocks).
    signer = keyring.signer(member.org_id, batch.signer_address)
    anchor = chain.contract("TraceAnchor", deployment.anchor_address)
    gap = chain.w3.eth.get_transaction_count(signer.address, "pending") + 1
    tx = anchor.functions.anchorBatch(HexBytes(batch.root), batch.event_count).build_transaction(
        {"from": signer.address, "chainId": chain.chain_id, "gasPrice": 0, "nonce": gap}
    )
    stale = chain.broadcast(signer.sign_transaction(tx))
    with engine.begin() as conn:
        conn.execute(
            _batch.update().where(_batch.c.id == batch.id).values(status="sent", tx_hash=stale)
        )
    assert chain.tx_state(stale) is TxState.QUEUED
    assert worker.run_once(force=True) == 4
    with engine.connect() as conn:
        row = conn.execute(sa.select(_batch).where(_batch.c.id == batch.id)).one()
    assert row.status == "mined"
    assert row.tx_hash != stale
    # The gap is filled: the stale transaction ran and reverted; the root is anchored once.
    deadline = time.monotonic() + 30
    while chain.receipt(stale) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    receipt = chain.receipt(stale)
    assert receipt is not None
    assert receipt["status"] == 0
    logs = anchor.events.BatchAnchored().get_logs(
        from_block=row.block_number, argument_filters={"root": HexBytes(batch.root)}
    )
    assert [HexBytes(entry["transactionHash"]).to_0x_hex() for entry in logs] == [row.tx_hash]
    assert chain.tx_state(row.tx_hash) is TxState.MINED
    assert chain.tx_state("0x" + "ab" * 32) is TxState.DROPPED


class _MinedWhileUnknown(ChainClient):
    """A client on the real devnet that, the first time it finds ``raw``'s transaction unknown
    to the node, has the node take it and mine it: the moment while a node builds a block,
    when the transaction has left the pool and is in no stored block yet."""

    def __init__(self, rpc_url: str, raw: bytes) -> None:
        super().__init__(rpc_url)
        self.raw = raw
        self.unknown_looks = 0

    def tx_state(self, tx_hash: bytes | str) -> TxState:
        state = super().tx_state(tx_hash)
        if state is TxState.DROPPED:
            self.unknown_looks += 1
            if self.unknown_looks == 1:
                self.broadcast(self.raw)
                self.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
        return state


def test_a_transaction_unknown_for_a_moment_is_not_taken_for_dropped(
    engine: Engine,
    chain: ChainClient,
    deployment: Deployment,
    keyring: Keyring,
) -> None:
    """A round looks at its transaction again before calling it dropped: one look that finds
    it unknown (a node between pool and block) made a round anchor nothing (seen once in ten
    fresh-clone runs, ``test_batches_close_on_size_or_time``)."""
    raw = signed_transfer(chain.chain_id)
    tx_hash = "0x" + keccak256(raw).hex()
    racing = _MinedWhileUnknown(chain.rpc_url, raw)
    worker = AnchorWorker(engine, racing, deployment, keyring, AnchorConfig())
    state, receipt = worker._await(tx_hash)
    assert racing.unknown_looks == 1
    assert state is TxState.MINED
    assert receipt is not None
    assert receipt["status"] == 1
