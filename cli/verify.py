"""``tracechain verify``: an identifier's trail (or one event) against the chain."""

from __future__ import annotations

from typing import Annotated, Any, Final

import typer

from cli import backends
from cli.backends import ApiKeyOption, ApiOption
from cli.errors import ExitCode, die
from cli.output import JsonOption, console, print_json

_VERDICT_CODES: Final = {
    "verified": ExitCode.OK,
    "pending": ExitCode.PENDING,
    "recalled": ExitCode.RECALLED,
}


def verify(
    identifier: Annotated[
        str, typer.Argument(help="An identifier (its whole trail), or an event hash ID / 0x hash.")
    ],
    api: ApiOption = None,
    api_key: ApiKeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Verify an identifier's trail (or one event) against the chain.

    Exit 0 verified, 1 tampered or unknown, 3 pending (not anchored yet), 4 recalled.
    """
    remote = backends.remote(api, api_key)
    if remote is not None:
        data = remote.request(
            "GET",
            f"/identifiers/{backends.quote(identifier)}",
            params={"format": "json"},
            headers={"Accept": "application/json"},
        ).json()
        summary = {
            "identifier": data["identifier"]["canonical"],
            "verdict": data["verdict"],
            "reasons": data.get("reasons", []),
            "recall": data.get("recall"),
            "events": [
                {
                    "hash_id": e["hash_id"],
                    "event_type": e["event_type"],
                    "event_time": e["event_time"],
                    "biz_step": e.get("biz_step"),
                    "status": e["verification"]["status"],
                    "reasons": e["verification"]["reasons"],
                }
                for e in data["events"]
            ],
        }
    else:
        summary = _verify_locally(identifier)
    if as_json:
        print_json(summary)
    else:
        _print_verification(summary)
    code = _VERDICT_CODES.get(summary["verdict"], ExitCode.FAILED)
    if code:
        raise typer.Exit(code=int(code))


def _verify_locally(text: str) -> dict[str, Any]:
    import re

    from ledger.store.repository import get_event_by_hash
    from ledger.verify import Verifier

    engine = backends.engine()
    verifier = Verifier(engine, backends.chain(), backends.deployment())
    if text.startswith("ni:///") or re.fullmatch(r"0x[0-9a-f]{64}", text):
        stored = get_event_by_hash(engine, text)
        if stored is None:
            die(f"no event {text}", ExitCode.FAILED)
        result = verifier.verify_event(stored.id)
        return {
            "identifier": text,
            "verdict": result.status,
            "reasons": list(result.reasons),
            "recall": None,
            "events": [
                {
                    "hash_id": result.hash_id,
                    "event_type": stored.event_type,
                    "event_time": stored.event_time.isoformat(),
                    "biz_step": stored.event.get("bizStep"),
                    "status": result.status,
                    "reasons": list(result.reasons),
                    "anchor": result.to_json()["anchor"],
                }
            ],
        }
    trail = verifier.verify_identifier(text)
    return {
        "identifier": trail.identifier,
        "verdict": trail.verdict,
        "reasons": list(trail.reasons),
        "recall": trail.recall,
        "events": [
            {
                "hash_id": entry.verification.hash_id,
                "event_type": entry.event_type,
                "event_time": entry.event_time.isoformat(),
                "biz_step": entry.biz_step,
                "status": entry.verification.status,
                "reasons": list(entry.verification.reasons),
                "anchor": entry.verification.to_json()["anchor"],
            }
            for entry in trail.events
        ],
    }


def _print_verification(summary: dict[str, Any]) -> None:
    from rich.table import Table

    colours = {"verified": "green", "pending": "yellow", "recalled": "magenta"}
    table = Table("event time", "type", "biz step", "status", "why")
    for event in summary["events"]:
        colour = colours.get(event["status"], "red")
        table.add_row(
            str(event["event_time"]),
            event["event_type"],
            str(event.get("biz_step") or ""),
            f"[{colour}]{event['status']}[/]",
            "; ".join(event["reasons"]),
        )
    console.print(table)
    verdict = summary["verdict"]
    console.print(
        f"{summary['identifier']}: [bold {colours.get(verdict, 'red')}]{verdict}[/]"
        + (f" ({'; '.join(summary['reasons'])})" if summary["reasons"] else "")
    )
    if summary.get("recall"):
        console.print(f"recalled on chain: {summary['recall']}")
