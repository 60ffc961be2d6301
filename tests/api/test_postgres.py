"""The capture and query flow once more, on PostgreSQL (a fresh database per run)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from urllib.parse import quote

import psycopg
import pytest
from sqlalchemy.engine import make_url

from api.app import create_app
from devnet.launcher import Devnet
from tests.api.conftest import Api, admit, app_settings, capture, event_list, new_batch, path_of
from tests.helpers import document, object_event

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def pg_api(devnet: Devnet, test_database_url: str) -> Iterator[Api]:
    """An app on a fresh PostgreSQL database, dropped afterwards."""
    server = make_url(test_database_url)
    admin_dsn = server.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"tracechain_api_{uuid.uuid4().hex[:12]}"
    try:
        with psycopg.connect(admin_dsn, autocommit=True, connect_timeout=5) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL at {test_database_url} is required (see README): {exc}")
    url = server.set(database=name).render_as_string(hide_password=False)
    client = Api(create_app(app_settings(devnet, url)))
    try:
        yield client
    finally:
        client.close()
        with psycopg.connect(admin_dsn, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_capture_and_query_on_postgres(pg_api: Api) -> None:
    """Capture (JSON document and /batches), anchor, query with pagination, verify."""
    assert pg_api.services.engine.dialect.name == "postgresql"
    member = admit(pg_api, "Postgres Dairy")
    batch = new_batch(pg_api, member)
    lot = batch["identifier"]
    doc = document(*(object_event(classes=[lot], biz_step="storing", disposition="in_progress")
                     for _ in range(5)))  # fmt: skip
    answer = capture(pg_api, member.key, doc)
    assert answer.status_code == 202, answer.text
    again = capture(pg_api, member.key, doc)  # idempotent: stored once
    assert again.status_code == 202
    assert pg_api.drain() == 6
    seen = 0
    url: str | None = f"/events?MATCH_anyEPCClass={quote(lot, safe='')}&perPage=2"
    pages = 0
    while url:
        page = pg_api.get(url, key=member.key)
        assert page.status_code == 200, page.text
        seen += len(event_list(page.json()))
        pages += 1
        link = page.headers.get("Link")
        url = path_of(link[1 : link.index(">")]) if link else None
    assert (seen, pages) == (6, 3)
    trail = pg_api.get(path_of(batch["digital_link"])).json()
    assert trail["verdict"] == "verified"
    assert len(trail["events"]) == 6
    job = pg_api.get(answer.headers["Location"], key=member.key).json()
    assert job["success"] is True
    assert job["eventCount"] == 5
