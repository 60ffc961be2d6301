"""The Identifier value type: classes, conversions, equality, immutability."""

from __future__ import annotations

import pytest
from eth_hash.auto import keccak

from ledger.identifiers import (
    GS1Identifier,
    Identifier,
    IdentifierError,
    NotConvertibleError,
    parse,
)


@pytest.mark.parametrize(
    ("text", "class_canonical", "class_kind"),
    [
        pytest.param(
            "https://example.com/01/09506000134352/10/L1/21/S1",
            "https://id.gs1.org/01/09506000134352/10/L1",
            "lgtin",
            id="sgtin-with-lot->lgtin",
        ),
        pytest.param(
            "urn:epc:id:sgtin:0614141.812345.6789",
            "https://id.gs1.org/01/80614141123458",
            "gtin",
            id="sgtin-without-lot->gtin",
        ),
        pytest.param(
            "urn:epc:class:lgtin:4012345.012345.998877",
            "https://id.gs1.org/01/04012345123456",
            "gtin",
            id="lgtin->gtin",
        ),
        pytest.param(
            "urn:epc:id:sgln:0614141.12345.400",
            "https://id.gs1.org/414/0614141123452",
            "gln",
            id="sgln->gln",
        ),
        pytest.param(
            "urn:epc:id:grai:0614141.12345.400",
            "https://id.gs1.org/8003/00614141123452",
            "grai",
            id="grai-serial->asset-type",
        ),
    ],
)
def test_class_identifier(text: str, class_canonical: str, class_kind: str) -> None:
    identifier = parse(text)
    klass = identifier.class_identifier()
    assert klass is not None
    assert klass.canonical == class_canonical
    assert klass.kind == class_kind
    assert klass.owner_prefix == identifier.owner_prefix


@pytest.mark.parametrize(
    "text",
    ["(01)09506000134352", "(00)106141412345678908", "urn:epc:id:giai:0614141.1", "88.1/x"],
)
def test_no_class(text: str) -> None:
    assert parse(text).class_identifier() is None


def test_lot_is_not_part_of_an_sgtin_identity() -> None:
    with_lot = parse("(01)80614141123458(10)L1(21)6789")
    without = parse("urn:epc:id:sgtin:0614141.812345.6789")
    assert with_lot.canonical == without.canonical
    assert with_lot.id_key == without.id_key
    assert with_lot != without  # the scanned lot is still carried
    assert with_lot.epc_uri == "urn:epc:id:sgtin:0614141.812345.6789"


def test_id_key_is_keccak_of_canonical() -> None:
    identifier = parse("urn:epc:id:sgtin:0614141.812345.6789")
    assert identifier.id_key == keccak(identifier.canonical.encode())
    assert identifier.id_key is identifier.id_key


@pytest.mark.parametrize(
    "text",
    [
        "(01)09506000134352(235)TPX1",  # TDS has no URI for a TPX
        "(8003)00614141123452",  # GRAI without serial
        "(253)9506000134352ABC",  # GDTI: not among the supported EPC schemes
        "(414)0614141123452(254)0",  # extension 0 means "none" in TDS
    ],
)
def test_keys_without_epc_uri(text: str) -> None:
    identifier = parse(text, company_prefix_length=7)
    assert isinstance(identifier, GS1Identifier)
    assert identifier.epc_uri is None
    with pytest.raises(NotConvertibleError):
        identifier.to_epc_uri()


def test_to_epc_uri_with_explicit_prefix_length() -> None:
    identifier = parse("(01)09506000134352(21)1")
    assert isinstance(identifier, GS1Identifier)
    assert identifier.to_epc_uri(9) == "urn:epc:id:sgtin:950600013.0435.1"
    with pytest.raises(IdentifierError) as caught:
        identifier.to_epc_uri(13)
    assert caught.value.field == "company prefix"


def test_pattern_without_item_reference() -> None:
    identifier = parse("urn:epc:idpat:sgtin:0614141.*.*")
    assert identifier.canonical == "urn:epc:idpat:sgtin:0614141.*.*"
    assert identifier.epc_uri == identifier.canonical
    assert identifier.element_string is None
    with pytest.raises(NotConvertibleError):
        identifier.digital_link()


def test_equality_and_hash() -> None:
    a = parse("urn:epc:id:sgtin:0614141.812345.6789")
    b = parse("(01)80614141123458(21)6789")
    assert a == b
    assert len({a, b}) == 1
    assert a != parse("(01)80614141123458(21)6780")
    assert a != "urn:epc:id:sgtin:0614141.812345.6789"
    assert str(a) == a.canonical
    assert "sgtin" in repr(a)


def test_identifier_is_immutable() -> None:
    identifier: Identifier = parse("88.118.8/X")
    with pytest.raises(AttributeError):
        identifier.canonical = "x"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        identifier.anything = 1  # type: ignore[attr-defined]


def test_resolver_url_of_gs1_is_digital_link() -> None:
    assert parse("(01)09506000134352(21)1").resolver_url("r.example") == (
        "https://r.example/01/09506000134352/21/1"
    )
