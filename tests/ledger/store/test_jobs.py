"""Capture jobs as the REST binding lists them, on both back ends."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from ledger.errors import InvalidInputError
from ledger.store.capture import capture_events, record_failed_capture
from ledger.store.db import session_factory
from ledger.store.jobs import CaptureFailure, get_capture_job, list_capture_jobs
from ledger.store.models import OrgRole
from ledger.store.repository import create_organisation
from tests.helpers import sgtin_observation
from tests.ledger.store.documents import parse


def test_an_accepted_job_lists_its_events(engine: Engine, org: int) -> None:
    events = [sgtin_observation([1], eventID="urn:uuid:6f0a5b1e-0000-4000-8000-000000000001"),
              sgtin_observation([2], minute=1)]  # fmt: skip
    result = capture_events(engine, parse(events), organisation_id=org)
    with session_factory(engine)() as session:
        job = get_capture_job(session, result.capture_id)
    assert job is not None
    assert (job.id, job.organisation_id, job.status, job.accepted) == (
        result.capture_id, org, "accepted", True,
    )  # fmt: skip
    assert job.event_count == 2
    assert job.created_at == result.record_time
    assert job.errors == ()
    assert list(job.event_ids) == result.event_ids
    assert job.event_ids[0] == "urn:uuid:6f0a5b1e-0000-4000-8000-000000000001"
    assert job.event_ids[1].startswith("ni:///sha-256;")


def test_a_failed_job_keeps_its_errors(engine: Engine, org: int) -> None:
    errors = [InvalidInputError("bad time", field="epcisBody.eventList[0].eventTime")]
    failed = record_failed_capture(engine, organisation_id=org, errors=errors)
    with session_factory(engine)() as session:
        job = get_capture_job(session, failed)
    assert job is not None
    assert (job.status, job.accepted, job.event_count, job.event_ids) == ("failed", False, 0, ())
    assert job.errors == (
        CaptureFailure(
            problem="invalid-input", field="epcisBody.eventList[0].eventTime", reason="bad time"
        ),
    )


def test_capture_failure_of_an_older_row() -> None:
    """Rows written before problems were kept name only the field and the reason."""
    assert CaptureFailure.of({"field": "$", "reason": "not JSON"}) == CaptureFailure(
        problem=None, field="$", reason="not JSON"
    )
    assert CaptureFailure.of({}) == CaptureFailure(problem=None, field=None, reason="")


def test_a_job_seen_only_by_its_member(engine: Engine, org: int) -> None:
    result = capture_events(engine, parse([sgtin_observation([3])]), organisation_id=org)
    with session_factory(engine)() as session:
        assert get_capture_job(session, result.capture_id, organisation_id=org) is not None
        assert get_capture_job(session, result.capture_id, organisation_id=org + 1) is None
        assert get_capture_job(session, "no-such-capture") is None


def test_pages_newest_first(engine: Engine, org: int) -> None:
    other = create_organisation(
        engine, org_id="0x" + "cd" * 32, name="Other", roles=OrgRole.RECORDER
    )
    assert other.id is not None
    mine = [
        capture_events(engine, parse([sgtin_observation([10])]), organisation_id=org).capture_id,
        record_failed_capture(engine, organisation_id=org, errors=[InvalidInputError("no")]),
        capture_events(engine, parse([sgtin_observation([11])]), organisation_id=org).capture_id,
    ]
    theirs = capture_events(engine, parse([sgtin_observation([12])]), organisation_id=other.id)
    with session_factory(engine)() as session:
        everyone = list_capture_jobs(session, limit=10)
        assert not everyone.more
        keys = [(job.created_at, job.id) for job in everyone.jobs]
        assert keys == sorted(keys, reverse=True)
        assert {job.id for job in everyone.jobs} == {*mine, theirs.capture_id}

        first = list_capture_jobs(session, organisation_id=org, limit=2)
        assert first.more
        assert len(first.jobs) == 2
        last = first.jobs[-1]
        rest = list_capture_jobs(
            session, organisation_id=org, before=(last.created_at, last.id), limit=2
        )
        assert not rest.more
        paged = [job.id for job in (*first.jobs, *rest.jobs)]
        assert paged == [job.id for job in everyone.jobs if job.organisation_id == org]
        assert sorted(paged) == sorted(mine)

        exact = list_capture_jobs(session, organisation_id=org, limit=3)
        assert (len(exact.jobs), exact.more) == (3, False)
        assert list_capture_jobs(session, organisation_id=other.id + org, limit=5).jobs == ()
