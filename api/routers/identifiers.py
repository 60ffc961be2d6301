"""Identifier trails with verification (public) and recalls (the prefix owner's recorder key).

Every read here is for its caller (:mod:`ledger.visibility`): the trail and the recall state
for a buyer without a key or the key presented, traces and recall scopes for a signed-in
caller, each showing only the events that caller may read."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import partial
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from api.auth import Principal
from api.capture_service import AudienceChoice, capture_body
from api.deps import RecorderDep, ServicesDep, SignedInViewerDep, ViewerDep
from api.identity import parse_identifier
from api.pages import choose_format, serve_trail
from api.problems import problem_responses
from api.routers.batches import EPCIS_CONTEXT
from api.schemas import RecallIn, RecallOut
from api.services import Services
from api.trail import LIFT_REASON_KEY, RECALL_NAMESPACE, RECALL_REASON_KEY, TrailOut
from ledger.identifiers import Identifier
from ledger.identifiers.hashing import keccak256
from ledger.membership import RecallStatus
from ledger.store.repository import events_by_identifier
from ledger.trace import DEFAULT_DEPTH, MAX_DEPTH, recall_scope, render_svg, trace
from ledger.visibility import Reader, Visibility

router = APIRouter(tags=["Identifiers"])

_CLASS_KINDS: Final = frozenset({"lgtin", "gtin", "sgtin-pattern"})

FormatParam = Annotated[
    Literal["json", "html"] | None,
    Query(description="Force JSON or the HTML page (default: from the Accept header)."),
]
LangParam = Annotated[
    str | None,
    Query(max_length=35, description="Page language: en or zh (default: Accept-Language)."),
]

_TRAIL_RESPONSES: Final[dict[int | str, dict[str, Any]]] = {
    200: {
        "description": "The trail: JSON (TrailOut) for machines, the verification page for "
        "browsers.",
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/TrailOut"}},
            "text/html": {"schema": {"type": "string"}},
        },
    },
    **problem_responses(400, 401, 406, 503),
}


@router.get(
    "/identifiers/{identifier:path}/recall",
    response_model=RecallOut,
    summary="On-chain recall state of an identifier",
    responses=problem_responses(400, 401, 503),
)
def recall_state(identifier: str, services: ServicesDep, reader: ViewerDep) -> RecallOut:
    """Whether the identifier, or the lot or product class it belongs to, is recalled on chain,
    with the recall notice's reason when it was recorded through this service (and the caller
    may read the notice)."""
    parse_identifier(identifier)
    status = services.membership_reader().recall_status(identifier)
    return _recall_out(services, status, reader)


@router.get(
    "/identifiers/{identifier:path}/trace",
    summary="Trace an identifier forward or backward (member keys)",
    response_model=None,
    responses={
        200: {
            "description": "The trace graph: JSON, or an SVG drawing with format=svg.",
            "content": {"application/json": {}, "image/svg+xml": {}},
        },
        **problem_responses(400, 401, 403, 422),
    },
)
async def trace_identifier(
    identifier: str,
    services: ServicesDep,
    reader: SignedInViewerDep,
    direction: Annotated[Literal["forward", "backward"], Query()] = "forward",
    depth: Annotated[int | None, Query(ge=0, le=MAX_DEPTH)] = DEFAULT_DEPTH,
    format: Annotated[Literal["json", "svg"], Query()] = "json",
) -> Response:
    """Where a lot went (forward: transformations, packing, shipments, sites, members) or what
    went into a product (backward), level by level, through the events the caller may read
    (``hidden`` counts the others it met)."""
    graph = await run_in_threadpool(
        partial(
            trace,
            services.engine,
            parse_identifier(identifier).canonical,
            direction,
            depth,
            reader=reader,
        )
    )
    if format == "svg":
        return Response(render_svg(graph), media_type="image/svg+xml")
    return JSONResponse(graph.to_json())


@router.get(
    "/identifiers/{identifier:path}/recall-scope",
    summary="What a recall of this lot would have to reach (member keys)",
    responses=problem_responses(400, 401, 403),
)
async def identifier_recall_scope(
    identifier: str, services: ServicesDep, reader: SignedInViewerDep
) -> dict[str, Any]:
    """Every finished product, logistic unit, site and member the identifier reached
    downstream through the events the caller may read (``hidden`` counts the others it met):
    the answer to "what must we recall, and where?"."""
    scope = await run_in_threadpool(
        partial(
            recall_scope, services.engine, parse_identifier(identifier).canonical, reader=reader
        )
    )
    return scope.to_json()


@router.get(
    "/identifiers/{identifier:path}",
    summary="An identifier's trail with verification",
    response_model=None,
    responses=_TRAIL_RESPONSES,
)
async def identifier_trail(
    identifier: str,
    request: Request,
    services: ServicesDep,
    reader: ViewerDep,
    format: FormatParam = None,
    lang: LangParam = None,
) -> Response:
    """Every event mentioning the identifier (or items of its lot) that the caller may read
    (without a key: ``linked`` and ``public`` events), in time order, each with its
    verification (recomputed hash, Merkle proof, anchoring transaction and block), the
    on-chain recall state and an overall verdict; an identifier none of whose events the
    caller may read answers as one never recorded. Any identifier form is accepted (EPC URI,
    GS1 Digital Link, element string, handle, ``urn:oid:``); percent-encode it."""
    parsed = parse_identifier(identifier)
    fmt = choose_format(request, format)
    return await serve_trail(request, services, parsed, identifier, fmt, lang, reader=reader)


def _recall_out(services: Services, status: RecallStatus, reader: Reader) -> RecallOut:
    """The recall state, with the reason of a recall notice ``reader`` may read."""
    reason = None
    if status.recalled and status.recalled_identifier and status.reason_hash:
        notices = events_by_identifier(services.engine, status.recalled_identifier, reader=reader)
        for stored in reversed(notices):
            text = stored.event.get(RECALL_REASON_KEY)
            if not isinstance(text, str):
                continue
            if "0x" + keccak256(text.encode()).hex() == status.reason_hash:
                reason = text
                break
    return RecallOut(
        identifier=status.identifier,
        recalled=status.recalled,
        recalled_identifier=status.recalled_identifier,
        org_id=status.org_id,
        block=status.block,
        reason_hash=status.reason_hash,
        reason=reason,
    )


def recall_notice(identifier: Identifier, reason: str, *, lift: bool) -> dict[str, Any]:
    """The EPCIS event that records a recall (or its lifting) in the trail, reason included."""
    now = datetime.now(UTC)
    event: dict[str, Any] = {
        "@context": [EPCIS_CONTEXT, RECALL_NAMESPACE],
        "type": "ObjectEvent",
        "eventTime": now.isoformat(timespec="milliseconds"),
        "eventTimeZoneOffset": "+00:00",
        "action": "OBSERVE",
        "disposition": "active" if lift else "recalled",
        LIFT_REASON_KEY if lift else RECALL_REASON_KEY: reason,
    }
    if identifier.kind in _CLASS_KINDS:
        event["epcList"] = []
        event["quantityList"] = [{"epcClass": identifier.canonical}]
    else:
        event["epcList"] = [identifier.canonical]
    return event


def _recall(services: Services, who: Principal, text: str, reason: str, *, lift: bool) -> RecallOut:
    identifier = parse_identifier(text)
    assert who.org_id is not None
    membership = services.membership()
    if lift:
        status = membership.lift_recall(who.org_id, text, reason)
    else:
        status = membership.recall(who.org_id, text, reason)
    services.trails.clear()
    services.metrics.recalls.labels("lift" if lift else "recall").inc()
    notice = recall_notice(identifier, reason, lift=lift)
    # A recall speaks to every buyer: its notice (and so its reason) is public whatever the
    # owner's default visibility.
    capture_body(
        services,
        who,
        json.dumps(notice).encode(),
        "application/ld+json",
        single_event=True,
        audience=AudienceChoice(Visibility.PUBLIC),
    )
    services.trails.clear()
    return _recall_out(services, status, who.reader)


@router.post(
    "/identifiers/{identifier:path}/recall",
    response_model=RecallOut,
    summary="Recall a product or lot (prefix owner)",
    responses=problem_responses(400, 401, 403, 409, 422, 503),
)
async def recall(
    identifier: str, body: RecallIn, services: ServicesDep, who: RecorderDep
) -> RecallOut:
    """Recall an item, or a lot (GTIN + lot) or product (GTIN), on chain; only the member
    owning the identifier's prefix may. The reason is kept as a recall notice event in the
    trail (its keccak256 is on chain; the notice is ``public`` whatever the member's default
    visibility), and every scan shows the recall at once."""
    return await run_in_threadpool(_recall, services, who, identifier, body.reason, lift=False)


@router.post(
    "/identifiers/{identifier:path}/recall/lift",
    response_model=RecallOut,
    summary="Lift a recall (prefix owner)",
    responses=problem_responses(400, 401, 403, 409, 422, 503),
)
async def lift_recall(
    identifier: str, body: RecallIn, services: ServicesDep, who: RecorderDep
) -> RecallOut:
    """Lift the recall of an identifier, with a reason."""
    return await run_in_threadpool(_recall, services, who, identifier, body.reason, lift=True)


#: Documented for OpenAPI (the route answers pre-rendered bytes).
TRAIL_SCHEMA = TrailOut
