"""Initial schema: members, keys, prefixes, captures, events, their identifiers, anchor batches
and the anchoring outbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-25 07:10:47
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Frozen copies of ledger.store.types (a migration must not change when the models do).
_TIMESTAMP: Final = sa.DateTime(timezone=True)
_BIG_ID: Final = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_BINARY_TEXT: Final = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "organisation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.String(length=66), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("roles", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", _TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisation")),
        sa.UniqueConstraint("org_id", name=op.f("uq_organisation_org_id")),
    )
    op.create_table(
        "anchor_batch",
        sa.Column("id", _BIG_ID, nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("signer_address", sa.String(length=42), nullable=False),
        sa.Column("root", sa.String(length=66), nullable=False),
        sa.Column("event_count", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=True),
        sa.Column("block_number", sa.BigInteger(), nullable=True),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", _TIMESTAMP, nullable=False),
        sa.Column("sent_at", _TIMESTAMP, nullable=True),
        sa.Column("mined_at", _TIMESTAMP, nullable=True),
        sa.CheckConstraint(
            "status IN ('prepared', 'sent', 'mined', 'orphaned')",
            name=op.f("ck_anchor_batch_status"),
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_anchor_batch_organisation_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_anchor_batch")),
        sa.UniqueConstraint("root", name=op.f("uq_anchor_batch_root")),
    )
    with op.batch_alter_table("anchor_batch", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_anchor_batch_organisation_id"), ["organisation_id"], unique=False
        )
        batch_op.create_index("ix_anchor_batch_status_id", ["status", "id"], unique=False)

    op.create_table(
        "capture",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("created_at", _TIMESTAMP, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("event_count", sa.Integer(), nullable=False),
        sa.Column("errors", sa.JSON(), nullable=True),
        sa.CheckConstraint("status IN ('accepted', 'failed')", name=op.f("ck_capture_status")),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_capture_organisation_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_capture")),
    )
    with op.batch_alter_table("capture", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_capture_organisation_id"), ["organisation_id"], unique=False
        )

    op.create_table(
        "prefix",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("prefix", sa.String(length=200), nullable=False),
        sa.Column("prefix_key", sa.String(length=66), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("assigned_at", _TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_prefix_organisation_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prefix")),
        sa.UniqueConstraint("prefix", name=op.f("uq_prefix_prefix")),
    )
    with op.batch_alter_table("prefix", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_prefix_organisation_id"), ["organisation_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_prefix_prefix_key"), ["prefix_key"], unique=False)

    op.create_table(
        "signing_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=42), nullable=False),
        sa.Column("keystore_path", sa.Text(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("added_at", _TIMESTAMP, nullable=False),
        sa.Column("revoked_at", _TIMESTAMP, nullable=True),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_signing_key_organisation_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signing_key")),
        sa.UniqueConstraint("address", name=op.f("uq_signing_key_address")),
    )
    with op.batch_alter_table("signing_key", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_signing_key_organisation_id"), ["organisation_id"], unique=False
        )

    op.create_table(
        "event",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("event_hash", sa.String(length=66), nullable=False),
        sa.Column("hash_id", sa.Text(), nullable=False),
        sa.Column("event_id", sa.Text(), nullable=True),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=8), nullable=True),
        sa.Column("event_time", _TIMESTAMP, nullable=False),
        sa.Column("event_time_zone_offset", sa.String(length=6), nullable=False),
        sa.Column("record_time", _TIMESTAMP, nullable=False),
        sa.Column("biz_step", sa.Text(), nullable=True),
        sa.Column("disposition", sa.Text(), nullable=True),
        sa.Column("read_point", sa.Text(), nullable=True),
        sa.Column("biz_location", sa.Text(), nullable=True),
        sa.Column("captured_json", sa.Text(), nullable=False),
        sa.Column("prehash", sa.Text(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("recorder_address", sa.String(length=42), nullable=True),
        sa.Column("primary_id_key", sa.String(length=66), nullable=False),
        sa.Column("signature", sa.Text(), nullable=True),
        sa.Column("capture_id", sa.String(length=36), nullable=False),
        sa.Column("anchor_status", sa.String(length=16), nullable=False),
        sa.Column("batch_id", _BIG_ID, nullable=True),
        sa.Column("proof", sa.JSON(), nullable=True),
        sa.CheckConstraint(
            "anchor_status IN ('pending', 'anchored')", name=op.f("ck_event_anchor_status")
        ),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["anchor_batch.id"], name=op.f("fk_event_batch_id_anchor_batch")
        ),
        sa.ForeignKeyConstraint(
            ["capture_id"], ["capture.id"], name=op.f("fk_event_capture_id_capture")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_event_organisation_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event")),
        sa.UniqueConstraint("event_hash", name=op.f("uq_event_event_hash")),
    )
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_event_action"), ["action"], unique=False)
        batch_op.create_index(batch_op.f("ix_event_batch_id"), ["batch_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_event_biz_location"), ["biz_location"], unique=False)
        batch_op.create_index(batch_op.f("ix_event_biz_step"), ["biz_step"], unique=False)
        batch_op.create_index(batch_op.f("ix_event_capture_id"), ["capture_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_event_disposition"), ["disposition"], unique=False)
        batch_op.create_index(batch_op.f("ix_event_event_id"), ["event_id"], unique=False)
        batch_op.create_index("ix_event_event_time_id", ["event_time", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_event_event_type"), ["event_type"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_event_organisation_id"), ["organisation_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_event_read_point"), ["read_point"], unique=False)
        batch_op.create_index("ix_event_record_time_id", ["record_time", "id"], unique=False)

    op.create_table(
        "event_identifier",
        sa.Column("event_pk", _BIG_ID, nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("canonical", _BINARY_TEXT, nullable=False),
        sa.Column("id_key", sa.String(length=66), nullable=False),
        sa.Column("class_canonical", _BINARY_TEXT, nullable=True),
        sa.ForeignKeyConstraint(
            ["event_pk"],
            ["event.id"],
            name=op.f("fk_event_identifier_event_pk_event"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("event_pk", "role", "value", name=op.f("pk_event_identifier")),
    )
    with op.batch_alter_table("event_identifier", schema=None) as batch_op:
        batch_op.create_index(
            "ix_event_identifier_canonical_role", ["canonical", "role"], unique=False
        )
        batch_op.create_index(
            "ix_event_identifier_class_canonical_role", ["class_canonical", "role"], unique=False
        )
        batch_op.create_index("ix_event_identifier_id_key", ["id_key"], unique=False)

    op.create_table(
        "outbox",
        sa.Column("id", _BIG_ID, nullable=False),
        sa.Column("event_pk", _BIG_ID, nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("created_at", _TIMESTAMP, nullable=False),
        sa.Column("claimed_by", sa.String(length=100), nullable=True),
        sa.Column("claimed_until", _TIMESTAMP, nullable=True),
        sa.ForeignKeyConstraint(["event_pk"], ["event.id"], name=op.f("fk_outbox_event_pk_event")),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_outbox_organisation_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("event_pk", name=op.f("uq_outbox_event_pk")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbox_organisation_id_id", ["organisation_id", "id"], unique=False
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_organisation_id_id")

    op.drop_table("outbox")
    with op.batch_alter_table("event_identifier", schema=None) as batch_op:
        batch_op.drop_index("ix_event_identifier_id_key")
        batch_op.drop_index("ix_event_identifier_class_canonical_role")
        batch_op.drop_index("ix_event_identifier_canonical_role")

    op.drop_table("event_identifier")
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.drop_index("ix_event_record_time_id")
        batch_op.drop_index(batch_op.f("ix_event_read_point"))
        batch_op.drop_index(batch_op.f("ix_event_organisation_id"))
        batch_op.drop_index(batch_op.f("ix_event_event_type"))
        batch_op.drop_index("ix_event_event_time_id")
        batch_op.drop_index(batch_op.f("ix_event_event_id"))
        batch_op.drop_index(batch_op.f("ix_event_disposition"))
        batch_op.drop_index(batch_op.f("ix_event_capture_id"))
        batch_op.drop_index(batch_op.f("ix_event_biz_step"))
        batch_op.drop_index(batch_op.f("ix_event_biz_location"))
        batch_op.drop_index(batch_op.f("ix_event_batch_id"))
        batch_op.drop_index(batch_op.f("ix_event_action"))

    op.drop_table("event")
    with op.batch_alter_table("signing_key", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_signing_key_organisation_id"))

    op.drop_table("signing_key")
    with op.batch_alter_table("prefix", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_prefix_prefix_key"))
        batch_op.drop_index(batch_op.f("ix_prefix_organisation_id"))

    op.drop_table("prefix")
    with op.batch_alter_table("capture", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_capture_organisation_id"))

    op.drop_table("capture")
    with op.batch_alter_table("anchor_batch", schema=None) as batch_op:
        batch_op.drop_index("ix_anchor_batch_status_id")
        batch_op.drop_index(batch_op.f("ix_anchor_batch_organisation_id"))

    op.drop_table("anchor_batch")
    op.drop_table("organisation")
