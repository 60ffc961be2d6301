"""API keys in the store: look-up, storage, last use and revocation.

Only a key's public ``key_id`` and the SHA-256 of the whole key are stored
(:class:`~ledger.store.models.ApiKey`); making keys and checking them against the hash is the
API's work. Every function works in the caller's session (one connection, one transaction
until a function commits), so a request reads and writes its key rows on one connection.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from ledger.store.models import ApiKey, utc_now

__all__ = [
    "active_admin_key",
    "add_api_key",
    "api_key",
    "api_keys_of",
    "note_api_key_use",
    "operator_keys",
    "revoke_api_key",
    "revoke_operator_key",
]


def api_key(session: Session, key_id: str) -> ApiKey | None:
    """The key with this public ``key_id`` (revoked or not), if any."""
    return session.exec(select(ApiKey).where(ApiKey.key_id == key_id)).first()


def active_admin_key(session: Session) -> ApiKey | None:
    """One of the consortium admin's keys that is not revoked, if there is one."""
    statement = select(ApiKey).where(ApiKey.role == "admin", col(ApiKey.revoked_at).is_(None))
    return session.exec(statement).first()


def add_api_key(
    session: Session,
    *,
    key_id: str,
    key_hash: str,
    organisation_id: int | None,
    role: str,
    label: str = "",
) -> ApiKey:
    """Store a key (its id and hash) and commit the session's transaction; returns its row.

    ``organisation_id`` is ``None`` for the consortium admin's keys; ``role`` is one of
    :data:`~ledger.store.models.API_KEY_ROLES`.
    """
    row = ApiKey(
        key_id=key_id, key_hash=key_hash, organisation_id=organisation_id, role=role, label=label
    )
    session.add(row)
    session.commit()
    return row


def note_api_key_use(session: Session, key: ApiKey, *, when: datetime | None = None) -> None:
    """Write when ``key`` (a row read in ``session``) was last used, in a transaction of its
    own: the session's read transaction ends first."""
    # End the read first: SQLite (WAL) refuses to turn a read transaction into a write
    # when another writer committed meanwhile ("database is locked" at once, no waiting).
    session.commit()
    key.last_used_at = when or utc_now()
    session.add(key)
    session.commit()


def api_keys_of(session: Session, organisation_id: int) -> list[ApiKey]:
    """A member's keys (revoked ones too), oldest first."""
    statement = (
        select(ApiKey).where(ApiKey.organisation_id == organisation_id).order_by(col(ApiKey.id))
    )
    return list(session.exec(statement).all())


def revoke_api_key(
    session: Session, *, key_id: str, organisation_id: int, when: datetime | None = None
) -> ApiKey | None:
    """Revoke member ``organisation_id``'s key ``key_id`` (committing) unless it was revoked
    already; returns the key's row, or None when the member has no such key."""
    statement = select(ApiKey).where(
        ApiKey.key_id == key_id, ApiKey.organisation_id == organisation_id
    )
    row = session.exec(statement).first()
    if row is not None and row.revoked_at is None:
        row.revoked_at = when or utc_now()
        session.add(row)
        session.commit()
    return row


def operator_keys(session: Session) -> list[ApiKey]:
    """The operator's keys (of no member: the admin's and the operator's auditors'), revoked
    ones too, oldest first."""
    statement = select(ApiKey).where(col(ApiKey.organisation_id).is_(None)).order_by(col(ApiKey.id))
    return list(session.exec(statement).all())


def revoke_operator_key(
    session: Session, key_id: str, *, when: datetime | None = None
) -> ApiKey | None:
    """Revoke the operator's auditor key ``key_id`` (committing) unless it was revoked
    already; its row, or None when there is no such auditor key (the admin's keys are not
    revoked here)."""
    statement = select(ApiKey).where(
        ApiKey.key_id == key_id, col(ApiKey.organisation_id).is_(None), ApiKey.role == "auditor"
    )
    row = session.exec(statement).first()
    if row is not None and row.revoked_at is None:
        row.revoked_at = when or utc_now()
        session.add(row)
        session.commit()
    return row
