"""EPCIS 2.0 JSON-LD documents for the store's tests, parsed by the real capture parser."""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from ledger.events import CapturedEvent, parse_document

CONTEXT: Final = "https://ref.gs1.org/standards/epcis/epcis-context.jsonld"
START: Final = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)


def timestamp(when: datetime) -> str:
    """An EPCIS timestamp in UTC with milliseconds."""
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def document(events: Sequence[dict[str, Any]]) -> bytes:
    """An EPCISDocument holding ``events``."""
    body = {
        "@context": [CONTEXT],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2024-03-01T00:00:00.000Z",
        "epcisBody": {"eventList": list(events)},
    }
    return json.dumps(body).encode()


def parse(events: Sequence[dict[str, Any]]) -> list[CapturedEvent]:
    """The captured events of a document holding ``events``."""
    return parse_document(document(events), "application/ld+json")


def object_event(
    serials: Sequence[str | int],
    *,
    minute: int = 0,
    gtin_ref: str = "812345",
    biz_step: str = "shipping",
    **extra: Any,
) -> dict[str, Any]:
    """An ObjectEvent observing SGTINs of company prefix 0614141."""
    event: dict[str, Any] = {
        "type": "ObjectEvent",
        "eventTime": timestamp(START + timedelta(minutes=minute)),
        "eventTimeZoneOffset": "+00:00",
        "epcList": [f"urn:epc:id:sgtin:0614141.{gtin_ref}.{s}" for s in serials],
        "action": "OBSERVE",
        "bizStep": biz_step,
    }
    event.update(extra)
    return event


def mixed_events(count: int, *, seed: str = "a") -> list[dict[str, Any]]:
    """``count`` distinct events of the five types, unique per ``seed``."""
    events: list[dict[str, Any]] = []
    for i in range(count):
        when = timestamp(START + timedelta(seconds=i))
        kind = i % 5
        serial = f"{seed}{i}"
        sscc_reference = f"{zlib.crc32(seed.encode()) % 10**5:05d}{i:05d}"
        if kind == 0:
            event: dict[str, Any] = object_event([serial, serial + "b"], minute=0)
            event["eventTime"] = when
            event["readPoint"] = {"id": "urn:epc:id:sgln:0614141.00777.0"}
        elif kind == 1:
            event = {
                "type": "AggregationEvent",
                "eventTime": when,
                "eventTimeZoneOffset": "+01:00",
                "parentID": f"urn:epc:id:sscc:0614141.{sscc_reference}",
                "childEPCs": [f"urn:epc:id:sgtin:0614141.812345.{serial}c"],
                "action": "ADD",
                "bizStep": "packing",
            }
        elif kind == 2:
            event = {
                "type": "TransformationEvent",
                "eventTime": when,
                "eventTimeZoneOffset": "+00:00",
                "inputEPCList": [f"urn:epc:id:sgtin:0614141.812345.{serial}i"],
                "outputEPCList": [f"urn:epc:id:sgtin:0614141.812345.{serial}o"],
                "outputQuantityList": [
                    {"epcClass": "urn:epc:class:lgtin:4012345.012345.998877", "quantity": 5}
                ],
            }
        elif kind == 3:
            event = {
                "type": "TransactionEvent",
                "eventTime": when,
                "eventTimeZoneOffset": "+00:00",
                "bizTransactionList": [
                    {"type": "po", "bizTransaction": f"urn:epcglobal:cbv:bt:0614141073467:{serial}"}
                ],
                "epcList": [f"urn:epc:id:sgtin:0614141.812345.{serial}t"],
                "action": "ADD",
            }
        else:
            event = {
                "type": "AssociationEvent",
                "eventTime": when,
                "eventTimeZoneOffset": "+00:00",
                "parentID": "urn:epc:id:grai:0614141.12345.400",
                "childEPCs": [f"urn:epc:id:giai:0614141.{serial}"],
                "action": "ADD",
            }
        events.append(event)
    return events
