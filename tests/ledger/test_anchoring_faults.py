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
from ledger.store.models import AnchorBatch, metadata
from tests.helpers import sgtin_event
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
