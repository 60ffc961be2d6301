"""What a buyer's page shows of an event: the public projection, as pure data and pure rules.

A caller reads the events the visibility rule lets it read (:mod:`ledger.visibility`) in full.
Every other event the public may read (``linked`` and ``public`` ones) appears on a trail only
as its *public projection*: the always-public core plus the :class:`PublicField` groups the
brand owner (the member owning the identifier's prefix) chose to disclose. A buyer without a
key sees every event projected.

The always-public core of an event is its type, its ``eventID``, the member that recorded it,
its hash ID, its anchor and Merkle proof, the server's verification verdict, an error
declaration of it, and the text of a recall notice (``tracechain:recallReason`` /
``tracechain:recallLiftReason``): a recall speaks to every buyer. The ``eventID`` is kept as
the event's name (corrective events and error declarations refer to it); it says no more than
the hash ID does for events that name themselves with a UUID or a hash ID, which is what
EPCIS recommends.

:data:`DEFAULT_POLICY` is deliberately narrow: when and which business step, for every event
type; where and the lot's master data (lot number, production and expiry dates) only for the
brand owner's own commissioning. Quantities, parties (sources, destinations), business
transactions (orders, invoices, prices), sensor readings, the identifiers an event names and
any extension are never disclosed unless the owner chooses them. Which groups a projection
withheld is listed by policy, not by what the event held: a projection does not reveal whether
an event had, say, a business transaction at all.

The owner's choices are rules (:class:`DisclosureRule`) per product class (a GTIN: all its
lots and items) or for a whole prefix, optionally only for one recording member and one event
type; :func:`select_policy` picks the most specific rule that matches an event.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from ledger.errors import InvalidInputError
from ledger.identifiers import Identifier, IdentifierError, prefix_candidates

__all__ = [
    "ALWAYS_PUBLIC",
    "DEFAULT_POLICY",
    "EVENT_TYPES",
    "FIELD_MEMBERS",
    "LIFT_REASON_KEY",
    "RECALL_REASON_KEY",
    "DisclosurePolicy",
    "DisclosureRule",
    "DisclosureScope",
    "PublicField",
    "class_key",
    "commissions",
    "disclosed",
    "member_field",
    "parse_disclosure_scope",
    "parse_event_type",
    "parse_fields",
    "project",
    "select_policy",
    "trail_keys",
    "withheld",
]


class PublicField(StrEnum):
    """A group of an event's members that a brand owner may disclose to the public."""

    #: ``eventTime``, ``eventTimeZoneOffset``, ``recordTime``.
    WHEN = "when"
    #: ``bizStep``, ``disposition``, ``persistentDisposition``, ``action``.
    STEP = "step"
    #: ``readPoint``, ``bizLocation``.
    PLACE = "place"
    #: ``ilmd``: the lot's master data (lot number, production and expiry dates...).
    LOT = "lot"
    #: ``epcList``, ``parentID``, ``childEPCs``, ``inputEPCList``, ``outputEPCList``,
    #: ``transformationID``: which (and how many) objects the event names.
    IDENTIFIERS = "identifiers"
    #: ``quantityList``, ``childQuantityList``, ``inputQuantityList``, ``outputQuantityList``.
    QUANTITY = "quantity"
    #: ``sourceList``, ``destinationList``: owning and possessing parties, locations.
    PARTIES = "parties"
    #: ``bizTransactionList``: purchase orders, invoices, despatch advices.
    TRANSACTIONS = "transactions"
    #: ``sensorElementList``.
    SENSORS = "sensors"
    #: Anything else: ``certificationInfo``, ``@context`` and every extension member.
    EXTENSIONS = "extensions"


#: The EPCIS 2.0 members of each field group (JSON-LD, compact names).
FIELD_MEMBERS: Final[Mapping[PublicField, frozenset[str]]] = {
    PublicField.WHEN: frozenset({"eventTime", "eventTimeZoneOffset", "recordTime"}),
    PublicField.STEP: frozenset({"bizStep", "disposition", "persistentDisposition", "action"}),
    PublicField.PLACE: frozenset({"readPoint", "bizLocation"}),
    PublicField.LOT: frozenset({"ilmd"}),
    PublicField.IDENTIFIERS: frozenset(
        {"epcList", "parentID", "childEPCs", "inputEPCList", "outputEPCList", "transformationID"}
    ),
    PublicField.QUANTITY: frozenset(
        {"quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList"}
    ),
    PublicField.PARTIES: frozenset({"sourceList", "destinationList"}),
    PublicField.TRANSACTIONS: frozenset({"bizTransactionList"}),
    PublicField.SENSORS: frozenset({"sensorElementList"}),
    PublicField.EXTENSIONS: frozenset(),  # everything not named anywhere
}

#: The JSON-LD members our recall notices carry their reason in.
RECALL_REASON_KEY: Final = "tracechain:recallReason"
LIFT_REASON_KEY: Final = "tracechain:recallLiftReason"

#: Members every projection keeps (see the module docstring).
ALWAYS_PUBLIC: Final = frozenset(
    {"type", "eventID", "errorDeclaration", RECALL_REASON_KEY, LIFT_REASON_KEY}
)

_GROUP_OF: Final[dict[str, PublicField]] = {
    member: group for group, members in FIELD_MEMBERS.items() for member in members
}

#: The EPCIS 2.0 event types a rule may be limited to.
EVENT_TYPES: Final = (
    "ObjectEvent",
    "AggregationEvent",
    "TransactionEvent",
    "TransformationEvent",
    "AssociationEvent",
)


def member_field(member: str) -> PublicField | None:
    """The group an event member belongs to; None for a member of the always-public core."""
    if member in ALWAYS_PUBLIC:
        return None
    return _GROUP_OF.get(member, PublicField.EXTENSIONS)


def project(event: Mapping[str, Any], fields: Iterable[PublicField]) -> dict[str, Any]:
    """The public projection of a captured event: its always-public members and those of the
    groups in ``fields``, in the event's order (values as they are: a group is disclosed
    whole or not at all)."""
    allowed = frozenset(fields)
    out: dict[str, Any] = {}
    for member, value in event.items():
        group = member_field(member)
        if group is None or group in allowed:
            out[member] = value
    return out


def withheld(fields: Iterable[PublicField]) -> list[PublicField]:
    """The groups a projection disclosing ``fields`` withholds, in :class:`PublicField`
    order."""
    allowed = frozenset(fields)
    return [group for group in PublicField if group not in allowed]


def _local(value: object) -> str:
    text = value if isinstance(value, str) else ""
    for separator in ("-", "/", ":", "#"):
        text = text.rsplit(separator, 1)[-1]
    return text


def commissions(event: Mapping[str, Any]) -> bool:
    """Whether a captured event brings objects into being: an ObjectEvent ``ADD`` whose
    business step is commissioning (or none), or a TransformationEvent (its outputs)."""
    kind = event.get("type")
    if kind == "ObjectEvent":
        step = event.get("bizStep")
        return event.get("action") == "ADD" and (step is None or _local(step) == "commissioning")
    return kind == "TransformationEvent"


@dataclass(frozen=True, slots=True)
class DisclosurePolicy:
    """What the public sees of an event beyond the always-public core."""

    #: Groups disclosed for every event the policy covers.
    fields: frozenset[PublicField] = frozenset()
    #: Groups disclosed in addition for the brand owner's own commissioning events
    #: (:func:`commissions`): where and which lot it made.
    commissioning: frozenset[PublicField] = frozenset()

    def fields_for(self, event: Mapping[str, Any], *, by_owner: bool) -> frozenset[PublicField]:
        """The groups disclosed of ``event`` (recorded by the brand owner when
        ``by_owner``)."""
        if by_owner and commissions(event):
            return self.fields | self.commissioning
        return self.fields


#: The projection when the brand owner chose none (see the module docstring).
DEFAULT_POLICY: Final = DisclosurePolicy(
    fields=frozenset({PublicField.WHEN, PublicField.STEP}),
    commissioning=frozenset({PublicField.PLACE, PublicField.LOT}),
)


class DisclosureScope(StrEnum):
    """What a brand owner's rule covers."""

    #: A product class (a GTIN): all its lots and items; for identifiers of no class (an
    #: SSCC, a handle), the identifier itself.
    CLASS = "class"
    #: Everything under one of the owner's registered prefixes.
    PREFIX = "prefix"


@dataclass(frozen=True, slots=True)
class DisclosureRule:
    """A brand owner's disclosure choice for a class or a prefix, optionally only for one
    recording member and one event type."""

    id: str
    scope_kind: DisclosureScope
    #: The scope as written, and the key it matches (a canonical class or a normalised
    #: prefix).
    scope_value: str
    scope_key: str
    #: The recording member (on-chain organisation id) it is limited to; None: every member.
    recorder: str | None
    #: The event type it is limited to; None: every type.
    event_type: str | None
    policy: DisclosurePolicy
    #: The owner (on-chain organisation id).
    owner: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None


def class_key(identifier: Identifier) -> str:
    """The key a class rule of ``identifier`` matches: its product class (an item's or a
    lot's GTIN: the last of its classes), or the identifier itself when it has none."""
    current = identifier
    seen = {current.canonical}
    while (klass := current.class_identifier()) is not None and klass.canonical not in seen:
        seen.add(klass.canonical)
        current = klass
    return current.canonical


def trail_keys(identifier: Identifier) -> list[str]:
    """The rule keys of the trail of ``identifier``, most specific first: its class key
    (:func:`class_key`), then every prefix that may own it, longest first."""
    try:
        prefixes = sorted(prefix_candidates(identifier), key=len, reverse=True)
    except (IdentifierError, ValueError):
        prefixes = []
    return [class_key(identifier), *prefixes]


def select_policy(
    rules: Iterable[DisclosureRule],
    keys: Sequence[str],
    *,
    recorder: str | None,
    event_type: str,
) -> DisclosurePolicy:
    """The policy for an event of ``event_type`` recorded by ``recorder`` on the trail of an
    identifier whose scope keys are ``keys`` (most specific first: its class, then its prefixes,
    longest first): of the rules matching it, the one whose scope is most specific, then the
    one limited to the recorder, then the one limited to the event type; else
    :data:`DEFAULT_POLICY`."""
    rank = {key: position for position, key in enumerate(keys)}
    best: tuple[int, bool, bool] | None = None
    chosen = DEFAULT_POLICY
    for rule in rules:
        if rule.scope_key not in rank:
            continue
        if rule.recorder is not None and rule.recorder != (recorder or "").lower():
            continue
        if rule.event_type is not None and rule.event_type != event_type:
            continue
        order = (rank[rule.scope_key], rule.recorder is None, rule.event_type is None)
        if best is None or order < best:
            best, chosen = order, rule.policy
    return chosen


def disclosed(
    rules: Iterable[DisclosureRule],
    keys: Sequence[str],
    event: Mapping[str, Any],
    *,
    recorder: str | None,
    owner: str | None,
) -> frozenset[PublicField]:
    """The groups the public sees of ``event`` (a captured event recorded by ``recorder``) on
    the trail of an identifier with scope ``keys`` whose brand owner is ``owner``."""
    kind = event.get("type")
    policy = select_policy(
        rules, keys, recorder=recorder, event_type=kind if isinstance(kind, str) else ""
    )
    by_owner = owner is not None and recorder is not None and owner.lower() == recorder.lower()
    return policy.fields_for(event, by_owner=by_owner)


# --- parsing what a brand owner sends ------------------------------------------------------


def parse_fields(values: Iterable[str], *, field: str = "fields") -> frozenset[PublicField]:
    """Field groups from their names (case-insensitive).

    Raises:
        InvalidInputError: a name that is no :class:`PublicField`, naming ``field``.
    """
    out: set[PublicField] = set()
    for value in values:
        try:
            out.add(PublicField(value.strip().lower()))
        except ValueError:
            names = ", ".join(group.value for group in PublicField)
            raise InvalidInputError(
                f"unknown field group {value!r}: expected some of {names}", field=field
            ) from None
    return frozenset(out)


def parse_event_type(value: str | None, *, field: str = "event_type") -> str | None:
    """An EPCIS event type (None or empty: every type).

    Raises:
        InvalidInputError: not one of :data:`EVENT_TYPES`, naming ``field``.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text not in EVENT_TYPES:
        raise InvalidInputError(
            f"unknown event type {text!r}: expected one of {', '.join(EVENT_TYPES)}",
            field=field,
        )
    return text


def parse_disclosure_scope(value: str, *, field: str = "scope_kind") -> DisclosureScope:
    """A rule's scope kind from its name (case-insensitive).

    Raises:
        InvalidInputError: not one of :class:`DisclosureScope`, naming ``field``.
    """
    try:
        return DisclosureScope(value.strip().lower())
    except ValueError:
        names = ", ".join(kind.value for kind in DisclosureScope)
        raise InvalidInputError(
            f"unknown scope kind {value!r}: expected one of {names}", field=field
        ) from None
