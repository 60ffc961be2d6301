"""Bare GTINs, and errors that name the real problem of the most plausible form.

A bare digit string of GTIN length is a GTIN (as the resolver's ``/01/{gtin}`` reads it and as
an EAN/UPC scanner without symbology identifier sends it); anything that looks like a GTIN, an
OID, a handle, a URN or a URL and fails says what is wrong with it in that form, never that
"the barcode data cannot be split into element strings".
"""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.identifiers import (
    CharacterSetError,
    CheckDigitError,
    GS1Identifier,
    IdentifierError,
    LengthError,
    parse,
)
from ledger.identifiers.gs1 import check_digit

SPLIT_MESSAGE = "cannot split the barcode data"
DIGITS = string.digits


@pytest.mark.parametrize(
    ("text", "gtin14"),
    [
        pytest.param("6901234567892", "06901234567892", id="GTIN-13"),
        pytest.param("06901234567892", "06901234567892", id="GTIN-14"),
        pytest.param("614141123452", "00614141123452", id="GTIN-12"),
        pytest.param("96385074", "00000096385074", id="GTIN-8"),
        pytest.param("4012345000009", "04012345000009", id="GTIN-13-starting-with-AI-401"),
    ],
)
def test_a_bare_gtin_parses_as_a_gtin(text: str, gtin14: str) -> None:
    identifier = parse(text)
    assert isinstance(identifier, GS1Identifier)
    assert identifier.kind == "gtin"
    assert identifier.canonical == f"https://id.gs1.org/01/{gtin14}"
    # The same identifier as the resolver path /01/{gtin} and the EAN-13 scan ]E0{gtin}.
    assert parse(f"https://example.com/01/{text}") == identifier
    if len(text) == 13:
        assert parse(f"]E0{text}") == identifier


@pytest.mark.parametrize(
    ("text", "error", "field", "reason"),
    [
        pytest.param(
            "6901234567891",
            CheckDigitError,
            "GTIN",
            "GTIN check digit is 1, expected 2",
            id="GTIN-13-check-digit",
        ),
        pytest.param(
            "96385075",
            CheckDigitError,
            "GTIN",
            "GTIN check digit is 5, expected 4",
            id="GTIN-8-check-digit",
        ),
        pytest.param(
            "69O1234567892",
            CharacterSetError,
            "GTIN",
            "GTIN has 'O' at position 3 where a digit belongs",
            id="letter-O-for-zero",
        ),
        pytest.param(
            "690123456789",
            CheckDigitError,
            "GTIN",
            "GTIN check digit is 9, expected 7",
            id="GTIN-13-missing-a-digit-reads-as-GTIN-12",
        ),
        pytest.param(
            "6901234567",
            LengthError,
            "GTIN",
            "GTIN has 10 digits; a GTIN has 8, 12, 13 or 14",
            id="GTIN-wrong-length",
        ),
        pytest.param(
            "1.2.156.a",
            IdentifierError,
            "OID",
            "OID arc 4 is 'a', not a decimal number",
            id="OID-letter-arc",
        ),
        pytest.param(
            "1.2.156..5",
            IdentifierError,
            "OID",
            "OID arc 4 is empty",
            id="OID-empty-arc",
        ),
        pytest.param(
            "1.2.156.05",
            IdentifierError,
            "OID",
            "OID arc 4 is '05', a decimal number without leading zeros is expected",
            id="OID-leading-zero",
        ),
        pytest.param(
            "1.2.840.113549",
            IdentifierError,
            "OID",
            "only OIDs under 1.2.156 or 2.16.156 are supported",
            id="OID-other-country",
        ),
        pytest.param(
            "88..8/x",
            IdentifierError,
            "handle prefix",
            "handle prefix '88..8' has an empty segment",
            id="handle-empty-segment",
        ),
        pytest.param(
            "88.1#8/x",
            IdentifierError,
            "handle prefix",
            "handle prefix '88.1#8' contains '#'; a segment holds letters, digits, '_' or '-'",
            id="handle-bad-character",
        ),
        pytest.param(
            "4263537/4000",
            IdentifierError,
            "handle prefix",
            "a bare handle prefix has a '.' and starts with 1-5 digits or a letter; "
            "write hdl:4263537/4000",
            id="handle-undotted-prefix",
        ),
    ],
)
def test_errors_name_the_problem_of_the_plausible_form(
    text: str, error: type[IdentifierError], field: str, reason: str
) -> None:
    with pytest.raises(error) as caught:
        parse(text)
    assert (caught.value.field, caught.value.reason) == (field, reason)


def test_a_letter_in_a_numeric_element_names_its_position() -> None:
    with pytest.raises(CharacterSetError) as caught:
        parse("(01)069O1234567892")
    assert caught.value.reason == "GTIN has 'O' at position 4 where a digit belongs"
    with pytest.raises(CharacterSetError) as caught:
        parse("https://id.gs1.org/01/69O1234567892")
    assert caught.value.reason == "GTIN has 'O' at position 3 where a digit belongs"


def test_raw_barcode_data_still_parses() -> None:
    """Element strings without symbology identifier keep working (16+ characters, or GS)."""
    assert parse("0106901234567892").canonical == "https://id.gs1.org/01/06901234567892"
    assert parse("0106901234567892" + "10LOT.1").canonical == (
        "https://id.gs1.org/01/06901234567892/10/LOT.1"
    )
    assert parse("80040614141ABC/1").canonical == "https://id.gs1.org/8004/0614141ABC%2F1"
    with pytest.raises(IdentifierError) as caught:
        parse("0000000000000000")  # (00) and 14 digits: an SSCC too short
    assert (caught.value.field, caught.value.reason) == (
        "SSCC",
        "SSCC has 14 characters, at least 18 needed (format N2+N18)",
    )


# ------------------------------------------------------------------ the property


def _mutate(draw: st.DrawFn, text: str, alphabet: str) -> str:
    """``text`` with 0-2 characters replaced, deleted or inserted."""
    for _ in range(draw(st.integers(0, 2))):
        if not text:
            break
        at = draw(st.integers(0, len(text) - 1))
        what = draw(st.sampled_from(["replace", "delete", "insert"]))
        char = draw(st.sampled_from(alphabet))
        if what == "replace":
            text = text[:at] + char + text[at + 1 :]
        elif what == "delete":
            text = text[:at] + text[at + 1 :]
        else:
            text = text[:at] + char + text[at:]
    return text


@st.composite
def gtin_like(draw: st.DrawFn) -> str:
    length = draw(st.sampled_from([8, 12, 13, 14]))
    body = draw(st.text(alphabet=DIGITS, min_size=length - 1, max_size=length - 1))
    return _mutate(draw, body + check_digit(body), DIGITS + "OoIlSBZ")


@st.composite
def oid_like(draw: st.DrawFn) -> str:
    root = draw(st.sampled_from(["1.2.156", "2.16.156", "1.2.840", "1.2.156.0"]))
    arcs = draw(st.lists(st.integers(0, 10**6).map(str), min_size=1, max_size=4))
    text = _mutate(draw, ".".join([root, *arcs]), DIGITS + ".a0")
    return draw(st.sampled_from(["", "urn:oid:", "URN:OID:"])) + text


@st.composite
def handle_like(draw: st.DrawFn) -> str:
    segments = draw(
        st.lists(st.text(alphabet=DIGITS, min_size=1, max_size=5), min_size=1, max_size=3)
    )
    prefix = _mutate(draw, ".".join(segments), DIGITS + "..#_-aZ")
    suffix = draw(st.text(alphabet=string.ascii_letters + DIGITS + "-/.", max_size=12))
    return draw(st.sampled_from(["", "hdl:", "https://hdl.handle.net/"])) + f"{prefix}/{suffix}"


@st.composite
def urn_like(draw: st.DrawFn) -> str:
    scheme = draw(st.sampled_from(["urn:epc:id:sgtin:", "urn:epc:class:lgtin:", "urn:oid:",
                                   "urn:uuid:", "urn:x:"]))  # fmt: skip
    return scheme + draw(st.text(alphabet=DIGITS + ".*:abcXYZ%/", max_size=30))


@st.composite
def url_like(draw: st.DrawFn) -> str:
    host = draw(st.sampled_from(["https://id.gs1.org", "http://r.example", "https://a.example/p"]))
    path = draw(st.text(alphabet=DIGITS + "/.abcXYZ%?=&", max_size=40))
    return f"{host}/{path}"


@given(st.one_of(gtin_like(), oid_like(), handle_like(), urn_like(), url_like()))
def test_plausible_forms_never_fail_as_barcode_data(text: str) -> None:
    failure: IdentifierError | None = None
    try:
        parse(text)
    except IdentifierError as error:  # any other exception fails the test
        failure = error
    if failure is not None:
        assert SPLIT_MESSAGE not in failure.reason, (text, failure.field, failure.reason)
