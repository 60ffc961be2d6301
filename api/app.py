"""The app factory: ``create_app(settings) -> FastAPI`` and the module-level ``app`` for uvicorn.

``uvicorn api.app:app`` serves the default settings (``TRACECHAIN_*``). On startup the app
migrates the database, makes sure the consortium admin has an API key (printing a new one once),
starts the watcher that follows captures made elsewhere and recalls made on chain, and, unless
``TRACECHAIN_ANCHOR_WORKER_IN_API=false``, the anchor worker as a background task.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio.to_thread
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import background
from api.auth import announce_admin_key, bootstrap_admin_key
from api.capability import CapabilityUseLog, redact_access_logs
from api.fastpath import TrailReplay
from api.limits import BodyLimit
from api.openapi import document_common_answers
from api.overload import Admission, install_overload_handlers
from api.problems import PROBLEM_SCHEMA, install_problem_handlers
from api.routers import (
    batches,
    capture,
    disclosure,
    discovery,
    events,
    export,
    grants,
    handles,
    health,
    identifiers,
    links,
    members,
    problems,
    qr,
    resolver,
    trace,
)
from api.services import Services
from api.trail import TrailOut
from ledger.runtime import bound_recursion, tune_gc
from ledger.settings import Settings, get_settings
from ledger.store.db import migrate
from wallets.keystore import write_secret

log = logging.getLogger("tracechain.api")

API_VERSION = "1.0.0"

DESCRIPTION = """
tracechain records product-lifecycle events (GS1 EPCIS 2.0 / CBV 2.0) keyed by industrial
identifiers, anchors them on a permissioned EVM chain and lets anyone verify a product's trail.

* **Members** (consortium admin): admit, suspend, reinstate, assign identifier prefixes, API
  keys, signing-key rotation.
* **Capture** (recorder keys): EPCIS 2.0 REST binding `POST /capture` (JSON, JSON-LD, XML),
  `POST /events`, and the supplier shortcut `POST /batches`.
* **Query** (member keys): `GET /events` with EPCIS query parameters and `nextPageToken`.
* **Verification and resolution** (public): `GET /identifiers/{id}`, GS1 Digital Link
  resolver paths (`/01/{gtin}/10/{lot}`...), Handle resolver paths and the Handle REST API,
  QR codes and label sheets.

Every error is an RFC 9457 `application/problem+json` body whose `errors` name each field and
reason.
"""

TAGS: list[dict[str, Any]] = [
    {"name": "Members", "description": "Consortium membership (admin key)."},
    {"name": "Capture", "description": "EPCIS 2.0 capture (recorder keys)."},
    {"name": "Events", "description": "EPCIS 2.0 queries (member keys)."},
    {"name": "Identifiers", "description": "Trails, verification and recalls."},
    {"name": "Resolver", "description": "GS1 Digital Link and Handle resolution (public)."},
    {"name": "QR codes", "description": "QR codes and printable label sheets (public)."},
    {"name": "Access", "description": "Read grants between members and regulators' links."},
    {"name": "Operations", "description": "Health, readiness, metrics, problem types."},
]


class RequestMetricsMiddleware:
    """Times every request by route template (pure ASGI: no body buffering)."""

    def __init__(self, app: ASGIApp, services: Services) -> None:
        self.app = app
        self.services = services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            template = scope.get("route_template") or getattr(route, "path", None) or "unmatched"
            self.services.metrics.requests.labels(
                template, scope.get("method", ""), str(status)
            ).observe(time.perf_counter() - start)


def _openapi(app: FastAPI) -> Callable[[], dict[str, Any]]:
    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
                tags=TAGS,
            )
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components["Problem"] = PROBLEM_SCHEMA
            trail = TrailOut.model_json_schema(ref_template="#/components/schemas/{model}")
            components.update(trail.pop("$defs", {}))
            components["TrailOut"] = trail
            app.openapi_schema = document_common_answers(schema)
        return app.openapi_schema

    return build


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the tracechain API for ``settings`` (default: the environment's)."""
    settings = settings or get_settings()
    # web3's import of py_ecc raised the limit so far that a deeply nested JSON body would
    # overflow the C stack (SIGSEGV) instead of raising RecursionError (a 400 below).
    bound_recursion()
    services = Services(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Worker threads for the routes' blocking work: as many as requests admitted at once.
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.api.threads
        await asyncio.to_thread(_prepare_database, services)
        # Everything imported and built so far lives as long as the process: keep it out of
        # the garbage collector's full passes, which otherwise stall requests.
        gc.collect()
        gc.freeze()
        tune_gc(settings)
        tasks = background.start(services)
        try:
            yield
        finally:
            await background.stop(tasks)
            services.close()

    app = FastAPI(
        title="tracechain",
        version=API_VERSION,
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_tags=TAGS,
        redirect_slashes=False,
    )
    app.state.services = services
    services.metrics.watch_backlog(lambda: health.backlog(services))
    services.metrics.watch_caches(lambda: health.cache_stats(services))
    app.state.public_url = services.public_url
    install_problem_handlers(app)
    install_overload_handlers(app)
    for module in (
        health,
        problems,
        members,
        capture,
        events,
        discovery,
        batches,
        identifiers,
        qr,
        handles,
        trace,
        export,
        grants,
        links,
        disclosure,
    ):
        app.include_router(module.router)
    # Last: the resolver's catch-all paths (/{ai}/{value}..., /{handle prefix}/{suffix}).
    app.include_router(resolver.router)
    app.add_middleware(BodyLimit)
    # Inside the trail replay: a replayed trail needs no turn (no thread, no connection).
    app.add_middleware(
        Admission,
        limit=settings.api.threads,
        queue=settings.api.queue_size,
        timeout_s=settings.api.queue_timeout_s,
    )
    app.add_middleware(TrailReplay, services=services)
    # Outside the trail replay: a capability token comes off the URL before anything keys on
    # it, and its uses are logged.
    app.add_middleware(CapabilityUseLog, services=services)
    redact_access_logs()
    app.add_middleware(RequestMetricsMiddleware, services=services)
    app.openapi = _openapi(app)  # type: ignore[method-assign]
    return app


def _prepare_database(services: Services) -> None:
    migrate(services.engine)
    configured = services.settings.api.admin_key
    created = bootstrap_admin_key(
        services.engine, configured.get_secret_value() if configured else None
    )
    if created is not None:
        reveal_admin_key(created, services.settings.data_dir)


#: Where a new admin key is left when no terminal can show it (read it once, then delete it).
ADMIN_KEY_FILE = Path("keys") / "admin-api-key"


def reveal_admin_key(key: str, data_dir: Path) -> None:
    """Show a newly created admin API key once, never through a log: on the terminal when
    stderr is one, else in a 0600 file in the data dir (the log only names the file)."""
    if sys.stderr.isatty():
        announce_admin_key(key)
        return
    path = data_dir / ADMIN_KEY_FILE
    write_secret(path, key + "\n")
    log.warning(
        "created the consortium admin API key; no terminal to show it on, so it is in %s "
        "(mode 0600): read it once, store it safely (or set TRACECHAIN_ADMIN_API_KEY), then "
        "delete the file",
        path,
    )


class _LazyApp:
    """``api.app:app`` for uvicorn: the app is built on first use, not at import."""

    def __init__(self) -> None:
        self._app: FastAPI | None = None

    def _get(self) -> FastAPI:
        if self._app is None:
            self._app = create_app()
        return self._app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._get()(scope, receive, send)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._get(), name)


#: For ``uvicorn api.app:app``; built on first request/lifespan event.
app = _LazyApp()
