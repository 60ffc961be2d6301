"""Small read and write helpers for the API and the anchor worker.

Members (organisations), their signing addresses and identifier prefixes, and look-ups of
stored events by EPCIS eventID, by hash, or by an identifier they mention. Inputs are
validated and normalised here (0x-hex ids, EIP-55 addresses, normalised prefixes); a
duplicate that a unique constraint rejects raises :class:`ConflictError`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Final

import sqlalchemy as sa
from eth_utils.address import is_address, to_checksum_address
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from ledger.errors import InvalidInputError
from ledger.identifiers import (
    Identifier,
    IdentifierError,
    epc_uri_at,
    normalise_prefix,
    prefix_candidates,
    prefix_key,
)
from ledger.store.db import session_factory
from ledger.store.indexing import event_hash_of, index_identifier
from ledger.store.models import (
    ROLES,
    Organisation,
    OrgRole,
    Prefix,
    SigningKey,
    utc_now,
)
from ledger.store.records import EVENT_COLUMNS, StoredEvent
from ledger.store.tables import EVENT, EVENT_IDENTIFIER, PREFIX
from ledger.store.visibility import visible
from ledger.visibility import Reader

__all__ = [
    "ConflictError",
    "add_signing_key",
    "assign_prefix",
    "create_organisation",
    "display_epc_uri",
    "events_by_identifier",
    "get_event_by_event_id",
    "get_event_by_hash",
    "get_organisation",
    "normalise_org_id",
    "organisation_in",
    "organisation_prefixes",
    "registered_prefix",
    "revoke_signing_key",
    "signing_keys",
]

_BYTES32: Final = re.compile(r"0x[0-9a-fA-F]{64}")
_EVENT_HASH: Final = re.compile(r"0x[0-9a-f]{64}")
#: Most events :func:`events_by_identifier` returns at once.
MAX_EVENTS: Final = 10_000


class ConflictError(InvalidInputError):
    """The value is already taken (an organisation id, a signing address, a prefix)."""

    problem = "conflict"


def normalise_org_id(org_id: str) -> str:
    """An organisation id (bytes32) as lower-case 0x-hex.

    Raises:
        InvalidInputError: not 0x followed by 64 hex digits.
    """
    if not isinstance(org_id, str) or _BYTES32.fullmatch(org_id) is None:
        raise InvalidInputError("expected 0x followed by 64 hex digits", field="org_id")
    return org_id.lower()


def _checksum(address: str) -> str:
    if not isinstance(address, str) or not is_address(address):
        raise InvalidInputError("not an Ethereum address", field="address")
    return str(to_checksum_address(address))


def create_organisation(
    engine: Engine, *, org_id: str, name: str, roles: int, active: bool = True
) -> Organisation:
    """Add a member.

    Raises:
        InvalidInputError: a bad ``org_id``, an empty name, or unknown role bits.
        ConflictError: ``org_id`` is already registered.
    """
    normalised = normalise_org_id(org_id)
    if not name.strip():
        raise InvalidInputError("must not be empty", field="name")
    if roles < 0 or roles & ~int(OrgRole.RECORDER | OrgRole.AUDITOR):
        raise InvalidInputError("unknown role bits (RECORDER=1, AUDITOR=2)", field="roles")
    organisation = Organisation(org_id=normalised, name=name, roles=int(roles), active=active)
    with session_factory(engine)() as session:
        session.add(organisation)
        try:
            session.commit()
        except IntegrityError:
            raise ConflictError("organisation id already registered", field="org_id") from None
    return organisation


def get_organisation(
    engine: Engine, *, id: int | None = None, org_id: str | None = None
) -> Organisation | None:
    """A member by its row id or its on-chain organisation id (exactly one of them)."""
    with session_factory(engine)() as session:
        return organisation_in(session, id=id, org_id=org_id)


def add_signing_key(
    engine: Engine, *, organisation_id: int, address: str, keystore_path: str | None = None
) -> SigningKey:
    """Record a member's signing address (and where its encrypted keystore is, if here).

    Raises:
        InvalidInputError: not an address, or no such organisation.
        ConflictError: the address is already recorded (addresses are never reused).
    """
    key = SigningKey(
        organisation_id=organisation_id,
        address=_checksum(address),
        keystore_path=keystore_path,
    )
    with session_factory(engine)() as session:
        if session.get(Organisation, organisation_id) is None:
            raise InvalidInputError("no such organisation", field="organisation_id")
        session.add(key)
        try:
            session.commit()
        except IntegrityError:
            raise ConflictError("signing address already recorded", field="address") from None
    return key


def revoke_signing_key(engine: Engine, address: str, *, when: datetime | None = None) -> bool:
    """Mark a signing address revoked; False if it is unknown or was revoked already."""
    with session_factory(engine)() as session:
        statement = select(SigningKey).where(SigningKey.address == _checksum(address))
        key = session.exec(statement).first()
        if key is None or not key.active:
            return False
        key.active = False
        key.revoked_at = when or utc_now()
        session.commit()
        return True


def signing_keys(
    engine: Engine, organisation_id: int, *, active_only: bool = True
) -> list[SigningKey]:
    """A member's signing addresses, oldest first."""
    with session_factory(engine)() as session:
        statement = select(SigningKey).where(SigningKey.organisation_id == organisation_id)
        if active_only:
            statement = statement.where(SigningKey.active == sa.true())
        return list(session.exec(statement.order_by(SigningKey.id)))  # type: ignore[arg-type]


def assign_prefix(engine: Engine, *, organisation_id: int, prefix: str) -> Prefix:
    """Assign an identifier prefix (any accepted spelling, stored normalised) to a member.

    Raises:
        InvalidInputError: not a prefix, or no such organisation.
        ConflictError: the prefix is already assigned.
    """
    try:
        normalised = normalise_prefix(prefix)
        key = prefix_key(normalised)
    except IdentifierError as error:
        raise InvalidInputError(error.reason, field="prefix") from None
    row = Prefix(prefix=normalised, prefix_key="0x" + key.hex(), organisation_id=organisation_id)
    with session_factory(engine)() as session:
        if session.get(Organisation, organisation_id) is None:
            raise InvalidInputError("no such organisation", field="organisation_id")
        session.add(row)
        try:
            session.commit()
        except IntegrityError:
            raise ConflictError(f"{normalised} is already assigned", field="prefix") from None
    return row


def organisation_prefixes(engine: Engine, organisation_id: int) -> list[Prefix]:
    """A member's prefixes, in the order they were assigned."""
    with session_factory(engine)() as session:
        statement = select(Prefix).where(Prefix.organisation_id == organisation_id)
        return list(session.exec(statement.order_by(Prefix.id)))  # type: ignore[arg-type]


def registered_prefix(engine: Engine, identifier: Identifier) -> str | None:
    """The registered prefix that owns ``identifier`` (the longest of its
    :func:`~ledger.identifiers.prefix_candidates` assigned to a member), if any."""
    statement = (
        sa.select(PREFIX.c.prefix)
        .where(PREFIX.c.prefix.in_(list(prefix_candidates(identifier))))
        .order_by(sa.func.length(PREFIX.c.prefix).desc())
        .limit(1)
    )
    with engine.connect() as connection:
        found = connection.execute(statement).scalar()
    return None if found is None else str(found)


def display_epc_uri(engine: Engine, identifier: Identifier) -> str | None:
    """The EPC URI shown for ``identifier`` everywhere: split at the owning member's
    registered company prefix (:func:`ledger.identifiers.epc_uri_at`)."""
    return epc_uri_at(identifier, registered_prefix(engine, identifier))


def _one_event(
    engine: Engine, condition: sa.ColumnElement[bool], reader: Reader
) -> StoredEvent | None:
    """The first record meeting ``condition`` that ``reader`` may read: an error declaration
    first (it supersedes the event it declares in error, whose eventID and hash it shares),
    then in capture order."""
    allowed = visible(reader)
    statement = (
        sa.select(*EVENT_COLUMNS)
        .where(condition, *([] if allowed is None else [allowed]))
        .order_by(EVENT.c.error_declaration.desc(), EVENT.c.id)
        .limit(1)
    )
    with engine.connect() as connection:
        row = connection.execute(statement).mappings().first()
    return None if row is None else StoredEvent.from_row(row)


def get_event_by_hash(
    engine: Engine, hash_or_hash_id: str, *, reader: Reader
) -> StoredEvent | None:
    """The event with this CBV 2.0 Event Hash ID (``ni:///…``) or 0x-hex event hash (its error
    declaration, when it was declared in error: :func:`_one_event`); None when there is none
    or ``reader`` may not read it (the same answer: an event hidden from a reader does not
    exist for it).

    Raises:
        InvalidInputError: neither form.
    """
    if _EVENT_HASH.fullmatch(hash_or_hash_id):
        digest = hash_or_hash_id
    else:
        digest = event_hash_of(hash_or_hash_id)
    return _one_event(engine, EVENT.c.event_hash == digest, reader)


def get_event_by_event_id(engine: Engine, event_id: str, *, reader: Reader) -> StoredEvent | None:
    """The stored event carrying this EPCIS ``eventID`` that ``reader`` may read (None if
    there is none); when an error declaration repeats the eventID, the declaration
    (:func:`_one_event`)."""
    return _one_event(engine, EVENT.c.event_id == event_id, reader)


def events_by_identifier(
    engine: Engine,
    identifier: str,
    *,
    reader: Reader,
    roles: Sequence[str] = ROLES,
    limit: int = 1000,
) -> list[StoredEvent]:
    """Every event ``reader`` may read mentioning ``identifier`` (any form, compared
    canonically) in any of ``roles``, in event-time order (ties in capture order), at most
    ``limit`` of them."""
    if not 1 <= limit <= MAX_EVENTS:
        raise InvalidInputError(f"must be between 1 and {MAX_EVENTS}", field="limit")
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise InvalidInputError(f"unknown roles {sorted(unknown)}", field="roles")
    id_key = index_identifier(identifier).id_key
    mentions = sa.select(EVENT_IDENTIFIER.c.event_pk).where(
        EVENT_IDENTIFIER.c.id_key == id_key, EVENT_IDENTIFIER.c.role.in_(list(roles))
    )
    allowed = visible(reader)
    statement = (
        sa.select(*EVENT_COLUMNS)
        .where(EVENT.c.id.in_(mentions), *([] if allowed is None else [allowed]))
        .order_by(EVENT.c.event_time, EVENT.c.id)
        .limit(limit)
    )
    with engine.connect() as connection:
        rows = connection.execute(statement).mappings().all()
    return [StoredEvent.from_row(row) for row in rows]


def organisation_in(
    session: Session, *, id: int | None = None, org_id: str | None = None
) -> Organisation | None:
    """A member by its row id or its on-chain organisation id (exactly one of them), read in
    the caller's session (:func:`get_organisation` opens one of its own).

    Raises:
        InvalidInputError: both or neither given, or a bad ``org_id``.
    """
    if (id is None) == (org_id is None):
        raise InvalidInputError("give exactly one of id and org_id", field="id")
    if id is not None:
        return session.get(Organisation, id)
    statement = select(Organisation).where(Organisation.org_id == normalise_org_id(org_id or ""))
    return session.exec(statement).first()
