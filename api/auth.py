"""API keys: creation (shown once), hashed storage, and the FastAPI dependencies that check them.

Clients send ``X-API-Key: tc_...`` or ``Authorization: Bearer tc_...``. Roles: ``admin`` (the
consortium admin: members, prefixes, keys), ``recorder`` (capture, batches, recalls under its
own prefixes) and ``auditor`` (reads what its member reads; an auditor of no member, the
operator's, reads every event). Buyers' endpoints (verification, resolution, QR codes) need no
key.

A regulator's capability link (:mod:`ledger.access`) is not a key: its token
(``Authorization: Bearer tcl_...`` or ``?access=tcl_...``) only reads, through the routes that
take a viewer (:func:`capability_reader`), never writes.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from fastapi import Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.engine import Engine
from sqlmodel import Session

from api.problems import ProblemError
from ledger.access import LINK_PREFIX, CapabilityError, link_reader, open_link
from ledger.errors import ConfigurationError
from ledger.store.db import session_factory
from ledger.store.keys import active_admin_key, add_api_key, api_key, note_api_key_use
from ledger.store.models import ApiKey, Organisation
from ledger.store.repository import organisation_in
from ledger.visibility import Reader

log = logging.getLogger("tracechain.api")

KEY_PREFIX: Final = "tc_"
_KEY_ID_BYTES: Final = 6
_SECRET_BYTES: Final = 32
#: How often a key's ``last_used_at`` is written at most (seconds).
_TOUCH_INTERVAL_S: Final = 60.0

bearer_scheme = HTTPBearer(
    auto_error=False, bearerFormat="tc_...", description="A tracechain API key."
)
header_scheme = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    description="A tracechain API key (Authorization: Bearer works too).",
)


def new_key() -> tuple[str, str, str]:
    """A new key: ``(key_id, full key, sha256 hex of the key)``."""
    key_id = secrets.token_hex(_KEY_ID_BYTES)
    key = f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(_SECRET_BYTES)}"
    return key_id, key, hash_key(key)


def hash_key(key: str) -> str:
    """SHA-256 hex of a key."""
    return hashlib.sha256(key.encode()).hexdigest()


def split_key(key: str) -> str | None:
    """The key id of a well-formed key, else ``None``."""
    if not key.startswith(KEY_PREFIX) or len(key) > 200:
        return None
    key_id, sep, secret = key[len(KEY_PREFIX) :].partition("_")
    if not sep or not secret or len(key_id) != 2 * _KEY_ID_BYTES:
        return None
    return key_id


def create_api_key(
    session: Session, *, role: str, organisation_id: int | None, label: str = ""
) -> tuple[ApiKey, str]:
    """Store a new key (hashed) and commit the session; return its row and the key itself
    (to show once)."""
    key_id, key, digest = new_key()
    row = add_api_key(
        session,
        key_id=key_id,
        key_hash=digest,
        organisation_id=organisation_id,
        role=role,
        label=label,
    )
    return row, key


def bootstrap_admin_key(engine: Engine, configured: str | None) -> str | None:
    """Make sure the consortium admin can authenticate.

    With a configured key, its hash is stored (once). Without one, the first start creates a
    key, stores its hash and returns it so that it is printed once; later starts return
    ``None``.

    Raises:
        ConfigurationError: the configured key is malformed, or its key id names another key.
    """
    with session_factory(engine)() as session:
        if configured:
            key_id = split_key(configured)
            if key_id is None:
                raise ConfigurationError(
                    "TRACECHAIN_ADMIN_API_KEY must look like tc_{12 hex}_{secret}"
                )
            row = api_key(session, key_id)
            if row is None:
                add_api_key(
                    session,
                    key_id=key_id,
                    key_hash=hash_key(configured),
                    organisation_id=None,
                    role="admin",
                    label="consortium admin (configured)",
                )
            elif row.role != "admin" or row.key_hash != hash_key(configured):
                raise ConfigurationError("TRACECHAIN_ADMIN_API_KEY collides with another key id")
            return None
        if active_admin_key(session) is not None:
            return None
        _, key = create_api_key(
            session, role="admin", organisation_id=None, label="consortium admin (first start)"
        )
        return key


def announce_admin_key(key: str) -> None:
    """Print a freshly created admin key once (stderr), with how to keep it."""
    print(
        "\ntracechain: created the consortium admin API key (shown only now; store it safely, "
        f"or set TRACECHAIN_ADMIN_API_KEY):\n\n    {key}\n",
        file=sys.stderr,
        flush=True,
    )


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the key, its role and its organisation."""

    key_id: str
    role: str
    organisation_id: int | None
    org_id: str | None
    org_name: str | None

    @property
    def is_admin(self) -> bool:
        """Whether this is the consortium admin."""
        return self.role == "admin"

    @property
    def reader(self) -> Reader:
        """Who this key reads as (:mod:`ledger.visibility`): the consortium admin and the
        operator's auditors (keys of no member) read every event; a member's keys, of any
        role, read what their member may read."""
        if self.organisation_id is None:
            return Reader.operator(self.key_id)
        return Reader.member(self.organisation_id, self.key_id)

    @property
    def member_id(self) -> int:
        """The store id of this key's member (403 ``wrong-role`` for a key of no member: the
        admin's, an operator auditor's)."""
        if self.organisation_id is None:
            raise ProblemError(
                403, "wrong-role", "this needs a member's key", field="Authorization"
            )
        return self.organisation_id


def _unauthorized(slug: str, detail: str) -> ProblemError:
    return ProblemError(
        401,
        slug,
        detail,
        field="Authorization",
        headers={"WWW-Authenticate": 'Bearer realm="tracechain"'},
    )


_last_touch: dict[str, float] = {}


def authenticate(session: Session, key: str) -> Principal:
    """The principal of ``key``; raises 401/403 problems for bad, revoked or suspended keys."""
    key_id = split_key(key)
    if key_id is None:
        raise _unauthorized("invalid-credentials", "the API key is malformed")
    row = api_key(session, key_id)
    if row is None or not hmac.compare_digest(row.key_hash, hash_key(key)):
        raise _unauthorized("invalid-credentials", "the API key is not valid")
    if row.revoked_at is not None:
        raise _unauthorized("invalid-credentials", "the API key was revoked")
    org: Organisation | None = None
    if row.organisation_id is not None:
        org = organisation_in(session, id=row.organisation_id)
        if org is None:
            raise _unauthorized("invalid-credentials", "the API key's member no longer exists")
        if not org.active:
            raise ProblemError(
                403, "member-suspended", f"member {org.name!r} is suspended", field="member"
            )
    now = time.monotonic()
    if now - _last_touch.get(key_id, 0.0) > _TOUCH_INTERVAL_S:
        _last_touch[key_id] = now
        # A transaction of its own: SQLite (WAL) refuses to turn this read transaction into a
        # write when another writer committed meanwhile (see note_api_key_use).
        note_api_key_use(session, row)
    return Principal(
        key_id=key_id,
        role=row.role,
        organisation_id=row.organisation_id,
        org_id=org.org_id if org else None,
        org_name=org.name if org else None,
    )


def _presented_key(
    bearer: HTTPAuthorizationCredentials | None, header_key: str | None
) -> str | None:
    if bearer is not None and bearer.credentials:
        return bearer.credentials
    return header_key or None


def principal_of(
    request: Request,
    session: Session,
    bearer: HTTPAuthorizationCredentials | None,
    header_key: str | None,
) -> Principal:
    """Authenticate the key a request presents (401 when there is none)."""
    key = _presented_key(bearer, header_key)
    if key is None:
        raise _unauthorized(
            "unauthorized",
            "this endpoint needs an API key: send it as X-API-Key: tc_... "
            "(or Authorization: Bearer tc_...)",
        )
    if key.startswith(LINK_PREFIX):
        raise _unauthorized(
            "unauthorized",
            "a capability link only reads events; this endpoint needs an API key",
        )
    who = authenticate(session, key)
    request.state.principal = who
    return who


def require_role(*roles: str) -> Callable[[Principal], Principal]:
    """A check that the principal has one of ``roles`` (403 ``wrong-role`` otherwise)."""

    def check(who: Principal) -> Principal:
        if who.role not in roles:
            raise ProblemError(
                403,
                "wrong-role",
                f"a {who.role} key cannot do this; it needs a {' or '.join(roles)} key",
                field="Authorization",
            )
        return who

    return check


#: Where a request's capability link is noted (``request.state``) for the use log
#: (:class:`api.capability.CapabilityUseLog`).
CAPABILITY_STATE: Final = "capability_link"


def presented_link_token(
    bearer: HTTPAuthorizationCredentials | None, access: str | None
) -> str | None:
    """The capability token a request presents (``Authorization: Bearer tcl_...`` or the
    ``access`` query parameter), if any."""
    if bearer is not None and bearer.credentials.startswith(LINK_PREFIX):
        return bearer.credentials
    return access or None


def capability_reader(request: Request, engine: Engine, token: str) -> Reader:
    """Who a capability token reads as (:func:`ledger.access.link_reader`); the link is noted
    on the request so that its use is logged with the answer's status.

    Raises:
        ProblemError: 401 for a malformed, unknown, forged, expired or revoked token.
    """
    try:
        link = open_link(engine, token)
    except CapabilityError as exc:
        if exc.link_id is not None:
            setattr(request.state, CAPABILITY_STATE, exc.link_id)
        raise ProblemError(
            401,
            "invalid-credentials",
            exc.reason,
            field="access",
            headers={"WWW-Authenticate": 'Bearer realm="tracechain"'},
        ) from None
    setattr(request.state, CAPABILITY_STATE, link.id)
    return link_reader(link)
