"""One entry point for every identifier form: :func:`parse` and :func:`to_digital_link`.

Form detection, in order (cheap prefix tests, no backtracking regex):

1. ``urn:epc:``            EPC URI (fast path)
2. ``http://``/``https://`` handle proxy (``hdl.handle.net``) or our handle resolver URL when
   the first path segment is a dotted numeric handle prefix (``88.118.8``); otherwise a GS1
   Digital Link URI
3. ``urn:oid:``            OID;  ``hdl:`` handle
4. ``(``                   human-readable element string
5. ``]`` or contains GS    raw barcode data with symbology identifier / separators
6. ``prefix/suffix``       bare handle (see :mod:`ledger.identifiers.handle`)
7. ``1.2.156.…``           bare OID
8. 8, 12, 13 or 14 digits  a bare GTIN (an EAN/UPC scan; ``/01/{gtin}`` reads it the same way)
9. digits...               raw barcode data without symbology identifier; when it cannot be
                           split into element strings, the error is that of the most
                           plausible other form (a mistyped GTIN, handle or OID)

Inputs longer than :data:`MAX_INPUT_LENGTH`, empty, or holding control characters (other
than GS in raw barcode data), format / surrogate / private-use / unassigned code points or
whitespace (except spaces around the AIs of a human-readable element string) are rejected
first.
"""

from __future__ import annotations

import contextlib
import re
from collections import OrderedDict
from collections.abc import Callable
from typing import Final

from ledger.identifiers.canonical import CANONICAL_HOST, format_digital_link
from ledger.identifiers.digital_link import digital_link_key, parse_digital_link, split_url
from ledger.identifiers.element_string import (
    BarcodeSplitError,
    parse_barcode_data,
    parse_gtin,
    parse_hri,
)
from ledger.identifiers.epc import epc_to_digital_link, parse_epc
from ledger.identifiers.errors import (
    CharacterSetError,
    IdentifierError,
    IdentifierSyntaxError,
    LengthError,
    NotConvertibleError,
)
from ledger.identifiers.gs1 import GTIN_LENGTHS, check_digit_13
from ledger.identifiers.handle import (
    HANDLE_PROXY_HOSTS,
    PREFIX_RE,
    RESOLVER_PREFIX_RE,
    looks_like_bare_handle,
    parse_handle,
    parse_handle_url_path,
    prefix_problem,
)
from ledger.identifiers.model import GS1Identifier, Identifier
from ledger.identifiers.oid import is_bare_oid, parse_oid
from ledger.identifiers.urls import base_url

__all__ = ["MAX_INPUT_LENGTH", "epc_to_digital_link", "parse", "to_digital_link"]

#: Any input longer than this is rejected before parsing (the longest form, a Digital Link
#: with qualifiers and attributes, fits comfortably).
MAX_INPUT_LENGTH: Final = 2048


#: Parsed identifiers kept for reuse. Capture parses each identifier of a document several
#: times (validation, hashing, indexing); identifiers are immutable, so a bounded cache of
#: recent ones makes the later parses free.
PARSE_CACHE_SIZE: Final = 1 << 16
#: Longer inputs are parsed afresh each time (bounds the cache's memory).
_CACHED_LENGTH: Final = 256


def parse(text: str, *, company_prefix_length: int | None = None) -> Identifier:
    """Parse any supported identifier form into a canonical :class:`Identifier`.

    Results are cached (:data:`PARSE_CACHE_SIZE` most recent); errors are not.

    Raises:
        IdentifierError: (or a subclass) naming the invalid part and the reason.
    """
    if type(text) is not str:
        raise IdentifierSyntaxError(
            f"expected a string, got {type(text).__name__}", field="identifier"
        )
    key = (text, company_prefix_length)
    hit = _recent.get(key)
    if hit is not None:
        return hit
    identifier = _parse(text, company_prefix_length=company_prefix_length)
    if len(text) <= _CACHED_LENGTH:
        if len(_recent) >= PARSE_CACHE_SIZE:
            with contextlib.suppress(KeyError):
                _recent.popitem(last=False)  # the oldest entry
        _recent[key] = identifier
    return identifier


#: The parse cache: insertion-ordered, the oldest entry evicted first.
_recent: OrderedDict[tuple[str, int | None], Identifier] = OrderedDict()


def _parse(text: str, *, company_prefix_length: int | None = None) -> Identifier:
    """Parse without the cache.

    ``company_prefix_length`` (6-12) tells the GS1 company-prefix boundary of a GS1 key read
    from a Digital Link or element string, overriding biip's company-prefix table (EPC URIs
    carry the boundary themselves and ignore it).

    Raises:
        IdentifierError: (or a subclass) naming the invalid part and the reason.
    """
    if type(text) is not str:
        raise IdentifierSyntaxError(
            f"expected a string, got {type(text).__name__}", field="identifier"
        )
    if text.startswith("urn:epc:"):
        return parse_epc(text)
    # Printed HRI has spaces around the AIs: "(01) 09506000134352 (10) ABC".
    _check_text(text, allow_spaces=text.startswith("("))
    head = text[:8].lower()
    if head.startswith("urn:epc:"):
        return parse_epc(text)
    if head.startswith(("https://", "http://")):
        return _parse_url(text, company_prefix_length)
    if head == "urn:oid:":
        return parse_oid(text)
    if head.startswith("hdl:"):
        return parse_handle(text)
    first = text[0]
    if first == "(":
        return parse_hri(text, company_prefix_length=company_prefix_length)
    if first == "]" or "\x1d" in text:
        if first == "]" and text[1:3] in ("Q1", "d1", "Q0", "d0"):
            # Plain-text QR / DataMatrix: the content is another form (DL URI, handle...).
            return parse(text[3:], company_prefix_length=company_prefix_length)
        return parse_barcode_data(text, company_prefix_length=company_prefix_length)
    if looks_like_bare_handle(text):
        return parse_handle(text)
    if is_bare_oid(text):
        return parse_oid(text)
    if first.isdigit() and text.isascii():
        if len(text) in GTIN_LENGTHS and text.isdigit():
            return parse_gtin(text, company_prefix_length=company_prefix_length)
        try:
            return parse_barcode_data(text, company_prefix_length=company_prefix_length)
        except BarcodeSplitError as error:
            raise _diagnose(text, error) from None
    raise IdentifierSyntaxError(
        "not a recognised identifier (EPC URI, GS1 Digital Link, GS1 element string, "
        "handle prefix/suffix or urn:oid:)",
        field="identifier",
    )


#: A GTIN with characters mistyped, missing or extra: up to 16 letters and digits (raw
#: element strings with a primary key are 16 or longer), at most two of them not digits.
_GTIN_LIKE: Final = re.compile(r"[0-9A-Za-z]{1,16}")
#: A handle prefix with a mistake: ``88..8/``, ``88.1#8/``, ``4263537/`` (no dot).
_HANDLE_LIKE: Final = re.compile(r"[0-9][^/]{0,127}/.*", re.DOTALL)
#: An OID with a mistake: dotted, no ``/``, at most two characters neither digit nor dot.
_OID_LIKE: Final = re.compile(r"[^/]*\.[^/]*")


def _diagnose(text: str, error: BarcodeSplitError) -> IdentifierError:
    """The error of the most plausible form of digit-led ``text`` that is not valid raw
    barcode data: a GTIN, a handle, an OID, else the element string's own ``error``."""
    gtin_like = _GTIN_LIKE.fullmatch(text) and sum(not c.isdigit() for c in text) <= 2
    if gtin_like and len(text) < 16:
        return _error_of(lambda: parse_gtin(text)) or error
    if _HANDLE_LIKE.fullmatch(text):
        prefix = text.partition("/")[0]
        if PREFIX_RE.fullmatch(prefix) is None:
            return IdentifierSyntaxError(prefix_problem(prefix), field="handle prefix")
        return IdentifierSyntaxError(
            "a bare handle prefix has a '.' and starts with 1-5 digits or a letter; "
            f"write hdl:{text[:60]}",
            field="handle prefix",
        )
    if _OID_LIKE.fullmatch(text) and sum(c not in "0123456789." for c in text) <= 2:
        return _error_of(lambda: parse_oid(text)) or error
    if gtin_like and error.field == "element string":
        # 16 characters that do not start with an AI: a GTIN with extra characters.
        return _error_of(lambda: parse_gtin(text)) or error
    return error


def _error_of(read: Callable[[], Identifier]) -> IdentifierError | None:
    try:
        read()
    except IdentifierError as error:
        return error
    return None


def to_digital_link(text: str, host: str = CANONICAL_HOST) -> str:
    """Any GS1 identifier form (EPC URI incl. class and pattern forms, element string, DL)
    -> GS1 Digital Link URI on ``host``, key qualifiers in order and data attributes kept.

    Same result as ``parse(text).digital_link(host)``, faster: EPC URIs take
    :func:`epc_to_digital_link`, a Digital Link of a serialised GTIN a regex, other Digital
    Links skip the owner look-up.

    Raises:
        IdentifierError: invalid input, or not a GS1 identifier.
    """
    if type(text) is not str:
        raise IdentifierSyntaxError(
            f"expected a string, got {type(text).__name__}", field="identifier"
        )
    if host == CANONICAL_HOST:
        if text.startswith("urn:epc:"):
            return epc_to_digital_link(text)
        fast = _GTIN_SERIAL_LINK(text)
        if fast is not None and fast[1].lower() not in HANDLE_PROXY_HOSTS:
            gtin = fast[2]
            if check_digit_13(gtin[:13]) == gtin[13]:
                return f"{_DL_GTIN}{gtin}/21/{fast[3]}"
    if text[:8].lower().startswith(("https://", "http://")):
        parsed = _recent.get((text, None))
        if isinstance(parsed, GS1Identifier):
            return parsed.digital_link(host)  # parsed before (capture validates, then hashes)
        _check_text(text)
        _, url_host, path, _ = split_url(text)
        if not _is_handle_url(url_host, path):
            key = digital_link_key(text)
            base = CANONICAL_HOST if host == CANONICAL_HOST else base_url(host)
            return format_digital_link(key, base)
    identifier = parse(text)
    if not isinstance(identifier, GS1Identifier):
        raise NotConvertibleError(
            f"a {identifier.scheme} identifier has no GS1 Digital Link form",
            field="identifier",
        )
    return identifier.digital_link(host)


def _check_text(text: str, *, allow_spaces: bool = False) -> None:
    if len(text) > MAX_INPUT_LENGTH:
        raise LengthError(
            f"identifier has {len(text)} characters, at most {MAX_INPUT_LENGTH} allowed",
            field="identifier",
        )
    if not text:
        raise LengthError("identifier is empty", field="identifier")
    if text.isprintable() and (allow_spaces or " " not in text):
        return
    space = "" if allow_spaces else " "
    bad = next((c for c in text if (not c.isprintable() or c == space) and c != "\x1d"), None)
    if bad is None:
        return  # only GS separators: raw barcode data
    raise CharacterSetError(
        f"identifier contains U+{ord(bad):04X}, a control, format, unassigned or whitespace "
        "character",
        field="identifier",
    )


def _is_handle_url(host: str, path: str) -> bool:
    """Whether an http(s) URL is a handle proxy or resolver URL rather than a Digital Link."""
    first_segment = path[1:].partition("/")[0]
    return host in HANDLE_PROXY_HOSTS or RESOLVER_PREFIX_RE.fullmatch(first_segment) is not None


def _parse_url(text: str, company_prefix_length: int | None) -> Identifier:
    _, host, path, _ = split_url(text)
    if _is_handle_url(host, path):
        return parse_handle_url_path(path)
    return parse_digital_link(text, company_prefix_length=company_prefix_length)


#: ``http(s)://{host}/01/{GTIN-14}/21/{serial}``, the serial of RFC 3986 unreserved characters
#: (nothing to decode or encode); host as :func:`split_url` reads it.
_GTIN_SERIAL_LINK: Final = re.compile(
    r"(?i:https?)://((?i:[a-z0-9][a-z0-9.-]{0,252})(?::[0-9]{1,5})?)"
    r"/01/([0-9]{14})/21/([0-9A-Za-z_.\-]{1,20})"
).fullmatch
_DL_GTIN: Final = CANONICAL_HOST + "/01/"
