"""``GET /export``: a self-contained bundle of events for offline verification.

Signed-in callers only; the bundle holds only the events the caller may read
(:func:`ledger.store.visibility.visible`: a member's own and what others' visibility lets it
read; the consortium admin every event), and still verifies whole. The bundle holds the
events as captured, their hashes, proofs, roots, the anchoring transactions and blocks,
recorders, the contract address, chain id and genesis hash: ``tracechain verify-bundle FILE
--rpc URL`` checks it against any node of the chain, with no database and no API.

The bundle is streamed: the selection is checked, counted and its chain reads done first (so
every refusal is a problem answer, before any byte of the bundle), then the JSON is written
page by page from keyset-paged queries (:mod:`ledger.bundle.stream`), in constant memory
whatever the number of events (at most :data:`ledger.bundle.MAX_BUNDLE_EVENTS`, else 400).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from api.deps import ServicesDep, SignedInViewerDep
from api.problems import problem_responses
from api.schemas import IsoDateTime
from ledger.bundle import BUNDLE_FORMAT
from ledger.bundle.stream import BundlePlan, plan_bundle

router = APIRouter(tags=["Identifiers"])


def _plan(services: Any, **scope: Any) -> BundlePlan:
    return plan_bundle(services.engine, services.chain, services.deployment(), **scope)


def _encoded(plan: BundlePlan) -> Iterator[bytes]:
    for chunk in plan.chunks():
        yield chunk.encode()


@router.get(
    "/export",
    summary="Export a verification bundle (identifier, lot or time range)",
    response_class=StreamingResponse,
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
    viewer: SignedInViewerDep,
    identifier: Annotated[
        str | None, Query(description="Events mentioning it (or items of its lot).")
    ] = None,
    lot: Annotated[str | None, Query(description="Events of this lot (any LGTIN form).")] = None,
    from_time: Annotated[
        IsoDateTime | None,
        Query(alias="from", description="Event time at or after (ISO 8601 / RFC 3339)."),
    ] = None,
    to_time: Annotated[
        IsoDateTime | None,
        Query(alias="to", description="Event time before (ISO 8601 / RFC 3339)."),
    ] = None,
    trace: Annotated[
        Literal["backward", "forward"] | None,
        Query(description="Add every event of the identifier's trace in this direction."),
    ] = None,
) -> StreamingResponse:
    """The bundle of the selected events: give ``identifier`` or ``lot``, and/or ``from`` /
    ``to``. Times need a UTC offset. The body is streamed (chunked). Only events the caller
    may read are bundled (the trace walks only through them); their proofs verify alone."""
    plan = await run_in_threadpool(
        _plan,
        services,
        identifier=identifier,
        lot=lot,
        from_time=from_time,
        to_time=to_time,
        trace=trace,
        reader=viewer,
    )
    return StreamingResponse(
        _encoded(plan),
        media_type="application/json",
        headers={
            "Content-Disposition": 'attachment; filename="tracechain-bundle.json"',
            "Cache-Control": "no-store",
        },
    )
