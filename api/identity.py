"""Identifiers as the API sees them: parsing path and query input, and their public URLs.

GS1 keys resolve at their GS1 Digital Link URI on our public host
(``{public}/01/{gtin}/10/{lot}``), handles at ``{public}/{prefix}/{suffix}``; an OID has no
resolver path, so its URL is ``{public}/identifiers/urn:oid:...``.
"""

from __future__ import annotations

from typing import Final
from urllib.parse import quote

from ledger.identifiers import (
    GS1Identifier,
    HandleIdentifier,
    Identifier,
    IdentifierError,
    NotConvertibleError,
    parse,
)

#: GS1 primary-key application identifiers a Digital Link path may start with.
GS1_PRIMARY_AIS: Final = frozenset(
    {"00", "01", "253", "255", "401", "402", "414", "417", "8003", "8004", "8006", "8010",
     "8013", "8017", "8018"}
)  # fmt: skip


def parse_identifier(text: str, *, field: str = "identifier") -> Identifier:
    """Parse any identifier form; errors name ``field`` (the request part it came from)."""
    try:
        return parse(text)
    except IdentifierError as exc:
        if exc.field in (None, "identifier"):
            raise type(exc)(exc.reason, field=field) from None
        raise


def parse_resolver_path(public_url: str, path: str) -> Identifier:
    """The identifier of a resolver path: ``/01/{gtin}/10/{lot}`` or ``/{prefix}/{suffix}``."""
    return parse_identifier(f"{public_url}{path}", field="path")


def resolver_url(identifier: Identifier, public_url: str) -> str:
    """Where ``identifier`` resolves on our host (what its QR code carries)."""
    if isinstance(identifier, GS1Identifier | HandleIdentifier):
        try:
            return identifier.resolver_url(public_url)
        except NotConvertibleError:
            pass
    return f"{public_url}/identifiers/{quote(identifier.canonical, safe=':')}"


def with_query(url: str, query: str) -> str:
    """``url`` with ``query`` appended to its query string."""
    return f"{url}{'&' if '?' in url else '?'}{query}"


def has_resolver_path(identifier: Identifier) -> bool:
    """Whether the identifier resolves at a path of its own (Digital Link or handle)."""
    if isinstance(identifier, HandleIdentifier):
        return True
    return isinstance(identifier, GS1Identifier) and identifier.key is not None


def trail_url(identifier: Identifier, public_url: str) -> str:
    """The JSON trail of ``identifier``: its resolver URL asking for the traceability link
    type, or ``/identifiers/{canonical}?format=json``."""
    if has_resolver_path(identifier):
        return with_query(resolver_url(identifier, public_url), "linkType=gs1:traceability")
    return f"{public_url}/identifiers/{quote(identifier.canonical, safe=':')}?format=json"


def describe(identifier: Identifier) -> dict[str, str | None]:
    """GTIN, lot and serial (or the key) of an identifier, for people."""
    out: dict[str, str | None] = {"gtin": None, "lot": None, "serial": None, "key": None}
    if isinstance(identifier, GS1Identifier) and identifier.key is not None:
        key = identifier.key
        qualifiers = dict(key.qualifiers)
        if key.ai == "01":
            out["gtin"] = key.value
            out["lot"] = qualifiers.get("10")
            out["serial"] = qualifiers.get("21")
        else:
            out["key"] = f"({key.ai}) {key.value}"
    else:
        out["key"] = identifier.canonical
    return out
