"""``GET /trace/{identifier}``: an identifier's backward or forward trace, as JSON or SVG.

Member keys only (admin, recorder, auditor): a trace shows who supplies whom and where goods
went, which a buyer scanning a product does not need (the public trail is
``/identifiers/{identifier}``). A trace follows only the events its caller may read
(:mod:`ledger.visibility`) and says how many others it met (``hidden``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api.deps import ServicesDep, SignedInViewerDep
from api.negotiation import best_match
from api.problems import ProblemError, problem_responses
from ledger.trace import DEFAULT_DEPTH, MAX_DEPTH, TraceGraph, Tracer, render_svg
from ledger.visibility import Reader

router = APIRouter(tags=["Identifiers"])

JSON: Final = "application/json"
SVG: Final = "image/svg+xml"


class TraceNodeOut(BaseModel):
    """An identifier, site, party (an owning or possessing party of a shipment) or member
    the trace reached."""

    id: str
    kind: Literal["identifier", "site", "party", "member"]
    type: str
    label: str
    depth: int


class TraceEdgeOut(BaseModel):
    """A link, pointing downstream: an event, or a lot holding an item (``class``)."""

    source: str
    target: str
    relation: Literal["transformation", "aggregation", "class", "location", "party", "recorded"]
    event_pk: int | None
    event_type: str | None
    action: str | None
    biz_step: str | None
    event_time: datetime | None
    hash_id: str | None
    role: str | None


class TraceOut(BaseModel):
    """A trace graph (``GET /trace/{identifier}``)."""

    root: str
    direction: Literal["forward", "backward"]
    depth: int
    truncated: bool
    hidden: int = Field(
        ge=0,
        description="Events the trace met but did not follow: the caller may not read them "
        "(event visibility), so their links, sites and parties are not in the graph.",
    )
    nodes: list[TraceNodeOut]
    edges: list[TraceEdgeOut]


DirectionParam = Annotated[
    Literal["backward", "forward"],
    Query(description="forward: what it became and where it went; backward: what went into it."),
]
DepthParam = Annotated[
    int, Query(ge=0, le=MAX_DEPTH, description="Levels to follow from the identifier.")
]
FormatParam = Annotated[
    Literal["json", "svg"] | None,
    Query(description="Force JSON or SVG (default: from the Accept header)."),
]


def _format(request: Request, explicit: str | None) -> str:
    if explicit is not None:
        return SVG if explicit == "svg" else JSON
    chosen = best_match(request.headers.get("accept"), (JSON, SVG))
    if chosen is None:
        raise ProblemError(
            406, "not-acceptable", "a trace is application/json or image/svg+xml", field="Accept"
        )
    return chosen


def _trace(
    services: Any, identifier: str, direction: Any, depth: int, reader: Reader
) -> TraceGraph:
    return Tracer(services.engine).trace(identifier, direction, depth, reader=reader)


@router.get(
    "/trace/{identifier:path}",
    summary="Trace an identifier backward or forward (JSON or SVG)",
    response_model=None,
    responses={
        200: {
            "description": "The trace graph: nodes (identifiers, sites, parties, members) and "
            "the events linking them; or the graph drawn as SVG, upstream on the left.",
            "model": TraceOut,
            "content": {SVG: {"schema": {"type": "string"}}},
        },
        **problem_responses(400, 401, 403, 406, 422),
    },
)
async def trace(
    identifier: str,
    request: Request,
    services: ServicesDep,
    reader: SignedInViewerDep,
    direction: DirectionParam = "forward",
    depth: DepthParam = DEFAULT_DEPTH,
    format: FormatParam = None,
) -> Response:
    """Follow the identifier (any form; percent-encode it) through transformations (inputs
    to outputs, by instance and by lot), packing and unpacking, lots and their items, and the
    sites, parties (owning / possessing, from shipments' source and destination lists) and
    members of every event, ``depth`` levels deep, through the events the caller may read
    (``hidden`` counts the others it met). JSON by default, SVG for ``Accept: image/svg+xml``
    or ``format=svg``."""
    media = _format(request, format)
    graph = await run_in_threadpool(_trace, services, identifier, direction, depth, reader)
    headers = {"Vary": "Accept", "Cache-Control": "no-store"}
    if media == SVG:
        svg = await run_in_threadpool(render_svg, graph)
        return Response(svg, media_type=SVG, headers=headers)
    return JSONResponse(graph.to_json(), headers=headers)
