"""The EPCIS XML binding (1.2 and 2.0), read into the JSON / JSON-LD shape of EPCIS 2.0.

:func:`document_from_xml` turns an ``EPCISDocument`` or ``EPCISQueryDocument`` into the dict its
JSON-LD form would be, so that validation, storage and the event hash see one shape:

* standard fields become JSON fields (``<epcList><epc>…`` → ``"epcList": […]``, sensor
  attributes → typed JSON values, ``<bizTransaction type="…">`` → ``{"type", "bizTransaction"}``);
* CBV and GS1 vocabulary values in URN or Web URI form become the bare terms of the JSON binding;
* EPCIS 1.2's ``<extension>`` / ``<baseExtension>`` wrappers are dissolved into their parents;
* user extensions (namespaced elements and attributes) become ``prefix:local`` keys, with the
  prefix declared in the document's ``@context`` (renamed where it would clash).

Parsing is safe: no DTDs, no entity expansion, no network access.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from lxml import etree  # type: ignore[import-untyped]

from ledger.events.errors import EventValidationError
from ledger.events.vocabulary import STANDARD_PREFIXES, VocabularyKind, term_of

EPCIS_CONTEXT_URL: Final = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
EPCIS_NAMESPACES: Final = frozenset({"urn:epcglobal:epcis:xsd:2", "urn:epcglobal:epcis:xsd:1"})
QUERY_NAMESPACES: Final = frozenset(
    {"urn:epcglobal:epcis-query:xsd:2", "urn:epcglobal:epcis-query:xsd:1"}
)
EVENT_TYPES: Final = frozenset(
    {
        "ObjectEvent",
        "AggregationEvent",
        "TransactionEvent",
        "TransformationEvent",
        "AssociationEvent",
    }
)
_WRAPPERS: Final = frozenset({"extension", "baseExtension"})
_EPC_LISTS: Final = frozenset({"epcList", "childEPCs", "inputEPCList", "outputEPCList"})
_QUANTITY_LISTS: Final = frozenset(
    {"quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList"}
)
_TYPED_LISTS: Final[dict[str, tuple[str, VocabularyKind]]] = {
    "bizTransactionList": ("bizTransaction", "bizTransactionType"),
    "sourceList": ("source", "sourceDestType"),
    "destinationList": ("destination", "sourceDestType"),
}
_VOCABULARY_FIELDS: Final[dict[str, VocabularyKind]] = {
    "bizStep": "bizStep",
    "disposition": "disposition",
}
_SENSOR_NUMBERS: Final = frozenset(
    {"value", "minValue", "maxValue", "meanValue", "sDev", "percRank", "percValue"}
)
_SENSOR_VOCABULARY: Final[dict[str, VocabularyKind]] = {
    "type": "measurementType",
    "exception": "sensorAlertType",
    "component": "component",
}
_XSI: Final = "http://www.w3.org/2001/XMLSchema-instance"


def _error(reason: str) -> EventValidationError:
    return EventValidationError(reason, field="$")


class _Prefixes:
    """Assigns each XML namespace one JSON-LD prefix, keeping the document's where possible."""

    def __init__(self) -> None:
        self._by_namespace: dict[str, str] = {}
        self._taken: dict[str, str] = {}

    def prefix(self, namespace: str, hint: str | None) -> str:
        """The prefix standing for ``namespace`` (declared on first use)."""
        known = self._by_namespace.get(namespace)
        if known is not None:
            return known
        base = hint or "ns"
        candidate = base
        counter = 0
        while not self._free(candidate, namespace):
            counter += 1
            candidate = f"{base}{counter}"
        self._by_namespace[namespace] = candidate
        self._taken[candidate] = namespace
        return candidate

    def _free(self, prefix: str, namespace: str) -> bool:
        if prefix in self._taken:
            return False
        standard = STANDARD_PREFIXES.get(prefix)
        return standard is None or standard == namespace

    def context(self) -> list[Any]:
        """The ``@context`` of the converted document."""
        declared = {prefix: namespace for namespace, prefix in self._by_namespace.items()}
        return [EPCIS_CONTEXT_URL, declared] if declared else [EPCIS_CONTEXT_URL]


class _Converter:
    """Converts one XML document; owns the prefix assignment."""

    def __init__(self) -> None:
        self.prefixes = _Prefixes()

    # -- names and plain values ---------------------------------------------------------------

    def key(self, element_or_name: etree._Element | str, prefix_hint: str | None = None) -> str:
        """The JSON key for an element or attribute name (``prefix:local`` when namespaced)."""
        if isinstance(element_or_name, str):
            qname = etree.QName(element_or_name)
            hint = prefix_hint
        else:
            qname = etree.QName(element_or_name)
            hint = element_or_name.prefix
        if qname.namespace is None:
            return str(qname.localname)
        return f"{self.prefixes.prefix(qname.namespace, hint)}:{qname.localname}"

    def attribute_key(self, element: etree._Element, name: str) -> str:
        """The JSON key of attribute ``name`` of ``element``."""
        namespace = etree.QName(name).namespace
        hint = None
        if namespace is not None:
            for prefix, uri in element.nsmap.items():
                if uri == namespace and prefix is not None:
                    hint = prefix
                    break
        return self.key(name, hint)

    # -- user extensions ----------------------------------------------------------------------

    def generic(self, element: etree._Element) -> Any:
        """An element of free form: its text, or an object of its attributes and children."""
        fields: dict[str, Any] = {}
        for name, value in element.attrib.items():
            if etree.QName(name).namespace == _XSI:
                continue
            fields[self.attribute_key(element, name)] = value
        for child in _elements(element):
            _add(fields, self.key(child), self.generic(child))
        text = (element.text or "").strip()
        if not fields:
            return text
        if text:
            fields["#text"] = text
        return fields

    # -- the standard structure ---------------------------------------------------------------

    def event(self, element: etree._Element) -> dict[str, Any]:
        """One event element in its JSON shape."""
        qname = etree.QName(element)
        event: dict[str, Any] = {
            "type": qname.localname if qname.namespace is None else self.key(element)
        }
        for child in _standard_children(element):
            name = etree.QName(child)
            if name.namespace is not None:
                _add(event, self.key(child), self.generic(child))
                continue
            local = name.localname
            if local == "certificationInfo":
                _add(event, local, _text(child))
            elif local in event:
                _add(event, local, self.field(local, child))
            else:
                event[local] = self.field(local, child)
        return event

    def field(self, local: str, element: etree._Element) -> Any:
        """The JSON value of one standard (un-namespaced) event field."""
        if local in _EPC_LISTS:
            return [_text(epc) for epc in _standard_children(element)]
        if local in _QUANTITY_LISTS:
            return [self.quantity(item) for item in _standard_children(element)]
        if local in _TYPED_LISTS:
            return [self.typed_entry(local, item) for item in _standard_children(element)]
        if local in _VOCABULARY_FIELDS:
            return _short(_VOCABULARY_FIELDS[local], _text(element))
        if local in ("readPoint", "bizLocation"):
            return self.structure(element)
        if local == "persistentDisposition":
            return self.persistent_disposition(element)
        if local == "sensorElementList":
            return [self.sensor_element(item) for item in _standard_children(element)]
        if local == "errorDeclaration":
            return self.error_declaration(element)
        if local == "ilmd":
            return self.structure(element)
        if _has_elements(element) or element.attrib:
            return self.generic(element)
        return _text(element)

    def structure(self, element: etree._Element) -> dict[str, Any]:
        """A standard object whose children are plain values or user extensions."""
        fields: dict[str, Any] = {}
        for child in _standard_children(element):
            if _has_elements(child) or child.attrib:
                value: Any = self.generic(child)
            else:
                value = _text(child)
            _add(fields, self.key(child), value)
        return fields

    def quantity(self, element: etree._Element) -> Any:
        """A ``quantityElement``: ``quantity`` becomes a JSON number."""
        fields = self.structure(element)
        quantity = fields.get("quantity")
        if isinstance(quantity, str):
            fields["quantity"] = _number(quantity)
        return fields

    def typed_entry(self, local: str, element: etree._Element) -> dict[str, Any]:
        """A ``bizTransaction`` / ``source`` / ``destination`` with its ``type`` attribute."""
        value_key, vocabulary = _TYPED_LISTS[local]
        entry: dict[str, Any] = {}
        for name, value in element.attrib.items():
            key = self.attribute_key(element, name)
            entry[key] = _short(vocabulary, value.strip()) if key == "type" else value
        entry[value_key] = _text(element)
        for child in _elements(element):
            _add(entry, self.key(child), self.generic(child))
        return entry

    def persistent_disposition(self, element: etree._Element) -> dict[str, Any]:
        """``persistentDisposition`` with its ``set`` and ``unset`` lists."""
        fields: dict[str, Any] = {}
        for child in _standard_children(element):
            key = self.key(child)
            if key in ("set", "unset"):
                fields.setdefault(key, []).append(_short("disposition", _text(child)))
            else:
                _add(fields, key, self.generic(child))
        return fields

    def sensor_element(self, element: etree._Element) -> dict[str, Any]:
        """One ``sensorElement``: metadata and report attributes become typed JSON values."""
        fields: dict[str, Any] = {}
        for child in _standard_children(element):
            key = self.key(child)
            if key == "sensorMetadata":
                fields[key] = self.sensor_attributes(child)
            elif key == "sensorReport":
                fields.setdefault(key, []).append(self.sensor_attributes(child))
            else:
                _add(fields, key, self.generic(child))
        return fields

    def sensor_attributes(self, element: etree._Element) -> dict[str, Any]:
        """Attributes (and any child elements) of ``sensorMetadata`` / ``sensorReport``."""
        fields: dict[str, Any] = {}
        for name, raw in element.attrib.items():
            key = self.attribute_key(element, name)
            value: Any = raw
            if key in _SENSOR_NUMBERS:
                value = _number(raw)
            elif key == "booleanValue":
                value = {"true": True, "1": True, "false": False, "0": False}.get(raw.strip(), raw)
            elif key in _SENSOR_VOCABULARY:
                value = _short(_SENSOR_VOCABULARY[key], raw.strip())
            fields[key] = value
        for child in _standard_children(element):
            _add(fields, self.key(child), self.generic(child))
        return fields

    def error_declaration(self, element: etree._Element) -> dict[str, Any]:
        """``errorDeclaration`` with its reason and corrective event IDs."""
        fields: dict[str, Any] = {}
        for child in _standard_children(element):
            key = self.key(child)
            if key == "reason":
                fields[key] = _short("errorReason", _text(child))
            elif key == "correctiveEventIDs":
                fields[key] = [_text(item) for item in _standard_children(child)]
            elif _has_elements(child) or child.attrib:
                _add(fields, key, self.generic(child))
            else:
                _add(fields, key, _text(child))
        return fields

    def events(self, event_list: etree._Element) -> list[dict[str, Any]]:
        """Every event of an ``EventList``, in document order."""
        return [self.event(child) for child in _standard_children(event_list)]


def _elements(element: etree._Element) -> Iterator[etree._Element]:
    """Child elements (no comments or processing instructions)."""
    for child in element:
        if isinstance(child.tag, str):
            yield child


def _standard_children(element: etree._Element) -> Iterator[etree._Element]:
    """Child elements, with EPCIS 1.x ``extension`` / ``baseExtension`` wrappers dissolved."""
    for child in _elements(element):
        qname = etree.QName(child)
        if qname.namespace is None and qname.localname in _WRAPPERS:
            yield from _standard_children(child)
        else:
            yield child


def _has_elements(element: etree._Element) -> bool:
    return any(True for _ in _elements(element))


def _text(element: etree._Element) -> str:
    return (element.text or "").strip()


def _add(fields: dict[str, Any], key: str, value: Any) -> None:
    """Set ``key``; a repeated key collects its values in a list."""
    if key not in fields:
        fields[key] = value
    elif isinstance(fields[key], list):
        fields[key].append(value)
    else:
        fields[key] = [fields[key], value]


def _short(kind: VocabularyKind, value: str) -> str:
    """The bare JSON term of a standard vocabulary value; other values unchanged."""
    term = term_of(kind, value)
    return value if term is None else term


def _number(text: str) -> Any:
    """An ``xsd:decimal`` / ``xsd:double`` as a JSON number; unparsable text stays a string."""
    stripped = text.strip()
    try:
        return int(stripped)
    except ValueError:
        pass
    try:
        number = float(stripped)
    except ValueError:
        return text
    return number if number == number and abs(number) != float("inf") else text


def _local(element: etree._Element) -> tuple[str | None, str]:
    qname = etree.QName(element)
    return qname.namespace, qname.localname


def _child(element: etree._Element, local: str) -> etree._Element | None:
    for child in _standard_children(element):
        if _local(child)[1] == local:
            return child
    return None


def document_from_xml(body: bytes) -> dict[str, Any]:
    """The JSON-LD form of an EPCIS XML document (EPCIS 1.2 or 2.0).

    Raises :class:`EventValidationError` (field ``$``) when ``body`` is not well-formed XML, has
    a DTD, or is not an ``EPCISDocument`` / ``EPCISQueryDocument``.
    """
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    try:
        tree = etree.fromstring(body, parser=parser).getroottree()
    except etree.XMLSyntaxError as error:
        raise _error(f"not well-formed XML: {error}") from None
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise _error("XML documents with a DTD are not accepted")
    root = tree.getroot()
    namespace, local = _local(root)
    converter = _Converter()
    document: dict[str, Any] = {}
    if local == "EPCISDocument" and namespace in EPCIS_NAMESPACES:
        document["type"] = "EPCISDocument"
    elif local == "EPCISQueryDocument" and namespace in QUERY_NAMESPACES:
        document["type"] = "EPCISQueryDocument"
    else:
        raise _error(
            f"the XML root element is {{{namespace}}}{local}, "
            "expected an EPCIS 1.2/2.0 EPCISDocument or EPCISQueryDocument"
        )
    for name in ("schemaVersion", "creationDate"):
        if name in root.attrib:
            document[name] = root.attrib[name]
    body_element = _child(root, "EPCISBody")
    if body_element is None:
        raise _error(f"{local} has no EPCISBody")
    if document["type"] == "EPCISDocument":
        event_list = _child(body_element, "EventList")
        events = converter.events(event_list) if event_list is not None else []
        document["epcisBody"] = {"eventList": events}
    else:
        results = _child(body_element, "QueryResults")
        if results is None:
            raise _error("the EPCISBody of an EPCISQueryDocument has no QueryResults")
        query: dict[str, Any] = {}
        for name in ("queryName", "subscriptionID"):
            found = _child(results, name)
            if found is not None:
                query[name] = _text(found)
        results_body = _child(results, "resultsBody")
        if results_body is None:
            raise _error("QueryResults has no resultsBody")
        event_list = _child(results_body, "EventList")
        events = converter.events(event_list) if event_list is not None else []
        query["resultsBody"] = {"eventList": events}
        document["epcisBody"] = {"queryResults": query}
    for child in _elements(root):
        child_namespace, _ = _local(child)
        if child_namespace is not None and child_namespace not in EPCIS_NAMESPACES:
            document[converter.key(child)] = converter.generic(child)
    return {"@context": converter.prefixes.context(), **document}
