"""ISO/ITU-T object identifiers under China's arcs, an optional third identifier scheme.

Accepted: ``urn:oid:1.2.156.…`` (RFC 3061) or bare dotted ``1.2.156.…`` / ``2.16.156.…``.
Arcs are decimal without leading zeros. The canonical form is ``urn:oid:{dotted}``; the owner
is the parent arc (``oid:1.2.156.3001`` owns ``1.2.156.3001.7``), and its ancestors down to
the national root are the other prefix candidates.
"""

from __future__ import annotations

import re
from typing import Final

from ledger.identifiers.errors import IdentifierSyntaxError, LengthError
from ledger.identifiers.model import OidIdentifier

__all__ = ["MAX_OID_LENGTH", "OID_ROOTS", "is_bare_oid", "oid_ancestors", "parse_oid"]

MAX_OID_LENGTH: Final = 255
#: China's arcs: ISO member body (1.2.156) and joint ISO-ITU-T country (2.16.156).
OID_ROOTS: Final = ("1.2.156", "2.16.156")
_MAX_ARC_DIGITS: Final = 20
_DOTTED: Final = re.compile(r"(?:0|[1-9]\d{0,19})(?:\.(?:0|[1-9]\d{0,19}))*")


def is_bare_oid(text: str) -> bool:
    """Whether ``text`` is a bare dotted OID under one of :data:`OID_ROOTS`."""
    return any(text == root or text.startswith(root + ".") for root in OID_ROOTS) and (
        _DOTTED.fullmatch(text) is not None
    )


def parse_oid(text: str) -> OidIdentifier:
    """Parse ``urn:oid:{dotted}`` or a bare dotted OID under 1.2.156 / 2.16.156.

    Raises:
        IdentifierError: malformed, too long, or not under a Chinese arc.
    """
    dotted = text[8:] if text[:8].lower() == "urn:oid:" else text
    dotted = validate_dotted(dotted)
    if dotted in OID_ROOTS:
        raise IdentifierSyntaxError(
            f"{dotted} is the national root arc, not an identifier", field="OID"
        )
    return OidIdentifier(dotted, "oid:" + dotted.rsplit(".", 1)[0])


def validate_dotted(dotted: str) -> str:
    """Check a dotted OID is well-formed and under a Chinese root; return it."""
    if len(dotted) > MAX_OID_LENGTH:
        raise LengthError(
            f"OID has {len(dotted)} characters, at most {MAX_OID_LENGTH} allowed", field="OID"
        )
    if _DOTTED.fullmatch(dotted) is None:
        raise IdentifierSyntaxError(_what_is_wrong(dotted), field="OID")
    if not any(dotted == root or dotted.startswith(root + ".") for root in OID_ROOTS):
        raise IdentifierSyntaxError(
            "only OIDs under 1.2.156 or 2.16.156 are supported", field="OID"
        )
    return dotted


def _what_is_wrong(dotted: str) -> str:
    """The first malformed arc of a dotted OID that :data:`_DOTTED` rejects."""
    for number, arc in enumerate(dotted.split("."), 1):
        if not arc:
            return f"OID arc {number} is empty"
        if not (arc.isascii() and arc.isdigit()):
            return f"OID arc {number} is {arc[:20]!r}, not a decimal number"
        if len(arc) > 1 and arc[0] == "0":
            return (
                f"OID arc {number} is {arc[:20]!r}, a decimal number without leading zeros "
                "is expected"
            )
        if len(arc) > _MAX_ARC_DIGITS:
            return f"OID arc {number} has {len(arc)} digits, at most {_MAX_ARC_DIGITS} allowed"
    return "OID must be dot-separated decimal arcs without leading zeros"


def oid_ancestors(dotted: str) -> list[str]:
    """Parent arcs of ``dotted`` from the nearest down to the national root (inclusive)."""
    root = next(r for r in OID_ROOTS if dotted == r or dotted.startswith(r + "."))
    out = []
    current = dotted
    while current != root:
        current = current.rsplit(".", 1)[0]
        out.append(current)
    return out
