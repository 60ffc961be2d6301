"""What the CLI prints: the consoles, ``--json`` and the helpers the commands share."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Annotated, Any, Final

import typer
from rich.console import Console

#: Results on stdout, messages (errors, progress, logs) on stderr.
console = Console()
err_console = Console(stderr=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]

#: Evidence shown beside a finding in the tables (the JSON report has all of it).
EVIDENCE_KEYS: Final = frozenset(
    {"event_pk", "batch_id", "root", "tx_hash", "block", "event_hash", "identifier", "found"}
)


def print_json(data: Any) -> None:
    """Print ``data`` as indented JSON on stdout (dates and other objects as strings)."""
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def evidence_text(evidence: Mapping[str, Any]) -> str:
    """A finding's evidence for a table cell: the :data:`EVIDENCE_KEYS` it has."""
    return ", ".join(f"{k}={v}" for k, v in evidence.items() if k in EVIDENCE_KEYS)
