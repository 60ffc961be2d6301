"""FastAPI dependencies: the app's services, a database session, the caller and its role."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Query, Request, Security
from fastapi.security import HTTPAuthorizationCredentials
from sqlmodel import Session

from api.auth import (
    Principal,
    bearer_scheme,
    capability_reader,
    header_scheme,
    presented_link_token,
    principal_of,
    require_role,
)
from api.problems import ProblemError
from api.services import Services
from ledger.visibility import Reader


def get_services(request: Request) -> Services:
    """The app's services."""
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_session(services: ServicesDep) -> Iterator[Session]:
    """A database session for the route itself (closed afterwards). It takes a connection at
    its first query and keeps it until the route returns, so only routes that just query use
    it; anything slower (chain calls, rendering) opens short connections of its own."""
    with services.sessions() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def get_principal(
    request: Request,
    services: ServicesDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)],
    header_key: Annotated[str | None, Security(header_scheme)],
) -> Principal:
    """The caller, from its API key (401 without a valid one). The key is looked up in a
    session of its own, closed at once: a connection held for the whole request (a capture
    writes through another one) let ~15 concurrent captures exhaust the pool."""
    with services.sessions() as session:
        return principal_of(request, session, bearer, header_key)


PrincipalDep = Annotated[Principal, Depends(get_principal)]

_admin = require_role("admin")
_recorder = require_role("recorder")
_member = require_role("recorder", "auditor")
_reader = require_role("admin", "recorder", "auditor")


def admin(who: PrincipalDep) -> Principal:
    """The consortium admin (403 for any other key)."""
    return _admin(who)


def recorder(who: PrincipalDep) -> Principal:
    """A member's recorder key."""
    return _recorder(who)


def member(who: PrincipalDep) -> Principal:
    """A member's key of any role."""
    return _member(who)


def reader(who: PrincipalDep) -> Principal:
    """Anyone with a key: the admin or a member."""
    return _reader(who)


AdminDep = Annotated[Principal, Depends(admin)]
RecorderDep = Annotated[Principal, Depends(recorder)]
MemberDep = Annotated[Principal, Depends(member)]
ReaderDep = Annotated[Principal, Depends(reader)]


#: A capability link's token in the URL (the use log never keeps it).
AccessQuery = Annotated[
    str | None,
    Query(
        alias="access",
        description="A capability link's token (tcl_...), for a reader without an account; "
        "Authorization: Bearer tcl_... works too.",
        include_in_schema=True,
    ),
]


def _capability(
    request: Request,
    services: Services,
    bearer: HTTPAuthorizationCredentials | None,
    header_key: str | None,
    access: str | None,
) -> Reader | None:
    """The reader of the capability token the request presents, if it presents one (401 for a
    bad one; 400 when it presents an API key too)."""
    token = presented_link_token(bearer, access or getattr(request.state, "access_token", None))
    if token is None:
        return None
    if header_key or (bearer is not None and bearer.credentials != token):
        raise ProblemError(
            400,
            "bad-request",
            "send either an API key or a capability token, not both",
            field="access",
        )
    return capability_reader(request, services.engine, token)


def _viewer(
    request: Request,
    services: Services,
    bearer: HTTPAuthorizationCredentials | None,
    header_key: str | None,
    access: str | None,
    *,
    public: bool,
) -> Reader:
    link = _capability(request, services, bearer, header_key, access)
    if link is not None:
        return link
    if public and bearer is None and not header_key:
        return Reader.public()
    with services.sessions() as session:
        return principal_of(request, session, bearer, header_key).reader


def get_viewer(
    request: Request,
    services: ServicesDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)],
    header_key: Annotated[str | None, Security(header_scheme)],
    access: AccessQuery = None,
) -> Reader:
    """Who reads, for the visibility rule (:func:`ledger.store.visibility.visible`): the
    capability link whose token the request presents, else the caller's API key when it
    presents one (401 for a bad one of either), else a buyer without a key
    (:meth:`Reader.public`)."""
    return _viewer(request, services, bearer, header_key, access, public=True)


def signed_in_viewer(
    request: Request,
    services: ServicesDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)],
    header_key: Annotated[str | None, Security(header_scheme)],
    access: AccessQuery = None,
) -> Reader:
    """Who reads, on the routes that need credentials (401 without them): a capability link
    (read-only, within its scope) or an API key."""
    return _viewer(request, services, bearer, header_key, access, public=False)


#: Who reads a public route (a buyer without a key, or the key presented).
ViewerDep = Annotated[Reader, Depends(get_viewer)]
#: Who reads a members' route (401 without credentials).
SignedInViewerDep = Annotated[Reader, Depends(signed_in_viewer)]
