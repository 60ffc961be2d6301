"""Who may record what: only a prefix's owner commissions identifiers under it.

An event *commissions* identifiers when it is an ``ObjectEvent`` with action ``ADD`` (its EPCs
and quantity classes come into being), any event with business step ``commissioning``, or a
``TransformationEvent`` (its outputs come into being). Every identifier an event commissions
that :mod:`ledger.identifiers` understands must lie under a prefix of the recording member;
identifiers under another member's prefix (:class:`NotPrefixOwnerError`), or under no member's
prefix (:class:`UnassignedPrefixError`), are refused, each named by its field path with item
indexes. Identifiers outside the standard schemes (``urn:uuid:``, private URLs) belong to no
prefix and are not restricted. Recalls are checked by :class:`ledger.membership.Membership` and
on chain.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ledger.errors import ForbiddenError
from ledger.events import INSTANCE_FIELDS, QUANTITY_FIELDS, CapturedEvent
from ledger.events.validation import item_path, join_path
from ledger.identifiers import IdentifierError, parse, prefix_candidates
from ledger.store.tables import ORGANISATION, PREFIX

__all__ = [
    "NotPrefixOwnerError",
    "UnassignedPrefixError",
    "check_commissioning",
    "commissioned",
]


#: The members naming instances and quantity classes (:data:`ledger.events.INSTANCE_FIELDS`).
_INSTANCE_FIELDS: Final = tuple(name for name, _ in INSTANCE_FIELDS)
_QUANTITY_FIELDS: Final = tuple(name for name, _ in QUANTITY_FIELDS)


class NotPrefixOwnerError(ForbiddenError):
    """An identifier commissioned under a prefix of another member."""

    problem = "not-prefix-owner"


class UnassignedPrefixError(ForbiddenError):
    """An identifier commissioned under no member's prefix."""

    problem = "unassigned-prefix"


def _instances(raw: Mapping[str, Any], name: str) -> list[tuple[str, str]]:
    value = raw.get(name)
    if isinstance(value, str):
        return [(name, value)]
    if not isinstance(value, list):
        return []
    return [(join_path(name, i), item) for i, item in enumerate(value) if isinstance(item, str)]


def _classes(raw: Mapping[str, Any], name: str) -> list[tuple[str, str]]:
    value = raw.get(name)
    if not isinstance(value, list):
        return []
    return [
        (join_path(join_path(name, i), "epcClass"), item["epcClass"])
        for i, item in enumerate(value)
        if isinstance(item, Mapping) and isinstance(item.get("epcClass"), str)
    ]


def commissioned(event: CapturedEvent) -> list[tuple[str, str]]:
    """The ``(path in the event, identifier)`` pairs ``event`` brings into being, each path
    with its item index: ``epcList[2]``, ``parentID``, ``outputQuantityList[0].epcClass``."""
    step = (event.biz_step or "").rsplit("-", 1)[-1].rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    raw = event.raw
    if event.event_type == "TransformationEvent":
        return _instances(raw, "outputEPCList") + _classes(raw, "outputQuantityList")
    if step == "commissioning" or (event.event_type == "ObjectEvent" and event.action == "ADD"):
        out = [pair for name in _INSTANCE_FIELDS for pair in _instances(raw, name)]
        return out + [pair for name in _QUANTITY_FIELDS for pair in _classes(raw, name)]
    return []


def check_commissioning(
    engine: Engine, organisation_id: int, events: Sequence[CapturedEvent], *, path: str
) -> None:
    """Raise unless member ``organisation_id`` may commission everything ``events`` commission.

    ``path`` is the JSON path of the event list (``epcisBody.eventList``) or ``$`` for a
    single event; each refusal names its identifier's field with every index
    (``epcisBody.eventList[0].epcList[2]``).

    Raises:
        NotPrefixOwnerError: the first refused identifier is under another member's prefix.
        UnassignedPrefixError: the first refused identifier is under no member's prefix.
        Either holds one error per refused identifier in ``errors`` (each of the class that
        says why), and its reason is the first one's, with how many more there are.
    """
    wanted: dict[str, tuple[str, ...]] = {}
    places: list[tuple[str, str]] = []
    for index, event in enumerate(events):
        base = item_path(path, index)
        for field, value in commissioned(event):
            if value not in wanted:
                try:
                    wanted[value] = prefix_candidates(parse(value))
                except IdentifierError:
                    continue
            places.append((join_path(base, field), value))
    if not wanted:
        return
    every = {p for candidates in wanted.values() for p in candidates}
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(PREFIX.c.prefix, ORGANISATION.c.name, PREFIX.c.organisation_id)
            .join(ORGANISATION, ORGANISATION.c.id == PREFIX.c.organisation_id)
            .where(PREFIX.c.prefix.in_(sorted(every)))
        ).all()
    owners: dict[str, tuple[str, int]] = {row[0]: (row[1], row[2]) for row in rows}
    refused: list[ForbiddenError] = []
    for field, value in places:
        owned = [owners[p] for p in wanted[value] if p in owners]
        if any(org_pk == organisation_id for _, org_pk in owned):
            continue
        if owned:
            refused.append(
                NotPrefixOwnerError(
                    f"{value} is under a prefix of member {owned[0][0]!r}; only the prefix "
                    "owner may commission it",
                    field=field,
                )
            )
        else:
            refused.append(
                UnassignedPrefixError(
                    f"{value} is under no member's prefix; a member commissions identifiers "
                    "under the prefixes assigned to it",
                    field=field,
                )
            )
    if refused:
        first, more = refused[0], len(refused) - 1
        summary = first.reason + (f" (and {more} more)" if more else "")
        raise type(first)(summary, errors=refused)
