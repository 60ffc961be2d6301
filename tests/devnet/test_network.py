"""The Besu QBFT kit: the generated network decoded again (no Besu needed).

The genesis ``extraData`` is checked against the layout Besu's QBFT docs give
(https://besu.hyperledger.org/private-networks/how-to/configure/consensus/qbft#extra-data):
``RLP([32 bytes Vanity, List<Validators>, No Vote, Round=Int(0), 0 Seals])``, including the
docs' own worked example, and decoded with the ``rlp`` package item by item.
"""

from __future__ import annotations

import json
import os
import stat
import tomllib
from pathlib import Path

import pytest
import rlp  # type: ignore[import-untyped]
import yaml  # type: ignore[import-untyped]
from eth_keys.datatypes import PrivateKey, PublicKey
from eth_utils.address import to_checksum_address
from typer.testing import CliRunner

from cli import app
from devnet.network import (
    CHAIN_ID,
    NODE_PASSPHRASE_ENV,
    NetworkError,
    NetworkPaths,
    NetworkPlan,
    add_node,
    decode_qbft_extra_data,
    init_network,
    qbft_extra_data,
    unlock_key,
)
from ledger.settings import get_settings
from wallets.admin import ADMIN_PASSPHRASE_ENV
from wallets.keystore import SCRYPT_N_LIGHT, keystore_address, load_keystore, read_passphrase

#: The worked example of Besu's QBFT docs ("Generate extra data"): four validators, in the
#: order given to ``besu rlp encode --type=QBFT_EXTRA_DATA``, and the extraData it prints.
DOCS_VALIDATORS = (
    "0x4592c8e45706cc08b8f44b11e43cba0cfc5892cb",
    "0x06e23768a0f59cf365e18c2e0c89e151bcdedc70",
    "0xc5327f96ee02d7bcbc1bf1236b8c15148971e1de",
    "0xab5e7f4061c605820d3744227eed91ff8e2c8908",
)
DOCS_EXTRA_DATA = (
    "0xf87aa00000000000000000000000000000000000000000000000000000000000000000f854944592c8e4"
    "5706cc08b8f44b11e43cba0cfc5892cb9406e23768a0f59cf365e18c2e0c89e151bcdedc7094c5327f96ee"
    "02d7bcbc1bf1236b8c15148971e1de94ab5e7f4061c605820d3744227eed91ff8e2c8908c080c0"
)


@pytest.fixture(autouse=True)
def _no_passphrases_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keys get generated passphrases in secret files (unless a test says otherwise)."""
    monkeypatch.delenv(NODE_PASSPHRASE_ENV, raising=False)
    monkeypatch.delenv(ADMIN_PASSPHRASE_ENV, raising=False)


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, NetworkPlan]:
    """A 4-validator compose network (light keystores)."""
    root = tmp_path_factory.mktemp("besu") / "net"
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(NODE_PASSPHRASE_ENV, raising=False)
        mp.delenv(ADMIN_PASSPHRASE_ENV, raising=False)
        return root, init_network(root, validators=4, work_factor=SCRYPT_N_LIGHT)


def test_extra_data_matches_the_besu_docs_example() -> None:
    assert qbft_extra_data(DOCS_VALIDATORS) == DOCS_EXTRA_DATA
    decoded = decode_qbft_extra_data(DOCS_EXTRA_DATA)
    assert decoded.validators == tuple(to_checksum_address(v) for v in DOCS_VALIDATORS)
    assert (decoded.vanity, decoded.vote, decoded.round, decoded.seals) == (bytes(32), (), 0, ())


def test_genesis_extra_data_decodes_to_the_validators_in_order(
    network: tuple[Path, NetworkPlan],
) -> None:
    root, plan = network
    genesis = json.loads(NetworkPaths(root).genesis.read_text())
    items = rlp.decode(bytes.fromhex(genesis["extraData"][2:]))
    # RLP([32 bytes vanity, [validators], no vote, round 0, no seals])
    assert len(items) == 5
    vanity, validators, vote, round_, seals = items
    assert vanity == bytes(32)
    addresses = [to_checksum_address(v) for v in validators]
    assert addresses == list(plan.genesis_validators)
    # Every node, in ascending order (as Besu's docs ask of `besu rlp encode`'s input).
    assert addresses == sorted((n.address for n in plan.nodes), key=str.lower)
    assert (vote, round_, seals) == ([], b"", [])
    assert genesis["extraData"].endswith("c080c0")


def test_genesis_is_zero_fee_qbft_on_our_chain_id(network: tuple[Path, NetworkPlan]) -> None:
    root, plan = network
    genesis = json.loads(NetworkPaths(root).genesis.read_text())
    config = genesis["config"]
    assert config["chainId"] == CHAIN_ID == plan.chain_id
    assert config["zeroBaseFee"] is True
    assert config["londonBlock"] == 0
    assert config["cancunTime"] == 0  # our contracts use MCOPY
    assert set(config["qbft"]) == {"blockperiodseconds", "epochlength", "requesttimeoutseconds"}
    assert genesis["difficulty"] == "0x1"
    assert (
        genesis["mixHash"] == "0x63746963616c2062797a616e74696e65206661756c7420746f6c6572616e6365"
    )
    assert to_checksum_address(next(iter(genesis["alloc"]))) == plan.admin


def test_every_file_is_private(network: tuple[Path, NetworkPlan]) -> None:
    root, plan = network
    paths = NetworkPaths(root)
    for path in [root, *root.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), path
    expected = {
        paths.genesis,
        paths.static_nodes,
        paths.compose,
        paths.compose_env,
        paths.runbook,
        paths.manifest,
        paths.tracechain / "keys" / "admin.json",
    }
    for node in plan.nodes:
        expected |= {
            paths.config(node.name),
            paths.permissions(node.name),
            paths.keystore(node.name),
            paths.passphrase(node.name),
            paths.data(node.name),
        }
    missing = [p for p in expected if not p.exists()]
    assert missing == []
    # No node key is in the clear unless asked for.
    assert not any(paths.besu_key(n.name).exists() for n in plan.nodes)


def test_node_keys_are_encrypted_and_match_the_enodes(network: tuple[Path, NetworkPlan]) -> None:
    root, plan = network
    paths = NetworkPaths(root)
    for node in plan.nodes:
        keyfile = json.loads(paths.keystore(node.name).read_text())
        assert keyfile["crypto"]["kdf"] == "scrypt"
        assert keystore_address(paths.keystore(node.name)) == node.address
        account = load_keystore(
            paths.keystore(node.name), read_passphrase(file=paths.passphrase(node.name))
        )
        assert account.address == node.address
        public = PublicKey(bytes.fromhex(node.public_key))
        # The enode id is the uncompressed public key (no 0x04 prefix) of the node's key.
        assert public == PrivateKey(bytes(account.key)).public_key
        assert public.to_checksum_address() == node.address
        assert node.enode == f"enode://{node.public_key}@{node.host}:{node.p2p_port}"
    assert json.loads(paths.static_nodes.read_text()) == [n.enode for n in plan.nodes]
    assert len({n.p2p_port for n in plan.nodes}) == len({n.rpc_port for n in plan.nodes}) == 4


def test_allowlists_and_configs(network: tuple[Path, NetworkPlan]) -> None:
    root, plan = network
    paths = NetworkPaths(root)
    for node in plan.nodes:
        allow = tomllib.loads(paths.permissions(node.name).read_text())
        assert set(allow["accounts-allowlist"]) == {plan.admin.lower()} | {
            n.address.lower() for n in plan.nodes
        }
        assert allow["nodes-allowlist"] == [n.enode for n in plan.nodes]
        config = tomllib.loads(paths.config(node.name).read_text())
        assert config["p2p-port"] == node.p2p_port
        assert config["rpc-http-port"] == node.rpc_port
        assert config["p2p-host"] == node.host
        assert config["permissions-nodes-config-file-enabled"] is True
        assert config["permissions-accounts-config-file-enabled"] is True
        assert config["min-gas-price"] == 0
        assert config["node-private-key-file"] == "/run/secrets/node_key"
        assert "ADMIN" not in config["rpc-http-api"]
        assert node.host in config["host-allowlist"]
    data_paths = {tomllib.loads(paths.config(n.name).read_text())["data-path"] for n in plan.nodes}
    assert data_paths == {"/node/data"}  # each container mounts its own node folder there


def test_compose_runs_every_node_and_tracechain_on_node_1(
    network: tuple[Path, NetworkPlan],
) -> None:
    root, plan = network
    compose = yaml.safe_load(NetworkPaths(root).compose.read_text())
    services = compose["services"]
    assert set(services) == {*plan.names, "tracechain"}
    for node in plan.nodes:
        service = services[node.name]
        image, _, tag = service["image"].partition(":")
        assert image == "hyperledger/besu"
        assert tag not in ("", "latest")  # pinned
        assert f"./nodes/{node.name}:/node" in service["volumes"]
        assert service["networks"]["consortium"]["ipv4_address"] == node.host
        assert service["ports"] == [f"127.0.0.1:{node.rpc_port}:{node.rpc_port}"]
        assert compose["secrets"][service["secrets"][0]["source"]]["file"] == (
            f"./secrets/{node.name}.key"
        )
    first = plan.nodes[0]
    tracechain = services["tracechain"]
    assert tracechain["command"] == ["tracechain", "serve"]
    assert (
        tracechain["environment"]["TRACECHAIN_RPC_URL"] == f"http://{first.host}:{first.rpc_port}"
    )
    assert tracechain["depends_on"] == [first.name]


def test_runbook_covers_the_operations(network: tuple[Path, NetworkPlan]) -> None:
    root, plan = network
    text = NetworkPaths(root).runbook.read_text()
    for needle in (
        "## Start",
        "tracechain network deploy",
        "qbft_proposeValidatorVote",
        "tracechain members admit",
        "## Remove a validator",
        "## Back up",
        "## Upgrade (rolling restart)",
        plan.admin,
        *(n.address for n in plan.nodes),
    ):
        assert needle in text


def test_init_refuses_a_folder_in_use(network: tuple[Path, NetworkPlan]) -> None:
    root, _ = network
    with pytest.raises(NetworkError, match="not empty"):
        init_network(root, work_factor=SCRYPT_N_LIGHT)


def test_local_layout_with_besu_keys_and_an_added_node(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(NODE_PASSPHRASE_ENV, "one passphrase for the test nodes")
    admin = "0x" + "ab" * 20
    root = tmp_path / "net"
    plan = init_network(
        root,
        validators=1,
        layout="local",
        admin=admin,
        besu_keys=True,
        account_allowlist=False,
        rpc_port=28545,
        work_factor=SCRYPT_N_LIGHT,
    )
    paths = NetworkPaths(root)
    assert plan.admin == to_checksum_address(admin)
    assert not paths.tracechain.exists()  # an existing admin: no keystore made
    assert not paths.passphrase("node1").exists()  # the passphrase came from the environment
    key = paths.besu_key("node1").read_text()
    assert stat.S_IMODE(paths.besu_key("node1").stat().st_mode) == 0o600
    config = tomllib.loads(paths.config("node1").read_text())
    assert config["node-private-key-file"] == str(paths.besu_key("node1").resolve())
    assert config["data-path"] == str(paths.data("node1").resolve())
    assert config["permissions-accounts-config-file-enabled"] is False
    assert config["rpc-http-host"] == "127.0.0.1"

    node = add_node(root, work_factor=SCRYPT_N_LIGHT)
    assert (node.name, node.rpc_port) == ("node2", 28546)
    again = paths.load()
    assert again.names == ["node1", "node2"]
    assert again.genesis_validators == plan.genesis_validators  # voted in, not in the genesis
    assert json.loads(paths.static_nodes.read_text()) == [n.enode for n in again.nodes]
    assert not paths.besu_key("node2").exists()
    # Unlocking writes exactly what init wrote for node 1, and works for the new node.
    paths.besu_key("node1").unlink()
    assert unlock_key(root, "node1").read_text() == key
    assert stat.S_IMODE(unlock_key(root, "node2").stat().st_mode) == 0o600
    with pytest.raises(NetworkError, match="no node 'node9'"):
        unlock_key(root, "node9")


def test_cli_init_writes_the_tree(tmp_path: Path) -> None:
    root = tmp_path / "cli-net"
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(
            app,
            ["network", "init", "--validators", "4", "--out", str(root), "--json"],
            env={
                "TRACECHAIN_KEYSTORE_WORK_FACTOR": str(SCRYPT_N_LIGHT),
                NODE_PASSPHRASE_ENV: "",
                ADMIN_PASSPHRASE_ENV: "",
            },
            catch_exceptions=False,
        )
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    printed = NetworkPlan.from_json(json.loads(result.stdout))
    assert printed == NetworkPaths(root).load()
    assert len(printed.nodes) == 4
    names = {p.relative_to(root).as_posix() for p in root.rglob("*")}
    assert {"genesis.json", "static-nodes.json", "docker-compose.yml", "RUNBOOK.md"} <= names
    assert {f"nodes/node{i}/key.json" for i in range(1, 5)} <= names
    decoded = decode_qbft_extra_data(json.loads((root / "genesis.json").read_text())["extraData"])
    assert set(decoded.validators) == {n.address for n in printed.nodes}
    # A second init into the same folder fails with a clear message and exit code 2.
    again = CliRunner().invoke(app, ["network", "init", "--out", str(root)])
    assert again.exit_code == 2
    assert "not empty" in again.output
    assert os.listdir(root / "secrets")  # untouched
