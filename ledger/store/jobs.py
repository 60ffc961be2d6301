"""Capture jobs: the ``capture`` rows as the EPCIS REST binding shows them, newest first.

A job lists the eventIDs of the events its capture stored and, of
a failed capture, the errors it was refused for (:class:`CaptureFailure`, as
:func:`~ledger.store.capture.record_failed_capture` wrote them). Reads run in the caller's
session, so one request reads its jobs on one connection.

Jobs are read for a :class:`~ledger.visibility.Reader`: the operator reads every job, a
member's keys only their member's (another member's job does not exist for them), and any other
reader none. A job lists only the eventIDs of events its reader may read
(:func:`ledger.store.visibility.visible`): a member capturing again an event another member
recorded privately does not learn its eventID from its own job.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlmodel import Session

from ledger.store.tables import CAPTURE, EVENT
from ledger.store.visibility import visible
from ledger.visibility import Reader, ReaderKind

__all__ = ["CaptureFailure", "CaptureJob", "CaptureJobPage", "get_capture_job", "list_capture_jobs"]

#: Most event ids in one SQL ``IN`` list.
_CHUNK: Final = 500


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
    #: Of an accepted capture: each input event's eventID (else its hash ID), in input order,
    #: of the events the job's reader may read.
    event_ids: tuple[str, ...]
    #: The visibility of the events the capture stored (``None``: it stored none, only
    #: events captured before, or it failed).
    visibility: str | None = None

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


def _event_ids(session: Session, event_pks: Sequence[int], reader: Reader) -> list[str]:
    """Each of ``event_pks``' eventID (else its hash ID), in the given order, of those
    ``reader`` may read."""
    listed: dict[int, str] = {}
    allowed = visible(reader)
    distinct = sorted(set(event_pks))
    for start in range(0, len(distinct), _CHUNK):
        statement = sa.select(EVENT.c.id, EVENT.c.event_id, EVENT.c.hash_id).where(
            EVENT.c.id.in_(distinct[start : start + _CHUNK])
        )
        if allowed is not None:
            statement = statement.where(allowed)
        rows = session.connection().execute(statement)
        listed.update((pk, event_id or hash_id) for pk, event_id, hash_id in rows)
    return [listed[pk] for pk in event_pks if pk in listed]


def _visibility(session: Session, capture_id: str) -> str | None:
    """The visibility of the events capture ``capture_id`` stored (one per capture)."""
    statement = sa.select(EVENT.c.visibility).where(EVENT.c.capture_id == capture_id).limit(1)
    found = session.connection().execute(statement).scalar()
    return None if found is None else str(found)


def _job(session: Session, row: sa.RowMapping, reader: Reader) -> CaptureJob:
    accepted = row["status"] == "accepted"
    return CaptureJob(
        id=row["id"],
        organisation_id=row["organisation_id"],
        created_at=row["created_at"],
        status=row["status"],
        event_count=row["event_count"],
        errors=tuple(CaptureFailure.of(detail) for detail in row["errors"] or []),
        event_ids=tuple(_event_ids(session, row["event_pks"] or [], reader)),
        visibility=_visibility(session, row["id"]) if accepted else None,
    )


def _whose(reader: Reader) -> sa.ColumnElement[bool] | None:
    """The condition on ``capture`` of the jobs ``reader`` reads (None: every job)."""
    if reader.kind is ReaderKind.OPERATOR:
        return None
    if reader.kind is ReaderKind.MEMBER and reader.organisation_id is not None:
        return CAPTURE.c.organisation_id == reader.organisation_id
    return sa.false()


def get_capture_job(session: Session, capture_id: str, *, reader: Reader) -> CaptureJob | None:
    """The capture job ``capture_id`` as ``reader`` reads it; None if there is none or it
    is not one ``reader`` reads (another member's)."""
    statement = sa.select(*_COLUMNS).where(CAPTURE.c.id == capture_id)
    whose = _whose(reader)
    if whose is not None:
        statement = statement.where(whose)
    found = session.connection().execute(statement).mappings().first()
    return None if found is None else _job(session, found, reader)


def list_capture_jobs(
    session: Session,
    *,
    reader: Reader,
    before: tuple[datetime, str] | None = None,
    limit: int = 30,
) -> CaptureJobPage:
    """Up to ``limit`` capture jobs ``reader`` reads (the operator: everyone's; a member: its
    own), newest first (ties by id, descending); those older than the job whose
    ``(created_at, id)`` is ``before`` when that is given."""
    statement = sa.select(*_COLUMNS)
    whose = _whose(reader)
    if whose is not None:
        statement = statement.where(whose)
    if before is not None:
        created, last_id = before
        statement = statement.where(
            (CAPTURE.c.created_at < created)
            | ((CAPTURE.c.created_at == created) & (CAPTURE.c.id < last_id))
        )
    statement = statement.order_by(CAPTURE.c.created_at.desc(), CAPTURE.c.id.desc())
    rows = session.connection().execute(statement.limit(limit + 1)).mappings().all()
    return CaptureJobPage(
        jobs=tuple(_job(session, row, reader) for row in rows[:limit]), more=len(rows) > limit
    )
