"""Busy is not broken: admission control, and a 503 + ``Retry-After`` whenever the service is
too busy, never a 500 and never after a 30-second wait.

* :class:`Admission` (pure ASGI, in front of the routes) lets at most ``limit`` requests in at
  once (``TRACECHAIN_API_THREADS``, the size of anyio's thread limiter, which the database pool
  is sized to: a request holds at most one worker thread and one connection at a time, so
  neither runs out). Up to ``queue`` more wait their turn, first come first served, for at most
  ``timeout_s``; any request beyond that is answered at once with 503 + ``Retry-After``. Health,
  readiness and metrics bypass it, so an orchestrator sees a busy service as alive.
* :func:`install_overload_handlers` maps the database's "busy" errors, in one place, to the same
  503 problem: SQLAlchemy's pool ``TimeoutError`` (no connection within
  ``TRACECHAIN_DB_POOL_TIMEOUT_S``) and ``OperationalError`` (SQLite's ``database is locked``
  after its busy timeout; PostgreSQL refusing or dropping connections).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Final

import sqlalchemy.exc as sa_exc
from fastapi import FastAPI, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from api.problems import ProblemError, problem_response

log = logging.getLogger("tracechain.api")

#: Paths that are never queued or shed (probes and metrics must answer while busy).
BYPASS: Final = frozenset({"/healthz", "/readyz", "/metrics"})
#: Seconds a client is told to wait before trying again.
RETRY_AFTER_S: Final = 1


def overloaded(detail: str, retry_after_s: int = RETRY_AFTER_S) -> ProblemError:
    """The 503 problem of a service too busy to serve a request now."""
    return ProblemError(
        503,
        "service-unavailable",
        detail,
        headers={"Retry-After": str(retry_after_s)},
        title="Service busy; try again shortly",
    )


class Admission:
    """ASGI middleware bounding the requests in progress and those waiting (see the module
    docstring)."""

    def __init__(self, app: ASGIApp, limit: int, queue: int, timeout_s: float) -> None:
        self.app = app
        self.limit = limit
        self.queue = queue
        self.timeout_s = timeout_s
        self.active = 0
        self.waiting = 0
        self.shed = 0
        self._turns: asyncio.Semaphore | None = None

    def _semaphore(self) -> asyncio.Semaphore:
        if self._turns is None:
            self._turns = asyncio.Semaphore(self.limit)
        return self._turns

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in BYPASS:
            await self.app(scope, receive, send)
            return
        turns = self._semaphore()
        if turns.locked():
            if self.waiting >= self.queue:
                await self._shed(scope, receive, send, "too many requests are waiting")
                return
            self.waiting += 1
            try:
                await asyncio.wait_for(turns.acquire(), self.timeout_s)
            except TimeoutError:
                await self._shed(scope, receive, send, "no turn within the admission timeout")
                return
            finally:
                self.waiting -= 1
        else:
            await turns.acquire()
        self.active += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.active -= 1
            turns.release()

    async def _shed(self, scope: Scope, receive: Receive, send: Send, why: str) -> None:
        self.shed += 1
        problem = overloaded(
            f"the service is busy ({why}: {self.active} in progress, {self.waiting} waiting)"
        )
        await problem_response(Request(scope), problem)(scope, receive, send)


def _busy_database(exc: sa_exc.OperationalError) -> bool:
    text = str(exc.orig or exc).lower()
    return "locked" in text or "busy" in text


def install_overload_handlers(app: FastAPI) -> None:
    """Answer the database's busy and unavailable errors with 503 + ``Retry-After``."""

    async def on_pool_timeout(request: Request, exc: Exception) -> Response:
        log.warning("%s %s: no database connection in time", request.method, request.url.path)
        return problem_response(request, overloaded("no database connection is free now"))

    async def on_operational(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, sa_exc.OperationalError)
        if _busy_database(exc):
            log.warning("%s %s: database busy: %s", request.method, request.url.path, exc.orig)
            return problem_response(request, overloaded("the database is busy"))
        log.error("%s %s: database unavailable", request.method, request.url.path, exc_info=exc)
        return problem_response(request, overloaded("the database is unavailable", 5))

    handlers: dict[type[Exception], Callable[[Request, Exception], Awaitable[Response]]] = {
        sa_exc.TimeoutError: on_pool_timeout,
        sa_exc.OperationalError: on_operational,
    }
    for kind, handler in handlers.items():
        app.add_exception_handler(kind, handler)
