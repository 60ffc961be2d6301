"""Alembic environment of the ledger store.

Run through :func:`ledger.store.db.migrate`, which hands over a connection in
``config.attributes["connection"]``. Without one (the ``alembic`` command line, for writing a
new revision) it connects to ``sqlalchemy.url`` from the configuration or, failing that, to
the configured database (:attr:`ledger.settings.Settings.effective_database_url`).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from ledger.store.models import metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations() -> None:
    """Run the migrations on the handed-over connection, or on a fresh one."""
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    from ledger.settings import get_settings
    from ledger.store.db import make_engine

    url = context.config.get_main_option("sqlalchemy.url") or get_settings().effective_database_url
    engine = make_engine(url)
    try:
        with engine.connect() as fresh:
            _run(fresh)
            fresh.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("the ledger store's migrations run online only")
run_migrations()
