"""Anchor batches record the version of their Merkle leaves.

Version 1 leaves (every batch anchored before this revision) commit to the event hash only;
version 2 leaves (:data:`ledger.merkle.LEAF_RECORD`, every batch the anchor worker builds
from now on) also commit to the captured JSON exactly as stored and to the event signature.
Existing batches become version 1, so they still verify (against the root the chain holds, which
only a version-1 rebuild reaches); nothing is re-anchored.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 15:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("anchor_batch", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("leaf_version", sa.Integer(), server_default="1", nullable=False)
        )


def downgrade() -> None:
    """Revert this revision."""
    # In place (SQLite >= 3.35): a batch copy of anchor_batch would drop the table under the
    # foreign keys of its events.
    op.execute("ALTER TABLE anchor_batch DROP COLUMN leaf_version")
