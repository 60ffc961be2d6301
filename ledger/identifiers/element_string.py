"""GS1 element strings as scanned: human-readable ``(01)...(10)...`` and raw barcode data.

Raw data is what a scanner returns for a GS1 symbol: AIs and values run together, every
variable-length field that is not last ends with FNC1, transmitted as GS (0x1D), and an
optional ISO/IEC 15424 symbology identifier in front (``]C1`` GS1-128, ``]d2`` GS1 DataMatrix,
``]Q3`` GS1 QR Code, ``]e0`` GS1 DataBar, ``]J1`` GS1 DotCode). ``]E0``/``]E4``/``]I1``
(EAN-13, EAN-8, ITF-14) carry a bare GTIN. Splitting raw data into element strings uses biip;
every value is then validated here (length, CSET 82, check digit, date).
"""

from __future__ import annotations

import re
from typing import Final

from biip import ParseError
from biip.gs1_messages import GS1Message

from ledger.identifiers.errors import (
    CharacterSetError,
    IdentifierError,
    IdentifierSyntaxError,
    LengthError,
)
from ledger.identifiers.gs1 import ai_spec, gtin_value, key_from_elements, validate_element
from ledger.identifiers.model import GS1Identifier, gs1_identifier

__all__ = [
    "GS1_SYMBOLOGIES",
    "GTIN_SYMBOLOGIES",
    "MAX_ELEMENT_STRING_LENGTH",
    "BarcodeSplitError",
    "parse_barcode_data",
    "parse_gtin",
    "parse_hri",
]

#: Longer than any GS1 symbol's data (GS1 DataMatrix/QR element strings are capped at 70-ish
#: characters per field and a few hundred in total).
MAX_ELEMENT_STRING_LENGTH: Final = 512
#: Symbology identifiers whose data is a GS1 element string.
GS1_SYMBOLOGIES: Final = frozenset({"]C1", "]d2", "]Q3", "]e0", "]J1"})
#: Symbology identifiers whose data is a bare GTIN.
GTIN_SYMBOLOGIES: Final = frozenset({"]E0", "]E4", "]I1"})

_HRI_AI: Final = re.compile(r"\((\d{2,4})\)")


class BarcodeSplitError(IdentifierSyntaxError):
    """Raw barcode data that cannot be split into element strings (biip found no AI, or a
    value that does not fit its AI). :func:`ledger.identifiers.parser.parse` catches it to
    say what is wrong in a more plausible form (a GTIN, an OID, a handle) when there is one.
    """


def parse_gtin(text: str, *, company_prefix_length: int | None = None) -> GS1Identifier:
    """A bare GTIN-8, -12, -13 or -14 (an EAN/UPC scan, or the digits printed under it).

    Raises:
        IdentifierError: a non-digit (with its position), a wrong length or check digit.
    """
    return gs1_identifier(
        key_from_elements([("01", gtin_value(text))]), company_prefix_length=company_prefix_length
    )


def parse_hri(text: str, *, company_prefix_length: int | None = None) -> GS1Identifier:
    """Parse a human-readable element string such as ``(01)09506000134352(10)ABC(21)123``.

    Spaces around ``(AI)`` markers, as printed under barcodes, are ignored; a space inside a
    value is an error (CSET 82 has none).

    Raises:
        IdentifierError: malformed, unknown AI, invalid value, or no / several primary keys.
    """
    _check_length(text)
    parts = _HRI_AI.split(text.strip(" "))
    if parts[0] != "" or len(parts) < 3:
        raise IdentifierSyntaxError(
            "expected (AI)value(AI)value... starting with '('", field="element string"
        )
    elements = []
    for index in range(1, len(parts), 2):
        ai, value = parts[index], parts[index + 1].strip(" ")
        elements.append((ai, _value(ai, value)))
    return gs1_identifier(key_from_elements(elements), company_prefix_length=company_prefix_length)


def parse_barcode_data(text: str, *, company_prefix_length: int | None = None) -> GS1Identifier:
    """Parse raw GS1 barcode data (FNC1/GS separators, optional GS1 symbology identifier).

    Raises:
        IdentifierError: as :func:`parse_hri`.
    """
    _check_length(text)
    data = text
    if data.startswith("]"):
        symbology = data[:3]
        data = data[3:]
        if symbology in GTIN_SYMBOLOGIES:
            return parse_gtin(data, company_prefix_length=company_prefix_length)
        if symbology not in GS1_SYMBOLOGIES:
            raise IdentifierSyntaxError(
                f"symbology identifier {symbology!r} does not announce GS1 data",
                field="symbology identifier",
            )
    data = data.lstrip("\x1d")  # some scanners send the leading FNC1 as GS
    if not data:
        raise LengthError("barcode data is empty", field="element string")
    if _CSET82_OR_GS.fullmatch(data) is None:
        raise CharacterSetError(
            "barcode data may only hold CSET 82 characters, '#' and GS separators",
            field="element string",
        )
    try:
        message = GS1Message.parse(data)
    except (ParseError, ValueError, ArithmeticError, LookupError) as exc:
        short = _short_first_element(data)
        if short is not None:
            raise short from exc
        raise BarcodeSplitError(
            f"cannot split the barcode data into GS1 element strings: {str(exc)[:160]}",
            field="element string",
        ) from exc
    elements = [(e.ai.ai, _value(e.ai.ai, e.value)) for e in message.element_strings]
    return gs1_identifier(key_from_elements(elements), company_prefix_length=company_prefix_length)


def _short_first_element(data: str) -> BarcodeSplitError | None:
    """The data starts with an AI but is too short for its value: say so (biip only says
    its pattern does not match)."""
    for size in (2, 3, 4):
        try:
            spec = ai_spec(data[:size])
        except IdentifierError:
            continue
        value = data[size:]
        if len(value) < spec.min_length:
            return BarcodeSplitError(
                f"{spec.field} has {len(value)} characters, at least {spec.min_length} needed "
                f"(format {spec.format})",
                field=spec.field,
            )
        return None
    return None


# CSET 82, "#" (CSET 39 adds it for a CPID, AI 8010) and GS; each AI's own set is checked later.
_CSET82_OR_GS: Final = re.compile(r"[!\"#%-?A-Z_a-z\x1d]*")


def _check_length(text: str) -> None:
    if len(text) > MAX_ELEMENT_STRING_LENGTH:
        raise LengthError(
            f"element string has {len(text)} characters, at most "
            f"{MAX_ELEMENT_STRING_LENGTH} allowed",
            field="element string",
        )


def _value(ai: str, value: str) -> str:
    return validate_element(ai, value)
