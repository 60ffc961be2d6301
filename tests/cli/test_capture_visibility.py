"""``tracechain capture --visibility/--reader``: locally (the store keeps the choice) and with
``--api`` (the served app's capture job reports it, and another member's key reads only what
the choice lets it read)."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import sqlalchemy as sa

from ledger.store.db import make_engine
from ledger.store.models import Event, EventReader, metadata
from tests.api.conftest import ADMIN_KEY
from tests.cli.conftest import Cli
from tests.helpers import document_bytes, object_event, supply_document, unique_prefix

_event = metadata.tables[Event.__tablename__]
_reader = metadata.tables[EventReader.__tablename__]


def test_a_local_capture_keeps_its_visibility_and_readers(cli: Cli, tmp_path: Path) -> None:
    prefix = unique_prefix("05")
    maker = cli.json("members", "admit", f"Chooser {prefix} {time.time()}", "--prefix", prefix)[0]
    reader = cli.json("members", "admit", f"Named {unique_prefix('05')} {time.time()}")[0]
    doc, _, _, _ = supply_document(prefix)
    path = tmp_path / "doc.jsonld"
    path.write_text(doc)
    refused = cli("capture", str(path), "--member", maker["org_id"], "--visibility", "secret",
                  code=1)  # fmt: skip
    assert "--visibility" in refused.stderr
    captured = cli.json(
        "capture", str(path), "--member", maker["org_id"],
        "--visibility", "RESTRICTED", "--reader", reader["org_id"],
    )  # fmt: skip
    assert captured["eventCount"] == 3
    engine = make_engine(cli.database_url)
    try:
        with engine.connect() as conn:
            modes = conn.execute(sa.select(_event.c.visibility)).scalars().all()
            named = conn.execute(sa.select(_reader.c.event_pk)).scalars().all()
    finally:
        engine.dispose()
    assert modes == ["restricted"] * 3
    assert len(named) == 3


def test_an_api_capture_sends_the_choice(cli: Cli, served_api: str, tmp_path: Path) -> None:
    admin = httpx.Client(base_url=served_api, headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    keys: dict[str, str] = {}
    org_ids: dict[str, str] = {}
    for name in ("owner", "partner", "stranger"):
        prefix = unique_prefix("05")
        made = admin.post("/members", json={"name": f"{name} {prefix} {time.time()}",
                                            "prefixes": [prefix]})  # fmt: skip
        assert made.status_code == 201, made.text
        org_ids[name] = made.json()["org_id"]
        keys[name] = admin.post(
            f"/members/{org_ids[name]}/api-keys", json={"role": "recorder"}
        ).json()["key"]
    event = object_event(epcs=["urn:epc:id:sgtin:0614141.812345.4711"],
                         eventID="urn:uuid:4711c0de-0000-4000-8000-000000004711")  # fmt: skip
    path = tmp_path / "one.jsonld"
    path.write_bytes(document_bytes(event))
    remote = ("--api", served_api, "--api-key", keys["owner"])
    job = cli.json("capture", str(path), "--visibility", "restricted",
                   "--reader", org_ids["partner"], *remote)  # fmt: skip
    assert job["visibility"] == "restricted"
    query = {"EQ_eventID": event["eventID"]}
    for who, count in (("owner", 1), ("partner", 1), ("stranger", 0)):
        answer = httpx.get(served_api + "/events", params=query,
                           headers={"Authorization": f"Bearer {keys[who]}"})  # fmt: skip
        assert answer.status_code == 200, answer.text
        found = answer.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        assert len(found) == count, who
    listed = cli.json("query", f"EQ_eventID={event['eventID']}", "--api", served_api,
                      "--api-key", keys["stranger"])  # fmt: skip
    assert listed["events"] == []
    refused = cli("capture", str(path), "--reader", "0x12", *remote, code=1)
    assert "the API answered 422" in refused.output
