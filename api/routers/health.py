"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field
from sqlalchemy.exc import SQLAlchemyError

from api.deps import ServicesDep
from api.metrics import BacklogSample
from api.services import Services
from ledger.errors import LedgerError
from ledger.store.health import anchoring_backlog, ping
from ledger.store.models import utc_now

router = APIRouter(tags=["Operations"])


class Health(BaseModel):
    """The process is up."""

    status: str = Field(examples=["ok"])


class Check(BaseModel):
    """One dependency's state."""

    ok: bool
    detail: str
    latency_ms: float


class Readiness(BaseModel):
    """Whether the service can do its work: the database and the chain answer, and events do
    not wait to be anchored longer than the anchoring lag bound."""

    ready: bool
    database: Check
    chain: Check
    anchoring: Check


@router.get("/healthz", response_model=Health, summary="Liveness: the process answers")
async def healthz() -> Health:
    """Always ``ok`` while the process serves requests."""
    return Health(status="ok")


def _check_database(services: Services) -> Check:
    start = time.perf_counter()
    try:
        ping(services.engine)
    except SQLAlchemyError as exc:
        return Check(ok=False, detail=type(exc).__name__, latency_ms=_ms(start))
    return Check(ok=True, detail=services.engine.dialect.name, latency_ms=_ms(start))


def _check_chain(services: Services) -> Check:
    start = time.perf_counter()
    try:
        deployment = services.deployment()
        client = services.chain
        if not client.reachable():
            return Check(ok=False, detail="the chain does not answer", latency_ms=_ms(start))
        if client.chain_id != deployment.chain_id:
            return Check(
                ok=False,
                detail=f"chain id {client.chain_id}, deployment says {deployment.chain_id}",
                latency_ms=_ms(start),
            )
    except LedgerError as exc:
        return Check(ok=False, detail=exc.reason, latency_ms=_ms(start))
    return Check(ok=True, detail=f"chain id {deployment.chain_id}", latency_ms=_ms(start))


def _check_anchoring(services: Services) -> Check:
    """The anchoring lag (the oldest waiting event's age) against its bound."""
    start = time.perf_counter()
    bound = services.settings.anchoring.lag_bound_seconds
    sample = backlog(services)
    if sample is None:
        return Check(ok=False, detail="the outbox cannot be read", latency_ms=_ms(start))
    lag = sample.oldest_pending_age_s
    detail = (
        f"{sample.pending_events} events wait to be anchored, the oldest for {lag:.1f} s"
        f" (bound {bound:g} s)"
    )
    if lag > bound:
        return Check(ok=False, detail="stalled: " + detail, latency_ms=_ms(start))
    return Check(ok=True, detail=detail, latency_ms=_ms(start))


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 3)


@router.get(
    "/readyz",
    response_model=Readiness,
    summary="Readiness: database and chain reachable, anchoring within its lag bound",
    responses={503: {"model": Readiness, "description": "Not ready"}},
)
async def readyz(services: ServicesDep, response: Response) -> Readiness:
    """200 when the database and the chain (with our deployment) answer and no event has
    waited to be anchored longer than ``anchoring.lag_bound_seconds``, else 503."""
    database, chain, anchoring = await asyncio.gather(
        asyncio.to_thread(_check_database, services),
        asyncio.to_thread(_check_chain, services),
        asyncio.to_thread(_check_anchoring, services),
    )
    ready = database.ok and chain.ok and anchoring.ok
    if not ready:
        response.status_code = 503
        response.headers["Retry-After"] = "5"
    return Readiness(ready=ready, database=database, chain=chain, anchoring=anchoring)


def backlog(services: Services) -> BacklogSample | None:
    """The anchoring backlog, read from the outbox and the batches."""
    try:
        read = anchoring_backlog(services.engine)
    except SQLAlchemyError:
        return None
    age = 0.0
    if read.oldest_pending_at is not None:
        age = max(0.0, (utc_now() - read.oldest_pending_at).total_seconds())
    return BacklogSample(read.pending_events, age, read.mined_batches)


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Metrics"}},
)
async def metrics(services: ServicesDep) -> Response:
    """Capture rate, anchoring backlog and lag, request durations, cache statistics."""
    body = await asyncio.to_thread(generate_latest, services.metrics.registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


def cache_stats(services: Services) -> dict[str, tuple[int, int, int]]:
    """Hits, misses and sizes of the app's caches."""
    t = services.trails
    stats: dict[str, Any] = {"trail": (t.hits, t.misses, len(t))}
    return stats
