"""Read access beyond an event's visibility: members' grants and regulators' capability links.

A **grant** lets one member (the grantee) read the grantor's events about one identifier, one
lot or everything under one prefix, whatever their visibility, until the grantor revokes it.
A **capability link** is a read-only, expiring, revocable token a member or the consortium
admin issues to someone without an account (a regulator): it reads what its issuer reads,
limited to one identifier, lot or prefix and optionally to an event-time range
``[since, until)``. Both take effect at the next read: the visibility rule
(:func:`ledger.store.visibility.visible`) reads the grants, and a link's
:class:`~ledger.visibility.Reader` is built from its row at each use (:func:`open_link`).

A scope is kept as the ``event_scope`` key it matches (:func:`parse_scope`): an identifier's
canonical form, a lot's canonical class (an LGTIN), or a normalised prefix (``gs1:0614141``,
``handle:88.118.8``).

A link's token is ``tcl_{link id}_{secret}``; only its SHA-256 is stored and it is compared in
constant time, so the token cannot be forged from what the database holds, and it is shown
once, when the link is issued.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy.engine import Engine

from ledger.errors import ConflictError, InvalidInputError, LedgerError
from ledger.identifiers import IdentifierError, normalise_prefix, parse
from ledger.store.access import (
    GrantRecord,
    LinkRecord,
    LinkUseRecord,
    active_grant_id,
    add_grant,
    add_link,
    add_link_use,
    grant_records,
    link_record,
    link_records,
    link_use_records,
    organisation_pk,
    revoke_grant_record,
    revoke_link_record,
)
from ledger.store.access import set_default_visibility as _set_default_visibility
from ledger.store.models import utc_now
from ledger.visibility import Reader, Scope, ScopeKind, Visibility, parse_visibility

__all__ = [
    "DEFAULT_LINK_LIFETIME",
    "LINK_PREFIX",
    "MAX_LINK_LIFETIME",
    "CapabilityError",
    "GrantRecord",
    "Grants",
    "LinkRecord",
    "LinkUseRecord",
    "ScopeChoice",
    "grant",
    "grants_of",
    "hash_link_token",
    "issue_link",
    "link_reader",
    "link_uses",
    "links_of",
    "open_link",
    "parse_scope",
    "record_link_use",
    "revoke_grant",
    "revoke_link",
    "set_default_visibility",
    "split_link_token",
]

#: How a capability link's token starts (API keys start with ``tc_``).
LINK_PREFIX: Final = "tcl_"
_LINK_ID_BYTES: Final = 16
_SECRET_BYTES: Final = 32
_MAX_TOKEN: Final = 200
#: A link's lifetime when its issuer names none.
DEFAULT_LINK_LIFETIME: Final = timedelta(days=30)
#: The longest lifetime a link may have.
MAX_LINK_LIFETIME: Final = timedelta(days=366)
_MAX_SCOPE: Final = 300


class CapabilityError(LedgerError):
    """A capability token that is malformed, unknown, forged, expired or revoked."""

    problem = "invalid-credentials"
    client_error = True

    def __init__(self, reason: str, *, link_id: str | None = None) -> None:
        super().__init__(reason, field="access")
        #: The link a well-formed, genuine token names (expired or revoked), for the use log;
        #: None for a token that names no link or whose secret is wrong.
        self.link_id = link_id


# --- scopes -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScopeChoice:
    """What a grant or link covers: its kind, the value as written, and the ``event_scope``
    key it matches."""

    kind: ScopeKind
    value: str
    key: str


def _scope_kind(kind: str, field: str) -> ScopeKind:
    try:
        return ScopeKind(kind.strip().lower())
    except ValueError:
        names = ", ".join(k.value for k in ScopeKind)
        raise InvalidInputError(
            f"unknown scope kind {kind!r}: expected one of {names}", field=field
        ) from None


def parse_scope(
    kind: str, value: str, *, kind_field: str = "scope_kind", field: str = "scope"
) -> ScopeChoice:
    """The scope of ``kind`` (identifier, lot or prefix) named by ``value``.

    An identifier is any form :func:`ledger.identifiers.parse` reads (its canonical form is
    the key); a lot is an LGTIN, or an item whose class is one (the key is the LGTIN's
    canonical form); a prefix is a GS1 company prefix, handle prefix or OID arc as
    :func:`ledger.identifiers.normalise_prefix` takes it.

    Raises:
        InvalidInputError: an unknown kind (naming ``kind_field``), or a value that is not one
            of its kind (naming ``field``).
    """
    scope_kind = _scope_kind(kind, kind_field)
    text = value.strip()
    if not text:
        raise InvalidInputError("must not be empty", field=field)
    if len(text) > _MAX_SCOPE:
        raise InvalidInputError(f"at most {_MAX_SCOPE} characters", field=field)
    try:
        if scope_kind is ScopeKind.PREFIX:
            return ScopeChoice(scope_kind, text, normalise_prefix(text))
        identifier = parse(text)
    except IdentifierError as exc:
        raise InvalidInputError(
            f"not a valid {scope_kind.value}: {exc.reason}", field=field
        ) from None
    if scope_kind is ScopeKind.IDENTIFIER:
        return ScopeChoice(scope_kind, text, identifier.canonical)
    if identifier.kind == "lgtin":
        return ScopeChoice(scope_kind, text, identifier.canonical)
    klass = identifier.class_identifier()
    if klass is not None and klass.kind == "lgtin":
        return ScopeChoice(scope_kind, text, klass.canonical)
    raise InvalidInputError(
        f"a lot is a GTIN with a batch/lot number (an LGTIN), not a {identifier.kind}",
        field=field,
    )


# --- grants -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Grants:
    """A member's grants: those it gave and those it received."""

    given: list[GrantRecord]
    received: list[GrantRecord]


def grant(
    engine: Engine,
    *,
    grantor_id: int,
    grantee: str,
    scope_kind: str,
    scope: str,
    now: datetime | None = None,
) -> GrantRecord:
    """Let member ``grantee`` (on-chain organisation id) read member ``grantor_id``'s events
    about ``scope`` (a ``scope_kind``: identifier, lot or prefix), from now on.

    Raises:
        InvalidInputError: a bad scope (:func:`parse_scope`), an unknown grantee, or the
            grantor itself (naming ``grantee``).
        ConflictError: the grantee holds this grant already (unrevoked).
    """
    choice = parse_scope(scope_kind, scope)
    grantee_id = organisation_pk(engine, grantee.strip())
    if grantee_id is None:
        raise InvalidInputError(f"no member {grantee.strip().lower()}", field="grantee")
    if grantee_id == grantor_id:
        raise InvalidInputError("a member reads its own events already", field="grantee")
    existing = active_grant_id(engine, grantor_id, grantee_id, choice.key)
    if existing is not None:
        raise ConflictError(
            f"the member holds this grant already (grant {existing})", field="scope"
        )
    return add_grant(
        engine,
        id=str(uuid.uuid4()),
        grantor_id=grantor_id,
        grantee_id=grantee_id,
        scope_kind=choice.kind.value,
        scope_value=choice.value,
        scope_key=choice.key,
        created_at=now or utc_now(),
    )


def revoke_grant(
    engine: Engine, *, grantor_id: int, grant_id: str, now: datetime | None = None
) -> GrantRecord | None:
    """Revoke grant ``grant_id`` of member ``grantor_id`` (at once; revoking it again changes
    nothing); None when that member gave no such grant."""
    return revoke_grant_record(engine, grant_id, grantor_id, now or utc_now())


def grants_of(engine: Engine, organisation_id: int, *, include_revoked: bool = False) -> Grants:
    """The grants member ``organisation_id`` gave and received (unrevoked ones unless
    ``include_revoked``), oldest first."""
    return Grants(
        given=grant_records(engine, grantor_id=organisation_id, include_revoked=include_revoked),
        received=grant_records(engine, grantee_id=organisation_id, include_revoked=include_revoked),
    )


def set_default_visibility(engine: Engine, organisation_id: int, visibility: str) -> Visibility:
    """Set the visibility of member ``organisation_id``'s events captured without a choice.

    Raises:
        InvalidInputError: not a visibility (naming ``default_visibility``), or no such member.
    """
    chosen = parse_visibility(visibility, field="default_visibility")
    if not _set_default_visibility(engine, organisation_id, chosen.value):
        raise InvalidInputError(f"no member {organisation_id}", field="org_id")
    return chosen


# --- capability links ---------------------------------------------------------------------


def hash_link_token(token: str) -> str:
    """SHA-256 hex of a capability token (what is stored)."""
    return hashlib.sha256(token.encode()).hexdigest()


def split_link_token(token: str) -> str | None:
    """The link id of a well-formed capability token, else None."""
    if not token.startswith(LINK_PREFIX) or len(token) > _MAX_TOKEN:
        return None
    link_id, sep, secret = token[len(LINK_PREFIX) :].partition("_")
    if not sep or not secret or len(link_id) != 2 * _LINK_ID_BYTES:
        return None
    if any(c not in "0123456789abcdef" for c in link_id):
        return None
    return link_id


def _range(since: datetime | None, until: datetime | None) -> None:
    for name, value in (("since", since), ("until", until)):
        if value is not None and (value.tzinfo is None or value.utcoffset() is None):
            raise InvalidInputError("needs a time zone offset", field=name)
    if since is not None and until is not None and until <= since:
        raise InvalidInputError("must be later than since", field="until")


def issue_link(
    engine: Engine,
    *,
    issuer_id: int | None,
    issued_by: str,
    scope_kind: str,
    scope: str,
    since: datetime | None = None,
    until: datetime | None = None,
    expires_at: datetime | None = None,
    label: str = "",
    now: datetime | None = None,
) -> tuple[LinkRecord, str]:
    """Issue a read-only capability link for member ``issuer_id`` (``None``: the consortium
    admin) by API key ``issued_by``; returns the link and its token (to show once).

    The link reads the issuer's view of the events about ``scope`` whose event time is in
    ``[since, until)`` (either end open), until ``expires_at`` (default
    :data:`DEFAULT_LINK_LIFETIME` from now, at most :data:`MAX_LINK_LIFETIME`) or until it
    is revoked.

    Raises:
        InvalidInputError: a bad scope, range or expiry, naming the field.
    """
    choice = parse_scope(scope_kind, scope)
    _range(since, until)
    moment = now or utc_now()
    if expires_at is None:
        expires_at = moment + DEFAULT_LINK_LIFETIME
    elif expires_at.tzinfo is None or expires_at.utcoffset() is None:
        raise InvalidInputError("needs a time zone offset", field="expires_at")
    if expires_at <= moment:
        raise InvalidInputError("must be in the future", field="expires_at")
    if expires_at - moment > MAX_LINK_LIFETIME:
        raise InvalidInputError(
            f"at most {MAX_LINK_LIFETIME.days} days from now", field="expires_at"
        )
    link_id = secrets.token_hex(_LINK_ID_BYTES)
    token = f"{LINK_PREFIX}{link_id}_{secrets.token_urlsafe(_SECRET_BYTES)}"
    record = add_link(
        engine,
        id=link_id,
        issuer_id=issuer_id,
        issued_by=issued_by,
        label=label,
        scope_kind=choice.kind.value,
        scope_value=choice.value,
        scope_key=choice.key,
        since=since,
        until=until,
        expires_at=expires_at,
        secret_hash=hash_link_token(token),
        created_at=moment,
    )
    return record, token


def link_reader(link: LinkRecord) -> Reader:
    """Who a use of ``link`` reads as: its issuer's view, within its scope and time range."""
    scope = Scope(keys=frozenset({link.scope_key}), since=link.since, until=link.until)
    return Reader.capability(link.issuer_id, scope, label=f"link {link.id}")


def open_link(engine: Engine, token: str, *, now: datetime | None = None) -> LinkRecord:
    """The link a capability token opens.

    Raises:
        CapabilityError: the token is malformed, names no link, has the wrong secret, or its
            link expired or was revoked (then naming the link, whose use is still logged).
    """
    link_id = split_link_token(token)
    if link_id is None:
        raise CapabilityError("the capability token is malformed")
    link = link_record(engine, link_id)
    # Hash even when there is no such link, so both answers take the same time.
    digest = hash_link_token(token)
    if link is None or not hmac.compare_digest(link.secret_hash, digest):
        raise CapabilityError("the capability token is not valid")
    if link.revoked_at is not None:
        raise CapabilityError("the capability link was revoked", link_id=link.id)
    if link.expires_at <= (now or utc_now()):
        raise CapabilityError("the capability link has expired", link_id=link.id)
    return link


def links_of(engine: Engine, issuer_id: int | None) -> list[LinkRecord]:
    """The links member ``issuer_id`` (``None``: the consortium admin) issued, newest first,
    with their use counts."""
    return link_records(engine, issuer_id)


def revoke_link(
    engine: Engine, *, issuer_id: int | None, link_id: str, now: datetime | None = None
) -> LinkRecord | None:
    """Revoke ``issuer_id``'s link ``link_id`` at once (again: no change); None when that
    issuer has no such link."""
    return revoke_link_record(engine, link_id, issuer_id, now or utc_now())


def link_uses(
    engine: Engine, *, issuer_id: int | None, link_id: str, limit: int = 1000
) -> list[LinkUseRecord] | None:
    """The last ``limit`` uses of ``issuer_id``'s link ``link_id``, newest first; None when
    that issuer has no such link."""
    link = link_record(engine, link_id)
    if link is None or link.issuer_id != issuer_id:
        return None
    return link_use_records(engine, link_id, limit=limit)


def record_link_use(
    engine: Engine,
    link_id: str,
    *,
    method: str,
    path: str,
    client: str | None,
    status: int,
    when: datetime | None = None,
) -> None:
    """Log one use of link ``link_id``: the request (``method``, ``path`` with its query, the
    token left out), the client's address and the answer's status."""
    add_link_use(
        engine,
        link_id,
        used_at=when or utc_now(),
        method=method,
        path=path,
        client=client,
        status=status,
    )
