"""``tracechain verify``: an identifier's trail (or one event) against the chain.

Local or through ``--api``, ``--json`` prints one verification document
(:class:`ledger.verify.TrailJson`): the ledger's own
(:meth:`ledger.verify.TrailVerification.to_json`, or :meth:`ledger.verify.TrailEntry.document`
for one event), or the API's trail as it answered it (the same document plus what the API node
knows). The table reads only what both have.

Through ``--api`` a trail may hold events the key (or, without a key, the public) may not read
in full: the API shows them as the brand owner's public projection (``"disclosure":
"public"``). Their hash cannot be recomputed from what is shown, so the CLI reports them as the
server verified them against their anchors, says their content is withheld, and does not count
that as a failure: the verdict is the server's, as for every event read through the API.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
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
#: What the table says of an event shown as its public projection.
_WITHHELD: Final = "content withheld (public projection); anchor checked by the server"
#: An event's CBV 2.0 hash as a 0x-hex word (its hash ID starts ``ni:///``).
_EVENT_HASH: Final = re.compile(r"0x[0-9a-f]{64}")


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
    document: Mapping[str, Any]
    if remote is not None:
        document = remote.request(
            "GET",
            f"/identifiers/{backends.quote(identifier)}",
            params={"format": "json"},
            headers={"Accept": "application/json"},
        ).json()
    else:
        document = _verify_locally(identifier)
    if as_json:
        print_json(document)
    else:
        _print_verification(document)
    code = _VERDICT_CODES.get(document["verdict"], ExitCode.FAILED)
    if code:
        raise typer.Exit(code=int(code))


def _verify_locally(text: str) -> Mapping[str, Any]:
    """The ledger's verification document of ``text``: an identifier's trail, or one event."""
    from ledger.store.repository import get_event_by_hash
    from ledger.verify import Verifier
    from ledger.visibility import Reader

    engine = backends.engine()
    verifier = Verifier(engine, backends.chain(), backends.deployment())
    if text.startswith("ni:///") or _EVENT_HASH.fullmatch(text):
        stored = get_event_by_hash(engine, text, reader=Reader.operator())  # local: the operator
        if stored is None:
            die(f"no event {text}", ExitCode.FAILED)
        return verifier.verify_entry(stored.id).document()
    return verifier.verify_identifier(text, reader=Reader.operator()).to_json()


def _print_verification(document: Mapping[str, Any]) -> None:
    """The events and the verdict as a table (from keys every verification document has)."""
    from rich.table import Table

    colours = {"verified": "green", "pending": "yellow", "recalled": "magenta"}
    table = Table("event time", "type", "biz step", "status", "why")
    projected = 0
    for event in document["events"]:
        check = event["verification"]
        colour = colours.get(check["status"], "red")
        why = list(check["reasons"])
        if event.get("disclosure") == "public":
            projected += 1
            why.insert(0, _WITHHELD)
        table.add_row(
            str(event["event_time"] or "—"),
            event["event_type"],
            str(event["biz_step"] or ""),
            f"[{colour}]{check['status']}[/]",
            "; ".join(why),
        )
    console.print(table)
    if projected:
        console.print(
            f"{projected} of {len(document['events'])} events shown as the brand owner's public "
            "projection: their content is withheld from this key, so their hashes cannot be "
            "recomputed here; their status is the server's check against their anchors."
        )
    verdict = document["verdict"]
    reasons = document["reasons"]
    console.print(
        f"{document['identifier']['canonical']}: [bold {colours.get(verdict, 'red')}]{verdict}[/]"
        + (f" ({'; '.join(reasons)})" if reasons else "")
    )
    recall = document["recall"]
    if recall and recall["recalled"]:
        console.print(
            f"recalled on chain: {recall['identifier']} by member {recall['org_id']} "
            f"since block {recall['block']} (reason hash {recall['reason_hash']})"
        )
