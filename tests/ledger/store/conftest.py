"""Fixtures of the store's suite: every test that takes ``engine`` runs on SQLite AND on
PostgreSQL.

PostgreSQL: one fresh database per test session (``tracechain_store_<random>``) on the server
named by ``test_database_url``, dropped at the end; never skipped (a server that is down makes
these tests error). SQLite: a file in the session's temp dir. Each test gets the migrated
database emptied.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from psycopg import sql
from sqlalchemy.engine import Engine, make_url

from ledger.store.db import make_engine, migrate
from ledger.store.models import Organisation, OrgRole, metadata
from ledger.store.repository import create_organisation

BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(scope="session")
def pg_databases(test_database_url: str) -> Iterator[Callable[[], str]]:
    """A factory of fresh, empty PostgreSQL databases; all are dropped at session end."""
    admin_url = make_url(test_database_url).set(drivername="postgresql")
    admin_dsn = admin_url.render_as_string(hide_password=False)
    created: list[str] = []

    def create() -> str:
        name = f"tracechain_store_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(admin_dsn, autocommit=True) as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        created.append(name)
        return admin_url.set(database=name).render_as_string(hide_password=False)

    yield create
    with psycopg.connect(admin_dsn, autocommit=True) as connection:
        for name in created:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture(scope="session")
def database_url(
    pg_databases: Callable[[], str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[[str], str]:
    """A factory of URLs of fresh, empty databases of a back end."""

    def fresh(backend: str) -> str:
        if backend == "sqlite":
            return f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'ledger.sqlite3'}"
        return pg_databases()

    return fresh


@pytest.fixture(scope="session", params=BACKENDS)
def migrated_engine(
    request: pytest.FixtureRequest, database_url: Callable[[str], str]
) -> Iterator[Engine]:
    """One migrated database per back end, shared by the session (emptied per test)."""
    engine = make_engine(database_url(request.param), pool_size=12, max_overflow=4)
    migrate(engine)
    yield engine
    engine.dispose()


def empty_database(engine: Engine) -> None:
    """Delete every row of the store's tables (and reset PostgreSQL's sequences)."""
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            names = ", ".join(table.name for table in metadata.sorted_tables)
            connection.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(metadata.sorted_tables):
                connection.execute(table.delete())


@pytest.fixture
def engine(migrated_engine: Engine) -> Engine:
    """The back end's migrated database, empty."""
    empty_database(migrated_engine)
    return migrated_engine


@pytest.fixture
def org(engine: Engine) -> int:
    """A recorder organisation in the empty database; its row id."""
    organisation: Organisation = create_organisation(
        engine, org_id="0x" + "ab" * 32, name="Acme Foods", roles=OrgRole.RECORDER
    )
    assert organisation.id is not None
    return organisation.id


@pytest.fixture
def sqlite_file(tmp_path: Path) -> str:
    """A URL of a fresh SQLite file."""
    return f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
