"""Verification of one stored event against the real devnet and real SQLite: every field a
reader sees is either covered by the anchored leaf or checked against what is, so a change to
any of them makes the event ``tampered``."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ledger.anchoring import AnchorConfig, AnchorWorker
from ledger.chain import ChainClient
from ledger.deployment import Deployment
from ledger.membership import Member
from ledger.store.models import AnchorBatch, Event, EventIdentifier, metadata
from ledger.verify import Verifier
from tests.ledger.conftest import Capture, MakeMember, object_event
from wallets.keyring import Keyring

_event = metadata.tables[Event.__tablename__]
_batch = metadata.tables[AnchorBatch.__tablename__]
_ident = metadata.tables[EventIdentifier.__tablename__]


def full_event(serial: str, **extra: Any) -> dict[str, Any]:
    """An event carrying the members the CBV 2.0 hash leaves out."""
    event = object_event(serial)
    event.update(
        {
            "eventID": f"urn:uuid:6d0c1a4e-0000-4000-8000-{serial.rjust(12, '0')[-12:]}",
            "recordTime": "2026-03-01T09:00:00Z",
            "rdfs:comment": "as received",
        }
    )
    event.update(extra)
    return event


@pytest.fixture
def anchored(
    engine: Engine,
    chain: ChainClient,
    deployment: Deployment,
    keyring: Keyring,
    make_member: MakeMember,
    capture: Capture,
) -> tuple[Member, list[int]]:
    member = make_member("Verified")
    result = capture(member, [full_event(f"{i}") for i in range(1, 4)])
    worker = AnchorWorker(engine, ChainClient(chain.rpc_url), deployment, keyring, AnchorConfig())
    assert worker.drain() == 3
    return member, [r.event_pk for r in result.events]


@pytest.fixture
def verifier(engine: Engine, chain: ChainClient, deployment: Deployment) -> Verifier:
    return Verifier(engine, chain, deployment)


def captured(engine: Engine, pk: int) -> dict[str, Any]:
    with engine.connect() as conn:
        text = conn.execute(sa.select(_event.c.captured_json).where(_event.c.id == pk)).scalar()
    value: dict[str, Any] = json.loads(str(text))
    return value


def set_captured(engine: Engine, pk: int, event: dict[str, Any]) -> None:
    text = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
    with engine.begin() as conn:
        conn.execute(_event.update().where(_event.c.id == pk).values(captured_json=text))


def test_a_clean_anchored_event_verifies(
    anchored: tuple[Member, list[int]], verifier: Verifier
) -> None:
    _member, pks = anchored
    for pk in pks:
        result = verifier.verify_event(pk)
        assert result.status == "verified", result.reasons


def test_a_changed_event_id_in_the_captured_json_is_tampered(
    engine: Engine, anchored: tuple[Member, list[int]], verifier: Verifier
) -> None:
    _member, pks = anchored
    event = captured(engine, pks[0])
    event["eventID"] = "urn:uuid:00000000-0000-4000-8000-000000000bad"
    set_captured(engine, pks[0], event)
    result = verifier.verify_event(pks[0])
    assert result.status == "tampered", result
    assert {verifier.verify_event(pk).status for pk in pks[1:]} == {"verified"}


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("recordTime", "2020-01-01T00:00:00Z"),
        ("errorDeclaration", {"declarationTime": "2026-03-02T00:00:00Z"}),
        ("rdfs:comment", "changed"),
        ("@context", [{"ex": "https://example.com/changed#"}]),
    ],
)
def test_members_outside_the_cbv_hash_are_covered(
    engine: Engine,
    anchored: tuple[Member, list[int]],
    verifier: Verifier,
    key: str,
    value: Any,
) -> None:
    _member, pks = anchored
    event = captured(engine, pks[1])
    event[key] = value
    set_captured(engine, pks[1], event)
    assert verifier.verify_event(pks[1]).status == "tampered"
