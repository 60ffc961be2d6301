"""Our event hash agrees with GS1's reference implementation on generated events."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings

from ledger.events import parse_document
from ledger.events.hashing import hash_id
from tests.ledger.events import epcis_strategies as strategies
from tests.ledger.events.reference import reference_hashes, reference_prehashes


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(strategies.documents(max_events=2))
def test_prehash_and_hash_agree_with_reference(document: dict[str, Any]) -> None:
    ours = parse_document(json.dumps(document).encode(), "application/ld+json")
    theirs = reference_prehashes(document)
    assert [event.prehash for event in ours] == theirs
    assert [event.hash_id for event in ours] == reference_hashes(theirs)
    assert all(event.hash_id == hash_id(event.prehash) for event in ours)
