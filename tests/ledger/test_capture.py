"""The one capture path (:func:`ledger.capture.capture_document`) on a real SQLite database and
the session devnet's membership: limits, failed captures, prefix ownership, all or nothing."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ledger.capture import FailedCaptureError, NotSingleEventError, capture_document
from ledger.errors import TooManyEventsError
from ledger.permissions import NotPrefixOwnerError, UnassignedPrefixError
from ledger.store.models import Capture, Event, metadata
from tests.helpers import document_bytes, sgtin_event, unique_prefix
from tests.ledger.conftest import MakeMember

_capture = metadata.tables[Capture.__tablename__]
_event = metadata.tables[Event.__tablename__]
JSON_LD = "application/ld+json"


def rows(engine: Engine) -> tuple[list[tuple[str, int]], int]:
    """The capture jobs (status, event count) and how many events are stored."""
    with engine.connect() as conn:
        jobs = conn.execute(sa.select(_capture.c.status, _capture.c.event_count)).all()
        events = conn.execute(sa.select(sa.func.count()).select_from(_event)).scalar_one()
    return [(status, count) for status, count in jobs], int(events)


def test_only_the_prefix_owner_commissions(engine: Engine, make_member: MakeMember) -> None:
    prefix = unique_prefix("08")
    owner = make_member("Owner", prefixes=(prefix,))
    other = make_member("Other")
    mine = sgtin_event(company_prefix=prefix)
    stray = sgtin_event(company_prefix=unique_prefix("08"))
    with pytest.raises(NotPrefixOwnerError) as refused:
        capture_document(engine, document_bytes(mine, stray), JSON_LD, organisation_id=other.id,
                         max_events=10)  # fmt: skip
    # One error per refused identifier, each of the class that says why; the first decides.
    assert [(type(e), e.field) for e in refused.value.errors] == [
        (NotPrefixOwnerError, "epcisBody.eventList[0].epcList[0]"),
        (UnassignedPrefixError, "epcisBody.eventList[1].epcList[0]"),
    ]
    assert refused.value.reason.endswith("(and 1 more)")
    with pytest.raises(UnassignedPrefixError):
        capture_document(engine, document_bytes(stray), JSON_LD, organisation_id=owner.id,
                         max_events=10)  # fmt: skip
    assert rows(engine) == ([], 0)
    captured = capture_document(
        engine, document_bytes(mine), JSON_LD, organisation_id=owner.id, max_events=10
    )
    assert captured.result.new_count == 1
    assert rows(engine) == ([("accepted", 1)], 1)


def test_refused_documents(engine: Engine, make_member: MakeMember) -> None:
    member = make_member("Refused", prefixes=(prefix := unique_prefix("08"),))
    events = [sgtin_event(company_prefix=prefix) for _ in range(3)]
    with pytest.raises(TooManyEventsError) as too_many:
        capture_document(engine, document_bytes(*events), JSON_LD, organisation_id=member.id,
                         max_events=2)  # fmt: skip
    assert (too_many.value.count, too_many.value.limit) == (3, 2)
    assert too_many.value.field == "epcisBody.eventList"
    with pytest.raises(NotSingleEventError) as not_one:
        capture_document(engine, document_bytes(*events[:2]), JSON_LD, organisation_id=member.id,
                         max_events=2, single_event=True)  # fmt: skip
    assert not_one.value.count == 2
    # Neither is a capture job; a body that is no EPCIS document is a failed one.
    assert rows(engine) == ([], 0)
    with pytest.raises(FailedCaptureError) as failed:
        capture_document(engine, b'{"type": "EPCISDocument"}', JSON_LD,
                         organisation_id=member.id, max_events=2)  # fmt: skip
    assert failed.value.errors
    with engine.connect() as conn:
        job = conn.execute(
            sa.select(_capture.c.status, _capture.c.errors).where(
                _capture.c.id == failed.value.capture_id
            )
        ).one()
    assert job.status == "failed"
    assert [e["field"] for e in job.errors] == [e.field for e in failed.value.errors]
    assert rows(engine) == ([("failed", 0)], 0)
