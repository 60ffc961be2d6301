"""A trail's chain reads (issue 11, item 6): one JSON-RPC batch per trail, batch roots' on-chain
records cached per process and reused only while their block is canonical; the cache never
lets a tampered row pass. Real anvil (the session devnet, and a throwaway one for the lost
blocks), real SQLite."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from devnet.launcher import Devnet
from ledger import anchor_facts
from ledger.anchor_facts import AnchorRecord, AnchorRecordCache
from ledger.chain import ChainClient, RpcAnswer, RpcRequest
from ledger.deployment import Deployment
from ledger.membership import Member, Membership
from ledger.store.models import AnchorBatch, Event, OrgRole, metadata
from ledger.verify import Verifier
from ledger.visibility import Reader
from tests.conftest import devnet_settings
from tests.helpers import anchor_all, free_port, sgtin_event, unique_prefix
from tests.ledger.conftest import Capture, MakeMember
from wallets.keyring import Keyring
from wallets.keystore import SCRYPT_N_LIGHT
from wallets.signer import as_signer

#: Trails read as the operator (every event); visibility has tests of its own.
OPERATOR = Reader.operator()

_event = metadata.tables[Event.__tablename__]
_batch = metadata.tables[AnchorBatch.__tablename__]


class CountingChain(ChainClient):
    """The real chain client, noting the methods of each batch it sends."""

    def __init__(self, rpc_url: str) -> None:
        super().__init__(rpc_url)
        self.batches: list[list[str]] = []

    def batch(self, requests: Sequence[RpcRequest]) -> list[RpcAnswer]:
        self.batches.append([r.method for r in requests])
        return super().batch(requests)


@pytest.fixture(autouse=True)
def empty_cache() -> Iterator[None]:
    anchor_facts.RECORDS.clear()
    yield
    anchor_facts.RECORDS.clear()


def item_trail(
    make_member: MakeMember, capture: Capture, *, steps: Sequence[str]
) -> tuple[Member, str, list[int]]:
    """A member commissioning an item under its own prefix, then ``steps``; the EPC and pks."""
    gcp = unique_prefix("08")
    member = make_member("Trail Owner", prefixes=(gcp,))
    events = [
        sgtin_event("T1", company_prefix=gcp, biz_step=step, offset_minutes=n)
        for n, step in enumerate(steps)
    ]
    result = capture(member, events)
    return member, f"urn:epc:id:sgtin:{gcp}.812345.T1", [r.event_pk for r in result.events]


def test_a_trail_reads_the_chain_in_one_batch(
    engine: Engine,
    chain: ChainClient,
    deployment: Deployment,
    keyring: Keyring,
    make_member: MakeMember,
    capture: Capture,
) -> None:
    """Events of two batches: the first verification reads both roots and their transactions,
    the recalls and the prefix owner in one batch; the next one (the records cached) asks
    only for the two blocks' hashes instead, again in one batch."""
    member, epc, _ = item_trail(make_member, capture, steps=["commissioning"])
    anchor_all(engine, chain.rpc_url, deployment, keyring)
    capture(member, [sgtin_event("T1", company_prefix=epc.split(":")[4].split(".")[0],
                                 biz_step="shipping", offset_minutes=9)])  # fmt: skip
    anchor_all(engine, chain.rpc_url, deployment, keyring)
    counting = CountingChain(chain.rpc_url)
    verifier = Verifier(engine, counting, deployment)
    first = verifier.verify_identifier(epc, reader=OPERATOR)
    assert first.verdict == "verified", [e.verification.reasons for e in first.events]
    assert len({e.verification.root for e in first.events}) == 2
    assert len(counting.batches) == 1
    methods = counting.batches[0]
    assert methods.count("eth_getTransactionByHash") == 2
    assert methods.count("eth_call") == 2 + 2 + 1  # batchOf x2, recallOf item + class, owner
    assert "eth_getBlockByNumber" not in methods
    assert len(anchor_facts.RECORDS) == 2

    counting.batches.clear()
    again = verifier.verify_identifier(epc, reader=OPERATOR)
    assert again.verdict == "verified"
    assert len(counting.batches) == 1
    methods = counting.batches[0]
    assert methods.count("eth_getBlockByNumber") == 2
    assert "eth_getTransactionByHash" not in methods
    assert methods.count("eth_call") == 3  # recalls and the prefix owner: never cached


def test_a_cached_record_never_passes_a_tampered_row(
    engine: Engine,
    chain: ChainClient,
    deployment: Deployment,
    keyring: Keyring,
    make_member: MakeMember,
    capture: Capture,
) -> None:
    """With the batch's record cached, a changed event, proof, block or transaction in the
    database is still found: the row is checked on every verification, only the chain's facts
    about the root come from the cache."""
    _member, epc, pks = item_trail(make_member, capture, steps=["commissioning", "packing"])
    anchor_all(engine, chain.rpc_url, deployment, keyring)
    verifier = Verifier(engine, chain, deployment)
    assert verifier.verify_identifier(epc, reader=OPERATOR).verdict == "verified"
    assert len(anchor_facts.RECORDS) == 1
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(_event.c.captured_json, _event.c.proof, _event.c.batch_id).where(
                _event.c.id == pks[1]
            )
        ).one()
        batch = conn.execute(sa.select(_batch).where(_batch.c.id == row.batch_id)).one()

    def status_after(table: Any, key: int, **values: Any) -> tuple[str, tuple[str, ...]]:
        with engine.begin() as conn:
            original = conn.execute(sa.select(table).where(table.c.id == key)).one()._mapping
            conn.execute(table.update().where(table.c.id == key).values(**values))
        try:
            trail = verifier.verify_identifier(epc, reader=OPERATOR)
        finally:
            with engine.begin() as conn:
                restore = {k: original[k] for k in values}
                conn.execute(table.update().where(table.c.id == key).values(**restore))
        entry = next(e for e in trail.events if e.verification.event_pk == pks[1])
        assert trail.verdict == "tampered"
        return entry.verification.status, entry.verification.reasons

    changed = str(row.captured_json).replace("packing", "shipping")
    assert status_after(_event, pks[1], captured_json=changed)[0] == "tampered"
    proof = list(row.proof)
    assert status_after(_event, pks[1], proof=[*proof, "0x" + "11" * 32])[0] == "tampered"
    status, reasons = status_after(_batch, batch.id, block_number=batch.block_number + 1)
    assert status == "tampered"
    assert f"the root is in block {batch.block_number}, but block {batch.block_number + 1}" in (
        " ".join(reasons)
    )
    other = "0x" + "ab" * 32
    status, reasons = status_after(_batch, batch.id, tx_hash=other)
    assert reasons == (f"the anchoring transaction {other} is not on the chain",)
    assert verifier.verify_identifier(epc, reader=OPERATOR).verdict == "verified"


@pytest.fixture
def own_devnet(tmp_path: Path) -> Iterator[Devnet]:
    """A throwaway devnet whose blocks this test may take back (evm_snapshot/evm_revert)."""
    net = Devnet(devnet_settings(tmp_path / "devnet"), key_work_factor=SCRYPT_N_LIGHT)
    net.up()
    yield net
    net.down()


def test_a_lost_block_drops_the_cached_record(
    engine: Engine, keyring: Keyring, own_devnet: Devnet, capture: Capture
) -> None:
    """The chain loses the block that anchored a batch (as when anvil is killed before its
    state dump) and mines others at its height: the cached record is not reused, the root is
    read again and the event is no longer verified."""
    chain = ChainClient(own_devnet.rpc_url)
    deployment = Deployment.load(own_devnet.paths.deployment)
    membership = Membership(
        engine, chain, deployment, keyring, as_signer(own_devnet.admin_account())
    )
    gcp = unique_prefix("08")
    member = membership.admit(f"Lost Blocks {gcp}", OrgRole.RECORDER, prefixes=(gcp,))
    capture(member, [sgtin_event("L1", company_prefix=gcp)])
    epc = f"urn:epc:id:sgtin:{gcp}.812345.L1"
    snapshot = chain.w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    anchor_all(engine, own_devnet.rpc_url, deployment, keyring)
    verifier = Verifier(engine, chain, deployment)
    assert verifier.verify_identifier(epc, reader=OPERATOR).verdict == "verified"
    ((key, record),) = list(anchor_facts.RECORDS._entries.items())
    assert record.complete

    assert chain.w3.provider.make_request("evm_revert", [snapshot])["result"] is True  # type: ignore[arg-type]
    for _ in range(3):
        chain.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    assert chain.block_hash(record.block) != record.tx_block_hash
    trail = verifier.verify_identifier(epc, reader=OPERATOR)
    (entry,) = trail.events
    assert entry.verification.status == "tampered"
    assert entry.verification.reasons == (
        f"the batch root {entry.verification.root} is not anchored on the chain",
    )
    assert anchor_facts.RECORDS.get(key) is None


def test_the_cache_is_bounded_and_keeps_only_complete_records() -> None:
    """LRU: the least recently used record goes first; a record of a root not anchored, or of a
    transaction not mined in the root's block, is never kept."""
    cache = AnchorRecordCache(maxsize=2)

    def record(block: int, **changes: Any) -> AnchorRecord:
        values: dict[str, Any] = {
            "org": b"\1" * 32, "block": block, "count": 1, "tx_found": True,
            "tx_block": block, "tx_block_hash": "0x" + "aa" * 32, "anchors_root": True,
        }  # fmt: skip
        values.update(changes)
        return AnchorRecord(**values)

    keys = [(1, "0xa", f"0x{n}", "0xt") for n in range(3)]
    cache.put(keys[0], record(1))
    cache.put(keys[1], record(2))
    assert cache.get(keys[0]) is not None  # now the most recent
    cache.put(keys[2], record(3))
    assert cache.get(keys[1]) is None
    assert cache.get(keys[0]) is not None
    assert cache.get(keys[2]) is not None
    cache.clear()
    cache.put(keys[0], record(1, org=b"\0" * 32))
    cache.put(keys[1], record(1, tx_block=2))
    cache.put(keys[2], record(1, tx_found=False))
    assert len(cache) == 0


def test_an_unreachable_chain_makes_the_trail_unknown(
    engine: Engine,
    chain: ChainClient,
    deployment: Deployment,
    keyring: Keyring,
    make_member: MakeMember,
    capture: Capture,
) -> None:
    """No node answers: every anchored event and the recall state are unknown (one failed
    batch, no attempt per event), and nothing is cached; a node answering again verifies."""
    _member, epc, _ = item_trail(make_member, capture, steps=["commissioning", "packing"])
    anchor_all(engine, chain.rpc_url, deployment, keyring)
    down = CountingChain(f"http://127.0.0.1:{free_port()}")
    down._chain_id = chain.chain_id  # known from before the node went away
    trail = Verifier(engine, down, deployment).verify_identifier(epc, reader=OPERATOR)
    assert trail.verdict == "unknown"
    assert {e.verification.status for e in trail.events} == {"unknown"}
    assert all(e.verification.reasons[0].startswith("chain unreachable: ") for e in trail.events)
    assert trail.reasons[0].startswith("recall status unknown: ")
    assert len(down.batches) == 1
    assert len(anchor_facts.RECORDS) == 0
    assert (
        Verifier(engine, chain, deployment).verify_identifier(epc, reader=OPERATOR).verdict
        == "verified"
    )


def test_a_batch_answers_each_request_or_says_why(chain: ChainClient, anchor: Any) -> None:
    """Answers come back in request order; a request the node refuses carries its error and
    leaves the others answered."""
    batch_of = chain.view(anchor, "batchOf")
    answers = chain.batch(
        [
            RpcRequest("eth_chainId", ()),
            RpcRequest("eth_noSuchMethod", ()),
            batch_of.request(b"\0" * 32),
        ]
    )
    assert int(answers[0].result, 16) == chain.chain_id
    assert answers[1].error is not None
    assert batch_of.decode(answers[2]) == (b"\0" * 32, 0, 0)
    assert chain.batch([]) == []
