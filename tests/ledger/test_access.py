"""ledger.access on a real SQLite store: scopes, grants and their revocation as the visibility
rule reads them, capability links (scope, time range, expiry, revocation, forgery) and their
use log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from ledger import access
from ledger.errors import ConflictError, InvalidInputError
from ledger.events import parse_document
from ledger.store.capture import capture_events
from ledger.store.models import OrgRole
from ledger.store.repository import create_organisation
from ledger.store.visibility import can_read
from ledger.visibility import Audience, Reader, ScopeKind, Visibility
from tests.helpers import document_bytes, sgtin_event, sgtin_uri, unique_prefix

LOT = "https://id.gs1.org/01/80614141123458/10/LOT1"


def _member(engine: Engine, name: str) -> int:
    org_id = "0x" + (name.encode().hex() + "0" * 64)[:64]
    org = create_organisation(engine, org_id=org_id, name=name, roles=OrgRole.RECORDER)
    assert org.id is not None
    return org.id


def _org_id(name: str) -> str:
    return "0x" + (name.encode().hex() + "0" * 64)[:64]


def _capture(engine: Engine, member: int, event: dict[str, Any], visibility: Visibility) -> int:
    parsed = parse_document(document_bytes(event), "application/ld+json")
    result = capture_events(
        engine, parsed, organisation_id=member, audience=Audience(visibility=visibility)
    )
    return result.events[0].event_pk


# --- scopes ---------------------------------------------------------------------------------


def test_scope_keys_match_event_scope() -> None:
    item = access.parse_scope("identifier", "urn:epc:id:sgtin:0614141.812345.6789")
    assert item.kind is ScopeKind.IDENTIFIER
    assert item.key == "https://id.gs1.org/01/80614141123458/21/6789"
    lot = access.parse_scope("LOT", "urn:epc:class:lgtin:0614141.812345.LOT1")
    assert (lot.kind, lot.key) == (ScopeKind.LOT, LOT)
    assert access.parse_scope("lot", f"{LOT}/21/5").key == LOT
    assert access.parse_scope("prefix", "0614141").key == "gs1:0614141"
    assert access.parse_scope("prefix", "88.118.8").key == "handle:88.118.8"


@pytest.mark.parametrize(
    ("kind", "value", "field"),
    [
        ("batch", "0614141", "scope_kind"),
        ("identifier", "not an identifier", "scope"),
        ("identifier", "  ", "scope"),
        ("lot", "urn:epc:id:sgtin:0614141.812345.6789", "scope"),
        ("prefix", "gs1:06", "scope"),
    ],
)
def test_bad_scopes_name_their_field(kind: str, value: str, field: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        access.parse_scope(kind, value)
    assert raised.value.field == field


# --- grants ---------------------------------------------------------------------------------


def test_grant_shows_private_events_until_revoked(engine: Engine) -> None:
    owner, partner, other = (_member(engine, n) for n in ("owner", "partner", "other"))
    event = sgtin_event("77")
    pk = _capture(engine, owner, event, Visibility.PRIVATE)
    unrelated = _capture(engine, owner, sgtin_event("78"), Visibility.PRIVATE)
    assert not can_read(engine, Reader.member(partner), pk)

    given = access.grant(
        engine,
        grantor_id=owner,
        grantee=_org_id("partner"),
        scope_kind="identifier",
        scope=event["epcList"][0],
    )
    assert given.grantor == _org_id("owner")
    assert given.grantee == _org_id("partner")
    assert given.revoked_at is None
    assert can_read(engine, Reader.member(partner), pk)
    assert not can_read(engine, Reader.member(partner), unrelated)
    assert not can_read(engine, Reader.member(other), pk)
    listed = access.grants_of(engine, partner)
    assert [g.id for g in listed.received] == [given.id]
    assert listed.given == []
    assert [g.id for g in access.grants_of(engine, owner).given] == [given.id]

    with pytest.raises(ConflictError):
        access.grant(
            engine,
            grantor_id=owner,
            grantee=_org_id("partner"),
            scope_kind="identifier",
            scope=event["epcList"][0],
        )
    # Only the grantor revokes.
    assert access.revoke_grant(engine, grantor_id=partner, grant_id=given.id) is None
    assert can_read(engine, Reader.member(partner), pk)
    revoked = access.revoke_grant(engine, grantor_id=owner, grant_id=given.id)
    assert revoked is not None
    assert revoked.revoked_at is not None
    assert not can_read(engine, Reader.member(partner), pk)
    assert access.grants_of(engine, partner).received == []
    assert len(access.grants_of(engine, partner, include_revoked=True).received) == 1


def test_prefix_grant_covers_everything_under_it(engine: Engine) -> None:
    owner, partner = _member(engine, "owner"), _member(engine, "partner")
    pks = [_capture(engine, owner, sgtin_event(s), Visibility.PRIVATE) for s in ("1", "2")]
    access.grant(
        engine, grantor_id=owner, grantee=_org_id("partner"), scope_kind="prefix", scope="0614141"
    )
    assert all(can_read(engine, Reader.member(partner), pk) for pk in pks)


def test_grant_covers_only_the_grantors_events(engine: Engine) -> None:
    owner, partner, third = (_member(engine, n) for n in ("owner", "partner", "third"))
    theirs = _capture(engine, third, sgtin_event("5"), Visibility.PRIVATE)
    access.grant(
        engine, grantor_id=owner, grantee=_org_id("partner"), scope_kind="prefix", scope="0614141"
    )
    assert not can_read(engine, Reader.member(partner), theirs)


def test_grant_refusals_name_the_grantee(engine: Engine) -> None:
    owner = _member(engine, "owner")
    for grantee in (_org_id("nobody"), _org_id("owner")):
        with pytest.raises(InvalidInputError) as raised:
            access.grant(
                engine, grantor_id=owner, grantee=grantee, scope_kind="prefix", scope="0614141"
            )
        assert raised.value.field == "grantee"


def test_default_visibility(engine: Engine) -> None:
    owner = _member(engine, "owner")
    assert access.set_default_visibility(engine, owner, "Private") is Visibility.PRIVATE
    with pytest.raises(InvalidInputError) as raised:
        access.set_default_visibility(engine, owner, "secret")
    assert raised.value.field == "default_visibility"


# --- capability links -----------------------------------------------------------------------


def test_link_reads_its_scope_and_range_as_its_issuer(engine: Engine) -> None:
    owner, other = _member(engine, "owner"), _member(engine, "other")
    early = sgtin_event("10", offset_minutes=0)
    late = sgtin_event("10", offset_minutes=60, biz_step="shipping")
    early_pk = _capture(engine, owner, early, Visibility.PRIVATE)
    late_pk = _capture(engine, owner, late, Visibility.PRIVATE)
    elsewhere = _capture(engine, owner, sgtin_event("11"), Visibility.PRIVATE)
    foreign = _capture(engine, other, sgtin_event("10", offset_minutes=5), Visibility.PRIVATE)
    start = datetime(2026, 3, 1, 8, 30, tzinfo=UTC)
    link, token = access.issue_link(
        engine,
        issuer_id=owner,
        issued_by="k1",
        scope_kind="identifier",
        scope=early["epcList"][0],
        since=start,
    )
    assert token.startswith("tcl_")
    assert access.split_link_token(token) == link.id
    assert link.secret_hash != token
    assert token not in repr(link)
    reader = access.link_reader(access.open_link(engine, token))
    assert can_read(engine, reader, late_pk)
    assert not can_read(engine, reader, early_pk)  # before since
    assert not can_read(engine, reader, elsewhere)  # outside the scope
    assert not can_read(engine, reader, foreign)  # the issuer cannot read it
    # The admin's link reads every member's events in scope.
    admin_link, admin_token = access.issue_link(
        engine, issuer_id=None, issued_by="adm", scope_kind="prefix", scope="0614141"
    )
    admin_reader = access.link_reader(access.open_link(engine, admin_token))
    assert all(can_read(engine, admin_reader, pk) for pk in (early_pk, foreign, elsewhere))
    assert [x.id for x in access.links_of(engine, None)] == [admin_link.id]
    assert [x.id for x in access.links_of(engine, owner)] == [link.id]


def test_forged_expired_and_revoked_tokens(engine: Engine) -> None:
    owner = _member(engine, "owner")
    now = datetime.now(UTC)
    link, token = access.issue_link(
        engine, issuer_id=owner, issued_by="k", scope_kind="prefix", scope="0614141", now=now
    )
    link_id = link.id
    for forged in (
        token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
        f"tcl_{'0' * 32}_{'x' * 43}",
        "tcl_short_x",
        "tc_a1b2c3d4e5f6_" + "s" * 43,
    ):
        with pytest.raises(access.CapabilityError) as raised:
            access.open_link(engine, forged)
        assert raised.value.link_id is None
    later = now + access.DEFAULT_LINK_LIFETIME + timedelta(seconds=1)
    with pytest.raises(access.CapabilityError) as expired:
        access.open_link(engine, token, now=later)
    assert expired.value.link_id == link_id
    assert access.revoke_link(engine, issuer_id=None, link_id=link_id) is None
    assert access.revoke_link(engine, issuer_id=_member(engine, "x"), link_id=link_id) is None
    revoked = access.revoke_link(engine, issuer_id=owner, link_id=link_id)
    assert revoked is not None
    assert revoked.revoked_at is not None
    with pytest.raises(access.CapabilityError, match="revoked"):
        access.open_link(engine, token)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"expires_at": datetime(2020, 1, 1, tzinfo=UTC)}, "expires_at"),
        ({"expires_at": datetime.now(UTC) + timedelta(days=400)}, "expires_at"),
        ({"expires_at": datetime(2030, 1, 1)}, "expires_at"),
        (
            {"since": datetime(2026, 2, 1, tzinfo=UTC), "until": datetime(2026, 1, 1, tzinfo=UTC)},
            "until",
        ),
        ({"scope": "nonsense"}, "scope"),
    ],
)
def test_link_refusals_name_their_field(
    engine: Engine, changes: dict[str, Any], field: str
) -> None:
    arguments: dict[str, Any] = {
        "scope_kind": "identifier",
        "scope": sgtin_uri("0614141", "812345", 1),
    }
    arguments.update(changes)
    with pytest.raises(InvalidInputError) as raised:
        access.issue_link(engine, issuer_id=None, issued_by="adm", **arguments)
    assert raised.value.field == field


def test_uses_are_logged_for_the_issuer_only(engine: Engine) -> None:
    owner, other = _member(engine, "owner"), _member(engine, "other")
    link, _ = access.issue_link(
        engine, issuer_id=owner, issued_by="k", scope_kind="prefix", scope=unique_prefix()
    )
    access.record_link_use(
        engine,
        link.id,
        method="GET",
        path="/events?EQ_bizStep=shipping",
        client="10.0.0.9",
        status=200,
    )
    uses = access.link_uses(engine, issuer_id=owner, link_id=link.id)
    assert uses is not None
    assert [(u.method, u.path, u.client, u.status) for u in uses] == [
        ("GET", "/events?EQ_bizStep=shipping", "10.0.0.9", 200)
    ]
    assert access.link_uses(engine, issuer_id=other, link_id=link.id) is None
    assert access.link_uses(engine, issuer_id=None, link_id=link.id) is None
    assert access.links_of(engine, owner)[0].uses == 1
