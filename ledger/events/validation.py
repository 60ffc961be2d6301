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


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


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
                    self.error(_join(path, index), "repeats an earlier item; items must be unique")
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
            self.key(key, _join(path, key), allowed_set, owner)

    def only(self, obj: Mapping[str, Any], path: str, allowed: Iterable[str], owner: str) -> None:
        allowed_set = frozenset(allowed)
        for key in obj:
            if key not in allowed_set:
                self.error(_join(path, key), f"{key!r} is not a field of {owner}")

    def required(self, obj: Mapping[str, Any], path: str, names: Iterable[str]) -> None:
        for name in names:
            if name not in obj:
                self.error(_join(path, name), "this required field is missing")

    def optional(
        self,
        obj: Mapping[str, Any],
        path: str,
        name: str,
        check: Callable[[object, str], object],
    ) -> None:
        if name in obj:
            check(obj[name], _join(path, name))

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
            where = _join(path, index) if indexed else path
            if isinstance(entry, str):
                self.uri(entry, where)
            elif not isinstance(entry, Mapping):
                self.error(where, f"must be a context URI or object, not {_json_type(entry)}")

    # -- parts of events ----------------------------------------------------------------------

    def epc_list(self, value: object, path: str, *, unique: bool) -> None:
        if self.array(value, path, unique=unique):
            for index, item in enumerate(value):
                self.identifier(item, _join(path, index))

    def quantity_list(self, value: object, path: str) -> None:
        if not self.array(value, path):
            return
        for index, item in enumerate(value):
            where = _join(path, index)
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
            where = _join(path, index)
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
                self.extension_name(key, _join(path, key))

    def persistent_disposition(self, value: object, path: str) -> None:
        if not self.is_object(value, path):
            return
        self.only(value, path, ("set", "unset"), "persistentDisposition")
        if "set" not in value and "unset" not in value:
            self.error(path, "needs set or unset")
        for name in ("set", "unset"):
            if name in value:
                where = _join(path, name)
                items = value[name]
                if self.array(items, where, min_items=1, unique=True):
                    for index, item in enumerate(items):
                        self.vocabulary("disposition", item, _join(where, index))

    def sensor_element_list(self, value: object, path: str) -> None:
        if not self.array(value, path):
            return
        for index, element in enumerate(value):
            where = _join(path, index)
            if not self.is_object(element, where):
                continue
            self.keys(element, where, ("sensorMetadata", "sensorReport"), "a sensor element")
            self.required(element, where, ("sensorReport",))
            self.optional(element, where, "sensorMetadata", self.sensor_metadata)
            if "sensorReport" in element:
                reports = element["sensorReport"]
                report_path = _join(where, "sensorReport")
                if self.array(reports, report_path, min_items=1):
                    for report_index, report in enumerate(reports):
                        self.sensor_report(report, _join(report_path, report_index))

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
                _join(path, "booleanValue"),
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
            where = _join(path, "correctiveEventIDs")
            ids = value["correctiveEventIDs"]
            if self.array(ids, where):
                for index, item in enumerate(ids):
                    self.uri(item, _join(where, index))

    def certification_info(self, value: object, path: str) -> None:
        if isinstance(value, list):
            for index, item in enumerate(value):
                self.uri(item, _join(path, index))
        else:
            self.uri(value, path)

    # -- events -------------------------------------------------------------------------------

    def event(self, value: object, path: str, *, standalone: bool) -> None:
        """One event; ``standalone`` events (not in a document) need their own ``@context``."""
        if not self.is_object(value, path):
            return
        outer = self.prefixes
        if "@context" in value:
            self.context(value["@context"], _join(path, "@context"))
            self.prefixes = {**outer, **context_prefixes(value["@context"])}
        elif standalone:
            self.error(_join(path, "@context"), "a single event needs its JSON-LD @context")
        try:
            self.event_fields(value, path)
        finally:
            self.prefixes = outer

    def event_fields(self, event: Mapping[str, Any], path: str) -> None:
        if "type" not in event:
            self.error(_join(path, "type"), "this required field is missing")
            return
        kind = event["type"]
        if not self.string(kind, _join(path, "type")):
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
                    _join(path, "type"),
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
                self.epc_list(event[name], _join(path, name), unique=unique)
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
                _join(path, "action"),
                f"{event['action']!r} is not an action; expected OBSERVE, ADD or DELETE",
            )
        self.optional(event, path, "bizStep", lambda v, p: self.vocabulary("bizStep", v, p))
        self.optional(event, path, "disposition", lambda v, p: self.vocabulary("disposition", v, p))
        self.optional(event, path, "persistentDisposition", self.persistent_disposition)
        self.optional(event, path, "readPoint", self.location)
        self.optional(event, path, "bizLocation", self.location)
        if "bizTransactionList" in event:
            where = _join(path, "bizTransactionList")
            self.typed_list(
                event["bizTransactionList"], where, "bizTransaction", "bizTransactionType"
            )
            if kind == "TransactionEvent" and event["bizTransactionList"] == []:
                self.error(where, "a TransactionEvent needs at least one business transaction")
        for name, value_key in (("sourceList", "source"), ("destinationList", "destination")):
            if name in event:
                self.typed_list(event[name], _join(path, name), value_key, "sourceDestType")
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
                self.error(_join(path, "ilmd"), "ilmd is only allowed with action ADD")
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
                self.event(event, _join(path, index), standalone=False)

    def header(self, value: object, path: str) -> None:
        if not self.is_object(value, path):
            return
        self.keys(value, path, ("epcisMasterData",), "epcisHeader")
        master = value.get("epcisMasterData")
        where = _join(path, "epcisMasterData")
        if master is not None and self.is_object(master, where):
            self.optional(master, where, "vocabularyList", self.vocabulary_list)

    def vocabulary_list(self, value: object, path: str) -> None:
        if not self.array(value, path):
            return
        for index, vocabulary in enumerate(value):
            where = _join(path, index)
            if not self.is_object(vocabulary, where):
                continue
            self.required(vocabulary, where, ("type",))
            self.optional(vocabulary, where, "type", self.uri)
            if "vocabularyElementList" in vocabulary:
                self.vocabulary_elements(
                    vocabulary["vocabularyElementList"], _join(where, "vocabularyElementList")
                )

    def vocabulary_elements(self, value: object, path: str) -> None:
        if not self.array(value, path):
            return
        for index, element in enumerate(value):
            where = _join(path, index)
            if not self.is_object(element, where):
                continue
            self.required(element, where, ("id",))
            self.optional(element, where, "id", self.uri)
            if "attributes" in element:
                attributes = element["attributes"]
                attributes_path = _join(where, "attributes")
                if self.array(attributes, attributes_path):
                    for position, attribute in enumerate(attributes):
                        self.master_data_attribute(attribute, _join(attributes_path, position))
            if "children" in element:
                children = element["children"]
                children_path = _join(where, "children")
                if self.array(children, children_path):
                    for position, child in enumerate(children):
                        self.uri(child, _join(children_path, position))

    def master_data_attribute(self, value: object, path: str) -> None:
        if not self.is_object(value, path):
            return
        self.required(value, path, ("id",))
        self.optional(value, path, "id", self.uri)
        if "attribute" in value:
            attribute = value["attribute"]
            if not (_is_number(attribute) or isinstance(attribute, str | Mapping)):
                self.error(
                    _join(path, "attribute"),
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
    """Every problem of a parsed EPCIS document or single event (empty when valid)."""
    validator = _Validator()
    validator.top(document)
    return validator.errors
