"""Capture: turn the bytes of an EPCIS request body into validated, hashed events.

:func:`parse_document` is the one entry point for capture. It accepts an ``EPCISDocument``, an
``EPCISQueryDocument`` or a single event, in the JSON / JSON-LD binding (``application/json``,
``application/ld+json``) or the XML binding (``application/xml``, ``text/xml``, EPCIS 1.2 or
2.0), validates all of it and returns one :class:`~ledger.events.model.CapturedEvent` per event,
or raises one :class:`~ledger.events.errors.DocumentValidationError` listing every problem.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from ledger.events.errors import DocumentValidationError, EventValidationError
from ledger.events.model import CapturedEvent, captured_event
from ledger.events.validation import nesting_error_in_json, validate
from ledger.events.xml_binding import convert, parse_xml
from ledger.events.xml_schema import DEFAULT_XSD_DIR, schema_problems

JSON_MEDIA_TYPES: Final = frozenset({"application/json", "application/ld+json"})
XML_MEDIA_TYPES: Final = frozenset({"application/xml", "text/xml"})


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def _reject(reason: str, field: str = "$") -> DocumentValidationError:
    return DocumentValidationError([EventValidationError(reason, field=field)])


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"the key {key!r} appears twice in one object")
        result[key] = value
    return result


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"the number {text} is too large")
    return number


def _constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def parse_json(body: bytes) -> Any:
    """Strict JSON: UTF-8, no duplicate keys, no NaN/Infinity, no numbers beyond float range."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise _reject(f"the body is not UTF-8: {error}") from None
    too_deep = nesting_error_in_json(text)  # before json.loads, which recurses per level
    if too_deep is not None:
        raise DocumentValidationError([too_deep])
    try:
        return json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_float=_finite,
            parse_constant=_constant,
        )
    except ValueError as error:
        raise _reject(f"not valid JSON: {error}") from None


def _event_list(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    body = document["epcisBody"]
    if document["type"] == "EPCISQueryDocument":
        body = body["queryResults"]["resultsBody"]
    events: list[dict[str, Any]] = body["eventList"]
    return events


def _merged_context(document_context: Any, event: Mapping[str, Any]) -> Any:
    """The document's ``@context`` with the event's own entries (if any) after it."""
    if "@context" not in event:
        return document_context
    outer = document_context if isinstance(document_context, list) else [document_context]
    inner = event["@context"] if isinstance(event["@context"], list) else [event["@context"]]
    return [*outer, *(entry for entry in inner if entry not in outer)]


def events_of(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The events of a *validated* document (or the single event), ``@context`` merged in."""
    if document.get("type") not in ("EPCISDocument", "EPCISQueryDocument"):
        return [dict(document)]
    context = document["@context"]
    merged = []
    for event in _event_list(document):
        rest = {key: value for key, value in event.items() if key != "@context"}
        merged.append({"@context": _merged_context(context, event), **rest})
    return merged


#: A JSON Schema rule the EPCIS 2.0 XSD does not have: in XML a ``sensorReport`` may leave out
#: its ``type`` (an alert-only report, ``exception`` alone), so XML follows its own schema.
_JSON_ONLY_RULES: Final = ((re.compile(r".*\.sensorReport\[\d+\]\.type"), "this required field"),)


def _xml_problems(
    ours: list[EventValidationError], xsd: list[EventValidationError]
) -> list[EventValidationError]:
    """Our rules' problems of an XML document (less the JSON Schema's own rules that the XSD
    does not have), then the XSD's at fields ours did not already name."""
    kept = [
        error
        for error in ours
        if not any(
            path.fullmatch(error.field or "") and error.reason.startswith(reason)
            for path, reason in _JSON_ONLY_RULES
        )
    ]
    named = {error.field for error in kept}
    for error in xsd:
        if error.field not in named:
            kept.append(error)
            named.add(error.field)
    return kept


def parse_document(
    body: bytes, content_type: str, *, xsd_dir: Path | None = DEFAULT_XSD_DIR
) -> list[CapturedEvent]:
    """Validate and read every event of an EPCIS capture body, all or nothing.

    ``content_type`` is the request's media type (parameters such as ``charset`` are ignored).
    XML is also checked against GS1's EPCIS 2.0 XSD in ``xsd_dir`` (see
    :mod:`ledger.events.xml_schema`; ``None``, or a folder without it: our rules only).
    Raises :class:`DocumentValidationError` (an ``InvalidInputError``) with one
    :class:`EventValidationError` per problem, each naming its JSON path.
    """
    media_type = _media_type(content_type)
    document: Any
    if media_type in JSON_MEDIA_TYPES or media_type.endswith("+json"):
        document = parse_json(body)
    elif media_type in XML_MEDIA_TYPES or media_type.endswith("+xml"):
        try:
            tree = parse_xml(body)
            document = convert(tree)
        except EventValidationError as error:
            raise DocumentValidationError([error]) from None
        errors = _xml_problems(validate(document), schema_problems(tree, xsd_dir))
        if errors:
            raise DocumentValidationError(errors)
        return [captured_event(event) for event in events_of(document)]
    else:
        raise _reject(
            f"unsupported content type {content_type!r}; send application/json, "
            "application/ld+json or application/xml",
            field="Content-Type",
        )
    errors = validate(document)
    if errors:
        raise DocumentValidationError(errors)
    return [captured_event(event) for event in events_of(document)]
