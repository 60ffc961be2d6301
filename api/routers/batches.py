"""``POST /batches``: the supplier's shortcut to commission a production lot."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Response
from fastapi.concurrency import run_in_threadpool

from api.auth import Principal
from api.capture_service import capture_body, parse_events
from api.deps import RecorderDep, ServicesDep
from api.identity import parse_identifier, resolver_url
from api.problems import ProblemError, problem_responses
from api.schemas import BatchIn, BatchOut
from api.services import Services
from ledger.capture import Captured
from ledger.identifiers import Identifier
from ledger.store.repository import display_epc_uri

router = APIRouter(tags=["Capture"])

EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/epcis-context.jsonld"


def _offset(moment: datetime) -> str:
    delta = moment.utcoffset()
    minutes = int(delta.total_seconds() // 60) if delta is not None else 0
    sign = "-" if minutes < 0 else "+"
    minutes = abs(minutes)
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def commissioning_event(
    body: BatchIn, lot: Identifier, site: Identifier, epc_class: str | None = None
) -> dict[str, Any]:
    """The commissioning ObjectEvent of a lot (CBV 2.0): action ADD, bizStep commissioning,
    disposition active, a quantity of the LGTIN class (``epc_class``, the EPC class URI when
    known, else the Digital Link), ILMD with lot number and dates."""
    moment = body.event_time or datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    quantity: dict[str, Any] = {
        "epcClass": epc_class or lot.canonical,
        "quantity": int(body.quantity) if float(body.quantity).is_integer() else body.quantity,
    }
    if body.uom:
        quantity["uom"] = body.uom
    ilmd: dict[str, Any] = {"cbvmda:lotNumber": body.lot}
    if body.production_date:
        ilmd["cbvmda:productionDate"] = body.production_date.isoformat()
    if body.expiry_date:
        ilmd["cbvmda:itemExpirationDate"] = body.expiry_date.isoformat()
    location = site.canonical
    return {
        "@context": [EPCIS_CONTEXT],
        "type": "ObjectEvent",
        "eventTime": moment.isoformat(timespec="milliseconds"),
        "eventTimeZoneOffset": _offset(moment),
        "epcList": [],
        "quantityList": [quantity],
        "action": "ADD",
        "bizStep": "commissioning",
        "disposition": "active",
        "readPoint": {"id": location},
        "bizLocation": {"id": location},
        "ilmd": ilmd,
    }


def _epc_class(services: Services, lot: Identifier) -> str:
    """The lot as an EPC class URI split at its owner's registered company prefix (as the
    trail shows it), else its Digital Link."""
    return display_epc_uri(services.engine, lot) or lot.canonical


def _commission(services: Services, who: Principal, event: dict[str, Any]) -> Captured:
    first = parse_events(services, who, json.dumps(event).encode(), "application/ld+json")
    # The event's id is its CBV 2.0 hash ID (which leaves eventID out, so it does not change).
    event = {**event, "eventID": first[0].hash_id}
    return capture_body(
        services, who, json.dumps(event).encode(), "application/ld+json", single_event=True
    )


@router.post(
    "/batches",
    response_model=BatchOut,
    status_code=201,
    summary="Commission a production lot (supplier shortcut)",
    responses={
        201: {
            "description": "The lot was commissioned; its Digital Link is in Location.",
            "headers": {"Location": {"schema": {"type": "string"}}},
        },
        200: {
            "description": "The same commissioning was recorded before (idempotent): the lot "
            "as recorded then.",
            "model": BatchOut,
            "headers": {"Location": {"schema": {"type": "string"}}},
        },
        **problem_responses(400, 401, 403, 422),
    },
)
async def create_batch(
    body: BatchIn, services: ServicesDep, who: RecorderDep, response: Response
) -> BatchOut:
    """Record the commissioning of a lot: GTIN, lot, quantity, production and expiry dates
    and the site's GLN become the CBV commissioning ObjectEvent. Returns the lot's identifier,
    its GS1 Digital Link on this resolver and its QR code URLs."""
    if body.production_date and body.expiry_date and body.expiry_date < body.production_date:
        raise ProblemError(
            422,
            "request-validation",
            "the expiry date is before the production date",
            field="expiry_date",
        )
    gtin = body.gtin.zfill(14)
    lot = parse_identifier(f"(01){gtin}(10){body.lot}", field="gtin")
    site = parse_identifier(f"(414){body.site_gln}", field="site_gln")
    epc_class = await run_in_threadpool(_epc_class, services, lot)
    # The event names the lot by the same EPC URI (its hash is the same in any form).
    event = commissioning_event(body, lot, site, epc_class)
    captured = await run_in_threadpool(_commission, services, who, event)
    stored = captured.events[0]
    record = captured.result.events[0]
    link = resolver_url(lot, services.public_url)
    encoded = quote(link, safe="")
    response.headers["Location"] = link
    if not record.new:
        response.status_code = 200
    return BatchOut(
        identifier=lot.canonical,
        epc_class=epc_class,
        digital_link=link,
        qr_url=f"{services.public_url}/qr/{encoded}.png",
        qr_svg_url=f"{services.public_url}/qr/{encoded}.svg",
        label_sheet_url=f"{services.public_url}/labels/{encoded}.svg",
        event_id=stored.event_id or record.hash_id,
        event_hash_id=record.hash_id,
        capture_id=captured.result.capture_id,
        event=stored.raw,
    )
