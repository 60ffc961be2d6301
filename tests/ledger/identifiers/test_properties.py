"""Property tests: round trips between every form, check-digit mutations, hostile input."""

from __future__ import annotations

import contextlib
import string
from collections.abc import Callable

from hypothesis import given
from hypothesis import strategies as st

from ledger.identifiers import (
    CheckDigitError,
    GS1Identifier,
    HandleIdentifier,
    IdentifierError,
    epc_to_digital_link,
    normalise_prefix,
    parse,
    parse_epc_pattern,
    prefix_candidates,
    to_digital_link,
)
from ledger.identifiers.gs1 import CSET82, check_digit, epc_encode

DIGITS = string.digits
cset82_text = st.text(alphabet=sorted(CSET82), min_size=1, max_size=20)


@st.composite
def company_prefixes(draw: st.DrawFn) -> str:
    length = draw(st.integers(min_value=6, max_value=12))
    return draw(st.text(alphabet=DIGITS, min_size=length, max_size=length))


def digits(n: int) -> st.SearchStrategy[str]:
    return st.text(alphabet=DIGITS, min_size=n, max_size=n)


def cset82(max_size: int) -> st.SearchStrategy[str]:
    return st.text(alphabet=sorted(CSET82), min_size=1, max_size=max_size)


CSET39 = string.digits + string.ascii_uppercase + "#-/"
SCHEMES = [
    "sgtin",
    "lgtin",
    "idpat",
    "sscc",
    "sgln",
    "grai",
    "giai",
    "gsrn",
    "gsrnp",
    "gdti",
    "cpi",
    "sgcn",
    "ginc",
    "gsin",
    "itip",
    "upui",
    "pgln",
]


def _other_epc_uri(draw: st.DrawFn, scheme: str, cp: str) -> str:
    """TDS 2.1 6.3.6-6.3.15, in the canonical URI form (TDS table A-1 escapes only)."""
    n = len(cp)
    if scheme in ("gsrn", "gsrnp"):
        return f"urn:epc:id:{scheme}:{cp}.{draw(digits(17 - n))}"
    if scheme == "gsin":
        return f"urn:epc:id:gsin:{cp}.{draw(digits(16 - n))}"
    if scheme == "pgln":
        return f"urn:epc:id:pgln:{cp}.{draw(digits(12 - n))}"
    if scheme == "gdti":
        return f"urn:epc:id:gdti:{cp}.{draw(digits(12 - n))}.{epc_encode(draw(cset82(17)))}"
    if scheme == "sgcn":
        serial = draw(st.text(alphabet=DIGITS, min_size=1, max_size=12))
        return f"urn:epc:id:sgcn:{cp}.{draw(digits(12 - n))}.{serial}"
    if scheme == "ginc":
        return f"urn:epc:id:ginc:{cp}.{epc_encode(draw(cset82(30 - n)))}"
    if scheme == "cpi":
        reference = draw(st.text(alphabet=CSET39, min_size=1, max_size=30 - n))
        escaped = reference.replace("#", "%23").replace("/", "%2F")
        return f"urn:epc:id:cpi:{cp}.{escaped}.{draw(st.integers(0, 10**12 - 1))}"
    item_ref = draw(digits(13 - n))
    if scheme == "itip":
        piece, total = draw(digits(2)), draw(digits(2))
        serial = epc_encode(draw(cset82(20)))
        return f"urn:epc:id:itip:{cp}.{item_ref}.{piece}.{total}.{serial}"
    return f"urn:epc:id:upui:{cp}.{item_ref}.{epc_encode(draw(cset82(28)))}"


@st.composite
def epc_uris(draw: st.DrawFn) -> str:
    """Valid EPC URIs of every supported scheme (TDS 2.1 section 6)."""
    cp = draw(company_prefixes())
    n = len(cp)
    scheme = draw(st.sampled_from(SCHEMES))
    if scheme not in SCHEMES[:7]:
        return _other_epc_uri(draw, scheme, cp)
    if scheme in ("sgtin", "lgtin", "idpat"):
        item_ref = draw(digits(13 - n))
        if scheme == "idpat":
            return f"urn:epc:idpat:sgtin:{cp}.{item_ref}.*"
        value = epc_encode(draw(cset82_text))
        form = "id:sgtin" if scheme == "sgtin" else "class:lgtin"
        return f"urn:epc:{form}:{cp}.{item_ref}.{value}"
    if scheme == "sscc":
        return f"urn:epc:id:sscc:{cp}.{draw(digits(17 - n))}"
    if scheme == "sgln":
        extension = draw(cset82_text.filter(lambda e: e != "0") | st.just("0"))
        return f"urn:epc:id:sgln:{cp}.{draw(digits(12 - n))}.{epc_encode(extension)}"
    if scheme == "grai":
        serial = draw(st.text(alphabet=sorted(CSET82), min_size=1, max_size=16))
        return f"urn:epc:id:grai:{cp}.{draw(digits(12 - n))}.{epc_encode(serial)}"
    reference = draw(st.text(alphabet=sorted(CSET82), min_size=1, max_size=30 - n))
    return f"urn:epc:id:giai:{cp}.{epc_encode(reference)}"


def company_prefix_length(uri: str) -> int:
    return len(uri.split(":", 4)[4].split(".", 1)[0])


#: Components before the serial, per scheme whose serial-less class is a GS1 key.
CLASS_COMPONENTS = {"grai": 2, "gdti": 2, "sgcn": 2, "cpi": 2, "upui": 2, "itip": 4}


def class_pattern_of(uri: str) -> str:
    """The class-level pattern (TDS 8) of a pure identity URI: its serial as the wildcard."""
    scheme, body = uri.split(":", 4)[3:]
    parts = body.split(".", CLASS_COMPONENTS[scheme])
    return f"urn:epc:idpat:{scheme}:" + ".".join(parts[: CLASS_COMPONENTS[scheme]]) + ".*"


@st.composite
def class_patterns(draw: st.DrawFn) -> str:
    """Class-level EPC patterns of the non-SGTIN schemes."""
    return class_pattern_of(draw(epc_uris().filter(lambda u: u.split(":")[3] in CLASS_COMPONENTS)))


@given(class_patterns())
def test_class_patterns_name_the_class_of_their_epcs(pattern: str) -> None:
    klass = parse_epc_pattern(pattern)
    assert epc_to_digital_link(pattern) == klass.canonical == to_digital_link(pattern)
    length = company_prefix_length(pattern)
    assert parse(klass.canonical, company_prefix_length=length) == klass
    assert klass.element_string is not None
    assert parse(klass.element_string, company_prefix_length=length) == klass
    assert klass.owner_prefix == "gs1:" + pattern.split(":")[4].split(".")[0]
    assert klass.owner_prefix == prefix_candidates(klass)[0]


@given(epc_uris())
def test_epc_round_trips_through_every_form(uri: str) -> None:
    identifier = parse(uri)
    assert isinstance(identifier, GS1Identifier)
    assert identifier.epc_uri == uri
    length = company_prefix_length(uri)
    dl = identifier.digital_link()
    assert epc_to_digital_link(uri) == dl == to_digital_link(uri)
    from_dl = parse(dl, company_prefix_length=length)
    element_string = identifier.element_string
    assert element_string is not None
    from_hri = parse(element_string, company_prefix_length=length)
    barcode = identifier.barcode_data
    assert barcode is not None
    from_raw = parse("]d2" + barcode, company_prefix_length=length)
    for other in (from_dl, from_hri, from_raw):
        assert other.canonical == identifier.canonical
        assert other.id_key == identifier.id_key
        assert other.owner_prefix == identifier.owner_prefix
        assert other.epc_uri == uri
    assert parse(to_digital_link(uri, "https://example.com/p")) == from_dl
    assert identifier.owner_prefix == prefix_candidates(identifier)[0]
    assert identifier.owner_prefix == "gs1:" + uri.split(":", 4)[4].split(".", 1)[0]
    klass = identifier.class_identifier()
    if klass is not None and uri.split(":")[3] in CLASS_COMPONENTS:
        assert parse_epc_pattern(class_pattern_of(uri)).canonical == klass.canonical


@st.composite
def gtin_digital_links(draw: st.DrawFn) -> str:
    """Digital Links of a GTIN with optional lot, serial and expiry (DL grammar ``gtin-path``)."""
    body = draw(digits(13))
    gtin = body + check_digit(body)
    if draw(st.booleans()) and gtin.startswith("0"):
        gtin = gtin[1:]  # GTIN-13 form in the URI
    path = f"/01/{gtin}"
    if draw(st.booleans()):
        path += "/10/" + "".join(f"%{ord(c):02X}" for c in draw(cset82_text))
    if draw(st.booleans()):
        path += "/21/" + "".join(f"%{ord(c):02X}" for c in draw(cset82_text))
    query = "?17=261231" if draw(st.booleans()) else ""
    return f"https://{draw(st.sampled_from(['id.gs1.org', 'a.example/x']))}{path}{query}"


@given(gtin_digital_links())
def test_digital_link_round_trips(dl: str) -> None:
    identifier = parse(dl)
    assert isinstance(identifier, GS1Identifier)
    assert parse(identifier.digital_link()) == identifier
    assert identifier.element_string is not None
    assert parse(identifier.element_string) == identifier
    assert identifier.barcode_data is not None
    assert parse(identifier.barcode_data) == identifier
    assert parse(identifier.canonical).canonical == identifier.canonical
    epc = identifier.to_epc_uri(7)
    assert parse(epc).canonical == parse(identifier.canonical).canonical or (
        identifier.kind == "gtin"  # a GTIN's EPC form is the pattern cp.ir.*
    )
    assert identifier.owner_prefix in prefix_candidates(identifier)


@st.composite
def keys_with_one_digit_changed(draw: st.DrawFn) -> str:
    """An element string whose GTIN/SSCC/GLN has exactly one digit substituted."""
    ai, length = draw(st.sampled_from([("01", 14), ("00", 18), ("414", 13)]))
    body = draw(digits(length - 1))
    key = body + check_digit(body)
    position = draw(st.integers(min_value=0, max_value=length - 1))
    new = draw(st.sampled_from([d for d in DIGITS if d != key[position]]))
    return f"({ai}){key[:position]}{new}{key[position + 1 :]}"


@given(keys_with_one_digit_changed())
def test_single_digit_mutation_is_caught(text: str) -> None:
    try:
        parse(text)
    except CheckDigitError:
        return
    raise AssertionError(f"{text!r} was accepted")


PREFIXES = [
    "",
    "urn:epc:id:sgtin:",
    "urn:epc:id:sgtin:0614141.812345.",
    "urn:epc:idpat:sgtin:",
    "urn:epc:id:giai:0614141.",
    "urn:epc:id:cpi:0614141.",
    "urn:epc:id:itip:4012345.012345.",
    "urn:epc:id:sgcn:4012345.67890.",
    "urn:epc:id:pgln:",
    "urn:epc:idpat:grai:4012345.",
    "urn:epc:idpat:itip:",
    "https://id.gs1.org/01/",
    "https://id.gs1.org/01/09506000134352/10/",
    "https://id.gs1.org/01/09506000134352?",
    "https://hdl.handle.net/",
    "https://r.example/88.1/",
    "(01)",
    "(01)09506000134352(",
    "]d2",
    "]E0",
    "]Q1",
    "01095060001343521",
    "88.118.8/",
    "hdl:",
    "urn:oid:1.2.156.",
]
hostile_text = st.one_of(
    st.text(),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=300),
    st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
    st.text(alphabet="%/.?&=()*0123456789:\x1d]dQ", max_size=200),
    st.integers(min_value=1000, max_value=20000).map(lambda n: "9" * n),
)


@given(st.sampled_from(PREFIXES), hostile_text)
def test_arbitrary_text_only_raises_identifier_error(prefix: str, tail: str) -> None:
    text = prefix + tail
    for function in (
        parse,
        to_digital_link,
        epc_to_digital_link,
        parse_epc_pattern,
        normalise_prefix,
    ):
        with contextlib.suppress(IdentifierError):
            function(text)


@st.composite
def handles(draw: st.DrawFn) -> tuple[str, str]:
    segment = st.text(alphabet=string.ascii_letters + DIGITS + "_-", min_size=1, max_size=8)
    first = draw(st.text(alphabet=DIGITS, min_size=1, max_size=5))
    prefix = ".".join([first, *draw(st.lists(segment, min_size=1, max_size=3))])
    suffix = draw(
        st.text(
            alphabet=st.characters(
                exclude_categories=("Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp")
            ),
            min_size=1,
            max_size=60,
        )
    )
    return prefix, suffix


@given(handles())
def test_handle_round_trips(parts: tuple[str, str]) -> None:
    prefix, suffix = parts
    identifier = parse(f"{prefix}/{suffix}")
    assert isinstance(identifier, HandleIdentifier)
    assert identifier.canonical == f"{prefix.lower()}/{suffix}"
    assert parse(identifier.canonical) == identifier
    assert parse(identifier.resolver_url("r.example.cn")) == identifier
    assert parse("hdl:" + identifier.canonical.upper().split("/")[0] + "/" + suffix) == identifier
    assert normalise_prefix(identifier.owner_prefix) == identifier.owner_prefix


def _outcome(function: Callable[[], str]) -> tuple[str, str]:
    """What a conversion gives: ("ok", result) or (error class name, error field)."""
    try:
        return "ok", function()
    except IdentifierError as error:
        return type(error).__name__, error.field


@st.composite
def link_variants(draw: st.DrawFn) -> str:
    """Digital Links and EPC URIs near the fast paths' edges: hosts (handle proxy, ports,
    upper case), check digits, serial characters, fragments, prefixes, SSCC partitions."""
    body = draw(digits(13))
    gtin = body + check_digit(body)
    if draw(st.booleans()):
        gtin = gtin[:13] + draw(st.sampled_from(DIGITS))
    host = draw(
        st.sampled_from(
            [
                "https://id.gs1.org",
                "HTTP://Brand.Example:8080",
                "https://hdl.handle.net",
                "https://HDL.handle.net:443",
                "https://r.example/88.1",
                "https://-bad",
                "https://a.example/shop",
            ]
        )
    )
    serial = draw(st.text(alphabet="aZ09-._~%/!'*", min_size=0, max_size=22))
    tail = draw(st.sampled_from(["", "#frag", "?17=261231", "/", "?linkType=all"]))
    cp = draw(company_prefixes())
    sscc_ref = draw(st.text(alphabet=DIGITS + ".x", min_size=0, max_size=20 - len(cp)))
    return draw(
        st.sampled_from(
            [
                f"{host}/01/{gtin}/21/{serial}{tail}",
                f"{host}/01/{gtin}/10/{serial}/21/{serial}{tail}",
                f"urn:epc:id:sgtin:{cp}.{body[: 13 - len(cp)]}.{serial}",
                f"urn:epc:id:sscc:{cp}.{sscc_ref}",
                f"urn:epc:id:sscc:{cp}.{body[: 17 - len(cp)] if len(cp) > 3 else ''}",
            ]
        )
    )


@given(st.one_of(link_variants(), epc_uris().filter(lambda u: "idpat" not in u)))
def test_fast_conversions_agree_with_parse(text: str) -> None:
    """to_digital_link and epc_to_digital_link (fast paths) = parse(...).digital_link()."""
    expected = _outcome(lambda: parse(text).digital_link())
    assert _outcome(lambda: to_digital_link(text)) == expected
    if text.startswith("urn:epc:"):
        assert _outcome(lambda: epc_to_digital_link(text)) == expected
    elif expected[0] == "ok" or text.startswith("https://hdl"):
        other = "https://example.com/p"
        assert _outcome(lambda: to_digital_link(text, other)) == _outcome(
            lambda: parse(text).digital_link(other)
        )
