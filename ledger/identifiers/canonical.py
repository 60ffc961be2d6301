"""Canonical forms of GS1 keys and their renderings as Digital Link, EPC URI and element string.

Canonical form
    The GS1 Digital Link URI on ``https://id.gs1.org`` (DL URI syntax 4.12: numeric AIs,
    GTIN padded to 14 digits, upper-case percent-escapes) holding the primary key and its
    *identifying* key qualifiers in standard order, and no data attributes.

    One deliberate rule: when an instance qualifier is present (serial ``21`` or TPX ``235``
    of a GTIN, serial of an ITIP) the class-level qualifiers (consumer product variant ``22``
    and batch/lot ``10``) are left out. A GTIN with a serial number already identifies one
    instance (GenSpecs), and the EPC URI of the item (TDS SGTIN) never carries the lot, so the
    same physical item gets one ``id_key`` whether it was scanned from a Digital Link that
    shows its lot, from an element string, or read as an SGTIN from an RFID tag. The lot is
    kept on the identifier: it is in :meth:`Identifier.digital_link`, the element string and
    the class identifier (an LGTIN).
"""

from __future__ import annotations

from typing import Final

from ledger.identifiers.gs1 import (
    CLASS_QUALIFIERS,
    INSTANCE_QUALIFIERS,
    PRIMARY_KEYS,
    GS1Key,
    ai_spec,
    dl_encode,
    epc_encode,
)

__all__ = [
    "CANONICAL_HOST",
    "canonical_key",
    "class_key",
    "format_barcode_data",
    "format_digital_link",
    "format_element_string",
    "format_epc_uri",
    "kind_of",
]

CANONICAL_HOST: Final = "https://id.gs1.org"


def canonical_key(key: GS1Key) -> GS1Key:
    """The key reduced to what identifies it: primary key and identifying qualifiers."""
    instance = INSTANCE_QUALIFIERS.get(key.ai)
    qualifiers = key.qualifiers
    if instance is not None and any(ai in instance for ai, _ in qualifiers):
        qualifiers = tuple(q for q in qualifiers if q[0] in instance)
    if qualifiers is key.qualifiers and not key.attributes:
        return key
    return GS1Key(key.ai, key.value, qualifiers)


def class_key(key: GS1Key) -> GS1Key | None:
    """The class an identified thing belongs to, or ``None`` for keys without one.

    * a serialised GTIN (SGTIN) with a lot -> GTIN + lot (an LGTIN), without a lot -> the GTIN
      (a consumer product variant stays with the class);
    * an LGTIN -> its GTIN; an ITIP likewise;
    * a GLN with extension (SGLN) -> the GLN;
    * a GRAI with serial -> the GRAI without serial (the asset type);
    * a GSRN with SRIN -> the GSRN; a CPID with serial -> the CPID;
    * a bare GTIN, GLN, SSCC, GIAI... -> ``None``.
    """
    ai = key.ai
    if ai in CLASS_QUALIFIERS:
        class_ais = CLASS_QUALIFIERS[ai]
        if any(q[0] not in class_ais for q in key.qualifiers):
            return GS1Key(ai, key.value, tuple(q for q in key.qualifiers if q[0] in class_ais))
        if any(q[0] == "10" for q in key.qualifiers):
            return GS1Key(ai, key.value, tuple(q for q in key.qualifiers if q[0] != "10"))
        return None
    if ai == "8003":
        return GS1Key(ai, key.value[:14]) if len(key.value) > 14 else None
    if key.qualifiers:
        return GS1Key(ai, key.value)
    return None


def kind_of(key: GS1Key) -> str:
    """The ledger's kind name for a key: ``"sgtin"``, ``"lgtin"``, ``"gtin"``, ``"sgln"``..."""
    ai = key.ai
    if ai == "01":
        names = {q[0] for q in key.qualifiers}
        if "21" in names or "235" in names:
            return "sgtin"
        return "lgtin" if "10" in names else "gtin"
    if ai == "414":
        return "sgln" if any(q[0] == "254" for q in key.qualifiers) else "gln"
    return PRIMARY_KEYS[ai].kind


def format_digital_link(key: GS1Key, base: str = CANONICAL_HOST, *, attributes: bool = True) -> str:
    """Render a key as a GS1 Digital Link URI under ``base`` (scheme, host, optional path).

    Data attributes go to the query string sorted by AI, as in the DL canonical form.
    """
    parts = [base, "/", key.ai, "/", dl_encode(key.value)]
    for ai, value in key.qualifiers:
        parts += ("/", ai, "/", dl_encode(value))
    if attributes and key.attributes:
        parts.append("?")
        parts.append("&".join(f"{ai}={dl_encode(value)}" for ai, value in key.attributes))
    return "".join(parts)


def format_element_string(key: GS1Key) -> str:
    """Render a key as a human-readable element string: ``(01)...(10)...(21)...(17)...``."""
    parts = [f"({key.ai}){key.value}"]
    parts += (f"({ai}){value}" for ai, value in key.qualifiers)
    parts += (f"({ai}){value}" for ai, value in key.attributes)
    return "".join(parts)


def format_barcode_data(key: GS1Key) -> str:
    """Render a key as raw barcode data: AIs without parentheses, GS (0x1D) after every
    variable-length field that is not last (GenSpecs 7.8.5), no symbology identifier."""
    elements = [(key.ai, key.value), *key.qualifiers, *key.attributes]
    # Fixed-length fields first saves separators; GenSpecs 7.8.6 allows any order.
    elements.sort(key=lambda e: ai_spec(e[0]).separator_required)
    out: list[str] = []
    for index, (ai, value) in enumerate(elements):
        out.append(ai + value)
        if ai_spec(ai).separator_required and index < len(elements) - 1:
            out.append("\x1d")
    return "".join(out)


def format_epc_uri(key: GS1Key, company_prefix: str) -> str | None:
    """Render a key as an EPC URI (TDS 2.1 section 6), or ``None`` if TDS has no form for it.

    * GTIN + serial -> ``urn:epc:id:sgtin:`` (a lot, if any, is not part of an SGTIN);
    * GTIN + lot -> ``urn:epc:class:lgtin:``;
    * GTIN alone -> the pattern ``urn:epc:idpat:sgtin:{cp}.{ir}.*`` (EPCIS uses it for a
      quantity of a GTIN without lot);
    * SSCC, GLN (+ extension, ``0`` meaning none) -> ``sscc``, ``sgln``;
    * GRAI with serial -> ``grai``; GIAI -> ``giai``.

    ``company_prefix`` must be the key's company prefix (6-12 digits).
    """
    ai, value = key.ai, key.value
    cp = company_prefix
    n = len(cp)
    qualifiers = dict(key.qualifiers)
    if ai == "01":
        item_ref = value[0] + value[1 + n : 13]
        serial = qualifiers.get("21")
        if serial is not None:
            return f"urn:epc:id:sgtin:{cp}.{item_ref}.{epc_encode(serial)}"
        if "235" in qualifiers:
            return None
        lot = qualifiers.get("10")
        if lot is not None:
            return f"urn:epc:class:lgtin:{cp}.{item_ref}.{epc_encode(lot)}"
        return f"urn:epc:idpat:sgtin:{cp}.{item_ref}.*"
    if ai == "00":
        return f"urn:epc:id:sscc:{cp}.{value[0]}{value[1 + n : 17]}"
    if ai == "414":
        if "7040" in qualifiers:
            return None
        extension = qualifiers.get("254", "0")
        if "254" in qualifiers and extension == "0":
            return None  # TDS reserves extension 0 for "no extension"
        return f"urn:epc:id:sgln:{cp}.{value[n:12]}.{epc_encode(extension)}"
    if ai == "8003":
        if len(value) == 14:
            return None
        return f"urn:epc:id:grai:{cp}.{value[1 + n : 13]}.{epc_encode(value[14:])}"
    if ai == "8004":
        if qualifiers or len(value) == n:
            return None
        return f"urn:epc:id:giai:{cp}.{epc_encode(value[n:])}"
    return None
