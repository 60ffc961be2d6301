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
        pytest.param(
            "urn:epc:id:gdti:0614141.12345.006847",
            "https://id.gs1.org/253/0614141123452",
            "gdti",
            id="gdti-serial->document-type",
        ),
        pytest.param(
            "urn:epc:id:sgcn:4012345.67890.04711",
            "https://id.gs1.org/255/4012345678901",
            "gcn",
            id="sgcn->gcn",
        ),
        pytest.param(
            "urn:epc:id:cpi:0614141.123ABC.123456789",
            "https://id.gs1.org/8010/0614141123ABC",
            "cpid",
            id="cpi->cpid",
        ),
        pytest.param(
            "urn:epc:id:itip:4012345.012345.01.02.987",
            "https://id.gs1.org/8006/040123451234560102",
            "itip",
            id="itip-serial->itip",
        ),
        pytest.param(
            "urn:epc:id:upui:4012345.012345.AB12",
            "https://id.gs1.org/01/04012345123456",
            "gtin",
            id="upui->gtin",
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
    [
        "(01)09506000134352",
        "(00)106141412345678908",
        "urn:epc:id:giai:0614141.1",
        "urn:epc:id:pgln:0614141.12345",
        "urn:epc:id:gsrn:0614141.1234567890",
        "urn:epc:id:gsin:0614141.123456789",
        "urn:epc:id:ginc:0614141.xyz47%2F11",
        "(253)9506000134352",
        "88.1/x",
    ],
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
        "(8003)00614141123452",  # GRAI without serial (TDS 6.3.4 needs one)
        "(253)9506000134352",  # GDTI without serial (TDS 6.3.8)
        "(255)9506000134352",  # GCN without serial (TDS 6.3.10)
        "(8010)9506000ABC",  # CPID without serial (TDS 6.3.9)
        "(8010)9506000ABC(8011)012",  # CPI serial with a leading zero (TDS NumericComponent)
        "(8006)095060001343520102",  # ITIP without serial (TDS 6.3.13)
        "(8018)950600012345678907(8019)1",  # SRIN: no EPC scheme
        "(417)9506000134352(7040)1ABC",  # UIC extension: no EPC scheme
        "(414)0614141123452(254)0",  # extension 0 means "none" in TDS
    ],
)
def test_keys_without_epc_uri(text: str) -> None:
    identifier = parse(text, company_prefix_length=7)
    assert isinstance(identifier, GS1Identifier)
    assert identifier.epc_uri is None
    with pytest.raises(NotConvertibleError):
        identifier.to_epc_uri()


@pytest.mark.parametrize(
    ("text", "epc"),
    [
        ("(01)09506000134352(235)TPX1", "urn:epc:id:upui:9506000.013435.TPX1"),
        ("(01)09506000134352(10)L1(235)T'1", "urn:epc:id:upui:9506000.013435.T'1"),
        ("(253)9506000134352A/B", "urn:epc:id:gdti:9506000.13435.A%2FB"),
        ("(255)95060001343520012", "urn:epc:id:sgcn:9506000.13435.0012"),
        ("(8010)9506000AB#/(8011)10", "urn:epc:id:cpi:9506000.AB%23%2F.10"),
        ("(8006)095060001343520102(21)S1", "urn:epc:id:itip:9506000.013435.01.02.S1"),
        ("(417)9506000134352", "urn:epc:id:pgln:9506000.13435"),
        ("(8018)950600012345678907", "urn:epc:id:gsrn:9506000.1234567890"),
        ("(8017)950600012345678907", "urn:epc:id:gsrnp:9506000.1234567890"),
        ("(401)9506000X&1", "urn:epc:id:ginc:9506000.X%261"),
        ("(402)95060001234567893", "urn:epc:id:gsin:9506000.123456789"),
    ],
)
def test_keys_with_epc_uri_of_the_other_schemes(text: str, epc: str) -> None:
    """TDS 2.1 section 7: GS1 key -> EPC URI, read back to the same canonical form."""
    identifier = parse(text, company_prefix_length=7)
    assert isinstance(identifier, GS1Identifier)
    assert identifier.epc_uri == epc
    assert identifier.to_epc_uri(7) == epc
    assert parse(epc).canonical == identifier.canonical


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
