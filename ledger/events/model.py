"""Captured EPCIS events: the event as received plus typed access to what the ledger uses.

A :class:`CapturedEvent` keeps ``raw``, the event exactly as received in its JSON-LD shape (with
the document's ``@context`` merged in, so that user extensions stay interpretable), and reads from
it the fields the ledger indexes: type, times, action, business step, disposition, locations,
every identifier with its role, quantities, business transactions, sources and destinations,
and the CBV 2.0 Event Hash ID. Build one with :func:`captured_event` from a validated event.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

from ledger.events.hashing import hash_id, prehash
from ledger.events.timestamps import parse_timestamp
from ledger.events.vocabulary import VocabularyKind, expand

#: How an event mentions an identifier: ``epc`` (epcList), ``parent`` (parentID), ``child``
#: (childEPCs), ``input`` / ``output`` (inputEPCList / outputEPCList) or ``quantity`` (the class
#: of any quantity element; see :attr:`CapturedEvent.quantities` for which list it is in).
Role = Literal["epc", "parent", "child", "input", "output", "quantity"]
#: Which quantity list a quantity element is in.
QuantityRole = Literal["quantity", "child", "input", "output"]

#: The EPCIS members naming object instances and the role of an identifier there, in the
#: order that picks an event's primary identifier (the one its Merkle leaf commits to):
#: epcList, parentID, childEPCs, outputEPCList, inputEPCList. ``parentID`` holds one URI, the
#: others a list. The one table of these names: capture, indexing, permissions and the audit
#: read it.
INSTANCE_FIELDS: Final[tuple[tuple[str, Role], ...]] = (
    ("epcList", "epc"),
    ("parentID", "parent"),
    ("childEPCs", "child"),
    ("outputEPCList", "output"),
    ("inputEPCList", "input"),
)
#: The EPCIS quantity lists and which list each is (an event without instances takes its
#: primary identifier from the first class of these, in this order).
QUANTITY_FIELDS: Final[tuple[tuple[str, QuantityRole], ...]] = (
    ("quantityList", "quantity"),
    ("childQuantityList", "child"),
    ("inputQuantityList", "input"),
    ("outputQuantityList", "output"),
)


@dataclass(frozen=True, slots=True)
class Quantity:
    """One quantity element: a class of objects, how much of it and in which unit."""

    role: QuantityRole
    epc_class: str
    quantity: int | float | None
    uom: str | None


@dataclass(frozen=True, slots=True)
class Link:
    """A business transaction, source or destination: its (canonical) type and its value."""

    type: str | None
    value: str


@dataclass(frozen=True, slots=True)
class CapturedEvent:
    """One validated EPCIS event as captured."""

    #: The event as received (JSON-LD shape), ``@context`` included.
    raw: dict[str, Any]
    event_type: str
    event_time: datetime
    #: As written (``+02:00``).
    event_time_zone_offset: str
    event_id: str | None
    record_time: datetime | None
    action: str | None
    #: Canonical GS1 Web URI (``https://ref.gs1.org/cbv/BizStep-shipping``) or a user URI.
    biz_step: str | None
    #: Canonical GS1 Web URI or a user URI.
    disposition: str | None
    read_point: str | None
    biz_location: str | None
    #: Every identifier the event mentions, in document order, as written.
    identifiers: list[tuple[Role, str]]
    quantities: list[Quantity]
    biz_transactions: list[Link]
    sources: list[Link]
    destinations: list[Link]
    #: The CBV 2.0 pre-hash string and Event Hash ID (``ni:///sha-256;…?ver=CBV2.0``).
    prehash: str
    hash_id: str


def _vocabulary(kind: VocabularyKind, value: object) -> str | None:
    return expand(kind, value) if isinstance(value, str) else None


def _location(value: object) -> str | None:
    if isinstance(value, Mapping):
        location = value.get("id")
        return location if isinstance(location, str) else None
    return None


def _links(entries: object, value_key: str, kind: VocabularyKind) -> list[Link]:
    if not isinstance(entries, list):
        return []
    links = []
    for entry in entries:
        if isinstance(entry, Mapping) and isinstance(entry.get(value_key), str):
            links.append(Link(_vocabulary(kind, entry.get("type")), entry[value_key]))
    return links


def _number(value: object) -> int | float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    return None


def captured_event(raw: dict[str, Any]) -> CapturedEvent:
    """Read a *validated* event (its ``@context`` merged in) into a :class:`CapturedEvent`."""
    event_time = parse_timestamp(raw["eventTime"])
    if event_time is None:
        raise ValueError("captured_event needs a validated event (eventTime)")
    record = raw.get("recordTime")
    identifiers: list[tuple[Role, str]] = []
    for name, role in INSTANCE_FIELDS:
        named = raw.get(name)
        for value in (named,) if isinstance(named, str) else named or ():
            identifiers.append((role, value))
    quantities: list[Quantity] = []
    for name, quantity_role in QUANTITY_FIELDS:
        for element in raw.get(name) or ():
            epc_class = element["epcClass"]
            identifiers.append(("quantity", epc_class))
            quantities.append(
                Quantity(
                    quantity_role, epc_class, _number(element.get("quantity")), element.get("uom")
                )
            )
    pre = prehash(raw)
    return CapturedEvent(
        raw=raw,
        event_type=raw["type"],
        event_time=event_time,
        event_time_zone_offset=raw["eventTimeZoneOffset"],
        event_id=raw.get("eventID"),
        record_time=parse_timestamp(record) if isinstance(record, str) else None,
        action=raw.get("action"),
        biz_step=_vocabulary("bizStep", raw.get("bizStep")),
        disposition=_vocabulary("disposition", raw.get("disposition")),
        read_point=_location(raw.get("readPoint")),
        biz_location=_location(raw.get("bizLocation")),
        identifiers=identifiers,
        quantities=quantities,
        biz_transactions=_links(
            raw.get("bizTransactionList"), "bizTransaction", "bizTransactionType"
        ),
        sources=_links(raw.get("sourceList"), "source", "sourceDestType"),
        destinations=_links(raw.get("destinationList"), "destination", "sourceDestType"),
        prehash=pre,
        hash_id=hash_id(pre),
    )
