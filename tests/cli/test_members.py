"""``tracechain members``: admit, suspend, reinstate, assign prefixes, rotate keys, list."""

from __future__ import annotations

import time

from tests.cli.conftest import Cli
from tests.helpers import unique_prefix


def test_membership_commands(cli: Cli) -> None:
    prefix, other = unique_prefix("05"), unique_prefix("05")
    member = cli.json("members", "admit", f"Rotating {prefix} {time.time()}")[0]
    org_id = member["org_id"]
    suspended = cli.json("members", "suspend", org_id)[0]
    assert suspended["active"] is False
    assert cli.json("members", "reinstate", org_id)[0]["active"] is True
    assigned = cli.json("members", "assign-prefix", org_id, prefix)[0]
    assert assigned["prefixes"] == [f"gs1:{prefix}"]
    rotated = cli.json("members", "rotate-key", org_id)
    assert rotated["member"]["signing_addresses"] == [rotated["new_address"]]
    assert rotated["new_address"] not in member["signing_addresses"]
    cli("members", "admit", f"Bad {other}", "--role", "janitor", code=1)
    cli("members", "suspend", "0x" + "ab" * 32, code=1)
    listed = cli("members", "list")
    assert org_id[:18] in listed.stdout
