"""Identifier values in EPCIS events: which are GS1 keys, and their Digital Link form.

Everything about GS1 identifiers themselves (EPC URIs, Digital Link URIs, check digits) belongs to
:mod:`ledger.identifiers`; this module is the one place the events package calls it. Values that
are not GS1 keys (a Handle such as ``88.118.8/PUMP-0001``, ``geo:`` URIs, a company's own URLs)
are legal EPCIS identifiers and are left alone.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final

from ledger.identifiers import (
    EPC_URI_PREFIXES,
    IdentifierError,
    epc_to_digital_link,
    parse,
    to_digital_link,
)

#: A Digital Link URI: any host, then a GS1 primary key (by AI or short name) and a value.
_DIGITAL_LINK: Final = re.compile(
    r"https?://[^/?#]+(?:/[^?#]*)?/"
    r"(?:00|01|253|255|401|402|414|417|8003|8004|8006|8010|8017|8018|gtin|itip|cpid|gln|party|"
    r"gsrnp|gsrn|gcn|sscc|gdti|ginc|gsin|grai|giai)/[^/?#]+.*"
)
#: Key qualifiers the event hash leaves out when a finer one is present (CBV 2.0 §8.9.2).
_CPV: Final = "22"
_LOT: Final = "10"
_SERIAL: Final = "21"
_CPV_SEGMENT: Final = f"/{_CPV}/"
_LOT_SEGMENT: Final = f"/{_LOT}/"


#: EPC URI schemes :func:`ledger.identifiers.parse` reads (TDS 2.1: every GS1 pure identity,
#: the LGTIN class, SGTIN patterns), so capture checks them. Other EPC URIs (``urn:epc:id:gid:…``,
#: patterns such as ``urn:epc:idpat:grai:…``) are accepted as URIs; the hash converts the
#: class-level patterns and keeps the rest as written.
CHECKED_EPC_SCHEMES: Final = EPC_URI_PREFIXES
#: Escapes of the canonical Digital Link that the event hash writes as the character itself:
#: GS1's reference implementation percent-encodes only ``! ( ) * + , :`` besides the TDS
#: escapes, and its vectors (``epclist_normalisation``: a TPX with ``'``) hash that form.
_HASH_UNESCAPED: Final = (("%27", "'"), ("%3B", ";"), ("%3D", "="))


def is_gs1_uri(value: str) -> bool:
    """Whether ``value`` is a GS1 key that :mod:`ledger.identifiers` can judge."""
    if value.startswith("urn:epc:"):
        return value.startswith(CHECKED_EPC_SCHEMES)
    return _DIGITAL_LINK.fullmatch(value) is not None


def check(value: str) -> str | None:
    """Why the GS1 key ``value`` is invalid (``GTIN check digit is 7, expected 3``), or None.

    Values that are not GS1 keys are never invalid here.
    """
    if not is_gs1_uri(value):
        return None
    try:
        parse(value)
    except IdentifierError as error:
        return error.reason
    return None


def _constrain(link: str) -> str:
    """Keep only the finest identification level of a canonical Digital Link URI.

    CBV 2.0 §8.9.2 (III): a CPV (AI 22) is dropped, and a lot (AI 10) is dropped when a serial
    (AI 21) is present; any query string is stripped.
    """
    query = link.find("?")
    if query >= 0:
        link = link[:query]
    if _CPV_SEGMENT not in link and _LOT_SEGMENT not in link:
        return link
    scheme, _, rest = link.partition("://")
    host, _, path = rest.partition("/")
    segments = path.split("/")
    pairs = [(segments[i], segments[i + 1]) for i in range(0, len(segments) - 1, 2)]
    ais = {ai for ai, _ in pairs}
    kept = [
        (ai, value)
        for index, (ai, value) in enumerate(pairs)
        if index == 0 or not (ai == _CPV or (ai == _LOT and _SERIAL in ais))
    ]
    return f"{scheme}://{host}/" + "/".join(f"{ai}/{value}" for ai, value in kept)


def _hash_form(link: str) -> str:
    """The Digital Link as the event hash writes it: ``'``, ``;`` and ``=`` unescaped.

    Safe on a canonical Digital Link: every ``%`` there starts an upper-case escape.
    """
    for escape, character in _HASH_UNESCAPED:
        link = link.replace(escape, character)
    return link


@lru_cache(maxsize=131072)
def normalise(value: str) -> str | None:
    """The constrained canonical Digital Link URI of a GS1 key, or None for anything else.

    Used by the event hash: EPC URIs (id, class and class-level patterns) and Digital Link URIs
    on any host become ``https://id.gs1.org/…`` with only the finest identification level
    (and ``'``, ``;``, ``=`` unescaped, as GS1's reference implementation writes them); a value
    that is not a GS1 key, or not a valid one, gives None and is hashed as it is.
    """
    try:
        if value.startswith("urn:epc:"):
            # Already constrained: an EPC's Digital Link has no query string, no CPV and no
            # lot beside a serial (an LGTIN has a lot and no serial).
            link = epc_to_digital_link(value)
        elif _DIGITAL_LINK.fullmatch(value) is not None:
            link = _constrain(to_digital_link(value))
        else:
            return None
    except IdentifierError:
        return None
    return _hash_form(link) if "%" in link else link
