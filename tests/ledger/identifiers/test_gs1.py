"""GS1 check digits, application-identifier validation and company prefixes (GenSpecs)."""

from __future__ import annotations

import pytest
from biip.checksums import gs1_standard_check_digit

from ledger.identifiers import CharacterSetError, CheckDigitError, IdentifierError, LengthError
from ledger.identifiers.gs1 import (
    ai_spec,
    check_digit,
    check_digit_13,
    company_prefix_digits,
    dl_encode,
    epc_encode,
    lookup_company_prefix,
    validate_element,
)


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        pytest.param("629104150021", "3", id="GenSpecs-7.9.1-GTIN-13"),
        pytest.param("9501234", "6", id="GenSpecs-7.9.1-GTIN-8"),
        pytest.param("950110153100", "0", id="biip-GTIN-13"),
        pytest.param("10614141234567890", "8", id="GenSpecs-SSCC"),
        pytest.param("061414112345", "2", id="GTIN-12"),
        pytest.param("0", "0", id="one-digit"),
    ],
)
def test_check_digit_examples(payload: str, expected: str) -> None:
    assert check_digit(payload) == expected
    assert int(expected) == gs1_standard_check_digit(payload)


@pytest.mark.parametrize("payload", ["8061414112345", "0000000000000", "9999999999999"])
def test_check_digit_13_matches_general(payload: str) -> None:
    assert check_digit_13(payload) == check_digit(payload)


@pytest.mark.parametrize(
    ("ai", "value"),
    [
        pytest.param("01", "09506000134352", id="GTIN"),
        pytest.param("00", "106141412345678908", id="SSCC"),
        pytest.param("414", "0614141123452", id="GLN"),
        pytest.param("254", "5678", id="GLN-extension"),
        pytest.param("8003", "00614141123452", id="GRAI-no-serial"),
        pytest.param("8003", "00614141123452ABC-1", id="GRAI-serial"),
        pytest.param("8004", "0614141ABC/1", id="GIAI"),
        pytest.param("10", "!\"%&'()*+,-./:;<=>?_", id="lot-cset82-punctuation"),
        pytest.param("21", "12345678901234567890", id="serial-20"),
        pytest.param("17", "261231", id="expiry"),
        pytest.param("17", "260200", id="expiry-day-00"),
        pytest.param("11", "240229", id="production-leap-day"),
    ],
)
def test_valid_elements(ai: str, value: str) -> None:
    assert validate_element(ai, value) == value


@pytest.mark.parametrize(
    ("ai", "value", "error", "field", "reason"),
    [
        pytest.param(
            "01",
            "09506000134357",
            CheckDigitError,
            "GTIN",
            "GTIN check digit is 7, expected 2",
            id="GTIN-check",
        ),
        pytest.param(
            "00",
            "106141412345678909",
            CheckDigitError,
            "SSCC",
            "SSCC check digit is 9, expected 8",
            id="SSCC-check",
        ),
        pytest.param(
            "414",
            "0614141123453",
            CheckDigitError,
            "GLN",
            "GLN check digit is 3, expected 2",
            id="GLN-check",
        ),
        pytest.param(
            "8003",
            "00614141123453",
            CheckDigitError,
            "GRAI",
            "GRAI check digit is 3, expected 2",
            id="GRAI-check",
        ),
        pytest.param("10", "A B", CharacterSetError, "batch/lot", None, id="lot-space"),
        pytest.param("21", "é", CharacterSetError, "serial", None, id="serial-non-ascii"),
        pytest.param("21", "#1", CharacterSetError, "serial", None, id="serial-hash"),
        pytest.param("21", "1" * 21, LengthError, "serial", None, id="serial-21"),
        pytest.param("10", "", LengthError, "batch/lot", None, id="lot-empty"),
        pytest.param("01", "0950600013435", LengthError, "GTIN", None, id="GTIN-13-digits"),
        pytest.param("17", "261301", IdentifierError, "expiry date", None, id="month-13"),
        pytest.param("17", "230229", IdentifierError, "expiry date", None, id="not-leap"),
        pytest.param("11", "260431", IdentifierError, "production date", None, id="april-31"),
    ],
)
def test_invalid_elements(
    ai: str, value: str, error: type[IdentifierError], field: str, reason: str | None
) -> None:
    with pytest.raises(error) as caught:
        validate_element(ai, value)
    assert caught.value.field == field
    if reason is not None:
        assert caught.value.reason == reason


def test_unknown_ai() -> None:
    with pytest.raises(IdentifierError):
        ai_spec("0")
    with pytest.raises(IdentifierError):
        ai_spec("999")


@pytest.mark.parametrize(
    ("ai", "value", "digits"),
    [
        ("01", "80614141123458", "0614141123458"),
        ("00", "106141412345678908", "06141412345678908"),
        ("8003", "00614141123452400", "0614141123452400"),
        ("414", "0614141123452", "0614141123452"),
        ("8004", "0614141ABC", "0614141"),
    ],
)
def test_company_prefix_digits(ai: str, value: str, digits: str) -> None:
    assert company_prefix_digits(ai, value) == digits


def test_company_prefix_table_from_biip() -> None:
    assert lookup_company_prefix("01", "80614141123458") == "0614141"
    assert lookup_company_prefix("414", "0614141123452") == "0614141"


@pytest.mark.parametrize(
    ("value", "dl", "epc"),
    [
        pytest.param("ABC123", "ABC123", "ABC123", id="plain"),
        pytest.param("a/b", "a%2Fb", "a%2Fb", id="slash"),
        pytest.param("50%", "50%25", "50%25", id="percent"),
        pytest.param('"&<>?', "%22%26%3C%3E%3F", "%22%26%3C%3E%3F", id="TDS-A-1-escapes"),
        pytest.param("!'()*+,:;=", "%21%27%28%29%2A%2B%2C%3A%3B%3D", "!'()*+,:;=", id="others"),
        pytest.param("-._", "-._", "-._", id="unreserved"),
        pytest.param("A#-/", "A%23-%2F", "A#-%2F", id="CSET-39-of-a-CPID"),
    ],
)
def test_escaping(value: str, dl: str, epc: str) -> None:
    assert dl_encode(value) == dl
    assert epc_encode(value) == epc
