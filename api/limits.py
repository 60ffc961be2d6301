"""A request-body limit for every endpoint that is not a capture endpoint (those enforce the
larger capture limit themselves, with the EPCIS REST binding's headers).

JSON bodies of members, batches and recalls are small; anything larger than ``limit`` bytes is
refused with a 413 problem: at once when ``Content-Length`` says so, else as soon as the
streamed body passes the limit (the body is read here, at most ``limit`` bytes of it).
"""

from __future__ import annotations

from typing import Final

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import ProblemError, problem_response

#: Endpoints that read (and limit) their bodies themselves.
CAPTURE_PATHS: Final = frozenset({"/capture", "/events"})
DEFAULT_LIMIT: Final = 1024 * 1024


def too_large(limit: int) -> ProblemError:
    """The 413 problem for a body over ``limit`` bytes."""
    return ProblemError(
        413, "payload-too-large", f"the body is larger than {limit} bytes", field="body"
    )


class BodyLimit:
    """ASGI middleware refusing request bodies over ``limit`` bytes (see the module doc)."""

    def __init__(self, app: ASGIApp, limit: int = DEFAULT_LIMIT) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] in ("GET", "HEAD", "OPTIONS")
            or scope["path"] in CAPTURE_PATHS
        ):
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                response = problem_response(Request(scope), too_large(self.limit))
                await response(scope, receive, send)
                return
        # Small bodies: read them here (up to the limit), then hand them to the app whole.
        chunks: list[bytes] = []
        seen = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([message], receive), send)
                return
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > self.limit:
                response = problem_response(Request(scope), too_large(self.limit))
                await response(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        whole: Message = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        await self.app(scope, _replay([whole], receive), send)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A receive channel giving ``messages`` first, then the client's own."""
    pending = list(messages)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed
