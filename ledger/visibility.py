"""Who may read which event: the visibility model, as pure data and pure rules.

Every captured event has a :class:`Visibility`, chosen per capture (else the recording
member's default):

=============  ===========================================================================
``private``     the recording member only
``restricted``  the recording member and the members it names (explicitly, or as the
                ``owning_party`` / ``possessing_party`` of the event's source and
                destination lists)
``linked``      (the default) also every member *linked* to what the event is about: a
                member that itself recorded an event about the same identifier, its lot (an
                item's LGTIN; never a whole GTIN), or its neighbour across an aggregation or
                transformation ("one up, one down": a case and its contents, inputs and
                outputs; never a sibling, such as another supplier's input)
``public``      every member; the public projection of the buyer's page applies
=============  ===========================================================================

Whatever the mode, a member also reads what another member granted it (per identifier, lot or
prefix, until revoked), the consortium admin and the operator's auditors read everything, a
member's auditor reads what its member reads, and a regulator's capability link reads what its
issuer reads within the link's scope. Buyers (no key) read ``linked`` and ``public`` events.

The rule is evaluated once, in SQL, by :func:`ledger.store.visibility.visible`; this module
holds its vocabulary and the pure parts of capture's bookkeeping.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from ledger.errors import InvalidInputError
from ledger.identifiers import IdentifierError, parse

__all__ = [
    "DEFAULT_VISIBILITY",
    "NEIGHBOUR_ROLES",
    "PARTY_TYPES",
    "RELATIONSHIP_EVENT_TYPES",
    "RELATIONSHIP_SIDES",
    "Audience",
    "Reader",
    "ReaderKind",
    "Scope",
    "ScopeKind",
    "Visibility",
    "parse_visibility",
    "party_identifiers",
]


class Visibility(StrEnum):
    """Who besides its recorder may read an event (see the module docstring)."""

    PRIVATE = "private"
    RESTRICTED = "restricted"
    LINKED = "linked"
    PUBLIC = "public"


#: The visibility of events captured without a choice, by a member without a default.
DEFAULT_VISIBILITY: Final = Visibility.LINKED

#: Source/destination types whose party is named a reader of the event (CBV 2.0 §7.5).
PARTY_TYPES: Final = frozenset(
    {
        "owning_party",
        "possessing_party",
        "https://ref.gs1.org/cbv/SDT-owning_party",
        "https://ref.gs1.org/cbv/SDT-possessing_party",
        "urn:epcglobal:cbv:sdt:owning_party",
        "urn:epcglobal:cbv:sdt:possessing_party",
    }
)

#: Event types whose identifiers are neighbours across a relationship (aggregation and
#: association: parent and children; transformation: inputs and outputs).
RELATIONSHIP_EVENT_TYPES: Final = frozenset(
    {"AggregationEvent", "AssociationEvent", "TransformationEvent", "TransactionEvent"}
)
#: The two sides of each relationship, as index roles (``event_identifier.role``): an
#: identifier on one side is a neighbour of those on the other side ("one up, one down": a
#: case and its contents, a transformation's inputs and its outputs), never of those beside it
#: on its own side (the other contents of a case, the other inputs of a transformation, which
#: may be a competitor's).
RELATIONSHIP_SIDES: Final = (
    (frozenset({"parent"}), frozenset({"child", "child_quantity"})),
    (frozenset({"input", "input_quantity"}), frozenset({"output", "output_quantity"})),
)
#: Index roles that take part in a relationship.
NEIGHBOUR_ROLES: Final = frozenset().union(*(a | b for a, b in RELATIONSHIP_SIDES))


def parse_visibility(value: str, *, field: str = "visibility") -> Visibility:
    """A visibility from its name (case-insensitive).

    Raises:
        InvalidInputError: not one of :class:`Visibility`, naming ``field``.
    """
    try:
        return Visibility(value.strip().lower())
    except ValueError:
        names = ", ".join(mode.value for mode in Visibility)
        raise InvalidInputError(
            f"unknown visibility {value!r}: expected one of {names}", field=field
        ) from None


@dataclass(frozen=True, slots=True)
class Audience:
    """What a capture says about who may read its events."""

    visibility: Visibility = DEFAULT_VISIBILITY
    #: Members (store ids) named readers of every event of the capture.
    readers: frozenset[int] = frozenset()


class ScopeKind(StrEnum):
    """What a grant or a capability link covers."""

    IDENTIFIER = "identifier"
    LOT = "lot"
    PREFIX = "prefix"


@dataclass(frozen=True, slots=True)
class Scope:
    """A part of the ledger: events about any of ``keys`` (canonical identifiers, classes or
    normalised prefixes, as in ``event_scope``), recorded in ``[since, until)``."""

    keys: frozenset[str] = frozenset()
    since: datetime | None = None
    until: datetime | None = None


class ReaderKind(StrEnum):
    """Kinds of callers the visibility rule knows."""

    #: The consortium admin or an operator's auditor: every event.
    OPERATOR = "operator"
    #: A member's key (recorder or auditor): what the member may read.
    MEMBER = "member"
    #: A regulator's capability link: what its issuer reads, within its scope.
    CAPABILITY = "capability"
    #: A buyer without a key: ``linked`` and ``public`` events.
    PUBLIC = "public"


@dataclass(frozen=True, slots=True)
class Reader:
    """Who reads, for the visibility rule."""

    kind: ReaderKind
    #: The member (store id) of a :attr:`ReaderKind.MEMBER` reader, or the issuing member of
    #: a capability link (``None``: issued by the consortium admin).
    organisation_id: int | None = None
    #: A capability link's scope.
    scope: Scope | None = None
    #: Names for logs (a key id, a link id); never a secret.
    label: str = field(default="", compare=False)

    @classmethod
    def operator(cls, label: str = "") -> Reader:
        """The consortium admin or an operator's auditor."""
        return cls(ReaderKind.OPERATOR, label=label)

    @classmethod
    def member(cls, organisation_id: int, label: str = "") -> Reader:
        """A member's key."""
        return cls(ReaderKind.MEMBER, organisation_id, label=label)

    @classmethod
    def public(cls) -> Reader:
        """A buyer without a key."""
        return cls(ReaderKind.PUBLIC)

    @classmethod
    def capability(cls, issuer: int | None, scope: Scope, label: str = "") -> Reader:
        """A regulator's capability link issued by member ``issuer`` (``None``: the admin)."""
        return cls(ReaderKind.CAPABILITY, issuer, scope, label=label)

    @property
    def sees_everything(self) -> bool:
        """Whether no event is hidden from this reader."""
        return self.kind is ReaderKind.OPERATOR


def _local(value: str) -> str:
    return value.rsplit("-", 1)[-1] if value.startswith("https://ref.gs1.org/cbv/") else value


def party_identifiers(event: Mapping[str, Any]) -> list[str]:
    """The owning and possessing parties an event's source and destination lists name (as
    written), in order, without repeats."""
    found: list[str] = []
    for list_name, member in (("sourceList", "source"), ("destinationList", "destination")):
        entries = event.get(list_name)
        if not isinstance(entries, list):
            continue
        for entry in entries:
            if not isinstance(entry, Mapping):
                continue
            kind, value = entry.get("type"), entry.get(member)
            if (
                isinstance(kind, str)
                and isinstance(value, str)
                and kind in PARTY_TYPES
                and value not in found
            ):
                found.append(value)
    return found


@functools.lru_cache(maxsize=16_384)
def class_facts(klass: str) -> tuple[bool, str | None]:
    """Whether the class ``klass`` (a canonical form) is a lot, and its own class (the GTIN
    of a lot); ``(False, None)`` when it does not parse."""
    try:
        identifier = parse(klass)
    except IdentifierError:
        return False, None
    outer = identifier.class_identifier()
    return identifier.kind == "lgtin", (outer.canonical if outer is not None else None)


def _linkable(row: Mapping[str, Any]) -> list[str]:
    """What one identifier links a member to: itself and its lot (an item's LGTIN), never a
    product-wide class (a GTIN): every member that ever handled one item of a GTIN would
    otherwise read every event of every item and lot of it, competitors' receipts included."""
    keys = [row["canonical"]]
    klass = row.get("class_canonical")
    if klass and class_facts(klass)[0]:
        keys.append(klass)
    return keys


def neighbour_sides(rows: Iterable[Mapping[str, Any]]) -> list[tuple[list[str], list[str]]]:
    """The link keys (identifiers and lots) on each side of each relationship one event's
    index rows hold (see :data:`RELATIONSHIP_SIDES`), for the relationships it has both sides
    of."""
    found: list[tuple[list[str], list[str]]] = []
    rows = list(rows)
    for side_a, side_b in RELATIONSHIP_SIDES:
        a = link_keys(row for row in rows if row["role"] in side_a)
        b = link_keys(row for row in rows if row["role"] in side_b)
        if a and b:
            found.append((a, b))
    return found


def link_keys(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """The keys a member that records an event with these index rows is linked to directly:
    each identifier and its lot (see :func:`_linkable`), in order, without repeats."""
    keys: dict[str, None] = {}
    for row in rows:
        keys.update(dict.fromkeys(_linkable(row)))
    return list(keys)
