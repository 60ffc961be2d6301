"""Handle System (RFC 3650-3652) and IDIS identifiers, bare and as resolver URLs."""

from __future__ import annotations

import pytest

from ledger.identifiers import (
    CharacterSetError,
    HandleIdentifier,
    IdentifierError,
    LengthError,
    NotConvertibleError,
    parse,
)

VALID = [
    pytest.param("88.608.8889/87654321", "88.608.8889", "87654321", id="IDIS-example"),
    pytest.param("88.118.8/PUMP-0001", "88.118.8", "PUMP-0001", id="IDIS-enterprise"),
    pytest.param("10.1000/182", "10.1000", "182", id="RFC3650-DOI-handbook"),
    pytest.param("0.NA/10.1000", "0.na", "10.1000", id="RFC3651-naming-authority"),
    pytest.param("hdl:4263537/4000", "4263537", "4000", id="RFC3651-hdl-scheme"),
    pytest.param("88.118.8/a/b/C", "88.118.8", "a/b/C", id="suffix-with-slash"),
    pytest.param("88.118.8/泵-0001", "88.118.8", "泵-0001", id="utf8-suffix"),
    pytest.param("https://hdl.handle.net/10.1000/182", "10.1000", "182", id="proxy"),
    pytest.param(
        "https://hdl.handle.net/10.1000/%E6%B3%B5%2F1", "10.1000", "泵/1", id="proxy-escaped"
    ),
    pytest.param(
        "https://resolver.example.cn/88.118.8/PUMP-0001?locatt=x#f",
        "88.118.8",
        "PUMP-0001",
        id="our-resolver-url",
    ),
]


@pytest.mark.parametrize(("text", "prefix", "suffix"), VALID)
def test_valid_handles(text: str, prefix: str, suffix: str) -> None:
    identifier = parse(text)
    assert isinstance(identifier, HandleIdentifier)
    assert identifier.scheme == "handle"
    assert identifier.kind == "handle"
    assert identifier.prefix == prefix
    assert identifier.suffix == suffix
    assert identifier.canonical == f"{prefix}/{suffix}"
    assert identifier.owner_prefix == f"handle:{prefix}"
    assert identifier.epc_uri is None
    assert identifier.element_string is None
    assert identifier.class_identifier() is None


def test_prefix_is_case_insensitive_suffix_is_not() -> None:
    assert parse("88.118.8/ABC") == parse("88.118.8/ABC")
    assert parse("0.NA/x").id_key == parse("0.na/x").id_key
    assert parse("88.118.8/ABC").id_key != parse("88.118.8/abc").id_key


def test_resolver_url_round_trip() -> None:
    identifier = parse("88.118.8/泵-1")
    url = identifier.resolver_url("resolver.example.cn")
    assert url == "https://resolver.example.cn/88.118.8/%E6%B3%B5-1"
    assert parse(url) == identifier
    assert parse("88.118.8/a?b#c").resolver_url("https://r.example") == (
        "https://r.example/88.118.8/a%3Fb%23c"
    )


def test_handle_has_no_digital_link() -> None:
    with pytest.raises(NotConvertibleError):
        parse("88.118.8/X").digital_link()


INVALID = [
    pytest.param("88.118.8/", LengthError, "handle suffix", id="empty-suffix"),
    pytest.param("88..8/x", IdentifierError, None, id="empty-prefix-segment"),
    pytest.param("88.608.8889/" + "9" * 244, LengthError, "handle", id="IDIS-over-255"),
    pytest.param("10.1000/" + "9" * 1100, LengthError, "handle", id="handle-over-1024"),
    pytest.param("88.118.8/a\u202eb", CharacterSetError, "identifier", id="bidi-override"),
    pytest.param("88.118.8/a\u200bb", CharacterSetError, "identifier", id="zero-width"),
    pytest.param("88.118.8/a b", CharacterSetError, "identifier", id="space"),
    pytest.param("88.118.8/a\x00", CharacterSetError, "identifier", id="nul"),
    pytest.param(
        "https://hdl.handle.net/10.1000/%FF", IdentifierError, "handle suffix", id="bad-utf8"
    ),
    pytest.param(
        "https://hdl.handle.net/10.1000/%00", CharacterSetError, "handle suffix", id="escaped-nul"
    ),
    pytest.param("https://hdl.handle.net/10.1000", IdentifierError, "handle", id="no-suffix"),
    pytest.param("hdl:bad prefix/x", CharacterSetError, None, id="space-in-prefix"),
]


@pytest.mark.parametrize(("text", "error", "field"), INVALID)
def test_invalid_handles(text: str, error: type[IdentifierError], field: str | None) -> None:
    with pytest.raises(error) as caught:
        parse(text)
    if field is not None:
        assert caught.value.field == field


def test_idis_limit_is_exactly_255() -> None:
    head = "88.608.8889/"
    assert parse(head + "9" * (255 - len(head))).canonical.endswith("9")
