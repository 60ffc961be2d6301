"""GS1 keys, application identifiers, check digits and company prefixes.

The application-identifier table (formats, patterns, whether a separator is needed) and the
GS1 company-prefix length table come from :mod:`biip`; this module adds what the ledger needs on
top: a fast check digit, typed validation errors, the primary-key / key-qualifier table of the
GS1 Digital Link standard and the percent-escaping rules of Digital Link and EPC URIs.

References: GS1 General Specifications 24.0 (GenSpecs) section 3 (AIs), 7.9 (check digit),
7.11 (AI encodable character set 82), 7.12 (dates); GS1 Digital Link URI syntax 1.2+
(grammar: ``gs1path``, ``XSYMBOL``); EPC Tag Data Standard 2.1 (TDS) section 6 and table A-1
(escaping).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from functools import cache
from typing import Final, NamedTuple

from biip import ParseError
from biip.gs1_application_identifiers import GS1ApplicationIdentifier
from biip.gs1_prefixes import GS1CompanyPrefix

from ledger.identifiers.errors import (
    CharacterSetError,
    CheckDigitError,
    IdentifierSyntaxError,
    LengthError,
)

__all__ = [
    "CLASS_QUALIFIERS",
    "COMPANY_PREFIX_LENGTHS",
    "CSET82",
    "DL_SHORT_NAMES",
    "GTIN_LENGTHS",
    "INSTANCE_QUALIFIERS",
    "PRIMARY_KEYS",
    "AISpec",
    "GS1Key",
    "PrimaryKey",
    "ai_spec",
    "check_digit",
    "company_prefix_digits",
    "dl_encode",
    "epc_encode",
    "explicit_company_prefix",
    "field_name",
    "gtin14",
    "gtin_value",
    "key_from_elements",
    "lookup_company_prefix",
    "percent_decode_ascii",
    "require_digits",
    "validate_element",
]

#: GS1 company prefixes have 6 to 12 digits in the EPC partition tables (TDS section 14).
COMPANY_PREFIX_LENGTHS: Final = range(6, 13)

#: GS1 AI encodable character set 82 (GenSpecs figure 7.11-1).
CSET82: Final = frozenset(
    "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
)


class GS1Key(NamedTuple):
    """A GS1 primary key with its key qualifiers and data attributes, values unescaped.

    ``qualifiers`` are in Digital Link order; ``attributes`` are sorted by AI. GTINs are always
    stored with 14 digits.
    """

    ai: str
    value: str
    qualifiers: tuple[tuple[str, str], ...] = ()
    attributes: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class PrimaryKey:
    """One primary key of the GS1 Digital Link standard (DL URI syntax grammar, ``gs1path``)."""

    ai: str
    kind: str
    field: str
    #: Allowed key qualifiers, in the order they must appear in a Digital Link path.
    qualifiers: tuple[str, ...] = ()


PRIMARY_KEYS: Final[dict[str, PrimaryKey]] = {
    pk.ai: pk
    for pk in (
        PrimaryKey("01", "gtin", "GTIN", ("22", "10", "21", "235")),
        PrimaryKey("8006", "itip", "ITIP", ("22", "10", "21")),
        PrimaryKey("8013", "gmn", "GMN"),
        PrimaryKey("8010", "cpid", "CPID", ("8011",)),
        PrimaryKey("414", "gln", "GLN", ("254", "7040")),
        PrimaryKey("415", "payto", "GLN", ("8020",)),
        PrimaryKey("417", "party", "GLN", ("7040",)),
        PrimaryKey("8017", "gsrnp", "GSRN", ("8019",)),
        PrimaryKey("8018", "gsrn", "GSRN", ("8019",)),
        PrimaryKey("255", "gcn", "GCN"),
        PrimaryKey("00", "sscc", "SSCC"),
        PrimaryKey("253", "gdti", "GDTI"),
        PrimaryKey("401", "ginc", "GINC"),
        PrimaryKey("402", "gsin", "GSIN"),
        PrimaryKey("8003", "grai", "GRAI"),
        PrimaryKey("8004", "giai", "GIAI", ("7040",)),
    )
}

#: Key qualifiers that identify an instance; when one is present the others are class-level
#: (consumer product variant, batch/lot) and are left out of the canonical form. See
#: :mod:`ledger.identifiers.canonical` for why.
INSTANCE_QUALIFIERS: Final[dict[str, frozenset[str]]] = {
    "01": frozenset({"21", "235"}),
    "8006": frozenset({"21"}),
}
#: Key qualifiers that make a class narrower (GTIN + CPV + lot = an LGTIN-like class).
CLASS_QUALIFIERS: Final[dict[str, tuple[str, ...]]] = {"01": ("22", "10"), "8006": ("22", "10")}

#: Convenience short names of GS1 Digital Link 1.0 (still found on printed codes).
DL_SHORT_NAMES: Final[dict[str, str]] = {
    "gtin": "01",
    "itip": "8006",
    "cpv": "22",
    "lot": "10",
    "ser": "21",
    "tpx": "235",
    "sscc": "00",
    "gln": "414",
    "glnx": "254",
    "payTo": "415",
    "party": "417",
    "grai": "8003",
    "giai": "8004",
    "gsrn": "8018",
    "gsrnp": "8017",
    "srin": "8019",
    "gdti": "253",
    "gcn": "255",
    "ginc": "401",
    "gsin": "402",
    "cpid": "8010",
    "cpsn": "8011",
    "gmn": "8013",
    "refNo": "8020",
}

_FIELD_NAMES: Final[dict[str, str]] = {
    "00": "SSCC",
    "01": "GTIN",
    "02": "GTIN",
    "10": "batch/lot",
    "11": "production date",
    "13": "packaging date",
    "15": "best before date",
    "16": "sell by date",
    "17": "expiry date",
    "21": "serial",
    "22": "consumer product variant",
    "235": "TPX",
    "253": "GDTI",
    "254": "GLN extension",
    "255": "GCN",
    "401": "GINC",
    "402": "GSIN",
    "414": "GLN",
    "415": "GLN",
    "417": "GLN",
    "7040": "UIC with extension",
    "8003": "GRAI",
    "8004": "GIAI",
    "8006": "ITIP",
    "8010": "CPID",
    "8011": "CPID serial",
    "8013": "GMN",
    "8017": "GSRN",
    "8018": "GSRN",
    "8019": "SRIN",
    "8020": "payment slip reference",
}

#: (start, end) of the digits a check digit is computed over; the check digit is at ``end``.
_CHECK_DIGIT_SPANS: Final[dict[str, tuple[int, int]]] = {
    "00": (0, 17),
    "01": (0, 13),
    "02": (0, 13),
    "03": (0, 13),
    "253": (0, 12),
    "255": (0, 12),
    "402": (0, 16),
    "410": (0, 12),
    "411": (0, 12),
    "412": (0, 12),
    "413": (0, 12),
    "414": (0, 12),
    "415": (0, 12),
    "416": (0, 12),
    "417": (0, 12),
    "8003": (1, 13),
    "8006": (0, 13),
    "8017": (0, 17),
    "8018": (0, 17),
}

_DATE_AIS: Final = frozenset({"11", "12", "13", "15", "16", "17"})

# Weighted sums of every 4-digit block, weights 1-3-1-3 (rightmost digit of a payload gets 3).
_QUAD: Final[dict[str, int]] = {
    f"{n:04d}": (n // 1000) + 3 * (n // 100 % 10) + (n // 10 % 10) + 3 * (n % 10)
    for n in range(10000)
}
_DIGIT_CHARS: Final = "0123456789"


def check_digit(payload: str) -> str:
    """Return the GS1 mod-10 check digit of a string of ASCII digits (GenSpecs 7.9.1).

    The caller guarantees ``payload`` holds ASCII digits only. Weights alternate 3, 1, 3...
    starting from the rightmost digit; the sum is taken over 4-digit blocks from a
    precomputed table, which is several times faster than a digit loop.
    """
    pad = -len(payload) % 4
    if pad:
        payload = "000"[:pad] + payload
    total = 0
    quad = _QUAD
    for i in range(0, len(payload), 4):
        total += quad[payload[i : i + 4]]
    return _DIGIT_CHARS[-total % 10]


def check_digit_13(payload: str) -> str:
    """Check digit of a 13-digit payload (a GTIN-14 or ITIP body): the EPC fast path."""
    quad = _QUAD
    return _DIGIT_CHARS[
        -(quad["000" + payload[0]] + quad[payload[1:5]] + quad[payload[5:9]] + quad[payload[9:]])
        % 10
    ]


@dataclass(frozen=True, slots=True)
class AISpec:
    """What the ledger needs to know about one GS1 application identifier."""

    ai: str
    field: str
    pattern: re.Pattern[str]
    max_length: int
    min_length: int
    separator_required: bool
    cset82: bool
    format: str
    #: Every part of the format is numeric (``N``): a letter is "where a digit belongs".
    numeric: bool = False


_FORMAT_PART = re.compile(r"([NXYZ])(\.\.)?(\d+)")


@cache
def ai_spec(ai: str) -> AISpec:
    """Return the specification of application identifier ``ai`` (e.g. ``"01"``).

    Raises:
        IdentifierError: ``ai`` is not a GS1 application identifier.
    """
    if not (ai.isascii() and ai.isdigit() and 2 <= len(ai) <= 4):
        raise IdentifierSyntaxError(f"{ai!r} is not a GS1 application identifier", field="AI")
    try:
        info = GS1ApplicationIdentifier.extract(ai)
    except ParseError:
        info = None
    if info is None or info.ai != ai:
        raise IdentifierSyntaxError(f"({ai}) is not a GS1 application identifier", field="AI")
    parts = _FORMAT_PART.findall(info.format)[1:]  # the first part is the AI itself
    max_length = sum(int(n) for _, _, n in parts)
    optional = info.format.count("[")
    min_length = sum(int(n) for _, dots, n in parts[: len(parts) - optional] if not dots) or 1
    # biip's patterns start with the AI; match the data field alone.
    data_pattern = info.pattern.removeprefix("^").removesuffix("$")
    data_pattern = data_pattern[len(ai) :]
    return AISpec(
        ai=ai,
        field=_FIELD_NAMES.get(ai, f"AI ({ai})"),
        pattern=re.compile(data_pattern),
        max_length=max_length,
        min_length=min_length,
        separator_required=info.separator_required,
        cset82=any(kind == "X" for kind, _, _ in parts),
        format=info.format,
        numeric=all(kind == "N" for kind, _, _ in parts),
    )


def field_name(ai: str) -> str:
    """Human name of the element an AI introduces, used as the error ``field``."""
    return _FIELD_NAMES.get(ai, f"AI ({ai})")


def validate_element(ai: str, value: str) -> str:
    """Validate one element string's data field and return it unchanged.

    Checks length, character set (CSET 82 for alphanumeric fields), format, check digit of
    GS1 keys and that YYMMDD dates exist (day ``00`` means the last day of the month,
    GenSpecs 7.12).

    Raises:
        IdentifierError: (a subclass naming the problem) when the value is not valid.
    """
    spec = ai_spec(ai)
    field = spec.field
    if len(value) > spec.max_length:
        raise LengthError(
            f"{field} has {len(value)} characters, at most {spec.max_length} allowed "
            f"(format {spec.format})",
            field=field,
        )
    if not value:
        raise LengthError(f"{field} is empty", field=field)
    if spec.pattern.fullmatch(value) is None:
        if spec.numeric:
            require_digits(value, field)
        bad = next((c for c in value if c not in CSET82), None)
        if bad is not None:
            raise CharacterSetError(
                f"{field} contains {bad!r}, which is not in the GS1 AI encodable character set 82",
                field=field,
            )
        if len(value) < spec.min_length:
            raise LengthError(
                f"{field} has {len(value)} characters, at least {spec.min_length} needed "
                f"(format {spec.format})",
                field=field,
            )
        raise IdentifierSyntaxError(
            f"{field} {value!r} does not have the format {spec.format}", field=field
        )
    span = _CHECK_DIGIT_SPANS.get(ai)
    if span is not None:
        start, end = span
        expected = check_digit(value[start:end])
        if value[end] != expected:
            raise CheckDigitError(
                f"{field} check digit is {value[end]}, expected {expected}", field=field
            )
    if ai in _DATE_AIS:
        _validate_date(value, field)
    return value


def _validate_date(value: str, field: str) -> None:
    year, month, day = int(value[0:2]), int(value[2:4]), int(value[4:6])
    if not 1 <= month <= 12:
        raise IdentifierSyntaxError(f"{field} month {value[2:4]} is not 01-12", field=field)
    # Two-digit years map to 19xx/20xx (GenSpecs 7.12); leap years agree for both here.
    last = calendar.monthrange(2000 + year, month)[1]
    if day > last:
        raise IdentifierSyntaxError(
            f"{field} day {value[4:6]} does not exist in month {value[2:4]}", field=field
        )


_LEADING_DIGITS = re.compile(r"\d*")


def company_prefix_digits(ai: str, value: str) -> str:
    """The digits of a key in which the GS1 company prefix is found.

    That is the key without its indicator digit (GTIN, ITIP), extension digit (SSCC) or
    leading zero (GRAI); the whole key for GLN, GSRN, GDTI, GCN, GSIN; and the leading digits
    of alphanumeric keys (GIAI, GINC, GMN, CPID).
    """
    if ai in ("01", "02", "8006", "00", "8003"):
        return value[1:]
    match = _LEADING_DIGITS.match(value)
    return match.group() if match else ""


def lookup_company_prefix(ai: str, value: str) -> str | None:
    """The GS1 company prefix of a key from biip's GS1 company-prefix table, if it is known."""
    digits = company_prefix_digits(ai, value)
    if not digits:
        return None
    try:
        found = GS1CompanyPrefix.extract(digits)
    except ParseError:
        return None
    if found is None or len(found.value) not in COMPANY_PREFIX_LENGTHS:
        return None
    return found.value


def explicit_company_prefix(ai: str, value: str, length: int) -> str:
    """The company prefix of a key when the caller says how long it is.

    Raises:
        IdentifierError: the length is outside 6-12 or longer than the key's digits.
    """
    if length not in COMPANY_PREFIX_LENGTHS:
        raise LengthError(
            f"company prefix length {length} is not between 6 and 12", field="company prefix"
        )
    digits = company_prefix_digits(ai, value)
    if len(digits) < length:
        raise LengthError(
            f"{field_name(ai)} has only {len(digits)} company-prefix digits, "
            f"{length} were asked for",
            field="company prefix",
        )
    return digits[:length]


# Digital Link path segments and query values: everything but RFC 3986 unreserved characters
# is percent-encoded with upper-case hex (DL grammar ``XSYMBOL``, ``YSYMBOL``; the values are
# CSET 82, and CSET 39 adds "#" for a CPID).
_DL_TABLE: Final = {
    ord(c): f"%{ord(c):02X}" for c in CSET82 | {"#"} if not (c.isalnum() or c in "-._")
}
# EPC URIs: only these seven CSET 82 characters are escaped (TDS 2.1 table A-1).
_EPC_TABLE: Final = {ord(c): f"%{ord(c):02X}" for c in '"%&/<>?'}


def dl_encode(value: str) -> str:
    """Percent-encode a CSET 82 (or CSET 39) value for a Digital Link path segment or query."""
    return value.translate(_DL_TABLE)


def epc_encode(value: str) -> str:
    """Escape a CSET 82 value for an EPC pure-identity URI component (TDS table A-1)."""
    return value.translate(_EPC_TABLE)


_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")


def percent_decode_ascii(value: str, field: str) -> str:
    """Decode ``%XX`` escapes of a GS1 value; a ``%`` not followed by two hex digits fails.

    The result is not checked against CSET 82 here; :func:`validate_element` does that.
    """
    if "%" not in value:
        return value
    decoded = _PERCENT.sub(lambda m: chr(int(m.group(1), 16)), value)
    if value.count("%") != len(_PERCENT.findall(value)):
        raise IdentifierSyntaxError(
            f"{field} has a '%' that does not start a %XX escape", field=field
        )
    return decoded


def gtin14(value: str) -> str:
    """Zero-pad a GTIN-8, -12 or -13 to the 14 digits used in element strings and DL.

    Raises:
        IdentifierError: a character that is not a digit (named with its position), or not
            8, 12, 13 or 14 digits.
    """
    require_digits(value, "GTIN")
    if len(value) not in GTIN_LENGTHS:
        raise LengthError(f"GTIN has {len(value)} digits; a GTIN has 8, 12, 13 or 14", field="GTIN")
    return value.zfill(14)


#: The lengths of a GTIN as written: GTIN-8, GTIN-12 (UPC-A), GTIN-13 (EAN-13), GTIN-14.
GTIN_LENGTHS: Final = frozenset({8, 12, 13, 14})


def gtin_value(value: str) -> str:
    """A GTIN as written anywhere a bare GTIN stands (a Digital Link ``/01/`` segment, an
    EAN/UPC scan, a bare digit string): zero-padded to 14 digits and validated.

    Raises:
        IdentifierError: a non-digit (with its position), a wrong length or check digit.
    """
    return validate_element("01", gtin14(value))


def require_digits(value: str, field: str) -> None:
    """Raise unless ``value`` holds ASCII digits only, naming the first other character and
    its (1-based) position.

    Raises:
        CharacterSetError: a character that is not a digit.
    """
    if value.isascii() and value.isdigit():
        return
    for position, char in enumerate(value, 1):
        if not ("0" <= char <= "9"):
            raise CharacterSetError(
                f"{field} has {char!r} at position {position} where a digit belongs",
                field=field,
            )


#: AIs that only make sense next to one of the given primary keys (GenSpecs mandatory
#: associations of element strings, for the key qualifiers).
_REQUIRES: Final[dict[str, tuple[str, ...]]] = {
    "21": ("01", "8006"),
    "22": ("01", "8006"),
    "235": ("01",),
    "254": ("414",),
    "8011": ("8010",),
    "8019": ("8017", "8018"),
    "8020": ("415",),
}


def key_from_elements(elements: list[tuple[str, str]]) -> GS1Key:
    """Assemble a key from validated ``(ai, value)`` pairs of an element string.

    Exactly one primary key must be present; its key qualifiers are put in Digital Link
    order, everything else becomes a data attribute (sorted by AI). An AI may appear once.

    Raises:
        IdentifierError: no or several primary keys, a repeated AI, or a key qualifier
            without the primary key it qualifies.
    """
    seen: set[str] = set()
    for ai, _ in elements:
        if ai in seen:
            raise IdentifierSyntaxError(f"AI ({ai}) appears more than once", field=field_name(ai))
        seen.add(ai)
    primaries = [e for e in elements if e[0] in PRIMARY_KEYS]
    if not primaries:
        raise IdentifierSyntaxError(
            "no GS1 primary key (GTIN, SSCC, GLN, GRAI, GIAI...) in the element string",
            field="primary key",
        )
    if len(primaries) > 1:
        names = ", ".join(f"({ai})" for ai, _ in primaries)
        raise IdentifierSyntaxError(f"more than one GS1 primary key: {names}", field="primary key")
    ai, value = primaries[0]
    allowed = PRIMARY_KEYS[ai].qualifiers
    values = dict(elements)
    qualifiers = tuple((q, values[q]) for q in allowed if q in values)
    attributes = []
    for other, data in elements:
        if other == ai or other in allowed:
            continue
        needs = _REQUIRES.get(other)
        if needs is not None:
            raise IdentifierSyntaxError(
                f"AI ({other}) may only qualify "
                + " or ".join(f"({n})" for n in needs)
                + f", not ({ai})",
                field=field_name(other),
            )
        attributes.append((other, data))
    attributes.sort()
    return GS1Key(ai, value, qualifiers, tuple(attributes))
