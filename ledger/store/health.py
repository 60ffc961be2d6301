"""What the service's health checks and metrics read from the store: whether the database
answers, and the anchoring backlog (the outbox and the mined batches)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ledger.store.tables import ANCHOR_BATCH, OUTBOX

__all__ = ["AnchoringBacklog", "anchoring_backlog", "ping"]


@dataclass(frozen=True, slots=True)
class AnchoringBacklog:
    """Events waiting to be anchored, and batches anchored."""

    #: Events in the outbox (captured, not anchored yet).
    pending_events: int
    #: When the event that has waited longest was queued (None when none waits).
    oldest_pending_at: datetime | None
    #: Anchor batches mined on chain.
    mined_batches: int


def ping(engine: Engine) -> None:
    """Run ``SELECT 1`` (raises SQLAlchemy's errors when the database does not answer)."""
    with engine.connect() as connection:
        connection.execute(sa.text("SELECT 1"))


def anchoring_backlog(engine: Engine) -> AnchoringBacklog:
    """The anchoring backlog, read on one connection."""
    with engine.connect() as connection:
        count, oldest = connection.execute(
            sa.select(sa.func.count(), sa.func.min(OUTBOX.c.id)).select_from(OUTBOX)
        ).one()
        created: datetime | None = None
        if oldest is not None:
            created = connection.execute(
                sa.select(OUTBOX.c.created_at).where(OUTBOX.c.id == oldest)
            ).scalar()
        mined = connection.execute(
            sa.select(sa.func.count())
            .select_from(ANCHOR_BATCH)
            .where(ANCHOR_BATCH.c.status == "mined")
        ).scalar()
    return AnchoringBacklog(int(count), created, int(mined or 0))
