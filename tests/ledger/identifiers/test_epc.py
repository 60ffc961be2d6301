"""EPC URI parsing and conversion: worked examples of the EPC Tag Data Standard 2.1.

Section numbers: TDS 2.1 6.3.x (pure identity URI syntax), 6.4.1 (LGTIN class), 7.x (the GS1 key
of each scheme), 8 (patterns), table A-1 (escaping).
"""

from __future__ import annotations

import pytest

from ledger.identifiers import (
    CharacterSetError,
    GS1Identifier,
    IdentifierError,
    IdentifierSyntaxError,
    LengthError,
    NotConvertibleError,
    epc_to_digital_link,
    parse,
    parse_epc_pattern,
    prefix_candidates,
)

# (EPC URI, canonical Digital Link, kind, owner prefix); TDS 2.1 section 6.3 and annex E
# examples, translated to GS1 keys via TDS section 7.
EXAMPLES = [
    pytest.param(
        "urn:epc:id:sgtin:0614141.812345.6789",
        "https://id.gs1.org/01/80614141123458/21/6789",
        "sgtin",
        "gs1:0614141",
        id="TDS-6.3.1-sgtin",
    ),
    pytest.param(
        "urn:epc:id:sgtin:0614141.112345.400",
        "https://id.gs1.org/01/10614141123459/21/400",
        "sgtin",
        "gs1:0614141",
        id="TDS-annexE-sgtin-96",
    ),
    pytest.param(
        "urn:epc:id:sgtin:0614141.712345.32a%2Fb",
        "https://id.gs1.org/01/70614141123451/21/32a%2Fb",
        "sgtin",
        "gs1:0614141",
        id="TDS-sgtin-escaped-slash",
    ),
    pytest.param(
        "urn:epc:class:lgtin:4012345.012345.998877",
        "https://id.gs1.org/01/04012345123456/10/998877",
        "lgtin",
        "gs1:4012345",
        id="TDS-6.4.1-lgtin",
    ),
    pytest.param(
        "urn:epc:idpat:sgtin:0614141.812345.*",
        "https://id.gs1.org/01/80614141123458",
        "sgtin-pattern",
        "gs1:0614141",
        id="TDS-8-sgtin-pattern",
    ),
    pytest.param(
        "urn:epc:id:sscc:0614141.1234567890",
        "https://id.gs1.org/00/106141412345678908",
        "sscc",
        "gs1:0614141",
        id="TDS-6.3.2-sscc",
    ),
    pytest.param(
        "urn:epc:id:sgln:0614141.12345.400",
        "https://id.gs1.org/414/0614141123452/254/400",
        "sgln",
        "gs1:0614141",
        id="TDS-6.3.3-sgln",
    ),
    pytest.param(
        "urn:epc:id:sgln:0614141.12345.0",
        "https://id.gs1.org/414/0614141123452",
        "gln",
        "gs1:0614141",
        id="TDS-6.3.3-sgln-no-extension",
    ),
    pytest.param(
        "urn:epc:id:grai:0614141.12345.400",
        "https://id.gs1.org/8003/00614141123452400",
        "grai",
        "gs1:0614141",
        id="TDS-6.3.4-grai",
    ),
    pytest.param(
        "urn:epc:id:giai:0614141.12345400",
        "https://id.gs1.org/8004/061414112345400",
        "giai",
        "gs1:0614141",
        id="TDS-6.3.5-giai",
    ),
    pytest.param(
        "urn:epc:id:gsrn:0614141.1234567890",
        "https://id.gs1.org/8018/061414112345678902",
        "gsrn",
        "gs1:0614141",
        id="TDS-6.3.6-gsrn",
    ),
    pytest.param(
        "urn:epc:id:gsrnp:0614141.1234567890",
        "https://id.gs1.org/8017/061414112345678902",
        "gsrnp",
        "gs1:0614141",
        id="TDS-6.3.7-gsrnp",
    ),
    pytest.param(
        "urn:epc:id:gdti:0614141.12345.006847",
        "https://id.gs1.org/253/0614141123452006847",
        "gdti",
        "gs1:0614141",
        id="TDS-6.3.8-gdti",
    ),
    pytest.param(
        "urn:epc:id:gdti:4012345.00009.PO-4711",
        "https://id.gs1.org/253/4012345000092PO-4711",
        "gdti",
        "gs1:4012345",
        id="TDS-6.3.8-gdti-alphanumeric-serial",
    ),
    pytest.param(
        "urn:epc:id:gdti:987659999999..9",
        "https://id.gs1.org/253/98765999999929",
        "gdti",
        "gs1:987659999999",
        id="TDS-6.3.8-gdti-empty-document-type",
    ),
    pytest.param(
        "urn:epc:id:cpi:0614141.123ABC.123456789",
        "https://id.gs1.org/8010/0614141123ABC/8011/123456789",
        "cpid",
        "gs1:0614141",
        id="TDS-6.3.9-cpi",
    ),
    pytest.param(
        "urn:epc:id:cpi:0614141.11111111111111-A%23%2F.1234",
        "https://id.gs1.org/8010/061414111111111111111-A%23%2F/8011/1234",
        "cpid",
        "gs1:0614141",
        id="TDS-6.3.9-cpi-escaped-hash-and-slash",
    ),
    pytest.param(
        "urn:epc:id:cpi:0614141.5PQ7.0",
        "https://id.gs1.org/8010/06141415PQ7/8011/0",
        "cpid",
        "gs1:0614141",
        id="TDS-6.3.9-cpi-serial-zero",
    ),
    pytest.param(
        "urn:epc:id:sgcn:4012345.67890.04711",
        "https://id.gs1.org/255/401234567890104711",
        "gcn",
        "gs1:4012345",
        id="TDS-6.3.10-sgcn-leading-zero-kept",
    ),
    pytest.param(
        "urn:epc:id:ginc:0614141.xyz47%2F11",
        "https://id.gs1.org/401/0614141xyz47%2F11",
        "ginc",
        "gs1:0614141",
        id="TDS-6.3.11-ginc",
    ),
    pytest.param(
        "urn:epc:id:gsin:0614141.123456789",
        "https://id.gs1.org/402/06141411234567890",
        "gsin",
        "gs1:0614141",
        id="TDS-6.3.12-gsin",
    ),
    pytest.param(
        "urn:epc:id:itip:4012345.012345.01.02.987",
        "https://id.gs1.org/8006/040123451234560102/21/987",
        "itip",
        "gs1:4012345",
        id="TDS-6.3.13-itip",
    ),
    pytest.param(
        "urn:epc:id:upui:1234567.089456.51qIgY)%3C%26Jp3*j7'SDB",
        "https://id.gs1.org/01/01234567894560/235/51qIgY%29%3C%26Jp3%2Aj7%27SDB",
        "upui",
        "gs1:1234567",
        id="TDS-6.3.14-upui",
    ),
    pytest.param(
        "urn:epc:id:pgln:0614141.12345",
        "https://id.gs1.org/417/0614141123452",
        "party",
        "gs1:0614141",
        id="TDS-6.3.15-pgln",
    ),
    pytest.param(
        "urn:epc:id:pgln:999999999999.",
        "https://id.gs1.org/417/9999999999994",
        "party",
        "gs1:999999999999",
        id="TDS-6.3.15-pgln-12-digit-prefix-empty-reference",
    ),
]


@pytest.mark.parametrize(("uri", "dl", "kind", "owner"), EXAMPLES)
def test_epc_examples(uri: str, dl: str, kind: str, owner: str) -> None:
    identifier = parse(uri)
    assert identifier.scheme == "gs1"
    assert identifier.kind == kind
    assert identifier.canonical == dl
    assert identifier.owner_prefix == owner
    assert epc_to_digital_link(uri) == dl
    assert identifier.epc_uri == uri
    assert len(identifier.id_key) == 32


@pytest.mark.parametrize(("uri", "dl", "kind", "owner"), EXAMPLES)
def test_epc_examples_round_trip_through_digital_link_and_element_string(
    uri: str, dl: str, kind: str, owner: str
) -> None:
    """TDS 7: the GS1 key of each EPC, read back from its Digital Link, element string and
    raw barcode data with the company-prefix length the EPC URI gave, is the same identifier."""
    identifier = parse(uri)
    assert isinstance(identifier, GS1Identifier)
    length = len(owner) - len("gs1:")
    forms = [dl, identifier.digital_link("https://brand.example/p")]
    if identifier.key is not None:
        assert identifier.element_string is not None
        assert identifier.barcode_data is not None
        forms += [identifier.element_string, "]d2" + identifier.barcode_data]
    for form in forms:
        other = parse(form, company_prefix_length=length)
        assert other.canonical == identifier.canonical, form
        assert other.id_key == identifier.id_key
        assert other.kind == ("gtin" if kind == "sgtin-pattern" else kind)
        assert other.owner_prefix == owner
        assert other.epc_uri == uri
    assert prefix_candidates(identifier)[0] == owner


def test_three_forms_share_canonical_form_and_key() -> None:
    forms = [
        "urn:epc:id:sgtin:0614141.812345.6789",
        "https://example.com/01/80614141123458/21/6789",
        "(01)80614141123458(21)6789",
    ]
    identifiers = [parse(f) for f in forms]
    assert {i.canonical for i in identifiers} == {"https://id.gs1.org/01/80614141123458/21/6789"}
    assert len({i.id_key for i in identifiers}) == 1
    assert {i.owner_prefix for i in identifiers} == {"gs1:0614141"}


INVALID = [
    pytest.param(
        "urn:epc:id:sgtin:0614141.81234.6789", LengthError, "item reference", id="short-ir"
    ),
    pytest.param(
        "urn:epc:id:sgtin:06141.8123456.6789", IdentifierError, "company prefix", id="cp5"
    ),
    pytest.param("urn:epc:id:sgtin:0614141.812345.", LengthError, "serial", id="empty-serial"),
    pytest.param(
        "urn:epc:id:sgtin:0614141.812345.a/b", CharacterSetError, "serial", id="unescaped-slash"
    ),
    pytest.param(
        "urn:epc:id:sgtin:0614141.812345.%zz", CharacterSetError, "serial", id="bad-escape"
    ),
    pytest.param(
        "urn:epc:id:sgtin:0614141.812345.123456789012345678901",
        LengthError,
        "serial",
        id="serial-21-chars",
    ),
    pytest.param("urn:epc:id:sgtin:0614141.812345", IdentifierError, "EPC URI", id="two-parts"),
    pytest.param("urn:epc:id:gid:95100000.12345.400", IdentifierError, "EPC URI", id="gid"),
    pytest.param("urn:epc:id:usdod:CAGEY.5678", IdentifierError, "EPC URI", id="usdod"),
    pytest.param(
        "urn:epc:idpat:grai:0614141.12345.*", IdentifierError, "EPC URI", id="grai-pattern"
    ),
    pytest.param(
        "urn:epc:id:gsrn:0614141.123456789", LengthError, "service reference", id="gsrn-16"
    ),
    pytest.param(
        "urn:epc:id:gsrnp:0614141.12345678x0",
        IdentifierError,
        "service reference",
        id="gsrnp-letter",
    ),
    pytest.param("urn:epc:id:gdti:0614141.12345.", LengthError, "serial", id="gdti-no-serial"),
    pytest.param(
        "urn:epc:id:gdti:0614141.12345.a/b", CharacterSetError, "serial", id="gdti-unescaped-slash"
    ),
    pytest.param(
        "urn:epc:id:gdti:0614141.12345.123456789012345678", LengthError, "GDTI", id="gdti-serial-18"
    ),
    pytest.param(
        "urn:epc:id:cpi:0614141.12a.1",
        CharacterSetError,
        "component/part reference",
        id="cpi-lower-case",
    ),
    pytest.param(
        "urn:epc:id:cpi:0614141.1%2B.1",
        CharacterSetError,
        "component/part reference",
        id="cpi-escape-outside-cset39",
    ),
    pytest.param(
        "urn:epc:id:cpi:0614141..1",
        CharacterSetError,
        "component/part reference",
        id="cpi-empty-reference",
    ),
    pytest.param(
        "urn:epc:id:cpi:0614141.AB.012",
        IdentifierSyntaxError,
        "CPID serial",
        id="cpi-serial-leading-zero",
    ),
    pytest.param(
        "urn:epc:id:cpi:0614141.AB.1234567890123",
        LengthError,
        "CPID serial",
        id="cpi-serial-13-digits",
    ),
    pytest.param(
        "urn:epc:id:sgcn:4012345.67890.A1",
        IdentifierSyntaxError,
        "serial",
        id="sgcn-alphanumeric-serial",
    ),
    pytest.param(
        "urn:epc:id:sgcn:4012345.67890.1234567890123",
        LengthError,
        "serial",
        id="sgcn-serial-13-digits",
    ),
    pytest.param(
        "urn:epc:id:sgcn:4012345.6789.1", LengthError, "coupon reference", id="sgcn-short-reference"
    ),
    pytest.param("urn:epc:id:ginc:0614141.", LengthError, "consignment reference", id="ginc-empty"),
    pytest.param("urn:epc:id:ginc:0614141." + "x" * 24, LengthError, "GINC", id="ginc-31"),
    pytest.param(
        "urn:epc:id:gsin:0614141.12345678", LengthError, "shipper reference", id="gsin-15"
    ),
    pytest.param(
        "urn:epc:id:itip:4012345.012345.1.02.987",
        IdentifierSyntaxError,
        "piece number",
        id="itip-piece-1-digit",
    ),
    pytest.param(
        "urn:epc:id:itip:4012345.012345.01.2x.987",
        IdentifierSyntaxError,
        "total count",
        id="itip-total-letter",
    ),
    pytest.param(
        "urn:epc:id:itip:4012345.012345.01.02",
        IdentifierSyntaxError,
        "EPC URI",
        id="itip-no-serial",
    ),
    pytest.param(
        "urn:epc:id:upui:4012345.012345." + "A" * 29, LengthError, "TPX", id="upui-tpx-29"
    ),
    pytest.param("urn:epc:id:pgln:0614141.1234", LengthError, "party reference", id="pgln-short"),
    pytest.param(
        "urn:epc:id:pgln:0614141.12345.0",
        IdentifierSyntaxError,
        "party reference",
        id="pgln-extension",
    ),
    pytest.param("urn:epc:idpat:sgtin:*.*.*", NotConvertibleError, "company prefix", id="all"),
    pytest.param("urn:epc:id:grai:0614141.12345.", LengthError, "serial", id="grai-no-serial"),
]


@pytest.mark.parametrize(("uri", "error", "field"), INVALID)
def test_invalid_epc(uri: str, error: type[IdentifierError], field: str) -> None:
    with pytest.raises(error) as caught:
        parse(uri)
    assert caught.value.field == field


def test_pattern_without_item_reference_has_no_digital_link() -> None:
    identifier = parse("urn:epc:idpat:sgtin:0614141.*.*")
    assert identifier.kind == "sgtin-pattern"
    assert identifier.owner_prefix == "gs1:0614141"
    with pytest.raises(NotConvertibleError):
        epc_to_digital_link("urn:epc:idpat:sgtin:0614141.*.*")


# (pattern, the GS1 key it stands for as canonical Digital Link, kind); TDS 8 grammar, keys per
# TDS 7: the wildcard is the serial, the rest is the class.
CLASS_PATTERNS = [
    pytest.param(
        "urn:epc:idpat:upui:4012345.012345.*",
        "https://id.gs1.org/01/04012345123456",
        "gtin",
        id="TDS-8-upui-class",
    ),
    pytest.param(
        "urn:epc:idpat:grai:4012345.66666.*",
        "https://id.gs1.org/8003/04012345666663",
        "grai",
        id="TDS-8-grai-class",
    ),
    pytest.param(
        "urn:epc:idpat:gdti:4012345.55555.*",
        "https://id.gs1.org/253/4012345555554",
        "gdti",
        id="TDS-8-gdti-class",
    ),
    pytest.param(
        "urn:epc:idpat:sgcn:4012345.99999.*",
        "https://id.gs1.org/255/4012345999990",
        "gcn",
        id="TDS-8-sgcn-class",
    ),
    pytest.param(
        "urn:epc:idpat:cpi:4012345.ABC.*",
        "https://id.gs1.org/8010/4012345ABC",
        "cpid",
        id="TDS-8-cpi-class",
    ),
    pytest.param(
        "urn:epc:idpat:itip:4012345.012345.01.02.*",
        "https://id.gs1.org/8006/040123451234560102",
        "itip",
        id="TDS-8-itip-class",
    ),
    pytest.param(
        "urn:epc:idpat:gdti:987659999999..*",
        "https://id.gs1.org/253/9876599999992",
        "gdti",
        id="TDS-8-gdti-class-empty-document-type",
    ),
]


@pytest.mark.parametrize(("uri", "dl", "kind"), CLASS_PATTERNS)
def test_class_level_patterns(uri: str, dl: str, kind: str) -> None:
    identifier = parse_epc_pattern(uri)
    assert identifier.canonical == dl
    assert identifier.kind == kind
    assert identifier.owner_prefix == "gs1:" + uri.split(":")[4].split(".")[0]
    assert epc_to_digital_link(uri) == dl
    assert parse(dl, company_prefix_length=len(identifier.owner_prefix) - 4) == identifier
    assert identifier.element_string is not None
    assert parse(identifier.element_string).canonical == dl
    with pytest.raises(IdentifierError):
        parse(uri)  # a pattern is not an identifier (ledger.store.query evaluates it)


def test_pattern_without_wildcard_is_the_epc() -> None:
    assert parse_epc_pattern("urn:epc:idpat:grai:4012345.66666.87") == parse(
        "urn:epc:id:grai:4012345.66666.87"
    )
    assert parse_epc_pattern("urn:epc:idpat:sgtin:0614141.812345.*") == parse(
        "urn:epc:idpat:sgtin:0614141.812345.*"
    )


@pytest.mark.parametrize(
    ("uri", "error"),
    [
        pytest.param("urn:epc:idpat:grai:4012345.*.*", NotConvertibleError, id="grai-cp-only"),
        pytest.param("urn:epc:idpat:gdti:*.*.*", NotConvertibleError, id="gdti-all"),
        pytest.param(
            "urn:epc:idpat:itip:4012345.012345.*.*.*", NotConvertibleError, id="itip-any-piece"
        ),
        pytest.param("urn:epc:idpat:cpi:4012345.AB*.*", IdentifierSyntaxError, id="partial-star"),
        pytest.param("urn:epc:idpat:sgln:4012345.00001.*", IdentifierSyntaxError, id="sgln"),
        pytest.param("urn:epc:idpat:sscc:4012345.*", IdentifierSyntaxError, id="sscc"),
        pytest.param("urn:epc:idpat:grai:4012345.6666.*", LengthError, id="grai-short-type"),
    ],
)
def test_patterns_without_a_key(uri: str, error: type[IdentifierError]) -> None:
    with pytest.raises(error):
        parse_epc_pattern(uri)
    with pytest.raises(error):
        epc_to_digital_link(uri)


def test_pure_identity_is_not_a_pattern() -> None:
    with pytest.raises(IdentifierSyntaxError):
        parse_epc_pattern("urn:epc:id:grai:4012345.66666.87")


def test_upper_case_scheme_is_read() -> None:
    assert parse("URN:EPC:ID:PGLN:0614141.12345").canonical == (
        "https://id.gs1.org/417/0614141123452"
    )
    assert epc_to_digital_link("URN:EPC:IDPAT:GRAI:4012345.66666.*") == (
        "https://id.gs1.org/8003/04012345666663"
    )
