"""Crash suite over HTTP (issue 11): the real API server (uvicorn, its anchor worker inside) on
a real devnet is SIGKILLed K times at seeded moments while a client thread captures N events,
and restarted on the same data dir and database each time; the client retries what was not
acknowledged (and gives up a request in flight after every second kill).

Afterwards every acknowledged event is stored once, listed once by ``GET /events``, anchored
once and verified; a document given up is stored whole or not at all; no root is anchored twice
and the audit is clean. On SQLite and on PostgreSQL (a database of its own). The run is
``bench/apicrashrun.py``; ``TRACECHAIN_RELIABILITY_SCALE`` makes it longer. The kill points
come from a seed; conditions are waited for with generous deadlines and no outcome depends on
when exactly a kill lands.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from bench.apicrashrun import make_plan, run_api_crash
from tests.reliability.helpers import scaled

pytestmark = pytest.mark.slow

SEED = 11
EVENTS = 200
KILLS = 3


def check(figures: dict[str, Any]) -> None:
    """Print N, K, lost, duplicated, stalled (and the rest), then assert every invariant."""
    print(
        f"{figures['database']}: N={figures['events']} K={figures['kills']} "
        f"lost={figures['lost']} duplicated={figures['duplicated']} "
        f"stalled={figures['stalled']} (acknowledged {figures['acknowledged']}, "
        f"given up {figures['abandoned_documents']} documents of which "
        f"{figures['abandoned_stored_events']} events stored, retries {figures['retries']}, "
        f"{figures['elapsed_s']} s)"
    )
    print(json.dumps(figures))
    assert figures["kills"] == scaled(KILLS)
    assert figures["unexpected"] == [], figures["unexpected"]
    assert figures["errors_5xx"] == 0
    assert figures["acknowledged"] > 0
    # Nothing else is stored: what was acknowledged, and what a given-up request committed.
    assert figures["stored"] == figures["acknowledged"] + figures["abandoned_stored_events"]
    assert (figures["lost"], figures["duplicated"], figures["stalled"]) == (0, 0, 0)
    assert figures["half_stored"] == 0
    assert figures["unserved"] == 0
    assert figures["unverified"] == 0, figures["verify_statuses"]
    assert figures["audit_findings"] == 0, figures["audit_summary"]


def test_the_plan_is_the_seeds() -> None:
    """The same seed, the same documents and kill points (a failure is repeatable)."""
    first, again = make_plan(EVENTS, KILLS, SEED), make_plan(EVENTS, KILLS, SEED)
    assert first == again
    assert first.events == EVENTS
    assert len(first.kills) == KILLS
    assert [k.abandon for k in first.kills] == [False, True, False]
    ids = [i for doc in first.documents for i in doc.event_ids]
    assert len(set(ids)) == len(ids)


def test_api_killed_on_sqlite_loses_doubles_and_stalls_nothing() -> None:
    check(run_api_crash(events=scaled(EVENTS), kills=scaled(KILLS), seed=SEED))


@pytest.mark.postgres
def test_api_killed_on_postgresql_loses_doubles_and_stalls_nothing(
    test_database_url: str,
) -> None:
    figures = run_api_crash(
        events=scaled(EVENTS), kills=scaled(KILLS), seed=SEED, database_url=test_database_url
    )
    check(figures)
