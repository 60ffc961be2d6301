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


#: Keys whose serial is part of the key's value: the length of the value without it.
_SERIAL_IN_VALUE: Final = {"8003": 14, "253": 13, "255": 13}


def class_key(key: GS1Key) -> GS1Key | None:
    """The class an identified thing belongs to, or ``None`` for keys without one.

    * a serialised GTIN (SGTIN) with a lot -> GTIN + lot (an LGTIN), without a lot -> the GTIN
      (a consumer product variant stays with the class);
    * an LGTIN -> its GTIN; an ITIP likewise;
    * a GLN with extension (SGLN) -> the GLN;
    * a GRAI with serial -> the GRAI without serial (the asset type); a GDTI or GCN with
      serial likewise (the document type, the coupon);
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
    if ai in _SERIAL_IN_VALUE:
        head = _SERIAL_IN_VALUE[ai]
        return GS1Key(ai, key.value[:head]) if len(key.value) > head else None
    if key.qualifiers:
        return GS1Key(ai, key.value)
    return None


def kind_of(key: GS1Key) -> str:
    """The ledger's kind name for a key: ``"sgtin"``, ``"lgtin"``, ``"gtin"``, ``"upui"``,
    ``"sgln"``, ``"gln"``, else the Digital Link name of the primary key (``"party"``...)."""
    ai = key.ai
    if ai == "01":
        names = {q[0] for q in key.qualifiers}
        if "21" in names:
            return "sgtin"
        if "235" in names:
            return "upui"
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
    """Render a key as an EPC URI (TDS 2.1 sections 6.3 and 7), or ``None`` if TDS has none.

    * GTIN + serial -> ``sgtin`` (a lot, if any, is not part of an SGTIN); GTIN + TPX ->
      ``upui``; GTIN + lot -> the class ``urn:epc:class:lgtin:``; a GTIN alone -> the pattern
      ``urn:epc:idpat:sgtin:{cp}.{ir}.*`` (EPCIS uses it for a quantity of a GTIN without lot);
    * ITIP + serial -> ``itip``;
    * SSCC, GLN (+ extension, ``0`` meaning none), party GLN -> ``sscc``, ``sgln``, ``pgln``;
    * GRAI, GDTI, GCN with serial -> ``grai``, ``gdti``, ``sgcn``; GIAI, GINC -> ``giai``,
      ``ginc``; GSRN, GSRN-P, GSIN -> ``gsrn``, ``gsrnp``, ``gsin``;
    * CPID + serial (without leading zeros) -> ``cpi``.

    Keys with a qualifier TDS cannot carry (SRIN, UIC extension...) have none.
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
        tpx = qualifiers.get("235")
        if tpx is not None:
            return f"urn:epc:id:upui:{cp}.{item_ref}.{epc_encode(tpx)}"
        lot = qualifiers.get("10")
        if lot is not None:
            return f"urn:epc:class:lgtin:{cp}.{item_ref}.{epc_encode(lot)}"
        return f"urn:epc:idpat:sgtin:{cp}.{item_ref}.*"
    if ai == "8006":
        serial = qualifiers.get("21")
        if serial is None:
            return None
        item_ref = value[0] + value[1 + n : 13]
        piece, total = value[14:16], value[16:18]
        return f"urn:epc:id:itip:{cp}.{item_ref}.{piece}.{total}.{epc_encode(serial)}"
    if ai == "00":
        return f"urn:epc:id:sscc:{cp}.{value[0]}{value[1 + n : 17]}"
    if ai == "414":
        if "7040" in qualifiers:
            return None
        extension = qualifiers.get("254", "0")
        if "254" in qualifiers and extension == "0":
            return None  # TDS reserves extension 0 for "no extension"
        return f"urn:epc:id:sgln:{cp}.{value[n:12]}.{epc_encode(extension)}"
    if key.qualifiers and ai != "8010":
        return None  # UIC extension (7040), SRIN (8019): TDS has no URI for them
    if ai == "417":
        return f"urn:epc:id:pgln:{cp}.{value[n:12]}"
    if ai in ("8003", "253", "255"):
        head = _SERIAL_IN_VALUE[ai]
        if len(value) == head:
            return None  # the class (asset type, document type, coupon) has no EPC
        scheme, start = {"8003": ("grai", 1), "253": ("gdti", 0), "255": ("sgcn", 0)}[ai]
        reference = value[start + n : head - 1]
        return f"urn:epc:id:{scheme}:{cp}.{reference}.{epc_encode(value[head:])}"
    if ai in ("8004", "401"):
        if len(value) == n:
            return None
        scheme = "giai" if ai == "8004" else "ginc"
        return f"urn:epc:id:{scheme}:{cp}.{epc_encode(value[n:])}"
    if ai in ("8017", "8018"):
        scheme = "gsrnp" if ai == "8017" else "gsrn"
        return f"urn:epc:id:{scheme}:{cp}.{value[n:17]}"
    if ai == "402":
        return f"urn:epc:id:gsin:{cp}.{value[n:16]}"
    if ai == "8010":
        serial = qualifiers.get("8011")
        if serial is None or len(value) == n or (serial[0] == "0" and serial != "0"):
            return None  # TDS CPI: a non-empty reference and a serial without leading zeros
        reference = value[n:].replace("/", "%2F").replace("#", "%23")
        return f"urn:epc:id:cpi:{cp}.{reference}.{serial}"
    return None
