"""EPCIS 2.0 XML checked against GS1's XML Schema (``EPCglobal-epcis-2_0.xsd``).

The XSD is not part of this repository: :func:`load_schema` reads it from a folder (by default
``<repo>/../shared/conformance/epcis-2.0/XSD``), once per folder, and answers ``None`` when it is
absent, in which case XML is checked by our own rules only. :func:`schema_problems` turns every
XSD error into an :class:`EventValidationError` naming the JSON path of the element (as our
other errors do: ``epcisBody.eventList[1].bizStep``, ``….sensorReport[0].value`` for an
attribute).

What is checked against the XSD:

* an EPCIS 2.0 ``EPCISDocument`` (namespace ``urn:epcglobal:epcis:xsd:2``): the whole document;
* the events of an EPCIS 2.0 ``EPCISQueryDocument`` and a single event (root ``ObjectEvent``…):
  each inside a synthetic 2.0 ``EPCISDocument``, since the XSD declares no global event element
  (and GS1's examples write ``QueryResults`` unqualified, which the query XSD does not allow);
* EPCIS 1.2 documents (``urn:epcglobal:epcis:xsd:1``) are not checked against the 2.0 XSD.
"""

from __future__ import annotations

import copy
import logging
import re
import threading
from functools import lru_cache
from pathlib import Path
from typing import Final

from lxml import etree  # type: ignore[import-untyped]

from ledger.events.errors import EventValidationError
from ledger.events.xml_binding import (
    LIST_FIELDS,
    REPEATED_FIELDS,
    WRAPPERS,
    event_elements,
    event_list_of,
    is_single_event,
    standard_children,
)

#: ``<repo>/../shared/conformance/epcis-2.0/XSD``: where GS1's conformance data lives beside a
#: checkout.
DEFAULT_XSD_DIR: Final = (
    Path(__file__).resolve().parents[2].parent / "shared" / "conformance" / "epcis-2.0" / "XSD"
)
SCHEMA_FILE: Final = "EPCglobal-epcis-2_0.xsd"
EPCIS_2: Final = "urn:epcglobal:epcis:xsd:2"
QUERY_2: Final = "urn:epcglobal:epcis-query:xsd:2"
_DOCUMENT_FIELDS: Final = {
    "EPCISHeader": "epcisHeader",
    "EPCISBody": "epcisBody",
    "EventList": "eventList",
}
_ATTRIBUTE: Final = re.compile(r"Element '[^']*', attribute '(?:\{[^}]*\})?([^']+)'")
_MISSING_ATTRIBUTE: Final = re.compile(r"The attribute '(?:\{[^}]*\})?([^']+)' is required")
_log = logging.getLogger(__name__)


class EpcisSchema:
    """GS1's EPCIS 2.0 XSD, loaded. An lxml ``XMLSchema`` keeps the error log of its last
    validation, so validations take turns (a lock) to read their own errors."""

    def __init__(self, path: Path) -> None:
        parser = etree.XMLParser(no_network=True, resolve_entities=False)
        self.path = path
        self._schema = etree.XMLSchema(etree.parse(str(path), parser))
        self._lock = threading.Lock()

    def errors(self, tree: etree._ElementTree) -> list[tuple[str | None, str]]:
        """The (element path, message) of every error of ``tree``; empty when it is valid."""
        with self._lock:
            if self._schema.validate(tree):
                return []
            return [(entry.path, entry.message) for entry in self._schema.error_log]


@lru_cache(maxsize=8)
def load_schema(xsd_dir: Path = DEFAULT_XSD_DIR) -> EpcisSchema | None:
    """The EPCIS 2.0 XSD of ``xsd_dir`` (loaded on first use, then cached), or ``None`` when
    the folder has no ``EPCglobal-epcis-2_0.xsd`` (logged once)."""
    path = xsd_dir / SCHEMA_FILE
    if not path.is_file():
        _log.warning("EPCIS 2.0 XSD not found at %s: XML is checked by our own rules only", path)
        return None
    return EpcisSchema(path)


def _synthetic(events: list[etree._Element]) -> tuple[etree._ElementTree, list[etree._Element]]:
    """A 2.0 ``EPCISDocument`` holding copies of ``events``, and the copies."""
    root = etree.Element(
        f"{{{EPCIS_2}}}EPCISDocument",
        nsmap={"epcis": EPCIS_2},
        schemaVersion="2.0",
        creationDate="2000-01-01T00:00:00Z",
    )
    event_list = etree.SubElement(etree.SubElement(root, "EPCISBody"), "EventList")
    copies = []
    for event in events:
        duplicate = copy.deepcopy(event)
        duplicate.tail = None
        event_list.append(duplicate)
        copies.append(duplicate)
    return etree.ElementTree(root), copies


def _target(
    tree: etree._ElementTree,
) -> tuple[etree._ElementTree, dict[etree._Element, str]] | None:
    """What to validate and the JSON path of each event element in it (``None``: nothing)."""
    root = tree.getroot()
    qname = etree.QName(root)
    if is_single_event(root):
        validated, copies = _synthetic([root])
        return validated, {copies[0]: ""}
    event_list = event_list_of(root)
    events = [] if event_list is None else event_elements(event_list)
    if qname.namespace == EPCIS_2 and qname.localname == "EPCISDocument":
        return tree, {event: f"epcisBody.eventList[{i}]" for i, event in enumerate(events)}
    if qname.namespace == QUERY_2 and qname.localname == "EPCISQueryDocument":
        validated, copies = _synthetic(events)
        where = "epcisBody.queryResults.resultsBody.eventList"
        return validated, {event: f"{where}[{i}]" for i, event in enumerate(copies)}
    return None


def _segment(element: etree._Element, *, last: bool) -> str:
    """The JSON path step of ``element`` below its parent ('' for a dissolved wrapper)."""
    qname = etree.QName(element)
    local = str(qname.localname)
    name = local if qname.namespace is None else f"{element.prefix or 'ns'}:{local}"
    parent = element.getparent()
    if parent is None:
        return ""
    siblings = list(standard_children(parent))
    if etree.QName(parent).localname in LIST_FIELDS and element in siblings:
        return f"[{siblings.index(element)}]"
    if qname.namespace is None and local in REPEATED_FIELDS and element in siblings:
        same = [sibling for sibling in siblings if sibling.tag == element.tag]
        return f"{name}[{same.index(element)}]"
    if qname.namespace is None and local in WRAPPERS and not last:
        return ""
    return _DOCUMENT_FIELDS.get(local, name) if qname.namespace is None else name


def _json_path(element: etree._Element, bases: dict[etree._Element, str]) -> str:
    """The JSON path of ``element``: its event's path and the steps below the event."""
    steps: list[str] = []
    node: etree._Element | None = element
    while node is not None and node not in bases:
        steps.append(_segment(node, last=node is element))
        node = node.getparent()
    path = "" if node is None else bases[node]
    for step in reversed(steps):
        if not step:
            continue
        path = f"{path}{step}" if step.startswith("[") or not path else f"{path}.{step}"
    return path


def schema_problems(
    tree: etree._ElementTree, xsd_dir: Path | None = DEFAULT_XSD_DIR
) -> list[EventValidationError]:
    """Every error GS1's EPCIS 2.0 XSD finds in ``tree``, named by JSON path (see the module
    docstring for what is checked); empty when valid, not checked, or ``xsd_dir`` is ``None``
    or holds no XSD."""
    if xsd_dir is None:
        return []
    target = _target(tree)
    if target is None:
        return []
    schema = load_schema(xsd_dir)
    if schema is None:
        return []
    validated, bases = target
    errors = schema.errors(validated)
    if not errors:
        return []
    by_path = {validated.getpath(e): e for e in validated.iter() if isinstance(e.tag, str)}
    problems = []
    for element_path, message in errors:
        element = by_path.get(element_path or "")
        field = "" if element is None else _json_path(element, bases)
        attribute = _ATTRIBUTE.match(message) or _MISSING_ATTRIBUTE.search(message)
        if attribute is not None:
            field = f"{field}.{attribute[1]}" if field else attribute[1]
        problems.append(EventValidationError(f"EPCIS 2.0 XSD: {message}", field=field or "$"))
    return problems
