"""Capture as the API does it: bounded body, validation, prefix checks, a durable commit.

Shared by ``POST /capture``, ``POST /events`` and ``POST /batches``. A capture is committed to
the database (and its events queued for anchoring in the same transaction) before the client
hears 202/201, so an acknowledged capture survives a crash.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from fastapi import Request

from api.auth import Principal
from api.permissions import check_commissioning
from api.problems import ProblemError, problem_from_ledger_error
from api.services import Services
from ledger.events import CapturedEvent, DocumentValidationError, parse_document
from ledger.store.capture import CaptureResult, capture_events, record_failed_capture
from ledger.store.indexing import index_identifier

JSON_TYPES: Final = ("application/json", "application/ld+json")
XML_TYPES: Final = ("application/xml", "text/xml")
EPCIS_HEADERS: Final = {"GS1-EPCIS-Version": "2.0.0", "GS1-CBV-Version": "2.0.0"}


def media_type(request: Request) -> str:
    """The request's media type, lower-case, without parameters."""
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def check_media_type(request: Request, allowed: Sequence[str]) -> str:
    """415 unless the body is one of ``allowed`` (``+json`` / ``+xml`` suffixes count)."""
    kind = media_type(request)
    ok = kind in allowed or (
        ("application/json" in allowed and kind.endswith("+json"))
        or ("application/xml" in allowed and kind.endswith("+xml"))
    )
    if not ok:
        raise ProblemError(
            415,
            "unsupported-media-type",
            f"send {', '.join(allowed)}, not {kind or 'no Content-Type'!r}",
            field="Content-Type",
        )
    return request.headers.get("content-type", kind)


def _too_large(limit: int) -> ProblemError:
    return ProblemError(
        413,
        "payload-too-large",
        f"the body is larger than {limit} bytes",
        field="body",
        headers={"GS1-EPCIS-Capture-File-Size-Limit": str(limit)},
    )


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing (413) anything over ``limit`` bytes without reading it all."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    size = 0
    chunks: list[bytes] = []
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    body = b"".join(chunks)
    if not body:
        raise ProblemError(400, "bad-request", "the body is empty", field="body")
    return body


@dataclass(frozen=True, slots=True)
class Captured:
    """An accepted capture and its events."""

    result: CaptureResult
    events: list[CapturedEvent]


def parse_events(
    services: Services, who: Principal, body: bytes, content_type: str
) -> list[CapturedEvent]:
    """Validate a capture body; a rejected body is recorded as a failed capture job."""
    assert who.organisation_id is not None
    try:
        events = parse_document(body, content_type)
    except DocumentValidationError as exc:
        services.metrics.captures.labels("rejected").inc()
        capture_id = record_failed_capture(
            services.engine, organisation_id=who.organisation_id, errors=exc.errors
        )
        problem = problem_from_ledger_error(exc)
        problem.extra["captureID"] = capture_id
        problem.headers["Location"] = f"/capture/{capture_id}"
        raise problem from None
    limit = services.settings.max_capture_events
    if len(events) > limit:
        services.metrics.captures.labels("too-large").inc()
        raise ProblemError(
            413,
            "capture-limit-exceeded",
            f"the document holds {len(events)} events, at most {limit} per capture",
            field="epcisBody.eventList",
            headers={"GS1-EPCIS-Capture-Limit": str(limit)},
        )
    return events


def store_events(
    services: Services, who: Principal, events: list[CapturedEvent], *, path: str
) -> Captured:
    """Check prefix ownership, then commit the events (all or nothing) and queue them for
    anchoring; invalidate the cached trails they touch.

    ``path`` is the JSON path of the event list (``epcisBody.eventList``) or ``$`` for a single
    event; errors name fields under it. An event whose eventID names another event raises
    :class:`~ledger.store.capture.DuplicateEventIDError` (409)."""
    assert who.organisation_id is not None
    check_commissioning(services.engine, who.organisation_id, events, path=path)
    result = capture_events(
        services.engine, events, organisation_id=who.organisation_id, events_path=path
    )
    services.captured_here([record.event_pk for record in result.events if record.new])
    services.metrics.captures.labels("accepted").inc()
    new = result.new_count
    services.metrics.captured_events.labels("true").inc(new)
    services.metrics.captured_events.labels("false").inc(len(events) - new)
    touched: set[str] = set()
    for event in events:
        for _, value in event.identifiers:
            indexed = index_identifier(value)
            touched.add(indexed.canonical)
            if indexed.class_canonical:
                touched.add(indexed.class_canonical)
    services.trails.invalidate(touched)
    return Captured(result, events)
