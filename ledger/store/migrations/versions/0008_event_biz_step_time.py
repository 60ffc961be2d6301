"""An index on ``event (biz_step, event_time, id)``: EPCIS queries by business step within a
time window.

``GET /events?EQ_bizStep=shipping&GE_eventTime=..&LT_eventTime=..`` had only
``ix_event_biz_step`` and ``ix_event_event_time_id`` to choose from; SQLite (without
``ANALYZE`` statistics, which this app never gathers) took ``ix_event_biz_step``, whose entries
come in ``id`` order, and walked every shipping event until it reached the window (about 30 ms
for a late one-day window on a 100,000-event ledger, for every caller; ``bench/visibility.py``).
With the business step and the time range in one index both databases read only the window's
events (and sort that page by ``id``); pages ordered by ``eventTime`` within a business step
walk it in order. ``ix_event_biz_step`` stays: a business step without a time window still
pages in ``id`` order without a sort.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_index(
        "ix_event_biz_step_event_time_id", "event", ["biz_step", "event_time", "id"], unique=False
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_event_biz_step_event_time_id", table_name="event")
