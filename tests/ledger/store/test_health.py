"""What the health checks and metrics read: the database answers, the anchoring backlog."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ledger.store.capture import capture_events
from ledger.store.health import AnchoringBacklog, anchoring_backlog, ping
from ledger.store.models import utc_now
from ledger.store.tables import ANCHOR_BATCH, OUTBOX
from tests.helpers import sgtin_observation
from tests.ledger.store.documents import parse


def test_ping(engine: Engine) -> None:
    ping(engine)


def test_an_empty_backlog(engine: Engine) -> None:
    assert anchoring_backlog(engine) == AnchoringBacklog(0, None, 0)


def test_the_backlog(engine: Engine, org: int) -> None:
    capture_events(engine, parse([sgtin_observation([1]), sgtin_observation([2], minute=1)]),
                   organisation_id=org)  # fmt: skip
    capture_events(engine, parse([sgtin_observation([3], minute=2)]), organisation_id=org)
    with engine.begin() as connection:
        queued = connection.execute(
            sa.select(OUTBOX.c.created_at).order_by(OUTBOX.c.id).limit(1)
        ).scalar_one()
        for n, status in enumerate(("mined", "mined", "sent", "orphaned")):
            connection.execute(
                sa.insert(ANCHOR_BATCH),
                {
                    "organisation_id": org,
                    "signer_address": "0x" + "00" * 20,
                    "root": f"0x{n:064x}",
                    "event_count": 1,
                    "status": status,
                    "chain_id": 31337,
                    "created_at": utc_now(),
                },
            )
    assert anchoring_backlog(engine) == AnchoringBacklog(3, queued, 2)
