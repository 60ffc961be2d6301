"""EPCIS 2.0 events: capture validation, the JSON and XML bindings, CBV vocabularies and the
CBV 2.0 Event Hash ID.

The entry point for capture is :func:`parse_document`; :func:`event_hash` and :func:`prehash`
re-verify a stored event (its ``raw`` JSON) later.
"""

from ledger.events.document import parse_document
from ledger.events.errors import DocumentValidationError, EventValidationError
from ledger.events.hashing import event_hash, prehash
from ledger.events.model import (
    INSTANCE_FIELDS,
    QUANTITY_FIELDS,
    CapturedEvent,
    Link,
    Quantity,
    QuantityRole,
    Role,
)
from ledger.events.validation import validate
from ledger.events.vocabulary import VocabularyError, expand, shorten
from ledger.events.xml_binding import document_from_xml

__all__ = [
    "INSTANCE_FIELDS",
    "QUANTITY_FIELDS",
    "CapturedEvent",
    "DocumentValidationError",
    "EventValidationError",
    "Link",
    "Quantity",
    "QuantityRole",
    "Role",
    "VocabularyError",
    "document_from_xml",
    "event_hash",
    "expand",
    "parse_document",
    "prehash",
    "shorten",
    "validate",
]
