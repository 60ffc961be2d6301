"""Read-side value objects: a stored event as the query API and the anchor worker see it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa

from ledger.events.vocabulary import term_of
from ledger.store.tables import EVENT

__all__ = ["EVENT_COLUMNS", "ErrorDeclaration", "StoredEvent"]


@dataclass(frozen=True, slots=True)
class ErrorDeclaration:
    """The ``errorDeclaration`` of an event (EPCIS 2.0 section 7.4.1.2), as readers show it."""

    declaration_time: str | None
    #: The CBV error reason as its bare term (``incorrect_data``), or the URI as captured.
    reason: str | None
    corrective_event_ids: tuple[str, ...]

    @classmethod
    def of(cls, captured: Mapping[str, Any]) -> ErrorDeclaration | None:
        """The declaration a captured event carries, or None if it declares nothing."""
        member = captured.get("errorDeclaration")
        if not isinstance(member, Mapping):
            return None
        time, reason = member.get("declarationTime"), member.get("reason")
        ids = member.get("correctiveEventIDs")
        return cls(
            declaration_time=time if isinstance(time, str) else None,
            reason=(term_of("errorReason", reason) or reason) if isinstance(reason, str) else None,
            corrective_event_ids=tuple(
                str(i) for i in (ids if isinstance(ids, list) else []) if isinstance(i, str)
            ),
        )


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """One stored event: the JSON exactly as captured plus the ledger's metadata."""

    id: int
    event_hash: str
    hash_id: str
    event_id: str | None
    #: Whether the record is an error declaration (it has ``errorDeclaration``).
    error_declaration: bool
    event_type: str
    event_time: datetime
    record_time: datetime
    #: The event as received (with the document's ``@context`` merged in), as stored.
    captured_json: str
    organisation_id: int
    capture_id: str
    recorder_address: str | None
    primary_id_key: str
    signature: str | None
    anchor_status: str
    batch_id: int | None
    proof: list[str] | None

    @property
    def event(self) -> dict[str, Any]:
        """The captured event, parsed."""
        parsed: dict[str, Any] = json.loads(self.captured_json)
        return parsed

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> StoredEvent:
        """Build from a result row holding :data:`EVENT_COLUMNS`."""
        return cls(**{column.name: row[column.name] for column in EVENT_COLUMNS})


#: The columns a :class:`StoredEvent` is read from (the dataclass fields, in order).
EVENT_COLUMNS: Final[tuple[sa.Column[Any], ...]] = tuple(
    EVENT.c[name] for name in StoredEvent.__dataclass_fields__
)
