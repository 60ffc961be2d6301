"""Engines, sessions, transactions and migrations of the ledger's database.

SQLite (the default, a file in the data dir) runs in WAL mode with ``synchronous=FULL`` so
that a capture acknowledged to a client survives ``kill -9`` and power loss, with foreign keys
enforced and a busy timeout so that concurrent writers wait instead of failing. The driver's
own transaction handling is switched off and SQLAlchemy emits ``BEGIN`` itself, so a writing
transaction can ask for ``BEGIN IMMEDIATE`` (:func:`write_transaction`): it takes the write
lock up front and never fails half-way with ``database is locked``. Within one process the
writers of a SQLite file queue on a lock of their own before that (see :func:`write_transaction`).

PostgreSQL is reached through psycopg 3: a plain ``postgresql://`` or ``postgres://`` URL is
mapped to the ``postgresql+psycopg`` driver.

:func:`migrate` applies the Alembic migrations in ``ledger/store/migrations`` with a
configuration built in code (no ``alembic.ini`` at run time), serialised across processes.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from wallets.keystore import private_dir

__all__ = [
    "MIGRATIONS_DIR",
    "alembic_config",
    "create_private_file",
    "make_engine",
    "migrate",
    "normalise_url",
    "pool_options",
    "session_factory",
    "write_transaction",
]

#: The Alembic script directory (env.py and versions/).
MIGRATIONS_DIR: Final = Path(__file__).resolve().parent / "migrations"
#: How long a SQLite writer waits for the write lock before giving up (milliseconds).
SQLITE_BUSY_TIMEOUT_MS: Final = 30_000
#: Rows per multi-row INSERT on PostgreSQL (SQLAlchemy's insertmanyvalues page size).
POSTGRESQL_INSERT_PAGE: Final = 50
#: Execution option naming a connection whose transactions take SQLite's write lock at BEGIN.
_IMMEDIATE: Final = "tracechain_begin_immediate"
#: One lock per SQLite database (by URL) for this process's writing transactions.
_SQLITE_WRITERS: dict[str, threading.RLock] = {}
_SQLITE_WRITERS_GUARD: Final = threading.Lock()
#: Key of the PostgreSQL advisory lock held while migrating ("tracechain" in ASCII, truncated).
_MIGRATION_LOCK: Final = 0x7472616365636861


def normalise_url(url: str | URL) -> URL:
    """The SQLAlchemy URL to connect with: ``postgresql://`` / ``postgres://`` use psycopg 3."""
    parsed = make_url(url) if isinstance(url, str) else url
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _configure_sqlite(engine: Engine) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" hook below emit BEGIN, not the driver.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            _enable_wal(cursor)
            cursor.execute("PRAGMA synchronous = FULL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        immediate = connection.get_execution_options().get(_IMMEDIATE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _enable_wal(cursor: Any) -> None:
    """Switch to WAL. On a new file another connection may be creating the schema; switching
    the journal mode needs the file to itself and SQLite does not wait for that (no busy
    handler), so retry within the busy timeout."""
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def create_private_file(path: Path) -> None:
    """Create the SQLite file ``path`` (and its missing directories) readable by its owner
    only, unless it exists. SQLite gives the WAL and shared-memory files the database file's
    mode, so those are 0600 too."""
    if path.exists():
        return
    private_dir(path.parent)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        return  # another process created it meanwhile


def pool_options(url: str | URL, size: int, timeout_s: float) -> dict[str, Any]:
    """Keyword arguments of :func:`make_engine` for a pool of exactly ``size`` connections
    (no overflow) whose callers wait at most ``timeout_s`` for one (then SQLAlchemy raises its
    ``TimeoutError``). An in-memory SQLite database has no such pool (one connection)."""
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:"):
        return {}
    return {"pool_size": size, "max_overflow": 0, "pool_timeout": timeout_s}


def make_engine(url: str | URL, **kwargs: Any) -> Engine:
    """An engine for ``url`` (SQLite or PostgreSQL), configured for durable, concurrent use.

    Extra keyword arguments go to :func:`sqlalchemy.create_engine` (see :func:`pool_options`).
    A new SQLite file is created readable by its owner only (0600, with its WAL and shared-
    memory files), like the keystores beside it.
    """
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database not in (None, "", ":memory:") and not parsed.database.startswith(
            "file:"
        ):
            create_private_file(Path(parsed.database))
        connect_args = dict(kwargs.pop("connect_args", {}))
        connect_args.setdefault("timeout", SQLITE_BUSY_TIMEOUT_MS / 1000)
        connect_args.setdefault("check_same_thread", False)
        engine = sa.create_engine(parsed, connect_args=connect_args, **kwargs)
        _configure_sqlite(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    # Measured on capture: pages of ~50 rows beat SQLAlchemy's default of 1000 by 1.5-2x,
    # because PostgreSQL plans (and psycopg prepares) a mid-sized multi-row INSERT faster.
    kwargs.setdefault("insertmanyvalues_page_size", POSTGRESQL_INSERT_PAGE)
    return sa.create_engine(parsed, **kwargs)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """A factory of SQLModel sessions on ``engine`` whose objects stay usable after commit."""
    return sessionmaker(bind=engine, class_=Session, expire_on_commit=False)


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction meant to write: committed on success, rolled back on
    error. On SQLite it starts with ``BEGIN IMMEDIATE`` (the write lock, waiting up to the busy
    timeout), so it cannot fail later for want of the lock.

    On SQLite the process's writers of one database first queue on a lock of this process
    (held from ``BEGIN`` to the end of the transaction; no pooled connection is taken while
    waiting). SQLite's own busy handler sleeps between tries, up to 100 ms at a time, so
    concurrent writers of one process that met only there spent most of their time asleep
    while the lock was free (50 clients capturing: ~44 captures/s, p99 3.6 s); a thread lock
    hands over the moment it is released. Writers of other processes still meet on SQLite's
    lock. Waiting longer than the busy timeout raises SQLAlchemy's ``OperationalError``
    ("database is locked"), as SQLite would.
    """
    lock = _sqlite_writer_lock(engine)
    if lock is not None and not lock.acquire(timeout=SQLITE_BUSY_TIMEOUT_MS / 1000):
        raise sa_exc.OperationalError(
            "BEGIN IMMEDIATE", None, sqlite3.OperationalError("database is locked")
        )
    try:
        with engine.connect() as connection:
            connection = connection.execution_options(**{_IMMEDIATE: True})
            with connection.begin():
                yield connection
    finally:
        if lock is not None:
            lock.release()


def _sqlite_writer_lock(engine: Engine) -> threading.RLock | None:
    """The process's writer lock of ``engine``'s SQLite database (None on PostgreSQL)."""
    if engine.dialect.name != "sqlite":
        return None
    key = engine.url.render_as_string(hide_password=True)
    lock = _SQLITE_WRITERS.get(key)
    if lock is None:
        with _SQLITE_WRITERS_GUARD:
            lock = _SQLITE_WRITERS.setdefault(key, threading.RLock())
    return lock


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic configuration for our migrations, built in code (no alembic.ini).

    When ``connection`` is given, env.py runs the migrations on it.
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def migrate(target: str | URL | Engine, revision: str = "head") -> None:
    """Upgrade the database at ``target`` (a URL or an engine) to ``revision``.

    Safe to call from several processes at once: PostgreSQL serialises them on an advisory
    lock, SQLite on its write lock (``BEGIN IMMEDIATE``).
    """
    engine = target if isinstance(target, Engine) else make_engine(target)
    try:
        with write_transaction(engine) as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(
                    sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK}
                )
            command.upgrade(alembic_config(connection), revision)
    finally:
        if engine is not target:
            engine.dispose()
