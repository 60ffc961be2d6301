"""The ``api_key`` table: members' API keys (and the consortium admin's), stored hashed.

A key is shown once, when it is created: ``tc_{key_id}_{secret}``. Only ``key_id`` (public,
for lookup) and the SHA-256 of the whole key are stored. The secret has 256 bits of entropy,
so a fast hash is enough (no password hashing needed: nothing to brute-force).

The table has its own metadata (so the store's metadata keeps matching its migrations) and a
foreign key to ``organisation.id``; :func:`ensure_table` creates it where the store's
migrations do not (yet) include it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from ledger.store.models import Organisation, utc_now
from ledger.store.types import UTCDateTime

_ORGANISATION: Final[sa.Table] = Organisation.__table__  # type: ignore[attr-defined]

API_KEY_ROLES: Final = ("admin", "recorder", "auditor")

api_metadata: Final = sa.MetaData()


class ApiModel(SQLModel, registry=registry(metadata=api_metadata)):
    """Base of the API's own table models."""


class ApiKey(ApiModel, table=True):
    """One API key of a member organisation (or of the consortium admin)."""

    __tablename__ = "api_key"
    __table_args__ = (
        sa.CheckConstraint("role IN ('admin', 'recorder', 'auditor')", name="ck_api_key_role"),
    )

    id: int | None = Field(default=None, primary_key=True)
    #: Public part of the key, used to find the row (``tc_{key_id}_...``).
    key_id: str = Field(sa_type=sa.String(32), unique=True)
    #: SHA-256 of the whole key, hex.
    key_hash: str = Field(sa_type=sa.String(64))
    #: ``None`` for the consortium admin's key.
    organisation_id: int | None = Field(
        default=None,
        sa_column=sa.Column(
            sa.Integer, sa.ForeignKey(_ORGANISATION.c.id), index=True, nullable=True
        ),
    )
    role: str = Field(sa_type=sa.String(16))
    label: str = Field(default="", sa_type=sa.Text)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


def ensure_table(engine: Engine) -> None:
    """Create ``api_key`` if the database does not have it (after the store's migrations)."""
    api_metadata.create_all(engine, checkfirst=True)
