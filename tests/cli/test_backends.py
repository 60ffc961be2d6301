"""``--api``: the commands asking a running API (the real app served by uvicorn) instead of the
database and the chain."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
from defusedxml.ElementTree import fromstring

from ledger.store.indexing import index_identifier
from tests.api.conftest import ADMIN_KEY
from tests.cli.conftest import Cli
from tests.helpers import supply_document, unique_prefix


def test_remote_api_mode(cli: Cli, served_api: str, tmp_path: Path) -> None:
    admin = httpx.Client(base_url=served_api, headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    prefix = unique_prefix("05")
    member = admin.post(
        "/members", json={"name": f"Remote {prefix} {time.time()}", "prefixes": [prefix]}
    )
    assert member.status_code == 201, member.text
    org_id = member.json()["org_id"]
    key = admin.post(f"/members/{org_id}/api-keys", json={"role": "recorder"}).json()["key"]
    doc, items, case, _lot = supply_document(prefix)
    path = tmp_path / "remote.jsonld"
    path.write_text(doc)
    remote = ("--api", served_api, "--api-key", key)
    assert cli.json("capture", str(path), *remote)["eventCount"] == 3
    queried = cli.json("query", f"MATCH_anyEPC={case}", "--all", "--per-page", "1", *remote)
    assert len(queried["events"]) == 2
    assert queried["nextPageToken"] is None
    trail = cli.json("verify", items[0], *remote, code=3)
    assert trail["verdict"] == "pending"
    # The API's trail as it answered it: the ledger's own document (the CLI's, verifying the
    # same database locally) plus what the API node adds.
    served_db = {"DATABASE_URL": f"sqlite:///{tmp_path / 'served.sqlite3'}"}
    local = json.loads(cli("verify", items[0], "--json", code=3, env=served_db).stdout)
    assert local["identifier"].items() <= trail["identifier"].items()
    assert trail["identifier"]["resolver_url"].startswith("http")
    for key in ("verdict", "reasons", "origin"):
        assert trail[key] == local[key], key
    assert local["recall"].items() <= trail["recall"].items()
    assert len(trail["events"]) == len(local["events"]) == 2
    for served, own in zip(trail["events"], local["events"], strict=True):
        assert served == {**own, "declared_in_error": None, "disclosure": "full", "withheld": []}
    # The table reads what both documents have.
    tables = [
        cli("verify", items[0], *remote, code=3),
        cli("verify", items[0], code=3, env=served_db),
    ]
    for table in tables:
        assert f"{trail['identifier']['canonical']}: pending" in table.stdout
    # Without a key the API answers the public's trail: every event is the brand owner's
    # public projection, whose hash the CLI cannot recompute; it says their content is
    # withheld and keeps the server's verdict (not a failure).
    public = cli.json("verify", items[0], "--api", served_api, code=3)
    assert [e["hash_id"] for e in public["events"]] == [e["hash_id"] for e in trail["events"]]
    assert {e["disclosure"] for e in public["events"]} == {"public"}
    assert public["verdict"] == trail["verdict"]
    withheld = cli("verify", items[0], "--api", served_api, code=3).stdout
    assert "content withheld" in withheld
    assert "2 of 2 events shown as the brand owner's public projection" in withheld
    svg = tmp_path / "remote.svg"
    graph = cli.json("trace", case, "--direction", "backward", "--svg", str(svg), *remote)
    assert {index_identifier(item).canonical for item in items} <= {n["id"] for n in graph["nodes"]}
    assert graph["direction"] == "backward"
    assert fromstring(svg.read_bytes()).tag == "{http://www.w3.org/2000/svg}svg"
    # A refused request (4xx) exits 1 with the problem's detail; a bad key too.
    refused = cli("query", "NOPE=1", *remote, code=1)
    assert "the API answered 4" in refused.output
    cli("query", "--api", served_api, "--api-key", "tc_nope", code=1)
