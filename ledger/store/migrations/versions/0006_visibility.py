"""Who may read which event (:mod:`ledger.visibility`).

``event.visibility`` and ``organisation.default_visibility`` (both ``linked`` for what is stored
already: before this revision every member read every event, and ``linked`` is the default);
``event_reader`` (members named readers of an event), ``event_scope`` (what each event is
about: identifiers, classes, prefixes), ``member_link`` (what each member is linked to),
``access_grant`` (grants between members), ``capability_link`` and ``capability_use``
(regulators' links and their use log). The scope and link rows of the events stored already
are filled in from the identifier index.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 21:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from ledger.store.types import BIG_ID, BINARY_TEXT, UTCDateTime

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SCOPE_KINDS = "scope_kind IN ('identifier', 'lot', 'prefix')"


def upgrade() -> None:
    """Apply this revision."""
    op.add_column(
        "event",
        sa.Column("visibility", sa.String(16), server_default="linked", nullable=False),
    )
    op.add_column(
        "organisation",
        sa.Column("default_visibility", sa.String(16), server_default="linked", nullable=False),
    )
    op.create_table(
        "event_reader",
        sa.Column("event_pk", BIG_ID, nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_pk"], ["event.id"], name="fk_event_reader_event_pk_event", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name="fk_event_reader_organisation_id_organisation",
        ),
        sa.PrimaryKeyConstraint("event_pk", "organisation_id", name="pk_event_reader"),
    )
    op.create_index(
        "ix_event_reader_organisation_id_event_pk",
        "event_reader",
        ["organisation_id", "event_pk"],
    )
    op.create_table(
        "event_scope",
        sa.Column("event_pk", BIG_ID, nullable=False),
        sa.Column("key", BINARY_TEXT, nullable=False),
        sa.Column("link", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_pk"], ["event.id"], name="fk_event_scope_event_pk_event", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("event_pk", "key", name="pk_event_scope"),
    )
    op.create_index("ix_event_scope_key_event_pk", "event_scope", ["key", "event_pk"])
    op.create_table(
        "member_link",
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("key", BINARY_TEXT, nullable=False),
        sa.Column("direct", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name="fk_member_link_organisation_id_organisation",
        ),
        sa.PrimaryKeyConstraint("organisation_id", "key", name="pk_member_link"),
    )
    op.create_index("ix_member_link_key_organisation_id", "member_link", ["key", "organisation_id"])
    op.create_table(
        "access_grant",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("grantor_id", sa.Integer(), nullable=False),
        sa.Column("grantee_id", sa.Integer(), nullable=False),
        sa.Column("scope_kind", sa.String(16), nullable=False),
        sa.Column("scope_value", sa.Text(), nullable=False),
        sa.Column("scope_key", BINARY_TEXT, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.CheckConstraint(_SCOPE_KINDS, name="ck_access_grant_scope_kind"),
        sa.ForeignKeyConstraint(
            ["grantor_id"], ["organisation.id"], name="fk_access_grant_grantor_id_organisation"
        ),
        sa.ForeignKeyConstraint(
            ["grantee_id"], ["organisation.id"], name="fk_access_grant_grantee_id_organisation"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_access_grant"),
    )
    op.create_index("ix_access_grant_grantor_id", "access_grant", ["grantor_id"])
    op.create_index(
        "ix_access_grant_grantee_id_grantor_id", "access_grant", ["grantee_id", "grantor_id"]
    )
    op.create_table(
        "capability_link",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("issuer_id", sa.Integer(), nullable=True),
        sa.Column("issued_by", sa.String(32), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("scope_kind", sa.String(16), nullable=False),
        sa.Column("scope_value", sa.Text(), nullable=False),
        sa.Column("scope_key", BINARY_TEXT, nullable=False),
        sa.Column("since", UTCDateTime(), nullable=True),
        sa.Column("until", UTCDateTime(), nullable=True),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.CheckConstraint(_SCOPE_KINDS, name="ck_capability_link_scope_kind"),
        sa.ForeignKeyConstraint(
            ["issuer_id"], ["organisation.id"], name="fk_capability_link_issuer_id_organisation"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_capability_link"),
    )
    op.create_index("ix_capability_link_issuer_id", "capability_link", ["issuer_id"])
    op.create_table(
        "capability_use",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("link_id", sa.String(36), nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=False),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("client", sa.String(64), nullable=True),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["link_id"], ["capability_link.id"], name="fk_capability_use_link_id_capability_link"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_capability_use"),
    )
    op.create_index("ix_capability_use_link_id", "capability_use", ["link_id"])
    _backfill()


def _backfill() -> None:
    """Scope rows (identifiers, classes, prefixes) and their recorders' direct links for the
    events stored already, from the identifier index (:func:`ledger.store.visibility.backfill`;
    named readers and neighbour links of earlier captures are not known, so not made up)."""
    from ledger.store.visibility import backfill

    backfill(op.get_bind())


def downgrade() -> None:
    """Revert this revision."""
    for table in ("capability_use", "capability_link", "access_grant", "member_link"):
        op.drop_table(table)
    op.drop_table("event_scope")
    op.drop_table("event_reader")
    op.execute("ALTER TABLE organisation DROP COLUMN default_visibility")
    op.execute("ALTER TABLE event DROP COLUMN visibility")
