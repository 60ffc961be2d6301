"""Who may record what: only a prefix's owner commissions identifiers under it.

An event *commissions* identifiers when it is an ``ObjectEvent`` with action ``ADD`` (its EPCs
and quantity classes come into being), any event with business step ``commissioning``, or a
``TransformationEvent`` (its outputs come into being). Every identifier an event commissions
that :mod:`ledger.identifiers` understands must lie under a prefix of the recording member;
identifiers under another member's prefix, or under no member's prefix, are refused (403).
Identifiers outside the standard schemes (``urn:uuid:``, private URLs) belong to no prefix and
are not restricted. Recalls are checked by :class:`ledger.membership.Membership` and on chain.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from api.problems import FieldError, ProblemError
from ledger.events import CapturedEvent
from ledger.identifiers import IdentifierError, parse, prefix_candidates
from ledger.store.models import Organisation, Prefix

_PREFIX = Prefix.__table__  # type: ignore[attr-defined]
_ORG = Organisation.__table__  # type: ignore[attr-defined]

_INSTANCE_LISTS = {"epc": "epcList", "parent": "parentID", "child": "childEPCs",
                   "input": "inputEPCList", "output": "outputEPCList"}  # fmt: skip
_QUANTITY_LISTS = {"quantity": "quantityList", "child": "childQuantityList",
                   "input": "inputQuantityList", "output": "outputQuantityList"}  # fmt: skip


def commissioned(event: CapturedEvent) -> list[tuple[str, str]]:
    """The ``(list name, identifier)`` pairs ``event`` brings into being."""
    step = (event.biz_step or "").rsplit("-", 1)[-1].rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    out: list[tuple[str, str]] = []
    if event.event_type == "TransformationEvent":
        out += [("outputEPCList", v) for role, v in event.identifiers if role == "output"]
        out += [("outputQuantityList", q.epc_class) for q in event.quantities if q.role == "output"]
    elif step == "commissioning" or (event.event_type == "ObjectEvent" and event.action == "ADD"):
        out += [(_INSTANCE_LISTS[role], v) for role, v in event.identifiers if role != "quantity"]
        out += [(_QUANTITY_LISTS[q.role], q.epc_class) for q in event.quantities]
    return out


def check_commissioning(
    engine: Engine, organisation_id: int, events: Sequence[CapturedEvent], *, path: str
) -> None:
    """Raise a 403 problem naming every identifier the member may not commission.

    ``path`` is the JSON path of the event list (``epcisBody.eventList``) or ``$`` for a
    single event.
    """
    wanted: dict[str, tuple[str, ...]] = {}
    places: list[tuple[str, str]] = []
    for index, event in enumerate(events):
        base = f"{path}[{index}]" if path != "$" else "$"
        for list_name, value in commissioned(event):
            if value in wanted:
                places.append((f"{base}.{list_name}", value))
                continue
            try:
                wanted[value] = prefix_candidates(parse(value))
            except IdentifierError:
                continue
            places.append((f"{base}.{list_name}", value))
    if not wanted:
        return
    every = {p for candidates in wanted.values() for p in candidates}
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(_PREFIX.c.prefix, _ORG.c.name, _PREFIX.c.organisation_id)
            .join(_ORG, _ORG.c.id == _PREFIX.c.organisation_id)
            .where(_PREFIX.c.prefix.in_(sorted(every)))
        ).all()
    owners: dict[str, tuple[str, int]] = {row[0]: (row[1], row[2]) for row in rows}
    errors: list[FieldError] = []
    for field, value in places:
        if value not in wanted:
            continue
        owned = [owners[p] for p in wanted[value] if p in owners]
        if any(org_pk == organisation_id for _, org_pk in owned):
            continue
        if owned:
            reason = (
                f"{value} is under a prefix of member {owned[0][0]!r}; only the prefix owner "
                "may commission it"
            )
        else:
            reason = f"{value} is under no prefix of yours (no member owns its prefix)"
        errors.append(FieldError(field, reason))
    if errors:
        raise ProblemError(
            403,
            "not-prefix-owner",
            errors[0]["reason"] + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""),
            errors=errors,
        )
