"""Read grants between members: give, list and revoke (members' recorder keys).

A grant lets another member read this member's events about one identifier, one lot or
everything under one prefix, whatever their visibility, from the next read on and until it is
revoked (:mod:`ledger.access`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status
from fastapi.concurrency import run_in_threadpool

from api.deps import MemberDep, RecorderDep, ServicesDep
from api.problems import ProblemError, problem_responses
from api.schemas import GrantIn, GrantOut, GrantsOut
from ledger.access import GrantRecord, grant, grants_of, revoke_grant

router = APIRouter(tags=["Access"])

GrantId = Annotated[str, Path(max_length=36, description="The grant's id.")]


def grant_out(record: GrantRecord) -> GrantOut:
    """The API shape of a grant."""
    return GrantOut(
        id=record.id,
        grantor=record.grantor,
        grantee=record.grantee,
        scope_kind=record.scope_kind,  # type: ignore[arg-type]
        scope=record.scope_value,
        scope_key=record.scope_key,
        created_at=record.created_at,
        revoked_at=record.revoked_at,
    )


@router.post(
    "/grants",
    response_model=GrantOut,
    status_code=status.HTTP_201_CREATED,
    summary="Grant a member read access",
    responses=problem_responses(401, 403, 409, 422),
)
async def create_grant(
    body: GrantIn, services: ServicesDep, who: RecorderDep, response: Response
) -> GrantOut:
    """Let member ``grantee`` read this member's events about ``scope`` (an identifier, a lot
    or a prefix, as ``scope_kind`` says), whatever their visibility, at once and until the
    grant is revoked. Only this member's own events are shared; a grant is not passed on."""
    record = await run_in_threadpool(
        grant,
        services.engine,
        grantor_id=who.member_id,
        grantee=body.grantee,
        scope_kind=body.scope_kind,
        scope=body.scope,
    )
    response.headers["Location"] = f"/grants/{record.id}"
    return grant_out(record)


@router.get(
    "/grants",
    response_model=GrantsOut,
    summary="Grants given and received",
    responses=problem_responses(401, 403),
)
async def list_grants(
    services: ServicesDep,
    who: MemberDep,
    include_revoked: Annotated[
        bool, Query(description="List revoked grants too (with revoked_at).")
    ] = False,
) -> GrantsOut:
    """The grants this key's member gave and those it received, oldest first."""
    found = await run_in_threadpool(
        grants_of,
        services.engine,
        who.member_id,
        include_revoked=include_revoked,
    )
    return GrantsOut(
        given=[grant_out(g) for g in found.given],
        received=[grant_out(g) for g in found.received],
    )


@router.delete(
    "/grants/{grant_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Revoke a grant",
    responses=problem_responses(401, 403, 404),
)
async def delete_grant(grant_id: GrantId, services: ServicesDep, who: RecorderDep) -> Response:
    """Revoke a grant this member gave, at once (revoking it again changes nothing). Another
    member's grant is answered as one that does not exist."""
    revoked = await run_in_threadpool(
        revoke_grant,
        services.engine,
        grantor_id=who.member_id,
        grant_id=grant_id,
    )
    if revoked is None:
        raise ProblemError(404, "not-found", f"no grant {grant_id}", field="grant_id")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
