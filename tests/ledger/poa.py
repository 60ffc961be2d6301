"""Proof-of-authority block headers on the real anvil devnet.

anvil mines blocks with an empty ``extraData`` and ignores a genesis file's, but it keeps every
block of a dumped state, header as written. :func:`make_poa_shaped` rewrites a stopped devnet's
dump as the same chain would look sealed by Clique or QBFT validators: every header's
``extraData`` in that engine's layout, each block hash recomputed (keccak256 of the RLP header,
as anvil computes it when it loads the dump), each child's ``parentHash`` and each transaction's
block hash following, and the deployment record's genesis hash with them (the record a
deployment on that chain would have written). The restarted anvil then serves those headers
over plain JSON-RPC like a Clique or Besu QBFT node does.

Layouts (what the nodes write, checked by :func:`clique_extra_data` and
:func:`qbft_extra_data`'s callers):

- Clique (EIP-225): 32 bytes of vanity, the signers' addresses in the genesis block only, and a
  65-byte seal (zero in the genesis): 97 bytes in every sealed block.
- QBFT (Besu ``QbftExtraDataCodec``): ``RLP([vanity (32 bytes), [validators], vote ([] for
  none), round (an integer scalar, 0 is empty bytes), [committed seals (65 bytes each)]])``;
  the genesis has no seals.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final

import rlp
from eth_utils import keccak

from ledger.deployment import Deployment

#: The header fields in their RLP order (London to Prague); a header holds a prefix of them.
HEADER_FIELDS: Final = (
    "parentHash", "sha3Uncles", "miner", "stateRoot", "transactionsRoot", "receiptsRoot",
    "logsBloom", "difficulty", "number", "gasLimit", "gasUsed", "timestamp", "extraData",
    "mixHash", "nonce", "baseFeePerGas", "withdrawalsRoot", "blobGasUsed", "excessBlobGas",
    "parentBeaconBlockRoot", "requestsHash",
)  # fmt: skip
_SCALARS: Final = frozenset(
    {"difficulty", "number", "gasLimit", "gasUsed", "timestamp", "baseFeePerGas"}
    | {"blobGasUsed", "excessBlobGas"}
)
VANITY: Final = b"tracechain poa test".ljust(32, b"\0")
#: Four validators (addresses only; nothing signs with them).
VALIDATORS: Final = tuple(bytes([0x10 + n]) * 20 for n in range(4))


def header_hash(header: dict[str, Any]) -> str:
    """The block hash of a JSON header: keccak256 of its RLP encoding."""
    items: list[int | bytes] = []
    for name in HEADER_FIELDS:
        value = header.get(name)
        if value is None:
            break
        items.append(int(value, 16) if name in _SCALARS else bytes.fromhex(value[2:]))
    return "0x" + keccak(rlp.encode(items)).hex()


def clique_extra_data(number: int) -> bytes:
    """A Clique header's extraData: signers in the genesis only, a (fake) seal after it."""
    if number == 0:
        return VANITY + b"".join(VALIDATORS) + bytes(65)
    return VANITY + bytes([number % 256]) * 65


def qbft_extra_data(number: int) -> bytes:
    """A Besu QBFT header's extraData: no seals in the genesis, three committed seals after."""
    seals = [] if number == 0 else [bytes([n, number % 256]) * 32 + b"\x1b" for n in range(3)]
    return rlp.encode([VANITY, list(VALIDATORS), [], b"", seals])


def decode_qbft(extra: bytes) -> tuple[bytes, list[bytes], list[Any], int, list[bytes]]:
    """The five QBFT fields of ``extra`` (raises when it is not that layout)."""
    vanity, validators, vote, round_, seals = rlp.decode(extra)
    return vanity, list(validators), list(vote), int.from_bytes(round_, "big"), list(seals)


ExtraData = Callable[[int], bytes]
SHAPES: Final[dict[str, ExtraData]] = {"clique": clique_extra_data, "qbft": qbft_extra_data}


def make_poa_shaped(state: Path, record: Path, extra_data: ExtraData) -> dict[str, str]:
    """Rewrite a stopped devnet's state dump (and its deployment record) so every block carries
    ``extra_data(number)``; the old block hashes mapped to the new ones."""
    dump = json.loads(state.read_text())
    blocks: Sequence[dict[str, Any]] = sorted(
        dump["blocks"], key=lambda b: int(b["header"]["number"], 16)
    )
    renamed: dict[str, str] = {}
    for block in blocks:
        header = block["header"]
        old = header_hash(header)
        header["parentHash"] = renamed.get(header["parentHash"], header["parentHash"])
        header["extraData"] = "0x" + extra_data(int(header["number"], 16)).hex()
        renamed[old] = header_hash(header)
    for tx in dump.get("transactions") or []:
        tx["block_hash"] = renamed.get(tx["block_hash"], tx["block_hash"])
    state.write_text(json.dumps(dump))
    deployment = Deployment.load(record)
    fresh = Deployment(
        chain_id=deployment.chain_id,
        genesis_hash=renamed.get(deployment.genesis_hash, deployment.genesis_hash),
        admin=deployment.admin,
        contracts=deployment.contracts,
        deployed_at=deployment.deployed_at,
    )
    fresh.save(record)
    return renamed
