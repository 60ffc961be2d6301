"""The EPCIS XML binding (1.2 and 2.0), read into the JSON / JSON-LD shape of EPCIS 2.0.

:func:`document_from_xml` turns an ``EPCISDocument`` or ``EPCISQueryDocument`` into the dict its
JSON-LD form would be, so that validation, storage and the event hash see one shape:

* standard fields become JSON fields (``<epcList><epc>…`` → ``"epcList": […]``, sensor
  attributes → typed JSON values, ``<bizTransaction type="…">`` → ``{"type", "bizTransaction"}``);
* CBV and GS1 vocabulary values in URN or Web URI form become the bare terms of the JSON binding;
* EPCIS 1.2's ``<extension>`` / ``<baseExtension>`` wrappers are dissolved into their parents;
* user extensions (namespaced elements and attributes) become ``prefix:local`` keys, with the
  prefix declared in the document's ``@context`` (renamed where it would clash).

Parsing is safe: no entity expansion, no network access, no DTD. The only ``<!DOCTYPE …>``
accepted is a bare one (a name, no internal subset, no external identifier), as in GS1's own
examples (``<!DOCTYPE project>``); any other is refused before lxml reads it.

A document may also be a single event (``<ObjectEvent>…</ObjectEvent>`` as the root, without a
namespace, like the events of an ``EventList``), as the JSON binding allows a single event.
"""

from __future__ import annotations

import re
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
WRAPPERS: Final = frozenset({"extension", "baseExtension"})
_EPC_LISTS: Final = frozenset({"epcList", "childEPCs", "inputEPCList", "outputEPCList"})
_QUANTITY_LISTS: Final = frozenset(
    {"quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList"}
)
_TYPED_LISTS: Final[dict[str, tuple[str, VocabularyKind]]] = {
    "bizTransactionList": ("bizTransaction", "bizTransactionType"),
    "sourceList": ("source", "sourceDestType"),
    "destinationList": ("destination", "sourceDestType"),
}
#: Standard elements whose child elements are the items of one JSON array.
LIST_FIELDS: Final = frozenset(
    {*_EPC_LISTS, *_QUANTITY_LISTS, *_TYPED_LISTS, "sensorElementList", "correctiveEventIDs"}
)
#: Standard elements that repeat in their parent and become one JSON array there.
REPEATED_FIELDS: Final = frozenset({"sensorReport", "set", "unset"})
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
_XSI_NIL: Final = f"{{{_XSI}}}nil"
#: Standard fields the EPCIS 2.0 XSD declares ``nillable``: ``xsi:nil="true"`` means absent.
NILLABLE_FIELDS: Final = frozenset({"quantity"})
#: What may come before a ``<!DOCTYPE``: white space, the XML declaration, PIs, comments.
_PROLOG_ITEM: Final = re.compile(r"\s+|<\?.*?\?>|<!--.*?-->", re.DOTALL)
_DOCTYPE: Final = re.compile(r"<!DOCTYPE\s+(?P<name>[^\s\[>]+)\s*(?P<next>\S?)")
_EXTERNAL_ID: Final = re.compile(r"(SYSTEM|PUBLIC)\b")
_NO_DTD: Final = "XML documents with a DTD are not accepted (a bare <!DOCTYPE name> is)"


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
        for child in standard_children(element):
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
            return [_text(epc) for epc in standard_children(element)]
        if local in _QUANTITY_LISTS:
            return [self.quantity(item) for item in standard_children(element)]
        if local in _TYPED_LISTS:
            return [self.typed_entry(local, item) for item in standard_children(element)]
        if local in _VOCABULARY_FIELDS:
            return _short(_VOCABULARY_FIELDS[local], _text(element))
        if local in ("readPoint", "bizLocation"):
            return self.structure(element)
        if local == "persistentDisposition":
            return self.persistent_disposition(element)
        if local == "sensorElementList":
            return [self.sensor_element(item) for item in standard_children(element)]
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
        for child in standard_children(element):
            if is_nil(child):
                continue
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
        for child in standard_children(element):
            key = self.key(child)
            if key in ("set", "unset"):
                fields.setdefault(key, []).append(_short("disposition", _text(child)))
            else:
                _add(fields, key, self.generic(child))
        return fields

    def sensor_element(self, element: etree._Element) -> dict[str, Any]:
        """One ``sensorElement``: metadata and report attributes become typed JSON values."""
        fields: dict[str, Any] = {}
        for child in standard_children(element):
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
        for child in standard_children(element):
            _add(fields, self.key(child), self.generic(child))
        return fields

    def error_declaration(self, element: etree._Element) -> dict[str, Any]:
        """``errorDeclaration`` with its reason and corrective event IDs."""
        fields: dict[str, Any] = {}
        for child in standard_children(element):
            key = self.key(child)
            if key == "reason":
                fields[key] = _short("errorReason", _text(child))
            elif key == "correctiveEventIDs":
                fields[key] = [_text(item) for item in standard_children(child)]
            elif _has_elements(child) or child.attrib:
                _add(fields, key, self.generic(child))
            else:
                _add(fields, key, _text(child))
        return fields

    def events(self, event_list: etree._Element) -> list[dict[str, Any]]:
        """Every event of an ``EventList``, in document order."""
        return [self.event(child) for child in standard_children(event_list)]


def _elements(element: etree._Element) -> Iterator[etree._Element]:
    """Child elements (no comments or processing instructions)."""
    for child in element:
        if isinstance(child.tag, str):
            yield child


def standard_children(element: etree._Element) -> Iterator[etree._Element]:
    """Child elements, with EPCIS 1.x ``extension`` / ``baseExtension`` wrappers dissolved."""
    for child in _elements(element):
        qname = etree.QName(child)
        if qname.namespace is None and qname.localname in WRAPPERS:
            yield from standard_children(child)
        else:
            yield child


def is_nil(element: etree._Element) -> bool:
    """Whether ``element`` is a standard nillable field with ``xsi:nil="true"`` and no content
    (the XSD's way of saying the value is absent, so it is left out of the JSON)."""
    qname = etree.QName(element)
    return (
        qname.namespace is None
        and qname.localname in NILLABLE_FIELDS
        and element.get(_XSI_NIL, "").strip() in ("true", "1")
        and not _text(element)
        and not _has_elements(element)
    )


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
    for child in standard_children(element):
        if _local(child)[1] == local:
            return child
    return None


def _prolog_text(body: bytes, limit: int | None) -> str:
    """The start of ``body`` (``limit`` bytes, or all) as text good enough to read its prolog."""
    head = body[:limit]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return head.decode("utf-16", errors="replace")
    if head.startswith(b"<\x00"):
        return head.decode("utf-16-le", errors="replace")
    if head.startswith(b"\x00<"):
        return head.decode("utf-16-be", errors="replace")
    return head.decode("latin-1").removeprefix("\xef\xbb\xbf")


def doctype_problem(body: bytes, *, limit: int | None = 4096) -> str | None:
    """Why the ``<!DOCTYPE …>`` of ``body`` is refused; ``None`` when there is none or it is a
    bare one (``<!DOCTYPE project>``: a name only). Read from the raw bytes, before any parser
    sees an entity declaration (lxml would report a billion-laughs document as "entity
    amplification", not as what it is). The first ``limit`` bytes are read, all of them when
    the prolog (comments, PIs) runs beyond."""
    text = _prolog_text(body, limit)
    position = 0
    while (item := _PROLOG_ITEM.match(text, position)) is not None:
        position = item.end()
    doctype = _DOCTYPE.match(text, position)
    if doctype is None:
        cut = limit is not None and len(body) > limit and text.startswith(("<!", "<?"), position)
        if cut:
            return doctype_problem(body, limit=None)
        if text.startswith("<!DOCTYPE", position):
            return f"the <!DOCTYPE> declaration has no name; {_NO_DTD}"
        return None
    name, following = doctype["name"], doctype["next"]
    if following == ">":
        return None
    rest = text[doctype.start("next") :]
    if following == "[":
        if "<!ENTITY" in rest:
            return (
                f"the <!DOCTYPE {name}> declares entities (<!ENTITY …> in an internal DTD "
                f"subset); {_NO_DTD}"
            )
        return f"the <!DOCTYPE {name}> has an internal DTD subset ([…]); {_NO_DTD}"
    external = _EXTERNAL_ID.match(rest)
    if external is not None:
        return f"the <!DOCTYPE {name}> names an external DTD ({external[1]} …); {_NO_DTD}"
    return f"the <!DOCTYPE {name}> declaration is not understood; {_NO_DTD}"


_PARSER_OPTIONS: Final[dict[str, bool]] = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "dtd_validation": False,
    "huge_tree": False,
    "remove_comments": True,
    "remove_pis": True,
}


def parse_xml(body: bytes) -> etree._ElementTree:
    """``body`` parsed safely (see the module docstring).

    Raises :class:`EventValidationError` (field ``$``) when ``body`` has a DTD other than a bare
    ``<!DOCTYPE name>`` or is not well-formed XML.
    """
    problem = doctype_problem(body)
    if problem is not None:
        raise _error(problem)
    try:
        tree = etree.fromstring(body, parser=etree.XMLParser(**_PARSER_OPTIONS)).getroottree()
    except etree.XMLSyntaxError as error:
        raise _error(f"not well-formed XML: {error}") from None
    docinfo = tree.docinfo
    dtd = docinfo.internalDTD
    if docinfo.system_url or docinfo.public_id or (dtd is not None and any(dtd.iterentities())):
        # Defence in depth: doctype_problem has refused these already.
        raise _error(_NO_DTD)
    return tree


def is_single_event(element: etree._Element) -> bool:
    """Whether ``element`` (a root) is a single event: ``ObjectEvent`` … without a namespace."""
    namespace, local = _local(element)
    return namespace is None and local in EVENT_TYPES


def event_list_of(root: etree._Element) -> etree._Element | None:
    """The ``EventList`` element of an EPCIS document or query document root, if any."""
    holder = _child(root, "EPCISBody")
    if holder is not None and _local(root)[1] == "EPCISQueryDocument":
        results = _child(holder, "QueryResults")
        holder = None if results is None else _child(results, "resultsBody")
    return None if holder is None else _child(holder, "EventList")


def event_elements(event_list: etree._Element) -> list[etree._Element]:
    """The events of an ``EventList`` in the order of the JSON ``eventList``."""
    return list(standard_children(event_list))


def document_from_xml(body: bytes) -> dict[str, Any]:
    """The JSON-LD form of an EPCIS XML document (EPCIS 1.2 or 2.0) or single event.

    Raises :class:`EventValidationError` (field ``$``) when ``body`` is not well-formed XML, has
    a DTD, or is not an ``EPCISDocument`` / ``EPCISQueryDocument`` / single event.
    """
    return convert(parse_xml(body))


def convert(tree: etree._ElementTree) -> dict[str, Any]:
    """The JSON-LD form of a parsed EPCIS XML document (see :func:`document_from_xml`)."""
    root = tree.getroot()
    namespace, local = _local(root)
    converter = _Converter()
    # Prefixes the document declares are in the @context even if only values use them
    # (type="example:someSensorProperty"): the event hash expands such compact IRIs.
    for prefix, uri in root.nsmap.items():
        if prefix is not None and uri not in EPCIS_NAMESPACES | QUERY_NAMESPACES | {_XSI}:
            converter.prefixes.prefix(uri, prefix)
    if is_single_event(root):
        event = converter.event(root)
        return {"@context": converter.prefixes.context(), **event}
    document: dict[str, Any] = {}
    if local == "EPCISDocument" and namespace in EPCIS_NAMESPACES:
        document["type"] = "EPCISDocument"
    elif local == "EPCISQueryDocument" and namespace in QUERY_NAMESPACES:
        document["type"] = "EPCISQueryDocument"
    else:
        raise _error(
            f"the XML root element is {{{namespace}}}{local}, "
            "expected an EPCIS 1.2/2.0 EPCISDocument or EPCISQueryDocument, or a single event "
            "(ObjectEvent, AggregationEvent, TransactionEvent, TransformationEvent or "
            "AssociationEvent, without a namespace)"
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
