"""The verification document the ledger owns (issue 12): :meth:`TrailVerification.to_json`,
:meth:`TrailEntry.to_json` / :meth:`TrailEntry.document` and :meth:`EventVerification.to_json`,
which the API's trail and the CLI's ``verify --json`` are built from. Real anvil, real SQLite;
every value is checked against the database or the chain, not against the code that made it."""

from __future__ import annotations

import json

import sqlalchemy as sa
from hexbytes import HexBytes
from sqlalchemy.engine import Engine
from web3.contract import Contract

from ledger.chain import ChainClient
from ledger.deployment import Deployment
from ledger.identifiers import parse
from ledger.membership import Membership
from ledger.store.models import Event, metadata
from ledger.verify import TrailVerification, Verifier
from ledger.visibility import Reader
from tests.helpers import anchor_all, sgtin_event, unique_prefix
from tests.ledger.conftest import Capture, MakeMember
from wallets.keyring import Keyring

#: Trails read as the operator (every event); visibility has tests of its own.
OPERATOR = Reader.operator()

_event = metadata.tables[Event.__tablename__]

#: The keys of one event of a trail, in the order the API's trail has always had them.
ENTRY_KEYS = [
    "event_id", "hash_id", "event_type", "event_time", "action", "biz_step", "disposition",
    "read_point", "biz_location", "verification", "event",
]  # fmt: skip
ANCHOR_KEYS = ["root", "tx_hash", "block_number", "id_key", "proof", "coverage", "leaf_word"]


def test_one_event_is_a_document_anyone_can_check_on_chain(
    engine: Engine,
    chain: ChainClient,
    deployment: Deployment,
    keyring: Keyring,
    make_member: MakeMember,
    capture: Capture,
    anchor: Contract,
) -> None:
    member = make_member("Documented")
    (record,) = capture(member, [sgtin_event("D1")]).events
    verifier = Verifier(engine, chain, deployment)

    pending = verifier.verify_entry(record.event_pk).document()
    assert pending["verdict"] == "pending"
    assert pending["reasons"] == ["not anchored yet"]
    (entry,) = pending["events"]
    assert entry["verification"]["anchor"]["root"] is None
    assert entry["verification"]["anchor"]["coverage"] is None
    assert entry["verification"]["anchor"]["leaf_word"] is None

    assert anchor_all(engine, chain.rpc_url, deployment, keyring) == 1
    document = verifier.verify_entry(record.event_pk).document()
    assert json.loads(json.dumps(document)) == document  # plain JSON, nothing to convert
    with engine.connect() as conn:
        row = conn.execute(sa.select(_event).where(_event.c.id == record.event_pk)).one()
    assert document["identifier"] == {
        "canonical": row.hash_id, "scheme": "ni", "kind": "event", "owner_prefix": None,
        "class_identifier": None,
    }  # fmt: skip
    assert document["verdict"] == "verified"
    assert (document["recall"], document["origin"]) == (None, None)
    (entry,) = document["events"]
    assert list(entry) == ENTRY_KEYS
    assert entry["hash_id"] == row.hash_id
    assert entry["event"] == json.loads(row.captured_json)
    assert entry["event_time"] == row.event_time.isoformat()
    assert entry["biz_step"] == row.biz_step
    check = entry["verification"]
    assert check == verifier.verify_event(record.event_pk).to_json()
    assert check["recorder"] == {
        "org_id": member.org_id, "name": member.name, "address": row.recorder_address,
    }  # fmt: skip
    assert list(check["anchor"]) == ANCHOR_KEYS
    assert check["anchor"]["proof"] == list(row.proof)
    assert check["anchor"]["id_key"] == row.primary_id_key
    assert check["anchor"]["coverage"] == "record"
    # The document alone is enough to ask the contract.
    assert anchor.functions.verifyEvent(
        HexBytes(check["anchor"]["root"]),
        [HexBytes(p) for p in check["anchor"]["proof"]],
        HexBytes(check["anchor"]["leaf_word"]),
        HexBytes(check["anchor"]["id_key"]),
        check["recorder"]["address"],
    ).call()
    # A stored proof that is no list at all: tampered, and the document shows no proof.
    with engine.begin() as conn:
        conn.execute(_event.update().where(_event.c.id == row.id).values(proof={"not": "a list"}))
    broken = verifier.verify_entry(record.event_pk).document()
    assert broken["verdict"] == "tampered"
    assert broken["events"][0]["verification"]["anchor"]["proof"] == []


def test_a_trail_document_has_the_identifier_verdict_recall_origin_and_events(
    engine: Engine,
    chain: ChainClient,
    deployment: Deployment,
    keyring: Keyring,
    membership: Membership,
    make_member: MakeMember,
    capture: Capture,
) -> None:
    gcp = unique_prefix("07")
    owner = make_member("Trail Owner", prefixes=(gcp,))
    events = [
        sgtin_event("T1", company_prefix=gcp, biz_step=step, offset_minutes=n)
        for n, step in enumerate(["commissioning", "shipping"])
    ]
    records = capture(owner, events).events
    assert anchor_all(engine, chain.rpc_url, deployment, keyring) == 2
    verifier = Verifier(engine, chain, deployment)
    epc = f"urn:epc:id:sgtin:{gcp}.812345.T1"
    trail = verifier.verify_identifier(epc, reader=OPERATOR)
    document = trail.to_json()
    assert json.loads(json.dumps(document)) == document
    ident = parse(epc)
    klass = ident.class_identifier()
    assert klass is not None
    assert document["identifier"] == {
        "canonical": ident.canonical, "scheme": "gs1", "kind": "sgtin",
        "owner_prefix": ident.owner_prefix, "class_identifier": klass.canonical,
    }  # fmt: skip
    assert document["verdict"] == "verified"
    assert document["reasons"] == []
    assert document["recall"] == {
        "recalled": False, "identifier": None, "org_id": None, "block": None, "reason_hash": None,
    }  # fmt: skip
    origin = document["origin"]
    assert origin is not None
    assert origin["status"] == "confirmed"
    assert origin["confirmed"] is True
    assert origin["owner"] == {"org_id": owner.org_id, "name": owner.name, "address": None}
    assert origin["prefix"] == f"gs1:{gcp}"
    first = verifier.verify_event(records[0].event_pk)
    assert origin["commissioning"] == [
        {"hash_id": first.hash_id, "identifier": ident.canonical, "status": "verified"}
    ]
    assert [e["hash_id"] for e in document["events"]] == [
        verifier.verify_event(r.event_pk).hash_id for r in records
    ]
    assert [e["verification"] for e in document["events"]] == [
        entry.verification.to_json() for entry in trail.events
    ]
    assert document["events"][0] == verifier.verify_entry(records[0].event_pk).to_json()

    # A recall of the item's class, as the chain records it.
    block_before = chain.w3.eth.block_number
    membership.recall(owner.org_id, klass.canonical, "metal fragments")
    recalled = verifier.verify_identifier(epc, reader=OPERATOR).to_json()
    assert recalled["verdict"] == "recalled"
    recall = recalled["recall"]
    assert recall is not None
    assert recall["recalled"] is True
    assert recall["identifier"] == klass.canonical
    assert recall["org_id"] == owner.org_id
    assert recall["block"] > block_before
    assert recall["reason_hash"] == "0x" + HexBytes(chain.w3.keccak(text="metal fragments")).hex()


def test_the_identifier_is_the_one_asked_for(
    engine: Engine, chain: ChainClient, deployment: Deployment
) -> None:
    """A lot-qualified item keeps its lot: its class is the lot, though its canonical form
    (and a trail built elsewhere, parsed again from it) has no lot."""
    verifier = Verifier(engine, chain, deployment)
    text = "https://id.gs1.org/01/09506000134352/10/LOT1/21/S1"
    document = verifier.verify_identifier(text, reader=OPERATOR).to_json()
    assert document["identifier"]["canonical"] == "https://id.gs1.org/01/09506000134352/21/S1"
    assert document["identifier"]["class_identifier"] == (
        "https://id.gs1.org/01/09506000134352/10/LOT1"
    )
    assert document["verdict"] == "unknown"
    assert document["events"] == []
    canonical = document["identifier"]["canonical"]
    elsewhere = TrailVerification(identifier=canonical, verdict="unknown", events=())
    assert elsewhere.to_json()["identifier"]["class_identifier"] == (
        "https://id.gs1.org/01/09506000134352"
    )
    origin = elsewhere.to_json()["origin"]
    assert origin is not None
    assert origin["status"] == "unknown"  # not judged: claims nothing
