"""Engines, migrations and durability."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine
from sqlalchemy.exc import StatementError

from ledger.settings import REPO_ROOT
from ledger.store.db import (
    alembic_config,
    make_engine,
    migrate,
    normalise_url,
    pool_options,
    write_transaction,
)
from ledger.store.models import Organisation, metadata
from tests.ledger.store.conftest import BACKENDS

_ORGANISATION: sa.Table = Organisation.__table__  # type: ignore[attr-defined]


def org_row(byte: str, created_at: datetime) -> dict[str, object]:
    """An ``organisation`` row."""
    return {
        "org_id": "0x" + byte * 32,
        "name": f"org {byte}",
        "roles": 1,
        "active": True,
        "created_at": created_at,
    }


def schema_diff(engine: Engine) -> list[object]:
    """Alembic's differences between the database's schema and the models' metadata."""
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))


@pytest.mark.parametrize("backend", BACKENDS)
def test_migrated_schema_equals_the_models(
    backend: str, database_url: Callable[[str], str]
) -> None:
    engine = make_engine(database_url(backend))
    try:
        migrate(engine)
        assert schema_diff(engine) == []
        # The comparison does see a difference when there is one.
        with engine.begin() as connection:
            connection.execute(sa.text("DROP INDEX ix_event_identifier_id_key"))
        assert schema_diff(engine) != []
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
def test_migrations_downgrade_and_upgrade_again(
    backend: str, database_url: Callable[[str], str]
) -> None:
    engine = make_engine(database_url(backend))
    try:
        migrate(engine)
        with write_transaction(engine) as connection:
            command.downgrade(alembic_config(connection), "base")
        assert set(sa.inspect(engine).get_table_names()) == {"alembic_version"}
        migrate(engine)
        assert schema_diff(engine) == []
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
def test_concurrent_migrations_apply_once(backend: str, database_url: Callable[[str], str]) -> None:
    url = database_url(backend)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            migrate(url)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            versions = connection.execute(sa.text("SELECT version_num FROM alembic_version")).all()
        assert versions == [(ScriptDirectory.from_config(alembic_config()).get_current_head(),)]
        assert schema_diff(engine) == []
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("postgresql://postgres@127.0.0.1:5432/test", "postgresql+psycopg"),
        ("postgres://u:p@db.example/ledger", "postgresql+psycopg"),
        ("postgresql+psycopg://u@h/d", "postgresql+psycopg"),
        ("sqlite:///tmp/x.sqlite3", "sqlite"),
    ],
)
def test_urls(url: str, driver: str) -> None:
    assert normalise_url(url).drivername == driver


def test_postgresql_engine_uses_psycopg_3(test_database_url: str) -> None:
    engine = make_engine(test_database_url)
    try:
        assert engine.dialect.driver == "psycopg"
        with engine.connect() as connection:
            assert connection.execute(sa.text("SELECT 1")).scalar_one() == 1
    finally:
        engine.dispose()


def test_sqlite_connection_settings(sqlite_file: str) -> None:
    engine = make_engine(sqlite_file)
    try:
        for _ in range(2):  # a pooled connection and a fresh one
            with engine.connect() as connection:
                pragma = {
                    name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()
                    for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
                }
                assert pragma == {
                    "journal_mode": "wal",
                    "synchronous": 2,  # FULL
                    "foreign_keys": 1,
                    "busy_timeout": 30_000,
                }
            engine.dispose()
    finally:
        engine.dispose()


def test_sqlite_writers_wait_for_each_other(sqlite_file: str) -> None:
    """BEGIN IMMEDIATE plus the busy timeout: a second writer waits instead of failing."""
    engine = make_engine(sqlite_file)
    migrate(engine)
    holding = threading.Event()
    finished: list[float] = []

    def first() -> None:
        with write_transaction(engine) as connection:
            connection.execute(
                sa.insert(_ORGANISATION),
                org_row("01", datetime.now(UTC)),
            )
            holding.set()
            time.sleep(0.3)
        finished.append(time.monotonic())

    thread = threading.Thread(target=first)
    thread.start()
    assert holding.wait(10)
    with write_transaction(engine) as connection:
        connection.execute(
            sa.insert(_ORGANISATION),
            org_row("02", datetime.now(UTC)),
        )
        started_writing = time.monotonic()
    thread.join()
    assert finished
    assert started_writing >= finished[0]
    with engine.connect() as connection:
        assert (
            connection.execute(sa.select(sa.func.count()).select_from(_ORGANISATION)).scalar() == 2
        )
    engine.dispose()


def test_a_process_writers_queue_before_sqlite_sees_them(sqlite_file: str) -> None:
    """Writers of one process queue on the process's lock, never in SQLite's busy handler: with
    SQLite's busy timeout set to 0 (any contention there fails at once with "database is
    locked"), eight threads writing at the same moment, each holding the write lock a while,
    all commit."""
    engine = make_engine(sqlite_file)
    migrate(engine)

    @sa.event.listens_for(engine, "connect")
    def _no_busy_wait(dbapi_connection: object, _record: object) -> None:
        dbapi_connection.execute("PRAGMA busy_timeout = 0")  # type: ignore[attr-defined]

    engine.dispose()  # reconnect with the listener
    start = threading.Barrier(8)
    errors: list[BaseException] = []

    def writer(number: int) -> None:
        start.wait()
        try:
            with write_transaction(engine) as connection:
                connection.execute(
                    sa.insert(_ORGANISATION), org_row(f"{number:02x}", datetime.now(UTC))
                )
                time.sleep(0.02)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 0
        count = connection.execute(sa.select(sa.func.count()).select_from(_ORGANISATION))
        assert count.scalar() == 8
    engine.dispose()


def test_write_transaction_rolls_back_on_error(engine: Engine) -> None:
    def insert_then_fail() -> None:
        with write_transaction(engine) as connection:
            connection.execute(sa.insert(_ORGANISATION), org_row("03", datetime.now(UTC)))
            raise RuntimeError("abort")

    with pytest.raises(RuntimeError, match="abort"):
        insert_then_fail()
    with engine.connect() as connection:
        assert (
            connection.execute(sa.select(sa.func.count()).select_from(_ORGANISATION)).scalar() == 0
        )


def test_datetimes_are_stored_in_utc(engine: Engine) -> None:
    local = datetime(2024, 5, 1, 12, 30, 15, 123456, tzinfo=timezone(timedelta(hours=-7)))
    with engine.begin() as connection:
        connection.execute(
            sa.insert(_ORGANISATION),
            org_row("04", local),
        )
        stored = connection.execute(sa.select(_ORGANISATION.c.created_at)).scalar_one()
        later = connection.execute(
            sa.select(sa.func.count()).where(_ORGANISATION.c.created_at > local)
        ).scalar_one()
    assert stored == local
    assert stored.tzinfo is UTC
    assert stored.hour == 19
    assert later == 0
    with pytest.raises(StatementError, match="aware"), engine.begin() as connection:
        connection.execute(
            sa.insert(_ORGANISATION),
            org_row("05", datetime(2024, 1, 1)),
        )


CRASH_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from ledger.events import parse_document
    from ledger.store.capture import capture_events
    from ledger.store.db import make_engine, migrate
    from ledger.store.repository import create_organisation
    from tests.helpers import document_bytes
    from tests.ledger.store.documents import mixed_events

    engine = make_engine(sys.argv[1])
    migrate(engine)
    org = create_organisation(engine, org_id="0x" + "07" * 32, name="o", roles=1)
    events = parse_document(document_bytes(*mixed_events(200)), "application/ld+json")
    result = capture_events(engine, events, organisation_id=org.id)
    print(result.new_count, flush=True)
    time.sleep(60)
    """
)


def test_acknowledged_capture_survives_kill_9(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crash.sqlite3'}"
    process = subprocess.Popen(
        [sys.executable, "-c", CRASH_SCRIPT, url],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        acknowledged = process.stdout.readline().strip()
    finally:
        process.kill()  # SIGKILL: no clean shutdown, no checkpoint
        process.wait(timeout=30)
    assert acknowledged == "200"
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            count = connection.execute(sa.text("SELECT count(*) FROM event")).scalar_one()
            outbox = connection.execute(sa.text("SELECT count(*) FROM outbox")).scalar_one()
        assert (count, outbox) == (200, 200)
    finally:
        engine.dispose()


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_sqlite_database_is_private(tmp_path: Path) -> None:
    """Issue 11 (10): the database file and its WAL and shared-memory files are 0600 and a
    directory made for them 0700, even under a permissive umask (like the keystores)."""
    database = tmp_path / "fresh" / "data" / "tracechain.sqlite3"
    previous = os.umask(0o022)
    try:
        engine = make_engine(f"sqlite:///{database}")
        try:
            migrate(engine)
            with write_transaction(engine) as connection:
                connection.execute(sa.text("CREATE TABLE probe (x INTEGER)"))
            with engine.connect() as connection:  # WAL and -shm exist while connected
                connection.execute(sa.text("SELECT count(*) FROM probe")).scalar_one()
                files = [
                    database,
                    *(database.with_name(database.name + s) for s in ("-wal", "-shm")),
                ]
                assert all(f.exists() for f in files), files
                assert {f.name: oct(_mode(f)) for f in files} == {f.name: "0o600" for f in files}
        finally:
            engine.dispose()
    finally:
        os.umask(previous)
    assert oct(_mode(database.parent)) == "0o700"
    assert oct(_mode(database.parent.parent)) == "0o700"


@pytest.mark.parametrize("backend", BACKENDS)
def test_pool_is_bounded_and_times_out_quickly(
    backend: str, database_url: Callable[[str], str]
) -> None:
    """Issue 11 (2): the pool holds exactly the connections it is sized for, and a caller
    that finds none free gets SQLAlchemy's TimeoutError after the short pool timeout (which
    the API answers with 503), not after 30 s."""
    url = database_url(backend)
    engine = make_engine(url, **pool_options(url, 2, 0.2))
    held = [engine.connect(), engine.connect()]
    try:
        started = time.monotonic()
        with pytest.raises(sa.exc.TimeoutError):
            engine.connect()
        assert time.monotonic() - started < 5
        held.pop().close()
        with engine.connect() as connection:
            assert connection.execute(sa.text("SELECT 1")).scalar_one() == 1
    finally:
        for connection in held:
            connection.close()
        engine.dispose()


def test_pool_options_of_an_in_memory_database() -> None:
    """An in-memory SQLite database has one connection and no pool to size."""
    assert pool_options("sqlite://", 10, 1.0) == {}
    assert pool_options("sqlite:////tmp/x.sqlite3", 10, 1.0) == {
        "pool_size": 10,
        "max_overflow": 0,
        "pool_timeout": 1.0,
    }
