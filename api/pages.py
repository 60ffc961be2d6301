"""Serving trails: negotiation between the buyer's page and JSON, languages, ETags.

A trail is served for its reader (:mod:`ledger.visibility`): the public and the operator's
views come from the trail cache (:func:`api.cache.cached_view`), and only the public one is
marked for replay by :class:`api.fastpath.TrailReplay` (which replays answers only to requests
without credentials); any other view is verified for each request."""

from __future__ import annotations

import asyncio

from fastapi import Request, Response
from fastapi.concurrency import run_in_threadpool

from api import i18n
from api.cache import CachedTrail, cached_view, trail_variant, wants_fresh
from api.fastpath import CACHE_TAG, cache_tag
from api.negotiation import best_match
from api.problems import ProblemError
from api.services import Services
from api.trail import Format, render
from ledger.identifiers import Identifier
from ledger.visibility import Reader

HTML = "text/html"
JSON = "application/json"


def choose_format(request: Request, explicit: str | None) -> Format:
    """``json`` or ``html``: the ``format`` parameter, else the Accept header (JSON unless
    the client prefers HTML, as a phone's browser does)."""
    if explicit in ("json", "html"):
        return "json" if explicit == "json" else "html"
    if explicit is not None:
        raise ProblemError(400, "bad-request", "format is json or html", field="format")
    chosen = best_match(request.headers.get("accept"), (JSON, HTML, "application/ld+json"))
    if chosen is None:
        raise ProblemError(
            406, "not-acceptable", "this resource is application/json or text/html",
            field="Accept",
        )  # fmt: skip
    return "html" if chosen == HTML else "json"


_inflight: dict[tuple[int, str, str], asyncio.Future[CachedTrail]] = {}
#: Trails rendered at once (per event loop): verification is CPU and chain bound, and threads
#: beyond the cores only fight over the GIL (ten at once take four times as long as in turn).
RENDER_CONCURRENCY = 2
_render_slots: dict[int, asyncio.Semaphore] = {}


def _slots() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    slots = _render_slots.get(id(loop))
    if slots is None:
        slots = _render_slots[id(loop)] = asyncio.Semaphore(RENDER_CONCURRENCY)
    return slots


async def _single_flight(
    services: Services,
    identifier: Identifier,
    text: str,
    fmt: Format,
    lang: str,
    variant: str | None,
    *,
    reader: Reader,
    fresh: bool = False,
) -> CachedTrail:
    """Render a trail once however many requests for the same view of it arrive while it is
    being rendered (requests for a fresh verification share only a fresh rendering; a view
    that is not cached, ``variant`` None, is rendered for each request)."""
    if variant is None:
        async with _slots():
            return await run_in_threadpool(
                render, services, identifier, text, fmt, lang, reader=reader, fresh=True
            )
    key = (id(services), identifier.canonical, variant + (":fresh" if fresh else ""))
    running = _inflight.get(key)
    if running is not None:
        return await asyncio.shield(running)
    future: asyncio.Future[CachedTrail] = asyncio.get_running_loop().create_future()
    _inflight[key] = future
    try:
        async with _slots():
            result = await run_in_threadpool(
                render, services, identifier, text, fmt, lang, reader=reader, fresh=fresh
            )
    except BaseException as exc:
        future.set_exception(exc)
        future.exception()  # retrieved: waiters re-raise it, nobody logs it as lost
        raise
    else:
        future.set_result(result)
        return result
    finally:
        del _inflight[key]


def _respond(request: Request, trail: CachedTrail, *, public: bool) -> Response:
    """The trail (or a 304): shared caches may keep only the public view, and every view
    varies with the credentials."""
    headers = {
        "ETag": trail.etag,
        "Cache-Control": "no-cache" if public else "private, no-cache",
        "Vary": "Accept, Accept-Language, Authorization, X-API-Key",
        **dict(trail.headers),
    }
    if request.headers.get("if-none-match") == trail.etag:
        return Response(status_code=304, headers=headers)
    return Response(trail.body, media_type=trail.media_type, headers=headers)


async def serve_trail(
    request: Request,
    services: Services,
    identifier: Identifier,
    text: str,
    fmt: Format,
    lang: str | None,
    *,
    reader: Reader,
    extra_headers: dict[str, str] | None = None,
) -> Response:
    """The trail of ``identifier`` as ``fmt``, as ``reader`` may read it; a cached trail is
    answered without leaving the event loop, unless the request says ``Cache-Control:
    no-cache`` (then it is verified afresh, and the fresh rendering replaces the cached
    one)."""
    language = i18n.negotiate(lang, request.headers.get("accept-language"))
    klass = identifier.class_identifier()
    view = cached_view(reader)
    variant = (
        None
        if view is None
        else trail_variant(view, fmt, language, klass.canonical if klass else None)
    )
    fresh = wants_fresh(request.scope["headers"])
    cached = (
        None if fresh or variant is None else services.trails.get(identifier.canonical, variant)
    )
    if cached is None:
        cached = await _single_flight(
            services, identifier, text, fmt, language, variant, reader=reader, fresh=fresh
        )
    response = _respond(request, cached, public=view == "public")
    if extra_headers:
        response.headers.update(extra_headers)
    if (
        view == "public"
        and variant is not None
        and services.trails.peek(identifier.canonical, variant) is cached
    ):
        response.headers[CACHE_TAG.decode()] = cache_tag(identifier.canonical, variant)
    return response
