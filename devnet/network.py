"""A Hyperledger Besu QBFT network for a consortium: ``tracechain network init|add-node|...``.

:func:`init_network` writes everything N validators need into one folder (see ``RUNBOOK.md``,
which it writes there too)::

    network.json            what was generated (chain id, nodes, admin): the other commands read it
    genesis.json            the QBFT genesis; its extraData names the validators
    static-nodes.json       every node's enode URL (discovery is off: nodes peer with these)
    docker-compose.yml      the N Besu containers and tracechain (`tracechain serve`) on node 1
    .env                    the uid/gid the containers run as (the folders are private to it)
    RUNBOOK.md              start, deploy, admit or remove a validator, back up, upgrade
    nodes/nodeN/            what one firm's host needs (0700): config.toml,
                            permissions_config.toml (node and account allowlists, Besu rewrites
                            it when perm_* calls change them), key.json (the node key, keystore
                            v3, encrypted), data/
    secrets/                (0700) never shipped with nodes/: nodeN.passphrase (unless
                            TRACECHAIN_NODE_PASSPHRASE gave one) and, only on request, nodeN.key,
                            the node key in the clear as Besu reads it
    tracechain/             tracechain's data dir: the consortium admin's keystore (unless
                            ``--admin`` names an existing address), later deployment.json

Besu can only read a node key in the clear (a hex file, ``--node-private-key-file``) or from a
security module plugin (an HSM). So the key rests encrypted in ``key.json``, and is decrypted
into ``secrets/nodeN.key`` (0600) only where and when the node runs: ``network unlock-key``, or
``init --besu-keys`` for a throwaway network. Compose hands that file to the container as a
secret (``/run/secrets/node_key``); compose refuses to start a node whose key is still locked.

Everything that decides a file's content is a pure function of a :class:`NetworkPlan`
(:func:`genesis`, :func:`qbft_extra_data`, :func:`node_config`, :func:`permissions_config`,
:func:`static_nodes`, :func:`compose_file`, :func:`runbook`); only :func:`init_network`,
:func:`add_node` and :func:`unlock_key` touch keys and disks. :class:`ExternalChain` deploys our
contracts on such a chain (``network deploy``) and :class:`LocalBesu` runs the nodes of a
``--layout local`` network on this host from a Besu binary (``make test-besu``).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Literal

import rlp  # type: ignore[import-untyped]
import yaml  # type: ignore[import-untyped]
from eth_account import Account
from eth_keyfile.keyfile import create_keyfile_json
from eth_keys.datatypes import PrivateKey
from eth_utils.address import to_checksum_address

from devnet.launcher import START_TIMEOUT_S, ChainResetError, Devnet, DevnetError, DevnetStatus
from ledger.chain import ChainClient
from ledger.deployment import Deployment
from ledger.errors import LedgerError
from ledger.settings import Settings
from wallets.keystore import (
    SCRYPT_N,
    load_keystore,
    new_passphrase,
    private_dir,
    read_passphrase,
    write_secret,
)

#: Chain id of a consortium network (the devnet's is 46802: a record of one is never taken for
#: the other's).
CHAIN_ID: Final = 46_803
#: The Besu image the compose file runs (pinned: upgrade it on purpose, see the runbook).
BESU_IMAGE: Final = "hyperledger/besu:25.6.0"
#: The tracechain image the compose file runs (built from the checkout, see the runbook).
TRACECHAIN_IMAGE: Final = "tracechain:local"
#: QBFT's fixed ``mixHash`` ("Istanbul block identification", Besu's QBFT docs).
QBFT_MIX_HASH: Final = "0x63746963616c2062797a616e74696e65206661756c7420746f6c6572616e6365"
#: Block gas limit (30 M, as on Ethereum).
GAS_LIMIT: Final = 30_000_000
#: What the genesis gives the consortium admin, so that it can fund members' keys should the
#: consortium ever charge gas (the network is zero-fee: nobody needs a balance today).
ADMIN_BALANCE_WEI: Final = 10**24
#: Environment variable holding one passphrase for every node keystore (else one per node is
#: generated into ``secrets/``).
NODE_PASSPHRASE_ENV: Final = "TRACECHAIN_NODE_PASSPHRASE"  # noqa: S105 - a variable name
#: Compose: the bridge network the nodes live on and node N's address on it.
COMPOSE_SUBNET: Final = "172.16.239.0/24"
#: Default first P2P and JSON-RPC ports (node N uses base + N - 1).
P2P_PORT: Final = 30303
RPC_PORT: Final = 8545
#: Seconds :class:`LocalBesu` waits for the first block and for its nodes to stop.
BESU_START_TIMEOUT_S: Final = 180.0
BESU_STOP_TIMEOUT_S: Final = 30.0

Layout = Literal["compose", "local"]


class NetworkError(DevnetError):
    """A Besu network could not be generated, changed, started or reached."""

    problem = "network"


# ---------------------------------------------------------------------------------- the plan


@dataclass(frozen=True, slots=True)
class Node:
    """One Besu node (every node of the kit is a validator once voted in)."""

    name: str
    #: The node's address (keccak of its public key): its validator address.
    address: str
    #: The uncompressed secp256k1 public key without its 0x04 prefix, 128 hex digits: the
    #: enode id.
    public_key: str
    #: The host other nodes reach it at (its compose address, or 127.0.0.1).
    host: str
    p2p_port: int
    rpc_port: int

    @property
    def enode(self) -> str:
        """The node's enode URL."""
        return f"enode://{self.public_key}@{self.host}:{self.p2p_port}"


@dataclass(frozen=True, slots=True)
class NetworkPlan:
    """Everything the generated files are made from (stored as ``network.json``)."""

    chain_id: int
    layout: Layout
    nodes: tuple[Node, ...]
    #: The validators the genesis names, in the order its extraData lists them.
    genesis_validators: tuple[str, ...]
    #: The consortium admin: deploys the contracts, admits members.
    admin: str
    block_period_s: int = 2
    #: Whether only allowlisted accounts may send transactions (off only for test networks,
    #: whose tests create fresh member keys all the time).
    account_allowlist: bool = True
    besu_image: str = BESU_IMAGE
    tracechain_image: str = TRACECHAIN_IMAGE
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> NetworkPlan:
        """Read what :meth:`to_json` wrote."""
        try:
            return cls(
                **{
                    **data,
                    "nodes": tuple(Node(**n) for n in data["nodes"]),
                    "genesis_validators": tuple(data["genesis_validators"]),
                }
            )
        except (KeyError, TypeError) as exc:
            raise NetworkError(f"malformed network.json: {exc}") from None

    def node(self, name: str) -> Node:
        """The node called ``name``."""
        for node in self.nodes:
            if node.name == name:
                return node
        raise NetworkError(f"no node {name!r} in this network: {', '.join(self.names)}")

    @property
    def names(self) -> list[str]:
        """The nodes' names."""
        return [n.name for n in self.nodes]


@dataclass(frozen=True, slots=True)
class NetworkPaths:
    """The files of a network folder."""

    root: Path

    @property
    def manifest(self) -> Path:
        """``network.json``: the plan."""
        return self.root / "network.json"

    @property
    def genesis(self) -> Path:
        """The genesis file."""
        return self.root / "genesis.json"

    @property
    def static_nodes(self) -> Path:
        """Every node's enode URL."""
        return self.root / "static-nodes.json"

    @property
    def compose(self) -> Path:
        """The compose file."""
        return self.root / "docker-compose.yml"

    @property
    def compose_env(self) -> Path:
        """Compose's ``.env`` (the uid/gid the containers run as)."""
        return self.root / ".env"

    @property
    def runbook(self) -> Path:
        """The operators' runbook."""
        return self.root / "RUNBOOK.md"

    @property
    def secrets(self) -> Path:
        """Passphrases and unlocked keys: never shipped with a node folder."""
        return self.root / "secrets"

    @property
    def tracechain(self) -> Path:
        """tracechain's data dir (admin keystore, deployment record)."""
        return self.root / "tracechain"

    def node_dir(self, name: str) -> Path:
        """What one node's host needs."""
        return self.root / "nodes" / name

    def config(self, name: str) -> Path:
        """Besu's configuration file of node ``name``."""
        return self.node_dir(name) / "config.toml"

    def permissions(self, name: str) -> Path:
        """Node ``name``'s allowlists (Besu rewrites the file on perm_* calls)."""
        return self.node_dir(name) / "permissions_config.toml"

    def keystore(self, name: str) -> Path:
        """Node ``name``'s key, encrypted (keystore v3)."""
        return self.node_dir(name) / "key.json"

    def data(self, name: str) -> Path:
        """Node ``name``'s chain database."""
        return self.node_dir(name) / "data"

    def passphrase(self, name: str) -> Path:
        """The passphrase of node ``name``'s keystore (when none is given in the environment)."""
        return self.secrets / f"{name}.passphrase"

    def besu_key(self, name: str) -> Path:
        """Node ``name``'s key in the clear, as Besu reads it (only once unlocked)."""
        return self.secrets / f"{name}.key"

    def log(self, name: str) -> Path:
        """Node ``name``'s output when :class:`LocalBesu` runs it."""
        return self.node_dir(name) / "besu.log"

    def pid(self, name: str) -> Path:
        """Node ``name``'s process id when :class:`LocalBesu` runs it."""
        return self.node_dir(name) / "besu.pid"

    def load(self) -> NetworkPlan:
        """The plan of the network in this folder."""
        if not self.manifest.exists():
            raise NetworkError(
                f"no network at {self.root} (no network.json); run `tracechain network init`"
            )
        try:
            data = json.loads(self.manifest.read_text())
        except ValueError as exc:
            raise NetworkError(f"malformed {self.manifest}: {exc}") from None
        return NetworkPlan.from_json(data)


# ------------------------------------------------------------------------- pure functions


def node_identity(private_key: bytes) -> tuple[str, str]:
    """The (checksum address, enode id) of a secp256k1 node key; the enode id is the
    uncompressed public key without its 0x04 prefix (128 hex digits)."""
    public = PrivateKey(private_key).public_key
    return public.to_checksum_address(), public.to_bytes().hex()


def node_host(layout: Layout, index: int) -> str:
    """Where node ``index`` (1-based) is reached: its fixed compose address, or loopback."""
    if layout == "local":
        return "127.0.0.1"
    return f"172.16.239.{10 + index}"


def qbft_extra_data(validators: Sequence[str], *, vanity: bytes = bytes(32)) -> str:
    """A QBFT genesis ``extraData`` naming ``validators`` in the order given.

    Besu's QBFT docs ("Extra data"): ``RLP([32 bytes Vanity, List<Validators>, No Vote,
    Round=Int(0), 0 Seals])``: the vote is an empty list, the round the RLP of the integer 0
    (the empty string, 0x80) and the seals an empty list; their worked example ends
    ``...c080c0``. (IBFT 2.0 differs: its round is 4 bytes, ``8400000000``.)
    """
    if len(vanity) != 32:
        raise NetworkError("the extraData vanity is 32 bytes")
    if not validators:
        raise NetworkError("a QBFT genesis needs at least one validator")
    addresses = [bytes.fromhex(to_checksum_address(v)[2:]) for v in validators]
    encoded: bytes = rlp.encode([vanity, addresses, [], b"", []])
    return "0x" + encoded.hex()


@dataclass(frozen=True, slots=True)
class QbftExtraData:
    """A QBFT header's ``extraData``, decoded."""

    vanity: bytes
    validators: tuple[str, ...]
    #: The vote: empty, or [address, 0x00 drop / 0xff add].
    vote: tuple[bytes, ...]
    round: int
    seals: tuple[bytes, ...]


def decode_qbft_extra_data(extra_data: str | bytes) -> QbftExtraData:
    """Decode a QBFT ``extraData`` (the inverse of :func:`qbft_extra_data`, and able to read
    the extraData of any QBFT block: its vote, round and commit seals)."""
    raw = (
        bytes.fromhex(extra_data.removeprefix("0x")) if isinstance(extra_data, str) else extra_data
    )
    try:
        items = rlp.decode(raw)
        vanity, validators, vote, round_, seals = items
    except (rlp.exceptions.DecodingError, ValueError, TypeError) as exc:
        raise NetworkError(f"not a QBFT extraData: {exc}") from None
    if not isinstance(vanity, bytes) or len(vanity) != 32:
        raise NetworkError("not a QBFT extraData: the vanity is not 32 bytes")
    return QbftExtraData(
        vanity=vanity,
        validators=tuple(to_checksum_address(v) for v in validators),
        vote=tuple(vote),
        round=int.from_bytes(round_, "big"),
        seals=tuple(seals),
    )


def genesis(plan: NetworkPlan) -> dict[str, Any]:
    """The QBFT genesis of ``plan``: zero base fee, validators in ``extraData``, the admin
    funded.

    Forks up to Cancun from block 0 (our contracts are compiled for an EVM with MCOPY, a
    Cancun opcode). Not Prague: a QBFT chain on Prague needs that fork's system contracts
    pre-deployed on Besu releases before besu-eth/besu#9623 (2026-01).
    """
    return {
        "config": {
            "chainId": plan.chain_id,
            "homesteadBlock": 0,
            "eip150Block": 0,
            "eip155Block": 0,
            "eip158Block": 0,
            "byzantiumBlock": 0,
            "constantinopleBlock": 0,
            "petersburgBlock": 0,
            "istanbulBlock": 0,
            "berlinBlock": 0,
            "londonBlock": 0,
            "shanghaiTime": 0,
            "cancunTime": 0,
            "zeroBaseFee": True,
            "qbft": {
                "blockperiodseconds": plan.block_period_s,
                "epochlength": 30_000,
                "requesttimeoutseconds": max(4, 2 * plan.block_period_s),
            },
        },
        "nonce": "0x0",
        "timestamp": "0x0",
        "gasLimit": hex(GAS_LIMIT),
        "difficulty": "0x1",
        "mixHash": QBFT_MIX_HASH,
        "coinbase": "0x" + "00" * 20,
        "alloc": {plan.admin.lower().removeprefix("0x"): {"balance": hex(ADMIN_BALANCE_WEI)}},
        "extraData": qbft_extra_data(plan.genesis_validators),
    }


def static_nodes(plan: NetworkPlan) -> list[str]:
    """Every node's enode URL."""
    return [n.enode for n in plan.nodes]


def _toml_list(values: Sequence[str]) -> str:
    return "[\n" + ",\n".join(f'  "{v}"' for v in values) + "\n]"


def permissions_config(plan: NetworkPlan) -> str:
    """The allowlists: the admin and every validator may send transactions, every node may
    peer. Members' signing addresses are added as they are admitted (runbook)."""
    accounts = [plan.admin.lower()] + [n.address.lower() for n in plan.nodes]
    return (
        "# Local permissioning of a tracechain consortium network (Besu rewrites this file when\n"
        "# perm_addAccountsToAllowlist / perm_addNodesToAllowlist change it; keep one per node).\n"
        "# accounts-allowlist: the consortium admin, the validators, members' signing addresses.\n"
        f"accounts-allowlist={_toml_list(accounts)}\n"
        "# nodes-allowlist: every validator's (and members' RPC nodes') enode URL.\n"
        f"nodes-allowlist={_toml_list(static_nodes(plan))}\n"
    )


def node_config(plan: NetworkPlan, node: Node, root: Path) -> str:
    """Besu's ``config.toml`` for ``node``: in a container (compose) the network's files are
    mounted at /network and the node's folder at /node; on this host (local) the paths are
    ``root``'s."""
    if plan.layout == "compose":
        shared, own, key = Path("/network"), Path("/node"), "/run/secrets/node_key"
        listen = "0.0.0.0"  # noqa: S104 - inside its container; compose publishes it on loopback
    else:
        paths = NetworkPaths(root.resolve())
        shared, own = paths.root, paths.node_dir(node.name)
        key, listen = str(paths.besu_key(node.name)), "127.0.0.1"
    allowed_hosts = sorted({"localhost", "127.0.0.1", node.host})
    return f"""# Hyperledger Besu configuration of {node.name} ({node.address}),
# a validator of tracechain consortium network {plan.chain_id}; by `tracechain network init`.
genesis-file="{shared / "genesis.json"}"
data-path="{own / "data"}"
# The node key in the clear, decrypted from key.json by `tracechain network unlock-key`.
node-private-key-file="{key}"

# Peers: the static nodes only (no discovery), each of them allowlisted.
static-nodes-file="{shared / "static-nodes.json"}"
discovery-enabled=false
p2p-host="{node.host}"
p2p-interface="{listen}"
p2p-port={node.p2p_port}

# Local permissioning: only allowlisted nodes peer, only allowlisted accounts transact.
permissions-nodes-config-file-enabled=true
permissions-nodes-config-file="{own / "permissions_config.toml"}"
permissions-accounts-config-file-enabled={str(plan.account_allowlist).lower()}
permissions-accounts-config-file="{own / "permissions_config.toml"}"

# A permissioned zero-fee chain: members need no funding (the genesis sets zeroBaseFee).
min-gas-price=0

# JSON-RPC for tracechain (plain eth_*) and the operator (QBFT votes, PERM allowlists), on
# loopback only; never ADMIN or DEBUG.
rpc-http-enabled=true
rpc-http-host="{listen}"
rpc-http-port={node.rpc_port}
rpc-http-api=["ETH","NET","WEB3","QBFT","PERM"]
host-allowlist={json.dumps(allowed_hosts)}
# tracechain's log scans ask for up to TRACECHAIN_LOGS_BLOCK_RANGE (2000) blocks at a time.
rpc-max-logs-range=5000

# Every state is kept: auditors verify at historical blocks (eth_call at a block).
data-storage-format="FOREST"
sync-mode="FULL"
"""


def compose_file(plan: NetworkPlan) -> dict[str, Any]:
    """The compose file: one Besu container per node (its RPC published on loopback) and
    tracechain (``tracechain serve`` with its anchor worker) on node 1."""
    user = "${TRACECHAIN_UID:-1000}:${TRACECHAIN_GID:-1000}"
    services: dict[str, Any] = {}
    for node in plan.nodes:
        services[node.name] = {
            "image": plan.besu_image,
            "restart": "unless-stopped",
            "user": user,
            "command": ["--config-file=/node/config.toml"],
            "volumes": [
                "./genesis.json:/network/genesis.json:ro",
                "./static-nodes.json:/network/static-nodes.json:ro",
                f"./nodes/{node.name}:/node",
            ],
            "secrets": [{"source": f"{node.name}_key", "target": "node_key"}],
            "ports": [f"127.0.0.1:{node.rpc_port}:{node.rpc_port}"],
            "networks": {"consortium": {"ipv4_address": node.host}},
        }
    first = plan.nodes[0]
    services["tracechain"] = {
        "image": f"${{TRACECHAIN_IMAGE:-{plan.tracechain_image}}}",
        "restart": "unless-stopped",
        "user": user,
        "command": ["tracechain", "serve"],
        "environment": {
            "TRACECHAIN_DATA_DIR": "/data",
            "TRACECHAIN_RPC_URL": f"http://{first.host}:{first.rpc_port}",
            "TRACECHAIN_API_HOST": "0.0.0.0",  # noqa: S104 - in its container, published on loopback
            "TRACECHAIN_API_PORT": "8000",
            "TRACECHAIN_PUBLIC_URL": "${TRACECHAIN_PUBLIC_URL:-http://127.0.0.1:8000}",
        },
        "volumes": ["./tracechain:/data"],
        "ports": ["127.0.0.1:8000:8000"],
        "depends_on": [first.name],
        "networks": ["consortium"],
    }
    return {
        "name": f"tracechain-{plan.chain_id}",
        "services": services,
        "secrets": {f"{n.name}_key": {"file": f"./secrets/{n.name}.key"} for n in plan.nodes},
        "networks": {"consortium": {"ipam": {"config": [{"subnet": COMPOSE_SUBNET}]}}},
    }


# ---------------------------------------------------------------------------- the writers


def _write(path: Path, text: str) -> None:
    """Write a file of the network (0600: the folders are the operator's alone)."""
    write_secret(path, text)


def _json(value: Any) -> str:
    return json.dumps(value, indent=2) + "\n"


def _new_node_key(
    paths: NetworkPaths, name: str, *, work_factor: int, besu_key: bool
) -> tuple[str, str]:
    """Generate node ``name``'s key, store it encrypted (and in the clear when ``besu_key``);
    return its (address, enode id)."""
    keystore = paths.keystore(name)
    if keystore.exists():
        raise NetworkError(f"{keystore} exists already; refusing to overwrite a node key")
    key = bytes(Account.create().key)
    passphrase = os.environ.get(NODE_PASSPHRASE_ENV)
    if not passphrase:
        passphrase = new_passphrase()
        write_secret(paths.passphrase(name), passphrase)
    keyfile = create_keyfile_json(key, passphrase.encode(), kdf="scrypt", iterations=work_factor)
    write_secret(keystore, json.dumps(keyfile))
    if besu_key:
        write_secret(paths.besu_key(name), "0x" + key.hex())
    return node_identity(key)


def _admin_address(paths: NetworkPaths, admin: str | None, work_factor: int) -> str:
    """The admin's address: ``admin``, or a keystore created in ``tracechain/`` (the devnet
    launcher's way: passphrase from TRACECHAIN_ADMIN_PASSPHRASE or a secret file)."""
    if admin is not None:
        return to_checksum_address(admin)
    settings = Settings(_env_file=None).updated(data_dir=paths.tracechain)  # type: ignore[call-arg]
    return str(Devnet(settings, key_work_factor=work_factor).admin_account().address)


def render(plan: NetworkPlan, root: Path) -> None:
    """(Re)write every file of the network made from the plan alone (never keys, never the
    genesis, never an existing node's allowlists, which Besu maintains)."""
    paths = NetworkPaths(root)
    _write(paths.manifest, _json(plan.to_json()))
    _write(paths.static_nodes, _json(static_nodes(plan)))
    _write(paths.compose, yaml.safe_dump(compose_file(plan), sort_keys=False))
    _write(paths.compose_env, f"TRACECHAIN_UID={os.getuid()}\nTRACECHAIN_GID={os.getgid()}\n")
    _write(paths.runbook, runbook(plan))
    for node in plan.nodes:
        _write(paths.config(node.name), node_config(plan, node, root))
        if not paths.permissions(node.name).exists():
            _write(paths.permissions(node.name), permissions_config(plan))
        private_dir(paths.data(node.name))


def init_network(
    root: Path,
    *,
    validators: int = 4,
    layout: Layout = "compose",
    admin: str | None = None,
    besu_keys: bool = False,
    account_allowlist: bool = True,
    block_period_s: int = 2,
    p2p_port: int = P2P_PORT,
    rpc_port: int = RPC_PORT,
    work_factor: int = SCRYPT_N,
) -> NetworkPlan:
    """Write a complete QBFT network of ``validators`` nodes into ``root`` (a new or empty
    folder); return its plan. Node N listens on ``p2p_port + N - 1`` and ``rpc_port + N - 1``.
    """
    if validators < 1:
        raise NetworkError("a network needs at least one validator (four to tolerate a fault)")
    if block_period_s < 1:
        raise NetworkError("the block period is at least 1 second")
    if root.exists() and any(root.iterdir()):
        raise NetworkError(f"{root} is not empty; refusing to overwrite a network")
    paths = NetworkPaths(root)
    private_dir(root)
    private_dir(paths.secrets)
    nodes = []
    for index in range(1, validators + 1):
        name = f"node{index}"
        private_dir(paths.node_dir(name))
        address, public_key = _new_node_key(
            paths, name, work_factor=work_factor, besu_key=besu_keys
        )
        nodes.append(
            Node(
                name=name,
                address=address,
                public_key=public_key,
                host=node_host(layout, index),
                p2p_port=p2p_port + index - 1,
                rpc_port=rpc_port + index - 1,
            )
        )
    plan = NetworkPlan(
        chain_id=CHAIN_ID,
        layout=layout,
        nodes=tuple(nodes),
        # Ascending, as Besu's docs ask of the validators given to `besu rlp encode`.
        genesis_validators=tuple(sorted((n.address for n in nodes), key=str.lower)),
        admin=_admin_address(paths, admin, work_factor),
        block_period_s=block_period_s,
        account_allowlist=account_allowlist,
    )
    _write(paths.genesis, _json(genesis(plan)))
    render(plan, root)
    return plan


def add_node(root: Path, *, besu_key: bool = False, work_factor: int = SCRYPT_N) -> Node:
    """Add a node (a firm's future validator) to the network in ``root``: its key, config
    and allowlists; static nodes, compose file and runbook are rewritten. It becomes a
    validator only once a majority of validators vote it in (runbook)."""
    paths = NetworkPaths(root)
    plan = paths.load()
    index = len(plan.nodes) + 1
    name = f"node{index}"
    while name in plan.names:
        index += 1
        name = f"node{index}"
    private_dir(paths.node_dir(name))
    address, public_key = _new_node_key(paths, name, work_factor=work_factor, besu_key=besu_key)
    last = plan.nodes[-1]
    node = Node(
        name=name,
        address=address,
        public_key=public_key,
        host=node_host(plan.layout, index),
        p2p_port=last.p2p_port + 1,
        rpc_port=last.rpc_port + 1,
    )
    render(replace(plan, nodes=(*plan.nodes, node)), root)
    return node


def unlock_key(root: Path, name: str, *, to: Path | None = None) -> Path:
    """Decrypt node ``name``'s keystore into the file Besu reads (0600; default
    ``secrets/NAME.key``); the passphrase comes from TRACECHAIN_NODE_PASSPHRASE or
    ``secrets/NAME.passphrase``."""
    paths = NetworkPaths(root)
    node = paths.load().node(name)
    passphrase = read_passphrase(env=NODE_PASSPHRASE_ENV, file=paths.passphrase(name))
    account = load_keystore(paths.keystore(name), passphrase)
    if account.address != node.address:
        raise NetworkError(f"{paths.keystore(name)} holds {account.address}, not {node.address}")
    target = to or paths.besu_key(name)
    write_secret(target, "0x" + bytes(account.key).hex())
    return target


# --------------------------------------------------------------------- a chain we do not run


class ExternalChain(Devnet):
    """A chain tracechain does not run (a Besu network), with our contracts deployed once
    from the admin key in the data dir: what ``tracechain network deploy`` does, and the
    session chain of the tests under ``TRACECHAIN_TEST_RPC_URL`` (``make test-besu``)."""

    def __init__(self, settings: Settings, rpc_url: str, *, key_work_factor: int = SCRYPT_N):
        super().__init__(
            settings.updated(chain={"rpc_url": rpc_url}), key_work_factor=key_work_factor
        )
        self.rpc_url = rpc_url

    def up(self, *, redeploy: bool = False) -> DevnetStatus:
        """Wait until the chain answers, then deploy the contracts once or check the record.

        A record the chain contradicts is an error: deploying anew on a consortium chain is a
        decision for its operators (move the record aside first)."""
        if redeploy:
            raise NetworkError("an external chain is never redeployed over; move the record aside")
        client = ChainClient(self.rpc_url)
        deadline = time.monotonic() + START_TIMEOUT_S
        while not client.reachable():
            if time.monotonic() > deadline:
                raise NetworkError(f"no chain answers at {self.rpc_url}")
            time.sleep(0.2)
        if self.paths.deployment.exists():
            problems = Deployment.load(self.paths.deployment).mismatches(client)
            if problems:
                raise ChainResetError(
                    f"the chain at {self.rpc_url} does not match the deployment record "
                    f"{self.paths.deployment}: " + "; ".join(problems)
                )
            return self.status()
        self._deploy(client)
        return replace(self.status(), deployed_now=True)

    def down(self) -> bool:
        """Nothing to stop: tracechain does not run this chain."""
        return False

    def pid(self) -> int | None:
        """No process of ours."""
        return None

    def status(self) -> DevnetStatus:
        """Whether the chain answers, its head block and the deployment record."""
        block: int | None = None
        with contextlib.suppress(LedgerError):
            block = ChainClient(self.rpc_url, timeout=2.0).block_number()
        record = Deployment.load(self.paths.deployment) if self.paths.deployment.exists() else None
        return DevnetStatus(block is not None, None, self.rpc_url, block, record)


# ------------------------------------------------------------------ Besu nodes on this host


class LocalBesu:
    """Runs the nodes of a ``--layout local`` network on this host from a Besu binary."""

    def __init__(self, root: Path) -> None:
        self.paths = NetworkPaths(root)
        self.plan = self.paths.load()
        if self.plan.layout != "local":
            raise NetworkError(
                f"{root} was generated for compose; run it with `docker compose up -d` or "
                "generate a --layout local network"
            )

    @property
    def rpc_url(self) -> str:
        """Node 1's JSON-RPC endpoint."""
        first = self.plan.nodes[0]
        return f"http://{first.host}:{first.rpc_port}"

    def start(self, besu: Path, *, timeout: float = BESU_START_TIMEOUT_S) -> int:
        """Start every node not running yet; wait until node 1 has a block past genesis (the
        validators reached consensus); return that block's number."""
        for node in self.plan.nodes:
            if self._pid(node.name) is not None:
                continue
            if not self.paths.besu_key(node.name).exists():
                raise NetworkError(
                    f"{node.name}'s key is locked: run `tracechain network unlock-key "
                    f"{self.paths.root} {node.name}` first"
                )
            with self.paths.log(node.name).open("ab") as log:
                proc = subprocess.Popen(
                    [str(besu), f"--config-file={self.paths.config(node.name)}"],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            write_secret(self.paths.pid(node.name), str(proc.pid))
        client = ChainClient(self.rpc_url, timeout=2.0)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(LedgerError):
                if (head := client.block_number()) >= 1:
                    return head
            if any(self._pid(n.name) is None for n in self.plan.nodes):
                break
            time.sleep(0.5)
        tails = "\n".join(f"--- {n.name}:\n{self._tail(n.name)}" for n in self.plan.nodes[:2])
        self.stop()
        raise NetworkError(f"the Besu network produced no block at {self.rpc_url}:\n{tails}")

    def stop(self) -> list[str]:
        """Stop every running node (SIGTERM, then SIGKILL); the names of those stopped."""
        running = {n.name: pid for n in self.plan.nodes if (pid := self._pid(n.name)) is not None}
        for pid in running.values():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + BESU_STOP_TIMEOUT_S
        while time.monotonic() < deadline and any(_alive(p) for p in running.values()):
            time.sleep(0.1)
        for name, pid in running.items():
            if _alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self.paths.pid(name).unlink(missing_ok=True)
        return list(running)

    def _pid(self, name: str) -> int | None:
        try:
            pid = int(self.paths.pid(name).read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if _alive(pid) else None

    def _tail(self, name: str) -> str:
        log = self.paths.log(name)
        return log.read_text(errors="replace")[-1500:] if log.exists() else "(no output)"


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):
        if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0] == "Z":
            return False
    return True


# ------------------------------------------------------------------------------- runbook


def runbook(plan: NetworkPlan) -> str:
    """The operators' runbook of ``plan`` (``RUNBOOK.md``), with its real names and ports."""
    first = plan.nodes[0]
    rpc = f"http://127.0.0.1:{first.rpc_port}"
    majority = len(plan.nodes) // 2 + 1
    table = "\n".join(
        f"| {n.name} | `{n.address}` | {n.host}:{n.p2p_port} | 127.0.0.1:{n.rpc_port} |"
        for n in plan.nodes
    )
    if plan.layout == "compose":
        start = f"""```sh
# Each node's key is stored encrypted (nodes/NODE/key.json); Besu reads it only in the clear.
# Unlock each key where its node runs (passphrase: TRACECHAIN_NODE_PASSPHRASE or
# secrets/NODE.passphrase); compose mounts secrets/NODE.key as the container's secret.
for n in {" ".join(plan.names)}; do tracechain network unlock-key . $n; done
docker compose up -d {" ".join(plan.names)}
curl -s -X POST -H 'content-type: application/json' \\
  --data '{{"jsonrpc":"2.0","id":1,"method":"qbft_getValidatorsByBlockNumber",
            "params":["latest"]}}' {rpc}
```

The containers run as the uid/gid in `.env` (the folders are private to their owner). Build
tracechain's image once from a checkout: `docker build -f devnet/networks/besu-qbft/Dockerfile
-t {plan.tracechain_image} .`"""
    else:
        start = f"""```sh
for n in {" ".join(plan.names)}; do tracechain network unlock-key . $n; done
tracechain network start . --besu /path/to/besu/bin/besu    # waits for the first block
tracechain network stop .
```"""
    return f"""# Runbook: tracechain consortium network {plan.chain_id} (Hyperledger Besu, QBFT)

Generated by `tracechain network init` ({plan.created_at}); `network.json` holds the same
facts. {len(plan.nodes)} validators; QBFT finalises every block when it is added (no reorgs), one
block every {plan.block_period_s} s; it keeps producing blocks while more than two thirds of the
validators run, so {len(plan.nodes)} validators tolerate {(len(plan.nodes) - 1) // 3} down.

| node | validator address | p2p | JSON-RPC |
| --- | --- | --- | --- |
{table}

Consortium admin (deploys the contracts, admits members, funded in the genesis): `{plan.admin}`.

## What each firm keeps

- `genesis.json`, `static-nodes.json`: the same on every host.
- `nodes/NODE/`: one firm's node: `config.toml`, `permissions_config.toml`, `key.json` (the
  node key, encrypted) and `data/` (the chain).
- `secrets/NODE.passphrase`: hand it to the firm apart from the folder (or give every node
  the passphrase in `TRACECHAIN_NODE_PASSPHRASE` and delete these files).
- `secrets/NODE.key`: the node key in the clear, written by `tracechain network unlock-key`
  (0600) on the host that runs the node, for Besu's `--node-private-key-file`. Keep it on
  that host only (ideally a tmpfs: `unlock-key --to /run/besu/key`); Besu has no encrypted key
  file, its alternative is an HSM through `--security-module`.
- `tracechain/`: tracechain's data dir (the admin's keystore, `keys/admin.json`, and after the
  deployment `deployment.json`).

## Start

{start}

## Deploy the contracts (once)

```sh
tracechain network deploy --rpc {rpc} --data-dir tracechain
```

It deploys TraceAnchor from the admin's key and writes `tracechain/deployment.json`; run
again, it checks the chain against that record. Then start tracechain against node 1
(`docker compose up -d tracechain`, or `TRACECHAIN_DATA_DIR=tracechain
TRACECHAIN_RPC_URL={rpc} tracechain serve`). Every member's tracechain needs the same
`deployment.json`.

## Admit a firm: its validator and its membership

1. Make its node: `tracechain network add-node .` writes `nodes/nodeN/` (key, config,
   allowlists) and adds it to `static-nodes.json` and the compose file. The firm runs it with
   the same `genesis.json` (it syncs; it does not validate yet).
2. Let every running node accept it as a peer (Besu also writes it into the node's
   `permissions_config.toml`), on each node's JSON-RPC:
   `{{"method":"perm_addNodesToAllowlist","params":[["enode://NEWID@HOST:PORT"]]}}`
3. Vote it in: on at least {majority} of the {len(plan.nodes)} validators (more than half):
   `{{"method":"qbft_proposeValidatorVote","params":["0xNEWADDRESS", true]}}`.
   Each validator puts its vote into the next block it proposes; once more than half have,
   the node validates. Check with `qbft_getValidatorsByBlockNumber`, then clear the votes
   (`qbft_discardValidatorVote`) on every node that voted.
4. Admit the firm in our contract, from the admin's data dir:
   `TRACECHAIN_DATA_DIR=tracechain TRACECHAIN_RPC_URL={rpc} tracechain members admit
   "Firm" --prefix 0614141`
   and, while the account allowlist is on, allow its signing address on every node:
   `{{"method":"perm_addAccountsToAllowlist","params":[["0xSIGNINGADDRESS"]]}}`.

## Remove a validator

Vote it out on more than half of the validators:
`{{"method":"qbft_proposeValidatorVote","params":["0xADDRESS", false]}}`, check with
`qbft_getValidatorsByBlockNumber`, discard the votes, then `perm_removeNodesFromAllowlist` on
every node, stop its container, and `tracechain members suspend ORG_ID` if the firm leaves.
Never go below four validators, and never stop more than a third of them at once.

## Back up

- Irreplaceable: every `nodes/NODE/key.json` with its passphrase (a validator's identity),
  `tracechain/keys/` (the admin's key: without it nobody can admit members) and
  `tracechain/deployment.json`; `genesis.json` and `network.json`.
- `nodes/NODE/permissions_config.toml`: the allowlists as Besu keeps them.
- `nodes/NODE/data/`: only for a quick restore; any node resyncs the chain from its peers.
  Copy it with the node stopped.
- tracechain's database (`tracechain/tracechain.sqlite3`, or PostgreSQL's dump).

## Upgrade (rolling restart)

Change the pinned image (`{plan.besu_image}`) in `docker-compose.yml` after reading Besu's
release notes, then one node at a time: `docker compose up -d NODE`, wait until its
`eth_blockNumber` follows the others (`net_peerCount` = {len(plan.nodes) - 1}), then the next.
With one node down the others keep finalising blocks; never restart more than a third at once.
"""
