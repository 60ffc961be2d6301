"""Error declarations through the real API (EPCIS 2.0 section 7.4.1.2).

A declaration is a copy of the event it declares in error with ``errorDeclaration``; it has the
event's CBV 2.0 hash, and used to be dropped as a re-capture of the event (202, never stored).
Now it is stored and anchored as a record of its own, readers see it (``GET /events``,
``EXISTS_errorDeclaration``, the trail and its page), a second different declaration is a 409
and the same declaration again stays idempotent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from ledger.audit import Auditor
from ledger.chain import ChainClient
from ledger.store.models import Event
from tests.api.conftest import Api, Member, admit, capture, event_list
from tests.helpers import document, gtin, object_event

EVENT_ID = "urn:uuid:3f9c2b1a-5d4e-4f6a-8b7c-9d0e1f2a3b4c"
CORRECTIVE_ID = "urn:uuid:4a0d3c2b-6e5f-4a7b-9c8d-0e1f2a3b4c5d"
DECLARED = {
    "declarationTime": "2026-01-06T09:00:00.000+08:00",
    "reason": "incorrect_data",
    "correctiveEventIDs": [CORRECTIVE_ID],
}


@pytest.fixture(scope="module")
def app(make_api: Callable[..., Api]) -> Api:
    """An app with a database of its own (the audit below covers all of it)."""
    return make_api()


def captured(api: Api, member: Member, *events: dict[str, Any]) -> None:
    """POST /capture of ``events``, accepted."""
    answer = capture(api, member.key, document(*events))
    assert answer.status_code == 202, answer.text


def trail(api: Api, path: str) -> dict[str, Any]:
    """The JSON trail at ``path``."""
    answer = api.get(path, headers={"Accept": "application/json"})
    assert answer.status_code == 200, answer.text
    data: dict[str, Any] = answer.json()
    return data


def test_a_declaration_is_stored_anchored_shown_and_audited(app: Api) -> None:
    member = admit(app, "Declaring Foods")
    start = app.services.chain.w3.eth.block_number + 1
    item = f"https://id.gs1.org/01/{gtin(member.prefix)}/21/DECL1"
    event = object_event(epcs=[item], eventID=EVENT_ID)
    captured(app, member, event)
    assert app.drain() == 1
    path = f"/01/{gtin(member.prefix)}/21/DECL1"
    before = trail(app, path)
    assert [e["declared_in_error"] for e in before["events"]] == [None]

    declaration = {**event, "errorDeclaration": DECLARED}
    captured(app, member, declaration)
    # Both records are stored: the declaration is not taken for a re-capture of the event.
    both = app.get(f"/events?EQ_eventID={quote(EVENT_ID)}", key=member.key)
    assert both.status_code == 200, both.text
    listed = event_list(both.json())
    assert [e.get("errorDeclaration") for e in listed] == [None, DECLARED]
    only = app.get("/events?EXISTS_errorDeclaration=", key=member.key)
    assert [e["eventID"] for e in event_list(only.json())] == [EVENT_ID]
    assert event_list(only.json())[0]["errorDeclaration"] == DECLARED
    one = app.get(f"/events/{quote(EVENT_ID, safe='')}", key=member.key)
    assert event_list(one.json())[0]["errorDeclaration"] == DECLARED
    bad = app.get("/events?EXISTS_errorDeclaration=maybe", key=member.key)
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["field"] == "EXISTS_errorDeclaration"

    # The same declaration again: idempotent. Another declaration of the event: 409.
    captured(app, member, declaration)
    other = {**event, "errorDeclaration": {**DECLARED, "reason": "did_not_occur"}}
    refused = capture(app, member.key, document(other))
    assert refused.status_code == 409, refused.text
    problem = refused.json()
    assert problem["title"] == "Already declared in error"
    assert problem["errors"][0]["field"] == "epcisBody.eventList[0].errorDeclaration"
    assert "already declared in error" in problem["errors"][0]["reason"]
    again = app.get(f"/events?EQ_eventID={quote(EVENT_ID)}", key=member.key)
    assert len(event_list(again.json())) == 2

    # Anchored like any event; the trail marks the event declared in error, same verdict.
    assert app.drain() == 1
    after = trail(app, path)
    assert after["verdict"] == before["verdict"]
    marks = [e["declared_in_error"] for e in after["events"]]
    expected = {
        "declaration_time": DECLARED["declarationTime"],
        "reason": "incorrect_data",
        "corrective_event_ids": [CORRECTIVE_ID],
    }
    assert marks == [expected, expected]
    assert [e["verification"]["status"] for e in after["events"]] == ["verified", "verified"]
    assert [bool(e["event"].get("errorDeclaration")) for e in after["events"]] == [False, True]
    for lang, label, reason in (
        ("en", "Declared in error", "incorrect data"),
        ("zh", "已声明为错误", "数据有误"),
    ):
        page = app.get(f"{path}?lang={lang}", headers={"Accept": "text/html"})
        assert page.status_code == 200
        assert label in page.text
        assert reason in page.text
        assert CORRECTIVE_ID in page.text

    # The declaration record itself verifies against the chain; the audit is clean.
    verifier = app.services.verifier()
    pks = sorted(_pks(app))
    assert [verifier.verify_event(pk).status for pk in pks] == ["verified", "verified"]
    s = app.services
    report = Auditor(
        s.engine, ChainClient(s.settings.effective_rpc_url), s.deployment(), workers=1
    ).run(from_block=start)
    assert report.findings == []


def _pks(app: Api) -> list[int]:
    """The ids of the stored records carrying :data:`EVENT_ID`."""
    table: sa.Table = Event.__table__  # type: ignore[attr-defined]
    with app.services.engine.connect() as connection:
        return list(
            connection.execute(sa.select(table.c.id).where(table.c.event_id == EVENT_ID)).scalars()
        )


def test_post_events_stores_a_declaration_of_an_event_captured_elsewhere(app: Api) -> None:
    member = admit(app, "Declaring Elsewhere")
    item = f"https://id.gs1.org/01/{gtin(member.prefix)}/21/DECL2"
    # The event itself was never captured here: its declaration is stored all the same.
    event = object_event(epcs=[item], eventID=EVENT_ID + "-2")
    body = {"@context": ["https://ref.gs1.org/standards/epcis/epcis-context.jsonld"], **event}
    declared = {**body, "errorDeclaration": DECLARED}
    first = app.post("/events", json=declared, key=member.key)
    assert first.status_code == 201, first.text
    again = app.post("/events", json=declared, key=member.key)
    assert again.status_code == 409
    original = app.post("/events", json=body, key=member.key)
    assert original.status_code == 201, original.text
