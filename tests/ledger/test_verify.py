"""Verification of one stored event against the real devnet and real SQLite: every field a
reader sees is either covered by the anchored leaf or checked against what is, so a change to
any of them makes the event ``tampered``."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa
from hexbytes import HexBytes
from sqlalchemy.engine import Engine
from web3.contract import Contract

from ledger.anchoring import AnchorConfig, AnchorWorker
from ledger.chain import ChainClient
from ledger.deployment import Deployment
from ledger.membership import Member
from ledger.store.models import AnchorBatch, Event, EventIdentifier, metadata
from ledger.verify import Verifier
from ledger.visibility import Reader
from tests.helpers import sgtin_event
from tests.ledger.conftest import Capture, MakeMember
from wallets.keyring import Keyring

#: Trails read as the operator (every event); visibility has tests of its own.
OPERATOR = Reader.operator()

_event = metadata.tables[Event.__tablename__]
_batch = metadata.tables[AnchorBatch.__tablename__]
_ident = metadata.tables[EventIdentifier.__tablename__]


def full_event(serial: str, **extra: Any) -> dict[str, Any]:
    """An event carrying the members the CBV 2.0 hash leaves out."""
    event = sgtin_event(serial)
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
    engine: Engine, anchored: tuple[Member, list[int]], verifier: Verifier, anchor: Contract
) -> None:
    _member, pks = anchored
    for pk in pks:
        result = verifier.verify_event(pk)
        assert result.status == "verified", result.reasons
        assert result.reasons == ()
        assert result.coverage == "record"
        # Anyone checks it on chain with the leaf word, with no code of ours.
        with engine.connect() as conn:
            row = conn.execute(sa.select(_event).where(_event.c.id == pk)).one()
        assert anchor.functions.verifyEvent(
            HexBytes(str(result.root)),
            [HexBytes(p) for p in row.proof],
            HexBytes(str(result.leaf_word)),
            HexBytes(row.primary_id_key),
            row.recorder_address,
        ).call()


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


def update_event(engine: Engine, pk: int, **values: Any) -> None:
    with engine.begin() as conn:
        conn.execute(_event.update().where(_event.c.id == pk).values(**values))


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("event_id", "urn:uuid:00000000-0000-4000-8000-0000000000aa"),
        ("biz_step", "https://ref.gs1.org/cbv/BizStep-shipping"),
        ("prehash", "eventType=ObjectEvent"),
        ("error_declaration", True),
    ],
)
def test_columns_derived_from_the_captured_json_are_checked(
    engine: Engine,
    anchored: tuple[Member, list[int]],
    verifier: Verifier,
    column: str,
    value: Any,
) -> None:
    """Queries filter on these columns (EQ_eventID, EQ_bizStep...) and trails show them."""
    _member, pks = anchored
    update_event(engine, pks[0], **{column: value})
    result = verifier.verify_event(pks[0])
    assert result.status == "tampered"
    assert any(column in reason for reason in result.reasons), result.reasons


def test_a_changed_identifier_index_row_is_tampered_and_the_trail_says_so(
    engine: Engine, anchored: tuple[Member, list[int]], verifier: Verifier
) -> None:
    _member, pks = anchored
    with engine.begin() as conn:
        conn.execute(
            _ident.update()
            .where(_ident.c.event_pk == pks[0])
            .values(class_canonical="https://id.gs1.org/01/00614141000005/10/OTHER")
        )
    result = verifier.verify_event(pks[0])
    assert result.status == "tampered"
    assert any("identifier index" in reason for reason in result.reasons)
    trail = verifier.verify_identifier(
        "https://id.gs1.org/01/00614141000005/10/OTHER", reader=OPERATOR
    )
    assert [e.verification.status for e in trail.events] == ["tampered"]
    assert trail.verdict == "tampered"


def test_anchoring_state_and_capture_job_are_checked(
    engine: Engine, anchored: tuple[Member, list[int]], verifier: Verifier
) -> None:
    _member, pks = anchored
    update_event(engine, pks[0], anchor_status="pending")
    assert verifier.verify_event(pks[0]).status == "tampered"  # its batch is mined
    update_event(engine, pks[0], anchor_status="anchored")
    assert verifier.verify_event(pks[0]).status == "verified"
    with engine.connect() as conn:
        row = conn.execute(sa.select(_event).where(_event.c.id == pks[0])).one()
    update_event(engine, pks[0], record_time=row.record_time.replace(year=2020))
    result = verifier.verify_event(pks[0])
    assert result.status == "tampered"
    assert any("capture job" in reason for reason in result.reasons)


def test_the_recorded_transaction_must_anchor_the_root(
    engine: Engine,
    anchored: tuple[Member, list[int]],
    verifier: Verifier,
    make_member: MakeMember,
    capture: Capture,
    chain: ChainClient,
    deployment: Deployment,
    keyring: Keyring,
) -> None:
    """Another batch's transaction, from the same address, is not this batch's."""
    member, pks = anchored
    (later,) = capture(member, [full_event("9")]).events
    worker = AnchorWorker(engine, ChainClient(chain.rpc_url), deployment, keyring, AnchorConfig())
    assert worker.drain() == 1
    with engine.connect() as conn:
        first, second = conn.execute(sa.select(_batch).order_by(_batch.c.id)).all()
    assert first.signer_address == second.signer_address
    with engine.begin() as conn:
        conn.execute(_batch.update().where(_batch.c.id == first.id).values(tx_hash=second.tx_hash))
    result = verifier.verify_event(pks[0])
    assert result.status == "tampered"
    assert any("does not anchor the root" in reason for reason in result.reasons)
    assert verifier.verify_event(later.event_pk).status == "verified"


def test_batches_anchored_with_the_old_leaf_still_verify_and_say_what_is_not_covered(
    engine: Engine,
    chain: ChainClient,
    deployment: Deployment,
    keyring: Keyring,
    make_member: MakeMember,
    capture: Capture,
    verifier: Verifier,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A database anchored before leaves covered records (leaf version 1) keeps verifying."""
    monkeypatch.setattr("ledger.anchoring.CURRENT_LEAF_VERSION", 1)
    member = make_member("Legacy")
    (record,) = capture(member, [full_event("77")]).events
    worker = AnchorWorker(engine, ChainClient(chain.rpc_url), deployment, keyring, AnchorConfig())
    assert worker.drain() == 1
    with engine.connect() as conn:
        assert conn.execute(sa.select(_batch.c.leaf_version)).scalar_one() == 1
    result = verifier.verify_event(record.event_pk)
    assert result.status == "verified", result.reasons
    assert result.coverage == "event_hash"
    assert any("eventID" in reason for reason in result.reasons)
    # A version-2 leaf claimed for it reaches no anchored root.
    with engine.begin() as conn:
        conn.execute(_batch.update().values(leaf_version=2))
    assert verifier.verify_event(record.event_pk).status == "tampered"
