"""Owning prefixes: normalisation, registry keys and permission-check candidates."""

from __future__ import annotations

import pytest
from eth_hash.auto import keccak

from ledger.identifiers import (
    IdentifierError,
    epc_uri_at,
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


#: contracts/IdentifierPrefixes.sol: digits before the company prefix in a canonical Digital
#: Link, per AI (the on-chain recall check finds the prefix there).
CONTRACT_LEADING_DIGITS = {
    **dict.fromkeys(("01", "00", "8003", "8006"), 1),
    **dict.fromkeys(
        ("414", "417", "8004", "8010", "8017", "8018", "253", "255", "401", "402", "8013"), 0
    ),
}


def contract_candidates(canonical: str) -> set[str]:
    """What IdentifierPrefixes._gs1 derives from a canonical Digital Link (4-12 digits)."""
    ai, _, rest = canonical.removeprefix("https://id.gs1.org/").partition("/")
    rest = rest[CONTRACT_LEADING_DIGITS[ai] :]
    digits = rest[: len(rest) - len(rest.lstrip("0123456789"))][:12]
    return {"gs1:" + digits[:n] for n in range(4, len(digits) + 1)}


@pytest.mark.parametrize(
    "uri",
    [
        "urn:epc:id:pgln:0614141.12345",
        "urn:epc:id:pgln:999999999999.",
        "urn:epc:id:gdti:0614141.12345.006847",
        "urn:epc:id:gsrn:0614141.1234567890",
        "urn:epc:id:gsrnp:0614141.1234567890",
        "urn:epc:id:cpi:0614141.123ABC.123456789",
        "urn:epc:id:cpi:061414112.-A.1",
        "urn:epc:id:itip:4012345.012345.01.02.987",
        "urn:epc:id:upui:1234567.089456.51qIgY)%3C%26Jp3*j7'SDB",
        "urn:epc:id:ginc:0614141.xyz47%2F11",
        "urn:epc:id:gsin:0614141.123456789",
        "urn:epc:id:sgcn:4012345.67890.04711",
    ],
)
def test_canonical_forms_keep_the_contract_layout(uri: str) -> None:
    """Every candidate (owner first) is one the on-chain IdentifierPrefixes library finds in
    the canonical form, so the owner of the EPC's company prefix can recall it on-chain."""
    identifier = parse(uri)
    candidates = prefix_candidates(identifier)
    assert candidates[0] == "gs1:" + uri.split(":")[4].split(".")[0]
    assert set(candidates) <= contract_candidates(identifier.canonical)


def test_epc_uri_is_split_at_the_registered_prefix() -> None:
    lot = parse("(01)09506000134352(10)LOT-2026-11")
    # biip's table splits 950 6000 134352 at 11 digits; the member registered 7.
    assert lot.epc_uri == "urn:epc:class:lgtin:95060001343.05.LOT-2026-11"
    assert epc_uri_at(lot, "gs1:9506000") == "urn:epc:class:lgtin:9506000.013435.LOT-2026-11"
    item = parse("https://id.gs1.org/01/09506000134352/21/7")
    assert epc_uri_at(item, "gs1:9506000") == "urn:epc:id:sgtin:9506000.013435.7"
    # No registered prefix, or one that does not own the key: the identifier's own form.
    assert epc_uri_at(lot, None) == lot.epc_uri
    assert epc_uri_at(lot, "gs1:0614141") == lot.epc_uri
    assert epc_uri_at(lot, "handle:88.118.8") == lot.epc_uri
    handle = parse("88.118.8/PUMP-0001")
    assert epc_uri_at(handle, "handle:88.118.8") is None
