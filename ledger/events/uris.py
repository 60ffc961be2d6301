"""RFC 3986 URI syntax, the ``format: uri`` of the EPCIS 2.0 JSON schema.

EPCIS identifiers, locations, vocabulary values and extension field names must be absolute URIs
(``scheme ":" hier-part [ "?" query ] [ "#" fragment ]``). The grammar is RFC 3986 §3 /
Appendix A; IPv6 literals are checked with :mod:`ipaddress`.
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache
from typing import Final

_PCT: Final = r"%[0-9A-Fa-f]{2}"
_UNRESERVED_SUB: Final = r"A-Za-z0-9\-._~!$&'()*+,;="
_PCHAR: Final = rf"(?:[{_UNRESERVED_SUB}:@]|{_PCT})"
_QUERY: Final = rf"(?:[{_UNRESERVED_SUB}:@/?]|{_PCT})*"
_USERINFO: Final = rf"(?:[{_UNRESERVED_SUB}:]|{_PCT})*"
_REG_NAME: Final = rf"(?:[{_UNRESERVED_SUB}]|{_PCT})*"
_IP_LITERAL: Final = r"\[(?P<ip>[^\[\]/?#@]*)\]"
_AUTHORITY: Final = rf"(?:{_USERINFO}@)?(?:{_IP_LITERAL}|{_REG_NAME})(?::[0-9]*)?"

_URI_RE: Final = re.compile(
    rf"""
    [A-Za-z][A-Za-z0-9+.\-]*:                 # scheme
    (?:
        //{_AUTHORITY}(?:/{_PCHAR}*)*          # "//" authority path-abempty
      | /(?:{_PCHAR}+(?:/{_PCHAR}*)*)?         # path-absolute
      | {_PCHAR}+(?:/{_PCHAR}*)*               # path-rootless
      |                                        # path-empty
    )
    (?:\?{_QUERY})?
    (?:\#{_QUERY})?
    """,
    re.VERBOSE,
)
_IPV_FUTURE: Final = re.compile(rf"v[0-9A-Fa-f]+\.[{_UNRESERVED_SUB}:]+")


@lru_cache(maxsize=65536)
def is_uri(text: str) -> bool:
    """Whether ``text`` is an absolute URI by RFC 3986 (what JSON Schema's ``uri`` format means)."""
    match = _URI_RE.fullmatch(text)
    if match is None:
        return False
    literal = match.group("ip")
    if literal is None:
        return True
    if _IPV_FUTURE.fullmatch(literal):
        return True
    try:
        ipaddress.IPv6Address(literal)
    except ValueError:
        return False
    return "%" not in literal
