"""Brand owners' disclosure rules in the store (:mod:`ledger.store.disclosure`), on SQLite and
PostgreSQL: who may set a rule, replacing and deleting, and which rules a trail reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine

from ledger.disclosure import DisclosureScope, PublicField
from ledger.errors import ForbiddenError, InvalidInputError
from ledger.identifiers import parse
from ledger.store.disclosure import delete_rule, rules_of, set_rule, trail_rules
from ledger.store.models import OrgRole
from ledger.store.repository import assign_prefix, create_organisation

DL = "https://id.gs1.org"
OWNER, OTHER = "0x" + "a1" * 32, "0x" + "b2" * 32
GTIN = f"{DL}/01/00614141123452"
ITEM = f"{GTIN}/10/L1/21/S1"


@pytest.fixture
def members(engine: Engine) -> tuple[int, int]:
    """The brand owner (prefix 0614141) and another member (prefix 0712345)."""
    ids = []
    for org_id, name, prefix in ((OWNER, "Owner", "0614141"), (OTHER, "Other", "0712345")):
        member = create_organisation(engine, org_id=org_id, name=name, roles=OrgRole.RECORDER)
        assert member.id is not None
        assign_prefix(engine, organisation_id=member.id, prefix=prefix)
        ids.append(member.id)
    return ids[0], ids[1]


def test_the_owner_sets_replaces_lists_and_deletes_rules(
    engine: Engine, members: tuple[int, int]
) -> None:
    owner, _ = members
    start = datetime(2026, 2, 1, tzinfo=UTC)
    rule, created = set_rule(
        engine, owner_id=owner, scope_kind="class", scope=ITEM, recorder=OTHER.upper(),
        event_type="ObjectEvent", fields=["when", "step"], commissioning=["lot"], now=start,
    )  # fmt: skip
    assert created
    assert rule.scope_kind is DisclosureScope.CLASS
    assert rule.scope_key == GTIN
    assert rule.scope_value == ITEM
    assert rule.recorder == OTHER
    assert rule.owner == OWNER
    assert rule.policy.fields == {PublicField.WHEN, PublicField.STEP}
    assert rule.policy.commissioning == {PublicField.LOT}
    again, created = set_rule(
        engine, owner_id=owner, scope_kind="class", scope=GTIN, recorder=OTHER,
        event_type="ObjectEvent", fields=["quantity"], now=start + timedelta(hours=1),
    )  # fmt: skip
    assert not created
    assert again.id == rule.id
    assert again.policy.fields == {PublicField.QUANTITY}
    assert again.created_at == start
    assert again.updated_at == start + timedelta(hours=1)
    wide, created = set_rule(
        engine, owner_id=owner, scope_kind="prefix", scope="0614141", fields=["when"]
    )
    assert created
    assert wide.scope_key == "gs1:0614141"
    assert (wide.recorder, wide.event_type) == (None, None)
    assert [r.id for r in rules_of(engine, owner)] == [rule.id, wide.id]
    assert rules_of(engine, members[1]) == []
    # A trail of the item reads both (its class and its prefix), the owner named.
    found = trail_rules(engine, parse(ITEM))
    assert found.owner == OWNER
    assert found.keys[0] == GTIN
    assert {r.id for r in found.rules} == {rule.id, wide.id}
    # Another member cannot delete them; the owner can, once.
    assert not delete_rule(engine, members[1], rule.id)
    assert delete_rule(engine, owner, rule.id)
    assert not delete_rule(engine, owner, rule.id)
    assert [r.id for r in trail_rules(engine, parse(ITEM)).rules] == [wide.id]


def test_only_the_owner_of_the_class_or_prefix_sets_a_rule(
    engine: Engine, members: tuple[int, int]
) -> None:
    _, other = members
    for kind, scope in (("class", ITEM), ("class", GTIN), ("prefix", "0614141"),
                        ("prefix", "gs1:061414")):  # fmt: skip
        with pytest.raises(ForbiddenError) as refused:
            set_rule(engine, owner_id=other, scope_kind=kind, scope=scope, fields=["when"])
        assert refused.value.field == "scope"
    assert rules_of(engine, other) == []
    # An identifier no member owns has no owner and no rules.
    assert trail_rules(engine, parse(f"{DL}/01/09501101020917")).owner is None


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"scope_kind": "lot"}, "scope_kind"),
        ({"scope": "nonsense"}, "scope"),
        ({"scope": " "}, "scope"),
        ({"scope_kind": "prefix", "scope": "urn:epc:id:sgtin:0614141.812345.1"}, "scope"),
        ({"recorder": "0x" + "cd" * 32}, "recorder"),
        ({"event_type": "Shipment"}, "event_type"),
        ({"fields": ["price"]}, "fields"),
        ({"commissioning": ["everything"]}, "commissioning"),
    ],
)
def test_bad_rules_name_their_field(
    engine: Engine, members: tuple[int, int], changes: dict[str, object], field: str
) -> None:
    arguments: dict[str, object] = {"scope_kind": "class", "scope": GTIN, "fields": ["when"]}
    with pytest.raises(InvalidInputError) as refused:
        set_rule(engine, owner_id=members[0], **{**arguments, **changes})  # type: ignore[arg-type]
    assert refused.value.field == field
