"""One eventID names one event (error declarations excepted); a capture lists its events.

``event.error_declaration`` marks error declarations (filled in from the captured JSON for the
rows already there); the partial unique index ``uq_event_event_id`` holds every other event's
``eventID`` once, so two concurrent captures cannot both store an eventID. ``capture.event_pks``
lists the events of an accepted capture (``event.id``), in input order.

The upgrade stops, naming them, when the database already holds two different events with one
eventID: which of them is right is for their members to decide, not for a migration.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 14:30:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Frozen copy of ledger.store.models.UNIQUE_EVENT_ID_WHERE.
_UNIQUE_WHERE: Final = "event_id IS NOT NULL AND NOT error_declaration"
#: Rows whose captured JSON has an ``errorDeclaration`` member, per dialect.
_IS_DECLARATION: Final = {
    "sqlite": "json_type(captured_json, '$.errorDeclaration') IS NOT NULL",
    "postgresql": "(captured_json::jsonb) ? 'errorDeclaration'",
}


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("capture", schema=None) as batch_op:
        batch_op.add_column(sa.Column("event_pks", sa.JSON(), nullable=True))
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("error_declaration", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    bind = op.get_bind()
    # Constant SQL (the module's own predicates), no input.
    declaration = _IS_DECLARATION[bind.dialect.name]
    update = f"UPDATE event SET error_declaration = :yes WHERE {declaration}"  # noqa: S608
    bind.execute(sa.text(update), {"yes": True})
    duplicates = (
        f"SELECT event_id, count(*) FROM event WHERE {_UNIQUE_WHERE} "  # noqa: S608
        "GROUP BY event_id HAVING count(*) > 1 ORDER BY event_id LIMIT 20"
    )
    duplicated = bind.execute(sa.text(duplicates)).all()
    if duplicated:
        named = ", ".join(f"{event_id} ({count} events)" for event_id, count in duplicated)
        raise RuntimeError(
            "cannot make eventIDs unique: different events already share these eventIDs: "
            f"{named}; resolve them (which event keeps the eventID) and migrate again"
        )
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.create_index(
            "uq_event_event_id",
            ["event_id"],
            unique=True,
            sqlite_where=sa.text(_UNIQUE_WHERE),
            postgresql_where=sa.text(_UNIQUE_WHERE),
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.drop_index("uq_event_event_id")
    # ALTER TABLE ... DROP COLUMN in place (SQLite >= 3.35 has it): a batch copy of ``event``
    # would drop the old table under the foreign keys of its identifier and outbox rows.
    op.execute("ALTER TABLE event DROP COLUMN error_declaration")
    op.execute("ALTER TABLE capture DROP COLUMN event_pks")
