"""Brand owners' disclosure rules in the store (the SQL of :mod:`ledger.disclosure`).

``disclosure_policy`` holds one row per rule: the owning member, what it covers (a class key or
a normalised prefix), the recording member and event type it is limited to (``""``: any) and
the field groups it discloses. :func:`set_rule` checks that the member owns what the rule
covers: the class's prefix (the longest registered prefix of the identifier is the member's),
or the prefix itself (one of the member's registered prefixes). :func:`trail_rules` reads, for
one trail, the identifier's brand owner and that owner's rules that may apply.

Every function opens its own short transaction on ``engine``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ledger.disclosure import (
    DisclosurePolicy,
    DisclosureRule,
    DisclosureScope,
    PublicField,
    class_key,
    parse_disclosure_scope,
    parse_event_type,
    parse_fields,
    trail_keys,
)
from ledger.errors import ForbiddenError, InvalidInputError
from ledger.identifiers import Identifier, IdentifierError, normalise_prefix, parse
from ledger.origin import owner_of
from ledger.store.models import utc_now
from ledger.store.tables import DISCLOSURE_POLICY, ORGANISATION, PREFIX

__all__ = [
    "TrailDisclosure",
    "delete_rule",
    "rules_of",
    "set_rule",
    "trail_rules",
]

_MAX_SCOPE = 300
_OWNER = ORGANISATION.alias("owner")


@dataclass(frozen=True, slots=True)
class TrailDisclosure:
    """What a trail's projection needs: the identifier's brand owner (on-chain organisation
    id; None: no member owns its prefix), its rule keys (:func:`ledger.disclosure.trail_keys`)
    and the owner's rules over them."""

    owner: str | None
    keys: tuple[str, ...]
    rules: tuple[DisclosureRule, ...]


def _names(text: str) -> frozenset[PublicField]:
    return frozenset(PublicField(name) for name in text.split(",") if name)


def _text(fields: frozenset[PublicField]) -> str:
    return ",".join(group.value for group in PublicField if group in fields)


def _select() -> sa.Select[Any]:
    p = DISCLOSURE_POLICY.c
    return sa.select(
        p.id,
        p.scope_kind,
        p.scope_value,
        p.scope_key,
        p.recorder,
        p.event_type,
        p.fields,
        p.commissioning,
        p.created_at,
        p.updated_at,
        _OWNER.c.org_id.label("owner"),
    ).join(_OWNER, _OWNER.c.id == p.organisation_id)


def _rule(row: Any) -> DisclosureRule:
    return DisclosureRule(
        id=row.id,
        scope_kind=DisclosureScope(row.scope_kind),
        scope_value=row.scope_value,
        scope_key=row.scope_key,
        recorder=row.recorder or None,
        event_type=row.event_type or None,
        policy=DisclosurePolicy(_names(row.fields), _names(row.commissioning)),
        owner=row.owner,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _scope_key(connection: Connection, owner_id: int, kind: DisclosureScope, text: str) -> str:
    """The key of a rule of member ``owner_id`` over ``text`` (raises unless it owns it)."""
    if not text:
        raise InvalidInputError("must not be empty", field="scope")
    if len(text) > _MAX_SCOPE:
        raise InvalidInputError(f"at most {_MAX_SCOPE} characters", field="scope")
    try:
        if kind is DisclosureScope.PREFIX:
            prefix = normalise_prefix(text)
            held = connection.execute(
                sa.select(PREFIX.c.organisation_id).where(PREFIX.c.prefix == prefix)
            ).scalar()
            if held != owner_id:
                raise ForbiddenError(f"{prefix} is not a prefix of this member", field="scope")
            return prefix
        identifier = parse(text)
    except IdentifierError as exc:
        raise InvalidInputError(f"not a valid {kind.value}: {exc.reason}", field="scope") from None
    owner = owner_of(connection, identifier)
    if owner is None or owner.pk != owner_id:
        raise ForbiddenError(
            f"{identifier.canonical} is not under a prefix of this member", field="scope"
        )
    return class_key(identifier)


def set_rule(
    engine: Engine,
    *,
    owner_id: int,
    scope_kind: str,
    scope: str,
    recorder: str | None = None,
    event_type: str | None = None,
    fields: Sequence[str] = (),
    commissioning: Sequence[str] = (),
    now: datetime | None = None,
) -> tuple[DisclosureRule, bool]:
    """Set member ``owner_id``'s rule over ``scope`` (a ``scope_kind``: a class or one of its
    prefixes), for events by ``recorder`` (an on-chain organisation id; None: any member) of
    ``event_type`` (None: any type): the public sees ``fields`` of them, and ``commissioning``
    besides of the owner's own commissioning events. A rule for the same scope, recorder and
    type is replaced. Returns the rule and whether it is new.

    Raises:
        InvalidInputError: a bad scope kind, scope, recorder, event type or field group
            (naming it).
        ForbiddenError: the member does not own the scope.
    """
    kind = parse_disclosure_scope(scope_kind)
    kind_type = parse_event_type(event_type)
    shown = parse_fields(fields, field="fields")
    extra = parse_fields(commissioning, field="commissioning")
    moment = now or utc_now()
    p = DISCLOSURE_POLICY.c
    with engine.begin() as connection:
        key = _scope_key(connection, owner_id, kind, scope.strip())
        who = ""
        if recorder is not None and recorder.strip():
            who = recorder.strip().lower()
            if (
                connection.execute(
                    sa.select(ORGANISATION.c.id).where(ORGANISATION.c.org_id == who)
                ).first()
                is None
            ):
                raise InvalidInputError(f"no member {who}", field="recorder")
        match = sa.and_(
            p.organisation_id == owner_id,
            p.scope_key == key,
            p.recorder == who,
            p.event_type == (kind_type or ""),
        )
        existing = connection.execute(sa.select(p.id).where(match)).scalar()
        values = {
            "scope_kind": kind.value,
            "scope_value": scope.strip(),
            "fields": _text(shown),
            "commissioning": _text(extra),
            "updated_at": moment,
        }
        if existing is None:
            rule_id = str(uuid.uuid4())
            connection.execute(
                sa.insert(DISCLOSURE_POLICY).values(
                    id=rule_id,
                    organisation_id=owner_id,
                    scope_key=key,
                    recorder=who,
                    event_type=kind_type or "",
                    created_at=moment,
                    **values,
                )
            )
        else:
            rule_id = str(existing)
            connection.execute(sa.update(DISCLOSURE_POLICY).where(p.id == rule_id).values(values))
        row = connection.execute(_select().where(p.id == rule_id)).one()
    return _rule(row), existing is None


def rules_of(engine: Engine, owner_id: int) -> list[DisclosureRule]:
    """Member ``owner_id``'s rules, oldest first."""
    p = DISCLOSURE_POLICY.c
    statement = _select().where(p.organisation_id == owner_id).order_by(p.created_at, p.id)
    with engine.connect() as connection:
        return [_rule(row) for row in connection.execute(statement)]


def delete_rule(engine: Engine, owner_id: int, rule_id: str) -> bool:
    """Delete member ``owner_id``'s rule ``rule_id``; False when it has no such rule."""
    p = DISCLOSURE_POLICY.c
    statement = sa.delete(DISCLOSURE_POLICY).where(p.id == rule_id, p.organisation_id == owner_id)
    with engine.begin() as connection:
        return connection.execute(statement).rowcount > 0


def trail_rules(engine: Engine, identifier: Identifier) -> TrailDisclosure:
    """The brand owner of ``identifier`` and its rules that may apply to its trail."""
    keys = tuple(trail_keys(identifier))
    with engine.connect() as connection:
        owner = owner_of(connection, identifier)
        if owner is None:
            return TrailDisclosure(None, keys, ())
        p = DISCLOSURE_POLICY.c
        rows = connection.execute(
            _select().where(p.organisation_id == owner.pk, p.scope_key.in_(list(keys)))
        ).all()
    return TrailDisclosure(owner.org_id, keys, tuple(_rule(row) for row in rows))
