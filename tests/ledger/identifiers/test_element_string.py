"""GS1 element strings as scanned: HRI and raw barcode data (GenSpecs 3, 7.8)."""

from __future__ import annotations

import pytest

from ledger.identifiers import (
    CharacterSetError,
    CheckDigitError,
    IdentifierError,
    IdentifierSyntaxError,
    parse,
)

CANONICAL_SERIAL = "https://id.gs1.org/01/09506000134352/21/123"

VALID = [
    pytest.param("(01)09506000134352(10)ABC(21)123", CANONICAL_SERIAL, id="HRI"),
    pytest.param("(01) 09506000134352 (10) ABC (21) 123", CANONICAL_SERIAL, id="HRI-printed"),
    pytest.param("(01)09506000134352(21)123(10)ABC", CANONICAL_SERIAL, id="HRI-any-order"),
    pytest.param("010950600013435210ABC\x1d21123", CANONICAL_SERIAL, id="raw-GS"),
    pytest.param("]d2010950600013435210ABC\x1d21123", CANONICAL_SERIAL, id="GS1-DataMatrix"),
    pytest.param("]C1010950600013435210ABC\x1d21123", CANONICAL_SERIAL, id="GS1-128"),
    pytest.param("]Q3010950600013435210ABC\x1d21123", CANONICAL_SERIAL, id="GS1-QR"),
    pytest.param("]d2\x1d010950600013435210ABC\x1d21123", CANONICAL_SERIAL, id="leading-GS"),
    pytest.param(
        "]d201095060001343521726123110ABC\x1d21123", CANONICAL_SERIAL, id="GenSpecs-expiry"
    ),
    pytest.param("]E09506000134352", "https://id.gs1.org/01/09506000134352", id="EAN-13"),
    pytest.param(
        "]Q1https://example.com/01/09506000134352/21/123", CANONICAL_SERIAL, id="QR-text-DL"
    ),
    pytest.param(
        "(00)106141412345678908(02)09506000134352(37)25(10)ABC",
        "https://id.gs1.org/00/106141412345678908",
        id="GenSpecs-logistic-label",
    ),
    pytest.param(
        "(414)0614141123452(254)5678",
        "https://id.gs1.org/414/0614141123452/254/5678",
        id="GLN-extension",
    ),
    pytest.param(
        "(8003)00614141123452400",
        "https://id.gs1.org/8003/00614141123452400",
        id="GRAI",
    ),
    pytest.param(
        "(8004)0614141ABC/1", "https://id.gs1.org/8004/0614141ABC%2F1", id="GIAI-with-slash"
    ),
]


@pytest.mark.parametrize(("text", "canonical"), VALID)
def test_valid_element_strings(text: str, canonical: str) -> None:
    assert parse(text).canonical == canonical


def test_element_string_round_trip_keeps_attributes() -> None:
    identifier = parse("(01)09506000134352(17)261231(10)ABC(21)123")
    assert identifier.element_string == "(01)09506000134352(10)ABC(21)123(17)261231"
    assert identifier.digital_link() == (
        "https://id.gs1.org/01/09506000134352/10/ABC/21/123?17=261231"
    )
    assert identifier.barcode_data == "010950600013435217261231" + "10ABC\x1d21123"
    assert parse(identifier.barcode_data) == identifier


INVALID = [
    pytest.param("(01)09506000134353", CheckDigitError, "GTIN", id="check-digit"),
    pytest.param("(01)09506000134352(11)260230", IdentifierError, "production date", id="feb30"),
    pytest.param(
        "(01)09506000134352(00)106141412345678908",
        IdentifierSyntaxError,
        "primary key",
        id="two-keys",
    ),
    pytest.param("(17)261231", IdentifierSyntaxError, "primary key", id="no-key"),
    pytest.param("(00)106141412345678908(21)5", IdentifierSyntaxError, "serial", id="21-on-sscc"),
    pytest.param("(01)09506000134352(10)A(10)B", IdentifierSyntaxError, "batch/lot", id="repeated"),
    pytest.param("(01)09506000134352(10)A B", CharacterSetError, "batch/lot", id="space-in-lot"),
    pytest.param("(99999)1", IdentifierSyntaxError, "element string", id="5-digit-AI"),
    pytest.param("(01)", IdentifierError, "GTIN", id="empty-value"),
    pytest.param("]X0123", IdentifierSyntaxError, "symbology identifier", id="unknown-symbology"),
    pytest.param("]E0950600013435X", CharacterSetError, "GTIN", id="EAN-letters"),
    pytest.param("0109506000134352\x1d\x1c", CharacterSetError, None, id="file-separator"),
    pytest.param("01095060001343521", IdentifierSyntaxError, "element string", id="dangling"),
]


@pytest.mark.parametrize(("text", "error", "field"), INVALID)
def test_invalid_element_strings(
    text: str, error: type[IdentifierError], field: str | None
) -> None:
    with pytest.raises(error) as caught:
        parse(text)
    if field is not None:
        assert caught.value.field == field
