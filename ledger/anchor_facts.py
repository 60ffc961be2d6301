"""What the chain says about anchored batches, read in one JSON-RPC batch per trail and cached
per batch root.

A batch root's on-chain record (``batchOf``: member, block, count) and its ``anchorBatch``
transaction (sender, contract, block, input) never change while the block holding them stays on
the canonical chain: the transaction hash commits to sender, contract and input, and the
contract never forgets or re-anchors a root. So :class:`AnchorRecordCache` keeps them
process-wide, keyed by the root and the recorded transaction hash, with the hash of the block
they are in; a later verification reuses an entry only after asking the chain, in the same
batch as everything else it reads, for that block's hash (one ``eth_getBlockByNumber`` per
distinct block) and finding it unchanged. A chain that lost blocks (a devnet killed before its
state dump), a reorganisation, or a reset therefore drops the entry and reads the root afresh,
whatever the anchor worker has noticed yet. Only complete records are cached: the root anchored,
the transaction mined in the block ``batchOf`` names.

What is never cached: the event rows themselves (their content, Merkle proof and leaf are
checked on every verification), recalls, prefix owners and signing keys (read in the same batch
each time, as they can change).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from ledger.chain import RpcAnswer, RpcRequest, Transaction, ViewFunction
from ledger.chain import transaction_request as transaction_request

#: Batch records kept per process (a record is ~300 bytes; a batch holds up to 2,000 events).
CACHE_SIZE: Final = 8_192
_ZERO: Final = b"\0" * 32


@dataclass(frozen=True, slots=True)
class AnchorRecord:
    """The chain's facts about one batch root and the transaction recorded for it."""

    #: ``batchOf(root)``: the anchoring member (32 zero bytes when the root is not anchored),
    #: its block and event count.
    org: bytes
    block: int
    count: int
    #: The recorded transaction, as the chain has it (all None when it is not on the chain).
    tx_found: bool
    tx_from: str | None = None
    tx_to: str | None = None
    tx_block: int | None = None
    tx_block_hash: str | None = None
    #: Whether the transaction's input is ``anchorBatch(root, ...)``.
    anchors_root: bool = False

    @property
    def complete(self) -> bool:
        """Anchored, with its transaction mined in the block ``batchOf`` names: immutable for
        as long as that block is canonical."""
        return (
            self.org != _ZERO
            and self.tx_found
            and self.tx_block == self.block
            and self.tx_block_hash is not None
        )


CacheKey = tuple[int, str, str, str]


class AnchorRecordCache:
    """A bounded, thread-safe LRU of complete :class:`AnchorRecord` s, keyed by
    ``(chain id, anchor contract, root, tx hash)``."""

    def __init__(self, maxsize: int = CACHE_SIZE) -> None:
        self.maxsize = maxsize
        self._entries: OrderedDict[CacheKey, AnchorRecord] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: CacheKey) -> AnchorRecord | None:
        """The record under ``key`` (to be confirmed canonical before use), if cached."""
        with self._lock:
            record = self._entries.get(key)
            if record is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return record

    def put(self, key: CacheKey, record: AnchorRecord) -> None:
        """Keep ``record`` (complete records only)."""
        if not record.complete:
            return
        with self._lock:
            self._entries[key] = record
            self._entries.move_to_end(key)
            while len(self._entries) > self.maxsize:
                self._entries.popitem(last=False)

    def drop(self, key: CacheKey) -> None:
        """Forget ``key`` (its block is no longer canonical)."""
        with self._lock:
            self._entries.pop(key, None)

    def drop_root(self, root: str) -> None:
        """Forget every record of ``root`` (a batch the anchor worker found lost)."""
        with self._lock:
            for key in [k for k in self._entries if k[2] == root.lower()]:
                del self._entries[key]

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


#: The process-wide cache every :class:`ledger.verify.Verifier` shares.
RECORDS = AnchorRecordCache()


def cache_key(chain_id: int, anchor: str, root: str, tx_hash: str) -> CacheKey:
    """The cache key of a root and its recorded transaction (case-normalised)."""
    return (chain_id, anchor.lower(), root.lower(), tx_hash.lower())


def block_request(block: int) -> RpcRequest:
    """``eth_getBlockByNumber(block)`` without its transactions (for its hash)."""
    return RpcRequest("eth_getBlockByNumber", (hex(block), False))


def block_hash_of(answer: RpcAnswer) -> str | None:
    """The hash in an answer to :func:`block_request` (None: no such block, or an error)."""
    if answer.error is not None or not isinstance(answer.result, Mapping):
        return None
    value = answer.result.get("hash")
    return str(value).lower() if value else None


def anchor_record(
    batch_of: tuple[Any, ...],
    transaction: RpcAnswer,
    *,
    root: str,
    anchor_batch: ViewFunction,
) -> AnchorRecord:
    """An :class:`AnchorRecord` from the decoded ``batchOf(root)`` and the raw answer to
    :func:`transaction_request` (``anchor_batch`` decodes the transaction's input)."""
    org, block, count = bytes(batch_of[0]), int(batch_of[1]), int(batch_of[2])
    try:
        if transaction.error is not None or not isinstance(transaction.result, Mapping):
            raise ValueError("no transaction")
        tx = Transaction.from_json(transaction.result)
    except ValueError:
        return AnchorRecord(org, block, count, tx_found=False)
    anchors = False
    if tx.input[:4] == anchor_batch.selector:
        try:
            args = anchor_batch.decode_input(tx.input[4:])
            anchors = "0x" + bytes(args[0]).hex() == root.lower()
        except ValueError:
            anchors = False
    return AnchorRecord(
        org,
        block,
        count,
        tx_found=True,
        tx_from=tx.sender,
        tx_to=tx.to,
        tx_block=tx.block_number,
        tx_block_hash=tx.block_hash,
        anchors_root=anchors,
    )
