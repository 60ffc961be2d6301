"""An error declaration is a record of its own: unique on (event_hash, error_declaration).

An error declaration (EPCIS 2.0 section 7.4.1.2) has the CBV 2.0 event hash of the event it
declares in error (the hash leaves ``errorDeclaration`` out), so with ``event_hash`` unique it
was taken for a re-capture of the event and dropped. The unique constraint
``uq_event_event_hash`` becomes ``uq_event_event_hash_error_declaration``: one event and one
error declaration of it per event hash. No row changes.

PostgreSQL swaps the constraint in place. SQLite cannot drop a table constraint, so ``event``
is rebuilt (SQLite's documented procedure: the new table from the stored ``CREATE TABLE`` with
only that constraint changed, rows copied, indexes re-created). The rebuild drops the old
table, and with foreign keys on (they are, and cannot be switched off inside the migration's
transaction) dropping it would cascade to ``event_identifier`` and be refused by ``outbox``: so
their rows are set aside in temporary tables first and put back after, unchanged.

The downgrade stops, naming them, when an event hash has both an event and an error
declaration (which record to drop is for their members to decide, not for a migration).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 15:40:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import sqlalchemy as sa
from alembic import op
from sqlalchemy.engine import Connection

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD: Final = ("uq_event_event_hash", ("event_hash",))
_NEW: Final = ("uq_event_event_hash_error_declaration", ("event_hash", "error_declaration"))
#: The tables whose rows reference ``event`` (set aside during SQLite's rebuild).
_CHILDREN: Final = ("event_identifier", "outbox")


def _clause(constraint: tuple[str, tuple[str, ...]]) -> str:
    """The constraint as SQLAlchemy writes it in SQLite's ``CREATE TABLE``."""
    name, columns = constraint
    return f"CONSTRAINT {name} UNIQUE ({', '.join(columns)})"


def _rebuild_sqlite(bind: Connection, old: str, new: str) -> None:
    """Rebuild ``event`` with the table constraint ``old`` replaced by ``new``."""
    create = bind.execute(
        sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'event'")
    ).scalar_one()
    if create.count(old) != 1:
        raise RuntimeError(f"the event table has no constraint {old!r}; not migrating")
    indexes = (
        bind.execute(
            sa.text(
                "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'event' "
                "AND sql IS NOT NULL ORDER BY name"
            )
        )
        .scalars()
        .all()
    )
    # Constant SQL (table names of this module), no input.
    for child in _CHILDREN:
        set_aside = f"CREATE TEMP TABLE _set_aside_{child} AS SELECT * FROM {child}"  # noqa: S608
        bind.execute(sa.text(set_aside))
        bind.execute(sa.text(f"DELETE FROM {child}"))  # noqa: S608
    rebuilt = create.replace('CREATE TABLE "event"', 'CREATE TABLE "event_0005"', 1)
    bind.execute(sa.text(rebuilt.replace(old, new)))
    bind.execute(sa.text('INSERT INTO "event_0005" SELECT * FROM "event"'))
    bind.execute(sa.text('DROP TABLE "event"'))
    bind.execute(sa.text('ALTER TABLE "event_0005" RENAME TO "event"'))
    for index in indexes:
        bind.execute(sa.text(index))
    for child in _CHILDREN:
        bind.execute(sa.text(f"INSERT INTO {child} SELECT * FROM _set_aside_{child}"))  # noqa: S608
        bind.execute(sa.text(f"DROP TABLE _set_aside_{child}"))


def _swap(old: tuple[str, tuple[str, ...]], new: tuple[str, tuple[str, ...]]) -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        _rebuild_sqlite(bind, _clause(old), _clause(new))
        return
    op.drop_constraint(old[0], "event", type_="unique")
    op.create_unique_constraint(new[0], "event", list(new[1]))


def upgrade() -> None:
    """Apply this revision."""
    _swap(_OLD, _NEW)


def downgrade() -> None:
    """Revert this revision."""
    shared = (
        op.get_bind()
        .execute(
            sa.text(
                "SELECT event_hash FROM event GROUP BY event_hash HAVING count(*) > 1 "
                "ORDER BY event_hash LIMIT 20"
            )
        )
        .scalars()
        .all()
    )
    if shared:
        raise RuntimeError(
            "cannot make event hashes unique again: these events and their error declarations "
            f"share an event hash: {', '.join(shared)}; remove one record of each and migrate "
            "again"
        )
    _swap(_NEW, _OLD)
