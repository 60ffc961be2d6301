"""Industrial identifiers: parse, validate, normalise and convert.

Forms: GS1 keys as EPC URIs (TDS 2.1), GS1 Digital Link URIs (DL 1.2+ URI syntax) and
element strings (GenSpecs; human-readable or raw barcode data); Handle System / IDIS handles;
OIDs under China's arcs. Every identifier has one canonical form, an on-chain ``id_key``
(keccak256 of it), a class identifier where it has one, and a normalised owning prefix::

    >>> from ledger.identifiers import parse
    >>> item = parse("urn:epc:id:sgtin:0614141.812345.6789")
    >>> item.canonical
    'https://id.gs1.org/01/80614141123458/21/6789'
    >>> item.owner_prefix
    'gs1:0614141'
    >>> parse("(01)80614141123458(21)6789").id_key == item.id_key
    True
"""

from __future__ import annotations

from ledger.identifiers.canonical import CANONICAL_HOST
from ledger.identifiers.epc import (
    EPC_PATTERN_PREFIXES,
    EPC_URI_PREFIXES,
    epc_to_digital_link,
    parse_epc_pattern,
)
from ledger.identifiers.errors import (
    CharacterSetError,
    CheckDigitError,
    IdentifierError,
    IdentifierSyntaxError,
    LengthError,
    NotConvertibleError,
)
from ledger.identifiers.gs1 import GS1Key
from ledger.identifiers.model import GS1Identifier, HandleIdentifier, Identifier, OidIdentifier
from ledger.identifiers.parser import parse, to_digital_link
from ledger.identifiers.prefixes import (
    epc_uri_at,
    normalise_prefix,
    prefix_candidates,
    prefix_key,
)

__all__ = [
    "CANONICAL_HOST",
    "EPC_PATTERN_PREFIXES",
    "EPC_URI_PREFIXES",
    "CharacterSetError",
    "CheckDigitError",
    "GS1Identifier",
    "GS1Key",
    "HandleIdentifier",
    "Identifier",
    "IdentifierError",
    "IdentifierSyntaxError",
    "LengthError",
    "NotConvertibleError",
    "OidIdentifier",
    "epc_to_digital_link",
    "epc_uri_at",
    "normalise_prefix",
    "parse",
    "parse_epc_pattern",
    "prefix_candidates",
    "prefix_key",
    "to_digital_link",
]
