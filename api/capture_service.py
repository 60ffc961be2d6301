"""The HTTP side of capture: media types, bounded bodies, metrics, trail-cache invalidation and
the problem headers of a refused capture.

Everything else (validation, the capture limit, prefix checks, the durable commit) is
:func:`ledger.capture.capture_document`, the path the CLI takes too. Shared by
``POST /capture``, ``POST /events``, ``POST /batches`` and recalls. A capture is committed to the
database (and its events queued for anchoring in the same transaction) before the client hears
202/201, so an acknowledged capture survives a crash.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Final

from fastapi import Request

from api.auth import Principal
from api.problems import ProblemError, problem_from_ledger_error
from api.services import Services
from ledger.capture import Captured, FailedCaptureError, capture_document, read_document
from ledger.errors import InvalidInputError, TooManyEventsError
from ledger.events import CapturedEvent
from ledger.store.indexing import index_identifier
from ledger.store.repository import normalise_org_id
from ledger.visibility import Visibility, parse_visibility

JSON_TYPES: Final = ("application/json", "application/ld+json")
XML_TYPES: Final = ("application/xml", "text/xml")
EPCIS_HEADERS: Final = {"GS1-EPCIS-Version": "2.0.0", "GS1-CBV-Version": "2.0.0"}
#: The request header choosing a capture's visibility (as the ``visibility`` parameter).
VISIBILITY_HEADER: Final = "GS1-Visibility"
#: The request header naming readers of a capture's events (as repeated ``reader`` parameters).
READERS_HEADER: Final = "GS1-Readers"


@dataclass(frozen=True, slots=True)
class AudienceChoice:
    """What a capture request says about who may read its events."""

    #: The visibility chosen (``None``: the member's default).
    visibility: Visibility | None = None
    #: Members named readers (on-chain organisation ids, lower-case), in order, once each.
    readers: tuple[str, ...] = ()


def audience_choice(
    *,
    header: str | None,
    parameters: Sequence[str],
    readers: Sequence[str],
    readers_header: str | None,
) -> AudienceChoice:
    """The audience a capture request chooses: its visibility from the ``GS1-Visibility``
    header and/or ``visibility`` parameters (which must agree), its readers from repeated
    ``reader`` parameters and the comma-separated ``GS1-Readers`` header (both count).

    Raises:
        InvalidInputError: an unknown visibility, choices that disagree, or a reader that is
            not an organisation id (0x and 64 hex digits), naming the header or parameter.
    """
    chosen: dict[Visibility, str] = {}
    if header is not None and header.strip():
        chosen.setdefault(parse_visibility(header, field=VISIBILITY_HEADER), VISIBILITY_HEADER)
    for value in parameters:
        chosen.setdefault(parse_visibility(value, field="visibility"), "visibility")
    if len(chosen) > 1:
        said = ", ".join(f"{where}={mode.value}" for mode, where in chosen.items())
        raise InvalidInputError(
            f"the capture chooses more than one visibility ({said}): choose one",
            field="visibility",
        )
    named: dict[str, None] = {}
    sources = [("reader", value) for value in readers]
    if readers_header:
        sources += [(READERS_HEADER, part) for part in readers_header.split(",")]
    for where, value in sources:
        try:
            named[normalise_org_id(value.strip())] = None
        except InvalidInputError:
            raise InvalidInputError(
                f"{value.strip()!r} is not an organisation id (0x and 64 hex digits)", field=where
            ) from None
    return AudienceChoice(next(iter(chosen), None), tuple(named))


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


@contextmanager
def _refusals(services: Services) -> Iterator[None]:
    """Count refused captures and add what the REST binding says of them to their problems:
    a rejected body's capture job (``captureID``, ``Location``), the capture limit."""
    try:
        yield
    except FailedCaptureError as exc:
        services.metrics.captures.labels("rejected").inc()
        problem = problem_from_ledger_error(exc)
        problem.extra["captureID"] = exc.capture_id
        problem.headers["Location"] = f"/capture/{exc.capture_id}"
        raise problem from None
    except TooManyEventsError as exc:
        services.metrics.captures.labels("too-large").inc()
        problem = problem_from_ledger_error(exc)
        problem.headers["GS1-EPCIS-Capture-Limit"] = str(exc.limit)
        raise problem from None


def parse_events(
    services: Services, who: Principal, body: bytes, content_type: str
) -> list[CapturedEvent]:
    """Validate a capture body without storing it (a rejected body is recorded as a failed
    capture job); see :func:`ledger.capture.read_document`."""
    with _refusals(services):
        return read_document(
            services.engine,
            body,
            content_type,
            organisation_id=who.member_id,
            max_events=services.settings.api.max_capture_events,
        )


def capture_body(
    services: Services,
    who: Principal,
    body: bytes,
    content_type: str,
    *,
    single_event: bool = False,
    audience: AudienceChoice | None = None,
) -> Captured:
    """Capture a body for the caller's member (:func:`ledger.capture.capture_document`) with
    the ``audience`` the request chose (default: the member's default visibility), count it
    and invalidate the cached trails its events touch.

    With ``single_event`` the body must be one event (errors name fields under ``$``); else
    :class:`ledger.capture.NotSingleEventError`."""
    with _refusals(services):
        captured = capture_document(
            services.engine,
            body,
            content_type,
            organisation_id=who.member_id,
            max_events=services.settings.api.max_capture_events,
            single_event=single_event,
            visibility=None if audience is None else audience.visibility,
            readers=() if audience is None else audience.readers,
        )
    result, events = captured.result, captured.events
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
    return captured
