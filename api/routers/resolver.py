"""The resolver: GS1 Digital Link paths (``/01/{gtin}/10/{lot}``, ``/00/{sscc}``,
``/414/{gln}``...) and Handle resolver paths (``/{prefix}/{suffix}``) on this host.

A phone (``Accept: text/html``) gets the verification page, a machine the JSON trail. As GS1
resolvers do, ``linkType`` picks a link (``gs1:pip``, ``gs1:traceability``, ``gs1:epcis``,
``gs1:recallStatus``), ``linkType=all`` or ``Accept: application/linkset+json`` answers the
linkset (RFC 9264), and every answer carries a ``Link`` header pointing at the linkset.

Each answer is for its caller (a buyer without a key, or the key presented): the trail shows
the events it may read, the recall state the reason of a notice it may read. The linkset names
links only, the same for every identifier and every caller (it says nothing about events, so
an identifier whose events the caller may not read gets the linkset of one never recorded).
"""

from __future__ import annotations

import inspect
import re
from typing import Annotated, Any, Final, NoReturn
from urllib.parse import quote, unquote

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, RedirectResponse

from api.deps import ServicesDep, ViewerDep
from api.identity import GS1_PRIMARY_AIS, parse_resolver_path, resolver_url, with_query
from api.negotiation import best_match
from api.pages import HTML, JSON, choose_format, serve_trail
from api.problems import ProblemError, problem_responses
from api.routers.identifiers import recall_state
from api.services import Services
from ledger.identifiers import Identifier, IdentifierSyntaxError
from ledger.identifiers.handle import RESOLVER_PREFIX_RE, parse_handle_url_path
from ledger.visibility import Reader

router = APIRouter(tags=["Resolver"])

LINKSET: Final = "application/linkset+json"
VOC: Final = "https://gs1.org/voc/"
#: Link types we answer, by their short name.
LINK_TYPES: Final = ("pip", "traceability", "epcis", "recallStatus", "verificationService")
_DOC_ROUTES: Final = (
    ("/01/{gtin}", "GTIN: the product"),
    ("/01/{gtin}/10/{lot}", "GTIN + batch/lot: a lot"),
    ("/01/{gtin}/21/{serial}", "GTIN + serial: one item"),
    ("/01/{gtin}/10/{lot}/21/{serial}", "GTIN + lot + serial: one item of a lot"),
    ("/00/{sscc}", "SSCC: a logistic unit"),
    ("/414/{gln}", "GLN: a location"),
    ("/414/{gln}/254/{extension}", "GLN + extension: a sub-location"),
    ("/8003/{grai}", "GRAI: a returnable asset"),
    ("/8004/{giai}", "GIAI: an individual asset"),
)

LinkTypeParam = Annotated[
    str | None,
    Query(
        alias="linkType",
        description="gs1:pip (page), gs1:traceability (JSON trail), gs1:epcis, "
        "gs1:recallStatus, gs1:verificationService, or all (the linkset).",
    ),
]
LangParam = Annotated[str | None, Query(max_length=35, description="Page language: en or zh.")]


def _link_type(value: str | None) -> str | None:
    if value is None:
        return None
    for prefix in ("gs1:", VOC):
        if value.startswith(prefix):
            return value[len(prefix) :]
    return value


def linkset(services: Services, identifier: Identifier) -> dict[str, Any]:
    """The RFC 9264 linkset of an identifier (GS1 Digital Link resolver shape)."""
    anchor = resolver_url(identifier, services.public_url)
    public = services.public_url
    langs = ["en", "zh-Hans"]
    epcis_param = "MATCH_anyEPCClass" if identifier.kind in ("lgtin", "gtin") else "MATCH_anyEPC"
    links: dict[str, list[dict[str, Any]]] = {
        VOC + "defaultLink": [
            {"href": with_query(anchor, "linkType=gs1:pip"), "title": "Verification page",
             "type": HTML, "hreflang": langs}
        ],
        VOC + "pip": [
            {"href": with_query(anchor, "linkType=gs1:pip"), "title": "Verification page",
             "type": HTML, "hreflang": langs}
        ],
        VOC + "traceability": [
            {"href": with_query(anchor, "linkType=gs1:traceability"),
             "title": "Trail with verification", "type": JSON}
        ],
        VOC + "verificationService": [
            {"href": with_query(anchor, "linkType=gs1:traceability"),
             "title": "Verification against the chain", "type": JSON}
        ],
        VOC + "recallStatus": [
            {"href": with_query(anchor, "linkType=gs1:recallStatus"),
             "title": "On-chain recall state", "type": JSON}
        ],
        VOC + "epcis": [
            {"href": f"{public}/events?{epcis_param}={quote(identifier.canonical, safe='')}",
             "title": "EPCIS events (member API key)", "type": "application/ld+json"}
        ],
    }  # fmt: skip
    return {"linkset": [{"anchor": anchor, **links}]}


def _linkset_header(services: Services, identifier: Identifier) -> dict[str, str]:
    anchor = resolver_url(identifier, services.public_url)
    return {"Link": f'<{with_query(anchor, "linkType=all")}>; rel="linkset"; type="{LINKSET}"'}


def _not_an_identifier(first: str, raw_path: str, path: str) -> NoReturn:
    """Why a path is not resolved: a first segment starting with a digit is taken as a handle
    prefix (GS1 keys were matched already), so a malformed one is a 422 naming the reason; any
    other path is simply not here (404)."""
    if not first[:1].isdigit():
        raise ProblemError(404, "not-found", f"nothing at {path}", field="path")
    parse_handle_url_path(raw_path)  # raises the reason for a malformed prefix or suffix
    raise IdentifierSyntaxError(
        f"{unquote(first)!r} is neither a GS1 Digital Link primary key (01, 00, 414, ...) nor a "
        "handle prefix of this resolver (a naming authority of up to 5 digits and dot-separated "
        "segments, such as 88.118.8)",
        field="handle prefix",
    )


async def resolve(
    request: Request,
    services: Services,
    link_type: str | None,
    lang: str | None,
    reader: Reader,
) -> Response:
    """Resolve the request path as a Digital Link or handle, for ``reader``."""
    raw_path = request.scope.get("raw_path")
    path = raw_path.decode("latin-1") if raw_path else quote(request.url.path, safe="/%")
    first = path.split("/", 2)[1] if path.count("/") >= 2 else ""
    if first not in GS1_PRIMARY_AIS and RESOLVER_PREFIX_RE.fullmatch(first) is None:
        _not_an_identifier(first, path.split("?", 1)[0], request.url.path)
    identifier = parse_resolver_path(services.public_url, path.split("?", 1)[0])
    text = f"{services.public_url}{path.split('?', 1)[0]}"
    headers = _linkset_header(services, identifier)
    kind = _link_type(link_type)
    wants_linkset = kind == "all" or (
        kind is None and best_match(request.headers.get("accept"), (JSON, HTML, LINKSET)) == LINKSET
    )
    if wants_linkset:
        return JSONResponse(linkset(services, identifier), media_type=LINKSET, headers=headers)
    if kind in ("traceability", "verificationService"):
        return await serve_trail(
            request, services, identifier, text, "json", lang, reader=reader, extra_headers=headers
        )
    if kind == "pip":
        return await serve_trail(
            request, services, identifier, text, "html", lang, reader=reader, extra_headers=headers
        )
    if kind == "recallStatus":
        state = await run_in_threadpool(recall_state, text, services, reader)
        return JSONResponse(state.model_dump(mode="json"), headers=headers)
    if kind == "epcis":
        target = linkset(services, identifier)["linkset"][0][VOC + "epcis"][0]["href"]
        return RedirectResponse(target, status_code=307, headers=headers)
    # No (or an unknown) link type: the default link, negotiated.
    fmt = choose_format(request, None)
    return await serve_trail(
        request, services, identifier, text, fmt, lang, reader=reader, extra_headers=headers
    )


#: The path parameters of the Digital Link routes: what each is, and a valid example.
PATH_PARAMETERS: Final[dict[str, tuple[str, str]]] = {
    "gtin": ("GTIN-14 (AI 01; GTIN-8/12/13 padded with zeros).", "09506000134352"),
    "lot": ("Batch/lot (AI 10), percent-encoded.", "LOT-2026-11"),
    "serial": ("Serial number (AI 21), percent-encoded.", "1234"),
    "sscc": ("SSCC (AI 00), 18 digits.", "095060001234567893"),
    "gln": ("GLN (AI 414), 13 digits.", "9506000000008"),
    "extension": ("GLN extension (AI 254).", "DOCK-1"),
    "grai": ("GRAI (AI 8003): 14 digits and an optional serial.", "09506000123455SN1"),
    "giai": ("GIAI (AI 8004): company prefix and asset reference.", "9506000ASSET1"),
}
_PATH_PARAM_RE: Final = re.compile(r"{(\w+)}")
#: What a resolver path answers with 200 (negotiated, or chosen by ``linkType``).
_RESOLVED: Final[dict[str, Any]] = {
    "description": "The verification page, the JSON trail, the recall state "
    "(linkType=gs1:recallStatus) or the linkset (linkType=all, Accept: application/linkset+json).",
    "content": {
        HTML: {"schema": {"type": "string"}},
        JSON: {
            "schema": {
                "anyOf": [
                    {"$ref": "#/components/schemas/TrailOut"},
                    {"$ref": "#/components/schemas/RecallOut"},
                ]
            }
        },
        LINKSET: {"schema": {"type": "object", "required": ["linkset"]}},
    },
    "headers": {"Link": {"description": "The linkset's URL.", "schema": {"type": "string"}}},
}
RESOLVER_RESPONSES: Final[dict[int | str, dict[str, Any]]] = {
    200: _RESOLVED,
    304: {"description": "Not modified (If-None-Match names the current ETag)."},
    307: {
        "description": "Redirect to the EPCIS query (linkType=gs1:epcis).",
        "headers": {"Location": {"schema": {"type": "string"}}},
    },
    **problem_responses(400, 401, 404, 406, 422, 503),
}


def path_parameters(path: str) -> list[inspect.Parameter]:
    """The declared path parameters of a Digital Link route template (``/01/{gtin}/10/{lot}``)."""
    out = []
    for name in _PATH_PARAM_RE.findall(path):
        description, example = PATH_PARAMETERS[name]
        annotation = Annotated[str, Path(description=description, examples=[example])]
        out.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation))
    return out


def _documented(path: str, summary: str) -> None:
    async def endpoint(
        request: Request,
        services: ServicesDep,
        reader: ViewerDep,
        link_type: LinkTypeParam = None,
        lang: LangParam = None,
        **_values: str,
    ) -> Response:
        # The path is parsed whole (as any Digital Link); the parameters are for the docs.
        return await resolve(request, services, link_type, lang, reader)

    base = [p for p in inspect.signature(endpoint).parameters.values() if p.kind != p.VAR_KEYWORD]
    endpoint.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [*base, *path_parameters(path)]
    )
    router.add_api_route(
        path,
        endpoint,
        methods=["GET"],
        summary=f"Resolve a GS1 Digital Link — {summary}",
        description=(__doc__ or "").strip(),
        response_model=None,
        responses=RESOLVER_RESPONSES,
        name=f"resolve {path}",
    )


for _path, _summary in _DOC_ROUTES:
    _documented(_path, _summary)


@router.get("/.well-known/gs1resolver", summary="Resolver description (GS1 DL 1.4 §8)")
def resolver_description(services: ServicesDep) -> dict[str, Any]:
    """What this resolver supports, as GS1 Digital Link resolvers describe themselves."""
    return {
        "name": "tracechain",
        "resolverRoot": services.public_url,
        "supportedPrimaryKeys": sorted(GS1_PRIMARY_AIS),
        "supportedLinkType": [f"gs1:{name}" for name in ("defaultLink", *LINK_TYPES)],
        "linkTypeDefaultCanBeLinkset": True,
        "supportedContextValues": [],
        "supportsHandles": True,
    }


@router.get(
    "/{first}/{rest:path}",
    summary="Resolve any Digital Link primary key, or a handle /{prefix}/{suffix}",
    response_model=None,
    responses=RESOLVER_RESPONSES,
)
async def resolve_any(
    first: str,
    rest: str,
    request: Request,
    services: ServicesDep,
    reader: ViewerDep,
    link_type: LinkTypeParam = None,
    lang: LangParam = None,
) -> Response:
    """Any other GS1 primary key (``/253/{gdti}``, ``/8018/{gsrn}``...) and Handle / IDIS
    resolver paths such as ``/88.118.8/PUMP-0001``."""
    return await resolve(request, services, link_type, lang, reader)
