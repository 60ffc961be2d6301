"""GS1 Digital Link URIs: examples after the GS1 Digital Link URI syntax grammar (1.2+)."""

from __future__ import annotations

import pytest

from ledger.identifiers import (
    CharacterSetError,
    CheckDigitError,
    IdentifierError,
    IdentifierSyntaxError,
    LengthError,
    NotConvertibleError,
    parse,
    to_digital_link,
)

# (input, canonical, digital_link() on id.gs1.org with qualifiers and attributes, kind)
VALID = [
    pytest.param(
        "https://id.gs1.org/01/09506000134352",
        "https://id.gs1.org/01/09506000134352",
        "https://id.gs1.org/01/09506000134352",
        "gtin",
        id="DL-grammar-gtin-path",
    ),
    pytest.param(
        "https://example.com/01/9506000134352",
        "https://id.gs1.org/01/09506000134352",
        "https://id.gs1.org/01/09506000134352",
        "gtin",
        id="DL-grammar-gtin-value-13-zero-padded",
    ),
    pytest.param(
        "https://example.com/01/614141123452",
        "https://id.gs1.org/01/00614141123452",
        "https://id.gs1.org/01/00614141123452",
        "gtin",
        id="DL-grammar-gtin-value-12-zero-padded",
    ),
    pytest.param(
        "https://example.com/01/95012346",
        "https://id.gs1.org/01/00000095012346",
        "https://id.gs1.org/01/00000095012346",
        "gtin",
        id="DL-grammar-gtin-value-8-zero-padded",
    ),
    pytest.param(
        "https://example.com/01/09506000134352/10/AB-123",
        "https://id.gs1.org/01/09506000134352/10/AB-123",
        "https://id.gs1.org/01/09506000134352/10/AB-123",
        "lgtin",
        id="DL-grammar-lot-comp",
    ),
    pytest.param(
        "https://example.com/01/09506000134352/10/AB-123/21/12345?17=261231",
        "https://id.gs1.org/01/09506000134352/21/12345",
        "https://id.gs1.org/01/09506000134352/10/AB-123/21/12345?17=261231",
        "sgtin",
        id="DL-grammar-gtin-path-expiry-parameter",
    ),
    pytest.param(
        "https://brand.example.com/some/path/prefix/01/09506000134352/21/a%2Fb?linkType=gs1:pip",
        "https://id.gs1.org/01/09506000134352/21/a%2Fb",
        "https://id.gs1.org/01/09506000134352/21/a%2Fb",
        "sgtin",
        id="DL-path-prefix-escaped-slash-non-AI-query-dropped",
    ),
    pytest.param(
        "https://id.gs1.org/00/106141412345678908?02=00614141123452&37=25&10=ABC123",
        "https://id.gs1.org/00/106141412345678908",
        "https://id.gs1.org/00/106141412345678908?02=00614141123452&10=ABC123&37=25",
        "sscc",
        id="biip-DL-example-sscc-with-attributes",
    ),
    pytest.param(
        "https://example.com/414/9506000134376/254/1",
        "https://id.gs1.org/414/9506000134376/254/1",
        "https://id.gs1.org/414/9506000134376/254/1",
        "sgln",
        id="DL-grammar-gln-path-glnx",
    ),
    pytest.param(
        "https://example.com/8003/09506000134369ABC",
        "https://id.gs1.org/8003/09506000134369ABC",
        "https://id.gs1.org/8003/09506000134369ABC",
        "grai",
        id="DL-grai",
    ),
    pytest.param(
        "https://example.com/8004/9506000134352ASSET%2F1",
        "https://id.gs1.org/8004/9506000134352ASSET%2F1",
        "https://id.gs1.org/8004/9506000134352ASSET%2F1",
        "giai",
        id="DL-giai",
    ),
    pytest.param(
        "https://example.com/8018/950600013435200022/8019/1",
        "https://id.gs1.org/8018/950600013435200022/8019/1",
        "https://id.gs1.org/8018/950600013435200022/8019/1",
        "gsrn",
        id="DL-gsrn-srin",
    ),
    pytest.param(
        "https://id.gs1.org/gtin/9506000134352/lot/ABC/ser/12",
        "https://id.gs1.org/01/09506000134352/21/12",
        "https://id.gs1.org/01/09506000134352/10/ABC/21/12",
        "sgtin",
        id="DL-1.0-short-names",
    ),
    pytest.param(
        "HTTPS://EXAMPLE.COM/01/09506000134352/",
        "https://id.gs1.org/01/09506000134352",
        "https://id.gs1.org/01/09506000134352",
        "gtin",
        id="case-insensitive-scheme-host-trailing-slash",
    ),
    pytest.param(
        "https://example.com/shop/01/01/09506000134352",
        "https://id.gs1.org/01/09506000134352",
        "https://id.gs1.org/01/09506000134352",
        "gtin",
        id="prefix-containing-an-AI",
    ),
]


@pytest.mark.parametrize(("uri", "canonical", "full", "kind"), VALID)
def test_valid_digital_links(uri: str, canonical: str, full: str, kind: str) -> None:
    identifier = parse(uri)
    assert identifier.scheme == "gs1"
    assert identifier.kind == kind
    assert identifier.canonical == canonical
    assert identifier.digital_link() == full
    assert to_digital_link(uri) == full
    assert parse(full) == identifier


INVALID = [
    pytest.param("https://id.gs1.org/01/09506000134353", CheckDigitError, "GTIN", id="check"),
    pytest.param("https://id.gs1.org/01/09506000134", LengthError, "GTIN", id="gtin-11"),
    pytest.param(
        "https://id.gs1.org/01/09506000134352/21/1/10/2",
        IdentifierSyntaxError,
        "Digital Link",
        id="DL-grammar-gtin-path-order",
    ),
    pytest.param(
        "https://id.gs1.org/01/09506000134352/254/1",
        IdentifierSyntaxError,
        "Digital Link",
        id="wrong-qualifier",
    ),
    pytest.param(
        "https://id.gs1.org/01/09506000134352?21=1",
        IdentifierSyntaxError,
        "serial",
        id="qualifier-in-query",
    ),
    pytest.param(
        "https://id.gs1.org/01/09506000134352?17=261231&17=261230",
        IdentifierSyntaxError,
        "expiry date",
        id="repeated-attribute",
    ),
    pytest.param(
        "https://id.gs1.org/01/09506000134352?17=261332",
        IdentifierSyntaxError,
        "expiry date",
        id="bad-date",
    ),
    pytest.param(
        "https://id.gs1.org/01/09506000134352/10/%20", CharacterSetError, "batch/lot", id="space"
    ),
    pytest.param(
        "https://id.gs1.org/01/09506000134352/10/%00", CharacterSetError, "batch/lot", id="nul"
    ),
    pytest.param(
        "https://id.gs1.org/01/09506000134352/10/a%2",
        IdentifierSyntaxError,
        "batch/lot",
        id="broken-escape",
    ),
    pytest.param(
        "https://id.gs1.org/01/09506%2F000134352",
        CharacterSetError,
        "GTIN",
        id="escaped-slash-gtin",
    ),
    pytest.param("https://id.gs1.org/", IdentifierSyntaxError, "Digital Link", id="no-key"),
    pytest.param(
        "https://id.gs1.org/01/09506000134352/10", IdentifierSyntaxError, "Digital Link", id="odd"
    ),
    pytest.param("ftp://id.gs1.org/01/09506000134352", IdentifierSyntaxError, None, id="ftp"),
    pytest.param("https://user@host/01/09506000134352", IdentifierSyntaxError, "URL", id="user"),
    pytest.param(
        "https://id.gs1.org/01/09506000134352/10/" + "A" * 21, LengthError, "batch/lot", id="lot21"
    ),
]


@pytest.mark.parametrize(("uri", "error", "field"), INVALID)
def test_invalid_digital_links(uri: str, error: type[IdentifierError], field: str | None) -> None:
    with pytest.raises(error) as caught:
        parse(uri)
    if field is not None:
        assert caught.value.field == field


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("https://id.gs1.org", "https://id.gs1.org/01/09506000134352/21/1"),
        ("https://example.com/", "https://example.com/01/09506000134352/21/1"),
        ("example.com", "https://example.com/01/09506000134352/21/1"),
        ("https://Example.com/dl/v1", "https://example.com/dl/v1/01/09506000134352/21/1"),
    ],
)
def test_digital_link_on_other_hosts(host: str, expected: str) -> None:
    assert to_digital_link("(01)09506000134352(21)1", host) == expected


def test_bad_host_is_rejected() -> None:
    with pytest.raises(IdentifierError) as caught:
        to_digital_link("(01)09506000134352(21)1", "https://exa mple.com?x=1")
    assert caught.value.field == "host"


def test_non_gs1_has_no_digital_link() -> None:
    with pytest.raises(NotConvertibleError):
        to_digital_link("88.118.8/PUMP-0001")


@pytest.mark.parametrize(
    ("epc", "dl"),
    [
        pytest.param(
            "urn:epc:class:lgtin:4012345.012345.998877",
            "https://id.gs1.org/01/04012345123456/10/998877",
            id="class",
        ),
        pytest.param(
            "urn:epc:idpat:sgtin:4012345.012345.*",
            "https://id.gs1.org/01/04012345123456",
            id="idpat",
        ),
    ],
)
def test_to_digital_link_from_epc_class_and_pattern(epc: str, dl: str) -> None:
    assert to_digital_link(epc) == dl
    assert to_digital_link(epc, "https://example.com") == dl.replace(
        "https://id.gs1.org", "https://example.com"
    )
