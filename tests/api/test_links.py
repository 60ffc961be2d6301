"""Capability links over HTTP (/links): a link reads only its scope and time range, as its
issuer sees it, without an account (``?access=`` or a Bearer token); expired, revoked and
forged tokens are 401 problems; a token never writes; every use is logged for the issuer, who
alone lists and revokes its links."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ledger.access import issue_link
from tests.api.conftest import ADMIN_KEY, Api, Member, admit, event_list, path_of
from tests.api.test_grants import item, problem
from tests.helpers import DL, document, gln, object_event, timestamp

START = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def issuer(api: Api) -> Member:
    """A member issuing links to a regulator."""
    return admit(api, "Link Issuer", roles=("recorder", "auditor"))


@pytest.fixture(scope="module")
def rival(api: Api) -> Member:
    """Another member."""
    return admit(api, "Link Rival")


def record(api: Api, member: Member, epc: str, hours: int, step: str = "commissioning") -> str:
    """A private event of ``member`` about ``epc``, ``hours`` after :data:`START`; its
    eventID."""
    event_id = f"urn:uuid:{uuid.uuid4()}"
    event = object_event(
        epcs=[epc],
        action="ADD" if step == "commissioning" else "OBSERVE",
        biz_step=step,
        disposition="active",
        location=f"{DL}/414/{gln(member.prefix)}",
        event_time=timestamp(START + timedelta(hours=hours)),
        eventID=event_id,
    )
    answer = api.post(
        "/capture",
        content=json.dumps(document(event)),
        headers={"Content-Type": "application/ld+json", "GS1-Visibility": "private"},
        key=member.key,
    )
    assert answer.status_code in (201, 202), answer.text
    return event_id


def link(api: Api, key: str, **body: Any) -> dict[str, Any]:
    """POST /links; the new link with its token."""
    answer = api.post("/links", json=body, key=key)
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    return created


def ids(answer: Any) -> set[str]:
    """The eventIDs of a GET /events answer."""
    assert answer.status_code == 200, answer.text
    return {e["eventID"] for e in event_list(answer.json())}


def test_link_reads_its_scope_and_range(api: Api, issuer: Member, rival: Member) -> None:
    epc, other = item(issuer, "L1"), item(issuer, "L2")
    early = record(api, issuer, epc, 0)
    late = record(api, issuer, epc, 5, step="shipping")
    outside = record(api, issuer, other, 5)
    created = link(
        api,
        issuer.key,
        scope_kind="identifier",
        scope=epc,
        since=timestamp(START + timedelta(hours=1)),
        label="inspection",
    )
    token = created["token"]
    assert token.startswith("tcl_")
    assert created["issuer"] == issuer.org_id
    assert created["scope_key"] == epc
    assert created["active"] is True
    assert created["url"] == f"http://tracechain.test/events?access={token}"

    # The ready URL, without an account: the link's events only.
    assert ids(api.get(path_of(created["url"]))) == {late}
    bearer = api.get("/events", key=token)
    assert ids(bearer) == {late}
    assert ids(api.get("/events", params={"access": token, "MATCH_anyEPC": other})) == set()
    assert early not in ids(api.get("/events", params={"access": token, "MATCH_anyEPC": epc}))
    assert api.get(f"/events/{late}", params={"access": token}).status_code == 200
    for hidden in (early, outside):
        assert api.get(f"/events/{hidden}", params={"access": token}).status_code == 404

    # A rival's link to the same identifier cannot read the issuer's private events.
    theirs = link(api, rival.key, scope_kind="identifier", scope=epc)
    assert ids(api.get("/events", params={"access": theirs["token"]})) == set()

    uses = api.get(f"/links/{created['id']}/uses", key=issuer.key)
    assert uses.status_code == 200, uses.text
    logged = uses.json()
    assert len(logged) == 7
    assert all(token not in u["path"] for u in logged)
    assert {u["method"] for u in logged} == {"GET"}
    assert {u["status"] for u in logged} == {200, 404}
    assert any(u["path"].startswith("/events?MATCH_anyEPC=") for u in logged)
    assert all(u["client"] for u in logged)
    listed = {x["id"]: x for x in api.get("/links", key=issuer.key).json()}
    assert listed[created["id"]]["uses"] == 7
    assert "token" not in listed[created["id"]]


def test_admin_link_reads_every_member_in_scope(api: Api, issuer: Member, rival: Member) -> None:
    mine, theirs = (
        record(api, issuer, item(issuer, "A1"), 1),
        record(api, rival, item(rival, "A1"), 1),
    )
    created = link(api, ADMIN_KEY, scope_kind="prefix", scope=rival.prefix)
    assert created["issuer"] is None
    seen = ids(api.get("/events", params={"access": created["token"]}))
    assert theirs in seen
    assert mine not in seen
    assert created["id"] in {x["id"] for x in api.get("/links", key=ADMIN_KEY).json()}
    assert created["id"] not in {x["id"] for x in api.get("/links", key=rival.key).json()}


def test_expired_revoked_and_forged_tokens(api: Api, issuer: Member) -> None:
    epc = item(issuer, "R1")
    record(api, issuer, epc, 2)
    created = link(api, issuer.key, scope_kind="identifier", scope=epc)
    token = created["token"]
    assert ids(api.get("/events", key=token))

    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    unknown = f"tcl_{'0' * 32}_{token.rsplit('_', 1)[1]}"
    for bad in (forged, unknown, "tcl_nonsense"):
        body = problem(api.get("/events", params={"access": bad}), 401, "access")
        assert body["type"].endswith("/problems/invalid-credentials")
        problem(api.get("/events", key=bad), 401)

    # An expired link (issued in the past on the app's own database).
    past = datetime.now(UTC) - timedelta(days=10)
    stale, stale_token = issue_link(
        api.services.engine,
        issuer_id=None,
        issued_by="test",
        scope_kind="identifier",
        scope=epc,
        expires_at=past + timedelta(days=1),
        now=past,
    )
    body = problem(api.get("/events", params={"access": stale_token}), 401, "access")
    assert "expired" in body["detail"]
    admin_links = {x["id"]: x for x in api.get("/links", key=ADMIN_KEY).json()}
    assert admin_links[stale.id]["active"] is False
    assert admin_links[stale.id]["uses"] == 1

    # Revoked: refused from the next request on, and the refusal is logged.
    problem(api.delete(f"/links/{created['id']}", key=ADMIN_KEY), 404, "link_id")
    assert api.delete(f"/links/{created['id']}", key=issuer.key).status_code == 204
    body = problem(api.get("/events", params={"access": token}), 401, "access")
    assert "revoked" in body["detail"]
    uses = api.get(f"/links/{created['id']}/uses", key=issuer.key).json()
    assert [u["status"] for u in uses][:1] == [401]
    listed = {x["id"]: x for x in api.get("/links", key=issuer.key).json()}
    assert listed[created["id"]]["active"] is False
    assert listed[created["id"]]["revoked_at"] is not None


def test_a_token_never_writes(api: Api, issuer: Member) -> None:
    created = link(api, issuer.key, scope_kind="prefix", scope=issuer.prefix)
    token = created["token"]
    body = json.dumps(document(object_event(epcs=[item(issuer, "W1")])))
    headers = {"Content-Type": "application/ld+json"}
    problem(api.post("/capture", content=body, headers=headers, key=token), 401)
    problem(api.post("/capture", content=body, headers=headers, params={"access": token}), 401)
    problem(api.post("/links", json={"scope_kind": "prefix", "scope": "0614141"}, key=token), 401)
    problem(api.get("/me", key=token), 401)
    problem(api.get("/links", params={"access": token}), 401)
    # A key and a token at once is ambiguous.
    problem(api.get("/events", params={"access": token}, key=issuer.key), 400, "access")


def test_only_the_issuer_manages_its_links(api: Api, issuer: Member, rival: Member) -> None:
    created = link(api, issuer.key, scope_kind="prefix", scope=issuer.prefix)
    link_id = created["id"]
    assert link_id not in {x["id"] for x in api.get("/links", key=rival.key).json()}
    problem(api.get(f"/links/{link_id}/uses", key=rival.key), 404, "link_id")
    problem(api.get(f"/links/{link_id}/uses", key=ADMIN_KEY), 404, "link_id")
    problem(api.delete(f"/links/{link_id}", key=rival.key), 404, "link_id")
    assert issuer.auditor_key is not None
    problem(
        api.post(
            "/links", json={"scope_kind": "prefix", "scope": "0614141"}, key=issuer.auditor_key
        ),
        403,
    )
    problem(api.get("/links"), 401)
    assert api.get(f"/links/{link_id}/uses", key=issuer.key).json() == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"scope_kind": "identifier", "scope": "nonsense"}, "scope"),
        ({"scope_kind": "lot", "scope": "0614141"}, "scope"),
        (
            {"scope_kind": "prefix", "scope": "0614141", "expires_at": "2020-01-01T00:00:00Z"},
            "expires_at",
        ),
        (
            {"scope_kind": "prefix", "scope": "0614141", "expires_at": "2099-01-01T00:00:00Z"},
            "expires_at",
        ),
        (
            {
                "scope_kind": "prefix",
                "scope": "0614141",
                "since": "2026-02-01T00:00:00Z",
                "until": "2026-01-01T00:00:00Z",
            },
            "until",
        ),
        ({"scope_kind": "prefix", "scope": "0614141", "since": 0}, "since"),
    ],
)
def test_refusals_name_their_field(
    api: Api, issuer: Member, body: dict[str, Any], field: str
) -> None:
    problem(api.post("/links", json=body, key=issuer.key), 422, field)
