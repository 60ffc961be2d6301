"""EPC URI parsing and conversion: worked examples of the EPC Tag Data Standard 2.1."""

from __future__ import annotations

import pytest

from ledger.identifiers import (
    CharacterSetError,
    IdentifierError,
    LengthError,
    NotConvertibleError,
    epc_to_digital_link,
    parse,
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
    pytest.param("urn:epc:id:sgcn:4012345.67890.04711", IdentifierError, "EPC URI", id="sgcn"),
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
