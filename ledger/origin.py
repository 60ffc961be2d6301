"""Whether a product's brand owner vouches for it: did the member owning the identifier's prefix
commission it?

Anyone in the consortium may record events that *mention* an identifier (a distributor ships a
lot, a packer aggregates items into a case), but only the owner of the GS1 company prefix or
Handle prefix brings one into being (:mod:`ledger.permissions` refuses anyone else's
commissioning). A trail made only of other members' events says nothing about where the product
came from, so it must not read as verified. The owner's *commissioning evidence* is an event
recorded by the owner that is

* an ``ObjectEvent`` with action ``ADD`` and business step ``commissioning`` (or none: an
  ``ADD`` without a business step brings its objects into being just the same), naming the
  identifier or its class (the lot or GTIN of a serialised item) in ``epcList`` or
  ``quantityList``; or
* a ``TransformationEvent`` naming it or its class among its outputs.

The evidence events are verified like every trail event (content, Merkle proof, chain), and the
owner is the member the chain names for the prefix (``prefixOwner``), not only the database's
mirror. The :class:`Origin` of a trail is:

``confirmed``
    at least one evidence event verifies;
``pending``
    evidence exists but is not anchored yet;
``tampered`` / ``unknown``
    the only evidence fails verification / cannot be checked against the chain now;
``unconfirmed``
    the owner recorded no commissioning of the identifier or its class (or the chain does not
    confirm the owner);
``no_owner``
    no member of the ledger owns the identifier's prefix, so no brand owner can vouch for it.
    Such an identifier cannot be commissioned here (capture refuses it as
    ``unassigned-prefix``), so its trail is never "verified" either.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import sqlalchemy as sa

from ledger.identifiers import Identifier, prefix_candidates
from ledger.store.indexing import QUANTITY_ROLES
from ledger.store.integrity import IndexRow
from ledger.store.tables import EVENT, EVENT_IDENTIFIER, ORGANISATION, PREFIX

OriginStatus = Literal["confirmed", "pending", "tampered", "unknown", "unconfirmed", "no_owner"]


#: Index roles naming what an ObjectEvent / a TransformationEvent brings into being.
_OBJECT_ROLES: Final = ("epc", QUANTITY_ROLES["quantity"])
_OUTPUT_ROLES: Final = ("output", QUANTITY_ROLES["output"])
#: Evidence events verified per trail (the earliest ones).
MAX_EVIDENCE: Final = 4
_CANDIDATES: Final = 64
#: The origin the best evidence gives, best first (an event's verification status → origin).
_FROM_EVIDENCE: Final[tuple[tuple[str, OriginStatus], ...]] = (
    ("verified", "confirmed"),
    ("pending", "pending"),
    ("unknown", "unknown"),
    ("tampered", "tampered"),
)


@dataclass(frozen=True, slots=True)
class Owner:
    """The member owning an identifier's prefix, as the database mirrors it."""

    pk: int
    org_id: str
    name: str
    #: The normalised prefix (``gs1:0614141``) and its on-chain key (0x-hex).
    prefix: str
    prefix_key: str


@dataclass(frozen=True, slots=True)
class Evidence:
    """One commissioning event of the owner and how it verified."""

    event_pk: int
    hash_id: str
    #: The identifier it commissions: the trail's own, or its lot/class.
    identifier: str
    status: str


@dataclass(frozen=True, slots=True)
class Origin:
    """Whether the brand owner commissioned the identifier (see the module docstring)."""

    status: OriginStatus
    owner: Owner | None = None
    evidence: tuple[Evidence, ...] = ()
    reasons: tuple[str, ...] = field(default=())

    @property
    def confirmed(self) -> bool:
        """Whether the owner's commissioning verifies."""
        return self.status == "confirmed"


#: The member with the longest of the ``prefixes`` (built once, run on every trail page).
_OWNER = (
    sa.select(
        ORGANISATION.c.id,
        ORGANISATION.c.org_id,
        ORGANISATION.c.name,
        PREFIX.c.prefix,
        PREFIX.c.prefix_key,
    )
    .join(ORGANISATION, ORGANISATION.c.id == PREFIX.c.organisation_id)
    .where(PREFIX.c.prefix.in_(sa.bindparam("prefixes", expanding=True)))
    .order_by(sa.func.length(PREFIX.c.prefix).desc())
    .limit(1)
)


def owner_of(conn: sa.Connection, identifier: Identifier) -> Owner | None:
    """The member owning the longest registered prefix of ``identifier``, if any."""
    row = conn.execute(_OWNER, {"prefixes": list(prefix_candidates(identifier))}).first()
    return None if row is None else Owner(int(row[0]), str(row[1]), str(row[2]), row[3], row[4])


def _step(biz_step: str | None) -> str:
    """The last segment of a business step (``commissioning`` of any of its spellings)."""
    return (biz_step or "").rsplit("-", 1)[-1].rsplit("/", 1)[-1].rsplit(":", 1)[-1]


def is_evidence(event_type: str, action: str | None, biz_step: str | None, role: str) -> bool:
    """Whether an event naming an identifier in ``role`` commissions it (see the module
    docstring)."""
    if event_type == "ObjectEvent":
        return (
            action == "ADD" and role in _OBJECT_ROLES and _step(biz_step) in ("", "commissioning")
        )
    return event_type == "TransformationEvent" and role in _OUTPUT_ROLES


def evidence_in(
    rows: Sequence[Any], index: Mapping[int, Sequence[IndexRow]], owner: Owner, canonical: str
) -> list[tuple[int, str]]:
    """``(event pk, identifier)`` of the owner's commissioning events of ``canonical`` among
    the trail's own ``rows`` (with their identifier ``index`` rows), at most
    :data:`MAX_EVIDENCE`."""
    out = []
    for row in rows:
        if row.organisation_id != owner.pk:
            continue
        if any(
            i.canonical == canonical
            and is_evidence(row.event_type, row.action, row.biz_step, i.role)
            for i in index.get(row.id, ())
        ):
            out.append((int(row.id), canonical))
            if len(out) == MAX_EVIDENCE:
                break
    return out


def evidence_events(
    conn: sa.Connection, owner: Owner, canonicals: Sequence[str]
) -> list[tuple[int, str]]:
    """``(event pk, identifier)`` of the owner's commissioning events naming one of
    ``canonicals`` (the identifier and its classes), earliest first, at most
    :data:`MAX_EVIDENCE`."""
    rows = conn.execute(
        sa.select(
            EVENT_IDENTIFIER.c.event_pk,
            EVENT_IDENTIFIER.c.canonical,
            EVENT.c.event_type,
            EVENT.c.action,
            EVENT.c.biz_step,
            EVENT_IDENTIFIER.c.role,
        )
        .join(EVENT, EVENT.c.id == EVENT_IDENTIFIER.c.event_pk)
        .where(
            EVENT_IDENTIFIER.c.canonical.in_(list(canonicals)),
            EVENT.c.organisation_id == owner.pk,
            sa.or_(
                sa.and_(
                    EVENT.c.event_type == "ObjectEvent",
                    EVENT.c.action == "ADD",
                    EVENT_IDENTIFIER.c.role.in_(_OBJECT_ROLES),
                ),
                sa.and_(
                    EVENT.c.event_type == "TransformationEvent",
                    EVENT_IDENTIFIER.c.role.in_(_OUTPUT_ROLES),
                ),
            ),
        )
        .order_by(EVENT.c.event_time, EVENT.c.id)
        .limit(_CANDIDATES)
    ).all()
    out: dict[int, str] = {}
    for pk, canonical, event_type, action, biz_step, role in rows:
        if not is_evidence(event_type, action, biz_step, role):
            continue
        out.setdefault(int(pk), str(canonical))
        if len(out) == MAX_EVIDENCE:
            break
    return list(out.items())


def judge(
    identifier: str,
    owner: Owner | None,
    evidence: Sequence[Evidence],
    *,
    chain_owner: str | None,
) -> Origin:
    """The origin of ``identifier`` from its owner, the verified evidence and the member the
    chain names for the owner's prefix (``None``: not read)."""
    if owner is None:
        return Origin(
            "no_owner",
            reasons=(f"no member of this ledger owns the prefix of {identifier}",),
        )
    if chain_owner is not None and chain_owner != owner.org_id:
        return Origin(
            "unconfirmed",
            owner,
            tuple(evidence),
            (f"the chain does not confirm member {owner.org_id} as owner of {owner.prefix}",),
        )
    statuses = {e.status for e in evidence}
    for status, origin in _FROM_EVIDENCE:
        if status in statuses:
            return Origin(origin, owner, tuple(evidence))
    return Origin(
        "unconfirmed",
        owner,
        (),
        (f"the brand owner {owner.org_id} recorded no commissioning of {identifier}",),
    )
