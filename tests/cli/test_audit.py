"""``tracechain audit`` in its own process."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from ledger.chain import ChainClient
from ledger.deployment import Deployment
from tests.cli.conftest import WORK_FACTOR, Cli
from tests.helpers import supply_document, unique_prefix
from wallets.keyring import Keyring


def test_audit_in_its_own_process(cli: Cli, tmp_path: Path) -> None:
    """The real thing: a separate process, its worker pool over both cores, the JSON report."""
    start = cli.block() + 1
    prefix = unique_prefix("05")
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
