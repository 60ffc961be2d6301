"""GS1's reference implementation of the event hash (PyPI ``epcis-event-hash-generator``), as a
test oracle only. It keeps parsing state in module globals; each call starts clean."""

from __future__ import annotations

import copy
import logging
from typing import Any

from epcis_event_hash_generator import hash_generator, json_to_py


def reference_prehashes(document: dict[str, Any]) -> list[str]:
    """The reference's pre-hash strings for the events of an ``EPCISDocument`` (JSON-LD)."""
    json_to_py._namespaces.clear()
    logging.disable(logging.CRITICAL)
    try:
        events = json_to_py.event_list_from_epcis_document_json(copy.deepcopy(document))
        return list(hash_generator.derive_prehashes_from_events(events))
    finally:
        logging.disable(logging.NOTSET)


def reference_hashes(prehashes: list[str]) -> list[str]:
    """The reference's hash IDs for pre-hash strings."""
    return list(hash_generator.calculate_hashes_from_pre_hashes(prehashes))
