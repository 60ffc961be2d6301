"""EPCIS 2.0 events for the store's tests, parsed by the real capture parser (the builders
they are made of are in :mod:`tests.helpers`)."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from ledger.events import CapturedEvent, parse_document
from tests.helpers import OBSERVATION_START, document_bytes, sgtin_observation, timestamp


def parse(events: Sequence[dict[str, Any]]) -> list[CapturedEvent]:
    """The captured events of a document holding ``events``."""
    return parse_document(document_bytes(*events), "application/ld+json")


def mixed_events(count: int, *, seed: str = "a") -> list[dict[str, Any]]:
    """``count`` distinct events of the five types, unique per ``seed``."""
    events: list[dict[str, Any]] = []
    for i in range(count):
        when = timestamp(OBSERVATION_START + timedelta(seconds=i))
        kind = i % 5
        serial = f"{seed}{i}"
        sscc_reference = f"{zlib.crc32(seed.encode()) % 10**5:05d}{i:05d}"
        if kind == 0:
            event: dict[str, Any] = sgtin_observation([serial, serial + "b"], minute=0)
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
