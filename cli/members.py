"""``tracechain members ...``: list, admit, suspend, reinstate, assign prefixes, rotate keys.

Changes are signed by the consortium admin's keystore in the data dir
(:func:`cli.backends.membership`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli import backends
from cli.errors import ExitCode, die
from cli.output import JsonOption, console, print_json

if TYPE_CHECKING:
    from ledger.membership import Member

app = typer.Typer(
    help="Consortium members: list, admit, suspend, reinstate, prefixes, key rotation.",
    no_args_is_help=True,
)


def member_json(member: Member) -> dict[str, Any]:
    """A member as ``--json`` prints it."""
    return {
        "org_id": member.org_id,
        "name": member.name,
        "roles": [r for r, bit in (("recorder", 1), ("auditor", 2)) if member.roles & bit],
        "active": member.active,
        "signing_addresses": list(member.signing_addresses),
        "prefixes": list(member.prefixes),
    }


def _print_members(members: list[Member], as_json: bool) -> None:
    from rich.table import Table

    if as_json:
        print_json([member_json(m) for m in members])
        return
    table = Table("org id", "name", "roles", "active", "prefixes", "signing addresses")
    for m in members:
        data = member_json(m)
        table.add_row(
            m.org_id[:18] + "…",
            m.name,
            ", ".join(data["roles"]),
            "yes" if m.active else "[red]suspended[/]",
            ", ".join(m.prefixes),
            "\n".join(m.signing_addresses),
        )
    console.print(table)


@app.command("list")
def list_members(as_json: JsonOption = False) -> None:
    """Every member as the database mirrors the chain."""
    _print_members(backends.membership(admin=False).members(), as_json)


@app.command("admit")
def admit(
    name: Annotated[str, typer.Argument(help="The organisation's name.")],
    role: Annotated[
        list[str] | None,
        typer.Option(help="recorder and/or auditor (repeat the option); default recorder."),
    ] = None,
    prefix: Annotated[
        list[str] | None,
        typer.Option(help="Identifier prefix to assign (0614141, gs1:0614141, 88.118.8...)."),
    ] = None,
    org_id: Annotated[
        str | None, typer.Option(help="On-chain organisation id (default keccak256 of the name).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Admit an organisation on the chain with a new signing key (the consortium admin's)."""
    from ledger.store.models import OrgRole

    bits = {"recorder": OrgRole.RECORDER, "auditor": OrgRole.AUDITOR}
    chosen = role or ["recorder"]
    unknown = [r for r in chosen if r not in bits]
    if unknown:
        die(f"unknown role(s) {', '.join(unknown)}: recorder, auditor", ExitCode.FAILED)
    roles = 0
    for r in chosen:
        roles |= int(bits[r])
    member = backends.membership(admin=True).admit(
        name, roles, org_id=org_id, prefixes=tuple(prefix or ())
    )
    _print_members([member], as_json)


@app.command("suspend")
def suspend(org_id: str, as_json: JsonOption = False) -> None:
    """Suspend a member: its keys can no longer anchor or recall."""
    _print_members([backends.membership(admin=True).suspend(org_id)], as_json)


@app.command("reinstate")
def reinstate(org_id: str, as_json: JsonOption = False) -> None:
    """Reinstate a suspended member."""
    _print_members([backends.membership(admin=True).reinstate(org_id)], as_json)


@app.command("assign-prefix")
def assign_prefix(org_id: str, prefix: str, as_json: JsonOption = False) -> None:
    """Assign an identifier prefix to a member (on the chain and in the database)."""
    membership = backends.membership(admin=True)
    membership.assign_prefix(org_id, prefix)
    _print_members([membership.member(org_id)], as_json)


@app.command("rotate-key")
def rotate_key(
    org_id: str,
    keep_old: Annotated[bool, typer.Option(help="Keep the old keys active.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Give a member a new signing key and revoke the old ones (past anchors stay valid)."""
    membership = backends.membership(admin=True)
    address = membership.rotate_key(org_id, revoke_old=not keep_old)
    member = membership.member(org_id)
    if as_json:
        print_json({"new_address": address, "member": member_json(member)})
        return
    console.print(f"new signing address [bold]{address}[/]")
    _print_members([member], False)
