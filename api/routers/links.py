"""Capability links for regulators: issue, list, see uses, revoke (the consortium admin or a
member's recorder key).

A link is a read-only token scoped to one identifier, lot or prefix and optionally an
event-time range; it reads what its issuer reads there, until it expires or is revoked. Its
holder needs no account: ``GET /events?access=tcl_...`` (or ``Authorization: Bearer tcl_...``
on any read route that takes a viewer). Every use is logged for the issuer
(``GET /links/{id}/uses``). See :mod:`ledger.access`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response, status
from fastapi.concurrency import run_in_threadpool

from api.auth import Principal, require_role
from api.deps import PrincipalDep, ServicesDep
from api.problems import ProblemError, problem_responses
from api.schemas import LinkCreated, LinkIn, LinkOut, LinkUseOut
from ledger.access import LinkRecord, issue_link, link_uses, links_of, revoke_link
from ledger.store.models import utc_now

router = APIRouter(tags=["Access"])

LinkId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="The link's id.")]

_issuer = require_role("admin", "recorder")


def _issuer_of(who: Principal) -> int | None:
    """The issuing member of ``who`` (``None``: the consortium admin); 403 for other keys."""
    _issuer(who)
    return None if who.is_admin else who.organisation_id


def link_out(record: LinkRecord) -> LinkOut:
    """The API shape of a link (never its token)."""
    return LinkOut(
        id=record.id,
        issuer=record.issuer,
        issued_by=record.issued_by,
        label=record.label,
        scope_kind=record.scope_kind,  # type: ignore[arg-type]
        scope=record.scope_value,
        scope_key=record.scope_key,
        since=record.since,
        until=record.until,
        expires_at=record.expires_at,
        created_at=record.created_at,
        revoked_at=record.revoked_at,
        active=record.revoked_at is None and record.expires_at > utc_now(),
        uses=record.uses,
    )


def _not_found(link_id: str) -> ProblemError:
    return ProblemError(404, "not-found", f"no capability link {link_id}", field="link_id")


@router.post(
    "/links",
    response_model=LinkCreated,
    status_code=status.HTTP_201_CREATED,
    summary="Issue a capability link (token shown once)",
    responses=problem_responses(401, 403, 422),
)
async def create_link(
    body: LinkIn, services: ServicesDep, who: PrincipalDep, response: Response
) -> LinkCreated:
    """A read-only link to the events about ``scope`` (an identifier, a lot or a prefix) with
    an eventTime in ``[since, until)``, as the issuer sees them, until ``expires_at``. The
    token and a ready URL are in this answer only (the token is stored hashed); hand the URL
    to the regulator, who opens it without an account."""
    issuer = _issuer_of(who)
    record, token = await run_in_threadpool(
        issue_link,
        services.engine,
        issuer_id=issuer,
        issued_by=who.key_id,
        scope_kind=body.scope_kind,
        scope=body.scope,
        since=body.since,
        until=body.until,
        expires_at=body.expires_at,
        label=body.label,
    )
    response.headers["Location"] = f"/links/{record.id}"
    return LinkCreated(
        **link_out(record).model_dump(),
        token=token,
        url=f"{services.public_url}/events?access={token}",
    )


@router.get(
    "/links",
    response_model=list[LinkOut],
    summary="The links this issuer issued",
    responses=problem_responses(401, 403),
)
async def list_links(services: ServicesDep, who: PrincipalDep) -> list[LinkOut]:
    """The links this key's member (or the consortium admin) issued, newest first, with how
    often each was used."""
    issuer = _issuer_of(who)
    return [link_out(r) for r in await run_in_threadpool(links_of, services.engine, issuer)]


@router.get(
    "/links/{link_id}/uses",
    response_model=list[LinkUseOut],
    summary="Every use of a link",
    responses=problem_responses(401, 403, 404),
)
async def list_link_uses(
    link_id: LinkId, services: ServicesDep, who: PrincipalDep
) -> list[LinkUseOut]:
    """Who used the link, when, for what and with which answer (newest first, the last
    1,000), refused uses of an expired or revoked link included. Only its issuer sees them."""
    issuer = _issuer_of(who)
    uses = await run_in_threadpool(
        lambda: link_uses(services.engine, issuer_id=issuer, link_id=link_id)
    )
    if uses is None:
        raise _not_found(link_id)
    return [
        LinkUseOut(
            used_at=u.used_at, method=u.method, path=u.path, client=u.client, status=u.status
        )
        for u in uses
    ]


@router.delete(
    "/links/{link_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Revoke a link",
    responses=problem_responses(401, 403, 404),
)
async def delete_link(link_id: LinkId, services: ServicesDep, who: PrincipalDep) -> Response:
    """Revoke a link at once: its token is refused from the next request on (revoking it
    again changes nothing). Only its issuer may revoke it."""
    issuer = _issuer_of(who)
    revoked = await run_in_threadpool(
        lambda: revoke_link(services.engine, issuer_id=issuer, link_id=link_id)
    )
    if revoked is None:
        raise _not_found(link_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
