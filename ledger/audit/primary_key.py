"""An event's primary identifier and its key: what an event's Merkle leaf commits to besides
its hash (read from the captured JSON, as capture derives it)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Final

from ledger.events import INSTANCE_FIELDS, QUANTITY_FIELDS
from ledger.events.epc import normalise
from ledger.identifiers import IdentifierError, parse
from ledger.identifiers.hashing import keccak256
from ledger.store.indexing import NO_ID_KEY

__all__ = ["primary_id_key", "primary_identifier", "primary_key_matches"]

#: Instance members in the order that picks an event's primary identifier, then the quantity
#: lists (:data:`ledger.events.INSTANCE_FIELDS`, as :func:`ledger.store.indexing.identifier_rows`
#: orders them).
_INSTANCE_KEYS: Final = tuple(name for name, _ in INSTANCE_FIELDS)
_QUANTITY_KEYS: Final = tuple(name for name, _ in QUANTITY_FIELDS)


def primary_identifier(raw: Mapping[str, Any]) -> str | None:
    """The identifier an event's Merkle leaf commits to, as written: the first of epcList,
    parentID, childEPCs, outputEPCList, inputEPCList, then the first quantity class
    (quantityList, childQuantityList, inputQuantityList, outputQuantityList)."""
    for key in _INSTANCE_KEYS:
        value = raw.get(key)
        if isinstance(value, str) and value:
            return value
        if isinstance(value, list):
            for item in value:
                if isinstance(item, str):
                    return item
    for key in _QUANTITY_KEYS:
        for element in raw.get(key) or ():
            if isinstance(element, Mapping) and isinstance(element.get("epcClass"), str):
                return str(element["epcClass"])
    return None


#: A canonical SGTIN Digital Link: the form ``ledger.identifiers`` gives every serialised
#: GTIN, and the form the event hash gives it when nothing needs escaping.
_CANONICAL_SGTIN: Final = re.compile(
    r"https://id\.gs1\.org/01/[0-9]{14}/21/[0-9A-Za-z_.\-]{1,20}"
).fullmatch


def primary_key_matches(raw: Mapping[str, Any], recorded: str) -> bool:
    """Whether ``recorded`` is the key of the event's primary identifier.

    The event hash has just normalised the identifier (``ledger.events.epc.normalise``,
    cached): when that constrained Digital Link is a canonical SGTIN, it *is* the canonical
    form, and its keccak256 settles the question without parsing the identifier again. Any
    other identifier, or a key that does not match, is decided by the full parse.
    """
    value = primary_identifier(raw)
    if value is None:
        return recorded == NO_ID_KEY
    constrained = normalise(value)
    if (
        constrained is not None
        and _CANONICAL_SGTIN(constrained) is not None
        and "0x" + keccak256(constrained.encode()).hex() == recorded
    ):
        return True
    return _id_key(value) == recorded


def primary_id_key(raw: Mapping[str, Any]) -> str:
    """0x-hex key of :func:`primary_identifier` (32 zero bytes for an event without one)."""
    value = primary_identifier(raw)
    return NO_ID_KEY if value is None else _id_key(value)


@lru_cache(maxsize=65_536)
def _id_key(value: str) -> str:
    """``index_identifier(value).id_key`` without the class it also derives: keccak256 of the
    canonical form, or of the value itself when :func:`ledger.identifiers.parse` rejects it."""
    try:
        return "0x" + parse(value).id_key.hex()
    except IdentifierError:
        return "0x" + keccak256(value.encode()).hex()
