"""Capture jobs as the REST binding lists them, on both back ends."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from ledger.errors import InvalidInputError
from ledger.store.capture import capture_events, record_failed_capture
from ledger.store.db import session_factory
from ledger.store.jobs import CaptureFailure, get_capture_job, list_capture_jobs
from ledger.store.models import OrgRole
from ledger.store.repository import create_organisation
from ledger.visibility import Audience, Reader, Visibility
from tests.helpers import sgtin_observation
from tests.ledger.store.documents import parse

OPERATOR = Reader.operator()


def test_an_accepted_job_lists_its_events(engine: Engine, org: int) -> None:
    events = [sgtin_observation([1], eventID="urn:uuid:6f0a5b1e-0000-4000-8000-000000000001"),
              sgtin_observation([2], minute=1)]  # fmt: skip
    result = capture_events(engine, parse(events), organisation_id=org)
    with session_factory(engine)() as session:
        job = get_capture_job(session, result.capture_id, reader=OPERATOR)
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
        job = get_capture_job(session, failed, reader=OPERATOR)
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
        assert get_capture_job(session, result.capture_id, reader=Reader.member(org)) is not None
        assert get_capture_job(session, result.capture_id, reader=Reader.member(org + 1)) is None
        assert get_capture_job(session, result.capture_id, reader=Reader.public()) is None
        assert get_capture_job(session, "no-such-capture", reader=OPERATOR) is None


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
        everyone = list_capture_jobs(session, reader=OPERATOR, limit=10)
        assert not everyone.more
        keys = [(job.created_at, job.id) for job in everyone.jobs]
        assert keys == sorted(keys, reverse=True)
        assert {job.id for job in everyone.jobs} == {*mine, theirs.capture_id}

        first = list_capture_jobs(session, reader=Reader.member(org), limit=2)
        assert first.more
        assert len(first.jobs) == 2
        last = first.jobs[-1]
        rest = list_capture_jobs(
            session, reader=Reader.member(org), before=(last.created_at, last.id), limit=2
        )
        assert not rest.more
        paged = [job.id for job in (*first.jobs, *rest.jobs)]
        assert paged == [job.id for job in everyone.jobs if job.organisation_id == org]
        assert sorted(paged) == sorted(mine)

        exact = list_capture_jobs(session, reader=Reader.member(org), limit=3)
        assert (len(exact.jobs), exact.more) == (3, False)
        assert list_capture_jobs(session, reader=Reader.member(other.id + org), limit=5).jobs == ()


def test_a_job_lists_only_the_events_its_reader_reads(engine: Engine, org: int) -> None:
    """A member capturing again an event another member recorded privately sees its own job,
    without that event's eventID; the operator sees it; the job says the visibility chosen."""
    other = create_organisation(
        engine, org_id="0x" + "ce" * 32, name="Private one", roles=OrgRole.RECORDER
    )
    assert other.id is not None
    hidden = sgtin_observation([20], eventID="urn:uuid:6f0a5b1e-0000-4000-8000-000000000020")
    private = Audience(Visibility.PRIVATE)
    first = capture_events(engine, parse([hidden]), organisation_id=other.id, audience=private)
    again = capture_events(engine, parse([hidden, sgtin_observation([21])]), organisation_id=org)
    with session_factory(engine)() as session:
        theirs = get_capture_job(session, first.capture_id, reader=Reader.member(other.id))
        mine = get_capture_job(session, again.capture_id, reader=Reader.member(org))
        everything = get_capture_job(session, again.capture_id, reader=OPERATOR)
    assert theirs is not None
    assert theirs.visibility == "private"
    assert list(theirs.event_ids) == ["urn:uuid:6f0a5b1e-0000-4000-8000-000000000020"]
    assert mine is not None
    assert everything is not None
    assert list(everything.event_ids) == again.event_ids
    assert list(mine.event_ids) == again.event_ids[1:]
    assert mine.visibility == "linked"
