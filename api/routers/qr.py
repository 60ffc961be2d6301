"""QR codes of identifiers and printable label sheets for a lot (public)."""

from __future__ import annotations

from typing import Annotated, Final, Literal

from fastapi import APIRouter, Query, Response

from api.deps import ServicesDep
from api.identity import describe, parse_identifier, resolver_url
from api.problems import ProblemError, problem_responses
from api.qr import MAX_SIZE, MIN_SIZE, Label, label_sheet_svg, qr_png, qr_svg
from ledger.identifiers import GS1Identifier

router = APIRouter(tags=["QR codes"])

_IMMUTABLE: Final = "public, max-age=86400, immutable"
_SVG: Final = "image/svg+xml"
_PNG: Final = "image/png"
MAX_LABELS: Final = 2000

Ec = Annotated[
    Literal["L", "M", "Q", "H"],
    Query(description="Error correction: L 7 %, M 15 %, Q 25 %, H 30 % of the code may be lost."),
]
Size = Annotated[
    int, Query(ge=MIN_SIZE, le=MAX_SIZE, description="Width and height in pixels (at most).")
]


def _split(name: str) -> tuple[str, str]:
    for extension in (".png", ".svg"):
        if name.endswith(extension):
            return name[: -len(extension)], extension[1:]
    raise ProblemError(
        404,
        "not-found",
        "a QR code is /qr/{identifier}.png or /qr/{identifier}.svg",
        field="path",
    )


@router.get(
    "/qr/{identifier:path}",
    summary="QR code of an identifier (PNG or SVG)",
    response_class=Response,
    responses={
        200: {
            "content": {_PNG: {}, _SVG: {}},
            "description": "The QR code of the identifier's Digital Link or Handle resolver URL.",
        },
        **problem_responses(400, 404, 422),
    },
)
def qr_code(identifier: str, services: ServicesDep, ec: Ec = "M", size: Size = 300) -> Response:
    """``/qr/{identifier}.png`` or ``.svg``: the QR code of the identifier's resolver URL on
    this host (GS1 Digital Link for GS1 keys, ``/{prefix}/{suffix}`` for handles). The
    identifier may be given in any form (EPC URI, Digital Link, element string, handle)."""
    text, kind = _split(identifier)
    parsed = parse_identifier(text)
    url = resolver_url(parsed, services.public_url)
    headers = {"Cache-Control": _IMMUTABLE, "X-QR-Data": url}
    if kind == "png":
        return Response(qr_png(url, ec, size), media_type=_PNG, headers=headers)
    return Response(qr_svg(url, ec, size), media_type=_SVG, headers=headers)


@router.get(
    "/labels/{identifier:path}",
    summary="Printable A4 label sheet for a lot (SVG)",
    response_class=Response,
    responses={
        200: {"content": {_SVG: {}}, "description": "An A4 SVG sheet (true size in mm)."},
        **problem_responses(400, 404, 422),
    },
)
def label_sheet(
    identifier: str,
    services: ServicesDep,
    count: Annotated[int, Query(ge=1, le=MAX_LABELS, description="How many labels.")] = 21,
    serial_from: Annotated[
        int | None,
        Query(
            ge=0,
            description="Number the items: one label per serial from this value on "
            "(each QR code carries GTIN, lot and serial). Without it every label is the lot's.",
        ),
    ] = None,
    title: Annotated[
        str | None, Query(max_length=60, description="First line: product name.")
    ] = None,
    expiry: Annotated[
        str | None,
        Query(pattern=r"^\d{4}-\d{2}-\d{2}$", description="Expiry date shown (YYYY-MM-DD)."),
    ] = None,
    columns: Annotated[int, Query(ge=1, le=6)] = 3,
    rows: Annotated[int, Query(ge=1, le=12)] = 7,
) -> Response:
    """``/labels/{lot}.svg``: labels for a lot (GTIN + batch/lot), each with a QR code of the
    lot's (or, with ``serial_from``, each item's) Digital Link and the GTIN, lot and serial in
    plain text."""
    text, kind = _split(identifier)
    if kind != "svg":
        raise ProblemError(
            404, "not-found", "label sheets are SVG: /labels/{lot}.svg", field="path"
        )
    lot = parse_identifier(text)
    if not isinstance(lot, GS1Identifier) or lot.kind != "lgtin":
        raise ProblemError(
            422,
            "invalid-identifier",
            "a label sheet is printed for a lot: a GTIN with a batch/lot (01)...(10)...",
            field="identifier",
        )
    info = describe(lot)
    gtin, lot_number = info["gtin"] or "", info["lot"] or ""
    head = [title] if title else []
    base = [f"GTIN {gtin}", f"LOT {lot_number}"] + ([f"EXP {expiry}"] if expiry else [])
    labels: list[Label] = []
    if serial_from is None:
        url = resolver_url(lot, services.public_url)
        labels = [Label(url, tuple(head + base))] * count
    else:
        for serial in range(serial_from, serial_from + count):
            item = parse_identifier(
                f"{services.public_url}/01/{gtin}/10/{lot_number}/21/{serial}", field="serial"
            )
            url = resolver_url(item, services.public_url)
            labels.append(Label(url, tuple([*head, *base, f"SN {serial}"])))
    body = label_sheet_svg(labels, columns=columns, rows=rows)
    return Response(body, media_type=_SVG, headers={"Cache-Control": "public, max-age=3600"})
