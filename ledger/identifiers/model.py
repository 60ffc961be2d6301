"""The :class:`Identifier` value type: one parsed, validated, canonicalised identifier.

``Identifier`` is immutable in practice (``__slots__``, read-only properties over private
slots; no ``__dict__``) and cheap to build so that
bulk parsing of EPC URIs stays fast; ``id_key`` (keccak256 of the canonical form, used
on-chain) is computed on first access and then kept.
"""

from __future__ import annotations

from typing import ClassVar, Final
from urllib.parse import quote

from ledger.identifiers.canonical import (
    CANONICAL_HOST,
    canonical_key,
    class_key,
    format_barcode_data,
    format_digital_link,
    format_element_string,
    format_epc_uri,
    kind_of,
)
from ledger.identifiers.errors import IdentifierSyntaxError, NotConvertibleError
from ledger.identifiers.gs1 import (
    GS1Key,
    company_prefix_digits,
    explicit_company_prefix,
    field_name,
    lookup_company_prefix,
)
from ledger.identifiers.hashing import keccak256
from ledger.identifiers.urls import base_url

__all__ = ["GS1Identifier", "HandleIdentifier", "Identifier", "OidIdentifier"]


class Identifier:
    """An industrial identifier in canonical form.

    Attributes (read-only):
        scheme: ``"gs1"``, ``"handle"`` or ``"oid"``.
        kind: ``"sgtin"``, ``"lgtin"``, ``"gtin"``, ``"upui"``, ``"sgtin-pattern"``,
            ``"sscc"``, ``"sgln"``, ``"gln"``, ``"grai"``, ``"giai"``, else the GS1 Digital
            Link name of the primary key (``"party"``, ``"gsrn"``, ``"gsrnp"``, ``"gdti"``,
            ``"cpid"``, ``"gcn"``, ``"ginc"``, ``"gsin"``, ``"itip"``, ``"gmn"``...),
            ``"handle"`` or ``"oid"``.
        canonical: the canonical form (see :mod:`ledger.identifiers.canonical`).
        id_key: 32 bytes, keccak256 of the UTF-8 canonical form; the on-chain key.
        owner_prefix: normalised owning prefix, e.g. ``"gs1:0614141"``, ``"handle:88.118.8"``.
    """

    __slots__ = ("_canonical", "_id_key", "_kind", "_owner")
    scheme: ClassVar[str] = ""

    def __init__(self, kind: str, canonical: str, owner_prefix: str) -> None:
        self._kind = kind
        self._canonical = canonical
        self._owner = owner_prefix
        self._id_key: bytes | None = None

    @property
    def kind(self) -> str:
        """What the identifier identifies (see the class docstring)."""
        return self._kind

    @property
    def canonical(self) -> str:
        """The canonical form, the input of ``id_key``."""
        return self._canonical

    @property
    def owner_prefix(self) -> str:
        """The normalised prefix of the member owning this identifier."""
        return self._owner

    @property
    def id_key(self) -> bytes:
        """keccak256 of the UTF-8 canonical form (32 bytes), computed once."""
        key = self._id_key
        if key is None:
            key = self._id_key = keccak256(self._canonical.encode())
        return key

    @property
    def epc_uri(self) -> str | None:
        """The EPC URI form, or ``None`` when the identifier has none."""
        return None

    @property
    def element_string(self) -> str | None:
        """The human-readable GS1 element string, or ``None`` for non-GS1 identifiers."""
        return None

    def class_identifier(self) -> Identifier | None:
        """The class this identifier belongs to (e.g. the LGTIN of an SGTIN), if any."""
        return None

    def digital_link(self, host: str = CANONICAL_HOST) -> str:
        """The GS1 Digital Link URI; GS1 identifiers only."""
        raise NotConvertibleError(
            f"a {self.scheme} identifier has no GS1 Digital Link form", field="identifier"
        )

    def resolver_url(self, host: str) -> str:
        """The URL our QR codes carry for this identifier on resolver ``host``."""
        raise NotConvertibleError(
            f"a {self.scheme} identifier has no resolver URL form", field="identifier"
        )

    def _detail(self) -> object:
        return self._canonical

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Identifier):
            return NotImplemented
        return (
            type(self) is type(other)
            and self._kind == other._kind
            and self._canonical == other._canonical
            and self._detail() == other._detail()
        )

    def __hash__(self) -> int:
        return hash((self.scheme, self._canonical))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(kind={self._kind!r}, canonical={self._canonical!r})"

    def __str__(self) -> str:
        return self._canonical


class GS1Identifier(Identifier):
    """A GS1 key (with its key qualifiers and data attributes as scanned)."""

    __slots__ = ("_company_prefix", "_key")
    scheme: ClassVar[str] = "gs1"

    def __init__(
        self,
        kind: str,
        canonical: str,
        owner_prefix: str,
        key: GS1Key | None,
        company_prefix: str | None,
    ) -> None:
        self._kind = kind
        self._canonical = canonical
        self._owner = owner_prefix
        self._id_key = None
        self._key = key
        self._company_prefix = company_prefix

    @property
    def key(self) -> GS1Key | None:
        """The GS1 key, qualifiers and attributes; ``None`` for an SGTIN pattern ``cp.*.*``."""
        return self._key

    @property
    def company_prefix(self) -> str | None:
        """The GS1 company prefix: explicit in an EPC URI, else from biip's table (or None)."""
        return self._company_prefix

    @property
    def epc_uri(self) -> str | None:
        """The EPC URI (TDS 2.1), or ``None`` if TDS has no form or the prefix is unknown."""
        if self._key is None:
            return self._canonical  # the pattern urn:epc:idpat:sgtin:{cp}.*.*
        if self._company_prefix is None:
            return None
        return format_epc_uri(self._key, self._company_prefix)

    def to_epc_uri(self, company_prefix_length: int | None = None) -> str:
        """The EPC URI, with an explicit company-prefix length if the caller knows it.

        Raises:
            IdentifierError: TDS has no EPC form for this key, or the company prefix is
                unknown and no length was given.
        """
        if self._key is None:
            return self._canonical
        if company_prefix_length is not None:
            company_prefix = explicit_company_prefix(
                self._key.ai, self._key.value, company_prefix_length
            )
        elif self._company_prefix is not None:
            company_prefix = self._company_prefix
        else:
            raise NotConvertibleError(
                "the GS1 company prefix of this key is not in the GS1 company-prefix table; "
                "pass company_prefix_length",
                field="company prefix",
            )
        uri = format_epc_uri(self._key, company_prefix)
        if uri is None:
            raise NotConvertibleError(
                f"the EPC Tag Data Standard has no URI form for a {self._kind}",
                field="identifier",
            )
        return uri

    @property
    def element_string(self) -> str | None:
        """Human-readable element string ``(01)...(10)...(21)...`` incl. data attributes."""
        if self._key is None:
            return None
        return format_element_string(self._key)

    @property
    def barcode_data(self) -> str | None:
        """Raw GS1 barcode data (no parentheses, GS separators), without symbology id."""
        if self._key is None:
            return None
        return format_barcode_data(self._key)

    def class_identifier(self) -> Identifier | None:
        """The class: LGTIN of an SGTIN with lot, GTIN of one without, GLN of an SGLN..."""
        if self._key is None:
            return None
        key = class_key(self._key)
        if key is None:
            return None
        return gs1_identifier(key, company_prefix=self._company_prefix)

    def digital_link(self, host: str = CANONICAL_HOST) -> str:
        """The Digital Link URI with all key qualifiers and data attributes.

        ``host`` is ``https://host`` optionally followed by a path prefix; a bare host name
        gets ``https://``.
        """
        if self._key is None:
            raise NotConvertibleError(
                "an SGTIN pattern without item reference has no GS1 Digital Link form",
                field="item reference",
            )
        base = CANONICAL_HOST if host == CANONICAL_HOST else base_url(host)
        return format_digital_link(self._key, base)

    def resolver_url(self, host: str) -> str:
        """The Digital Link URI on ``host`` (our resolver speaks GS1 Digital Link)."""
        return self.digital_link(host)

    def _detail(self) -> object:
        return self._key


def check_company_prefix_digits(key: GS1Key) -> str:
    """The key's company-prefix digits (:func:`ledger.identifiers.gs1.company_prefix_digits`).

    Raises:
        IdentifierError: fewer than 6, so the key cannot start with a GS1 company prefix.
    """
    digits = company_prefix_digits(key.ai, key.value)
    if len(digits) < 6:
        field = field_name(key.ai)
        raise IdentifierSyntaxError(
            f"{field} does not start with a GS1 company prefix (6-12 digits)", field=field
        )
    return digits


def gs1_identifier(
    key: GS1Key,
    *,
    company_prefix: str | None = None,
    company_prefix_length: int | None = None,
) -> GS1Identifier:
    """Build the identifier of a validated key.

    The company prefix is, in order: ``company_prefix_length`` applied to the key, the
    ``company_prefix`` given (when it is a prefix of the key's digits), biip's GS1
    company-prefix table. If none is known, ``owner_prefix`` falls back to the 12 leading
    company-prefix digits: the most specific candidate, which grants nothing by accident;
    :func:`ledger.identifiers.prefixes.prefix_candidates` lists all lengths.
    """
    digits = check_company_prefix_digits(key)
    if company_prefix_length is not None:
        cp: str | None = explicit_company_prefix(key.ai, key.value, company_prefix_length)
    elif company_prefix is not None and digits.startswith(company_prefix):
        cp = company_prefix
    else:
        cp = lookup_company_prefix(key.ai, key.value)
    owner = "gs1:" + (cp if cp is not None else digits[:12])
    canonical = format_digital_link(canonical_key(key), CANONICAL_HOST, attributes=False)
    return GS1Identifier(kind_of(key), canonical, owner, key, cp)


class HandleIdentifier(Identifier):
    """A Handle System / IDIS identifier ``prefix/suffix``."""

    __slots__ = ("_prefix", "_suffix")
    scheme: ClassVar[str] = "handle"

    def __init__(self, prefix: str, suffix: str) -> None:
        lowered = prefix.lower()
        self._kind = "handle"
        self._canonical = f"{lowered}/{suffix}"
        self._owner = "handle:" + lowered
        self._id_key = None
        self._prefix = lowered
        self._suffix = suffix

    @property
    def prefix(self) -> str:
        """The prefix (naming authority), ASCII-lowercased."""
        return self._prefix

    @property
    def suffix(self) -> str:
        """The suffix, exactly as given (case-sensitive, may contain ``/``)."""
        return self._suffix

    def resolver_url(self, host: str) -> str:
        """``https://{host}/{prefix}/{suffix}``, the suffix percent-encoded where needed."""
        return f"{base_url(host)}/{self._prefix}/{quote(self._suffix, safe=_HANDLE_SAFE)}"


_HANDLE_SAFE: Final = "/!$&'()*+,;=:@-._~"


class OidIdentifier(Identifier):
    """An ISO/ITU object identifier under the China arcs ``1.2.156`` or ``2.16.156``."""

    __slots__ = ("_dotted",)
    scheme: ClassVar[str] = "oid"

    def __init__(self, dotted: str, owner_prefix: str) -> None:
        self._kind = "oid"
        self._canonical = "urn:oid:" + dotted
        self._owner = owner_prefix
        self._id_key = None
        self._dotted = dotted

    @property
    def dotted(self) -> str:
        """The OID in dotted-decimal form."""
        return self._dotted
