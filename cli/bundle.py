"""``tracechain export`` and ``tracechain verify-bundle``: self-contained bundles of events,
verified offline against nothing but a node of the chain."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from cli import backends
from cli.errors import ExitCode, die
from cli.output import JsonOption, console, err_console, evidence_text, print_json
from ledger.settings import get_settings


def export(
    identifier: Annotated[
        str | None, typer.Option(help="Events mentioning this identifier (or its lot's items).")
    ] = None,
    lot: Annotated[str | None, typer.Option(help="Events of this lot (any LGTIN form).")] = None,
    from_time: Annotated[
        str | None, typer.Option("--from", help="Events at or after this time (RFC 3339).")
    ] = None,
    to_time: Annotated[
        str | None, typer.Option("--to", help="Events before this time (RFC 3339).")
    ] = None,
    trace_direction: Annotated[
        str | None,
        typer.Option("--trace", help="Add every event of the identifier's forward/backward trace."),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Write here (default: stdout).")] = None,
) -> None:
    """Write a self-contained bundle of events for offline verification (every selected
    event: a local export is the operator's).

    Events as captured, hashes, proofs, roots, anchoring transactions, recorders, chain id and
    genesis hash: `tracechain verify-bundle` needs nothing else but a node of the chain.
    """
    from ledger.bundle import dump_bundle, export_bundle
    from ledger.visibility import Reader

    if trace_direction not in (None, "forward", "backward"):
        die("--trace is forward or backward", ExitCode.FAILED)
    bundle = export_bundle(
        backends.engine(),
        backends.chain(),
        backends.deployment(),
        identifier=identifier,
        lot=lot,
        from_time=from_time,
        to_time=to_time,
        trace=trace_direction,  # type: ignore[arg-type]
        reader=Reader.operator(),  # a local export reads the database: the operator's view
    )
    text = dump_bundle(bundle)
    if out is None:
        sys.stdout.write(text)
        return
    out.write_text(text)
    err_console.print(
        f"{len(bundle['events'])} events in {len(bundle['batches'])} batches written to {out}"
    )


def verify_bundle(
    file: Annotated[Path, typer.Argument(help="A bundle written by `tracechain export`.")],
    rpc: Annotated[
        str | None,
        typer.Option(help="Any node of the chain (default TRACECHAIN_RPC_URL or the devnet)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Verify a bundle against the chain alone (no database, no API).

    Exit 0 when every event and anchor checks out, 1 otherwise.
    """
    from ledger.bundle import load_bundle
    from ledger.bundle import verify_bundle as run_verification
    from ledger.chain import ChainClient

    settings = get_settings()
    bundle = load_bundle(backends.read_file(file))
    result = run_verification(
        bundle,
        ChainClient(rpc or settings.effective_rpc_urls),
        logs_block_range=settings.chain.logs_block_range,
    )
    if as_json:
        print_json(result.to_json())
    else:
        _print_bundle_result(result)
    if not result.ok:
        raise typer.Exit(code=int(ExitCode.FAILED))


def _print_bundle_result(result: Any) -> None:
    from rich.table import Table

    console.print(
        f"{result.events} events in {result.batches} batches on chain {result.chain_id} "
        f"({result.contract}): {result.verified} verified, {result.pending} pending"
    )
    if result.ok:
        console.print("[bold green]the bundle verifies[/]")
        return
    table = Table("kind", "finding", "evidence")
    for finding in result.findings[:50]:
        table.add_row(finding.kind, finding.message, evidence_text(finding.evidence))
    console.print(table)
    console.print(f"[bold red]{len(result.findings)} findings[/]")
