"""Read grants, capability links and their uses in the store (the SQL of :mod:`ledger.access`).

``access_grant`` rows are read by the visibility rule itself
(:func:`ledger.store.visibility.visible`), so a grant or a revocation committed here holds for
the next read. ``capability_link`` keeps each link's scope, expiry and the SHA-256 of its token
(never the token); ``capability_use`` one row per use. Every function opens its own short
transaction on ``engine``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ledger.store.tables import ACCESS_GRANT, CAPABILITY_LINK, CAPABILITY_USE, ORGANISATION

__all__ = [
    "GrantRecord",
    "LinkRecord",
    "LinkUseRecord",
    "active_grant_id",
    "add_grant",
    "add_link",
    "add_link_use",
    "grant_records",
    "link_record",
    "link_records",
    "link_use_records",
    "organisation_pk",
    "revoke_grant_record",
    "revoke_link_record",
    "set_default_visibility",
]


@dataclass(frozen=True, slots=True)
class GrantRecord:
    """One ``access_grant`` row, with both members' on-chain organisation ids."""

    id: str
    grantor_id: int
    grantor: str
    grantee_id: int
    grantee: str
    scope_kind: str
    scope_value: str
    scope_key: str
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class LinkRecord:
    """One ``capability_link`` row (its secret's hash included), with the issuer's on-chain
    organisation id (``None``: the consortium admin) and how often it was used."""

    id: str
    issuer_id: int | None
    issuer: str | None
    issued_by: str
    label: str
    scope_kind: str
    scope_value: str
    scope_key: str
    since: datetime | None
    until: datetime | None
    expires_at: datetime
    secret_hash: str
    created_at: datetime
    revoked_at: datetime | None
    uses: int = 0


@dataclass(frozen=True, slots=True)
class LinkUseRecord:
    """One ``capability_use`` row."""

    link_id: str
    used_at: datetime
    method: str
    path: str
    client: str | None
    status: int


_GRANTOR = ORGANISATION.alias("grantor")
_GRANTEE = ORGANISATION.alias("grantee")
_ISSUER = ORGANISATION.alias("issuer")


def organisation_pk(engine: Engine, org_id: str) -> int | None:
    """The row id of the member with on-chain id ``org_id`` (lower-case hex), if any."""
    statement = sa.select(ORGANISATION.c.id).where(ORGANISATION.c.org_id == org_id.lower())
    with engine.connect() as connection:
        found = connection.execute(statement).scalar()
    return None if found is None else int(found)


def set_default_visibility(engine: Engine, organisation_id: int, visibility: str) -> bool:
    """Set member ``organisation_id``'s default visibility; False when there is no such
    member."""
    statement = (
        sa.update(ORGANISATION)
        .where(ORGANISATION.c.id == organisation_id)
        .values(default_visibility=visibility)
    )
    with engine.begin() as connection:
        return connection.execute(statement).rowcount > 0


# --- grants -----------------------------------------------------------------------------


def _grant_select() -> sa.Select[Any]:
    return sa.select(
        ACCESS_GRANT.c.id,
        ACCESS_GRANT.c.grantor_id,
        _GRANTOR.c.org_id.label("grantor"),
        ACCESS_GRANT.c.grantee_id,
        _GRANTEE.c.org_id.label("grantee"),
        ACCESS_GRANT.c.scope_kind,
        ACCESS_GRANT.c.scope_value,
        ACCESS_GRANT.c.scope_key,
        ACCESS_GRANT.c.created_at,
        ACCESS_GRANT.c.revoked_at,
    ).select_from(
        ACCESS_GRANT.join(_GRANTOR, _GRANTOR.c.id == ACCESS_GRANT.c.grantor_id).join(
            _GRANTEE, _GRANTEE.c.id == ACCESS_GRANT.c.grantee_id
        )
    )


def _grant(row: sa.RowMapping) -> GrantRecord:
    return GrantRecord(**{name: row[name] for name in GrantRecord.__slots__})


def active_grant_id(engine: Engine, grantor_id: int, grantee_id: int, scope_key: str) -> str | None:
    """The id of the unrevoked grant from ``grantor_id`` to ``grantee_id`` of ``scope_key``."""
    statement = sa.select(ACCESS_GRANT.c.id).where(
        ACCESS_GRANT.c.grantor_id == grantor_id,
        ACCESS_GRANT.c.grantee_id == grantee_id,
        ACCESS_GRANT.c.scope_key == scope_key,
        ACCESS_GRANT.c.revoked_at.is_(None),
    )
    with engine.connect() as connection:
        found = connection.execute(statement).scalar()
    return None if found is None else str(found)


def add_grant(engine: Engine, **values: Any) -> GrantRecord:
    """Store a grant (the columns of ``access_grant`` as keywords) and return it."""
    with engine.begin() as connection:
        connection.execute(sa.insert(ACCESS_GRANT).values(**values))
        row = (
            connection.execute(_grant_select().where(ACCESS_GRANT.c.id == values["id"]))
            .mappings()
            .one()
        )
    return _grant(row)


def grant_records(
    engine: Engine,
    *,
    grantor_id: int | None = None,
    grantee_id: int | None = None,
    include_revoked: bool = False,
) -> list[GrantRecord]:
    """Grants given by ``grantor_id`` and/or received by ``grantee_id``, oldest first."""
    statement = _grant_select()
    if grantor_id is not None:
        statement = statement.where(ACCESS_GRANT.c.grantor_id == grantor_id)
    if grantee_id is not None:
        statement = statement.where(ACCESS_GRANT.c.grantee_id == grantee_id)
    if not include_revoked:
        statement = statement.where(ACCESS_GRANT.c.revoked_at.is_(None))
    statement = statement.order_by(ACCESS_GRANT.c.created_at, ACCESS_GRANT.c.id)
    with engine.connect() as connection:
        return [_grant(row) for row in connection.execute(statement).mappings()]


def revoke_grant_record(
    engine: Engine, grant_id: str, grantor_id: int, when: datetime
) -> GrantRecord | None:
    """Revoke grant ``grant_id`` of ``grantor_id`` at ``when`` unless it was revoked already;
    the grant as it now stands, or None when the grantor has no such grant."""
    with engine.begin() as connection:
        connection.execute(
            sa.update(ACCESS_GRANT)
            .where(
                ACCESS_GRANT.c.id == grant_id,
                ACCESS_GRANT.c.grantor_id == grantor_id,
                ACCESS_GRANT.c.revoked_at.is_(None),
            )
            .values(revoked_at=when)
        )
        row = (
            connection.execute(
                _grant_select().where(
                    ACCESS_GRANT.c.id == grant_id, ACCESS_GRANT.c.grantor_id == grantor_id
                )
            )
            .mappings()
            .first()
        )
    return None if row is None else _grant(row)


# --- capability links ---------------------------------------------------------------------


def _uses() -> sa.ScalarSelect[Any]:
    return (
        sa.select(sa.func.count(CAPABILITY_USE.c.id))
        .where(CAPABILITY_USE.c.link_id == CAPABILITY_LINK.c.id)
        .scalar_subquery()
    )


def _link_select(*, with_uses: bool = False) -> sa.Select[Any]:
    uses = _uses() if with_uses else sa.literal(0)
    return sa.select(
        *(
            CAPABILITY_LINK.c[name]
            for name in LinkRecord.__slots__
            if name not in ("issuer", "uses")
        ),
        _ISSUER.c.org_id.label("issuer"),
        uses.label("uses"),
    ).select_from(CAPABILITY_LINK.outerjoin(_ISSUER, _ISSUER.c.id == CAPABILITY_LINK.c.issuer_id))


def _link(row: sa.RowMapping) -> LinkRecord:
    return LinkRecord(**{name: row[name] for name in LinkRecord.__slots__})


def _issued_by(issuer_id: int | None) -> sa.ColumnElement[bool]:
    if issuer_id is None:
        return CAPABILITY_LINK.c.issuer_id.is_(None)
    return CAPABILITY_LINK.c.issuer_id == issuer_id


def add_link(engine: Engine, **values: Any) -> LinkRecord:
    """Store a capability link (the columns of ``capability_link`` as keywords); return it."""
    with engine.begin() as connection:
        connection.execute(sa.insert(CAPABILITY_LINK).values(**values))
        row = (
            connection.execute(_link_select().where(CAPABILITY_LINK.c.id == values["id"]))
            .mappings()
            .one()
        )
    return _link(row)


def link_record(engine: Engine, link_id: str) -> LinkRecord | None:
    """The capability link ``link_id`` (revoked or expired too), if any."""
    with engine.connect() as connection:
        row = (
            connection.execute(_link_select().where(CAPABILITY_LINK.c.id == link_id))
            .mappings()
            .first()
        )
    return None if row is None else _link(row)


def link_records(engine: Engine, issuer_id: int | None) -> list[LinkRecord]:
    """The links member ``issuer_id`` issued (``None``: the consortium admin's), newest first,
    with their use counts."""
    statement = (
        _link_select(with_uses=True)
        .where(_issued_by(issuer_id))
        .order_by(CAPABILITY_LINK.c.created_at.desc(), CAPABILITY_LINK.c.id)
    )
    with engine.connect() as connection:
        return [_link(row) for row in connection.execute(statement).mappings()]


def revoke_link_record(
    engine: Engine, link_id: str, issuer_id: int | None, when: datetime
) -> LinkRecord | None:
    """Revoke ``issuer_id``'s link ``link_id`` at ``when`` unless it was revoked already; the
    link as it now stands, or None when that issuer has no such link."""
    mine = sa.and_(CAPABILITY_LINK.c.id == link_id, _issued_by(issuer_id))
    with engine.begin() as connection:
        connection.execute(
            sa.update(CAPABILITY_LINK)
            .where(mine, CAPABILITY_LINK.c.revoked_at.is_(None))
            .values(revoked_at=when)
        )
        row = connection.execute(_link_select(with_uses=True).where(mine)).mappings().first()
    return None if row is None else _link(row)


def add_link_use(
    engine: Engine,
    link_id: str,
    *,
    used_at: datetime,
    method: str,
    path: str,
    client: str | None,
    status: int,
) -> None:
    """Log one use of link ``link_id``."""
    with engine.begin() as connection:
        connection.execute(
            sa.insert(CAPABILITY_USE).values(
                link_id=link_id,
                used_at=used_at,
                method=method[:8],
                path=path,
                client=None if client is None else client[:64],
                status=status,
            )
        )


def link_use_records(engine: Engine, link_id: str, *, limit: int = 1000) -> list[LinkUseRecord]:
    """The last ``limit`` uses of link ``link_id``, newest first."""
    statement = (
        sa.select(
            CAPABILITY_USE.c.link_id,
            CAPABILITY_USE.c.used_at,
            CAPABILITY_USE.c.method,
            CAPABILITY_USE.c.path,
            CAPABILITY_USE.c.client,
            CAPABILITY_USE.c.status,
        )
        .where(CAPABILITY_USE.c.link_id == link_id)
        .order_by(CAPABILITY_USE.c.used_at.desc(), CAPABILITY_USE.c.id.desc())
        .limit(limit)
    )
    with engine.connect() as connection:
        return [LinkUseRecord(**row) for row in connection.execute(statement).mappings()]
