"""Capability links at the edge: the token comes off the URL, and every use is logged.

A regulator opens ``{public_url}/events?access=tcl_...`` (or sends ``Authorization: Bearer
tcl_...``). :class:`CapabilityUseLog`, a pure-ASGI layer in front of the app:

- takes the ``access`` parameter off the query string before anything else sees it (routes
  validate their own parameters, caches key on the query, logs print it), and hands it to the
  viewer dependencies through the request's state (:data:`ACCESS_STATE`);
- asks for a fresh answer (``Cache-Control: no-cache``) when a capability token is presented,
  so that no cached answer is replayed past the token's check;
- logs the use (link, method, path with query, client address, status) once the dependency
  that checked the token (:func:`api.auth.capability_reader`) has noted its link and the
  answer's status is known, before the answer leaves.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Final
from urllib.parse import unquote_plus

import anyio.to_thread
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import CAPABILITY_STATE
from api.services import Services
from ledger.access import LINK_PREFIX, record_link_use

__all__ = [
    "ACCESS_STATE",
    "AccessTokenRedaction",
    "CapabilityUseLog",
    "redact_access_logs",
    "take_access",
]

#: The request state key holding the token taken off the URL.
ACCESS_STATE: Final = "access_token"
_PARAMETER: Final = "access"
_MAX_PATH: Final = 2000


def take_access(query: bytes) -> tuple[bytes, str | None]:
    """The query string without its ``access`` parameters, and the first one's value."""
    if b"access" not in query:
        return query, None
    kept: list[bytes] = []
    token: str | None = None
    for part in query.split(b"&"):
        name, _, value = part.partition(b"=")
        if unquote_plus(name.decode("latin-1")) == _PARAMETER:
            if token is None:
                token = unquote_plus(value.decode("latin-1"))
            continue
        kept.append(part)
    return b"&".join(kept), token


#: An ``access`` query parameter's value in a logged URL.
_ACCESS_IN_URL: Final = re.compile(r"(?<=[?&]access=)[^&\s\"']*")
#: Loggers that print request URLs (uvicorn's access log; its error log names the URL of a
#: request that failed).
_URL_LOGGERS: Final = ("uvicorn.access", "uvicorn.error")


def _redacted(value: object) -> object:
    if isinstance(value, str) and "access=" in value:
        return _ACCESS_IN_URL.sub("[redacted]", value)
    return value


class AccessTokenRedaction(logging.Filter):
    """Redacts ``access=`` capability tokens from logged URLs: a server's access log prints
    each request line as received, before any middleware takes the token off the URL."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_redacted(arg) for arg in record.args)
        elif isinstance(record.args, dict):
            record.args = {key: _redacted(arg) for key, arg in record.args.items()}
        if isinstance(record.msg, str):
            record.msg = _redacted(record.msg)
        return True


def redact_access_logs() -> None:
    """Install :class:`AccessTokenRedaction` on the loggers that print URLs (once)."""
    for name in _URL_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, AccessTokenRedaction) for f in logger.filters):
            logger.addFilter(AccessTokenRedaction())


def _presents_token(scope: Scope) -> bool:
    prefix = f"bearer {LINK_PREFIX}".encode()
    return any(
        name == b"authorization" and value[: len(prefix)].lower() == prefix
        for name, value in scope["headers"]
    )


class CapabilityUseLog:
    """ASGI middleware for capability links (see the module docstring)."""

    def __init__(self, app: ASGIApp, services: Services) -> None:
        self.app = app
        self.services = services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query, token = take_access(scope.get("query_string", b""))
        if token is None and not _presents_token(scope):
            await self.app(scope, receive, send)
            return
        state: dict[str, Any] = scope.setdefault("state", {})
        headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"cache-control"]
        headers.append((b"cache-control", b"no-cache"))
        scope = {**scope, "query_string": query, "headers": headers, "state": state}
        if token is not None:
            state[ACCESS_STATE] = token
        path = scope["path"] + (f"?{query.decode('latin-1')}" if query else "")
        client = scope.get("client")
        address = str(client[0]) if client else None
        method = str(scope["method"])

        async def logged(message: Message) -> None:
            if message["type"] == "http.response.start":
                link_id = state.get(CAPABILITY_STATE)
                if link_id is not None:
                    await anyio.to_thread.run_sync(
                        lambda: record_link_use(
                            self.services.engine,
                            str(link_id),
                            method=method,
                            path=path[:_MAX_PATH],
                            client=address,
                            status=int(message["status"]),
                        )
                    )
            await send(message)

        await self.app(scope, receive, logged)
