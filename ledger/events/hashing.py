"""The CBV 2.0 Event Hash ID (CBV 2.0 §8.9) of an EPCIS event in its JSON / JSON-LD shape.

The hash ID is ``ni:///sha-256;{hex}?ver=CBV2.0`` where ``hex`` is the SHA-256 of the event's
*pre-hash string* (UTF-8). The pre-hash string concatenates, without separators:

1. ``eventType=…``;
2. the fields of the canonical property order (:data:`_EVENT_ORDER`): ``eventTime``,
   ``eventTimeZoneOffset``, ``certificationInfo``, ``parentID``, the EPC lists, the quantity
   lists, ``action``, ``transformationID``, ``bizStep``, ``disposition``,
   ``persistentDisposition``, ``readPoint``, ``bizLocation``, ``sensorElementList``; a field with
   a value is written ``name=value``, a field with children ``name`` followed by its children in
   their own order; repeated values (list items) are sorted; user extensions inside a field with
   an extension point (``readPoint``, ``sensorReport``…) follow its standard fields, sorted;
3. everything else, each rendered generically (``{namespace}local=value``, children sorted) and
   the whole lot sorted: ``bizTransactionList`` / ``sourceList`` / ``destinationList`` (each entry
   ``type=…`` then its value, entries sorted, as GS1's reference implementation does), ``ilmd``
   and the top-level user extensions.

Left out: ``eventID``, ``recordTime``, ``errorDeclaration``, ``@context`` (the event's and any
embedded in a user extension, whose prefixes apply inside it) and ``rdfs:comment``.

Every compact IRI is expanded, with the prefixes the event's ``@context`` declares over those of
the EPCIS context (``epcis``, ``cbv``, ``cbvmda``, ``gs1``, ``rdfs``, ``owl``, ``xsd``,
``dcterms``), so that the label a document happens to use never changes the hash: a key
``prefix:local`` is written ``{namespace}local`` as the XML binding's names are, a value
``prefix:rest`` becomes the full IRI ``namespace + rest`` (JSON-LD IRI expansion: not when ``rest``
starts with ``//``, and an undeclared prefix is a URI scheme, kept). The one key namespace spelled
differently in the two bindings is the CBV master-data one: JSON-LD's ``cbvmda:`` is
``urn:epcglobal:cbv:mda:`` (an IRI prefix), XML's is ``urn:epcglobal:cbv:mda``; keys are written
``{urn:epcglobal:cbv:mda}lotNumber`` in both. Values are then normalised: CBV bare terms and URNs
become GS1 Web URIs; numbers lose leading ``+`` and trailing zeros; timestamps go to UTC at
millisecond precision; EPC URIs (of every GS1 scheme, and class-level patterns such as
``urn:epc:idpat:grai:{cp}.{asset type}.*``) and GS1 Digital Link URIs become constrained canonical
Digital Link URIs (through :mod:`ledger.events.epc`); any other URI (a Handle, a ``geo:`` URI, a
pattern such as ``{cp}.*.*`` that names no key…) is kept as it is.

Where GS1's reference implementation (``epcis-event-hash-generator``) and the standard's text
disagree, the test vectors decide, and the behaviour is binding-independent (an event gives one
hash whether it came as XML or JSON, whatever its prefix labels; where the vectors themselves
disagree with that, binding independence wins):

* JSON ``true``/``false`` are written ``true``/``false`` as in XML (the reference's JSON reader
  writes Python's ``True``);
* compact IRIs in *values* are expanded in both bindings; the reference's JSON reader expands only
  the prefixes declared inline in the document's ``@context`` (not ``cbvmda``, ``xsd``… of the
  EPCIS context), its XML reader only ``cbv:`` and ``gs1:``, so GS1's SensorDataExamples.xml
  vectors keep ``type=example:someSensorProperty``;
* ``cbvmda:`` keys are ``{urn:epcglobal:cbv:mda}…`` (SensorDataExamples.xml's vector); the vector
  epcisDocWithVariousEventTypes writes ``{urn:epcglobal:cbv:mda:}…``, the reference's JSON
  reader leaves an undeclared ``cbvmda:`` key as written;
* an ``@context`` embedded in a user extension declares prefixes, it is not data (the reference
  hashes it as a child element);
* ``xsi:type`` on an XML extension element is not content (the reference hashes it as an
  attribute);
* a half-way fourth fractional digit rounds up (§8.9.2), the reference rounds half to even;
* a key ending in ``List`` inside a user extension is an ordinary key (the reference's JSON reader
  renames its items, which its XML reader does not);
* in GS1 keys, ``'``, ``;`` and ``=`` are written as themselves, as the reference and its vectors
  do, although the canonical Digital Link of DL URI syntax 1.2 (our ``id_key`` form)
  percent-encodes them.

The vectors that expect otherwise are strict expected failures in
``tests/ledger/events/test_hash_vectors.py``, each naming its reason.

This module works on our parsed JSON shape directly: no JSON-LD processor (a compact IRI is one
dictionary look-up of its prefix), no copies.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, Final, TypeGuard

from ledger.events import epc
from ledger.events.timestamps import hash_timestamp
from ledger.events.vocabulary import (
    CBV_MDA_NAMESPACE,
    STANDARD_PREFIXES,
    URN_TO_WEB,
    VOCABULARIES,
    VocabularyKind,
)

#: Turns a value into its constrained canonical GS1 Digital Link URI, or None to keep it.
Normaliser = Callable[[str], str | None]

HASH_ALGORITHM: Final = "sha-256"
CBV_VERSION: Final = "CBV2.0"

_RDFS_COMMENT: Final = "{http://www.w3.org/2000/01/rdf-schema#}comment"
_IGNORED_TOP_LEVEL: Final = frozenset(
    {"type", "eventID", "recordTime", "errorDeclaration", "@context", "rdfs:comment"}
)
_NUMBER: Final = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_NUMBER_STARTS: Final = frozenset("+-.0123456789")
#: Namespaces a key is written with in the pre-hash string when its prefix maps to another
#: spelling of the same XML namespace: JSON-LD's ``cbvmda:`` (``urn:epcglobal:cbv:mda:``, an IRI
#: prefix) names the elements the XML binding puts in ``urn:epcglobal:cbv:mda``.
_KEY_NAMESPACES: Final = {STANDARD_PREFIXES["cbvmda"]: CBV_MDA_NAMESPACE}
_CONTEXT: Final = "@context"
#: Only EPC URIs (``urn:``) and Digital Link URIs (``http``) can be GS1 keys.
_IDENTIFIER_HEADS: Final = frozenset({"urn:", "http"})
_TYPED_LISTS: Final = {
    "bizTransactionList": "bizTransaction",
    "sourceList": "source",
    "destinationList": "destination",
}
_TYPED_LIST_VOCABULARY: Final[dict[str, VocabularyKind]] = {
    "bizTransactionList": "bizTransactionType",
    "sourceList": "sourceDestType",
    "destinationList": "sourceDestType",
}
#: Item names of the standard lists, as the XML binding spells them.
_LIST_ITEMS: Final = {
    "epcList": "epc",
    "childEPCs": "epc",
    "inputEPCList": "epc",
    "outputEPCList": "epc",
    "quantityList": "quantityElement",
    "childQuantityList": "quantityElement",
    "inputQuantityList": "quantityElement",
    "outputQuantityList": "quantityElement",
    "sensorElementList": "sensorElement",
    "correctiveEventIDs": "correctiveEventID",
}
#: Keys whose presence keeps a generic element's children in document order (reference rule).
_UNSORTED_MARKERS: Final = frozenset({"bizTransaction", "source", "destination"})


@dataclass(frozen=True, slots=True)
class _Field:
    """One entry of a canonical property order."""

    name: str
    #: Children in their canonical order, for fields that are objects.
    order: tuple[_Field, ...] | None = None
    #: Name of each item, for fields that are lists wrapping their items (``epcList``).
    item: str | None = None
    #: Standard vocabulary whose bare terms the value may use.
    vocabulary: VocabularyKind | None = None
    #: Whether the value is a timestamp.
    time: bool = False
    #: Position in ``order`` of each child's name (derived).
    positions: dict[str, int] = dataclasses.field(
        default_factory=dict, init=False, compare=False, hash=False
    )

    def __post_init__(self) -> None:
        if self.order is not None:
            self.positions.update((spec.name, i) for i, spec in enumerate(self.order))


def _value(name: str, vocabulary: VocabularyKind | None = None) -> _Field:
    return _Field(name, vocabulary=vocabulary, time="time" in name.lower())


_QUANTITY_ORDER: Final = (_value("epcClass"), _value("quantity"), _value("uom"))
_SENSOR_METADATA_ORDER: Final = tuple(
    _value(name)
    for name in (
        "time",
        "startTime",
        "endTime",
        "deviceID",
        "deviceMetadata",
        "rawData",
        "dataProcessingMethod",
        "bizRules",
    )
)
_SENSOR_REPORT_ORDER: Final = (
    _value("type", "measurementType"),
    _value("exception", "sensorAlertType"),
    *(
        _value(name)
        for name in (
            "deviceID",
            "deviceMetadata",
            "rawData",
            "dataProcessingMethod",
            "time",
            "microorganism",
            "chemicalSubstance",
            "value",
        )
    ),
    _value("component", "component"),
    *(
        _value(name)
        for name in (
            "stringValue",
            "booleanValue",
            "hexBinaryValue",
            "uriValue",
            "minValue",
            "maxValue",
            "meanValue",
            "sDev",
            "percRank",
            "percValue",
            "uom",
            "coordinateReferenceSystem",
        )
    ),
)
_SENSOR_ELEMENT: Final = _Field(
    "sensorElement",
    order=(
        _Field("sensorMetadata", order=_SENSOR_METADATA_ORDER),
        _Field("sensorReport", order=_SENSOR_REPORT_ORDER),
    ),
)
_EPC: Final = _value("epc")
_QUANTITY_ELEMENT: Final = _Field("quantityElement", order=_QUANTITY_ORDER)


def _epcs(name: str) -> _Field:
    return _Field(name, item="epc", order=(_EPC,))


def _quantities(name: str) -> _Field:
    return _Field(name, item="quantityElement", order=(_QUANTITY_ELEMENT,))


#: The canonical property order of CBV 2.0 §8.9 as the reference implementation applies it.
_EVENT_ORDER: Final = (
    _value("eventTime"),
    _value("eventTimeZoneOffset"),
    _value("certificationInfo"),
    _value("parentID"),
    _epcs("epcList"),
    _epcs("inputEPCList"),
    _epcs("childEPCs"),
    _quantities("quantityList"),
    _quantities("childQuantityList"),
    _quantities("inputQuantityList"),
    _epcs("outputEPCList"),
    _quantities("outputQuantityList"),
    _value("action"),
    _value("transformationID"),
    _value("bizStep", "bizStep"),
    _value("disposition", "disposition"),
    _Field(
        "persistentDisposition",
        order=(_value("set", "disposition"), _value("unset", "disposition")),
    ),
    _Field("readPoint", order=(_value("id"),)),
    _Field("bizLocation", order=(_value("id"),)),
    _Field("sensorElementList", item="sensorElement", order=(_SENSOR_ELEMENT,)),
)
_EVENT_POSITIONS: Final = {spec.name: i for i, spec in enumerate(_EVENT_ORDER)}
_first: Final = itemgetter(0)


def declared_prefixes(context: object) -> dict[str, str]:
    """Compact-IRI prefixes an ``@context`` (an object, a URL or a list of them) declares inline."""
    prefixes: dict[str, str] = {}
    entries = context if isinstance(context, list) else [context]
    for entry in entries:
        if _is_mapping(entry):
            for key, value in entry.items():
                if isinstance(value, str) and not key.startswith("@"):
                    prefixes[key] = value
    return prefixes


def context_prefixes(context: object) -> dict[str, str]:
    """Compact-IRI prefixes an ``@context`` declares, over those of the EPCIS context."""
    prefixes = dict(STANDARD_PREFIXES)
    prefixes.update(declared_prefixes(context))
    return prefixes


@dataclass(frozen=True, slots=True)
class _Prefixes:
    """The compact-IRI prefixes in force for an event (or a node with its own ``@context``)."""

    by_label: Mapping[str, str]
    #: Whether a label is spelled like the scheme of a URN or URL (``urn``, ``http…``): only then
    #: can a value starting ``urn:`` or ``http`` be a compact IRI.
    schemes: bool

    @classmethod
    def of(cls, by_label: Mapping[str, str]) -> _Prefixes:
        return cls(by_label, any(p == "urn" or p[:4] == "http" for p in by_label))


def _snapshot(context: object) -> object:
    """A copy of ``context`` deep enough that later changes to its prefixes compare unequal."""
    if isinstance(context, list):
        return [dict(entry) if isinstance(entry, dict) else entry for entry in context]
    return dict(context) if isinstance(context, dict) else context


class _LastContext:
    """The prefixes of the last ``@context`` seen: a document's events share one context, so
    most events skip building their prefix table. Compared by value, never by identity."""

    __slots__ = ("_entry",)

    def __init__(self) -> None:
        self._entry: tuple[object, _Prefixes] = (None, _Prefixes.of(STANDARD_PREFIXES))

    def prefixes(self, context: object) -> _Prefixes:
        snapshot, prefixes = self._entry
        if type(context) is type(snapshot) and context == snapshot:
            return prefixes
        prefixes = _Prefixes.of(context_prefixes(context))
        self._entry = (_snapshot(context), prefixes)
        return prefixes


_LAST_CONTEXT: Final = _LastContext()


class _Writer:
    """Renders one event; holds the event's prefixes and the identifier normaliser."""

    __slots__ = ("_normalise", "_prefixes", "_scheme_prefixes")

    def __init__(self, prefixes: _Prefixes, normalise: Normaliser) -> None:
        self._prefixes = prefixes.by_label
        self._scheme_prefixes = prefixes.schemes
        self._normalise = normalise

    # -- values -------------------------------------------------------------------------------

    def scoped(self, context: object) -> _Writer:
        """The writer for a node with its own ``@context``: its prefixes over the event's."""
        prefixes = dict(self._prefixes)
        prefixes.update(declared_prefixes(context))
        return _Writer(_Prefixes.of(prefixes), self._normalise)

    def key(self, key: str) -> str:
        """``prefix:local`` with a declared prefix as ``{namespace}local``; others unchanged."""
        colon = key.find(":")
        if colon > 0:
            namespace = self._prefixes.get(key[:colon])
            if namespace is not None and not key.startswith("//", colon + 1):
                namespace = _KEY_NAMESPACES.get(namespace, namespace)
                return "{" + namespace + "}" + key[colon + 1 :]
        return key

    def canonical(self, text: str) -> str:
        """A non-empty, stripped value in its canonical form."""
        head = text[:4]
        # Most values are URNs and URLs: their scheme is a prefix only if a document says so.
        if head not in _IDENTIFIER_HEADS or self._scheme_prefixes:
            colon = text.find(":")
            if colon > 0:
                namespace = self._prefixes.get(text[:colon])
                if namespace is not None and not text.startswith("//", colon + 1):
                    text = namespace + text[colon + 1 :]
                    head = text[:4]
        if "urn:epcglobal:cbv:" in text:
            for urn, web in URN_TO_WEB.items():
                text = text.replace(urn, web)
        if text[0] in _NUMBER_STARTS and _NUMBER.fullmatch(text):
            number = float(text)
            if math.isfinite(number):
                return str(int(number)) if number.is_integer() else repr(number)
            return text
        if head in _IDENTIFIER_HEADS:
            return self._normalise(text) or text
        return text

    # -- canonical order ----------------------------------------------------------------------

    def ordered(self, obj: Mapping[str, Any], spec: _Field) -> tuple[str, dict[str, Any]]:
        """Render the children of ``obj`` in ``order`` followed by its user extensions.

        Returns the text and the *residue*: children that are neither in ``order`` nor user
        extensions, and parts of ordered children that could not be placed; the caller renders
        the residue generically at the end of the event, as the reference implementation does.
        """
        if _CONTEXT in obj:
            return self.scoped(obj[_CONTEXT]).ordered(
                {key: value for key, value in obj.items() if key != _CONTEXT}, spec
            )
        positions = spec.positions
        found: list[tuple[int, Any]] = []
        others: list[tuple[str, Any]] = []
        for key, value in obj.items():
            position = positions.get(key)
            if position is None:
                others.append((key, value))
            else:
                found.append((position, value))
        if len(found) > 1:
            found.sort(key=_first)
        parts: list[str] = []
        residue: dict[str, Any] = {}
        order = spec.order or ()
        for position, value in found:
            child = order[position]
            texts, rest = self.field(child, value)
            if texts:
                texts.sort()
                parts.extend(texts)
            if rest is not None:
                residue[child.name] = rest
        extensions: list[str] = []
        for key, value in others:
            if ":" in key:
                expanded = self.key(key)
                if expanded != _RDFS_COMMENT and key != "rdfs:comment":
                    extensions.extend(self.generic(expanded, value))
            else:
                residue[key] = value
        if extensions:
            extensions.sort()
            parts.extend(extensions)
        return "".join(parts), residue

    def field(self, spec: _Field, value: Any) -> tuple[list[str], Any]:
        """The texts of one ordered field (one per value) and what is left of it, if anything."""
        if type(value) is str and spec.item is None:
            return self.scalar(spec, value.strip()), None
        if spec.item is not None:
            items = value if isinstance(value, list) else [value]
            item_spec = spec.order[0] if spec.order else _value(spec.item)
            texts: list[str] = []
            leftovers: list[Any] = []
            plain = item_spec.order is None and not item_spec.time and item_spec.vocabulary is None
            prefix = item_spec.name + "="
            for item in items:
                if plain and type(item) is str:
                    text = item.strip()
                    if text:
                        texts.append(prefix + self.canonical(text))
                    continue
                item_texts, rest = self.field(item_spec, item)
                texts.extend(item_texts)
                if rest is not None:
                    leftovers.append(rest)
            texts.sort()
            joined = "".join(texts)
            return ([spec.name + joined] if joined else []), (leftovers or None)
        if isinstance(value, list):
            texts = []
            leftovers = []
            for item in value:
                item_texts, rest = self.field(spec, item)
                texts.extend(item_texts)
                if rest is not None:
                    leftovers.append(rest)
            return texts, (leftovers or None)
        if _is_mapping(value):
            if spec.order is None:
                return [], value
            text, residue = self.ordered(value, spec)
            return ([spec.name + text] if text else []), (residue or None)
        return self.scalar(spec, _text(value)), None

    def scalar(self, spec: _Field, text: str) -> list[str]:
        """``name=value`` for a stripped scalar (nothing for an empty one)."""
        if not text:
            return []
        if spec.time:
            return [spec.name + "=" + hash_timestamp(text)]
        if spec.vocabulary is not None and text in VOCABULARIES[spec.vocabulary].terms:
            text = VOCABULARIES[spec.vocabulary].web_uri(text)
        return [spec.name + "=" + self.canonical(text)]

    # -- everything else ----------------------------------------------------------------------

    def generic(self, name: str, value: Any) -> list[str]:
        """Render ``value`` under the (expanded) ``name``; lists give one text per item."""
        if isinstance(value, list):
            if name in _TYPED_LISTS:
                return self.typed_list(name, value)
            item = _LIST_ITEMS.get(name)
            if item is None and name.endswith("List") and ":" not in name and "{" not in name:
                item = name[:-4]
            if item is None:
                texts: list[str] = []
                for element in value:
                    texts.extend(self.generic(name, element))
                return texts
            children: list[str] = []
            for element in value:
                children.extend(self.generic(item, element))
            children.sort()
            return [name + "".join(children)] if children else []
        if _is_mapping(value):
            if _CONTEXT in value:
                inner = {key: child for key, child in value.items() if key != _CONTEXT}
                return self.scoped(value[_CONTEXT]).generic(name, inner)
            children = []
            own = ""
            keep_order = False
            for key, child in value.items():
                if key == "#text":
                    own = _text(child)
                    continue
                expanded = self.key(key)
                if expanded == _RDFS_COMMENT or key == "rdfs:comment":
                    continue
                if expanded in _UNSORTED_MARKERS:
                    keep_order = True
                children.extend(self.generic(expanded, child))
            if not keep_order:
                children.sort()
            head = name + "=" + self.canonical(own) if own else name
            return [head + "".join(children)]
        text = _text(value)
        return [name + "=" + self.canonical(text)] if text else [name]

    def typed_list(self, name: str, entries: list[Any]) -> list[str]:
        """``bizTransactionList`` and friends: each entry ``type=…`` then its value, sorted."""
        value_key = _TYPED_LISTS[name]
        vocabulary = VOCABULARIES[_TYPED_LIST_VOCABULARY[name]]
        texts: list[str] = []
        for entry in entries:
            if not _is_mapping(entry):
                texts.extend(self.generic(value_key, entry))
                continue
            parts: list[str] = []
            kind = _text(entry.get("type"))
            if kind:
                if kind in vocabulary.terms:
                    kind = vocabulary.web_uri(kind)
                parts.append("type=" + self.canonical(kind))
            for key, child in entry.items():
                if key != "type":
                    parts.extend(self.generic(self.key(key), child))
            texts.append("".join(parts))
        texts.sort()
        joined = "".join(texts)
        return [name + joined] if joined else []


def _is_mapping(value: object) -> TypeGuard[Mapping[Any, Any]]:
    """``isinstance(value, Mapping)``, quick for the usual ``dict``."""
    return type(value) is dict or isinstance(value, Mapping)


def _text(value: object) -> str:
    """The lexical form of a JSON scalar, stripped; ``null`` is empty."""
    if isinstance(value, str):
        return value.strip()
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float):
        return repr(value)
    return str(value).strip()


def compute_prehash(
    event: Mapping[str, Any],
    *,
    normalise: Normaliser,
    ignore_fields: Collection[str] = (),
) -> str:
    """The pre-hash string of ``event`` with an explicit identifier normaliser.

    ``ignore_fields`` names top-level fields to leave out, as expanded names
    (``{https://ns.example.com/epcis/}captureID``); the standard leaves none out beyond
    ``eventID``, ``recordTime`` and ``errorDeclaration``, this is for repositories' private fields.
    """
    writer = _Writer(_LAST_CONTEXT.prefixes(event.get("@context")), normalise)
    parts = ["eventType=" + _text(event.get("type"))]
    leftovers: list[str] = []
    found: list[tuple[int, Any]] = []
    for key, value in event.items():
        position = _EVENT_POSITIONS.get(key)
        if position is not None:
            found.append((position, value))
            continue
        if key in _IGNORED_TOP_LEVEL:
            continue
        expanded = writer.key(key)
        if expanded == _RDFS_COMMENT or expanded in ignore_fields:
            continue
        leftovers.extend(writer.generic(expanded, value))
    found.sort(key=_first)
    for position, value in found:
        spec = _EVENT_ORDER[position]
        texts, rest = writer.field(spec, value)
        texts.sort()
        parts.extend(texts)
        if rest is not None:
            leftovers.extend(writer.generic(spec.name, rest))
    leftovers.sort()
    parts.extend(leftovers)
    return "".join(parts)


def hash_id(prehash_string: str) -> str:
    """The ``ni:`` URI (RFC 6920) naming the SHA-256 of a pre-hash string."""
    digest = hashlib.sha256(prehash_string.encode("utf-8")).hexdigest()
    return f"ni:///{HASH_ALGORITHM};{digest}?ver={CBV_VERSION}"


def prehash(event_json: Mapping[str, Any]) -> str:
    """The CBV 2.0 pre-hash string of one event in its JSON shape (``@context`` inside)."""
    return compute_prehash(event_json, normalise=epc.normalise)


def event_hash(event_json: Mapping[str, Any]) -> str:
    """The CBV 2.0 Event Hash ID of one event in its JSON shape (``@context`` inside)."""
    return hash_id(prehash(event_json))
