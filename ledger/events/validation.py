"""Capture validation of EPCIS 2.0 documents and events in the JSON / JSON-LD binding.

The rules are those of GS1's EPCIS 2.0 JSON Schema (``EPCIS-JSON-Schema.json``, Draft 7, with
its ``uri`` and ``date-time`` formats checked), written out by hand so that capture needs neither
the schema file nor a schema engine; the test suite runs GS1's schema beside this module and
checks that both accept and reject the same documents. On top of the schema:

* every GS1 key (EPC URI or Digital Link URI) in an identifier field must be valid
  (check digits, lengths…), as :mod:`ledger.identifiers` decides;
* a user extension named ``prefix:name`` must use a prefix its ``@context`` declares inline (or
  one of the EPCIS context's own: ``cbv``, ``gs1``, ``rdfs``…), so that it can be expanded.

:func:`validate` returns every problem found (an empty list means valid), each an
:class:`~ledger.events.errors.EventValidationError` naming the JSON path of the value.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, TypeGuard

from ledger.events import epc
from ledger.events.errors import EventValidationError
from ledger.events.hashing import context_prefixes
from ledger.events.timestamps import is_timezone_offset, parse_timestamp
from ledger.events.uris import is_uri
from ledger.events.vocabulary import VOCABULARIES, VocabularyKind, json_value_problem

EVENT_TYPES: Final = (
    "ObjectEvent",
    "AggregationEvent",
    "TransactionEvent",
    "TransformationEvent",
    "AssociationEvent",
)
_COMMON_FIELDS: Final = frozenset(
    {
        "@context",
        "type",
        "eventTime",
        "recordTime",
        "eventTimeZoneOffset",
        "eventID",
        "certificationInfo",
        "errorDeclaration",
    }
)
_WHERE_FIELDS: Final = (
    "bizStep",
    "disposition",
    "readPoint",
    "bizLocation",
    "bizTransactionList",
    "sourceList",
    "destinationList",
    "sensorElementList",
)
#: Fields each event type may have beyond the common ones (EPCIS 2.0 JSON schema).
EVENT_FIELDS: Final[dict[str, frozenset[str]]] = {
    "ObjectEvent": frozenset(
        {"action", "epcList", "quantityList", "persistentDisposition", "ilmd", *_WHERE_FIELDS}
    ),
    "AggregationEvent": frozenset(
        {"parentID", "childEPCs", "childQuantityList", "action", *_WHERE_FIELDS}
    ),
    "TransactionEvent": frozenset(
        {"parentID", "epcList", "quantityList", "action", *_WHERE_FIELDS}
    ),
    "TransformationEvent": frozenset(
        {
            "inputEPCList",
            "inputQuantityList",
            "outputEPCList",
            "outputQuantityList",
            "transformationID",
            "persistentDisposition",
            "ilmd",
            *_WHERE_FIELDS,
        }
    ),
    "AssociationEvent": frozenset(
        {"parentID", "childEPCs", "childQuantityList", "action", *_WHERE_FIELDS}
    ),
}
_REQUIRED: Final[dict[str, tuple[str, ...]]] = {
    "ObjectEvent": ("action",),
    "AggregationEvent": ("action",),
    "TransactionEvent": ("bizTransactionList", "action"),
    "TransformationEvent": (),
    "AssociationEvent": ("action", "parentID"),
}
_UNIQUE_EPC_LISTS: Final = frozenset({"ObjectEvent:epcList", "inputEPCList", "outputEPCList"})
_ACTIONS: Final = ("OBSERVE", "ADD", "DELETE")
_QUANTITY_LISTS: Final = (
    "quantityList",
    "childQuantityList",
    "inputQuantityList",
    "outputQuantityList",
)
_VERSION: Final = re.compile(r"[0-9]+(?:\.[0-9]+)*")
_UOM: Final = re.compile(r"[A-Z0-9]{2,3}")
_HEX: Final = re.compile(r"[A-Fa-f0-9]+")
_DOCUMENT_FIELDS: Final = frozenset(
    {
        "@context",
        "id",
        "type",
        "schemaVersion",
        "creationDate",
        "instanceIdentifier",
        "sender",
        "receiver",
        "epcisHeader",
        "epcisBody",
    }
)
_QUERY_DOCUMENT_FIELDS: Final = frozenset(
    {"@context", "id", "type", "schemaVersion", "creationDate", "epcisBody"}
)
_SENSOR_METADATA_TIMES: Final = ("time", "startTime", "endTime")
_SENSOR_METADATA_URIS: Final = (
    "deviceID",
    "deviceMetadata",
    "rawData",
    "dataProcessingMethod",
    "bizRules",
)
_SENSOR_REPORT_URIS: Final = (
    "deviceID",
    "deviceMetadata",
    "rawData",
    "dataProcessingMethod",
    "bizRules",
    "microorganism",
    "chemicalSubstance",
    "coordinateReferenceSystem",
    "uriValue",
)
_SENSOR_REPORT_NUMBERS: Final = (
    "value",
    "minValue",
    "maxValue",
    "meanValue",
    "sDev",
    "percRank",
    "percValue",
)
_SENSOR_REPORT_FIELDS: Final = frozenset(
    {
        "type",
        "exception",
        "time",
        "component",
        "stringValue",
        "booleanValue",
        "hexBinaryValue",
        "uom",
        *_SENSOR_REPORT_URIS,
        *_SENSOR_REPORT_NUMBERS,
    }
)
_ERROR_DECLARATION_FIELDS: Final = frozenset({"declarationTime", "reason", "correctiveEventIDs"})
DOCUMENT_TYPES: Final = ("EPCISDocument", "EPCISQueryDocument")
#: How many levels of JSON objects and arrays an event may nest, the event object being level
#: 1 (its ``ilmd`` level 2...): deep enough for any real user extension, shallow enough for
#: every client that reads the event back inside a query document (Ruby's JSON stops at 100
#: levels, serde_json at 128).
MAX_EVENT_DEPTH: Final = 64
#: How many levels a whole capture body may nest: an EPCISQueryDocument holds its events at
#: level 6 (``epcisBody.queryResults.resultsBody.eventList[i]``), so its deepest event value
#: is at level 6 + 63.
MAX_BODY_DEPTH: Final = MAX_EVENT_DEPTH + 5


def _json_type(value: object) -> str:
    """The JSON type name of a parsed value, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _is_number(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and (not isinstance(value, float) or math.isfinite(value))
    )


def join_path(path: str, key: str | int) -> str:
    """The JSON path of member ``key`` (a name or an array index) of the value at ``path``
    (``""`` is the root): ``epcisBody.eventList`` + 3 -> ``epcisBody.eventList[3]``."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def item_path(list_path: str, index: int) -> str:
    """The path of event ``index`` of the event list at ``list_path``; ``"$"`` stands for a
    single event (not in a document), whose fields are named from the root (``epcList[2]``)."""
    return "" if list_path == "$" else join_path(list_path, index)


def _event_list_of(document: Mapping[str, Any]) -> object:
    """The ``eventList`` of an EPCISDocument or EPCISQueryDocument, if it has one where the
    schema puts it (else ``None``)."""
    body: object = document.get("epcisBody")
    steps = ("queryResults", "resultsBody") if document.get("type") == "EPCISQueryDocument" else ()
    for step in steps:
        body = body.get(step) if isinstance(body, Mapping) else None
    return body.get("eventList") if isinstance(body, Mapping) else None


def _too_deep(path: str, limit: int) -> EventValidationError:
    what = "an event (itself level 1)" if limit == MAX_EVENT_DEPTH else "a capture body"
    return EventValidationError(
        f"nested too deeply: {what} may nest at most {limit} levels of JSON objects and arrays",
        field=path or "$",
    )


#: A JSON string, or one structural character (what :func:`_deep_point` reads).
_JSON_TOKEN: Final = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}:,]')
#: Every byte but the brackets and the quote (deleted by :func:`_nesting_fits`).
_NOT_STRUCTURE: Final = bytes(b for b in range(256) if b not in b'[]{}"')
_QUOTED: Final = re.compile(rb'"[^"]*"')


def _nesting_fits(text: str, limit: int) -> bool:
    """Whether JSON text surely nests at most ``limit`` levels, in C-speed string operations:
    escapes out, every byte but brackets and quotes out, strings (now only their brackets)
    out, then innermost ``[]`` / ``{}`` pairs out, once per level. False also for mismatched
    brackets (then :func:`_deep_point` decides)."""
    if "\\" in text:
        # Left to right, as JSON reads escapes; outside strings valid JSON has none.
        text = text.replace("\\\\", "").replace('\\"', "")
    kept = text.encode("utf-8", "surrogatepass").translate(None, _NOT_STRUCTURE)
    kept = kept.replace(b'""', b"")  # strings without brackets (quotes stay paired)
    if b'"' in kept:
        kept = _QUOTED.sub(b"", kept)
    for _ in range(limit):
        if not kept:
            return True
        inner = kept.replace(b"[]", b"").replace(b"{}", b"")
        if inner == kept:
            return False
        kept = inner
    return not kept


def _deep_point(text: str, limit: int) -> str | None:
    """The path of the first container of JSON text nested deeper than ``limit`` levels from
    the root, reading tokens up to there (slow, for bodies already found suspect)."""
    # One frame per open container: [kind, path, next array index, current object key,
    # whether a key comes next].
    frames: list[list[Any]] = []
    for match in _JSON_TOKEN.finditer(text):
        mark = match.group()
        top = frames[-1] if frames else None
        if mark in "{[":
            path = ""
            if top is not None:
                path = join_path(top[1], top[2] if top[0] == "[" else str(top[3]))
            if len(frames) + 1 > limit:
                return path
            frames.append([mark, path, 0, "", mark == "{"])
        elif mark in "]}":
            if frames:
                frames.pop()
        elif top is None:
            continue
        elif mark == ",":
            if top[0] == "[":
                top[2] += 1
            else:
                top[4] = True
        elif mark == ":":
            top[4] = False
        elif top[0] == "{" and top[4]:
            try:
                top[3] = json.loads(mark)
            except ValueError:
                top[3] = mark[1:-1]
    return None


def nesting_error_in_json(text: str) -> EventValidationError | None:
    """The problem of JSON text that nests deeper than :data:`MAX_BODY_DEPTH` levels from its
    root (the path where it first does), found BEFORE parsing it.

    ``json.loads`` recurses once per level: at the default recursion limit a deep body raises
    ``RecursionError``, and in a process whose limit was raised (importing ``py_ecc``, as
    web3 does, sets it to 100,000) 100,000 nested arrays overflow the C stack and kill the
    process. A few C-speed passes over the text (a few ms per MB) rule that out; the parsed
    value is then measured event by event by :func:`nesting_error`.
    """
    if _nesting_fits(text, MAX_BODY_DEPTH):
        return None
    path = _deep_point(text, MAX_BODY_DEPTH)
    return None if path is None else _too_deep(path, MAX_BODY_DEPTH)


def _deeper_than(values: Iterable[object], limit: int, skip: object = None) -> bool:
    """Whether any of ``values`` (parsed JSON: dicts, lists, scalars) nests more than
    ``limit`` levels of objects and arrays (each value itself is level 1; ``skip`` is not
    looked into). All of them level by level, no paths: the fast test every capture pays."""
    containers = (dict, list)  # a tuple: isinstance with a union type is 5x slower here
    level: list[Any] = [value for value in values if isinstance(value, containers)]
    for _ in range(limit):
        level = [
            child
            for container in level
            for child in (container.values() if type(container) is dict else container)
            if isinstance(child, containers) and child is not skip
        ]
        if not level:
            return False
    return True


def nesting_error(document: object) -> EventValidationError | None:
    """The first container nested too deeply, if any (see :data:`MAX_EVENT_DEPTH`).

    An event is counted from itself (the event object is level 1), wherever it sits; the rest
    of a document from the document (level 1), up to :data:`MAX_BODY_DEPTH`. Iterative, so a
    value of any depth is measured without recursion; the path is found only for a document
    already known to be too deep.
    """
    events: object = None
    if isinstance(document, Mapping) and document.get("type") in DOCUMENT_TYPES:
        events = _event_list_of(document)
        root_limit = MAX_BODY_DEPTH
        fits = not _deeper_than([document], root_limit, skip=events) and not (
            isinstance(events, list) and _deeper_than(events, MAX_EVENT_DEPTH)
        )
    else:
        root_limit = MAX_EVENT_DEPTH  # a single event
        fits = not _deeper_than([document], root_limit)
    if fits:
        return None
    # (value, path, level, limit), pushed in reverse so the walk is in document order.
    stack: list[tuple[object, str, int, int]] = [(document, "", 1, root_limit)]
    while stack:
        value, path, level, limit = stack.pop()
        children: Iterable[tuple[str | int, object]]
        if isinstance(value, Mapping):
            children = value.items()
        elif isinstance(value, list):
            children = enumerate(value)
        else:
            continue
        if level > limit:
            return _too_deep(path, limit)
        nested = [
            (child, join_path(path, key))
            for key, child in children
            if isinstance(child, Mapping | list)
        ]
        is_event_list = events is not None and value is events
        for child, where in reversed(nested):
            if is_event_list:
                stack.append((child, where, 1, MAX_EVENT_DEPTH))
            else:
                stack.append((child, where, level + 1, limit))
    return None


class _Validator:
    """Collects every problem of one document; holds the prefixes in scope."""

    def __init__(self) -> None:
        self.errors: list[EventValidationError] = []
        self.prefixes: Mapping[str, str] = context_prefixes(None)

    def error(self, path: str, reason: str) -> None:
        self.errors.append(EventValidationError(reason, field=path or "$"))

    # -- primitive checks ---------------------------------------------------------------------

    def is_object(self, value: object, path: str) -> TypeGuard[Mapping[str, Any]]:
        if isinstance(value, Mapping):
            return True
        self.error(path, f"must be a JSON object, not {_json_type(value)}")
        return False

    def array(
        self, value: object, path: str, *, min_items: int = 0, unique: bool = False
    ) -> TypeGuard[list[Any]]:
        if not isinstance(value, list):
            self.error(path, f"must be a JSON array, not {_json_type(value)}")
            return False
        if len(value) < min_items:
            self.error(path, f"must have at least {min_items} item(s)")
        if unique:
            seen: set[str] = set()
            for index, item in enumerate(value):
                marker = json.dumps(item, sort_keys=True)
                if marker in seen:
                    self.error(
                        join_path(path, index), "repeats an earlier item; items must be unique"
                    )
                seen.add(marker)
        return True

    def string(self, value: object, path: str) -> TypeGuard[str]:
        if isinstance(value, str):
            return True
        self.error(path, f"must be a string, not {_json_type(value)}")
        return False

    def uri(self, value: object, path: str) -> TypeGuard[str]:
        if not self.string(value, path):
            return False
        if is_uri(value):
            return True
        self.error(path, f"{value!r} is not an absolute URI (RFC 3986)")
        return False

    def identifier(self, value: object, path: str) -> None:
        """A URI that, when it is a GS1 key, must be a valid one."""
        if self.uri(value, path):
            problem = epc.check(value)
            if problem is not None:
                self.error(path, problem)

    def time(self, value: object, path: str) -> None:
        if self.string(value, path) and parse_timestamp(value) is None:
            self.error(
                path,
                f"{value!r} is not an RFC 3339 date-time with a UTC offset "
                "(like 2024-05-01T10:00:00.000+02:00)",
            )

    def number(self, value: object, path: str) -> None:
        if not _is_number(value):
            self.error(path, f"must be a finite JSON number, not {_json_type(value)}")

    def pattern(self, value: object, path: str, regex: re.Pattern[str], what: str) -> None:
        if self.string(value, path) and regex.fullmatch(value) is None:
            self.error(path, f"{value!r} is not {what}")

    def vocabulary(self, kind: VocabularyKind, value: object, path: str) -> None:
        if not self.string(value, path):
            return
        vocab = VOCABULARIES[kind]
        if value in vocab.terms:
            return
        problem = json_value_problem(kind, value)
        if problem is None and not is_uri(value):
            problem = f"{value!r} is not an absolute URI (RFC 3986)"
        if problem is not None:
            self.error(path, problem)

    def key(self, key: str, path: str, allowed: Iterable[str], owner: str) -> None:
        """A key must be one of ``allowed`` or a user extension with a declared prefix."""
        if key in allowed:
            return
        if not is_uri(key):
            self.error(
                path,
                f"{key!r} is not a field of {owner}; user extensions are named prefix:name",
            )
            return
        self.extension_name(key, path)

    def extension_name(self, key: str, path: str) -> None:
        """``prefix:name`` needs a declared prefix; full IRIs (``https://…``, ``urn:…``) pass."""
        prefix, _, rest = key.partition(":")
        if rest.startswith("//") or prefix == "urn" or prefix in self.prefixes:
            return
        self.error(path, f"the prefix {prefix!r} of {key!r} is not declared in @context")

    def keys(self, obj: Mapping[str, Any], path: str, allowed: Iterable[str], owner: str) -> None:
        allowed_set = frozenset(allowed)
        for key in obj:
            self.key(key, join_path(path, key), allowed_set, owner)

    def only(self, obj: Mapping[str, Any], path: str, allowed: Iterable[str], owner: str) -> None:
        allowed_set = frozenset(allowed)
        for key in obj:
            if key not in allowed_set:
                self.error(join_path(path, key), f"{key!r} is not a field of {owner}")

    def required(self, obj: Mapping[str, Any], path: str, names: Iterable[str]) -> None:
        for name in names:
            if name not in obj:
                self.error(join_path(path, name), "this required field is missing")

    def optional(
        self,
        obj: Mapping[str, Any],
        path: str,
        name: str,
        check: Callable[[object, str], object],
    ) -> None:
        if name in obj:
            check(obj[name], join_path(path, name))

    # -- JSON-LD context ----------------------------------------------------------------------

    def context(self, value: object, path: str) -> None:
        entries: list[Any]
        if isinstance(value, list):
            self.array(value, path, unique=True)
            entries = value
            indexed = True
        else:
            entries = [value]
            indexed = False
        for index, entry in enumerate(entries):
            where = join_path(path, index) if indexed else path
            if isinstance(entry, str):
                self.uri(entry, where)
            elif not isinstance(entry, Mapping):
                self.error(where, f"must be a context URI or object, not {_json_type(entry)}")

    # -- parts of events ----------------------------------------------------------------------

    def epc_list(self, value: object, path: str, *, unique: bool) -> None:
        if self.array(value, path, unique=unique):
            for index, item in enumerate(value):
                self.identifier(item, join_path(path, index))

    def quantity_list(self, value: object, path: str) -> None:
        if not self.array(value, path):
            return
        for index, item in enumerate(value):
            where = join_path(path, index)
            if not self.is_object(item, where):
                continue
            self.only(item, where, ("epcClass", "quantity", "uom"), "a quantity element")
            self.required(item, where, ("epcClass",))
            self.optional(item, where, "epcClass", self.identifier)
            self.optional(item, where, "quantity", self.number)
            self.optional(
                item,
                where,
                "uom",
                lambda v, p: self.pattern(v, p, _UOM, "a UN/CEFACT unit code (2-3 of A-Z 0-9)"),
            )

    def typed_list(self, value: object, path: str, value_key: str, kind: VocabularyKind) -> None:
        if not self.array(value, path):
            return
        for index, item in enumerate(value):
            where = join_path(path, index)
            if not self.is_object(item, where):
                continue
            self.only(item, where, ("type", value_key), f"a {value_key} entry")
            required = (value_key,) if value_key == "bizTransaction" else ("type", value_key)
            self.required(item, where, required)
            self.optional(item, where, "type", lambda v, p: self.vocabulary(kind, v, p))
            if value_key == "bizTransaction":
                self.optional(item, where, value_key, self.uri)
            else:
                self.optional(item, where, value_key, self.identifier)

    def location(self, value: object, path: str) -> None:
        if not self.is_object(value, path):
            return
        self.required(value, path, ("id",))
        self.optional(value, path, "id", self.identifier)
        for key in value:
            if key != "id" and ":" in key and is_uri(key):
                self.extension_name(key, join_path(path, key))

    def persistent_disposition(self, value: object, path: str) -> None:
        if not self.is_object(value, path):
            return
        self.only(value, path, ("set", "unset"), "persistentDisposition")
        if "set" not in value and "unset" not in value:
            self.error(path, "needs set or unset")
        for name in ("set", "unset"):
            if name in value:
                where = join_path(path, name)
                items = value[name]
                if self.array(items, where, min_items=1, unique=True):
                    for index, item in enumerate(items):
                        self.vocabulary("disposition", item, join_path(where, index))

    def sensor_element_list(self, value: object, path: str) -> None:
        if not self.array(value, path):
            return
        for index, element in enumerate(value):
            where = join_path(path, index)
            if not self.is_object(element, where):
                continue
            self.keys(element, where, ("sensorMetadata", "sensorReport"), "a sensor element")
            self.required(element, where, ("sensorReport",))
            self.optional(element, where, "sensorMetadata", self.sensor_metadata)
            if "sensorReport" in element:
                reports = element["sensorReport"]
                report_path = join_path(where, "sensorReport")
                if self.array(reports, report_path, min_items=1):
                    for report_index, report in enumerate(reports):
                        self.sensor_report(report, join_path(report_path, report_index))

    def sensor_metadata(self, value: object, path: str) -> None:
        if not self.is_object(value, path):
            return
        allowed = (*_SENSOR_METADATA_TIMES, *_SENSOR_METADATA_URIS)
        self.keys(value, path, allowed, "sensorMetadata")
        for name in _SENSOR_METADATA_TIMES:
            self.optional(value, path, name, self.time)
        for name in _SENSOR_METADATA_URIS:
            self.optional(value, path, name, self.uri)

    def sensor_report(self, value: object, path: str) -> None:
        if not self.is_object(value, path):
            return
        self.keys(value, path, _SENSOR_REPORT_FIELDS, "a sensorReport")
        self.required(value, path, ("type",))
        self.optional(value, path, "type", lambda v, p: self.vocabulary("measurementType", v, p))
        self.optional(
            value, path, "exception", lambda v, p: self.vocabulary("sensorAlertType", v, p)
        )
        self.optional(value, path, "component", lambda v, p: self.vocabulary("component", v, p))
        for name in _SENSOR_REPORT_URIS:
            self.optional(value, path, name, self.uri)
        for name in _SENSOR_REPORT_NUMBERS:
            self.optional(value, path, name, self.number)
        self.optional(value, path, "time", self.time)
        self.optional(value, path, "stringValue", self.string)
        self.optional(value, path, "uom", self.string)
        if "booleanValue" in value and not isinstance(value["booleanValue"], bool):
            self.error(
                join_path(path, "booleanValue"),
                f"must be true or false, not {_json_type(value['booleanValue'])}",
            )
        self.optional(
            value,
            path,
            "hexBinaryValue",
            lambda v, p: self.pattern(v, p, _HEX, "hexadecimal binary"),
        )

    def ilmd(self, value: object, path: str) -> None:
        if not self.is_object(value, path):
            return
        self.keys(value, path, (), "ilmd")

    def error_declaration(self, value: object, path: str) -> None:
        if not self.is_object(value, path):
            return
        self.keys(value, path, _ERROR_DECLARATION_FIELDS, "errorDeclaration")
        self.required(value, path, ("declarationTime",))
        self.optional(value, path, "declarationTime", self.time)
        self.optional(value, path, "reason", lambda v, p: self.vocabulary("errorReason", v, p))
        if "correctiveEventIDs" in value:
            where = join_path(path, "correctiveEventIDs")
            ids = value["correctiveEventIDs"]
            if self.array(ids, where):
                for index, item in enumerate(ids):
                    self.uri(item, join_path(where, index))

    def certification_info(self, value: object, path: str) -> None:
        if isinstance(value, list):
            for index, item in enumerate(value):
                self.uri(item, join_path(path, index))
        else:
            self.uri(value, path)

    # -- events -------------------------------------------------------------------------------

    def event(self, value: object, path: str, *, standalone: bool) -> None:
        """One event; ``standalone`` events (not in a document) need their own ``@context``."""
        if not self.is_object(value, path):
            return
        outer = self.prefixes
        if "@context" in value:
            self.context(value["@context"], join_path(path, "@context"))
            self.prefixes = {**outer, **context_prefixes(value["@context"])}
        elif standalone:
            self.error(join_path(path, "@context"), "a single event needs its JSON-LD @context")
        try:
            self.event_fields(value, path)
        finally:
            self.prefixes = outer

    def event_fields(self, event: Mapping[str, Any], path: str) -> None:
        if "type" not in event:
            self.error(join_path(path, "type"), "this required field is missing")
            return
        kind = event["type"]
        if not self.string(kind, join_path(path, "type")):
            return
        self.required(event, path, ("eventTime", "eventTimeZoneOffset"))
        self.optional(event, path, "eventTime", self.time)
        self.optional(event, path, "recordTime", self.time)
        self.optional(event, path, "eventTimeZoneOffset", self.timezone_offset)
        self.optional(event, path, "eventID", self.uri)
        self.optional(event, path, "certificationInfo", self.certification_info)
        self.optional(event, path, "errorDeclaration", self.error_declaration)
        if kind not in EVENT_FIELDS:
            if not is_uri(kind):
                self.error(
                    join_path(path, "type"),
                    f"unknown event type {kind!r}; expected one of {', '.join(EVENT_TYPES)} "
                    "or the URI of an extension event type",
                )
            return
        owner = f"an {kind}" if kind[0] in "AEIOU" else f"a {kind}"
        self.keys(event, path, _COMMON_FIELDS | EVENT_FIELDS[kind], owner)
        self.required(event, path, _REQUIRED[kind])
        self.event_body(event, path, kind)
        self.event_shape(event, path, kind, owner)

    def timezone_offset(self, value: object, path: str) -> None:
        if self.string(value, path) and not is_timezone_offset(value):
            self.error(path, f"{value!r} is not a UTC offset from -13:59 to +14:00 (±hh:mm)")

    def event_body(self, event: Mapping[str, Any], path: str, kind: str) -> None:
        """The type-specific fields that are present."""
        for name in ("epcList", "childEPCs", "inputEPCList", "outputEPCList"):
            if name in event:
                unique = f"{kind}:{name}" in _UNIQUE_EPC_LISTS or name in _UNIQUE_EPC_LISTS
                self.epc_list(event[name], join_path(path, name), unique=unique)
        for name in (
            "quantityList",
            "childQuantityList",
            "inputQuantityList",
            "outputQuantityList",
        ):
            self.optional(event, path, name, self.quantity_list)
        self.optional(event, path, "parentID", self.identifier)
        self.optional(event, path, "transformationID", self.uri)
        if "action" in event and event["action"] not in _ACTIONS:
            self.error(
                join_path(path, "action"),
                f"{event['action']!r} is not an action; expected OBSERVE, ADD or DELETE",
            )
        self.optional(event, path, "bizStep", lambda v, p: self.vocabulary("bizStep", v, p))
        self.optional(event, path, "disposition", lambda v, p: self.vocabulary("disposition", v, p))
        self.optional(event, path, "persistentDisposition", self.persistent_disposition)
        self.optional(event, path, "readPoint", self.location)
        self.optional(event, path, "bizLocation", self.location)
        if "bizTransactionList" in event:
            where = join_path(path, "bizTransactionList")
            self.typed_list(
                event["bizTransactionList"], where, "bizTransaction", "bizTransactionType"
            )
            if kind == "TransactionEvent" and event["bizTransactionList"] == []:
                self.error(where, "a TransactionEvent needs at least one business transaction")
        for name, value_key in (("sourceList", "source"), ("destinationList", "destination")):
            if name in event:
                self.typed_list(event[name], join_path(path, name), value_key, "sourceDestType")
        self.optional(event, path, "sensorElementList", self.sensor_element_list)
        self.optional(event, path, "ilmd", self.ilmd)

    def event_shape(self, event: Mapping[str, Any], path: str, kind: str, owner: str) -> None:
        """The schema's ``anyOf`` rules: what each event type must contain."""

        def filled(name: str) -> bool:
            value = event.get(name)
            return isinstance(value, list) and len(value) > 0

        deleting = event.get("action", "DELETE") == "DELETE"
        if kind == "ObjectEvent":
            if not (
                isinstance(event.get("epcList"), list)
                or filled("quantityList")
                or (filled("sensorElementList") and "readPoint" in event)
            ):
                self.error(
                    path or "$",
                    "an ObjectEvent needs epcList, a non-empty quantityList, or a non-empty "
                    "sensorElementList with a readPoint",
                )
            if "ilmd" in event and "action" in event and event["action"] != "ADD":
                self.error(join_path(path, "ilmd"), "ilmd is only allowed with action ADD")
        elif kind in ("AggregationEvent", "AssociationEvent"):
            if not (filled("childEPCs") or filled("childQuantityList") or deleting):
                self.error(
                    path or "$",
                    f"{owner} with action ADD or OBSERVE needs childEPCs or childQuantityList",
                )
        elif kind == "TransactionEvent":
            if not (isinstance(event.get("epcList"), list) or filled("quantityList") or deleting):
                self.error(
                    path or "$",
                    "a TransactionEvent with action ADD or OBSERVE needs epcList or quantityList",
                )
        elif kind == "TransformationEvent":
            inputs = filled("inputEPCList") or filled("inputQuantityList")
            outputs = filled("outputEPCList") or filled("outputQuantityList")
            if not ((inputs and outputs) or ((inputs or outputs) and "transformationID" in event)):
                self.error(
                    path or "$",
                    "a TransformationEvent needs inputs and outputs, or inputs or outputs "
                    "with a transformationID",
                )

    # -- documents ----------------------------------------------------------------------------

    def document(self, doc: Mapping[str, Any]) -> None:
        self.keys(doc, "", _DOCUMENT_FIELDS, "an EPCISDocument")
        self.required(doc, "", ("@context", "type", "schemaVersion", "creationDate", "epcisBody"))
        self.common_document_fields(doc)
        self.optional(doc, "", "instanceIdentifier", self.string)
        self.optional(doc, "", "sender", self.string)
        self.optional(doc, "", "receiver", self.string)
        self.optional(doc, "", "epcisHeader", self.header)
        if "epcisBody" in doc and self.is_object(doc["epcisBody"], "epcisBody"):
            body = doc["epcisBody"]
            self.required(body, "epcisBody", ("eventList",))
            if "eventList" in body:
                self.event_list(body["eventList"], "epcisBody.eventList")

    def query_document(self, doc: Mapping[str, Any]) -> None:
        self.keys(doc, "", _QUERY_DOCUMENT_FIELDS, "an EPCISQueryDocument")
        self.required(doc, "", ("@context", "type", "epcisBody"))
        self.common_document_fields(doc)
        if "epcisBody" not in doc or not self.is_object(doc["epcisBody"], "epcisBody"):
            return
        body = doc["epcisBody"]
        self.keys(body, "epcisBody", ("queryResults",), "the epcisBody of a query document")
        self.required(body, "epcisBody", ("queryResults",))
        results = body.get("queryResults")
        where = "epcisBody.queryResults"
        if results is None or not self.is_object(results, where):
            return
        self.keys(results, where, ("queryName", "subscriptionID", "resultsBody"), "queryResults")
        self.required(results, where, ("queryName", "resultsBody"))
        self.optional(results, where, "queryName", self.string)
        self.optional(results, where, "subscriptionID", self.string)
        results_body = results.get("resultsBody")
        where = f"{where}.resultsBody"
        if results_body is None or not self.is_object(results_body, where):
            return
        self.keys(results_body, where, ("eventList", "vocabularyList"), "resultsBody")
        self.required(results_body, where, ("eventList",))
        self.optional(results_body, where, "vocabularyList", self.vocabulary_list)
        if "eventList" in results_body:
            self.event_list(results_body["eventList"], f"{where}.eventList")

    def common_document_fields(self, doc: Mapping[str, Any]) -> None:
        self.optional(doc, "", "id", self.uri)
        self.optional(
            doc,
            "",
            "schemaVersion",
            lambda v, p: self.pattern(v, p, _VERSION, "a version number like 2.0"),
        )
        self.optional(doc, "", "creationDate", self.time)

    def event_list(self, value: object, path: str) -> None:
        if self.array(value, path):
            for index, event in enumerate(value):
                self.event(event, join_path(path, index), standalone=False)

    def header(self, value: object, path: str) -> None:
        if not self.is_object(value, path):
            return
        self.keys(value, path, ("epcisMasterData",), "epcisHeader")
        master = value.get("epcisMasterData")
        where = join_path(path, "epcisMasterData")
        if master is not None and self.is_object(master, where):
            self.optional(master, where, "vocabularyList", self.vocabulary_list)

    def vocabulary_list(self, value: object, path: str) -> None:
        if not self.array(value, path):
            return
        for index, vocabulary in enumerate(value):
            where = join_path(path, index)
            if not self.is_object(vocabulary, where):
                continue
            self.required(vocabulary, where, ("type",))
            self.optional(vocabulary, where, "type", self.uri)
            if "vocabularyElementList" in vocabulary:
                self.vocabulary_elements(
                    vocabulary["vocabularyElementList"], join_path(where, "vocabularyElementList")
                )

    def vocabulary_elements(self, value: object, path: str) -> None:
        if not self.array(value, path):
            return
        for index, element in enumerate(value):
            where = join_path(path, index)
            if not self.is_object(element, where):
                continue
            self.required(element, where, ("id",))
            self.optional(element, where, "id", self.uri)
            if "attributes" in element:
                attributes = element["attributes"]
                attributes_path = join_path(where, "attributes")
                if self.array(attributes, attributes_path):
                    for position, attribute in enumerate(attributes):
                        self.master_data_attribute(attribute, join_path(attributes_path, position))
            if "children" in element:
                children = element["children"]
                children_path = join_path(where, "children")
                if self.array(children, children_path):
                    for position, child in enumerate(children):
                        self.uri(child, join_path(children_path, position))

    def master_data_attribute(self, value: object, path: str) -> None:
        if not self.is_object(value, path):
            return
        self.required(value, path, ("id",))
        self.optional(value, path, "id", self.uri)
        if "attribute" in value:
            attribute = value["attribute"]
            if not (_is_number(attribute) or isinstance(attribute, str | Mapping)):
                self.error(
                    join_path(path, "attribute"),
                    f"must be a number, string or object, not {_json_type(attribute)}",
                )

    def top(self, doc: object) -> None:
        """Any capturable JSON value: a document or a single event."""
        if not self.is_object(doc, ""):
            return
        kind = doc.get("type")
        if kind not in ("EPCISDocument", "EPCISQueryDocument"):
            self.event(doc, "", standalone=True)
            return
        if "@context" in doc:
            self.context(doc["@context"], "@context")
            self.prefixes = context_prefixes(doc["@context"])
        if kind == "EPCISDocument":
            self.document(doc)
        else:
            self.query_document(doc)


def validate(document: object) -> list[EventValidationError]:
    """Every problem of a parsed EPCIS document or single event (empty when valid).

    A document nested too deeply (:func:`nesting_error`) gets that one problem and is not
    looked at further.
    """
    too_deep = nesting_error(document)
    if too_deep is not None:
        return [too_deep]
    validator = _Validator()
    validator.top(document)
    return validator.errors
