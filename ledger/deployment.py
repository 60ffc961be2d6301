"""The deployment record: which chain our contracts live on, where, and with which code.

Written once when the contracts are deployed; checked against the chain on every start so that
a chain that was reset (another history, missing code or deployment transaction, fewer blocks)
is reported instead of being silently redeployed over, while a restarted chain is recognised.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ledger.chain import ChainClient, ChainIdentity, EndpointState
from ledger.errors import ConfigurationError


@dataclass(frozen=True, slots=True)
class DeployedContract:
    """One deployed contract."""

    address: str
    code_hash: str
    block: int
    tx_hash: str


@dataclass(frozen=True, slots=True)
class Deployment:
    """Where the contracts of one chain are."""

    chain_id: int
    genesis_hash: str
    admin: str
    contracts: dict[str, DeployedContract]
    deployed_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    @property
    def anchor_address(self) -> str:
        """The address of the TraceAnchor contract."""
        return self.contracts["TraceAnchor"].address

    def identity(self) -> ChainIdentity:
        """What every RPC endpoint of this chain must serve: its chain id, genesis and the
        code of each of our contracts."""
        return ChainIdentity(
            self.chain_id,
            self.genesis_hash,
            tuple(
                (c.address.lower(), c.code_hash.lower()) for _, c in sorted(self.contracts.items())
            ),
        )

    def endpoint_problems(self, client: ChainClient) -> list[str]:
        """Which of ``client``'s RPC endpoints serve another chain id, genesis or deployment
        than this record, each named; the client refuses them from now on. Empty for a client
        of one endpoint (:meth:`mismatches` checks that one)."""
        if len(client.rpc_urls) < 2:
            return []
        client.expect(self.identity())
        return [
            f"RPC endpoint {status.url} is refused: {status.reason}"
            for status in client.check_endpoints()
            if status.state is EndpointState.REFUSED
        ]

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Deployment:
        """Read a record written by :meth:`to_json`."""
        try:
            return cls(
                chain_id=int(data["chain_id"]),
                genesis_hash=str(data["genesis_hash"]),
                admin=str(data["admin"]),
                contracts={
                    name: DeployedContract(**entry) for name, entry in data["contracts"].items()
                },
                deployed_at=str(data["deployed_at"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigurationError(f"malformed deployment record: {exc}") from None

    def save(self, path: Path) -> None:
        """Write the record atomically."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n")
        with tmp.open("rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> Deployment:
        """Read the record at ``path``."""
        if not path.exists():
            raise ConfigurationError(f"no deployment record at {path}; run `tracechain devnet up`")
        try:
            data = json.loads(path.read_text())
        except ValueError as exc:
            raise ConfigurationError(f"malformed deployment record {path}: {exc}") from None
        return cls.from_json(data)

    def mismatches(self, client: ChainClient) -> list[str]:
        """How the chain behind ``client`` differs from this record (empty when it matches).

        The chain is identified by what survives restarts: its id, the genesis block as block
        1's parent records it (:meth:`ChainClient.genesis_hash`), each contract's deployment
        transaction mined in the recorded block at the recorded address, and the code there.
        Never by ``eth_getBlockByNumber(0)`` alone: anvil rewrites its genesis entry on each
        start from a dumped state.

        A client of several endpoints is first told to expect this record
        (:meth:`endpoint_problems`), so what follows is asked of endpoints that serve it; when
        none does, the :class:`~ledger.chain.EndpointMismatchError` naming them is raised.
        """
        if len(client.rpc_urls) > 1:
            client.expect(self.identity())
        problems: list[str] = []
        if client.chain_id != self.chain_id:
            problems.append(f"chain id is {client.chain_id}, the record says {self.chain_id}")
        genesis = client.genesis_hash()
        if genesis != self.genesis_hash:
            problems.append(f"genesis block is {genesis}, the record says {self.genesis_hash}")
        head = client.block_number()
        for name, deployed in sorted(self.contracts.items()):
            if head < deployed.block:
                problems.append(
                    f"{name} was deployed in block {deployed.block} but the chain ends at {head}"
                )
                continue
            problems.extend(_deployment_mismatches(client, name, deployed))
            code = client.code_hash(deployed.address)
            if code != deployed.code_hash:
                problems.append(
                    f"{name} at {deployed.address} has code {code}, the record says "
                    f"{deployed.code_hash}"
                )
        return problems


def _deployment_mismatches(client: ChainClient, name: str, deployed: DeployedContract) -> list[str]:
    """How the chain's record of a contract's deployment transaction differs from ours."""
    receipt = client.receipt(deployed.tx_hash)
    if receipt is None:
        return [f"{name}'s deployment transaction {deployed.tx_hash} is not on the chain"]
    problems: list[str] = []
    if int(receipt["blockNumber"]) != deployed.block:
        problems.append(
            f"{name}'s deployment transaction is in block {receipt['blockNumber']}, the record "
            f"says {deployed.block}"
        )
    address = receipt.get("contractAddress")
    if address is None or str(address).lower() != deployed.address.lower():
        problems.append(
            f"{name}'s deployment transaction created {address}, the record says {deployed.address}"
        )
    return problems
