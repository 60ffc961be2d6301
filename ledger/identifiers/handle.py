"""Handle System identifiers (RFC 3650-3652) and China's IDIS industrial-internet identifiers.

``{prefix}/{suffix}``: the prefix (naming authority) is a dot-separated hierarchy without
``/`` and compares without regard to ASCII case; the suffix is any UTF-8 text, may contain
``/`` and is case-sensitive. There is no check character. IDIS identifiers are handles whose
prefix is ``88.{secondary node}.{enterprise}`` (e.g. ``88.608.8889/87654321``), at most 255
characters in all.

Accepted inputs:

* bare ``88.118.8/PUMP-0001`` (the first prefix segment must be 1-5 digits or start with a
  letter, so raw GS1 barcode data that happens to contain ``.`` and ``/`` is not taken for a
  handle; use ``hdl:`` for anything else, e.g. ``hdl:4263537/4000``);
* ``hdl:{prefix}/{suffix}``;
* the proxy form ``https://hdl.handle.net/{prefix}/{suffix}`` and our resolver form
  ``https://{host}/{prefix}/{suffix}`` (first path segment a dotted numeric prefix such as
  ``88.118.8``), suffix percent-decoded as UTF-8.

Our policy beyond the RFCs: prefix segments are ``[A-Za-z0-9_-]``; the suffix must be
printable (no control, format, surrogate, private-use or unassigned code points, no
whitespace), because identifiers end up in QR codes, URLs and logs.
"""

from __future__ import annotations

import re
from typing import Final

from ledger.identifiers.errors import CharacterSetError, IdentifierSyntaxError, LengthError
from ledger.identifiers.model import HandleIdentifier
from ledger.identifiers.urls import percent_decode_utf8

__all__ = [
    "HANDLE_PROXY_HOSTS",
    "MAX_HANDLE_LENGTH",
    "MAX_IDIS_LENGTH",
    "PREFIX_RE",
    "RESOLVER_PREFIX_RE",
    "looks_like_bare_handle",
    "parse_handle",
    "parse_handle_url_path",
    "prefix_problem",
]

MAX_IDIS_LENGTH: Final = 255
MAX_HANDLE_LENGTH: Final = 1024
_MAX_PREFIX_LENGTH: Final = 128
HANDLE_PROXY_HOSTS: Final = frozenset({"hdl.handle.net", "hdl.handle.net:443"})

#: A handle prefix: dot-separated segments (no empty segment, no ``/``).
PREFIX_RE: Final = re.compile(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*")
#: First URL path segment that makes a URL on our own host a handle resolver URL.
RESOLVER_PREFIX_RE: Final = re.compile(r"\d{1,5}(?:\.[A-Za-z0-9_-]+)+")
_BARE_HEAD: Final = re.compile(r"(?:\d{1,5}|[A-Za-z][A-Za-z0-9_-]*)(?:\.[A-Za-z0-9_-]+)+")


def looks_like_bare_handle(text: str) -> bool:
    """Whether ``text`` has the shape of a bare ``prefix/suffix`` handle (see module doc)."""
    head, slash, _ = text.partition("/")
    return bool(slash) and _BARE_HEAD.fullmatch(head) is not None


def parse_handle(text: str) -> HandleIdentifier:
    """Parse ``prefix/suffix`` or ``hdl:prefix/suffix`` (suffix taken literally).

    Raises:
        IdentifierError: no ``/``, a malformed prefix, an empty or unprintable suffix, or
            too long.
    """
    if text[:4].lower() == "hdl:":
        text = text[4:]
    prefix, slash, suffix = text.partition("/")
    if not slash:
        raise IdentifierSyntaxError("a handle is prefix/suffix", field="handle")
    return _build(prefix, suffix)


def parse_handle_url_path(path: str) -> HandleIdentifier:
    """Parse the path ``/{prefix}/{suffix}`` of a handle proxy or resolver URL.

    The suffix is percent-decoded (UTF-8); an encoded ``/`` is simply part of the suffix.
    """
    prefix, slash, raw_suffix = path.removeprefix("/").partition("/")
    if not slash:
        raise IdentifierSyntaxError(
            "a handle resolver URL path is /{prefix}/{suffix}", field="handle"
        )
    return _build(prefix, percent_decode_utf8(raw_suffix, "handle suffix"))


def prefix_problem(prefix: str) -> str:
    """What is wrong with a handle prefix that :data:`PREFIX_RE` rejects."""
    shown = repr(prefix[:40])
    if not prefix:
        return "handle prefix is empty"
    bad = next((c for c in prefix if not (c.isascii() and (c.isalnum() or c in "._-"))), None)
    if bad is not None:
        return (
            f"handle prefix {shown} contains {bad!r}; a segment holds letters, digits, '_' or '-'"
        )
    return f"handle prefix {shown} has an empty segment"


def _build(prefix: str, suffix: str) -> HandleIdentifier:
    if len(prefix) > _MAX_PREFIX_LENGTH:
        raise LengthError(
            f"handle prefix has {len(prefix)} characters, at most {_MAX_PREFIX_LENGTH} allowed",
            field="handle prefix",
        )
    if PREFIX_RE.fullmatch(prefix) is None:
        raise IdentifierSyntaxError(prefix_problem(prefix), field="handle prefix")
    if not suffix:
        raise LengthError("handle suffix is empty", field="handle suffix")
    total = len(prefix) + 1 + len(suffix)
    limit = MAX_IDIS_LENGTH if prefix.startswith("88.") else MAX_HANDLE_LENGTH
    if total > limit:
        raise LengthError(f"handle has {total} characters, at most {limit} allowed", field="handle")
    if not suffix.isprintable() or " " in suffix:
        bad = next(c for c in suffix if not c.isprintable() or c == " ")
        raise CharacterSetError(
            f"handle suffix contains U+{ord(bad):04X}, which is not a printable character",
            field="handle suffix",
        )
    return HandleIdentifier(prefix, suffix)
