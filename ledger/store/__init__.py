"""Storage of the ledger: SQLModel tables, Alembic migrations, atomic idempotent capture and
EPCIS queries, on SQLite (default) or PostgreSQL.

Typical use::

    engine = make_engine(get_settings().effective_database_url)
    migrate(engine)
    result = capture_events(engine, parse_document(body, content_type), organisation_id=1)
    page = query_events(engine, {"MATCH_epc": "urn:epc:idpat:sgtin:0614141.812345.*"})
"""

from ledger.store.capture import (
    CapturedRecord,
    CaptureResult,
    capture_events,
    capture_events_in,
    prepare_capture,
    record_failed_capture,
)
from ledger.store.db import make_engine, migrate, session_factory, write_transaction
from ledger.store.query import EventPage, EventQuery, QueryError, parse_query, query_events
from ledger.store.records import StoredEvent

__all__ = [
    "CaptureResult",
    "CapturedRecord",
    "EventPage",
    "EventQuery",
    "QueryError",
    "StoredEvent",
    "capture_events",
    "capture_events_in",
    "make_engine",
    "migrate",
    "parse_query",
    "prepare_capture",
    "query_events",
    "record_failed_capture",
    "session_factory",
    "write_transaction",
]
