"""``tracechain grant ...`` and ``tracechain link ...``: read grants between members and
regulators' capability links, through the API (``--api`` and ``--api-key``: the key says who
grants or issues; see :mod:`ledger.access`)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from cli import backends
from cli.backends import ApiKeyOption, ApiOption, Remote
from cli.errors import ExitCode, die
from cli.output import JsonOption, console, print_json

grant_app = typer.Typer(
    help="Let another member read your events about an identifier, lot or prefix (--api).",
    no_args_is_help=True,
)
link_app = typer.Typer(
    help="Read-only, expiring capability links for regulators (--api).",
    no_args_is_help=True,
)

KindOption = Annotated[
    str, typer.Option("--kind", help="What the scope is: identifier, lot or prefix.")
]


def _remote(api: str | None, api_key: str | None) -> Remote:
    found = backends.remote(api, api_key)
    if found is None or not api_key:
        die("this command works through the API: give --api and --api-key", ExitCode.FAILED)
    return found


def _table(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> None:
    from rich.table import Table

    table = Table(*columns)
    for row in rows:
        table.add_row(*("" if row.get(c) is None else str(row.get(c)) for c in columns))
    console.print(table)


_GRANT_COLUMNS = ("id", "grantor", "grantee", "scope_kind", "scope", "created_at", "revoked_at")
_LINK_COLUMNS = ("id", "label", "scope_kind", "scope", "since", "until", "expires_at", "active")


@grant_app.command("add")
def grant_add(
    grantee: Annotated[str, typer.Argument(help="The grantee's organisation id (0x...).")],
    scope: Annotated[str, typer.Argument(help="The identifier, lot or prefix.")],
    kind: KindOption = "identifier",
    api: ApiOption = None,
    api_key: ApiKeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Grant member GRANTEE read access to your events about SCOPE, from now on."""
    body = {"grantee": grantee, "scope_kind": kind, "scope": scope}
    made = _remote(api, api_key).request("POST", "/grants", json=body).json()
    if as_json:
        print_json(made)
        return
    _table([made], _GRANT_COLUMNS)


@grant_app.command("list")
def grant_list(
    revoked: Annotated[bool, typer.Option(help="List revoked grants too.")] = False,
    api: ApiOption = None,
    api_key: ApiKeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """The grants your member gave and received."""
    params = {"include_revoked": "true"} if revoked else {}
    found = _remote(api, api_key).request("GET", "/grants", params=params).json()
    if as_json:
        print_json(found)
        return
    for side in ("given", "received"):
        console.print(f"[bold]{side}[/]")
        _table(found[side], _GRANT_COLUMNS)


@grant_app.command("revoke")
def grant_revoke(
    grant_id: Annotated[str, typer.Argument(help="The grant's id.")],
    api: ApiOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Revoke a grant you gave, at once."""
    _remote(api, api_key).request("DELETE", f"/grants/{grant_id}")
    console.print(f"revoked grant {grant_id}")


@link_app.command("issue")
def link_issue(
    scope: Annotated[str, typer.Argument(help="The identifier, lot or prefix.")],
    kind: KindOption = "identifier",
    since: Annotated[
        str | None, typer.Option(help="Only events at or after this time (ISO 8601).")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Only events before this time (ISO 8601).")
    ] = None,
    expires_at: Annotated[
        str | None, typer.Option(help="When the link stops working (default in 30 days).")
    ] = None,
    label: Annotated[str, typer.Option(help="A note for your list of links.")] = "",
    api: ApiOption = None,
    api_key: ApiKeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Issue a read-only link to your view of the events about SCOPE; prints its URL and
    token (shown only now)."""
    body: dict[str, Any] = {"scope_kind": kind, "scope": scope, "label": label}
    for name, value in (("since", since), ("until", until), ("expires_at", expires_at)):
        if value is not None:
            body[name] = value
    made = _remote(api, api_key).request("POST", "/links", json=body).json()
    if as_json:
        print_json(made)
        return
    _table([made], _LINK_COLUMNS)
    console.print(f"url (shown only now): {made['url']}", soft_wrap=True)
    console.print(f"token: {made['token']}", soft_wrap=True)


@link_app.command("list")
def link_list(
    api: ApiOption = None, api_key: ApiKeyOption = None, as_json: JsonOption = False
) -> None:
    """The links you issued, with how often each was used."""
    found = _remote(api, api_key).request("GET", "/links").json()
    if as_json:
        print_json(found)
        return
    _table(found, (*_LINK_COLUMNS, "uses"))


@link_app.command("uses")
def link_uses(
    link_id: Annotated[str, typer.Argument(help="The link's id.")],
    api: ApiOption = None,
    api_key: ApiKeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Every use of one of your links: when, from where, what, and the answer's status."""
    found = _remote(api, api_key).request("GET", f"/links/{link_id}/uses").json()
    if as_json:
        print_json(found)
        return
    _table(found, ("used_at", "client", "method", "path", "status"))


@link_app.command("revoke")
def link_revoke(
    link_id: Annotated[str, typer.Argument(help="The link's id.")],
    api: ApiOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Revoke one of your links at once."""
    _remote(api, api_key).request("DELETE", f"/links/{link_id}")
    console.print(f"revoked link {link_id}")
