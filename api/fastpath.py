"""Replaying cached trails without routing: a pure-ASGI layer in front of the app.

When the app answers a trail from the trail cache or stores one in it, it tags the response with
a private header naming the cache entry (identifier and variant). This layer keeps that answer
under the request's key (path, query, ``Accept``, ``Accept-Language``) and replays it for the
same request for as long as the trail cache still holds the very same entry (same ETag): a
capture touching the identifier, a recall or the entry's expiry ends the replay at once, since
the trail cache is the only authority. A replayed answer costs no routing, no validation and no
rendering; ``If-None-Match`` is honoured with a 304.

Only answers to requests without credentials (no ``Authorization``, no ``X-API-Key``) are
kept and replayed: a trail depends on who reads it, the app tags only the public view, and a
request presenting a key always goes to the app.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Final
from urllib.parse import quote, unquote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.cache import wants_fresh
from api.services import Services

#: The private header by which the app marks a cacheable trail answer (never sent out).
CACHE_TAG: Final = b"x-tracechain-trail-cache"
_MAX_ENTRIES: Final = 20_000
_MAX_KEY: Final = 4096


@dataclass(frozen=True, slots=True)
class _Replay:
    canonical: str
    variant: str
    etag: bytes
    status: int
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes


def cache_tag(canonical: str, variant: str) -> str:
    """The value of :data:`CACHE_TAG` for a trail cache entry (ASCII)."""
    return f"{quote(canonical, safe='')}|{quote(variant, safe='')}"


#: Request headers that make a caller other than the public (see the module docstring).
_CREDENTIALS: Final = frozenset({b"authorization", b"x-api-key"})


def _has_credentials(scope: Scope) -> bool:
    return any(key.lower() in _CREDENTIALS for key, _ in scope["headers"])


def _header(scope: Scope, name: bytes) -> bytes:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return b""


class TrailReplay:
    """ASGI middleware replaying cached trail answers (see the module docstring)."""

    def __init__(self, app: ASGIApp, services: Services) -> None:
        self.app = app
        self.services = services
        self._entries: OrderedDict[tuple[bytes, ...], _Replay] = OrderedDict()
        self._lock = threading.Lock()
        self.replayed = 0

    def _key(self, scope: Scope) -> tuple[bytes, ...] | None:
        raw = scope.get("raw_path") or scope["path"].encode()
        query = scope.get("query_string", b"")
        accept = _header(scope, b"accept")
        language = _header(scope, b"accept-language")
        if len(raw) + len(query) + len(accept) + len(language) > _MAX_KEY:
            return None
        return (bytes(raw), bytes(query), accept, language)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in ("GET", "HEAD")
            or _has_credentials(scope)
        ):
            await self.app(scope, receive, send)
            return
        key = self._key(scope)
        if key is None:
            await self.app(scope, receive, send)
            return
        replay = None if wants_fresh(scope["headers"]) else self._entries.get(key)
        if replay is not None:
            current = self.services.trails.get(replay.canonical, replay.variant)
            if current is not None and current.etag.encode() == replay.etag:
                await self._replay(scope, send, replay)
                return
            with self._lock:
                self._entries.pop(key, None)
        await self.app(scope, receive, self._recorder(scope, key, send))

    async def _replay(self, scope: Scope, send: Send, replay: _Replay) -> None:
        self.replayed += 1
        scope["route_template"] = "trail-replay"
        if _header(scope, b"if-none-match") == replay.etag:
            headers = [(k, v) for k, v in replay.headers if k != b"content-length"]
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        await send(
            {"type": "http.response.start", "status": replay.status, "headers": replay.headers}
        )
        body = b"" if scope["method"] == "HEAD" else replay.body
        await send({"type": "http.response.body", "body": body})

    def _recorder(self, scope: Scope, key: tuple[bytes, ...], send: Send) -> Send:
        start: Message | None = None
        tag: bytes | None = None
        chunks: list[bytes] = []

        async def record(message: Message) -> None:
            nonlocal start, tag
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                kept = [(k, v) for k, v in headers if k.lower() != CACHE_TAG]
                if len(kept) != len(headers):
                    tag = next(v for k, v in headers if k.lower() == CACHE_TAG)
                    message = {**message, "headers": kept}
                start = message
            elif message["type"] == "http.response.body" and tag is not None and start:
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    self._store(key, start, tag, b"".join(chunks))
            await send(message)

        return record

    def _store(self, key: tuple[bytes, ...], start: Message, tag: bytes, body: bytes) -> None:
        if start["status"] != 200 or key[0] == b"":
            return
        canonical, _, variant = (unquote(part) for part in tag.decode("latin-1").partition("|"))
        headers = tuple((bytes(k), bytes(v)) for k, v in start["headers"])
        etag = next((v for k, v in headers if k.lower() == b"etag"), b"")
        replay = _Replay(canonical, variant, etag, 200, headers, body)
        with self._lock:
            self._entries[key] = replay
            self._entries.move_to_end(key)
            while len(self._entries) > _MAX_ENTRIES:
                self._entries.popitem(last=False)
