"""An operator's and an auditor's day through the CLI: members, capture, verification, query,
trace, export and offline verification, audit, tampering and a recall."""

from __future__ import annotations

import json
import time
from pathlib import Path

import sqlalchemy as sa
from defusedxml.ElementTree import fromstring

from ledger.chain import ChainClient
from ledger.deployment import Deployment
from ledger.identifiers import parse
from ledger.membership import Membership
from ledger.store.db import make_engine
from ledger.store.models import Event, metadata
from tests.cli.conftest import WORK_FACTOR, Cli
from tests.helpers import supply_document, unique_prefix
from wallets.keyring import Keyring

_event = metadata.tables[Event.__tablename__]


def test_operator_and_auditor_flow(cli: Cli, tmp_path: Path) -> None:
    start = cli.block() + 1
    prefix = unique_prefix("05")
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
    assert [e["verification"]["status"] for e in verified["events"]] == ["verified", "verified"]
    # The ledger's verification document (the API's trail is the same plus the node's links).
    assert verified["identifier"]["canonical"] == parse(items[0]).canonical
    assert verified["identifier"]["kind"] == "sgtin"
    assert verified["recall"]["recalled"] is False
    assert verified["origin"]["status"] == "confirmed"
    assert verified["origin"]["owner"]["org_id"] == maker["org_id"]
    anchor = verified["events"][0]["verification"]["anchor"]
    assert anchor["coverage"] == "record"
    assert anchor["block_number"] > 0
    assert anchor["leaf_word"].startswith("0x")
    assert anchor["proof"]
    event_hash = verified["events"][0]["hash_id"]
    one = cli.json("verify", event_hash)
    assert one["verdict"] == "verified"
    # One event: the same document, the event its only entry; recall and origin not judged.
    assert one["identifier"]["canonical"] == event_hash
    assert one["identifier"]["kind"] == "event"
    assert (one["recall"], one["origin"]) == (None, None)
    assert one["events"] == [verified["events"][0]]
    table = cli("verify", items[0]).stdout
    assert f"{parse(items[0]).canonical}: verified" in table
    assert "commissioning" in table

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
    tampered_trail = cli.json("verify", items[0], code=1)
    assert tampered_trail["verdict"] == "tampered"
    assert [e["verification"]["status"] for e in tampered_trail["events"]] == [
        "verified",
        "tampered",
    ]
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
    recalled = cli.json("verify", items[2], code=4)
    assert recalled["verdict"] == "recalled"
    assert recalled["recall"]["recalled"] is True
    assert recalled["recall"]["identifier"] == parse(lot).canonical
    assert recalled["recall"]["org_id"] == maker["org_id"]
    assert f"recalled on chain: {parse(lot).canonical}" in cli("verify", items[2], code=4).stdout
