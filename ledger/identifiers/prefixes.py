"""Owning prefixes: the keys of the on-chain member registry and permission checks.

A normalised prefix is a string:

* ``gs1:{company prefix digits}`` (6-12 digits), e.g. ``gs1:0614141``;
* ``handle:{prefix, ASCII-lowercased}``, e.g. ``handle:88.118.8``;
* ``oid:{dotted}``, e.g. ``oid:1.2.156.3001``.

``prefix_key`` is keccak256 of the UTF-8 normalised prefix.

``prefix_candidates(identifier)`` lists every prefix that may own an identifier, most likely
first, so a permission check can try each against the registry:

* handles: the prefix and its ancestors, ``handle:88.118.8``, ``handle:88.118``,
  ``handle:88`` (a member owning ``88.118`` also owns ``88.118.8``);
* OIDs: the parent arc and its ancestors down to the national root;
* GS1: the owner prefix first (explicit in an EPC URI, else from biip's GS1 company-prefix
  table), then every other length from 12 down to 6 of the key's company-prefix digits —
  the key without its indicator digit (GTIN, ITIP), extension digit (SSCC) or leading zero
  (GRAI), the whole key for GLN/GSRN/GDTI/GCN/GSIN, the leading digits of GIAI/GINC/GMN/CPID.
  GTIN-8/12/13 count after zero-padding to 14 digits, so a GTIN-12 ``614141123452`` gives
  ``gs1:061414``..``gs1:061414112345``. GS1 never allocates a company prefix that is a prefix
  of another one, so at most one candidate can be registered legitimately.
"""

from __future__ import annotations

import re
from typing import Final

from ledger.identifiers.errors import IdentifierSyntaxError, LengthError, NotConvertibleError
from ledger.identifiers.gs1 import COMPANY_PREFIX_LENGTHS, company_prefix_digits
from ledger.identifiers.handle import PREFIX_RE
from ledger.identifiers.hashing import keccak256
from ledger.identifiers.model import GS1Identifier, HandleIdentifier, Identifier, OidIdentifier
from ledger.identifiers.oid import is_bare_oid, oid_ancestors, validate_dotted
from ledger.identifiers.parser import parse

__all__ = ["epc_uri_at", "normalise_prefix", "prefix_candidates", "prefix_key"]

_MAX_PREFIX_INPUT: Final = 300
_GS1_DIGITS: Final = re.compile(r"\d{6,12}")


def normalise_prefix(text: str) -> str:
    """Normalise user input naming an owning prefix.

    Accepts ``0614141``, ``gs1:0614141``, ``88.118.8``, ``88.118.8/``, ``handle:88.118.8``,
    ``HANDLE:88.118.8``, ``oid:1.2.156.3001``, ``urn:oid:1.2.156.3001`` and a bare
    ``1.2.156.3001``; surrounding whitespace is ignored. A bare string of 6-12 digits is a
    GS1 company prefix (write ``handle:123456`` for a numeric single-segment handle prefix);
    a bare dotted number under ``1.2.156``/``2.16.156`` is an OID.

    Raises:
        IdentifierError: the text is not a prefix of any scheme.
    """
    if type(text) is not str:
        raise IdentifierSyntaxError("expected a string", field="prefix")
    value = text.strip()
    if len(value) > _MAX_PREFIX_INPUT:
        raise LengthError(
            f"prefix has {len(value)} characters, at most {_MAX_PREFIX_INPUT}", field="prefix"
        )
    if not value.isascii():
        raise IdentifierSyntaxError("a prefix is ASCII", field="prefix")
    label, colon, rest = value.partition(":")
    label = label.lower()
    if colon and label == "gs1":
        return "gs1:" + _gs1(rest)
    if colon and label == "handle":
        return "handle:" + _handle(rest)
    if colon and label == "oid":
        return "oid:" + validate_dotted(rest)
    if value[:8].lower() == "urn:oid:":
        return "oid:" + validate_dotted(value[8:])
    if colon:
        raise IdentifierSyntaxError(
            f"unknown prefix scheme {label[:20]!r} (gs1:, handle:, oid:)", field="prefix"
        )
    if _GS1_DIGITS.fullmatch(value):
        return "gs1:" + value
    if is_bare_oid(value):
        return "oid:" + value
    return "handle:" + _handle(value)


def _gs1(digits: str) -> str:
    if _GS1_DIGITS.fullmatch(digits) is None:
        raise IdentifierSyntaxError(
            "a GS1 company prefix is 6 to 12 digits", field="company prefix"
        )
    return digits


def _handle(prefix: str) -> str:
    prefix = prefix.removesuffix("/")
    if len(prefix) > 128 or PREFIX_RE.fullmatch(prefix) is None:
        raise IdentifierSyntaxError(
            "a handle prefix is dot-separated segments of letters, digits, '_' or '-'",
            field="handle prefix",
        )
    return prefix.lower()


def prefix_key(normalised_prefix: str) -> bytes:
    """keccak256 of the UTF-8 normalised prefix: the member-registry key.

    Raises:
        IdentifierError: the argument is not in normalised form (run
            :func:`normalise_prefix` on user input first).
    """
    if normalise_prefix(normalised_prefix) != normalised_prefix:
        raise IdentifierSyntaxError(
            f"{normalised_prefix[:100]!r} is not a normalised prefix "
            f"(expected {normalise_prefix(normalised_prefix)!r})",
            field="prefix",
        )
    return keccak256(normalised_prefix.encode())


def prefix_candidates(identifier: Identifier | str) -> tuple[str, ...]:
    """Every normalised prefix that may own ``identifier`` (parsed if a string), owner first.

    See the module docstring for the order and the GS1 digit rules.
    """
    if isinstance(identifier, str):
        identifier = parse(identifier)
    if isinstance(identifier, HandleIdentifier):
        segments = identifier.prefix.split(".")
        return tuple("handle:" + ".".join(segments[:n]) for n in range(len(segments), 0, -1))
    if isinstance(identifier, OidIdentifier):
        return tuple("oid:" + arc for arc in oid_ancestors(identifier.dotted))
    if isinstance(identifier, GS1Identifier):
        owner = identifier.owner_prefix
        key = identifier.key
        if key is None:
            return (owner,)
        digits = company_prefix_digits(key.ai, key.value)
        others = [
            "gs1:" + digits[:n]
            for n in reversed(COMPANY_PREFIX_LENGTHS)
            if len(digits) >= n and "gs1:" + digits[:n] != owner
        ]
        return (owner, *others)
    return (identifier.owner_prefix,)


def epc_uri_at(identifier: Identifier, registered_prefix: str | None) -> str | None:
    """The EPC URI to show for ``identifier``: split at its owner's registered GS1 company
    prefix (``gs1:{digits}``, one of :func:`prefix_candidates`) when there is one, else the
    identifier's own :attr:`~Identifier.epc_uri` (explicit in an EPC URI, else from biip's
    GS1 company-prefix table, which cannot know every allocation). ``None`` when the
    identifier has no EPC form.

    Every place that shows a member's EPC URI (``POST /batches``, the trail, the events a
    batch records) goes through this, so one lot has one EPC URI everywhere.
    """
    if not isinstance(identifier, GS1Identifier):
        return identifier.epc_uri
    key = identifier.key
    scheme, _, digits = (registered_prefix or "").partition(":")
    if (
        key is None
        or scheme != "gs1"
        or len(digits) not in COMPANY_PREFIX_LENGTHS
        or not company_prefix_digits(key.ai, key.value).startswith(digits)
    ):
        return identifier.epc_uri
    try:
        return identifier.to_epc_uri(len(digits))
    except NotConvertibleError:
        return None  # TDS has no EPC form for this key
