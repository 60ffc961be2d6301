"""EPCIS 2.0 queries: ``GET /events`` (query parameters, ``perPage``/``nextPageToken`` and a
``Link: rel="next"`` header as in the REST binding) and ``GET /events/{eventID}``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from api.capture_service import EPCIS_HEADERS
from api.deps import ServicesDep, SignedInViewerDep
from api.problems import ProblemError, problem_responses
from api.routers.batches import EPCIS_CONTEXT
from ledger.store import StoredEvent, query_events
from ledger.store.repository import get_event_by_event_id, get_event_by_hash
from ledger.visibility import Reader

router = APIRouter(tags=["Events"])

LD_JSON: Final = "application/ld+json"


class LdJSONResponse(JSONResponse):
    """A JSON-LD answer (EPCIS 2.0 query documents)."""

    media_type = LD_JSON


#: The shape of the EPCISQueryDocument answered (GS1's JSON Schema has the whole of it).
QUERY_DOCUMENT_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "required": ["@context", "type", "schemaVersion", "creationDate", "epcisBody"],
    "properties": {
        "@context": {"type": "array", "items": {}},
        "type": {"type": "string", "enum": ["EPCISQueryDocument"]},
        "schemaVersion": {"type": "string"},
        "creationDate": {"type": "string", "format": "date-time"},
        "nextPageToken": {"type": "string"},
        "epcisBody": {
            "type": "object",
            "required": ["queryResults"],
            "properties": {
                "queryResults": {
                    "type": "object",
                    "required": ["queryName", "resultsBody"],
                    "properties": {
                        "queryName": {"type": "string"},
                        "resultsBody": {
                            "type": "object",
                            "required": ["eventList"],
                            "properties": {
                                "eventList": {"type": "array", "items": {"type": "object"}}
                            },
                        },
                    },
                }
            },
        },
    },
}
_GS1_HEADERS: Final = {
    name: {"schema": {"type": "string"}} for name in ("GS1-EPCIS-Version", "GS1-CBV-Version")
}
_QUERY_DOC: Final[dict[int | str, dict[str, Any]]] = {
    200: {
        "description": 'An EPCISQueryDocument (JSON-LD); `Link: <...>; rel="next"` when more '
        "pages exist.",
        "content": {LD_JSON: {"schema": QUERY_DOCUMENT_SCHEMA}},
        "headers": {"Link": {"schema": {"type": "string"}}, **_GS1_HEADERS},
    }
}
_PARAMETERS: Final = [
    "eventType", "GE_eventTime", "LT_eventTime", "GE_recordTime", "LT_recordTime",
    "EQ_action", "EQ_bizStep", "EQ_disposition", "EQ_readPoint", "EQ_bizLocation",
    "EQ_eventID", "MATCH_epc", "MATCH_parentID", "MATCH_inputEPC", "MATCH_outputEPC",
    "MATCH_anyEPC", "MATCH_epcClass", "MATCH_inputEPCClass", "MATCH_outputEPCClass",
    "MATCH_anyEPCClass", "EXISTS_errorDeclaration", "orderBy", "orderDirection", "perPage",
    "nextPageToken",
]  # fmt: skip


def _event_json(stored: StoredEvent) -> dict[str, Any]:
    event = stored.event
    context = event.pop("@context", None)
    out: dict[str, Any] = {}
    if context not in (None, EPCIS_CONTEXT, [EPCIS_CONTEXT]):
        out["@context"] = context
    out.update(event)
    # The REST binding: a server populates a missing eventID; ours is the CBV 2.0 hash ID.
    out.setdefault("eventID", stored.hash_id)
    return out


def query_document(events: list[dict[str, Any]]) -> dict[str, Any]:
    """An EPCISQueryDocument holding ``events``."""
    return {
        "@context": [EPCIS_CONTEXT],
        "type": "EPCISQueryDocument",
        "schemaVersion": "2.0",
        "creationDate": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "epcisBody": {
            "queryResults": {
                "queryName": "SimpleEventQuery",
                "resultsBody": {"eventList": events},
            }
        },
    }


def _query_openapi() -> dict[str, Any]:
    return {
        "parameters": [
            {
                "name": name,
                "in": "query",
                "required": False,
                "schema": {"type": "string"},
                "description": "EPCIS 2.0 SimpleEventQuery parameter (repeat it, or separate "
                "values with | or , to OR them).",
            }
            for name in _PARAMETERS
        ]
    }


@router.get(
    "/events",
    summary="Query EPCIS events",
    response_class=LdJSONResponse,
    responses={**_QUERY_DOC, **problem_responses(400, 401, 403)},
    openapi_extra=_query_openapi(),
)
async def get_events(
    request: Request, services: ServicesDep, viewer: SignedInViewerDep
) -> Response:
    """Events matching EPCIS query parameters (``eventType``, ``GE_eventTime``, ``EQ_bizStep``,
    ``MATCH_epc``, ``MATCH_anyEPCClass``...), ``perPage`` at a time; the next page is linked
    with ``Link: <...>; rel="next"`` and ``nextPageToken``. Unknown parameters are a 400
    naming them. Only events the caller may read are answered (its member's own, and others'
    as their visibility allows); the consortium admin reads every event."""
    params: dict[str, list[str]] = {}
    for name, value in request.query_params.multi_items():
        params.setdefault(name, []).append(value)
    page = await run_in_threadpool(query_events, services.engine, params, reader=viewer)
    headers = dict(EPCIS_HEADERS)
    if page.next_page_token is not None:
        url = request.url.include_query_params(nextPageToken=page.next_page_token)
        headers["Link"] = f'<{url}>; rel="next"'
    body = query_document([_event_json(e) for e in page.events])
    if page.next_page_token is not None:
        body["nextPageToken"] = page.next_page_token
    return LdJSONResponse(body, headers=headers)


def _find(services: Any, event_id: str, viewer: Reader) -> StoredEvent | None:
    found = get_event_by_event_id(services.engine, event_id, reader=viewer)
    if found is None and event_id.startswith(("ni:///", "0x")):
        try:
            found = get_event_by_hash(services.engine, event_id, reader=viewer)
        except ValueError:
            return None
    return found


@router.get(
    "/events/{event_id:path}",
    summary="One EPCIS event by eventID (or CBV 2.0 hash ID)",
    response_class=LdJSONResponse,
    responses={**_QUERY_DOC, **problem_responses(400, 401, 403, 404)},
)
async def get_event(event_id: str, services: ServicesDep, viewer: SignedInViewerDep) -> Response:
    """An EPCISQueryDocument holding the event whose ``eventID`` (or Event Hash ID
    ``ni:///sha-256;...?ver=CBV2.0``) is given; percent-encode it in the path. An event declared
    in error shares both with its error declaration: the declaration is answered (it
    supersedes the event; ``GET /events?EQ_eventID=...`` lists both). An event the caller may
    not read is a 404, as one that does not exist."""
    stored = await run_in_threadpool(_find, services, event_id, viewer)
    if stored is None:
        raise ProblemError(404, "not-found", f"no event {event_id!r}", field="eventID")
    return LdJSONResponse(query_document([_event_json(stored)]), headers=dict(EPCIS_HEADERS))
