"""``tracechain grant`` and ``tracechain link`` against a real API served by uvicorn: grant,
list and revoke; issue a link, open its URL without an account, list its uses, revoke it."""

from __future__ import annotations

import time

import httpx

from tests.api.conftest import ADMIN_KEY
from tests.cli.conftest import Cli
from tests.helpers import unique_prefix


def _member(admin: httpx.Client, name: str) -> tuple[str, str]:
    prefix = unique_prefix("05")
    made = admin.post(
        "/members", json={"name": f"{name} {prefix} {time.time()}", "prefixes": [prefix]}
    )
    assert made.status_code == 201, made.text
    org_id = made.json()["org_id"]
    key = admin.post(f"/members/{org_id}/api-keys", json={"role": "recorder"}).json()["key"]
    return org_id, key


def test_grant_and_link_commands(cli: Cli, served_api: str) -> None:
    admin = httpx.Client(base_url=served_api, headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    _owner, owner_key = _member(admin, "CLI Grantor")
    partner, partner_key = _member(admin, "CLI Grantee")
    remote = ("--api", served_api, "--api-key", owner_key)

    made = cli.json("grant", "add", partner, "0614141", "--kind", "prefix", *remote)
    assert made["scope_key"] == "gs1:0614141"
    received = cli.json("grant", "list", "--api", served_api, "--api-key", partner_key)
    assert [g["id"] for g in received["received"]] == [made["id"]]
    assert made["id"] in cli("grant", "list", *remote).stdout
    cli("grant", "revoke", made["id"], *remote)
    assert cli.json("grant", "list", *remote)["given"] == []
    refused = cli("grant", "add", partner, "nonsense", *remote, code=1)
    assert "the API answered 422" in refused.output
    cli("grant", "list", code=1)  # no --api

    link = cli.json("link", "issue", "0614141", "--kind", "prefix", "--label", "audit", *remote)
    assert link["token"].startswith("tcl_")
    opened = httpx.get(link["url"].replace("http://tracechain.test", served_api))
    assert opened.status_code == 200, opened.text
    listed = cli.json("link", "list", *remote)
    assert [(x["id"], x["uses"]) for x in listed] == [(link["id"], 1)]
    uses = cli.json("link", "uses", link["id"], *remote)
    assert [(u["method"], u["path"], u["status"]) for u in uses] == [("GET", "/events", 200)]
    assert uses[0]["client"] == "127.0.0.1"
    cli("link", "revoke", link["id"], *remote)
    again = httpx.get(served_api + "/events", params={"access": link["token"]})
    assert again.status_code == 401
    assert again.headers["content-type"] == "application/problem+json"
    assert next(u["status"] for u in cli.json("link", "uses", link["id"], *remote)) == 401
