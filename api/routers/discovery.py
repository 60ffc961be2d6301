"""EPCIS 2.0 REST binding discovery: ``OPTIONS`` on the binding's resources this server has.

As GS1's ``openapi.yaml`` describes them (``204DefaultDiscoveryResponse``,
``204WritableResourcesDiscovery``): a 204 with ``Allow`` and the ``GS1-*`` headers saying which
EPCIS and CBV versions the resource speaks and how EPCs and CBV values are given. Discovery
needs no API key and reads no data (``OPTIONS /events/{eventID}`` says nothing about whether
that event exists); ``OPTIONS /capture`` (in :mod:`api.routers.capture`) adds the capture limits.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any, Final

from fastapi import APIRouter, Path, Request, Response
from fastapi.types import DecoratedCallable

router = APIRouter(tags=["Events"])

#: What every discovery answer says: EPCIS 2.0 (1.2 XML documents are read too), CBV 2.0, and
#: identifiers and CBV values served as they were captured (never translated).
VERSION_HEADERS: Final[dict[str, str]] = {
    "GS1-EPCIS-Version": "2.0.0",
    "GS1-EPCIS-Min": "1.2.0",
    "GS1-EPCIS-Max": "2.0.0",
    "GS1-CBV-Version": "2.0.0",
    "GS1-CBV-Min": "1.2.0",
    "GS1-CBV-Max": "2.0.0",
    "GS1-EPC-Format": "Never_Translates",
    "GS1-CBV-XML-Format": "Never_Translates",
}

_VERSION_SCHEMA: Final = {"type": "string", "pattern": r"^\d+(\.\d+)*$"}
_HEADER_DOCS: Final[dict[str, tuple[str, dict[str, Any]]]] = {
    "Allow": ("The methods the resource supports.", {"type": "string"}),
    "GS1-EPCIS-Version": ("The EPCIS version answered.", _VERSION_SCHEMA),
    "GS1-EPCIS-Min": ("The oldest EPCIS version read.", _VERSION_SCHEMA),
    "GS1-EPCIS-Max": ("The newest EPCIS version read.", _VERSION_SCHEMA),
    "GS1-CBV-Version": ("The CBV version answered.", _VERSION_SCHEMA),
    "GS1-CBV-Min": ("The oldest CBV version read.", _VERSION_SCHEMA),
    "GS1-CBV-Max": ("The newest CBV version read.", _VERSION_SCHEMA),
    "GS1-EPC-Format": (
        "How EPCs are served: as captured.",
        {"type": "string", "enum": ["No_Preference", "Always_GS1_Digital_Link",
                                    "Always_EPC_URN", "Never_Translates"]},
    ),
    "GS1-CBV-XML-Format": (
        "How CBV values are served: as captured.",
        {"type": "string", "enum": ["No_Preference", "Always_Web_URI", "Always_URN",
                                    "Never_Translates"]},
    ),
    "GS1-Vendor-Version": ("This server's version.", {"type": "string"}),
}  # fmt: skip


def discovery_headers(request: Request, allow: Sequence[str]) -> dict[str, str]:
    """``Allow`` and the binding's ``GS1-*`` discovery headers for a resource."""
    return {
        "Allow": ", ".join(allow),
        **VERSION_HEADERS,
        "GS1-Vendor-Version": f"tracechain-{request.app.version}",
    }


def discovery_responses(
    extra: dict[str, tuple[str, dict[str, Any]]] | None = None,
) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` of a discovery route: a 204 carrying the documented headers."""
    headers = {**_HEADER_DOCS, **(extra or {})}
    return {
        204: {
            "description": "The resource's methods and the EPCIS / CBV versions it speaks.",
            "headers": {
                name: {"description": text, "schema": schema, "required": True}
                for name, (text, schema) in headers.items()
            },
        }
    }


def _options(
    path: str, allow: tuple[str, ...], summary: str
) -> Callable[[DecoratedCallable], DecoratedCallable]:
    """The decorator of a discovery route answering ``Allow: allow``."""
    return router.options(
        path,
        status_code=204,
        response_class=Response,
        summary=summary,
        description=f"`Allow: {', '.join(allow)}` and the EPCIS 2.0 REST binding's discovery "
        "headers (no API key needed).",
        responses=discovery_responses(),
    )


_EVENTS: Final = ("OPTIONS", "GET", "POST")
_READ_ONLY: Final = ("OPTIONS", "GET")
EventIdPath = Annotated[str, Path(description="An eventID or Event Hash ID (percent-encoded).")]
CaptureIdPath = Annotated[str, Path(description="A capture job's id.")]


@_options("/events", _EVENTS, "Events endpoint settings")
async def events_options(request: Request) -> Response:
    """Discovery of ``/events`` (query with GET, capture one event with POST)."""
    return Response(status_code=204, headers=discovery_headers(request, _EVENTS))


@_options("/events/{event_id:path}", _READ_ONLY, "Event endpoint settings")
async def event_options(event_id: EventIdPath, request: Request) -> Response:
    """Discovery of ``/events/{eventID}``."""
    return Response(status_code=204, headers=discovery_headers(request, _READ_ONLY))


@_options("/capture/{capture_id}", _READ_ONLY, "Capture job endpoint settings")
async def capture_job_options(capture_id: CaptureIdPath, request: Request) -> Response:
    """Discovery of ``/capture/{captureID}``."""
    return Response(status_code=204, headers=discovery_headers(request, _READ_ONLY))
