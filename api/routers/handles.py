"""The Handle System REST interface for members' handles: ``GET /api/handles/{prefix}/{suffix}``.

Answers as a Handle proxy does (``responseCode`` 1 with the handle's values; 100 and HTTP 404
for a handle we hold no record of; 102 and 400 for an invalid handle; 200 when the ``type`` /
``index`` filters leave no value; 301, "server not responsible for handle", and 404 for a valid
handle under a prefix no member owns). Errors are RFC 9457
problem+json bodies that also carry ``responseCode`` and ``handle``, so Handle clients and
problem+json clients both understand them.

A handle's values reveal that events about it exist and when the first was recorded, so they
are answered only for a caller (a buyer without a key, or the key presented) that may read one
of its events: for any other caller the handle is unknown (100), like one never recorded.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Final

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from api.deps import ServicesDep, ViewerDep
from api.identity import resolver_url, trail_url
from api.problems import ProblemError, problem_responses
from api.services import Services
from ledger.identifiers import HandleIdentifier, IdentifierError
from ledger.identifiers.handle import parse_handle
from ledger.store.mentions import first_recorded
from ledger.visibility import Reader

router = APIRouter(tags=["Resolver"])

TTL: Final = 86400


class HandleData(BaseModel):
    """A handle value's data."""

    format: str
    value: Any


class HandleValue(BaseModel):
    """One handle value."""

    index: int
    type: str
    data: HandleData
    ttl: int
    timestamp: str


class HandleRecord(BaseModel):
    """A handle record as the Handle REST API returns it."""

    responseCode: int  # noqa: N815 - the Handle REST API's names
    handle: str
    values: list[HandleValue] | None = None
    message: str | None = None


def _handle_problem(status: int, code: int, handle: str, detail: str) -> ProblemError:
    slug = {100: "not-found", 102: "invalid-identifier", 301: "handle-prefix-not-served"}.get(
        code, "bad-request"
    )
    return ProblemError(
        status,
        slug,
        detail,
        field="handle",
        extra={"responseCode": code, "handle": handle, "message": detail},
    )


def _values(
    services: Services, handle: HandleIdentifier, when: datetime, owner: str
) -> list[HandleValue]:
    stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ")

    def value(index: int, kind: str, data: str) -> HandleValue:
        return HandleValue(
            index=index,
            type=kind,
            data=HandleData(format="string", value=data),
            ttl=TTL,
            timestamp=stamp,
        )

    public = services.public_url
    return [
        value(1, "URL", resolver_url(handle, public)),
        value(2, "TRACECHAIN_TRAIL", trail_url(handle, public)),
        value(3, "TRACECHAIN_OWNER", owner),
        value(4, "TRACECHAIN_IDKEY", "0x" + handle.id_key.hex()),
    ]


def _matches(value: HandleValue, types: list[str], indexes: list[int]) -> bool:
    if not types and not indexes:
        return True
    if value.index in indexes:
        return True
    for wanted in types:
        if wanted.endswith(".") and value.type.startswith(wanted):
            return True
        if value.type == wanted:
            return True
    return False


def _lookup(
    services: Services, text: str, types: list[str], indexes: list[int], reader: Reader
) -> HandleRecord:
    try:
        handle = parse_handle(text)
    except IdentifierError as exc:
        raise _handle_problem(400, 102, text, f"invalid handle: {exc.reason}") from None
    canonical = handle.canonical
    owner = services.membership_reader().owner_of(handle)
    if owner is None:
        raise _handle_problem(
            404,
            301,
            canonical,
            f"no member of this ledger owns the prefix {handle.prefix}, so this server is not "
            "responsible for the handle",
        )
    first = first_recorded(services.engine, handle.canonical, reader=reader)
    if first is None:
        raise _handle_problem(404, 100, canonical, "handle not found")
    member = services.membership_reader().member(owner)
    values = [
        v for v in _values(services, handle, first, member.name) if _matches(v, types, indexes)
    ]
    if not values:
        return HandleRecord(responseCode=200, handle=canonical, values=[],
                            message="no values match the given type or index")  # fmt: skip
    return HandleRecord(responseCode=1, handle=canonical, values=values)


@router.get(
    "/api/handles/{handle:path}",
    response_model=HandleRecord,
    response_model_exclude_none=True,
    summary="Handle REST API: resolve a member's handle",
    responses=problem_responses(400, 401, 404),
)
async def resolve_handle(
    handle: str,
    services: ServicesDep,
    reader: ViewerDep,
    type: Annotated[
        list[str] | None, Query(description="Only values of this type (repeatable).")
    ] = None,
    index: Annotated[
        list[int] | None, Query(description="Only the value at this index (repeatable).")
    ] = None,
) -> HandleRecord:
    """The handle record of a handle (``88.118.8/PUMP-0001``) under a member's prefix that the
    ledger holds events for that the caller may read: its resolver URL (index 1, type URL),
    the trail, the owning member and the on-chain identifier key (the values' timestamp is
    the first such event's record time)."""
    return await run_in_threadpool(_lookup, services, handle, type or [], index or [], reader)
