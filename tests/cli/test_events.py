"""``tracechain capture`` takes the API's path (:func:`ledger.capture.capture_document`): the
capture limit, failed captures recorded as capture jobs, a member's own EIP-712 signature."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from ledger.deployment import Deployment
from ledger.events import parse_document
from ledger.signing import event_keys
from ledger.store.db import make_engine
from ledger.store.models import Capture, Event, metadata
from tests.cli.conftest import WORK_FACTOR, Cli
from tests.helpers import document_bytes, supply_document, unique_prefix
from wallets.eip712 import sign_event
from wallets.keyring import Keyring

_capture = metadata.tables[Capture.__tablename__]
_event = metadata.tables[Event.__tablename__]


def stored(cli: Cli) -> tuple[list[Any], list[Any]]:
    """The capture jobs (status, event count, errors) and the events' signatures stored."""
    engine = make_engine(cli.database_url)
    try:
        with engine.connect() as conn:
            jobs = conn.execute(
                sa.select(
                    _capture.c.id, _capture.c.status, _capture.c.event_count, _capture.c.errors
                )
            ).all()
            signatures = conn.execute(sa.select(_event.c.signature)).scalars().all()
    finally:
        engine.dispose()
    return list(jobs), list(signatures)


def test_a_document_over_the_capture_limit_is_refused(cli: Cli, tmp_path: Path) -> None:
    prefix = unique_prefix("05")
    maker = cli.json("members", "admit", f"Limited {prefix} {time.time()}", "--prefix", prefix)[0]
    doc, _, _, _ = supply_document(prefix)
    path = tmp_path / "three.jsonld"
    path.write_text(doc)
    limit = {"TRACECHAIN_MAX_CAPTURE_EVENTS": "2"}
    refused = cli("capture", str(path), "--member", maker["org_id"], code=1, env=limit)
    assert "the document holds 3 events, at most 2 per capture" in refused.stderr
    # As through the API (413, no capture job): nothing stored, no job.
    assert stored(cli) == ([], [])
    assert cli.json("capture", str(path), "--member", maker["org_id"])["eventCount"] == 3


def test_a_rejected_document_is_recorded_as_a_failed_capture(cli: Cli, tmp_path: Path) -> None:
    maker = cli.json("members", "admit", f"Sloppy {unique_prefix('05')} {time.time()}")[0]
    broken = tmp_path / "broken.jsonld"
    broken.write_bytes(document_bytes({"type": "ObjectEvent", "action": "ADD"}))
    refused = cli("capture", str(broken), "--member", maker["org_id"], code=1)
    jobs, events = stored(cli)
    assert events == []
    ((capture_id, status, count, errors),) = jobs
    assert (status, count) == ("failed", 0)
    assert errors
    assert all(e["field"].startswith("epcisBody.eventList[0]") for e in errors)
    assert f"recorded as failed capture {capture_id}" in refused.stderr
    # Every problem is named, one per line, after the summary.
    for error in errors:
        assert f"{error['field']}: {error['reason']}" in refused.stderr


def test_a_member_signed_event_is_checked_then_kept(cli: Cli, tmp_path: Path) -> None:
    prefix = unique_prefix("05")
    maker = cli.json("members", "admit", f"Signer {prefix} {time.time()}", "--prefix", prefix)[0]
    doc, _, _, _ = supply_document(prefix)
    first = json.loads(doc)["epcisBody"]["eventList"][0]
    body = document_bytes(first)
    path = tmp_path / "one.jsonld"
    path.write_bytes(body)
    (event,) = parse_document(body, "application/ld+json")
    deployment = Deployment.load(cli.data_dir / "deployment.json")
    keyring = Keyring(cli.data_dir, work_factor=WORK_FACTOR)
    signer = keyring.signer(maker["org_id"], maker["signing_addresses"][0])
    event_hash, id_key = event_keys(event)
    signature = sign_event(signer, deployment.chain_id, deployment.anchor_address, event_hash,
                           id_key)  # fmt: skip
    member = ("--member", maker["org_id"])
    # Another chain's signature, a malformed one: refused, nothing stored.
    elsewhere = sign_event(signer, deployment.chain_id + 1, deployment.anchor_address,
                           event_hash, id_key)  # fmt: skip
    refused = cli("capture", str(path), *member, "--signature", "0x" + elsewhere.hex(), code=1)
    assert "no active key of the recording member" in refused.stderr
    malformed = cli("capture", str(path), *member, "--signature", "0x12zz", code=1)
    assert "signature: a signature is 0x and 130 hex digits" in malformed.stderr
    assert stored(cli) == ([], [])
    # The member's own: stored with the event (0x and lower-case hex, as given upper-case).
    given = "0x" + signature.hex().upper()
    captured = cli.json("capture", str(path), *member, "--signature", given)
    assert captured["new"] == 1
    assert stored(cli)[1] == ["0x" + signature.hex()]
