"""``tracechain devnet up|down|status``: the local permissioned chain (anvil) with our
contracts."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from cli.output import JsonOption, console
from ledger.settings import get_settings

app = typer.Typer(help="The local permissioned chain (anvil) with our contracts.")


def _status_json(status: Any) -> dict[str, Any]:
    return {
        "running": status.running,
        "pid": status.pid,
        "rpc_url": status.rpc_url,
        "block_number": status.block_number,
        "deployed_now": status.deployed_now,
        "deployment": status.deployment.to_json() if status.deployment else None,
    }


def _print_status(status: Any, as_json: bool) -> None:
    data = _status_json(status)
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    state = "[green]up[/]" if status.running else "[red]down[/]"
    console.print(
        f"devnet {state} at {status.rpc_url} (pid {status.pid}, block {status.block_number})"
    )
    if status.deployment is not None:
        if status.deployed_now:
            console.print("[bold]contracts deployed now[/]; deployment record:")
        else:
            console.print("deployment record (checked against the chain):")
        console.print_json(json.dumps(data["deployment"]))


@app.command("up")
def up(
    redeploy: Annotated[
        bool, typer.Option(help="Deploy anew when the chain no longer matches the record.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Start anvil (if not running), deploy the contracts once, print the deployment record."""
    from devnet.launcher import Devnet

    status = Devnet(get_settings()).up(redeploy=redeploy)
    _print_status(status, as_json)


@app.command("down")
def down() -> None:
    """Stop anvil cleanly (its state is dumped to the data dir)."""
    from devnet.launcher import Devnet

    stopped = Devnet(get_settings()).down()
    console.print("devnet stopped" if stopped else "devnet was not running")


@app.command("status")
def status(as_json: JsonOption = False) -> None:
    """Whether anvil runs, its head block and the deployment record; exit 1 when down."""
    from devnet.launcher import Devnet

    current = Devnet(get_settings()).status()
    _print_status(current, as_json)
    if not current.running:
        raise typer.Exit(code=1)
