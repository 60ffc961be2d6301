"""The ``tracechain`` command line (Typer).

Every subcommand imports what it needs when it runs, so ``tracechain --help`` and the devnet
commands start fast and need no web stack.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console

from ledger.errors import LedgerError
from ledger.settings import get_settings

app = typer.Typer(
    name="tracechain",
    help="Supply-chain traceability ledger: EPCIS events anchored on a permissioned chain.",
    no_args_is_help=True,
)
devnet_app = typer.Typer(help="The local permissioned chain (anvil) with our contracts.")
app.add_typer(devnet_app, name="devnet")

console = Console()
err_console = Console(stderr=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def _fail(exc: LedgerError) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {exc}")
    return typer.Exit(code=1)


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


@devnet_app.command("up")
def devnet_up(
    redeploy: Annotated[
        bool, typer.Option(help="Deploy anew when the chain no longer matches the record.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Start anvil (if not running), deploy the contracts once, print the deployment record."""
    from devnet.launcher import Devnet

    try:
        status = Devnet(get_settings()).up(redeploy=redeploy)
    except LedgerError as exc:
        raise _fail(exc) from None
    _print_status(status, as_json)


@devnet_app.command("down")
def devnet_down() -> None:
    """Stop anvil cleanly (its state is dumped to the data dir)."""
    from devnet.launcher import Devnet

    stopped = Devnet(get_settings()).down()
    console.print("devnet stopped" if stopped else "devnet was not running")


@devnet_app.command("status")
def devnet_status(as_json: JsonOption = False) -> None:
    """Whether anvil runs, its head block and the deployment record; exit 1 when down."""
    from devnet.launcher import Devnet

    try:
        status = Devnet(get_settings()).status()
    except LedgerError as exc:
        raise _fail(exc) from None
    _print_status(status, as_json)
    if not status.running:
        raise typer.Exit(code=1)


@app.command("anchor-worker")
def anchor_worker(
    drain: Annotated[
        bool, typer.Option(help="Anchor everything pending now, then exit (0 when done).")
    ] = False,
    timeout: Annotated[float, typer.Option(help="With --drain: give up after this long.")] = 300,
) -> None:
    """Anchor captured events on the chain (runs until stopped; the API runs one by default)."""
    import signal
    import threading

    from ledger.anchoring import AnchorConfig, AnchorWorker
    from ledger.chain import ChainClient
    from ledger.deployment import Deployment
    from ledger.store.db import make_engine, migrate
    from wallets.keyring import Keyring

    settings = get_settings()
    _configure_logging()
    try:
        engine = make_engine(settings.effective_database_url)
        migrate(engine)
        worker = AnchorWorker(
            engine,
            ChainClient(settings.effective_rpc_url),
            Deployment.load(settings.deployment_file),
            Keyring(settings.data_dir, work_factor=settings.keystore_work_factor),
            AnchorConfig.from_settings(settings),
        )
        if drain:
            anchored = worker.drain(timeout=timeout)
            console.print(f"anchored {anchored} events; nothing pending")
            return
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        worker.run(stop)
    except LedgerError as exc:
        raise _fail(exc) from None


def _configure_logging() -> None:
    import logging

    from rich.logging import RichHandler

    logging.basicConfig(
        level=logging.INFO,
        format="%(message)s",
        handlers=[RichHandler(console=err_console, show_path=False)],
    )


if __name__ == "__main__":
    app()
