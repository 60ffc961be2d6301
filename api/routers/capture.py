"""EPCIS 2.0 capture, shaped like GS1's REST binding: ``POST /capture``, ``GET /capture[/{id}]``
and the single-event ``POST /events``."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Annotated, Any, Final
from urllib.parse import quote

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from api.auth import Principal
from api.capture_service import (
    EPCIS_HEADERS,
    JSON_TYPES,
    READERS_HEADER,
    VISIBILITY_HEADER,
    XML_TYPES,
    AudienceChoice,
    audience_choice,
    capture_body,
    check_media_type,
    read_body,
)
from api.deps import RecorderDep, ServicesDep, SessionDep, SignedInViewerDep
from api.problems import TITLES, ProblemError, problem_responses, title_of
from api.routers.discovery import discovery_headers, discovery_responses
from api.schemas import CaptureErrorOut, CaptureJobOut
from api.services import Services
from ledger.capture import Captured, NotSingleEventError
from ledger.store.jobs import CaptureJob, get_capture_job, list_capture_jobs
from ledger.visibility import Visibility

router = APIRouter(tags=["Capture"])

_EPCIS_BODY: Final[dict[str, Any]] = {
    "required": True,
    "content": {
        "application/json": {"schema": {"type": "object"}},
        "application/ld+json": {"schema": {"type": "object"}},
        "application/xml": {"schema": {"type": "string"}},
    },
}
_EVENT_BODY: Final[dict[str, Any]] = {
    "required": True,
    "content": {
        "application/json": {"schema": {"type": "object"}},
        "application/ld+json": {"schema": {"type": "object"}},
    },
}


_MODES: Final = [mode.value for mode in Visibility]
_MODES_TEXT: Final = (
    "`private` (the recording member only), `restricted` (also the members named as readers "
    "and as owning/possessing parties), `linked` (also the members that recorded events about "
    "the same items, their lots or aggregation/transformation neighbours) or `public` (every "
    "member; buyers see the public projection)"
)


def capture_audience(
    visibility_header: Annotated[
        str | None,
        Header(
            alias=VISIBILITY_HEADER,
            description=f"Who may read the captured events: {_MODES_TEXT}. Default: the "
            "member's default visibility (`linked` unless changed). Same as the `visibility` "
            "parameter; when both are given they must agree (else 422).",
            json_schema_extra={"enum": _MODES},
        ),
    ] = None,
    visibility: Annotated[
        list[str] | None,
        Query(
            description=f"Who may read the captured events: {_MODES_TEXT} (as the "
            f"`{VISIBILITY_HEADER}` header).",
            json_schema_extra={"items": {"type": "string", "enum": _MODES}},
        ),
    ] = None,
    reader: Annotated[
        list[str] | None,
        Query(
            description="A member (its on-chain organisation id, 0x and 64 hex digits) that "
            "may read the captured events besides the recorder (`restricted` and `linked`); "
            "repeat it for several.",
        ),
    ] = None,
    readers_header: Annotated[
        str | None,
        Header(
            alias=READERS_HEADER,
            description="Members that may read the captured events, comma-separated "
            "organisation ids (added to the `reader` parameters).",
        ),
    ] = None,
) -> AudienceChoice:
    """Who may read what this request captures (bad values: 422 naming the header or
    parameter)."""
    return audience_choice(
        header=visibility_header,
        parameters=visibility or [],
        readers=reader or [],
        readers_header=readers_header,
    )


AudienceDep = Annotated[AudienceChoice, Depends(capture_audience)]


def _job(job: CaptureJob, public_url: str) -> CaptureJobOut:
    """The REST binding's capture job, listing its events' eventIDs."""
    errors = [
        CaptureErrorOut(
            type=f"{public_url}/problems/{e.problem or 'invalid-input'}",
            title=TITLES.get(str(e.problem), title_of(e.problem or "")),
            status=400,
            detail=e.reason,
            field=e.field,
        )
        for e in job.errors
    ]
    return CaptureJobOut(
        captureID=job.id,
        createdAt=job.created_at,
        finishedAt=job.created_at,
        running=False,
        success=job.accepted,
        errors=errors,
        eventCount=job.event_count,
        eventIDs=list(job.event_ids),
        visibility=None if job.visibility is None else Visibility(job.visibility),
    )


_CAPTURE_ALLOW: Final = ("OPTIONS", "GET", "POST")
_LIMIT_SCHEMA: Final = {"type": "integer", "minimum": 1}


@router.options(
    "/capture",
    status_code=204,
    response_class=Response,
    summary="Capture interface settings",
    responses=discovery_responses(
        {
            "GS1-EPCIS-Capture-Limit": ("Most events in one capture.", _LIMIT_SCHEMA),
            "GS1-EPCIS-Capture-File-Size-Limit": ("Largest body in bytes.", _LIMIT_SCHEMA),
            "GS1-Capture-Error-Behaviour": (
                "Only rollback: all events or none.",
                {"type": "string", "enum": ["rollback"]},
            ),
            "Accept-Post": ("The media types POST takes.", {"type": "string"}),
        }
    ),
)
def capture_options(request: Request, services: ServicesDep) -> Response:
    """Limits and behaviour of ``POST /capture`` in the REST binding's discovery headers."""
    headers = {
        **discovery_headers(request, _CAPTURE_ALLOW),
        "GS1-EPCIS-Capture-Limit": str(services.settings.api.max_capture_events),
        "GS1-EPCIS-Capture-File-Size-Limit": str(services.settings.api.max_body_bytes),
        "GS1-Capture-Error-Behaviour": "rollback",
        "Accept-Post": ", ".join((*JSON_TYPES, *XML_TYPES)),
    }
    return Response(status_code=204, headers=headers)


@router.post(
    "/capture",
    status_code=202,
    response_model=CaptureJobOut,
    summary="Capture an EPCIS document (JSON, JSON-LD or XML)",
    openapi_extra={"requestBody": _EPCIS_BODY},
    responses={
        202: {
            "description": "Accepted and committed; the capture job URL is in Location.",
            "headers": {"Location": {"schema": {"type": "string"}}},
        },
        **problem_responses(400, 401, 403, 409, 413, 415, 422, 503),
    },
)
async def capture(
    request: Request,
    services: ServicesDep,
    who: RecorderDep,
    audience: AudienceDep,
    behaviour: Annotated[
        str | None,
        Header(
            alias="GS1-Capture-Error-Behaviour",
            description="Only `rollback` (all or nothing) is supported.",
        ),
    ] = None,
) -> Response:
    """Validate the whole document (EPCISDocument, EPCISQueryDocument or one event), check that
    the member owns the prefixes of what it commissions, and commit every event (with its
    anchoring queue entry) in one transaction before answering 202 with the capture job in
    ``Location``. Events captured before are stored once (idempotent); an event whose
    ``eventID`` already names a different event (in the document or the ledger) is refused
    with 409 and nothing is stored, unless it is an error declaration of that event.

    Who may read the events is chosen with the ``GS1-Visibility`` header (or ``visibility``
    parameter) and the ``reader`` parameters (or ``GS1-Readers`` header); the capture job
    says which visibility its events got."""
    if behaviour not in (None, "rollback"):
        raise ProblemError(
            400,
            "bad-request",
            "only the rollback capture error behaviour is supported",
            field="GS1-Capture-Error-Behaviour",
        )
    content_type = check_media_type(request, (*JSON_TYPES, *XML_TYPES))
    body = await read_body(request, services.settings.api.max_body_bytes)
    captured, chosen = await run_in_threadpool(
        _capture, services, who, body, content_type, audience
    )
    result = captured.result
    job = CaptureJobOut(
        captureID=result.capture_id,
        createdAt=result.record_time,
        finishedAt=result.record_time,
        running=False,
        success=True,
        eventCount=len(result.events),
        eventIDs=result.event_ids,
        visibility=chosen if result.new_count else None,
    )
    return JSONResponse(
        job.model_dump(mode="json"),
        status_code=202,
        headers={**EPCIS_HEADERS, "Location": f"/capture/{result.capture_id}"},
    )


def _capture(
    services: Services,
    who: Principal,
    body: bytes,
    content_type: str,
    chosen: AudienceChoice,
    *,
    single_event: bool = False,
) -> tuple[Captured, Visibility]:
    """Capture a body with the audience chosen (the member's default visibility when none);
    the capture and the visibility its new events got."""
    captured = capture_body(
        services, who, body, content_type, single_event=single_event, audience=chosen
    )
    return captured, captured.audience.visibility


@router.get(
    "/capture/{capture_id}",
    response_model=CaptureJobOut,
    summary="A capture job",
    responses=problem_responses(400, 401, 403, 404),
)
def capture_job(
    capture_id: str,
    session: SessionDep,
    services: ServicesDep,
    viewer: SignedInViewerDep,
    response: Response,
) -> CaptureJobOut:
    """The state of a capture job: a member's keys see their own member's jobs (another
    member's job is a 404, as one that does not exist), listing the eventIDs of the events
    the member may read; the consortium admin and the operator's auditors see every job
    whole."""
    response.headers.update(EPCIS_HEADERS)
    job = get_capture_job(session, capture_id, reader=viewer)
    if job is None:
        raise ProblemError(404, "not-found", f"no capture job {capture_id}", field="captureID")
    return _job(job, services.public_url)


def _page_token(created_at: datetime, capture_id: str) -> str:
    raw = json.dumps([created_at.isoformat(), capture_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _read_token(token: str) -> tuple[datetime, str]:
    try:
        padded = token + "=" * (-len(token) % 4)
        created, capture_id = json.loads(base64.urlsafe_b64decode(padded))
        return datetime.fromisoformat(created), str(capture_id)
    except (ValueError, TypeError, binascii.Error):
        raise ProblemError(
            400, "invalid-page-token", "nextPageToken is not one this server gave",
            field="nextPageToken",
        ) from None  # fmt: skip


@router.get(
    "/capture",
    response_model=list[CaptureJobOut],
    summary="Capture jobs, newest first",
    responses=problem_responses(400, 401, 403),
)
def capture_jobs(
    request: Request,
    session: SessionDep,
    services: ServicesDep,
    viewer: SignedInViewerDep,
    response: Response,
    per_page: Annotated[int, Query(alias="perPage", ge=1, le=1000)] = 30,
    next_page_token: Annotated[str | None, Query(alias="nextPageToken")] = None,
) -> list[CaptureJobOut]:
    """The member's capture jobs (the consortium admin's and the operator's auditors' view:
    everyone's), paginated with ``perPage`` and ``nextPageToken``; a ``Link: <...>;
    rel="next"`` header points to the next page."""
    before = _read_token(next_page_token) if next_page_token else None
    page = list_capture_jobs(session, reader=viewer, before=before, limit=per_page)
    response.headers.update(EPCIS_HEADERS)
    if page.more:
        last = page.jobs[-1]
        token = _page_token(last.created_at, last.id)
        url = request.url.include_query_params(nextPageToken=token, perPage=per_page)
        response.headers["Link"] = f'<{url}>; rel="next"'
    return [_job(job, services.public_url) for job in page.jobs]


@router.post(
    "/events",
    status_code=201,
    summary="Capture a single EPCIS event",
    openapi_extra={"requestBody": _EVENT_BODY},
    responses={
        201: {
            "description": "Captured; the event's URL is in Location, the visibility it got "
            "in GS1-Visibility.",
            "content": {"application/json": {"schema": {"type": "object"}}},
            "headers": {
                "Location": {"schema": {"type": "string"}},
                VISIBILITY_HEADER: {"schema": {"type": "string", "enum": _MODES}},
            },
        },
        **problem_responses(400, 401, 403, 409, 413, 415, 422),
    },
)
async def capture_event(
    request: Request, services: ServicesDep, who: RecorderDep, audience: AudienceDep
) -> Response:
    """Capture one event synchronously (JSON / JSON-LD): 201 with its URL in ``Location``,
    409 when the same event (same CBV 2.0 event hash) was captured before. Who may read it is
    chosen as in ``POST /capture`` (``GS1-Visibility`` / ``visibility``, ``reader`` /
    ``GS1-Readers``); the visibility it got is in the ``GS1-Visibility`` response header."""
    content_type = check_media_type(request, JSON_TYPES)
    body = await read_body(request, services.settings.api.max_body_bytes)
    try:
        captured, chosen = await run_in_threadpool(
            _capture, services, who, body, content_type, audience, single_event=True
        )
    except NotSingleEventError as exc:
        raise ProblemError(
            400,
            "bad-request",
            f"POST /events takes one event, not {exc.count}; use POST /capture for documents",
            field="$",
        ) from None
    event = captured.events[0]
    record = captured.result.events[0]
    event_id = event.event_id or record.hash_id
    location = f"/events/{quote(event_id, safe='')}"
    headers = {**EPCIS_HEADERS, "Location": location}
    if not record.new:
        raise ProblemError(
            409,
            "conflict",
            f"this event was captured before (event hash {record.hash_id})",
            field="$",
            headers=headers,
        )
    headers[VISIBILITY_HEADER] = chosen.value
    return JSONResponse(event.raw, status_code=201, headers=headers)
