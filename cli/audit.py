"""``tracechain audit``: the whole database against the chain itself."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from cli import backends
from cli.errors import ExitCode
from cli.output import JsonOption, console, err_console, evidence_text, print_json
from ledger.settings import get_settings


def audit(
    report: Annotated[
        Path | None, typer.Option(help="Write the JSON report (every finding, with evidence).")
    ] = None,
    from_block: Annotated[
        int | None, typer.Option(help="First block scanned for anchors and recalls.", min=0)
    ] = None,
    to_block: Annotated[int | None, typer.Option(help="Last block scanned.", min=0)] = None,
    workers: Annotated[
        int | None, typer.Option(help="Hashing processes (default: one per CPU).", min=1)
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar on stderr.")] = True,
    as_json: JsonOption = False,
) -> None:
    """Audit the whole database against the chain itself; exit 1 on any finding.

    Checks every event's hash, every batch root and proof, every anchor (and its member and
    signing address), anchors nobody recorded, and recalls. --report writes every finding with
    its evidence as JSON.
    """
    from ledger.audit import Auditor

    settings = get_settings()
    auditor = Auditor(
        backends.engine(),
        backends.chain(),
        backends.deployment(),
        logs_block_range=settings.chain.logs_block_range,
        workers=workers,
    )
    if progress:
        result = _audit_with_progress(auditor, from_block, to_block)
    else:
        result = auditor.run(from_block=from_block, to_block=to_block)
    if report is not None:
        result.write(report)
    if as_json:
        print_json(result.summary())
    else:
        _print_audit(result, report)
    if not result.ok:
        raise typer.Exit(code=int(ExitCode.FAILED))


def _audit_with_progress(auditor: Any, from_block: int | None, to_block: int | None) -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    # No refresh thread: the audit forks its workers, which is safe only single-threaded.
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err_console,
        auto_refresh=False,
        transient=True,
    ) as bar:
        task = bar.add_task("auditing events", total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)
            bar.refresh()

        return auditor.run(from_block=from_block, to_block=to_block, progress=update)


def _print_audit(result: Any, report: Path | None) -> None:
    from rich.table import Table

    summary = result.summary()
    table = Table("checked", "count", show_header=False)
    for key in (
        "events",
        "pending_events",
        "batches",
        "mined_batches",
        "in_flight_batches",
        "anchors_on_chain",
        "event_anchors_on_chain",
        "recalls",
        "recalls_of_ledger_identifiers",
    ):
        table.add_row(key.replace("_", " "), str(summary[key]))
    table.add_row("blocks", f"{result.from_block} to {result.to_block}")
    table.add_row("time", f"{summary['elapsed_s']} s ({summary['events_per_s']:,} events/s)")
    console.print(table)
    if result.findings:
        findings = Table("kind", "finding", "evidence")
        for finding in result.findings[:50]:
            findings.add_row(finding.kind, finding.message, evidence_text(finding.evidence))
        console.print(findings)
        more = len(result.findings) - 50
        if more > 0:
            console.print(f"... and {more} more (see the report)")
        console.print(f"[bold red]{len(result.findings)} findings[/]: {summary['by_kind']}")
    else:
        console.print("[bold green]no findings[/]: the database and the chain agree")
    if report is not None:
        console.print(f"report written to {report}")
