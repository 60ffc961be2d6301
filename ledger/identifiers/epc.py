"""EPC URIs of the GS1 EPC Tag Data Standard 2.1 (TDS), parsed into identifiers.

Pure identity URIs (TDS 6.3; their GS1 keys per TDS 7), each becoming the canonical Digital Link
of the key (:mod:`ledger.identifiers.canonical`):

=====================================================================  ==========================
``urn:epc:id:sgtin:{cp}.{indicator + item ref}.{serial}``   (6.3.1)    ``01`` + ``21``
``urn:epc:id:sscc:{cp}.{extension digit + serial ref}``     (6.3.2)    ``00``
``urn:epc:id:sgln:{cp}.{location ref}.{extension}``         (6.3.3)    ``414`` [+ ``254``]
``urn:epc:id:grai:{cp}.{asset type}.{serial}``              (6.3.4)    ``8003``
``urn:epc:id:giai:{cp}.{individual asset ref}``             (6.3.5)    ``8004``
``urn:epc:id:gsrn:{cp}.{service ref}``                      (6.3.6)    ``8018``
``urn:epc:id:gsrnp:{cp}.{service ref}``                     (6.3.7)    ``8017``
``urn:epc:id:gdti:{cp}.{document type}.{serial}``           (6.3.8)    ``253``
``urn:epc:id:cpi:{cp}.{component/part ref}.{serial}``       (6.3.9)    ``8010`` + ``8011``
``urn:epc:id:sgcn:{cp}.{coupon ref}.{serial}``              (6.3.10)   ``255``
``urn:epc:id:ginc:{cp}.{consignment ref}``                  (6.3.11)   ``401``
``urn:epc:id:gsin:{cp}.{shipper ref}``                      (6.3.12)   ``402``
``urn:epc:id:itip:{cp}.{ind. + item ref}.{piece}.{total}.{serial}``    ``8006`` + ``21``
``urn:epc:id:upui:{cp}.{indicator + item ref}.{TPX}``       (6.3.14)   ``01`` + ``235``
``urn:epc:id:pgln:{cp}.{party ref}``                        (6.3.15)   ``417``
=====================================================================  ==========================

(ITIP is TDS 6.3.13.) The class URI ``urn:epc:class:lgtin:{cp}.{ir}.{lot}`` (TDS 6.4.1) is
``01`` + ``10``; the SGTIN patterns ``urn:epc:idpat:sgtin:{cp}.{ir}.*`` and ``{cp}.*.*`` (TDS 8)
are read by :func:`parse_epc` as before.

The other EPC patterns are not identifiers and :func:`parse_epc` rejects them (a pattern matches
many EPCs; ``ledger.store.query`` evaluates them as ranges). Those whose wildcard stands for the
serial alone name a class that is itself a GS1 key, and :func:`parse_epc_pattern` returns that
key: ``upui:{cp}.{ir}.*`` the GTIN, ``grai:{cp}.{asset type}.*`` the GRAI without serial,
``gdti:{cp}.{document type}.*`` the GDTI without serial, ``sgcn:{cp}.{coupon ref}.*`` the GCN
without serial, ``cpi:{cp}.{ref}.*`` the CPID and ``itip:{cp}.{ir}.{piece}.{total}.*`` the ITIP.
:func:`epc_to_digital_link` converts both kinds (CBV 2.0 §8.9.2 hashes an ``epcClass`` pattern as
that Digital Link).

The company prefix (6-12 digits) is explicit in the URI and becomes the owner prefix; the numeric
references fill the key up to its fixed length (TDS 7 partition rules) and numeric references may
be empty when the company prefix takes every digit (``urn:epc:id:pgln:999999999999.``).
Alphanumeric components (serials, lots, extensions, asset and consignment references, TPX) use the
TDS escapes (``%22 %25 %26 %2F %3C %3E %3F``, table A-1); other characters of CSET 82 appear as
themselves. A CPI component/part reference holds digits, upper-case letters, ``-`` and the escapes
``%2F`` and ``%23`` (CSET 39); CPI serials are numeric without leading zeros, SGCN serials numeric
with significant leading zeros. SGTIN URIs take a fast path: one ``split``, a table-driven check
digit and no regex for plain serials, so bulk parsing reaches several hundred thousand URIs a
second.
"""

from __future__ import annotations

import re
from collections.abc import Callable
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

__all__ = [
    "EPC_PATTERN_PREFIXES",
    "EPC_URI_PREFIXES",
    "MAX_EPC_URI_LENGTH",
    "epc_to_digital_link",
    "parse_epc",
    "parse_epc_pattern",
]

#: Longer than any valid EPC URI (GIAI: 30 characters, each escaped at most to 3).
MAX_EPC_URI_LENGTH: Final = 160

#: EPC URIs :func:`parse_epc` (and :func:`ledger.identifiers.parse`) reads.
EPC_URI_PREFIXES: Final = (
    "urn:epc:id:sgtin:",
    "urn:epc:class:lgtin:",
    "urn:epc:idpat:sgtin:",
    "urn:epc:id:sscc:",
    "urn:epc:id:sgln:",
    "urn:epc:id:grai:",
    "urn:epc:id:giai:",
    "urn:epc:id:gsrn:",
    "urn:epc:id:gsrnp:",
    "urn:epc:id:gdti:",
    "urn:epc:id:cpi:",
    "urn:epc:id:sgcn:",
    "urn:epc:id:ginc:",
    "urn:epc:id:gsin:",
    "urn:epc:id:itip:",
    "urn:epc:id:upui:",
    "urn:epc:id:pgln:",
)
#: EPC patterns :func:`parse_epc_pattern` reads (class-level ones name a GS1 key).
EPC_PATTERN_PREFIXES: Final = (
    "urn:epc:idpat:sgtin:",
    "urn:epc:idpat:upui:",
    "urn:epc:idpat:grai:",
    "urn:epc:idpat:gdti:",
    "urn:epc:idpat:sgcn:",
    "urn:epc:idpat:cpi:",
    "urn:epc:idpat:itip:",
)

_SGTIN: Final = "urn:epc:id:sgtin:"
_SSCC: Final = "urn:epc:id:sscc:"
_DL_SSCC: Final = CANONICAL_HOST + "/00/"
_IDPAT: Final = "urn:epc:idpat:"
_DL_GTIN: Final = CANONICAL_HOST + "/01/"
_DL_ITIP: Final = CANONICAL_HOST + "/8006/"
# A serial of RFC 3986 unreserved characters needs no escaping in EPC URIs nor Digital Link.
_PLAIN: Final = re.compile(r"[0-9A-Za-z_.\-]{1,20}").fullmatch
# One component as TDS allows it in a URI: unescaped CSET 82 minus the 7 escaped characters.
_COMPONENT: Final = re.compile(r"(?:[0-9A-Za-z!'()*+,\-.:;=_]|%[0-9A-Fa-f]{2})+").fullmatch
# TDS CPRefComponent: digits, upper-case letters, "-" and the escapes of "/" and "#".
_CP_REF: Final = re.compile(r"(?:[0-9A-Z\-]|%2[3Ff])+").fullmatch

_SCHEMES: Final = ", ".join(p.removeprefix("urn:epc:").rstrip(":") for p in EPC_URI_PREFIXES)


def parse_epc(text: str) -> GS1Identifier:
    """Parse an EPC pure-identity URI, an LGTIN class URI or an SGTIN pattern.

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
    if text.startswith(_SGTIN):
        fast = _fast_sgtin(text)
        if fast is not None:
            cp, gtin, serial, encoded = fast
            return GS1Identifier(
                "sgtin",
                _DL_GTIN + gtin + "/21/" + encoded,
                "gs1:" + cp,
                GS1Key("01", gtin, (("21", serial),)),
                cp,
            )
    form, scheme, body = _split_uri(text)
    if form == "id":
        parser = _ID_PARSERS.get(scheme)
        if parser is not None:
            return parser(body)
    elif form == "class" and scheme == "lgtin":
        return _gtin_based(body, "10", "lgtin")
    elif form == "idpat" and scheme == "sgtin":
        return _sgtin_pattern(body)
    raise IdentifierSyntaxError(
        f"EPC URI form {form[:20]}:{scheme[:20]} is not supported (supported: {_SCHEMES})",
        field="EPC URI",
    )


def parse_epc_pattern(text: str) -> GS1Identifier:
    """The GS1 key an EPC pattern URI (TDS 8) stands for: the class its wildcard ranges over.

    ``urn:epc:idpat:{scheme}:…`` with ``*`` as the serial (or TPX) gives the class key
    (``grai:{cp}.{asset type}.*`` -> the GRAI without serial, see the module docstring); a
    pattern without wildcard is the EPC it names. The SGTIN pattern ``{cp}.*.*`` gives
    :func:`parse_epc`'s key-less pattern identifier.

    Raises:
        IdentifierError: not an EPC pattern of a supported scheme, malformed, or its wildcards
            cover more than a serial (``grai:{cp}.*.*``): no GS1 key names such a set
            (:class:`NotConvertibleError`).
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
    form, scheme, body = _split_uri(text)
    if form == "idpat" and scheme == "sgtin":
        return _sgtin_pattern(body)
    parser = _CLASS_PATTERNS.get(scheme) if form == "idpat" else None
    if parser is None:
        supported = ", ".join(p.removeprefix(_IDPAT).rstrip(":") for p in EPC_PATTERN_PREFIXES)
        raise IdentifierSyntaxError(
            f"expected an EPC pattern urn:epc:idpat:{{{supported}}}:…", field="EPC URI"
        )
    if "*" not in body:
        return _ID_PARSERS[scheme](body)
    head, _, last = body.rpartition(".")
    if last == "*" and head and "*" not in head:
        return parser(head)
    if any("*" in part and part != "*" for part in body.split(".")):
        raise IdentifierSyntaxError(
            "a wildcard stands for a whole component (TDS 8)", field="EPC URI"
        )
    raise NotConvertibleError(
        f"an EPC {scheme} pattern whose wildcards cover more than the serial names no "
        "single GS1 key",
        field="EPC URI",
    )


def epc_to_digital_link(uri: str) -> str:
    """EPC URI (id, class or pattern) -> canonical ``https://id.gs1.org`` Digital Link.

    A class-level pattern becomes the Digital Link of its class (an SGTIN or UPUI pattern with
    a wildcard serial that of the GTIN). This is the fast path used by EPCIS event hashing:
    SGTIN and SSCC URIs become strings without building an identifier (same checks, same
    result as ``parse_epc(uri).canonical``).

    Raises:
        IdentifierError: as :func:`parse_epc` / :func:`parse_epc_pattern`; also for patterns
            such as ``{cp}.*.*`` which no Digital Link can express.
    """
    if type(uri) is str and len(uri) <= MAX_EPC_URI_LENGTH:
        if uri.startswith(_SGTIN):
            fast = _fast_sgtin(uri)
            if fast is not None:
                return _DL_GTIN + fast[1] + "/21/" + fast[3]
        elif uri.startswith(_SSCC) and uri.isascii():
            cp, dot, ref = uri[16:].partition(".")
            n = len(cp)
            if dot and 6 <= n <= 12 and len(ref) == 17 - n and cp.isdigit() and ref.isdigit():
                payload = ref[0] + cp + ref[1:]
                return _DL_SSCC + payload + check_digit(payload)
    if (
        type(uri) is str
        and not uri.startswith("urn:epc:id:")
        and uri[:14].lower() == _IDPAT
        and uri[14:20].lower() != "sgtin:"
    ):
        return parse_epc_pattern(uri).canonical
    identifier = parse_epc(uri)
    if identifier.key is None:
        raise NotConvertibleError(
            "an SGTIN pattern without item reference has no GS1 Digital Link form",
            field="item reference",
        )
    return identifier.canonical


def _fast_sgtin(text: str) -> tuple[str, str, str, str] | None:
    """``urn:epc:id:sgtin:CP.IR.SERIAL`` with a valid partition -> (company prefix, GTIN,
    serial, serial for a Digital Link), or None to take the general path.

    One ``split``, a table-driven check digit and no regex for plain serials, so bulk parsing
    reaches several hundred thousand URIs a second.
    """
    if not text.isascii():
        return None
    parts = text[17:].split(".", 2)
    if len(parts) != 3:
        return None
    cp, ir, serial = parts
    n = len(cp)
    if not (6 <= n <= 12 and len(ir) == 13 - n and cp.isdigit() and ir.isdigit()):
        return None
    body = ir[0] + cp + ir[1:]
    if _PLAIN(serial) is None:
        serial = _component(serial, "21")
        return cp, body + check_digit_13(body), serial, dl_encode(serial)
    return cp, body + check_digit_13(body), serial, serial


def _split_uri(text: str) -> tuple[str, str, str]:
    """``urn:epc:{form}:{scheme}:{body}`` -> (form, scheme) lower-cased and the body."""
    if not text.isascii():
        raise CharacterSetError("EPC URI must be ASCII", field="EPC URI")
    parts = text.split(":", 4)
    if len(parts) != 5 or parts[0].lower() != "urn" or parts[1].lower() != "epc":
        raise IdentifierSyntaxError(
            "expected urn:epc:{id|class|idpat}:{scheme}:{components}", field="EPC URI"
        )
    return parts[2].lower(), parts[3].lower(), parts[4]


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


_SHAPES: Final = {2: "CP.REF", 3: "CP.REF.SERIAL", 5: "CP.REF.PIECE.TOTAL.SERIAL"}


def _split(body: str, count: int, scheme: str) -> list[str]:
    parts = body.split(".", count - 1)
    if len(parts) != count:
        raise IdentifierSyntaxError(
            f"EPC {scheme} URI needs {count} dot-separated components ({_SHAPES[count]})",
            field="EPC URI",
        )
    return parts


def _company_prefix(cp: str) -> None:
    if not (cp.isdigit() and 6 <= len(cp) <= 12):
        raise IdentifierSyntaxError(
            f"company prefix must be 6 to 12 digits, got {cp[:20]!r}", field="company prefix"
        )


def _partition(cp: str, ref: str, total: int, ref_name: str) -> None:
    """Check the company prefix / reference boundary (TDS partition tables)."""
    _company_prefix(cp)
    if not (ref.isdigit() or ref == ""):
        raise IdentifierSyntaxError(f"{ref_name} must be digits", field=ref_name)
    if len(cp) + len(ref) != total:
        raise LengthError(
            f"company prefix ({len(cp)} digits) and {ref_name} ({len(ref)} digits) must have "
            f"{total} digits together",
            field=ref_name,
        )


def _gtin(cp: str, ir: str) -> str:
    """The GTIN-14 of a company prefix and an indicator digit + item reference."""
    _partition(cp, ir, 13, "item reference")
    if not ir:
        raise LengthError("item reference must hold at least the indicator digit", field="GTIN")
    body = ir[0] + cp + ir[1:]
    return body + check_digit_13(body)


def _gtin_based(body: str, ai: str, kind: str) -> GS1Identifier:
    """SGTIN (21), LGTIN (10) and UPUI (235): a GTIN and one alphanumeric qualifier."""
    cp, ir, raw = _split(body, 3, kind)
    gtin = _gtin(cp, ir)
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
        _company_prefix(cp)
        return GS1Identifier(
            "sgtin-pattern", f"urn:epc:idpat:sgtin:{cp}.*.*", "gs1:" + cp, None, cp
        )
    if serial != "*":
        return _gtin_based(body, "21", "sgtin")
    gtin = _gtin(cp, ir)
    return GS1Identifier("sgtin-pattern", _DL_GTIN + gtin, "gs1:" + cp, GS1Key("01", gtin), cp)


def _with_check_digit(cp: str, ref: str, total: int, ref_name: str) -> str:
    """Company prefix + numeric reference (``total`` digits together) + check digit."""
    _partition(cp, ref, total, ref_name)
    payload = cp + ref
    return payload + check_digit(payload)


def _sscc(body: str) -> GS1Identifier:
    cp, ref = _split(body, 2, "sscc")
    _partition(cp, ref, 17, "serial reference")
    payload = ref[0] + cp + ref[1:]
    return gs1_identifier(GS1Key("00", payload + check_digit(payload)), company_prefix=cp)


def _sgln(body: str) -> GS1Identifier:
    cp, ref, raw = _split(body, 3, "sgln")
    gln = _with_check_digit(cp, ref, 12, "location reference")
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
    _company_prefix(cp)
    value = validate_element("8004", cp + _unescape(raw, "asset reference"))
    return gs1_identifier(GS1Key("8004", value), company_prefix=cp)


def _gsrn(body: str) -> GS1Identifier:
    """TDS 6.3.6: GSRN (recipient), AI 8018."""
    cp, ref = _split(body, 2, "gsrn")
    gsrn = _with_check_digit(cp, ref, 17, "service reference")
    return gs1_identifier(GS1Key("8018", gsrn), company_prefix=cp)


def _gsrnp(body: str) -> GS1Identifier:
    """TDS 6.3.7: GSRN of the provider, AI 8017."""
    cp, ref = _split(body, 2, "gsrnp")
    gsrn = _with_check_digit(cp, ref, 17, "service reference")
    return gs1_identifier(GS1Key("8017", gsrn), company_prefix=cp)


def _gdti(body: str) -> GS1Identifier:
    """TDS 6.3.8: GDTI, AI 253: 13 digits (document type) then the serial (X..17)."""
    cp, ref, raw = _split(body, 3, "gdti")
    document_type = _with_check_digit(cp, ref, 12, "document type")
    value = validate_element("253", document_type + _unescape(raw, "serial"))
    return gs1_identifier(GS1Key("253", value), company_prefix=cp)


def _cpid(cp: str, raw_ref: str) -> str:
    """A CPID (AI 8010) from the company prefix and a URI component/part reference."""
    _company_prefix(cp)
    if _CP_REF(raw_ref) is None:
        raise CharacterSetError(
            "component/part reference must be digits, upper-case letters, '-', %2F or %23 "
            "(TDS CPRefComponent)",
            field="component/part reference",
        )
    return validate_element("8010", cp + percent_decode_ascii(raw_ref, "CPID"))


def _cpi(body: str) -> GS1Identifier:
    """TDS 6.3.9: CPI, AI 8010 (CPID) + 8011 (serial, numeric without leading zeros)."""
    cp, raw_ref, serial = _split(body, 3, "cpi")
    cpid = _cpid(cp, raw_ref)
    if not (serial.isdigit() and (serial[0] != "0" or serial == "0")):
        raise IdentifierSyntaxError(
            "CPI serial must be digits without leading zeros (TDS NumericComponent)",
            field=field_name("8011"),
        )
    serial = validate_element("8011", serial)
    return gs1_identifier(GS1Key("8010", cpid, (("8011", serial),)), company_prefix=cp)


def _gcn(cp: str, ref: str) -> str:
    return _with_check_digit(cp, ref, 12, "coupon reference")


def _sgcn(body: str) -> GS1Identifier:
    """TDS 6.3.10: SGCN, AI 255: GCN (13 digits) then the serial (1-12 digits, leading zeros
    significant)."""
    cp, ref, serial = _split(body, 3, "sgcn")
    gcn = _gcn(cp, ref)
    if not serial.isdigit():
        raise IdentifierSyntaxError("SGCN serial must be digits", field="serial")
    if len(serial) > 12:
        raise LengthError(
            f"SGCN serial has {len(serial)} digits, at most 12 allowed", field="serial"
        )
    return gs1_identifier(GS1Key("255", gcn + serial), company_prefix=cp)


def _ginc(body: str) -> GS1Identifier:
    """TDS 6.3.11: GINC, AI 401 (company prefix + consignment reference, X..30)."""
    cp, raw = _split(body, 2, "ginc")
    _company_prefix(cp)
    value = validate_element("401", cp + _unescape(raw, "consignment reference"))
    return gs1_identifier(GS1Key("401", value), company_prefix=cp)


def _gsin(body: str) -> GS1Identifier:
    """TDS 6.3.12: GSIN, AI 402 (17 digits)."""
    cp, ref = _split(body, 2, "gsin")
    gsin = _with_check_digit(cp, ref, 16, "shipper reference")
    return gs1_identifier(GS1Key("402", gsin), company_prefix=cp)


def _itip_value(cp: str, ir: str, piece: str, total: str) -> str:
    """An ITIP (AI 8006): GTIN-14, piece number and total count (two digits each)."""
    gtin = _gtin(cp, ir)
    for name, number in (("piece number", piece), ("total count", total)):
        if len(number) != 2 or not number.isdigit():
            raise IdentifierSyntaxError(f"ITIP {name} must be two digits", field=name)
    return gtin + piece + total


def _itip(body: str) -> GS1Identifier:
    """TDS 6.3.13: ITIP, AI 8006 + serial (AI 21)."""
    cp, ir, piece, total, raw = _split(body, 5, "itip")
    value = _itip_value(cp, ir, piece, total)
    serial = _component(raw, "21")
    return GS1Identifier(
        "itip",
        f"{_DL_ITIP}{value}/21/{dl_encode(serial)}",
        "gs1:" + cp,
        GS1Key("8006", value, (("21", serial),)),
        cp,
    )


def _upui(body: str) -> GS1Identifier:
    """TDS 6.3.14: UPUI, AI 01 + third-party controlled serialised extension (AI 235)."""
    return _gtin_based(body, "235", "upui")


def _pgln(body: str) -> GS1Identifier:
    """TDS 6.3.15: GLN of a party, AI 417."""
    cp, ref = _split(body, 2, "pgln")
    gln = _with_check_digit(cp, ref, 12, "party reference")
    return gs1_identifier(GS1Key("417", gln), company_prefix=cp)


_ID_PARSERS: Final[dict[str, Callable[[str], GS1Identifier]]] = {
    "sgtin": lambda body: _gtin_based(body, "21", "sgtin"),
    "sscc": _sscc,
    "sgln": _sgln,
    "grai": _grai,
    "giai": _giai,
    "gsrn": _gsrn,
    "gsrnp": _gsrnp,
    "gdti": _gdti,
    "cpi": _cpi,
    "sgcn": _sgcn,
    "ginc": _ginc,
    "gsin": _gsin,
    "itip": _itip,
    "upui": _upui,
    "pgln": _pgln,
}


# -- class-level patterns: the components before the final ".*" ----------------------------


def _gtin_class(head: str) -> GS1Identifier:
    cp, ir = _split(head, 2, "upui pattern")
    return gs1_identifier(GS1Key("01", _gtin(cp, ir)), company_prefix=cp)


def _grai_class(head: str) -> GS1Identifier:
    cp, ref = _split(head, 2, "grai pattern")
    _partition(cp, ref, 12, "asset type")
    payload = "0" + cp + ref
    return gs1_identifier(GS1Key("8003", payload + check_digit(payload)), company_prefix=cp)


def _gdti_class(head: str) -> GS1Identifier:
    cp, ref = _split(head, 2, "gdti pattern")
    return gs1_identifier(
        GS1Key("253", _with_check_digit(cp, ref, 12, "document type")), company_prefix=cp
    )


def _gcn_class(head: str) -> GS1Identifier:
    cp, ref = _split(head, 2, "sgcn pattern")
    return gs1_identifier(GS1Key("255", _gcn(cp, ref)), company_prefix=cp)


def _cpid_class(head: str) -> GS1Identifier:
    cp, raw_ref = _split(head, 2, "cpi pattern")
    return gs1_identifier(GS1Key("8010", _cpid(cp, raw_ref)), company_prefix=cp)


def _itip_class(head: str) -> GS1Identifier:
    parts = head.split(".")
    if len(parts) != 4:
        raise IdentifierSyntaxError(
            "EPC itip pattern needs CP.REF.PIECE.TOTAL.* (TDS 8)", field="EPC URI"
        )
    cp, ir, piece, total = parts
    return gs1_identifier(GS1Key("8006", _itip_value(cp, ir, piece, total)), company_prefix=cp)


_CLASS_PATTERNS: Final[dict[str, Callable[[str], GS1Identifier]]] = {
    "upui": _gtin_class,
    "grai": _grai_class,
    "gdti": _gdti_class,
    "sgcn": _gcn_class,
    "cpi": _cpid_class,
    "itip": _itip_class,
}
