"""EPC URIs of the GS1 EPC Tag Data Standard 2.1 (TDS), parsed into identifiers.

Supported forms (TDS sections 6.3 pure identity, 6.4 class, 8 patterns):

* ``urn:epc:id:sgtin:{company prefix}.{indicator + item reference}.{serial}``
* ``urn:epc:class:lgtin:{company prefix}.{indicator + item reference}.{lot}``
* ``urn:epc:idpat:sgtin:{cp}.{ir}.*`` (every serial of a GTIN) and ``{cp}.*.*``
* ``urn:epc:id:sscc:{cp}.{extension digit + serial reference}``
* ``urn:epc:id:sgln:{cp}.{location reference}.{extension}`` (extension ``0`` = none)
* ``urn:epc:id:grai:{cp}.{asset type}.{serial}``
* ``urn:epc:id:giai:{cp}.{individual asset reference}``

The company prefix (6-12 digits) is explicit in the URI and becomes the owner prefix. Serials,
lots and extensions use the TDS escapes (``%22 %25 %26 %2F %3C %3E %3F``); other characters of
CSET 82 appear as themselves. SGTIN URIs take a fast path: one ``split``, a table-driven check
digit and no regex for plain serials, so bulk parsing reaches several hundred thousand URIs a
second.
"""

from __future__ import annotations

import re
from typing import Final

from ledger.identifiers.canonical import CANONICAL_HOST
from ledger.identifiers.errors import (
    CharacterSetError,
    IdentifierSyntaxError,
    LengthError,
    NotConvertibleError,
)
from ledger.identifiers.gs1 import (
    GS1Key,
    check_digit,
    check_digit_13,
    dl_encode,
    field_name,
    percent_decode_ascii,
    validate_element,
)
from ledger.identifiers.model import GS1Identifier, gs1_identifier

__all__ = ["MAX_EPC_URI_LENGTH", "epc_to_digital_link", "parse_epc"]

#: Longer than any valid EPC URI (GIAI: 30 characters, each escaped at most to 3).
MAX_EPC_URI_LENGTH: Final = 160

_SGTIN: Final = "urn:epc:id:sgtin:"
_DL_GTIN: Final = CANONICAL_HOST + "/01/"
# A serial of RFC 3986 unreserved characters needs no escaping in EPC URIs nor Digital Link.
_PLAIN: Final = re.compile(r"[0-9A-Za-z_.\-]{1,20}").fullmatch
# One component as TDS allows it in a URI: unescaped CSET 82 minus the 7 escaped characters.
_COMPONENT: Final = re.compile(r"(?:[0-9A-Za-z!'()*+,\-.:;=_]|%[0-9A-Fa-f]{2})+").fullmatch

_SCHEMES: Final = "id:sgtin, class:lgtin, idpat:sgtin, id:sscc, id:sgln, id:grai, id:giai"


def parse_epc(text: str) -> GS1Identifier:
    """Parse an EPC pure-identity, class or SGTIN pattern URI.

    Raises:
        IdentifierError: the URI is malformed, uses an unsupported scheme, or a part of it
            is invalid (the error's ``field`` names the part).
    """
    if type(text) is not str:
        raise IdentifierSyntaxError(
            f"expected a string, got {type(text).__name__}", field="EPC URI"
        )
    if len(text) > MAX_EPC_URI_LENGTH:
        raise LengthError(
            f"EPC URI has {len(text)} characters, at most {MAX_EPC_URI_LENGTH} allowed",
            field="EPC URI",
        )
    if text.startswith(_SGTIN) and text.isascii():
        # Fast path: urn:epc:id:sgtin:CP.IR.SERIAL
        parts = text[17:].split(".", 2)
        if len(parts) == 3:
            cp, ir, serial = parts
            n = len(cp)
            if 6 <= n <= 12 and len(ir) == 13 - n and cp.isdigit() and ir.isdigit():
                body = ir[0] + cp + ir[1:]
                gtin = body + check_digit_13(body)
                if _PLAIN(serial) is None:
                    serial = _component(serial, "21")
                    encoded = dl_encode(serial)
                else:
                    encoded = serial
                return GS1Identifier(
                    "sgtin",
                    _DL_GTIN + gtin + "/21/" + encoded,
                    "gs1:" + cp,
                    GS1Key("01", gtin, (("21", serial),)),
                    cp,
                )
    return _parse_general(text)


def epc_to_digital_link(uri: str) -> str:
    """EPC URI (id, class or SGTIN pattern) -> canonical ``https://id.gs1.org`` Digital Link.

    An SGTIN pattern with a wildcard serial becomes the GTIN's Digital Link. This is the fast
    path used by EPCIS event hashing.

    Raises:
        IdentifierError: as :func:`parse_epc`; also for a pattern ``{cp}.*.*`` which no
            Digital Link can express.
    """
    identifier = parse_epc(uri)
    if identifier.key is None:
        raise NotConvertibleError(
            "an SGTIN pattern without item reference has no GS1 Digital Link form",
            field="item reference",
        )
    return identifier.canonical


def _parse_general(text: str) -> GS1Identifier:
    if not text.isascii():
        raise CharacterSetError("EPC URI must be ASCII", field="EPC URI")
    parts = text.split(":", 4)
    if len(parts) != 5 or parts[0].lower() != "urn" or parts[1].lower() != "epc":
        raise IdentifierSyntaxError(
            "expected urn:epc:{id|class|idpat}:{scheme}:{components}", field="EPC URI"
        )
    form, scheme, body = parts[2].lower(), parts[3].lower(), parts[4]
    if form == "id":
        if scheme == "sgtin":
            return _gtin_based(body, "21", "sgtin")
        if scheme == "sscc":
            return _sscc(body)
        if scheme == "sgln":
            return _sgln(body)
        if scheme == "grai":
            return _grai(body)
        if scheme == "giai":
            return _giai(body)
    elif form == "class" and scheme == "lgtin":
        return _gtin_based(body, "10", "lgtin")
    elif form == "idpat" and scheme == "sgtin":
        return _sgtin_pattern(body)
    raise IdentifierSyntaxError(
        f"EPC URI form {form[:20]}:{scheme[:20]} is not supported (supported: {_SCHEMES})",
        field="EPC URI",
    )


def _unescape(raw: str, name: str) -> str:
    """Check one TDS URI component's characters and undo its escapes."""
    if not raw:
        raise LengthError(f"{name} is empty", field=name)
    if _COMPONENT(raw) is None:
        bad = next((c for c in raw if not (c.isalnum() or c in "!'()*+,-.:;=_%")), raw[0])
        raise CharacterSetError(
            f"{name} contains {bad!r}, which an EPC URI must escape or cannot hold",
            field=name,
        )
    return percent_decode_ascii(raw, name)


def _component(raw: str, ai: str) -> str:
    """Unescape one TDS URI component and validate it as the data of AI ``ai``."""
    return validate_element(ai, _unescape(raw, field_name(ai)))


def _split(body: str, count: int, scheme: str) -> list[str]:
    parts = body.split(".", count - 1)
    if len(parts) != count:
        shape = {2: "CP.REF", 3: "CP.REF.SERIAL"}[count]
        raise IdentifierSyntaxError(
            f"EPC {scheme} URI needs {count} dot-separated components ({shape})",
            field="EPC URI",
        )
    return parts


def _partition(cp: str, ref: str, total: int, ref_name: str) -> None:
    """Check the company prefix / reference boundary (TDS partition tables)."""
    if not (cp.isdigit() and 6 <= len(cp) <= 12):
        raise IdentifierSyntaxError(
            f"company prefix must be 6 to 12 digits, got {cp[:20]!r}", field="company prefix"
        )
    if not (ref.isdigit() or ref == ""):
        raise IdentifierSyntaxError(f"{ref_name} must be digits", field=ref_name)
    if len(cp) + len(ref) != total:
        raise LengthError(
            f"company prefix ({len(cp)} digits) and {ref_name} ({len(ref)} digits) must have "
            f"{total} digits together",
            field=ref_name,
        )


def _gtin_based(body: str, ai: str, kind: str) -> GS1Identifier:
    cp, ir, raw = _split(body, 3, kind)
    _partition(cp, ir, 13, "item reference")
    if not ir:
        raise LengthError("item reference must hold at least the indicator digit", field="GTIN")
    gtin_body = ir[0] + cp + ir[1:]
    gtin = gtin_body + check_digit_13(gtin_body)
    value = _component(raw, ai)
    return GS1Identifier(
        kind,
        f"{_DL_GTIN}{gtin}/{ai}/{dl_encode(value)}",
        "gs1:" + cp,
        GS1Key("01", gtin, ((ai, value),)),
        cp,
    )


def _sgtin_pattern(body: str) -> GS1Identifier:
    cp, ir, serial = _split(body, 3, "sgtin pattern")
    if cp == "*":
        raise NotConvertibleError(
            "an EPC pattern with a wildcard company prefix has no owner", field="company prefix"
        )
    if ir == "*":
        if serial != "*":
            raise IdentifierSyntaxError(
                "a wildcard item reference needs a wildcard serial (TDS 8)", field="serial"
            )
        if not (cp.isdigit() and 6 <= len(cp) <= 12):
            raise IdentifierSyntaxError(
                f"company prefix must be 6 to 12 digits, got {cp[:20]!r}",
                field="company prefix",
            )
        return GS1Identifier(
            "sgtin-pattern", f"urn:epc:idpat:sgtin:{cp}.*.*", "gs1:" + cp, None, cp
        )
    if serial != "*":
        return _gtin_based(body, "21", "sgtin")
    _partition(cp, ir, 13, "item reference")
    if not ir:
        raise LengthError("item reference must hold at least the indicator digit", field="GTIN")
    gtin_body = ir[0] + cp + ir[1:]
    gtin = gtin_body + check_digit_13(gtin_body)
    return GS1Identifier("sgtin-pattern", _DL_GTIN + gtin, "gs1:" + cp, GS1Key("01", gtin), cp)


def _sscc(body: str) -> GS1Identifier:
    cp, ref = _split(body, 2, "sscc")
    _partition(cp, ref, 17, "serial reference")
    payload = ref[0] + cp + ref[1:]
    return gs1_identifier(GS1Key("00", payload + check_digit(payload)), company_prefix=cp)


def _sgln(body: str) -> GS1Identifier:
    cp, ref, raw = _split(body, 3, "sgln")
    _partition(cp, ref, 12, "location reference")
    payload = cp + ref
    gln = payload + check_digit(payload)
    if raw == "0":
        return gs1_identifier(GS1Key("414", gln), company_prefix=cp)
    extension = _component(raw, "254")
    return gs1_identifier(GS1Key("414", gln, (("254", extension),)), company_prefix=cp)


def _grai(body: str) -> GS1Identifier:
    cp, ref, raw = _split(body, 3, "grai")
    _partition(cp, ref, 12, "asset type")
    payload = "0" + cp + ref
    if not raw:
        raise LengthError("GRAI in an EPC URI needs a serial", field="serial")
    serial = _unescape(raw, "serial")
    value = validate_element("8003", payload + check_digit(payload) + serial)
    return gs1_identifier(GS1Key("8003", value), company_prefix=cp)


def _giai(body: str) -> GS1Identifier:
    cp, raw = _split(body, 2, "giai")
    if not (cp.isdigit() and 6 <= len(cp) <= 12):
        raise IdentifierSyntaxError(
            f"company prefix must be 6 to 12 digits, got {cp[:20]!r}", field="company prefix"
        )
    value = validate_element("8004", cp + _unescape(raw, "asset reference"))
    return gs1_identifier(GS1Key("8004", value), company_prefix=cp)
