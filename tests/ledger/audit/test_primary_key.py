"""An event's primary identifier and its key, as the audit and bundle verification read them
from the captured JSON, against what capture stored."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa
from eth_utils.crypto import keccak
from sqlalchemy.engine import Engine

from ledger.audit import primary_id_key, primary_identifier, primary_key_matches
from ledger.events import parse_document
from ledger.events.epc import normalise
from ledger.signing import event_keys
from ledger.store.indexing import index_identifier
from ledger.store.models import Event, metadata
from tests.helpers import document_bytes
from tests.ledger.trace.supply_chain import build_supply_chain, offline_members

_event = metadata.tables[Event.__tablename__]

EXTRA: list[dict[str, Any]] = [
    {"type": "ObjectEvent", "action": "OBSERVE", "epcList": [],
     "quantityList": [{"epcClass": "urn:epc:class:lgtin:0614141.812345.L9", "quantity": 3}]},
    {"type": "AggregationEvent", "action": "ADD",
     "parentID": "urn:epc:id:sscc:0614141.1234567890",
     "childEPCs": ["urn:epc:id:sgtin:0614141.812345.C1"]},
    {"type": "AggregationEvent", "action": "OBSERVE", "childEPCs": [],
     "childQuantityList": [{"epcClass": "urn:epc:class:lgtin:0614141.812345.L2"}],
     "parentID": "urn:epc:id:sscc:0614141.1234567891"},
    {"type": "TransformationEvent",
     "inputEPCList": ["urn:epc:id:sgtin:0614141.812345.IN1"],
     "outputEPCList": ["urn:epc:id:sgtin:0614141.812345.OUT1"]},
    {"type": "TransformationEvent",
     "inputEPCList": ["urn:epc:id:sgtin:0614141.812345.IN2"],
     "outputQuantityList": [{"epcClass": "urn:epc:class:lgtin:0614141.812345.L3"}]},
    {"type": "ObjectEvent", "action": "OBSERVE", "epcList": [],
     "readPoint": {"id": "urn:epc:id:sgln:0614141.00777.0"}},
]  # fmt: skip


def test_primary_identifier_matches_the_store(engine: Engine) -> None:
    events = [
        {**e, "eventTime": "2026-03-01T08:00:00Z", "eventTimeZoneOffset": "+00:00"} for e in EXTRA
    ]
    parsed = parse_document(document_bytes(*events), "application/ld+json")
    for captured in parsed:
        assert primary_id_key(captured.raw) == "0x" + event_keys(captured)[1].hex()
    assert primary_identifier(parsed[0].raw) == "urn:epc:class:lgtin:0614141.812345.L9"
    assert primary_identifier(parsed[1].raw) == "urn:epc:id:sscc:0614141.1234567890"
    assert primary_identifier(parsed[-1].raw) is None
    # And on a whole supply chain of every event type.
    build_supply_chain(engine, offline_members(engine))
    with engine.connect() as conn:
        rows = conn.execute(sa.select(_event.c.captured_json, _event.c.primary_id_key)).all()
    assert len(rows) > 20
    for text, key in rows:
        assert primary_id_key(json.loads(text)) == key


@pytest.mark.parametrize(
    "epc",
    [
        "urn:epc:id:sgtin:0614141.812345.6789",
        "urn:epc:id:sgtin:0614141.812345.A%2FB",
        "https://id.gs1.org/01/80614141123458/10/L1/21/S-1.x",
        "https://example.com/shop/01/80614141123458/21/S1?17=280101",
        "https://id.gs1.org/01/80614141123458/22/CPV1/10/L1/21/S1",
        "https://id.gs1.org/01/80614141123458/21/%27quoted%27",
        "https://id.gs1.org/00/106141412345678908",
        "urn:epc:class:lgtin:0614141.812345.L9",
        "urn:uuid:5c1f0a3e-1b2c-4d5e-8f90-123456789abc",
    ],
)
def test_the_identifier_key_shortcut_agrees_with_the_full_parse(epc: str) -> None:
    event = {
        "type": "ObjectEvent",
        "eventTime": "2026-03-01T08:00:00Z",
        "eventTimeZoneOffset": "+00:00",
        "epcList": [epc],
        "action": "OBSERVE",
    }
    (captured,) = parse_document(document_bytes(event), "application/ld+json")
    exact = "0x" + event_keys(captured)[1].hex()
    assert primary_id_key(captured.raw) == exact
    assert primary_key_matches(captured.raw, exact)
    assert not primary_key_matches(captured.raw, "0x" + "77" * 32)
    # A key of the constrained hash form is accepted only where it is the canonical form.
    constrained = normalise(epc)
    if constrained is not None and constrained != index_identifier(epc).canonical:
        forged = "0x" + keccak(text=constrained).hex()
        assert not primary_key_matches(captured.raw, forged)
