"""The chain side of the audit: TraceAnchor's logs and state read through plain JSON-RPC
(``eth_getLogs`` / ``eth_call`` / ``eth_getTransactionByHash`` through
:class:`~ledger.chain.ChainClient`), never through our API or our verification code.

The logs are read in block ranges of ``settings.chain.logs_block_range`` (Besu and anvil cap
``eth_getLogs``), keeping a map of anchored roots (:class:`ChainView`), which grows with
batches, not events.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from eth_utils.address import to_checksum_address
from hexbytes import HexBytes
from web3.contract import Contract

from ledger.chain import ChainClient

__all__ = [
    "NO_ORG_ID",
    "RPC_CHUNK",
    "Anchor",
    "ChainReader",
    "ChainView",
    "EventAnchor",
    "to_hex",
]

#: Hashes per JSON-RPC batch request and per ``IN (...)`` list.
RPC_CHUNK: Final = 200
_ANCHOR_EVENTS: Final = ("BatchAnchored", "EventAnchored", "Recalled", "RecallLifted")
_MEMBER_EVENTS: Final = ("SignerAdded", "SignerRevoked")


def to_hex(value: bytes) -> str:
    """``value`` as 0x-hex, the form roots, keys and hashes are recorded in."""
    return "0x" + bytes(value).hex()


#: The organisation id ``batchOf`` gives for a root nobody anchored (32 zero bytes, 0x-hex).
NO_ORG_ID: Final = to_hex(b"\0" * 32)


@dataclass(frozen=True, slots=True)
class Anchor:
    """A ``BatchAnchored`` log."""

    root: str
    member: int
    count: int
    tx_hash: str
    block: int


@dataclass(frozen=True, slots=True)
class EventAnchor:
    """An ``EventAnchored`` log."""

    id_key: str
    event_hash: str
    member: int
    tx_hash: str
    block: int


@dataclass(slots=True)
class ChainView:
    """What a scan of a block range found."""

    anchors: dict[str, Anchor] = field(default_factory=dict)
    event_anchors: list[EventAnchor] = field(default_factory=list)
    recalls: list[dict[str, Any]] = field(default_factory=list)
    #: signer address -> [(member number, added block, revoked block or None)]
    signers: dict[str, list[list[Any]]] = field(default_factory=lambda: defaultdict(list))
    blocks: int = 0

    def signer_at(self, address: str, member: int, block: int) -> bool:
        """Whether ``address`` was a signing address of ``member`` at ``block``."""
        for owner, added, revoked in self.signers.get(address, []):
            if owner == member and added <= block and (revoked is None or revoked > block):
                return True
        return False


class ChainReader:
    """Logs and state of TraceAnchor through standard JSON-RPC."""

    def __init__(
        self, chain: ChainClient, contract: Contract, logs_block_range: int | None = None
    ) -> None:
        self.chain = chain
        self.contract = contract
        #: Blocks per eth_getLogs (None: ``settings.chain.logs_block_range``).
        self.logs_block_range = logs_block_range
        self._org_ids: dict[int, str] = {}

    def logs(self, names: Sequence[str], start: int, end: int) -> Iterator[Any]:
        """Decoded logs of ``names`` in blocks [start, end], block range by block range."""
        return self.chain.events(
            self.contract, names, start, end, block_range=self.logs_block_range
        )

    def scan(self, deploy_block: int, start: int, end: int) -> ChainView:
        """Anchors and recalls in [start, end]; signer history from the deployment on."""
        view = ChainView()
        if start > deploy_block:
            for log in self.logs(_MEMBER_EVENTS, deploy_block, start - 1):
                self._member_log(view, log)
        names = _ANCHOR_EVENTS + _MEMBER_EVENTS
        for log in self.logs(names, start, end):
            name = log["event"]
            args = log["args"]
            tx = HexBytes(log["transactionHash"]).to_0x_hex()
            block = int(log["blockNumber"])
            if name == "BatchAnchored":
                root = to_hex(args["root"])
                view.anchors[root] = Anchor(
                    root, int(args["member"]), int(args["count"]), tx, block
                )
            elif name == "EventAnchored":
                view.event_anchors.append(
                    EventAnchor(
                        to_hex(args["idKey"]),
                        to_hex(args["eventHash"]),
                        int(args["member"]),
                        tx,
                        block,
                    )
                )
            elif name in ("Recalled", "RecallLifted"):
                view.recalls.append(
                    {
                        "action": "recall" if name == "Recalled" else "lift",
                        "identifier": args.get("identifier"),
                        "id_key": to_hex(args["idKey"]),
                        "member": int(args["member"]),
                        "reason_hash": to_hex(args["reasonHash"]),
                        "tx_hash": tx,
                        "block": block,
                    }
                )
            else:
                self._member_log(view, log)
        view.blocks = max(0, end - start + 1)
        return view

    @staticmethod
    def _member_log(view: ChainView, log: Any) -> None:
        args = log["args"]
        signer = to_checksum_address(args["signer"])
        if log["event"] == "SignerAdded":
            view.signers[signer].append([int(args["member"]), int(log["blockNumber"]), None])
        else:
            for entry in view.signers.get(signer, []):
                if entry[2] is None:
                    entry[2] = int(log["blockNumber"])

    def org_id(self, member: int) -> str:
        """The organisation id of a member number (``orgIdOf``, cached)."""
        if member not in self._org_ids:
            self._org_ids[member] = to_hex(self.chain.call(self.contract.functions.orgIdOf(member)))
        return self._org_ids[member]

    def senders(self, tx_hashes: Iterable[str]) -> dict[str, str | None]:
        """``from`` of each transaction (None for one the node does not know)."""
        hashes = sorted(set(tx_hashes))
        out: dict[str, str | None] = {}
        for start in range(0, len(hashes), RPC_CHUNK):
            chunk = hashes[start : start + RPC_CHUNK]
            for h, tx in zip(chunk, self.chain.transactions(chunk), strict=True):
                out[h] = None if tx is None else tx.sender
        return out

    def batch_of(self, root: str) -> tuple[str, int, int]:
        """(org id, block, count) of a root from ``batchOf`` (:data:`NO_ORG_ID`: not
        anchored)."""
        org, block, count = self.chain.call(self.contract.functions.batchOf(HexBytes(root)))
        return to_hex(org), int(block), int(count)

    def anchor_at(self, root: str, block: int) -> Anchor | None:
        """The ``BatchAnchored`` log of ``root`` in ``block``."""
        for log in self.logs(("BatchAnchored",), block, block):
            if to_hex(log["args"]["root"]) == root:
                return Anchor(
                    root,
                    int(log["args"]["member"]),
                    int(log["args"]["count"]),
                    HexBytes(log["transactionHash"]).to_0x_hex(),
                    block,
                )
        return None
