"""Fixtures of the API tests: the real app on the session devnet, called through httpx's ASGI
transport (with its lifespan), and members admitted through the API (the EPCIS builders they
capture are in :mod:`tests.helpers`)."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import anyio.from_thread
import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from api.app import create_app
from api.services import Services
from devnet.launcher import Devnet
from ledger.anchoring import AnchorConfig, AnchorWorker
from ledger.settings import Settings
from tests.helpers import gln, gtin, moment, unique_prefix

PUBLIC_URL = "http://tracechain.test"
ADMIN_KEY = "tc_a1b2c3d4e5f6_" + "s" * 43
#: Light scrypt for the members' test keys.
KEY_WORK_FACTOR = 1 << 10

_rng = random.Random()


class Api:
    """A synchronous face of ``httpx.AsyncClient(transport=ASGITransport(app))``: the app's
    lifespan runs in a blocking portal's event loop, as under uvicorn."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.services: Services = app.state.services
        self._portal_cm: AbstractContextManager[Any] = anyio.from_thread.start_blocking_portal()
        self.portal = self._portal_cm.__enter__()
        self._lifespan = app.router.lifespan_context(app)
        self.portal.call(self._lifespan.__aenter__)
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=PUBLIC_URL, timeout=60
        )

    def request(
        self, method: str, url: str, *, key: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        """Send a request (with ``key`` as a bearer token when given)."""
        headers = dict(kwargs.pop("headers", None) or {})
        if key is not None:
            headers["Authorization"] = f"Bearer {key}"
        call = partial(self.client.request, method, url, headers=headers, **kwargs)
        response: httpx.Response = self.portal.call(call)
        return response

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        """GET."""
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        """POST."""
        return self.request("POST", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        """DELETE."""
        return self.request("DELETE", url, **kwargs)

    def drain(self) -> int:
        """Anchor every pending event now, with a real anchor worker on the app's database."""
        s = self.services
        worker = AnchorWorker(s.engine, s.chain, s.deployment(), s.keyring, AnchorConfig())
        return worker.drain(timeout=60)

    def close(self) -> None:
        """Stop the app (its lifespan) and the portal."""
        self.portal.call(self.client.aclose)
        self.portal.call(self._lifespan.__aexit__, None, None, None)
        self._portal_cm.__exit__(None, None, None)


def app_settings(
    devnet: Devnet,
    database_url: str,
    *,
    worker: bool = False,
    public_url: str = PUBLIC_URL,
    **changes: Any,
) -> Settings:
    """Settings of an app on the session devnet with its own database, then ``changes`` as
    :meth:`Settings.updated` takes them (``api={"threads": 2}``, ``data_dir=...``)."""
    settings = devnet.settings.updated(
        database={"url": database_url},
        keystore_work_factor=KEY_WORK_FACTOR,
        anchoring={"worker_in_api": worker, "batch_max_wait_s": 0.2},
        api={"admin_key": SecretStr(ADMIN_KEY), "recall_poll_seconds": 0.2},
        public_url=public_url,
    )
    return settings.updated(**changes)


@pytest.fixture(scope="session")
def make_api(
    devnet: Devnet, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., Api]]:
    """Build apps on the session devnet (each with a fresh SQLite database unless given one);
    all are closed at the end of the session."""
    made: list[Api] = []

    def make(database_url: str | None = None, *, worker: bool = False, **changes: Any) -> Api:
        if database_url is None:
            folder = tmp_path_factory.mktemp("api")
            database_url = f"sqlite:///{folder / 'tracechain.sqlite3'}"
        client = Api(create_app(app_settings(devnet, database_url, worker=worker, **changes)))
        made.append(client)
        return client

    yield make
    for client in reversed(made):
        client.close()


@pytest.fixture(scope="session")
def api(make_api: Callable[..., Api]) -> Api:
    """The app most tests share (anchoring done on demand with :meth:`Api.drain`)."""
    return make_api()


@dataclass(frozen=True)
class Member:
    """A member admitted through the API, with its keys."""

    org_id: str
    name: str
    prefix: str
    recorder_key: str | None
    auditor_key: str | None

    @property
    def key(self) -> str:
        """The recorder key (or the auditor key of an auditor-only member)."""
        key = self.recorder_key or self.auditor_key
        assert key is not None
        return key


def admit(
    api: Api,
    name: str,
    *,
    roles: tuple[str, ...] = ("recorder",),
    prefixes: tuple[str, ...] | None = None,
) -> Member:
    """Admit a member (unique name), assign it a fresh prefix, create one key per role."""
    prefix = unique_prefix()
    unique = f"{name} {prefix} {datetime.now(UTC).timestamp()}"
    body = {"name": unique, "roles": list(roles), "prefixes": list(prefixes or (prefix,))}
    answer = api.post("/members", json=body, key=ADMIN_KEY)
    assert answer.status_code == 201, answer.text
    org_id = answer.json()["org_id"]
    keys: dict[str, str] = {}
    for role in roles:
        created = api.post(f"/members/{org_id}/api-keys", json={"role": role}, key=ADMIN_KEY)
        assert created.status_code == 201, created.text
        keys[role] = created.json()["key"]
    return Member(org_id, unique, prefix, keys.get("recorder"), keys.get("auditor"))


@pytest.fixture(scope="session")
def supplier(api: Api) -> Member:
    """A manufacturer with its own GS1 company prefix."""
    return admit(api, "Shanghai Pharma Co")


@pytest.fixture(scope="session")
def distributor(api: Api) -> Member:
    """A distributor (a recorder with a prefix of its own)."""
    return admit(api, "Guangzhou Logistics")


@pytest.fixture(scope="session")
def auditor(api: Api) -> Member:
    """An auditor (reads everything, records nothing)."""
    return admit(api, "Audit Bureau", roles=("auditor",))


def capture(api: Api, key: str, doc: dict[str, Any]) -> httpx.Response:
    """POST /capture of a JSON document."""
    return api.post(
        "/capture",
        content=json.dumps(doc),
        headers={"Content-Type": "application/ld+json"},
        key=key,
    )


def new_batch(
    api: Api, member: Member, *, item: int = 1, lot: str | None = None, **fields: Any
) -> dict[str, Any]:
    """Commission a lot of ``member`` through POST /batches; the answer's JSON."""
    body = {
        "gtin": gtin(member.prefix, item),
        "lot": lot or f"L{_rng.randrange(10**8):08d}",
        "quantity": 1200,
        "production_date": "2026-01-05",
        "expiry_date": "2028-01-05",
        "site_gln": gln(member.prefix),
        "event_time": moment(),
        **fields,
    }
    answer = api.post("/batches", json=body, key=member.key)
    assert answer.status_code == 201, answer.text
    result: dict[str, Any] = answer.json()
    return result


def event_list(query_document: dict[str, Any]) -> list[dict[str, Any]]:
    """The events of an EPCISQueryDocument."""
    events: list[dict[str, Any]] = query_document["epcisBody"]["queryResults"]["resultsBody"][
        "eventList"
    ]
    return events


def path_of(url: str) -> str:
    """The path (and query) of a URL on the test host."""
    assert url.startswith(PUBLIC_URL), url
    return url[len(PUBLIC_URL) :] or "/"


TEST_OUTPUT = Path(__file__).resolve().parents[2] / "test-output"
