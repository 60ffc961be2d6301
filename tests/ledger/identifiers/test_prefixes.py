"""Owning prefixes: normalisation, registry keys and permission-check candidates."""

from __future__ import annotations

import pytest
from eth_hash.auto import keccak

from ledger.identifiers import (
    IdentifierError,
    normalise_prefix,
    parse,
    prefix_candidates,
    prefix_key,
)


@pytest.mark.parametrize(
    ("text", "normalised"),
    [
        ("0614141", "gs1:0614141"),
        ("gs1:0614141", "gs1:0614141"),
        ("GS1:0614141", "gs1:0614141"),
        (" 0614141 ", "gs1:0614141"),
        ("88.118.8", "handle:88.118.8"),
        ("88.118.8/", "handle:88.118.8"),
        ("handle:88.118.8", "handle:88.118.8"),
        ("Handle:0.NA", "handle:0.na"),
        ("88", "handle:88"),
        ("handle:123456", "handle:123456"),
        ("oid:1.2.156.3001", "oid:1.2.156.3001"),
        ("urn:oid:1.2.156.3001", "oid:1.2.156.3001"),
        ("1.2.156.3001", "oid:1.2.156.3001"),
    ],
)
def test_normalise_prefix(text: str, normalised: str) -> None:
    assert normalise_prefix(text) == normalised
    assert normalise_prefix(normalised) == normalised


@pytest.mark.parametrize(
    "text",
    ["gs1:06141", "gs1:0614141234567", "gs1:06141x1", "ftp:1", "88.118.8/x", "", "泵", "a" * 400],
)
def test_normalise_prefix_rejects(text: str) -> None:
    with pytest.raises(IdentifierError):
        normalise_prefix(text)


def test_prefix_key_is_keccak_of_normalised_prefix() -> None:
    assert prefix_key("gs1:0614141") == keccak(b"gs1:0614141")
    assert len(prefix_key("handle:88.118.8")) == 32
    with pytest.raises(IdentifierError):
        prefix_key("0614141")


def test_owner_prefix_round_trips_through_normalise() -> None:
    for text in ("urn:epc:id:sgtin:0614141.812345.6789", "88.118.8/X", "urn:oid:1.2.156.3.4"):
        owner = parse(text).owner_prefix
        assert normalise_prefix(owner) == owner


def test_handle_candidates() -> None:
    assert prefix_candidates("88.118.8/PUMP-0001") == (
        "handle:88.118.8",
        "handle:88.118",
        "handle:88",
    )


def test_oid_candidates() -> None:
    assert prefix_candidates("urn:oid:1.2.156.3001.7") == ("oid:1.2.156.3001", "oid:1.2.156")


def test_gs1_candidates_owner_first_then_every_length() -> None:
    candidates = prefix_candidates(parse("urn:epc:id:sgtin:0614141.812345.6789"))
    assert candidates[0] == "gs1:0614141"
    assert sorted(candidates, key=len) == [
        "gs1:061414",
        "gs1:0614141",
        "gs1:06141411",
        "gs1:061414112",
        "gs1:0614141123",
        "gs1:06141411234",
        "gs1:061414112345",
    ]


def test_gs1_candidates_gtin12_counts_after_zero_padding() -> None:
    candidates = prefix_candidates("https://example.com/01/614141123452")
    assert "gs1:061414" in candidates
    assert "gs1:061414112345" in candidates
    assert len(candidates) == 7


def test_explicit_company_prefix_length() -> None:
    identifier = parse("(01)09506000134352", company_prefix_length=7)
    assert identifier.owner_prefix == "gs1:9506000"
    assert identifier.epc_uri == "urn:epc:idpat:sgtin:9506000.013435.*"
