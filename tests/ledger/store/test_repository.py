"""Repository helpers: members, keys, prefixes and event look-ups."""

from __future__ import annotations

from typing import Any

import pytest
from eth_account import Account
from eth_utils.crypto import keccak
from sqlalchemy.engine import Engine

from ledger.errors import InvalidInputError
from ledger.store.capture import capture_events
from ledger.store.db import session_factory
from ledger.store.models import OrgRole
from ledger.store.repository import (
    ConflictError,
    add_signing_key,
    assign_prefix,
    create_organisation,
    events_by_identifier,
    get_event_by_event_id,
    get_event_by_hash,
    get_organisation,
    organisation_in,
    organisation_prefixes,
    revoke_signing_key,
    signing_keys,
)
from ledger.visibility import Reader
from tests.helpers import sgtin_observation
from tests.ledger.store.documents import parse

#: These tests read as the operator (every event); visibility has tests of its own.
OPERATOR = Reader.operator()

ORG_ID = "0x" + "Ab" * 32


def test_create_and_get_organisation(engine: Engine) -> None:
    created = create_organisation(
        engine, org_id=ORG_ID, name="Acme", roles=OrgRole.RECORDER | OrgRole.AUDITOR
    )
    assert created.id is not None
    assert created.org_id == ORG_ID.lower()
    assert created.roles == 3
    assert created.active
    by_id = get_organisation(engine, id=created.id)
    by_org_id = get_organisation(engine, org_id=ORG_ID.upper().replace("0X", "0x"))
    assert by_id is not None
    assert by_org_id is not None
    assert by_id.id == by_org_id.id == created.id
    assert by_id.name == "Acme"
    assert get_organisation(engine, id=created.id + 1) is None
    with pytest.raises(ConflictError) as raised:
        create_organisation(engine, org_id=ORG_ID.lower(), name="Again", roles=1)
    assert raised.value.field == "org_id"


@pytest.mark.parametrize(
    ("org_id", "name", "roles", "field"),
    [
        ("0x1234", "Acme", 1, "org_id"),
        ("ab" * 32, "Acme", 1, "org_id"),
        ("0x" + "zz" * 32, "Acme", 1, "org_id"),
        (ORG_ID, "  ", 1, "name"),
        (ORG_ID, "Acme", 4, "roles"),
        (ORG_ID, "Acme", -1, "roles"),
    ],
)
def test_create_organisation_rejects(
    engine: Engine, org_id: str, name: str, roles: int, field: str
) -> None:
    with pytest.raises(InvalidInputError) as raised:
        create_organisation(engine, org_id=org_id, name=name, roles=roles)
    assert raised.value.field == field


def test_get_organisation_needs_exactly_one_key(engine: Engine) -> None:
    with pytest.raises(InvalidInputError):
        get_organisation(engine)
    with pytest.raises(InvalidInputError):
        get_organisation(engine, id=1, org_id=ORG_ID)


def test_signing_keys(engine: Engine, org: int) -> None:
    first, second = Account.create(), Account.create()
    key = add_signing_key(
        engine, organisation_id=org, address=first.address.lower(), keystore_path="keys/a.json"
    )
    assert key.address == first.address  # EIP-55 checksummed
    assert key.keystore_path == "keys/a.json"
    assert key.active
    assert key.revoked_at is None
    add_signing_key(engine, organisation_id=org, address=second.address)
    assert [k.address for k in signing_keys(engine, org)] == [first.address, second.address]

    assert revoke_signing_key(engine, first.address)
    assert not revoke_signing_key(engine, first.address)
    assert [k.address for k in signing_keys(engine, org)] == [second.address]
    (revoked,) = [k for k in signing_keys(engine, org, active_only=False) if not k.active]
    assert revoked.revoked_at is not None

    with pytest.raises(ConflictError):
        add_signing_key(engine, organisation_id=org, address=first.address)
    with pytest.raises(InvalidInputError) as raised:
        add_signing_key(engine, organisation_id=org, address="0x1234")
    assert raised.value.field == "address"
    with pytest.raises(InvalidInputError) as raised:
        add_signing_key(engine, organisation_id=org + 1, address=Account.create().address)
    assert raised.value.field == "organisation_id"


def test_prefixes(engine: Engine, org: int) -> None:
    prefix = assign_prefix(engine, organisation_id=org, prefix="0614141")
    assert prefix.prefix == "gs1:0614141"
    assert prefix.prefix_key == "0x" + keccak(b"gs1:0614141").hex()
    assign_prefix(engine, organisation_id=org, prefix="HANDLE:88.118.8")
    assert [p.prefix for p in organisation_prefixes(engine, org)] == [
        "gs1:0614141",
        "handle:88.118.8",
    ]
    with pytest.raises(ConflictError) as conflict:
        assign_prefix(engine, organisation_id=org, prefix="gs1:0614141")
    assert conflict.value.field == "prefix"
    with pytest.raises(InvalidInputError) as invalid:
        assign_prefix(engine, organisation_id=org, prefix="not a prefix")
    assert invalid.value.field == "prefix"
    with pytest.raises(InvalidInputError) as unknown:
        assign_prefix(engine, organisation_id=org + 1, prefix="0614142")
    assert unknown.value.field == "organisation_id"


def test_event_lookups(engine: Engine, org: int) -> None:
    with_id = sgtin_observation([1], eventID="urn:uuid:6ef3f1e4-0d39-4c4c-9f1a-6cfd1b4a2a6e")
    without_id = sgtin_observation([2])
    result = capture_events(engine, parse([with_id, without_id]), organisation_id=org)
    first, second = result.events

    by_hash_id = get_event_by_hash(engine, first.hash_id, reader=OPERATOR)
    by_hex = get_event_by_hash(engine, first.event_hash, reader=OPERATOR)
    assert by_hash_id is not None
    assert by_hash_id == by_hex
    assert by_hash_id.id == first.event_pk
    assert by_hash_id.event["eventID"] == with_id["eventID"]
    by_event_id = get_event_by_event_id(engine, with_id["eventID"], reader=OPERATOR)
    assert by_event_id is not None
    assert by_event_id.id == first.event_pk
    assert get_event_by_event_id(engine, "urn:uuid:missing", reader=OPERATOR) is None
    assert get_event_by_hash(engine, "0x" + "00" * 32, reader=OPERATOR) is None
    second_event = get_event_by_hash(engine, second.hash_id, reader=OPERATOR)
    assert second_event is not None
    assert second_event.event_id is None
    with pytest.raises(InvalidInputError):
        get_event_by_hash(engine, "ni:///md5;abc", reader=OPERATOR)


def test_events_by_identifier_in_time_order_over_all_roles(engine: Engine, org: int) -> None:
    item = "urn:epc:id:sgtin:0614141.812345.7"
    shipped = sgtin_observation([7], minute=30)
    packed = {
        "type": "AggregationEvent",
        "eventTime": "2024-03-01T08:10:00.000Z",
        "eventTimeZoneOffset": "+00:00",
        "parentID": "urn:epc:id:sscc:0614141.1234567890",
        "childEPCs": [item],
        "action": "ADD",
    }
    made = {
        "type": "TransformationEvent",
        "eventTime": "2024-03-01T08:05:00.000Z",
        "eventTimeZoneOffset": "+00:00",
        "inputEPCList": ["urn:epc:id:sgtin:0614141.812345.6"],
        "outputEPCList": [item],
    }
    unrelated = sgtin_observation([8], minute=1)
    pk = {
        label: record.event_pk
        for label, record in zip(
            ("shipped", "packed", "made", "unrelated"),
            capture_events(
                engine, parse([shipped, packed, made, unrelated]), organisation_id=org
            ).events,
            strict=True,
        )
    }
    expected = [pk["made"], pk["packed"], pk["shipped"]]

    def ids(identifier: str, **options: Any) -> list[int]:
        return [e.id for e in events_by_identifier(engine, identifier, reader=OPERATOR, **options)]

    assert ids(item) == expected
    digital_link = "https://id.gs1.org/01/80614141123458/21/7"
    assert ids(digital_link) == expected
    assert ids(item, roles=["child"]) == [pk["packed"]]
    assert ids(item, limit=2) == expected[:2]
    assert ids("urn:epc:id:sgtin:0614141.812345.99") == []
    with pytest.raises(InvalidInputError):
        ids(item, roles=["owner"])
    with pytest.raises(InvalidInputError):
        ids(item, limit=0)


def test_organisation_in_a_session(engine: Engine) -> None:
    created = create_organisation(engine, org_id=ORG_ID, name="Acme", roles=OrgRole.RECORDER)
    assert created.id is not None
    with session_factory(engine)() as session:
        by_id = organisation_in(session, id=created.id)
        by_org_id = organisation_in(session, org_id=ORG_ID.upper().replace("0X", "0x"))
        assert by_id is not None
        assert by_org_id is not None
        assert by_id.id == by_org_id.id == created.id
        assert by_id.org_id == ORG_ID.lower()
        assert organisation_in(session, id=created.id + 1) is None
        assert organisation_in(session, org_id="0x" + "00" * 32) is None
        with pytest.raises(InvalidInputError) as raised:
            organisation_in(session)
        assert raised.value.field == "id"
        with pytest.raises(InvalidInputError) as raised:
            organisation_in(session, id=created.id, org_id=ORG_ID)
        assert raised.value.field == "id"
        with pytest.raises(InvalidInputError) as raised:
            organisation_in(session, org_id="0x1234")
        assert raised.value.field == "org_id"
