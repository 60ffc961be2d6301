"""``GET /export``: a self-contained bundle of events for offline verification.

Member keys only. The bundle holds the events as captured, their hashes, proofs, roots, the
anchoring transactions and blocks, recorders, the contract address, chain id and genesis hash:
``tracechain verify-bundle FILE --rpc URL`` checks it against any node of the chain, with no
database and no API.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from api.deps import ReaderDep, ServicesDep
from api.problems import problem_responses
from ledger.bundle import BUNDLE_FORMAT, export_bundle

router = APIRouter(tags=["Identifiers"])


def _export(services: Any, **scope: Any) -> dict[str, Any]:
    return export_bundle(services.engine, services.chain, services.deployment(), **scope)


@router.get(
    "/export",
    summary="Export a verification bundle (identifier, lot or time range)",
    response_class=JSONResponse,
    responses={
        200: {
            "description": f"A {BUNDLE_FORMAT} bundle (attachment).",
            "content": {"application/json": {"schema": {"type": "object"}}},
        },
        **problem_responses(400, 401, 403, 422, 503),
    },
)
async def export(
    services: ServicesDep,
    _: ReaderDep,
    identifier: Annotated[
        str | None, Query(description="Events mentioning it (or items of its lot).")
    ] = None,
    lot: Annotated[str | None, Query(description="Events of this lot (any LGTIN form).")] = None,
    from_time: Annotated[
        datetime | None, Query(alias="from", description="Event time at or after (RFC 3339).")
    ] = None,
    to_time: Annotated[
        datetime | None, Query(alias="to", description="Event time before (RFC 3339).")
    ] = None,
    trace: Annotated[
        Literal["backward", "forward"] | None,
        Query(description="Add every event of the identifier's trace in this direction."),
    ] = None,
) -> JSONResponse:
    """The bundle of the selected events: give ``identifier`` or ``lot``, and/or ``from`` /
    ``to``. Times need a UTC offset."""
    bundle = await run_in_threadpool(
        _export,
        services,
        identifier=identifier,
        lot=lot,
        from_time=from_time,
        to_time=to_time,
        trace=trace,
    )
    return JSONResponse(
        bundle,
        headers={
            "Content-Disposition": 'attachment; filename="tracechain-bundle.json"',
            "Cache-Control": "no-store",
        },
    )
