"""Pure functions that turn captured events into the values the store indexes.

* :func:`index_identifier`: the canonical form, on-chain key and class of one identifier as an
  event wrote it. Identifiers :func:`ledger.identifiers.parse` rejects are still legal EPCIS
  URIs (a ``urn:uuid:``, a company's own URL...): they are indexed by their literal value, with
  ``id_key = keccak256(value)``.
* :func:`event_hash_of`: the 0x-hex digest inside a CBV 2.0 Event Hash ID (the idempotency key).
* :func:`identifier_rows`: every (role, value) an event mentions, each once, in the order that
  decides its primary identifier.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain
from typing import Final

from ledger.errors import InvalidInputError
from ledger.events import INSTANCE_FIELDS, CapturedEvent
from ledger.identifiers import IdentifierError, parse
from ledger.identifiers.hashing import keccak256

__all__ = [
    "NO_ID_KEY",
    "QUANTITY_ROLES",
    "IndexedIdentifier",
    "canonical_of",
    "event_hash_of",
    "identifier_rows",
    "index_identifier",
    "location_key",
]

#: ``primary_id_key`` of an event that mentions no identifier: 32 zero bytes.
NO_ID_KEY: Final = "0x" + "00" * 32

_HASH_ID: Final = re.compile(r"ni:///sha-256;([0-9a-f]{64})\?ver=CBV2\.0")

#: Instance roles in the order that picks an event's primary identifier.
_INSTANCE_ORDER: Final = {role: rank for rank, (_, role) in enumerate(INSTANCE_FIELDS)}
#: ``event_identifier.role`` of each quantity list (``CapturedEvent.quantities[i].role``).
QUANTITY_ROLES: Final = {
    "quantity": "quantity",
    "child": "child_quantity",
    "input": "input_quantity",
    "output": "output_quantity",
}


@dataclass(frozen=True, slots=True)
class IndexedIdentifier:
    """What the store keeps of one identifier."""

    #: Canonical form (GS1 Digital Link on id.gs1.org, ``prefix/suffix``, ``urn:oid:``), or the
    #: literal value for identifiers outside :mod:`ledger.identifiers`.
    canonical: str
    #: keccak256 of the canonical form, 0x-hex.
    id_key: str
    #: Canonical form of the identifier's class (the LGTIN of an SGTIN with lot...), if any.
    class_canonical: str | None
    #: Whether :func:`ledger.identifiers.parse` understood the value.
    parsed: bool


@lru_cache(maxsize=65_536)
def index_identifier(value: str) -> IndexedIdentifier:
    """The canonical form, key and class of an identifier as written in an event."""
    try:
        identifier = parse(value)
    except IdentifierError:
        return IndexedIdentifier(value, "0x" + keccak256(value.encode()).hex(), None, parsed=False)
    klass = identifier.class_identifier()
    return IndexedIdentifier(
        identifier.canonical,
        "0x" + identifier.id_key.hex(),
        klass.canonical if klass is not None else None,
        parsed=True,
    )


def canonical_of(value: str) -> str:
    """The canonical form of an identifier or location URI (the value itself if unknown)."""
    return index_identifier(value).canonical


def location_key(value: str | None) -> str | None:
    """How a read point or business location is stored and compared: its canonical form."""
    return None if value is None else canonical_of(value)


def event_hash_of(hash_id: str) -> str:
    """The 0x-hex SHA-256 digest in a CBV 2.0 Event Hash ID ``ni:///sha-256;{hex}?ver=CBV2.0``.

    Raises:
        InvalidInputError: ``hash_id`` is not such an ID.
    """
    match = _HASH_ID.fullmatch(hash_id)
    if match is None:
        raise InvalidInputError(
            "expected a CBV 2.0 Event Hash ID ni:///sha-256;{64 hex digits}?ver=CBV2.0",
            field="hash_id",
        )
    return "0x" + match[1]


def identifier_rows(event: CapturedEvent) -> list[tuple[str, str]]:
    """The (role, value) pairs of ``event``, each once, primary-identifier order first.

    Order: epcList, parentID, childEPCs, outputEPCList, inputEPCList (document order within
    each), then the quantity classes (quantityList, childQuantityList, inputQuantityList,
    outputQuantityList as the event lists them). Quantity roles are ``quantity``,
    ``child_quantity``, ``input_quantity`` and ``output_quantity``.
    """
    instances = sorted(
        ((role, value) for role, value in event.identifiers if role != "quantity"),
        key=lambda pair: _INSTANCE_ORDER[pair[0]],
    )
    quantities = [(QUANTITY_ROLES[q.role], q.epc_class) for q in event.quantities]
    return list(dict.fromkeys(chain(instances, quantities)))
