"""Capture jobs: the ``capture`` rows as the EPCIS REST binding shows them, newest first.

A job lists the eventIDs of the events its capture stored (:func:`capture_event_ids`) and, of
a failed capture, the errors it was refused for (:class:`CaptureFailure`, as
:func:`~ledger.store.capture.record_failed_capture` wrote them). Reads run in the caller's
session, so one request reads its jobs on one connection.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from ledger.store.capture import capture_event_ids
from ledger.store.tables import CAPTURE

__all__ = ["CaptureFailure", "CaptureJob", "CaptureJobPage", "get_capture_job", "list_capture_jobs"]


@dataclass(frozen=True, slots=True)
class CaptureFailure:
    """One error a failed capture was refused for."""

    #: The problem slug of the error (``invalid-input``, ``duplicate-event-id``...), if kept.
    problem: str | None
    #: The JSON path of the field at fault, if any.
    field: str | None
    reason: str

    @classmethod
    def of(cls, detail: Mapping[str, Any]) -> CaptureFailure:
        """From one element of ``capture.errors`` (``{"problem", "field", "reason"}``; rows
        written before problems were kept have no ``problem``)."""
        problem, field = detail.get("problem"), detail.get("field")
        return cls(
            problem=None if problem is None else str(problem),
            field=None if field is None else str(field),
            reason=str(detail.get("reason", "")),
        )


@dataclass(frozen=True, slots=True)
class CaptureJob:
    """One capture request, accepted whole or failed whole."""

    id: str
    organisation_id: int
    created_at: datetime
    #: One of :data:`~ledger.store.models.CAPTURE_STATUSES`.
    status: str
    event_count: int
    #: Of a failed capture: why; empty for an accepted one.
    errors: tuple[CaptureFailure, ...]
    #: Of an accepted capture: each input event's eventID (else its hash ID), in input order.
    event_ids: tuple[str, ...]

    @property
    def accepted(self) -> bool:
        """Whether the capture was accepted (its events stored)."""
        return self.status == "accepted"


@dataclass(frozen=True, slots=True)
class CaptureJobPage:
    """One page of capture jobs, newest first."""

    jobs: tuple[CaptureJob, ...]
    #: Whether older jobs follow (ask again with ``before`` the last job's key).
    more: bool


_COLUMNS = (
    CAPTURE.c.id,
    CAPTURE.c.organisation_id,
    CAPTURE.c.created_at,
    CAPTURE.c.status,
    CAPTURE.c.event_count,
    CAPTURE.c.errors,
    CAPTURE.c.event_pks,
)


def _job(session: Session, row: sa.RowMapping) -> CaptureJob:
    return CaptureJob(
        id=row["id"],
        organisation_id=row["organisation_id"],
        created_at=row["created_at"],
        status=row["status"],
        event_count=row["event_count"],
        errors=tuple(CaptureFailure.of(detail) for detail in row["errors"] or []),
        event_ids=tuple(capture_event_ids(session.connection(), row["event_pks"] or [])),
    )


def get_capture_job(
    session: Session, capture_id: str, *, organisation_id: int | None = None
) -> CaptureJob | None:
    """The capture job ``capture_id``; None if there is none or, when ``organisation_id`` is
    given, if it is another member's."""
    statement = sa.select(*_COLUMNS).where(CAPTURE.c.id == capture_id)
    found = session.connection().execute(statement).mappings().first()
    if found is None or (
        organisation_id is not None and found["organisation_id"] != organisation_id
    ):
        return None
    return _job(session, found)


def list_capture_jobs(
    session: Session,
    *,
    organisation_id: int | None = None,
    before: tuple[datetime, str] | None = None,
    limit: int = 30,
) -> CaptureJobPage:
    """Up to ``limit`` capture jobs, newest first (ties by id, descending): a member's when
    ``organisation_id`` is given, else everyone's; those older than the job whose
    ``(created_at, id)`` is ``before`` when that is given."""
    statement = sa.select(*_COLUMNS)
    if organisation_id is not None:
        statement = statement.where(CAPTURE.c.organisation_id == organisation_id)
    if before is not None:
        created, last_id = before
        statement = statement.where(
            (CAPTURE.c.created_at < created)
            | ((CAPTURE.c.created_at == created) & (CAPTURE.c.id < last_id))
        )
    statement = statement.order_by(CAPTURE.c.created_at.desc(), CAPTURE.c.id.desc())
    rows = session.connection().execute(statement.limit(limit + 1)).mappings().all()
    return CaptureJobPage(
        jobs=tuple(_job(session, row) for row in rows[:limit]), more=len(rows) > limit
    )
