"""Members, their prefixes, settings, API keys and signing keys (the consortium admin's
endpoints; a member changes its own settings), and the operator's auditor keys."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response, status
from sqlmodel import Session

from api.auth import create_api_key
from api.deps import AdminDep, PrincipalDep, ReaderDep, ServicesDep, SessionDep
from api.problems import ProblemError, problem_responses
from api.schemas import (
    ApiKeyCreated,
    ApiKeyIn,
    ApiKeyOut,
    MemberDetailOut,
    MemberIn,
    MemberOut,
    MemberSettingsIn,
    MeOut,
    OperatorKeyIn,
    PrefixIn,
    PrefixOut,
    RoleName,
    SigningKeyOut,
)
from ledger.access import set_default_visibility
from ledger.identifiers import IdentifierError, normalise_prefix
from ledger.membership import Member
from ledger.store.keys import api_keys_of, operator_keys, revoke_api_key, revoke_operator_key
from ledger.store.models import ApiKey, Organisation, OrgRole
from ledger.store.repository import organisation_in, organisation_prefixes
from ledger.store.visibility import default_visibility

router = APIRouter(tags=["Members"])

OrgId = Annotated[
    str,
    Path(pattern=r"^0x[0-9a-fA-F]{64}$", description="On-chain organisation id (bytes32, hex)."),
]

_ROLE_FLAGS: dict[str, int] = {"recorder": OrgRole.RECORDER, "auditor": OrgRole.AUDITOR}


def _roles(flags: int) -> list[RoleName]:
    names: list[RoleName] = []
    if flags & OrgRole.RECORDER:
        names.append("recorder")
    if flags & OrgRole.AUDITOR:
        names.append("auditor")
    return names


def member_out(member: Member) -> MemberOut:
    """The API shape of a member."""
    return MemberOut(
        org_id=member.org_id,
        name=member.name,
        roles=_roles(member.roles),
        active=member.active,
        signing_addresses=list(member.signing_addresses),
        prefixes=list(member.prefixes),
    )


def _key_out(row: ApiKey, org_id: str | None) -> ApiKeyOut:
    return ApiKeyOut(
        key_id=row.key_id,
        role=row.role,
        label=row.label,
        org_id=org_id,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
    )


def _normalised(prefix: str, field: str) -> str:
    """The normalised prefix; an invalid one is a 400 naming the request ``field``."""
    try:
        return normalise_prefix(prefix)
    except IdentifierError as exc:
        reason = f"{exc.field}: {exc.reason}" if exc.field and exc.field != "prefix" else exc.reason
        raise type(exc)(reason, field=field) from None


def _organisation(session: Session, org_id: str) -> Organisation:
    org = organisation_in(session, org_id=org_id)
    if org is None:
        raise ProblemError(404, "not-found", f"no member {org_id.lower()}", field="org_id")
    return org


@router.get("/me", response_model=MeOut, summary="Who this API key belongs to")
def me(who: PrincipalDep, services: ServicesDep) -> MeOut:
    """The key's role and organisation, with the prefixes the organisation owns and the
    visibility of its events captured without a choice."""
    prefixes: list[str] = []
    visibility = None
    if who.organisation_id is not None:
        prefixes = [p.prefix for p in organisation_prefixes(services.engine, who.organisation_id)]
        visibility = default_visibility(services.engine, who.organisation_id).value
    return MeOut(
        key_id=who.key_id,
        role=who.role,
        org_id=who.org_id,
        name=who.org_name,
        prefixes=prefixes,
        default_visibility=visibility,  # type: ignore[arg-type]
    )


@router.post(
    "/members",
    response_model=MemberOut,
    status_code=status.HTTP_201_CREATED,
    summary="Admit a member",
    responses=problem_responses(400, 401, 403, 409, 422, 503),
)
def admit_member(
    body: MemberIn, services: ServicesDep, _: AdminDep, response: Response
) -> MemberOut:
    """Admit an organisation: a database row, a new signing key in the keyring and
    ``admitMember`` on chain; then assign its prefixes. Create its API keys with
    ``POST /members/{org_id}/api-keys``."""
    prefixes = [_normalised(p, f"prefixes[{i}]") for i, p in enumerate(body.prefixes)]
    roles = 0
    for name in body.roles:
        roles |= _ROLE_FLAGS[name]
    member = services.membership().admit(
        body.name, roles, org_id=body.org_id.lower() if body.org_id else None,
        prefixes=prefixes,
    )  # fmt: skip
    response.headers["Location"] = f"/members/{member.org_id}"
    return member_out(member)


@router.get("/members", response_model=list[MemberOut], summary="List members")
def list_members(services: ServicesDep, _: ReaderDep) -> list[MemberOut]:
    """Every member, with its roles, state, signing addresses and prefixes."""
    return [member_out(m) for m in services.membership_reader().members()]


def member_detail(services: ServicesDep, member: Member) -> MemberDetailOut:
    """The API shape of a member with its settings."""
    visibility = default_visibility(services.engine, member.id).value
    return MemberDetailOut(
        **member_out(member).model_dump(),
        default_visibility=visibility,  # type: ignore[arg-type]
    )


@router.get(
    "/members/{org_id}",
    response_model=MemberDetailOut,
    summary="One member",
    responses=problem_responses(401, 404),
)
def get_member(org_id: OrgId, services: ServicesDep, _: ReaderDep) -> MemberDetailOut:
    """A member by organisation id, with its settings."""
    return member_detail(services, services.membership_reader().member(org_id))


@router.patch(
    "/members/{org_id}",
    response_model=MemberDetailOut,
    summary="Change a member's settings",
    responses=problem_responses(401, 403, 404, 422),
)
def update_member(
    org_id: OrgId, body: MemberSettingsIn, services: ServicesDep, who: PrincipalDep
) -> MemberDetailOut:
    """Set ``default_visibility``, the visibility of the member's events captured without a
    choice (``private``, ``restricted``, ``linked`` or ``public``); events stored before keep
    theirs. The consortium admin, or the member's own recorder key."""
    member = services.membership_reader().member(org_id)
    if not who.is_admin and (who.role != "recorder" or who.organisation_id != member.id):
        raise ProblemError(
            403,
            "forbidden",
            "only the consortium admin or the member's own recorder key changes its settings",
            field="org_id",
        )
    set_default_visibility(services.engine, member.id, body.default_visibility)
    return member_detail(services, member)


@router.post(
    "/members/{org_id}/suspend",
    response_model=MemberOut,
    summary="Suspend a member",
    responses=problem_responses(401, 403, 404),
)
def suspend_member(org_id: OrgId, services: ServicesDep, _: AdminDep) -> MemberOut:
    """Suspend a member on chain and here: its keys can no longer record, anchor or recall."""
    return member_out(services.membership().suspend(org_id))


@router.post(
    "/members/{org_id}/reinstate",
    response_model=MemberOut,
    summary="Reinstate a member",
    responses=problem_responses(401, 403, 404),
)
def reinstate_member(org_id: OrgId, services: ServicesDep, _: AdminDep) -> MemberOut:
    """Reinstate a suspended member."""
    return member_out(services.membership().reinstate(org_id))


@router.post(
    "/members/{org_id}/prefixes",
    response_model=PrefixOut,
    status_code=status.HTTP_201_CREATED,
    summary="Assign an identifier prefix",
    responses=problem_responses(400, 401, 403, 404, 409, 422),
)
def assign_prefix(org_id: OrgId, body: PrefixIn, services: ServicesDep, _: AdminDep) -> PrefixOut:
    """Assign a GS1 company prefix, handle prefix or OID arc to a member (here and on chain).
    Only its owner may commission or recall identifiers under it."""
    normalised = services.membership().assign_prefix(org_id, _normalised(body.prefix, "prefix"))
    return PrefixOut(prefix=normalised, org_id=org_id.lower())


@router.post(
    "/members/{org_id}/signing-keys",
    response_model=SigningKeyOut,
    summary="Rotate the member's signing key",
    responses=problem_responses(401, 403, 404),
)
def rotate_signing_key(org_id: OrgId, services: ServicesDep, _: AdminDep) -> SigningKeyOut:
    """Create a new signing key, admit it on chain and revoke the old ones; events anchored
    with the old keys stay valid."""
    membership = services.membership()
    address = membership.rotate_key(org_id)
    member = membership.member(org_id)
    return SigningKeyOut(
        org_id=member.org_id, address=address, signing_addresses=list(member.signing_addresses)
    )


@router.post(
    "/members/{org_id}/api-keys",
    response_model=ApiKeyCreated,
    status_code=status.HTTP_201_CREATED,
    summary="Create an API key (shown once)",
    responses=problem_responses(401, 403, 404, 409, 422),
)
def create_key(org_id: OrgId, body: ApiKeyIn, session: SessionDep, _: AdminDep) -> ApiKeyCreated:
    """A new API key for the member, with the role ``recorder`` or ``auditor`` (which the
    member must hold). The key is in this answer only; it is stored hashed."""
    org = _organisation(session, org_id)
    if not org.roles & _ROLE_FLAGS[body.role]:
        raise ProblemError(
            409,
            "conflict",
            f"member {org.name!r} does not hold the {body.role} role",
            field="role",
        )
    assert org.id is not None
    row, key = create_api_key(session, role=body.role, organisation_id=org.id, label=body.label)
    return ApiKeyCreated(**_key_out(row, org.org_id).model_dump(), key=key)


@router.get(
    "/members/{org_id}/api-keys",
    response_model=list[ApiKeyOut],
    summary="List a member's API keys",
    responses=problem_responses(401, 403, 404),
)
def list_keys(org_id: OrgId, session: SessionDep, who: PrincipalDep) -> list[ApiKeyOut]:
    """The member's keys (never the keys themselves): the admin's view, or the member's own."""
    org = _organisation(session, org_id)
    if not who.is_admin and who.organisation_id != org.id:
        raise ProblemError(403, "forbidden", "these are another member's keys", field="org_id")
    assert org.id is not None
    return [_key_out(row, org.org_id) for row in api_keys_of(session, org.id)]


@router.delete(
    "/members/{org_id}/api-keys/{key_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Revoke an API key",
    responses=problem_responses(401, 403, 404),
)
def revoke_key(
    org_id: OrgId,
    key_id: Annotated[str, Path(pattern=r"^[0-9a-f]{12}$")],
    session: SessionDep,
    who: PrincipalDep,
) -> Response:
    """Revoke a key at once (the admin, or the member itself)."""
    org = _organisation(session, org_id)
    if not who.is_admin and who.organisation_id != org.id:
        raise ProblemError(403, "forbidden", "this is another member's key", field="org_id")
    assert org.id is not None
    if revoke_api_key(session, key_id=key_id, organisation_id=org.id) is None:
        raise ProblemError(404, "not-found", f"member has no API key {key_id}", field="key_id")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/keys",
    response_model=ApiKeyCreated,
    status_code=status.HTTP_201_CREATED,
    summary="Create an operator's auditor key (shown once)",
    responses=problem_responses(401, 403, 422),
)
def create_operator_key(body: OperatorKeyIn, session: SessionDep, _: AdminDep) -> ApiKeyCreated:
    """A new ``auditor`` key of no member: the operator's (the independent audit's) key, which
    reads every event of every member and writes nothing. A member's auditor keys
    (``POST /members/{org_id}/api-keys``) read what their member reads. The key is in this
    answer only; it is stored hashed."""
    row, key = create_api_key(session, role=body.role, organisation_id=None, label=body.label)
    return ApiKeyCreated(**_key_out(row, None).model_dump(), key=key)


@router.get(
    "/keys",
    response_model=list[ApiKeyOut],
    summary="List the operator's keys",
    responses=problem_responses(401, 403),
)
def list_operator_keys(session: SessionDep, _: AdminDep) -> list[ApiKeyOut]:
    """The keys of no member (the admin's and the operator's auditors'), never the keys
    themselves."""
    return [_key_out(row, None) for row in operator_keys(session)]


@router.delete(
    "/keys/{key_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Revoke an operator's auditor key",
    responses=problem_responses(401, 403, 404),
)
def revoke_operator_auditor_key(
    key_id: Annotated[str, Path(pattern=r"^[0-9a-f]{12}$")], session: SessionDep, _: AdminDep
) -> Response:
    """Revoke one of the operator's auditor keys at once."""
    if revoke_operator_key(session, key_id) is None:
        raise ProblemError(404, "not-found", f"no operator auditor key {key_id}", field="key_id")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
