"""The ``tracechain`` CLI end to end: Typer's CliRunner and real subprocesses on the session
devnet, a real SQLite database and, for ``--api``, the real app served by uvicorn."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import uvicorn
from defusedxml.ElementTree import fromstring
from typer.testing import CliRunner, Result

from api.app import create_app
from api.cli import app
from devnet.launcher import Devnet
from ledger.chain import ChainClient
from ledger.deployment import Deployment
from ledger.membership import Membership
from ledger.settings import REPO_ROOT, get_settings
from ledger.store.db import make_engine
from ledger.store.indexing import index_identifier
from ledger.store.models import Event, metadata
from tests.api.conftest import ADMIN_KEY, app_settings
from tests.conftest import free_port
from tests.ledger.test_trace import gln, gtin, sscc
from wallets.keyring import Keyring

_event = metadata.tables[Event.__tablename__]
_prefixes = itertools.count(int(time.time() * 10) % 90_000)
WORK_FACTOR = 1 << 10
CONTEXT = "https://ref.gs1.org/standards/epcis/epcis-context.jsonld"
DL = "https://id.gs1.org"


def unique_prefix() -> str:
    """A 7-digit company prefix no other test of the session owns on chain."""
    return f"05{next(_prefixes) % 100_000:05d}"


@dataclass
class Cli:
    """The CLI with its own data dir and database on the session devnet."""

    env: dict[str, str]
    data_dir: Path
    database_url: str
    rpc_url: str
    runner: CliRunner

    def __call__(self, *args: str, code: int | None = 0) -> Result:
        get_settings.cache_clear()
        try:
            result = self.runner.invoke(app, list(args), env=self.env, catch_exceptions=False)
        finally:
            get_settings.cache_clear()
        if code is not None:
            assert result.exit_code == code, (args, result.exit_code, result.output)
        return result

    def json(self, *args: str, code: int = 0) -> Any:
        return json.loads(self(*args, "--json", code=code).stdout)

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """The CLI in its own process (``python -m api.cli``)."""
        return subprocess.run(
            [sys.executable, "-m", "api.cli", *args],
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **self.env},
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )

    def block(self) -> int:
        return int(ChainClient(self.rpc_url).w3.eth.block_number)


@pytest.fixture
def cli(devnet: Devnet, tmp_path: Path) -> Cli:
    data_dir = tmp_path / "data"
    (data_dir / "keys").mkdir(parents=True)
    shutil.copy(devnet.paths.deployment, data_dir / "deployment.json")
    shutil.copy(devnet.paths.admin_keystore, data_dir / "keys" / "admin.json")
    shutil.copy(devnet.paths.admin_passphrase, data_dir / "keys" / "admin.passphrase")
    database_url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    env = {
        "TRACECHAIN_DATA_DIR": str(data_dir),
        "TRACECHAIN_RPC_URL": devnet.rpc_url,
        "DATABASE_URL": database_url,
        "TRACECHAIN_KEYSTORE_WORK_FACTOR": str(WORK_FACTOR),
        "TRACECHAIN_ANCHOR_BATCH_MAX_EVENTS": "3",
        "COLUMNS": "200",
    }
    return Cli(env, data_dir, database_url, devnet.rpc_url, CliRunner())


def epcis(*events: dict[str, Any]) -> str:
    return json.dumps(
        {
            "@context": [CONTEXT],
            "type": "EPCISDocument",
            "schemaVersion": "2.0",
            "creationDate": "2026-03-01T09:00:00Z",
            "epcisBody": {"eventList": list(events)},
        }
    )


def supply_document(prefix: str) -> tuple[str, list[str], str, str]:
    """Commissioning of 4 items of a lot, packing them in a case, shipping the case."""
    lot = f"{DL}/01/{gtin(prefix, 1)}/10/L1"
    items = [f"{lot}/21/{n}" for n in range(4)]
    case = f"{DL}/00/{sscc(prefix, 1)}"
    site = f"{DL}/414/{gln(prefix, 1)}"
    shop = f"{DL}/414/{gln(prefix, 2)}"
    doc = epcis(
        {
            "type": "ObjectEvent",
            "eventTime": "2026-03-01T08:00:00Z",
            "eventTimeZoneOffset": "+01:00",
            "epcList": items,
            "action": "ADD",
            "bizStep": "commissioning",
            "disposition": "active",
            "readPoint": {"id": site},
        },
        {
            "type": "AggregationEvent",
            "eventTime": "2026-03-01T08:05:00Z",
            "eventTimeZoneOffset": "+01:00",
            "parentID": case,
            "childEPCs": items,
            "action": "ADD",
            "bizStep": "packing",
            "readPoint": {"id": site},
        },
        {
            "type": "ObjectEvent",
            "eventTime": "2026-03-01T08:10:00Z",
            "eventTimeZoneOffset": "+01:00",
            "epcList": [case],
            "action": "OBSERVE",
            "bizStep": "shipping",
            "readPoint": {"id": site},
            "destinationList": [{"type": "location", "destination": shop}],
        },
    )
    return doc, items, case, lot


def test_every_command_has_help(cli: Cli) -> None:
    top = cli("--help")
    for command in (
        "serve",
        "members",
        "capture",
        "query",
        "trace",
        "verify",
        "audit",
        "export",
        "verify-bundle",
        "devnet",
        "anchor-worker",
    ):
        assert command in top.stdout
        assert "Usage" in cli(*command.split(), "--help").stdout
    for sub in ("list", "admit", "suspend", "reinstate", "assign-prefix", "rotate-key"):
        assert "Usage" in cli("members", sub, "--help").stdout
    assert "--install-completion" in top.stdout


def test_operator_and_auditor_flow(cli: Cli, tmp_path: Path) -> None:
    start = cli.block() + 1
    prefix = unique_prefix()
    stamp = f"{prefix} {time.time()}"
    maker = cli.json("members", "admit", f"Maker {stamp}", "--prefix", prefix)[0]
    assert maker["prefixes"] == [f"gs1:{prefix}"]
    assert maker["roles"] == ["recorder"]
    shop = cli.json("members", "admit", f"Shop {stamp}", "--role", "recorder", "--role", "auditor")[
        0
    ]
    assert shop["roles"] == ["recorder", "auditor"]
    listed = cli.json("members", "list")
    assert {m["org_id"] for m in listed} == {maker["org_id"], shop["org_id"]}

    # Capture: the maker commissions under its own prefix; the shop may not.
    doc, items, case, lot = supply_document(prefix)
    path = tmp_path / "supply.jsonld"
    path.write_text(doc)
    refused = cli("capture", str(path), "--member", shop["org_id"], code=1)
    assert "prefix" in refused.output.lower()
    captured = cli.json("capture", str(path), "--member", maker["org_id"])
    assert captured["eventCount"] == 3
    assert captured["new"] == 3
    broken = tmp_path / "broken.json"
    broken.write_text('{"type": "EPCISDocument"}')
    cli("capture", str(broken), "--member", maker["org_id"], code=1)

    # Pending until anchored, then verified.
    assert cli.json("verify", items[0], code=3)["verdict"] == "pending"
    drained = cli("anchor-worker", "--drain")
    assert "anchored 3 events" in drained.stdout
    verified = cli.json("verify", items[0])
    assert verified["verdict"] == "verified"
    assert [e["status"] for e in verified["events"]] == ["verified", "verified"]
    event_hash = verified["events"][0]["hash_id"]
    assert cli.json("verify", event_hash)["verdict"] == "verified"

    # Query, trace (JSON and SVG).
    queried = cli.json("query", f"MATCH_epc={items[1]}", "eventType=AggregationEvent")
    assert [e["type"] for e in queried["events"]] == ["AggregationEvent"]
    assert "AggregationEvent" in cli("query", f"MATCH_epc={items[1]}").stdout
    svg = tmp_path / "trace.svg"
    graph = cli.json("trace", case, "--direction", "backward", "--svg", str(svg))
    assert {n["id"] for n in graph["nodes"]} >= {case, lot}
    assert fromstring(svg.read_bytes()).tag == "{http://www.w3.org/2000/svg}svg"
    recall = cli.json("trace", lot, "--recall")
    assert recall["recall"]["logistic_units"] == [case]
    assert len(recall["recall"]["products"]) == 4
    cli("trace", case, "--direction", "sideways", code=1)

    # Export and verify the bundle with nothing but the node.
    bundle = tmp_path / "bundle.json"
    cli("export", "--lot", lot, "--out", str(bundle))
    checked = cli.json("verify-bundle", str(bundle), "--rpc", cli.rpc_url)
    assert checked["ok"] is True
    assert checked["verified"] == 2
    assert "the bundle verifies" in cli("verify-bundle", str(bundle)).stdout

    # The audit agrees with the chain.
    report = tmp_path / "audit.json"
    summary = cli.json(
        "audit", "--from-block", str(start), "--report", str(report), "--workers", "1"
    )
    assert summary["ok"] is True
    assert summary["events"] == 3
    assert json.loads(report.read_text())["findings"] == []

    # Tampering: the audit, the trail and the bundle all say so.
    engine = make_engine(cli.database_url)
    with engine.begin() as conn:
        row = conn.execute(
            sa.select(_event.c.id, _event.c.captured_json).where(
                _event.c.event_type == "AggregationEvent"
            )
        ).one()
        conn.execute(
            _event.update()
            .where(_event.c.id == row.id)
            .values(captured_json=row.captured_json.replace("packing", "unpacking"))
        )
    engine.dispose()
    tampered = cli(
        "audit", "--from-block", str(start), "--report", str(report), "--workers", "1", code=1
    )
    assert "tampered_event" in tampered.stdout
    findings = json.loads(report.read_text())["findings"]
    # The content no longer hashes to its record, and (leaf version 2 covers the captured JSON)
    # its leaf no longer leads to the anchored root.
    assert [f["kind"] for f in findings] == ["tampered_event", "tampered_proof", "root_mismatch"]
    assert findings[0]["evidence"]["event_pk"] == row.id
    assert cli.json("verify", items[0], code=1)["verdict"] == "tampered"
    data = json.loads(bundle.read_text())
    data["events"][0]["event"]["disposition"] = "destroyed"
    bundle.write_text(json.dumps(data))
    failed = cli.json("verify-bundle", str(bundle), code=1)
    assert failed["by_kind"] == {"tampered_event": 1}

    # A recall on chain by the prefix owner.
    membership = Membership(
        make_engine(cli.database_url),
        ChainClient(cli.rpc_url),
        Deployment.load(cli.data_dir / "deployment.json"),
        Keyring(cli.data_dir, work_factor=WORK_FACTOR),
    )
    membership.recall(maker["org_id"], lot, "metal fragments")
    assert cli.json("verify", items[2], code=4)["verdict"] == "recalled"


def test_membership_commands(cli: Cli) -> None:
    prefix, other = unique_prefix(), unique_prefix()
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


def test_errors_give_nonzero_exit_codes(cli: Cli, tmp_path: Path) -> None:
    cli("verify-bundle", str(tmp_path / "missing.json"), code=1)
    not_a_bundle = tmp_path / "not.json"
    not_a_bundle.write_text('{"format": "other"}')
    cli("verify-bundle", str(not_a_bundle), code=1)
    cli("query", "not-a-parameter", code=1)
    cli("query", "NOPE=1", code=1)
    cli("export", code=1)
    doc = tmp_path / "doc.json"
    doc.write_text(epcis())
    cli("capture", str(doc), code=1)  # no --member
    cli("verify-bundle", str(doc), "--rpc", "http://127.0.0.1:1", code=1)  # not a bundle
    # Operational failures exit 2: a database without tables (a wrong DATABASE_URL) ...
    unmigrated = cli("export", "--from", "2031-01-01T00:00:00Z", code=2)
    assert "database error" in unmigrated.output
    cli("members", "list")  # (migrates the database)
    # ... and a node or API that does not answer.
    bundle = tmp_path / "empty-bundle.json"
    cli("export", "--from", "2031-01-01T00:00:00Z", "--out", str(bundle))
    cli("verify-bundle", str(bundle), "--rpc", "http://127.0.0.1:1", code=2)
    cli("capture", str(doc), "--api", "http://127.0.0.1:1", "--api-key", "k", code=2)


def test_audit_in_its_own_process(cli: Cli, tmp_path: Path) -> None:
    """The real thing: a separate process, its worker pool over both cores, the JSON report."""
    start = cli.block() + 1
    prefix = unique_prefix()
    maker = cli.json("members", "admit", f"Process {prefix} {time.time()}", "--prefix", prefix)[0]
    doc, _, _, _ = supply_document(prefix)
    path = tmp_path / "doc.jsonld"
    path.write_text(doc)
    cli("capture", str(path), "--member", maker["org_id"])
    cli("anchor-worker", "--drain")
    report = tmp_path / "report.json"
    done = cli.run("audit", "--from-block", str(start), "--report", str(report), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["events"] == 3
    assert json.loads(report.read_text())["summary"]["ok"] is True
    # An orphan anchor in range: exit 1, and the report names it.
    keyring = Keyring(cli.data_dir, work_factor=WORK_FACTOR)
    signer = keyring.signer(maker["org_id"], maker["signing_addresses"][0])
    chain = ChainClient(cli.rpc_url)
    deployment = Deployment.load(cli.data_dir / "deployment.json")
    contract = chain.contract("TraceAnchor", deployment.anchor_address)
    chain.transact(signer, contract.functions.anchorBatch(os.urandom(32), 2))
    found = cli.run("audit", "--from-block", str(start), "--report", str(report))
    assert found.returncode == 1, found.stderr
    assert "orphan_anchor" in found.stdout
    assert [f["kind"] for f in json.loads(report.read_text())["findings"]] == ["orphan_anchor"]


# ---------------------------------------------------------------------- --api


@pytest.fixture
def served_api(devnet: Devnet, tmp_path: Path) -> Iterator[str]:
    """The app (with the trace and export routers) served by uvicorn on a free port."""
    application = create_app(app_settings(devnet, f"sqlite:///{tmp_path / 'served.sqlite3'}"))
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(application, host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def test_remote_api_mode(cli: Cli, served_api: str, tmp_path: Path) -> None:
    admin = httpx.Client(base_url=served_api, headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    prefix = unique_prefix()
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
    assert cli.json("verify", items[0], *remote, code=3)["verdict"] == "pending"
    svg = tmp_path / "remote.svg"
    graph = cli.json("trace", case, "--direction", "backward", "--svg", str(svg), *remote)
    assert {index_identifier(item).canonical for item in items} <= {n["id"] for n in graph["nodes"]}
    assert graph["direction"] == "backward"
    assert fromstring(svg.read_bytes()).tag == "{http://www.w3.org/2000/svg}svg"
    # A refused request (4xx) exits 1 with the problem's detail; a bad key too.
    refused = cli("query", "NOPE=1", *remote, code=1)
    assert "the API answered 4" in refused.output
    cli("query", "--api", served_api, "--api-key", "tc_nope", code=1)
