"""Read grants over HTTP (POST/GET/DELETE /grants): a grant shows the grantee the grantor's
private events about its scope at once, a revocation hides them again; only the grantor
revokes; refusals are problems naming their field. Also a member's default visibility
(PATCH /members/{org_id}, shown in GET /members/{org_id} and /me) and the operator's auditor
keys (/keys)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest

from tests.api.conftest import ADMIN_KEY, Api, Member, admit, event_list
from tests.helpers import DL, document, gln, gtin, object_event


@pytest.fixture(scope="module")
def owner(api: Api) -> Member:
    """The grantor: a brand owner recording privately."""
    return admit(api, "Grant Owner", roles=("recorder", "auditor"))


@pytest.fixture(scope="module")
def partner(api: Api) -> Member:
    """The grantee."""
    return admit(api, "Grant Partner")


@pytest.fixture(scope="module")
def outsider(api: Api) -> Member:
    """A member no grant names."""
    return admit(api, "Grant Outsider")


def item(member: Member, serial: str) -> str:
    """An SGTIN of ``member``'s first GTIN, as a Digital Link."""
    return f"{DL}/01/{gtin(member.prefix)}/21/{serial}"


def record(api: Api, member: Member, epcs: list[str], visibility: str | None = "private") -> str:
    """Commission ``epcs`` for ``member`` with ``visibility``; the event's eventID."""
    event_id = f"urn:uuid:{uuid.uuid4()}"
    event = object_event(
        epcs=epcs,
        action="ADD",
        biz_step="commissioning",
        disposition="active",
        location=f"{DL}/414/{gln(member.prefix)}",
        eventID=event_id,
    )
    headers = {"Content-Type": "application/ld+json"}
    if visibility is not None:
        headers["GS1-Visibility"] = visibility
    answer = api.post(
        "/capture", content=json.dumps(document(event)), headers=headers, key=member.key
    )
    assert answer.status_code in (201, 202), answer.text
    return event_id


def seen(api: Api, key: str, **params: str) -> set[str]:
    """The eventIDs ``GET /events`` answers ``key`` for ``params``."""
    answer = api.get("/events", params=params, key=key)
    assert answer.status_code == 200, answer.text
    return {e["eventID"] for e in event_list(answer.json())}


def problem(answer: httpx.Response, status: int, field: str | None = None) -> dict[str, Any]:
    """Check an RFC 9457 problem of ``status`` (naming ``field`` when given)."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = answer.json()
    if field is not None:
        assert field in {e["field"] for e in body["errors"]}, body
    return body


def grant(api: Api, grantor: Member, grantee: Member, kind: str, scope: str) -> dict[str, Any]:
    """POST /grants; the grant."""
    answer = api.post(
        "/grants",
        json={"grantee": grantee.org_id, "scope_kind": kind, "scope": scope},
        key=grantor.key,
    )
    assert answer.status_code == 201, answer.text
    assert answer.headers["Location"] == f"/grants/{answer.json()['id']}"
    body: dict[str, Any] = answer.json()
    return body


def test_grant_shows_private_events_until_revoked(
    api: Api, owner: Member, partner: Member, outsider: Member
) -> None:
    epc, other = item(owner, "G1"), item(owner, "G2")
    event_id = record(api, owner, [epc])
    other_id = record(api, owner, [other])
    assert seen(api, partner.key, MATCH_anyEPC=epc) == set()

    given = grant(api, owner, partner, "identifier", epc)
    assert given["grantor"] == owner.org_id
    assert given["grantee"] == partner.org_id
    assert given["scope_key"] == epc
    assert given["revoked_at"] is None
    assert seen(api, partner.key, MATCH_anyEPC=epc) == {event_id}
    assert other_id not in seen(api, partner.key, MATCH_anyEPC=other)
    assert seen(api, outsider.key, MATCH_anyEPC=epc) == set()
    single = api.get(f"/events/{event_id}", key=partner.key)
    assert single.status_code == 200, single.text

    listed = api.get("/grants", key=partner.key).json()
    assert given["id"] in {g["id"] for g in listed["received"]}
    assert given["id"] in {g["id"] for g in api.get("/grants", key=owner.key).json()["given"]}
    # The owner's auditor key lists its member's grants too.
    assert owner.auditor_key is not None
    audited = api.get("/grants", key=owner.auditor_key)
    assert given["id"] in {g["id"] for g in audited.json()["given"]}

    # Only the grantor revokes; another member's grant is answered as missing.
    for stranger in (partner, outsider):
        problem(api.delete(f"/grants/{given['id']}", key=stranger.key), 404, "grant_id")
    assert seen(api, partner.key, MATCH_anyEPC=epc) == {event_id}
    assert api.delete(f"/grants/{given['id']}", key=owner.key).status_code == 204
    assert seen(api, partner.key, MATCH_anyEPC=epc) == set()
    assert api.get(f"/events/{event_id}", key=partner.key).status_code == 404
    assert api.delete(f"/grants/{given['id']}", key=owner.key).status_code == 204
    after = api.get("/grants", key=partner.key).json()["received"]
    assert given["id"] not in {g["id"] for g in after}
    revoked = api.get("/grants", params={"include_revoked": "true"}, key=partner.key).json()
    (kept,) = [g for g in revoked["received"] if g["id"] == given["id"]]
    assert kept["revoked_at"] is not None


def test_lot_and_prefix_grants(api: Api, owner: Member, partner: Member) -> None:
    lot = f"{DL}/01/{gtin(owner.prefix, 2)}/10/LOTG"
    in_lot = record(api, owner, [f"{lot}/21/1"])
    elsewhere = record(api, owner, [item(owner, "G9")])
    grant(api, owner, partner, "lot", lot)
    visible = seen(api, partner.key, EQ_bizStep="commissioning")
    assert in_lot in visible
    assert elsewhere not in visible
    whole = grant(api, owner, partner, "prefix", owner.prefix)
    assert whole["scope_key"] == f"gs1:{owner.prefix}"
    assert {in_lot, elsewhere} <= seen(api, partner.key, EQ_bizStep="commissioning")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"scope_kind": "identifier", "scope": "not an identifier"}, "scope"),
        ({"scope_kind": "lot", "scope": "urn:epc:id:sgtin:0614141.812345.1"}, "scope"),
        ({"scope_kind": "batch", "scope": "0614141"}, "scope_kind"),
        ({"scope_kind": "prefix", "scope": "0614141", "grantee": "0x" + "0" * 64}, "grantee"),
        ({"scope_kind": "prefix", "scope": "0614141", "grantee": "nobody"}, "grantee"),
    ],
)
def test_refusals_name_their_field(
    api: Api, owner: Member, partner: Member, body: dict[str, str], field: str
) -> None:
    answer = api.post("/grants", json={"grantee": partner.org_id, **body}, key=owner.key)
    problem(answer, 422, field)


def test_who_may_grant(api: Api, owner: Member, partner: Member) -> None:
    body = {"grantee": partner.org_id, "scope_kind": "prefix", "scope": "0614141"}
    problem(api.post("/grants", json=body), 401)
    problem(api.post("/grants", json=body, key=ADMIN_KEY), 403)
    assert owner.auditor_key is not None
    problem(api.post("/grants", json=body, key=owner.auditor_key), 403)
    problem(api.post("/grants", json={**body, "grantee": owner.org_id}, key=owner.key), 422)
    grant(api, owner, partner, "prefix", "0614141")
    problem(api.post("/grants", json=body, key=owner.key), 409, "scope")


def test_default_visibility(api: Api, partner: Member, outsider: Member) -> None:
    member = admit(api, "Default Visibility")
    shown = api.get(f"/members/{member.org_id}", key=ADMIN_KEY).json()
    assert shown["default_visibility"] == "linked"
    assert api.get("/me", key=member.key).json()["default_visibility"] == "linked"
    assert api.get("/me", key=ADMIN_KEY).json()["default_visibility"] is None

    url = f"/members/{member.org_id}"
    changed = api.request("PATCH", url, json={"default_visibility": "private"}, key=member.key)
    assert changed.status_code == 200, changed.text
    assert changed.json()["default_visibility"] == "private"
    assert api.get("/me", key=member.key).json()["default_visibility"] == "private"
    # Captured without a choice: private, so a public reader does not see it.
    epc = item(member, "D1")
    event_id = record(api, member, [epc], visibility=None)
    assert seen(api, member.key, MATCH_anyEPC=epc) == {event_id}
    assert seen(api, outsider.key, MATCH_anyEPC=epc) == set()

    problem(api.request("PATCH", url, json={"default_visibility": "public"}, key=partner.key), 403)
    problem(api.request("PATCH", url, json={"default_visibility": "secret"}, key=member.key), 422)
    problem(api.request("PATCH", url, json={"default_visibility": "public"}), 401)
    by_admin = api.request("PATCH", url, json={"default_visibility": "public"}, key=ADMIN_KEY)
    assert by_admin.json()["default_visibility"] == "public"
    assert api.get(url, key=partner.key).json()["default_visibility"] == "public"


def test_operator_auditor_key(api: Api, owner: Member, outsider: Member) -> None:
    epc = item(owner, "A1")
    event_id = record(api, owner, [epc])
    problem(api.post("/keys", json={"role": "auditor"}, key=owner.key), 403)
    problem(api.post("/keys", json={"role": "recorder"}, key=ADMIN_KEY), 422, "role")
    created = api.post("/keys", json={"role": "auditor", "label": "audit"}, key=ADMIN_KEY)
    assert created.status_code == 201, created.text
    key = created.json()["key"]
    assert created.json()["org_id"] is None
    assert seen(api, key, MATCH_anyEPC=epc) == {event_id}
    assert owner.auditor_key is not None
    assert seen(api, owner.auditor_key, MATCH_anyEPC=epc) == {event_id}
    assert seen(api, outsider.key, MATCH_anyEPC=epc) == set()
    # It reads, it does not write.
    problem(api.post("/members", json={"name": "x"}, key=key), 403)
    key_id = created.json()["key_id"]
    listed = api.get("/keys", key=ADMIN_KEY).json()
    assert key_id in {k["key_id"] for k in listed}
    assert api.delete(f"/keys/{key_id}", key=ADMIN_KEY).status_code == 204
    problem(api.get("/events", key=key), 401)
    admin_id = ADMIN_KEY.split("_")[1]
    problem(api.delete(f"/keys/{admin_id}", key=ADMIN_KEY), 404, "key_id")
