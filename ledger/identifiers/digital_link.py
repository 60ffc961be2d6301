"""GS1 Digital Link URIs (GS1 Digital Link standard, URI syntax 1.2+) parsed into identifiers.

``https://{host}[/{path prefix}]/{AI}/{key}[/{qualifier AI}/{value}]...[?{AI}={value}&...]``

* Any http(s) host; any path prefix before the primary key. The primary key is found as the
  leftmost AI segment from which the rest of the path is a valid sequence of key qualifiers
  (DL grammar ``gs1path``), so a prefix such as ``/shop/01`` is not mistaken for it.
* Path values are percent-decoded *after* splitting on ``/``: ``%2F`` is a slash inside a
  value (allowed in CSET 82), never a separator.
* GTIN-8/12/13 are zero-padded to 14 digits; key qualifiers must be in standard order
  (GTIN: ``22``, ``10``, ``21``/``235``; GLN: ``254``...).
* Query parameters that are GS1 AIs are data attributes: validated and kept (``?17=261231``);
  other parameters (``linkType``...) do not identify anything and are dropped.
* DL 1.0 convenience short names (``/gtin/``, ``/lot/``, ``/ser/``...) are accepted.
"""

from __future__ import annotations

import re
from typing import Final

from ledger.identifiers.errors import (
    CharacterSetError,
    IdentifierSyntaxError,
    LengthError,
)
from ledger.identifiers.gs1 import (
    DL_SHORT_NAMES,
    PRIMARY_KEYS,
    GS1Key,
    field_name,
    gtin_value,
    percent_decode_ascii,
    validate_element,
)
from ledger.identifiers.model import GS1Identifier, check_company_prefix_digits, gs1_identifier

__all__ = [
    "MAX_DIGITAL_LINK_LENGTH",
    "digital_link_key",
    "parse_digital_link",
    "parse_path_and_query",
    "split_url",
]

#: Generous upper bound: the longest valid DL with qualifiers and attributes is far shorter.
MAX_DIGITAL_LINK_LENGTH: Final = 2048
_MAX_SEGMENTS: Final = 32

_URL: Final = re.compile(
    r"(?i)(https?)://([a-z0-9][a-z0-9.-]{0,252}(?::\d{1,5})?)(/[^?#]*)?(?:\?([^#]*))?(?:#.*)?"
)
_AI: Final = re.compile(r"\d{2,4}")
# RFC 3986 path and query characters (percent-escapes are checked where values are decoded).
_PATH_CHARS: Final = re.compile(r"[A-Za-z0-9._~!$&'()*+,;=:@%/-]*")
_QUERY_CHARS: Final = re.compile(r"[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*")


def split_url(text: str) -> tuple[str, str, str, str]:
    """Split an http(s) URL into (scheme, host, path, query), scheme and host lower-cased.

    Raises:
        IdentifierError: not an ``http(s)://host[/path][?query][#fragment]`` URL.
    """
    match = _URL.fullmatch(text)
    if match is None:
        raise IdentifierSyntaxError(
            "expected an http(s)://host/path URL with a DNS host name", field="URL"
        )
    scheme, host, path, query = match.groups()
    return scheme.lower(), host.lower(), path or "", query or ""


def _segment_ai(segment: str) -> str | None:
    """The AI a path segment names (numeric or DL 1.0 short name), if any."""
    if _AI.fullmatch(segment):
        return segment
    return DL_SHORT_NAMES.get(segment)


def _find_primary(ais: list[str | None]) -> int | None:
    """Index of the primary key: leftmost AI segment followed by valid qualifier pairs."""
    count = len(ais)
    for start in range(count - 1):
        ai = ais[start]
        if ai is None or ai not in PRIMARY_KEYS or (count - start) % 2:
            continue
        allowed = PRIMARY_KEYS[ai].qualifiers
        position = 0
        for index in range(start + 2, count, 2):
            qualifier = ais[index]
            try:
                position = allowed.index(qualifier, position) + 1
            except ValueError:
                break
        else:
            return start
    return None


def parse_digital_link(text: str, *, company_prefix_length: int | None = None) -> GS1Identifier:
    """Parse a GS1 Digital Link URI into a GS1 identifier.

    ``company_prefix_length`` overrides biip's company-prefix table for the owner prefix and
    EPC conversion.

    Raises:
        IdentifierError: the URI is not a valid Digital Link (``field`` names the part).
    """
    return gs1_identifier(digital_link_key(text), company_prefix_length=company_prefix_length)


def digital_link_key(text: str) -> GS1Key:
    """The validated key of a GS1 Digital Link URI, as :func:`parse_digital_link` reads it,
    without looking up its owner (what a conversion to another Digital Link needs).

    Raises:
        IdentifierError: as :func:`parse_digital_link`.
    """
    if len(text) > MAX_DIGITAL_LINK_LENGTH:
        raise LengthError(
            f"Digital Link URI has {len(text)} characters, at most "
            f"{MAX_DIGITAL_LINK_LENGTH} allowed",
            field="Digital Link",
        )
    if not text.isascii():
        raise CharacterSetError("Digital Link URI must be ASCII (percent-encode)", field="URL")
    _, _, path, query = split_url(text)
    if _PATH_CHARS.fullmatch(path) is None or _QUERY_CHARS.fullmatch(query) is None:
        raise CharacterSetError(
            "Digital Link URI has a character that must be percent-encoded", field="URL"
        )
    key = parse_path_and_query(path, query)
    check_company_prefix_digits(key)
    return key


def parse_path_and_query(path: str, query: str) -> GS1Key:
    """Parse the path and query of a Digital Link URI into a validated key."""
    segments = path.split("/")[1:]
    if segments and segments[-1] == "":
        segments.pop()  # one trailing slash is tolerated
    if len(segments) > _MAX_SEGMENTS:
        raise LengthError(
            f"Digital Link path has {len(segments)} segments, at most {_MAX_SEGMENTS}",
            field="Digital Link",
        )
    ais = [_segment_ai(s) for s in segments]
    start = _find_primary(ais)
    if start is None:
        raise IdentifierSyntaxError(
            "no GS1 primary key followed by valid key qualifiers (in standard order) "
            "in the Digital Link path",
            field="Digital Link",
        )
    pairs = [(ais[i] or "", segments[i + 1]) for i in range(start, len(segments), 2)]
    primary_ai, raw_primary = pairs[0]
    primary = _path_value(primary_ai, raw_primary)
    qualifiers = tuple((ai, _path_value(ai, raw)) for ai, raw in pairs[1:])
    reserved = {primary_ai, *PRIMARY_KEYS[primary_ai].qualifiers}
    return GS1Key(primary_ai, primary, qualifiers, _attributes(query, reserved))


def _path_value(ai: str, raw: str) -> str:
    field = field_name(ai)
    if not raw:
        raise LengthError(f"{field} is empty", field=field)
    value = percent_decode_ascii(raw, field)
    if ai == "01":
        return gtin_value(value)
    return validate_element(ai, value)


def _attributes(query: str, reserved: set[str]) -> tuple[tuple[str, str], ...]:
    if not query:
        return ()
    found: dict[str, str] = {}
    for parameter in query.split("&"):
        name, sep, raw = parameter.partition("=")
        if not (sep and _AI.fullmatch(name)):
            continue  # not a GS1 data attribute (e.g. linkType, or a bare flag)
        field = field_name(name)
        if name in PRIMARY_KEYS or name in reserved:
            raise IdentifierSyntaxError(
                f"AI ({name}) is a primary key or key qualifier and belongs in the path",
                field=field,
            )
        if name in found:
            raise IdentifierSyntaxError(f"AI ({name}) appears more than once", field=field)
        if not raw:
            raise LengthError(f"{field} is empty", field=field)
        found[name] = validate_element(name, percent_decode_ascii(raw, field))
    return tuple(sorted(found.items()))
