"""``tracechain network init|add-node|unlock-key|deploy|start|stop``: a Hyperledger Besu QBFT
network for a consortium (see :mod:`devnet.network` and the ``RUNBOOK.md`` it writes)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.output import JsonOption, console, print_json
from ledger.settings import get_settings

app = typer.Typer(
    help="A Hyperledger Besu QBFT network for the consortium: generate, deploy, run locally.",
    no_args_is_help=True,
)

NetworkDir = Annotated[Path, typer.Argument(help="The network's folder (from `network init`).")]


@app.command("init")
def init(
    out: Annotated[Path, typer.Option(help="Folder to write the network into (new or empty).")],
    validators: Annotated[int, typer.Option(help="Number of validators.", min=1)] = 4,
    layout: Annotated[
        str,
        typer.Option(help="compose: containers on a bridge network; local: nodes on this host."),
    ] = "compose",
    admin: Annotated[
        str | None,
        typer.Option(
            help="The consortium admin's address [default: a new keystore in OUT/tracechain]."
        ),
    ] = None,
    besu_keys: Annotated[
        bool,
        typer.Option(help="Also write the node keys in the clear (secrets/NODE.key) for Besu now."),
    ] = False,
    account_allowlist: Annotated[
        bool,
        typer.Option(help="Only allowlisted accounts may transact (turn off for test networks)."),
    ] = True,
    block_period: Annotated[int, typer.Option(help="Seconds between blocks.", min=1)] = 2,
    p2p_port: Annotated[int, typer.Option(help="Node 1's P2P port (node N: +N-1).")] = 30303,
    rpc_port: Annotated[int, typer.Option(help="Node 1's JSON-RPC port (node N: +N-1).")] = 8545,
    as_json: JsonOption = False,
) -> None:
    """Write a complete Besu QBFT network: encrypted node keys, genesis, allowlists, configs,
    compose file and RUNBOOK.md. Node keystores use TRACECHAIN_NODE_PASSPHRASE when set."""
    from devnet.network import NetworkError, init_network

    if layout not in ("compose", "local"):
        raise NetworkError(f"unknown layout {layout!r}: compose or local")
    plan = init_network(
        out,
        validators=validators,
        layout="compose" if layout == "compose" else "local",
        admin=admin,
        besu_keys=besu_keys,
        account_allowlist=account_allowlist,
        block_period_s=block_period,
        p2p_port=p2p_port,
        rpc_port=rpc_port,
        work_factor=get_settings().keystore_work_factor,
    )
    if as_json:
        print_json(plan.to_json())
        return
    console.print(f"QBFT network {plan.chain_id} with {len(plan.nodes)} validators in {out}")
    for node in plan.nodes:
        console.print(f"  {node.name}  {node.address}  rpc 127.0.0.1:{node.rpc_port}")
    console.print(f"  admin  {plan.admin}")
    console.print(f"Next: read {out / 'RUNBOOK.md'}")


@app.command("add-node")
def add_node(
    root: NetworkDir,
    besu_key: Annotated[
        bool, typer.Option(help="Also write its key in the clear for Besu now.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Add a node for a firm joining; it validates once a majority votes it in (RUNBOOK.md)."""
    from dataclasses import asdict

    from devnet.network import add_node as add

    node = add(root, besu_key=besu_key, work_factor=get_settings().keystore_work_factor)
    if as_json:
        print_json({**asdict(node), "enode": node.enode})
        return
    console.print(f"{node.name}  {node.address}\n{node.enode}")
    console.print("Next: allowlist its enode on every node, then vote it in (RUNBOOK.md).")


@app.command("unlock-key")
def unlock_key(
    root: NetworkDir,
    node: Annotated[str, typer.Argument(help="The node's name (node1, ...).")],
    to: Annotated[
        Path | None, typer.Option(help="Where to write it [default: secrets/NODE.key].")
    ] = None,
) -> None:
    """Decrypt a node's key into the file Besu reads (0600); the passphrase comes from
    TRACECHAIN_NODE_PASSPHRASE or secrets/NODE.passphrase."""
    from devnet.network import unlock_key as unlock

    console.print(f"{node}'s key unlocked into {unlock(root, node, to=to)}")


@app.command("deploy")
def deploy(
    rpc: Annotated[
        str | None, typer.Option(help="The chain's JSON-RPC URL [default: TRACECHAIN_RPC_URL].")
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            help="Data dir of the admin key and the record [default: TRACECHAIN_DATA_DIR]."
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Deploy our contracts on a chain tracechain does not run (once: later runs check the
    chain against the deployment record) from the admin's keystore in the data dir."""
    from devnet.network import ExternalChain

    settings = get_settings()
    if data_dir is not None:
        settings = settings.updated(data_dir=data_dir)
    chain = ExternalChain(
        settings, rpc or settings.effective_rpc_url, key_work_factor=settings.keystore_work_factor
    )
    status = chain.up()
    record: dict[str, Any] | None = status.deployment.to_json() if status.deployment else None
    if as_json:
        print_json(
            {"rpc_url": status.rpc_url, "deployed_now": status.deployed_now, "deployment": record}
        )
        return
    said = "deployed now" if status.deployed_now else "already deployed (record checked)"
    console.print(f"contracts {said} on {status.rpc_url}, block {status.block_number}:")
    console.print_json(json.dumps(record))


@app.command("start")
def start(
    root: NetworkDir,
    besu: Annotated[Path, typer.Option(envvar="TRACECHAIN_BESU_BIN", help="The Besu executable.")],
) -> None:
    """Run the nodes of a --layout local network on this host; wait for the first block."""
    from devnet.network import LocalBesu

    net = LocalBesu(root)
    head = net.start(besu)
    console.print(f"{len(net.plan.nodes)} Besu nodes up, block {head}, node 1 at {net.rpc_url}")


@app.command("stop")
def stop(root: NetworkDir) -> None:
    """Stop the nodes ``network start`` runs."""
    from devnet.network import LocalBesu

    stopped = LocalBesu(root).stop()
    console.print(f"stopped {', '.join(stopped)}" if stopped else "no node was running")
