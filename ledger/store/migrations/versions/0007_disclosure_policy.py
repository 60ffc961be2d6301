"""Brand owners' public projections (:mod:`ledger.disclosure`).

``disclosure_policy``: what the public sees of the events on a brand owner's products' trails,
per class (GTIN) or prefix, optionally per recording member and event type. No rows: every
trail shows the documented default projection.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from ledger.store.types import BINARY_TEXT, UTCDateTime

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "disclosure_policy",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("scope_kind", sa.String(16), nullable=False),
        sa.Column("scope_value", sa.Text(), nullable=False),
        sa.Column("scope_key", BINARY_TEXT, nullable=False),
        sa.Column("recorder", sa.String(66), nullable=False),
        sa.Column("event_type", sa.String(32), nullable=False),
        sa.Column("fields", sa.Text(), nullable=False),
        sa.Column("commissioning", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "scope_kind IN ('class', 'prefix')", name="ck_disclosure_policy_scope_kind"
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name="fk_disclosure_policy_organisation_id_organisation",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_disclosure_policy"),
        sa.UniqueConstraint(
            "organisation_id",
            "scope_key",
            "recorder",
            "event_type",
            name="uq_disclosure_policy_rule",
        ),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("disclosure_policy")
