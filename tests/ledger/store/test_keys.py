"""API keys in the store: look-up, storage, last use and revocation, on both back ends."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.engine import Engine

from ledger.store.db import session_factory
from ledger.store.keys import (
    active_admin_key,
    add_api_key,
    api_key,
    api_keys_of,
    note_api_key_use,
    revoke_api_key,
)
from ledger.store.models import OrgRole
from ledger.store.repository import create_organisation

WHEN = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def _other_org(engine: Engine) -> int:
    other = create_organisation(
        engine, org_id="0x" + "cd" * 32, name="Other Foods", roles=OrgRole.AUDITOR
    )
    assert other.id is not None
    return other.id


def test_add_and_look_up(engine: Engine, org: int) -> None:
    with session_factory(engine)() as session:
        row = add_api_key(
            session,
            key_id="0123456789ab",
            key_hash="ab" * 32,
            organisation_id=org,
            role="recorder",
            label="scanner",
        )
        assert row.id is not None
    with session_factory(engine)() as session:
        found = api_key(session, "0123456789ab")
        assert found is not None
        assert (found.id, found.key_hash, found.organisation_id) == (row.id, "ab" * 32, org)
        assert (found.role, found.label) == ("recorder", "scanner")
        assert found.revoked_at is None
        assert found.last_used_at is None
        assert found.created_at.tzinfo is not None
        assert api_key(session, "ba9876543210") is None


def test_active_admin_key(engine: Engine, org: int) -> None:
    with session_factory(engine)() as session:
        assert active_admin_key(session) is None
        add_api_key(
            session, key_id="aaaaaaaaaaaa", key_hash="00" * 32, organisation_id=org, role="auditor"
        )
        assert active_admin_key(session) is None
        admin = add_api_key(
            session, key_id="bbbbbbbbbbbb", key_hash="11" * 32, organisation_id=None, role="admin"
        )
        found = active_admin_key(session)
        assert found is not None
        assert found.key_id == admin.key_id
        admin.revoked_at = WHEN
        session.add(admin)
        session.commit()
        assert active_admin_key(session) is None


def test_keys_of_a_member_oldest_first(engine: Engine, org: int) -> None:
    other = _other_org(engine)
    with session_factory(engine)() as session:
        for key_id, owner in (
            ("000000000003", org),
            ("000000000001", other),
            ("000000000002", org),
        ):
            add_api_key(
                session, key_id=key_id, key_hash="22" * 32, organisation_id=owner, role="recorder"
            )
    with session_factory(engine)() as session:
        assert [k.key_id for k in api_keys_of(session, org)] == ["000000000003", "000000000002"]
        assert [k.key_id for k in api_keys_of(session, other)] == ["000000000001"]
        assert api_keys_of(session, other + org + 1) == []


def test_revoke_once_and_only_the_members_own(engine: Engine, org: int) -> None:
    other = _other_org(engine)
    with session_factory(engine)() as session:
        add_api_key(
            session, key_id="cccccccccccc", key_hash="33" * 32, organisation_id=org, role="recorder"
        )
    with session_factory(engine)() as session:
        assert revoke_api_key(session, key_id="cccccccccccc", organisation_id=other) is None
        assert revoke_api_key(session, key_id="dddddddddddd", organisation_id=org) is None
        revoked = revoke_api_key(session, key_id="cccccccccccc", organisation_id=org, when=WHEN)
        assert revoked is not None
        assert revoked.revoked_at == WHEN
        again = revoke_api_key(
            session, key_id="cccccccccccc", organisation_id=org, when=datetime.now(UTC)
        )
        assert again is not None
        assert again.revoked_at == WHEN
    with session_factory(engine)() as session:
        stored = api_key(session, "cccccccccccc")
        assert stored is not None
        assert stored.revoked_at == WHEN


def test_note_use_after_another_writer_committed(engine: Engine, org: int) -> None:
    """The use is written in a transaction of its own: on SQLite a read transaction cannot
    become a write once another connection has committed (it would fail at once with
    "database is locked")."""
    with session_factory(engine)() as session:
        add_api_key(
            session, key_id="eeeeeeeeeeee", key_hash="44" * 32, organisation_id=org, role="auditor"
        )
    with session_factory(engine)() as session:
        row = api_key(session, "eeeeeeeeeeee")  # the session's read transaction is open now
        assert row is not None
        _other_org(engine)  # another connection writes and commits meanwhile
        note_api_key_use(session, row, when=WHEN)
        assert row.last_used_at == WHEN
    with session_factory(engine)() as session:
        stored = api_key(session, "eeeeeeeeeeee")
        assert stored is not None
        assert stored.last_used_at == WHEN
