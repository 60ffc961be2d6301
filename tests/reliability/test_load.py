"""Busy is not broken (issue 11, defect 2): ~15 concurrent captures exhausted the database pool
(each request held the connection of its API-key lookup while its capture took another) and
requests answered 500 after 30 s.

* a request holds at most one connection at a time (the root cause, counted on the real pool);
* a pool that is out of connections gives 503 + ``Retry-After`` after the short pool timeout;
* admission control: requests beyond the admitted ones wait in a bounded queue for a bounded
  time, the rest get 503 + ``Retry-After`` at once;
* the real uvicorn server on a real devnet under 50 clients (cold trail pages, hot trail pages,
  captures): no 5xx other than 503 + ``Retry-After``, no acknowledged event missing, bounded
  memory growth. Figures are printed (``bench/loadrun.py`` reports them), never asserted.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from api import auth
from api.app import create_app
from api.auth import authenticate, split_key
from api.overload import Admission
from api.services import BACKGROUND_CONNECTIONS
from bench.loadrun import run_load
from devnet.launcher import Devnet
from ledger.store.db import make_engine, write_transaction
from tests.api.conftest import Api, Member, admit, app_settings, capture, new_batch
from tests.helpers import document, gln, gtin, object_event

THREADS = 2


@pytest.fixture(scope="module")
def small_api(devnet: Devnet, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """An app admitting two requests at once, one more waiting up to 1 s, a pool timeout of
    0.3 s, and a watcher that polls once (so the pool sees only the requests)."""
    folder = tmp_path_factory.mktemp("small-api")
    settings = app_settings(
        devnet,
        f"sqlite:///{folder / 'tracechain.sqlite3'}",
        api={
            "threads": THREADS,
            "queue_size": 1,
            "queue_timeout_s": 1.0,
            "recall_poll_seconds": 3600,
        },
        database={"pool_timeout_s": 0.3},
    )
    api = Api(create_app(settings))
    yield api
    api.close()


@pytest.fixture(scope="module")
def recorder(small_api: Api) -> Member:
    """A member with a recorder key and a prefix."""
    return admit(small_api, "Load Test Foods")


def admission(api: Api) -> Admission:
    """The app's admission middleware."""
    node: Any = api.app.middleware_stack
    while node is not None:
        if isinstance(node, Admission):
            return node
        node = getattr(node, "app", None)
    raise AssertionError("no Admission middleware in the app")


class PoolWatch:
    """Counts the connections checked out of an engine's pool, and the most at once."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.out = 0
        self.peak = 0
        self._lock = threading.Lock()

    def __enter__(self) -> PoolWatch:
        sa.event.listen(self.engine, "checkout", self._checkout)
        sa.event.listen(self.engine, "checkin", self._checkin)
        return self

    def __exit__(self, *_: object) -> None:
        sa.event.remove(self.engine, "checkout", self._checkout)
        sa.event.remove(self.engine, "checkin", self._checkin)

    def _checkout(self, *_: object) -> None:
        with self._lock:
            self.out += 1
            self.peak = max(self.peak, self.out)

    def _checkin(self, *_: object) -> None:
        with self._lock:
            self.out -= 1


def test_a_request_holds_one_connection_at_a_time(small_api: Api, recorder: Member) -> None:
    """The root cause: the API-key lookup kept its session (and connection) for the whole
    request, so a capture held two connections and 15 concurrent captures took all 15."""
    lot = new_batch(small_api, recorder)["identifier"]
    requests = [
        lambda: capture(small_api, recorder.key, document(object_event(classes=[lot]))),
        lambda: small_api.post(
            "/batches",
            json={
                "gtin": gtin(recorder.prefix, 7),
                "lot": "ONE-CONNECTION",
                "quantity": 5,
                "site_gln": gln(recorder.prefix),
            },
            key=recorder.key,
        ),
        lambda: small_api.get("/capture", key=recorder.key),
        lambda: small_api.get(f"/members/{recorder.org_id}/api-keys", key=recorder.key),
        lambda: small_api.get("/events", params={"perPage": 5}, key=recorder.key),
        lambda: small_api.get("/me", key=recorder.key),
    ]
    for send in requests:
        with PoolWatch(small_api.services.engine) as watch:
            answer = send()
        assert answer.status_code < 500, answer.text
        assert watch.peak == 1, (answer.request.method, answer.request.url.path, watch.peak)
        assert watch.out == 0


def test_key_lookup_survives_a_concurrent_writer(small_api: Api, recorder: Member) -> None:
    """The key lookup notes when a key was last used (at most once a minute). It read the key
    and then wrote in the same SQLite transaction; when another writer (a capture, the anchor
    worker) committed in between, SQLite refused at once with "database is locked". Here
    another connection commits right before that write."""
    engine = small_api.services.engine
    other = make_engine(small_api.services.settings.effective_database_url)
    interleaved: list[str] = []

    def write_elsewhere_first(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE API_KEY") and not interleaved:
            with write_transaction(other) as connection:
                connection.execute(sa.text("INSERT INTO load_probe (x) VALUES (1)"))
            interleaved.append(statement)

    with write_transaction(other) as connection:
        connection.execute(sa.text("CREATE TABLE IF NOT EXISTS load_probe (x INTEGER)"))
    key_id = split_key(recorder.key)
    assert key_id is not None
    auth._last_touch.pop(key_id, None)  # due for its "last used" note
    sa.event.listen(engine, "before_cursor_execute", write_elsewhere_first)
    try:
        with small_api.services.sessions() as session:
            who = authenticate(session, recorder.key)
    finally:
        sa.event.remove(engine, "before_cursor_execute", write_elsewhere_first)
        other.dispose()
    assert interleaved, "the key's last use was not written"
    assert who.org_id == recorder.org_id


def test_no_free_connection_is_a_prompt_503(small_api: Api, recorder: Member) -> None:
    """When every pooled connection is taken, a request waits the pool timeout (0.3 s here),
    then gets 503 + Retry-After as problem+json; never a 500 after 30 s."""
    engine = small_api.services.engine
    held = [engine.connect() for _ in range(THREADS + BACKGROUND_CONNECTIONS)]
    try:
        started = time.monotonic()
        answer = small_api.get("/me", key=recorder.key)
        waited = time.monotonic() - started
    finally:
        for connection in held:
            connection.close()
    assert answer.status_code == 503, answer.text
    assert answer.headers["retry-after"].isdigit()
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["status"] == 503
    assert waited < 10
    assert small_api.get("/me", key=recorder.key).status_code == 200


def test_requests_beyond_the_queue_are_shed_at_once(small_api: Api, recorder: Member) -> None:
    """Two captures in progress (the write lock is held elsewhere), one request waiting: the
    next is answered 503 + Retry-After at once, the waiting one after the queue timeout, and
    the captures complete once the lock is free."""
    lot = new_batch(small_api, recorder)["identifier"]
    gate = admission(small_api)
    locker = make_engine(small_api.services.settings.effective_database_url)
    try:
        with ThreadPoolExecutor(4) as pool:
            with write_transaction(locker):
                captures = [
                    pool.submit(
                        capture, small_api, recorder.key, document(object_event(classes=[lot]))
                    )
                    for _ in range(THREADS)
                ]
                deadline = time.monotonic() + 30
                while gate.active < THREADS:
                    assert time.monotonic() < deadline, "the captures never started"
                    time.sleep(0.01)
                waiting = pool.submit(small_api.get, "/me", key=recorder.key)
                while gate.waiting < 1:
                    assert time.monotonic() < deadline, "the third request never queued"
                    time.sleep(0.01)
                started = time.monotonic()
                shed = small_api.get("/me", key=recorder.key)
                assert time.monotonic() - started < 0.9  # before the queue timeout
                queued = waiting.result(timeout=30)
            results = [c.result(timeout=60) for c in captures]
    finally:
        locker.dispose()
    for answer in (shed, queued):
        assert answer.status_code == 503, answer.text
        assert answer.headers["retry-after"].isdigit()
        assert answer.headers["content-type"] == "application/problem+json"
    assert [r.status_code for r in results] == [202] * THREADS, [r.text for r in results]
    assert small_api.get("/healthz").status_code == 200


@pytest.mark.slow
def test_fifty_clients_on_the_real_server(tmp_path: Path) -> None:
    """50 clients for 12 s on uvicorn + devnet (cold pages, hot pages, captures)."""
    figures = run_load(clients=50, duration_s=12.0, cold_lots=2_000, hot_lots=10)
    print(json.dumps({k: v for k, v in figures.items() if k != "error_samples"}, indent=1))
    assert figures["errors_5xx"] == 0, figures["error_samples"]
    for kind in ("cold", "hot", "capture"):
        assert figures[kind]["requests"] > 0, kind
    assert figures["acknowledged_events"] > 0
    assert figures["missing_events"] == 0
    growth_mb = figures["rss_after_mb"] - figures["rss_before_mb"]
    assert growth_mb < 256, f"the server grew by {growth_mb} MB"
