"""The public projection (:mod:`ledger.disclosure`): which members of an event a buyer sees,
which policy applies, and that a projection never holds more than its fields allow."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.disclosure import (
    ALWAYS_PUBLIC,
    DEFAULT_POLICY,
    FIELD_MEMBERS,
    DisclosurePolicy,
    DisclosureRule,
    DisclosureScope,
    PublicField,
    class_key,
    commissions,
    disclosed,
    member_field,
    parse_event_type,
    parse_fields,
    project,
    select_policy,
    trail_keys,
    withheld,
)
from ledger.errors import InvalidInputError
from ledger.identifiers import parse

F = PublicField
DL = "https://id.gs1.org"
ITEM = f"{DL}/01/00614141123452/21/S1"
GTIN = f"{DL}/01/00614141123452"
OWNER = "0x" + "a" * 64
SUPPLIER = "0x" + "b" * 64

COMMISSIONING: dict[str, Any] = {
    "type": "ObjectEvent",
    "eventID": "urn:uuid:00000000-0000-4000-8000-000000000001",
    "eventTime": "2026-01-05T08:00:00.000+08:00",
    "eventTimeZoneOffset": "+08:00",
    "epcList": [ITEM],
    "action": "ADD",
    "bizStep": "commissioning",
    "disposition": "active",
    "readPoint": {"id": f"{DL}/414/0614141000012"},
    "ilmd": {"lotNumber": "L1", "productionDate": "2026-01-05"},
}
SHIPPING: dict[str, Any] = {
    "@context": [{"ex": "https://example.com/"}],
    "type": "ObjectEvent",
    "eventID": "urn:uuid:00000000-0000-4000-8000-000000000002",
    "eventTime": "2026-01-06T08:00:00.000+08:00",
    "eventTimeZoneOffset": "+08:00",
    "recordTime": "2026-01-06T08:00:01.000Z",
    "epcList": [ITEM],
    "quantityList": [{"epcClass": GTIN, "quantity": 120}],
    "action": "OBSERVE",
    "bizStep": "shipping",
    "disposition": "in_transit",
    "readPoint": {"id": f"{DL}/414/0614141000029"},
    "bizLocation": {"id": f"{DL}/414/0614141000029"},
    "bizTransactionList": [{"type": "po", "bizTransaction": "urn:example:po:4711"}],
    "sourceList": [{"type": "owning_party", "source": f"{DL}/417/0614141000005"}],
    "destinationList": [{"type": "owning_party", "destination": f"{DL}/417/0712345000004"}],
    "sensorElementList": [{"sensorReport": [{"type": "Temperature", "value": 4.5}]}],
    "certificationInfo": "https://example.com/cert/1",
    "ex:price": "12.50 CNY",
}
AGGREGATION: dict[str, Any] = {
    "type": "AggregationEvent",
    "eventTime": "2026-01-06T07:00:00.000+08:00",
    "eventTimeZoneOffset": "+08:00",
    "parentID": f"{DL}/00/106141412345678908",
    "childEPCs": [ITEM, f"{DL}/01/00614141123452/21/S2"],
    "childQuantityList": [{"epcClass": GTIN, "quantity": 10}],
    "action": "ADD",
    "bizStep": "packing",
}
TRANSFORMATION: dict[str, Any] = {
    "type": "TransformationEvent",
    "eventTime": "2026-01-04T07:00:00.000+08:00",
    "eventTimeZoneOffset": "+08:00",
    "inputQuantityList": [{"epcClass": "urn:epc:class:lgtin:4012345.011111.4444", "quantity": 3}],
    "outputEPCList": [ITEM],
    "transformationID": "urn:example:xform:1",
    "ilmd": {"lotNumber": "L1"},
}
RECALL: dict[str, Any] = {
    "type": "ObjectEvent",
    "eventTime": "2026-01-09T08:00:00.000+08:00",
    "eventTimeZoneOffset": "+08:00",
    "epcList": [ITEM],
    "action": "OBSERVE",
    "bizStep": "recalling",
    "tracechain:recallReason": "contaminated seal",
    "errorDeclaration": {"declarationTime": "2026-01-10T00:00:00Z", "reason": "incorrect_data"},
}


@pytest.mark.parametrize(
    ("event", "fields", "kept"),
    [
        # The always-public core only.
        (SHIPPING, set(), {"type", "eventID"}),
        (
            SHIPPING,
            {F.WHEN, F.STEP},
            {"type", "eventID", "eventTime", "eventTimeZoneOffset", "recordTime", "action",
             "bizStep", "disposition"},
        ),
        (SHIPPING, {F.PLACE}, {"type", "eventID", "readPoint", "bizLocation"}),
        (SHIPPING, {F.QUANTITY, F.IDENTIFIERS}, {"type", "eventID", "quantityList", "epcList"}),
        (SHIPPING, {F.PARTIES}, {"type", "eventID", "sourceList", "destinationList"}),
        (SHIPPING, {F.TRANSACTIONS}, {"type", "eventID", "bizTransactionList"}),
        (SHIPPING, {F.SENSORS}, {"type", "eventID", "sensorElementList"}),
        (SHIPPING, {F.EXTENSIONS}, {"type", "eventID", "@context", "certificationInfo",
                                    "ex:price"}),
        (SHIPPING, set(PublicField), set(SHIPPING)),
        (COMMISSIONING, {F.LOT}, {"type", "eventID", "ilmd"}),
        (AGGREGATION, {F.STEP}, {"type", "action", "bizStep"}),
        (AGGREGATION, {F.IDENTIFIERS}, {"type", "parentID", "childEPCs"}),
        (AGGREGATION, {F.QUANTITY}, {"type", "childQuantityList"}),
        (TRANSFORMATION, {F.IDENTIFIERS, F.QUANTITY},
         {"type", "outputEPCList", "transformationID", "inputQuantityList"}),
        # A recall notice's reason and an error declaration are always public.
        (RECALL, set(), {"type", "tracechain:recallReason", "errorDeclaration"}),
    ],
)  # fmt: skip
def test_project_keeps_the_core_and_the_allowed_groups(
    event: dict[str, Any], fields: set[PublicField], kept: set[str]
) -> None:
    projected = project(event, fields)
    assert set(projected) == kept
    assert all(projected[k] == event[k] for k in projected)
    assert list(projected) == [k for k in event if k in projected]  # the event's order


def test_every_named_member_belongs_to_one_group() -> None:
    named = [m for members in FIELD_MEMBERS.values() for m in members]
    assert len(named) == len(set(named))
    assert not set(named) & ALWAYS_PUBLIC
    assert member_field("type") is None
    assert member_field("bizTransactionList") is F.TRANSACTIONS
    assert member_field("@context") is F.EXTENSIONS
    assert member_field("urn:acme:anything") is F.EXTENSIONS


def test_withheld_lists_the_groups_not_disclosed_in_order() -> None:
    assert withheld({F.WHEN, F.STEP}) == [g for g in PublicField if g not in (F.WHEN, F.STEP)]
    assert withheld(set(PublicField)) == []


def test_the_default_policy_is_conservative() -> None:
    assert DEFAULT_POLICY.fields == {F.WHEN, F.STEP}
    assert DEFAULT_POLICY.commissioning == {F.PLACE, F.LOT}
    never = {F.QUANTITY, F.PARTIES, F.TRANSACTIONS, F.SENSORS, F.EXTENSIONS, F.IDENTIFIERS}
    for event in (COMMISSIONING, SHIPPING, AGGREGATION, TRANSFORMATION):
        for by_owner in (False, True):
            assert not DEFAULT_POLICY.fields_for(event, by_owner=by_owner) & never
    # Where and which lot: only the brand owner's own commissioning (or production).
    assert DEFAULT_POLICY.fields_for(COMMISSIONING, by_owner=True) == {
        F.WHEN, F.STEP, F.PLACE, F.LOT
    }  # fmt: skip
    assert DEFAULT_POLICY.fields_for(TRANSFORMATION, by_owner=True) >= {F.LOT}
    assert DEFAULT_POLICY.fields_for(COMMISSIONING, by_owner=False) == {F.WHEN, F.STEP}
    assert DEFAULT_POLICY.fields_for(SHIPPING, by_owner=True) == {F.WHEN, F.STEP}


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (COMMISSIONING, True),
        ({**COMMISSIONING, "bizStep": "https://ref.gs1.org/cbv/BizStep-commissioning"}, True),
        ({**COMMISSIONING, "bizStep": "urn:epcglobal:cbv:bizstep:commissioning"}, True),
        ({k: v for k, v in COMMISSIONING.items() if k != "bizStep"}, True),
        ({**COMMISSIONING, "bizStep": "receiving"}, False),
        ({**COMMISSIONING, "action": "OBSERVE"}, False),
        (TRANSFORMATION, True),
        (AGGREGATION, False),
    ],
)
def test_commissions(event: dict[str, Any], expected: bool) -> None:
    assert commissions(event) is expected


def _rule(
    key: str,
    fields: set[PublicField],
    *,
    recorder: str | None = None,
    event_type: str | None = None,
    kind: DisclosureScope = DisclosureScope.CLASS,
) -> DisclosureRule:
    return DisclosureRule(
        id=f"{key}|{recorder}|{event_type}",
        scope_kind=kind,
        scope_value=key,
        scope_key=key,
        recorder=recorder,
        event_type=event_type,
        policy=DisclosurePolicy(frozenset(fields)),
    )


def test_trail_keys_go_from_the_class_to_the_shortest_prefix() -> None:
    keys = trail_keys(parse(f"{DL}/01/00614141123452/10/L1/21/S1"))
    assert keys[0] == GTIN
    assert keys[1:] == sorted(keys[1:], key=len, reverse=True)
    assert "gs1:0614141" in keys
    assert class_key(parse("urn:epc:id:sscc:0614141.1234567890")) == f"{DL}/00/106141412345678908"


def test_select_policy_prefers_the_most_specific_rule() -> None:
    keys = trail_keys(parse(ITEM))
    prefix = "gs1:0614141"
    rules = [
        _rule(prefix, {F.WHEN}, kind=DisclosureScope.PREFIX),
        _rule(prefix, {F.PARTIES}, recorder=SUPPLIER, kind=DisclosureScope.PREFIX),
        _rule(GTIN, {F.STEP}),
        _rule(GTIN, {F.QUANTITY}, event_type="AggregationEvent"),
        _rule(GTIN, {F.PLACE}, recorder=SUPPLIER),
        _rule(GTIN, {F.SENSORS}, recorder=SUPPLIER, event_type="ObjectEvent"),
        # Another identifier's rule never applies.
        _rule(f"{DL}/01/00614141999996", set(PublicField)),
    ]

    def chosen(recorder: str, event_type: str, among: list[DisclosureRule]) -> set[PublicField]:
        return set(select_policy(among, keys, recorder=recorder, event_type=event_type).fields)

    assert chosen(SUPPLIER, "ObjectEvent", rules) == {F.SENSORS}
    assert chosen(SUPPLIER, "AggregationEvent", rules) == {F.PLACE}
    assert chosen(OWNER, "AggregationEvent", rules) == {F.QUANTITY}
    assert chosen(OWNER, "ObjectEvent", rules) == {F.STEP}
    # The class beats the prefix, then the recorder, then the type.
    assert chosen(SUPPLIER, "ObjectEvent", rules[:2]) == {F.PARTIES}
    assert chosen(OWNER, "ObjectEvent", rules[:2]) == {F.WHEN}
    assert select_policy(rules[-1:], keys, recorder=OWNER, event_type="ObjectEvent") == (
        DEFAULT_POLICY
    )
    assert select_policy([], keys, recorder=None, event_type="ObjectEvent") == DEFAULT_POLICY


def test_disclosed_adds_commissioning_groups_for_the_owner_only() -> None:
    keys = trail_keys(parse(ITEM))
    rule = DisclosureRule(
        "r", DisclosureScope.CLASS, GTIN, GTIN, None, None,
        DisclosurePolicy(frozenset({F.WHEN}), frozenset({F.LOT})),
    )  # fmt: skip
    assert disclosed([rule], keys, COMMISSIONING, recorder=OWNER, owner=OWNER) == {F.WHEN, F.LOT}
    assert disclosed([rule], keys, COMMISSIONING, recorder=SUPPLIER, owner=OWNER) == {F.WHEN}
    assert disclosed([rule], keys, SHIPPING, recorder=OWNER, owner=OWNER) == {F.WHEN}
    assert disclosed([], keys, COMMISSIONING, recorder=OWNER, owner=None) == {F.WHEN, F.STEP}


def test_parsing_names_the_field() -> None:
    assert parse_fields(["When", " step "]) == {F.WHEN, F.STEP}
    with pytest.raises(InvalidInputError) as raised:
        parse_fields(["when", "price"], field="commissioning")
    assert raised.value.field == "commissioning"
    assert parse_event_type(None) is None
    assert parse_event_type("") is None
    assert parse_event_type("AggregationEvent") == "AggregationEvent"
    with pytest.raises(InvalidInputError) as raised:
        parse_event_type("Shipment")
    assert raised.value.field == "event_type"


_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                max_size=3),
    max_leaves=6,
)  # fmt: skip
_MEMBERS = st.sampled_from(
    sorted({m for ms in FIELD_MEMBERS.values() for m in ms} | ALWAYS_PUBLIC | {"@context"})
) | st.text(min_size=1, max_size=12)


@given(
    event=st.dictionaries(_MEMBERS, _VALUES, max_size=25),
    fields=st.frozensets(st.sampled_from(list(PublicField))),
)
def test_a_projection_never_holds_a_member_outside_its_fields(
    event: dict[str, Any], fields: frozenset[PublicField]
) -> None:
    projected = project(event, fields)
    for member in projected:
        group = member_field(member)
        assert group is None or group in fields, member
    # Nothing allowed is lost, and nothing is changed.
    assert {m for m in event if member_field(m) is None or member_field(m) in fields} == set(
        projected
    )
    assert all(projected[m] is event[m] for m in projected)
    # Projecting again changes nothing; projecting on fewer fields gives a part of it.
    assert project(projected, fields) == projected
    assert set(project(event, fields - {F.WHEN})) <= set(projected)
