"""Small URL helpers shared by the Digital Link and Handle resolver forms."""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import unquote_to_bytes

from ledger.identifiers.errors import IdentifierSyntaxError

__all__ = ["HOST_RE", "base_url", "percent_decode_utf8"]

#: ``scheme://host[:port]`` with a DNS name or IPv4 address (no user info, no IPv6 literal).
HOST_RE: Final = re.compile(r"(?i)(https?)://([a-z0-9](?:[a-z0-9.-]{0,252})(?::\d{1,5})?)")
_PATH_RE: Final = re.compile(r"(?:/[A-Za-z0-9._~!$&'()*+,;=:@%-]+)*")


def base_url(host: str) -> str:
    """Normalise a resolver base: ``id.gs1.org`` or ``https://id.gs1.org/some/prefix/``.

    Returns ``scheme://host[/path]`` with a lower-case scheme and host and no trailing slash;
    a bare host name gets ``https://``.

    Raises:
        IdentifierError: the host is not an http(s) base URL.
    """
    text = host.strip()
    if "://" not in text:
        text = "https://" + text
    text = text.rstrip("/")
    match = HOST_RE.match(text)
    if match is None or len(text) > 512 or _PATH_RE.fullmatch(text, match.end()) is None:
        raise IdentifierSyntaxError(
            f"{host[:100]!r} is not an http(s) base URL (scheme://host[/path])", field="host"
        )
    return f"{match.group(1).lower()}://{match.group(2).lower()}{text[match.end() :]}"


_ESCAPE: Final = re.compile(r"%[0-9A-Fa-f]{2}")


def percent_decode_utf8(value: str, field: str) -> str:
    """Decode ``%XX`` escapes as UTF-8; malformed escapes or invalid UTF-8 fail."""
    if "%" not in value:
        return value
    if value.count("%") != len(_ESCAPE.findall(value)):
        raise IdentifierSyntaxError(
            f"{field} has a '%' that does not start a %XX escape", field=field
        )
    try:
        return unquote_to_bytes(value).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise IdentifierSyntaxError(
            f"{field} percent-escapes are not valid UTF-8", field=field
        ) from exc
