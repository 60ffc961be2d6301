"""OIDs under China's arcs 1.2.156 and 2.16.156 (RFC 3061 urn:oid form)."""

from __future__ import annotations

import pytest

from ledger.identifiers import IdentifierError, NotConvertibleError, OidIdentifier, parse


@pytest.mark.parametrize(
    ("text", "canonical", "owner"),
    [
        ("urn:oid:1.2.156.3001.7", "urn:oid:1.2.156.3001.7", "oid:1.2.156.3001"),
        ("URN:OID:2.16.156.1.2", "urn:oid:2.16.156.1.2", "oid:2.16.156.1"),
        ("1.2.156.112604.1.0", "urn:oid:1.2.156.112604.1.0", "oid:1.2.156.112604.1"),
        ("2.16.156.7", "urn:oid:2.16.156.7", "oid:2.16.156"),
    ],
)
def test_valid_oids(text: str, canonical: str, owner: str) -> None:
    identifier = parse(text)
    assert isinstance(identifier, OidIdentifier)
    assert (identifier.scheme, identifier.kind) == ("oid", "oid")
    assert identifier.canonical == canonical
    assert identifier.owner_prefix == owner


@pytest.mark.parametrize(
    "text",
    [
        "urn:oid:1.2.840.113549",
        "urn:oid:1.2.156",
        "urn:oid:1.2.156.01",
        "urn:oid:1.2.156..1",
        "urn:oid:1.2.156.1.",
        "urn:oid:" + "1.2.156" + ".1" * 200,
    ],
)
def test_invalid_oids(text: str) -> None:
    with pytest.raises(IdentifierError) as caught:
        parse(text)
    assert caught.value.field == "OID"


def test_oid_has_no_resolver_url() -> None:
    with pytest.raises(NotConvertibleError):
        parse("urn:oid:1.2.156.3001.7").resolver_url("r.example")
