"""Every way in which a caller is refused: no key, a bad or revoked key, the wrong role, another
member's prefix, a suspended member."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from api.app import ADMIN_KEY_FILE
from api.auth import bootstrap_admin_key
from devnet.launcher import ADMIN_PASSPHRASE_ENV, Devnet
from ledger.errors import ConfigurationError
from ledger.store.db import make_engine, migrate
from tests.api.conftest import ADMIN_KEY, Api, Member, admit, capture, new_batch
from tests.helpers import document, gln, gtin, object_event, unique_prefix


def problem(answer: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    """Check that ``answer`` is an RFC 9457 problem of ``status`` and ``slug``."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = answer.json()
    assert body["status"] == status
    assert body["type"].endswith(f"/problems/{slug}"), body
    assert body["title"]
    assert body["detail"]
    assert isinstance(body["errors"], list)
    return body


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("POST", "/capture"),
        ("POST", "/events"),
        ("POST", "/batches"),
        ("GET", "/events"),
        ("GET", "/capture"),
        ("POST", "/members"),
        ("GET", "/members"),
        ("GET", "/me"),
    ],
)
def test_no_key(api: Api, method: str, url: str) -> None:
    """Member and admin endpoints need a key: 401 with a Bearer challenge."""
    answer = api.request(method, url, json={})
    body = problem(answer, 401, "unauthorized")
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert body["errors"] == [{"field": "Authorization", "reason": body["detail"]}]


@pytest.mark.parametrize(
    "key",
    [
        "not-a-key",
        "tc_short_x",
        "tc_0123456789ab_" + "x" * 43,  # well formed, never issued
        ADMIN_KEY[:-1] + "t",  # the admin's key id with another secret
    ],
)
def test_bad_key(api: Api, key: str) -> None:
    """A malformed, unknown or forged key is refused."""
    problem(api.get("/me", key=key), 401, "invalid-credentials")
    problem(api.get("/me", headers={"X-API-Key": key}), 401, "invalid-credentials")


def test_x_api_key_header(api: Api, supplier: Member) -> None:
    """The key may come in X-API-Key instead of Authorization."""
    answer = api.get("/me", headers={"X-API-Key": supplier.key})
    assert answer.status_code == 200
    assert answer.json()["org_id"] == supplier.org_id
    assert answer.json()["prefixes"] == [f"gs1:{supplier.prefix}"]


def test_revoked_key(api: Api, supplier: Member) -> None:
    """A revoked key stops working at once; the member's other keys keep working."""
    created = api.post(
        f"/members/{supplier.org_id}/api-keys", json={"role": "recorder"}, key=ADMIN_KEY
    ).json()
    assert api.get("/me", key=created["key"]).status_code == 200
    listed = api.get(f"/members/{supplier.org_id}/api-keys", key=supplier.key).json()
    assert created["key_id"] in {k["key_id"] for k in listed}
    assert all("key" not in k for k in listed)  # never shown again
    revoked = api.delete(f"/members/{supplier.org_id}/api-keys/{created['key_id']}", key=ADMIN_KEY)
    assert revoked.status_code == 204
    body = problem(api.get("/me", key=created["key"]), 401, "invalid-credentials")
    assert "revoked" in body["detail"]
    assert api.get("/me", key=supplier.key).status_code == 200


def test_wrong_role(api: Api, supplier: Member, auditor: Member) -> None:
    """Auditors cannot record, recorders cannot administer, the admin records nothing."""
    doc = document(object_event(classes=[f"https://id.gs1.org/01/{gtin(supplier.prefix)}"]))
    problem(capture(api, auditor.key, doc), 403, "wrong-role")
    problem(api.post("/batches", json={}, key=auditor.key), 403, "wrong-role")
    problem(capture(api, ADMIN_KEY, doc), 403, "wrong-role")
    problem(api.post("/members", json={"name": "x"}, key=supplier.key), 403, "wrong-role")
    problem(api.post(f"/members/{supplier.org_id}/suspend", key=supplier.key), 403, "wrong-role")
    problem(
        api.post(f"/members/{supplier.org_id}/api-keys", json={}, key=auditor.key),
        403,
        "wrong-role",
    )
    problem(api.get("/events", key=ADMIN_KEY.replace("a1", "b2")), 401, "invalid-credentials")
    # Reading is open to every key.
    assert api.get("/events?perPage=1", key=auditor.key).status_code == 200
    assert api.get("/events?perPage=1", key=ADMIN_KEY).status_code == 200


def test_other_members_keys(api: Api, supplier: Member, distributor: Member) -> None:
    """A member sees and revokes its own keys only; roles it lacks give no keys."""
    problem(api.get(f"/members/{supplier.org_id}/api-keys", key=distributor.key), 403, "forbidden")
    keys = api.get(f"/members/{supplier.org_id}/api-keys", key=supplier.key).json()
    problem(
        api.delete(f"/members/{supplier.org_id}/api-keys/{keys[0]['key_id']}", key=distributor.key),
        403,
        "forbidden",
    )
    problem(
        api.post(f"/members/{supplier.org_id}/api-keys", json={"role": "auditor"}, key=ADMIN_KEY),
        409,
        "conflict",
    )


def test_other_members_prefix(api: Api, supplier: Member, distributor: Member) -> None:
    """Nobody commissions or recalls identifiers under another member's prefix."""
    body = {
        "gtin": gtin(supplier.prefix, 7),
        "lot": "STOLEN-1",
        "quantity": 10,
        "site_gln": gln(distributor.prefix),
    }
    refused = problem(api.post("/batches", json=body, key=distributor.key), 403, "not-prefix-owner")
    assert refused["errors"][0]["field"] == "quantityList[0].epcClass"
    assert supplier.name in refused["errors"][0]["reason"]
    item = f"https://id.gs1.org/01/{gtin(supplier.prefix, 7)}/21/S1"
    own = f"https://id.gs1.org/01/{gtin(distributor.prefix, 7)}/21/S1"
    doc = document(
        object_event(epcs=[own], action="ADD", biz_step="commissioning", disposition="active"),
        object_event(epcs=[item], action="ADD", biz_step="commissioning", disposition="active"),
    )
    refused = problem(capture(api, distributor.key, doc), 403, "not-prefix-owner")
    assert [e["field"] for e in refused["errors"]] == ["epcisBody.eventList[1].epcList[0]"]
    # Nothing of the refused document was stored (all or nothing).
    found = api.get(f"/events?MATCH_epc={quote(own, safe='')}", key=distributor.key).json()
    assert found["epcisBody"]["queryResults"]["resultsBody"]["eventList"] == []
    # A transformation's outputs are commissioned too.
    transformation = {
        "type": "TransformationEvent",
        "eventTime": "2026-02-01T10:00:00.000+08:00",
        "eventTimeZoneOffset": "+08:00",
        "inputEPCList": [own],
        "outputEPCList": [item],
    }
    problem(capture(api, distributor.key, document(transformation)), 403, "not-prefix-owner")
    # Identifiers under no member's prefix cannot be commissioned either.
    nobody = f"https://id.gs1.org/01/{gtin(unique_prefix())}/21/S1"
    orphan = document(object_event(epcs=[nobody], action="ADD", biz_step="commissioning"))
    refused = problem(capture(api, distributor.key, orphan), 403, "unassigned-prefix")
    assert "under no member's prefix" in refused["detail"]
    # Observing (shipping, receiving) another member's product is what distributors do.
    shipping = document(object_event(epcs=[item], biz_step="shipping"))
    assert capture(api, distributor.key, shipping).status_code == 202
    # Recall: only the owner of the prefix.
    lot = new_batch(api, supplier)["identifier"]
    recall = api.post(
        f"/identifiers/{quote(lot, safe='')}/recall", json={"reason": "not mine"},
        key=distributor.key,
    )  # fmt: skip
    body403 = problem(recall, 403, "prefix-ownership")
    assert body403["errors"][0]["field"] == "identifier"


def test_suspended_member(api: Api) -> None:
    """A suspended member's keys are refused until it is reinstated."""
    member = admit(api, "Suspended Foods")
    suspended = api.post(f"/members/{member.org_id}/suspend", key=ADMIN_KEY)
    assert suspended.status_code == 200
    assert suspended.json()["active"] is False
    problem(api.get("/me", key=member.key), 403, "member-suspended")
    problem(api.post("/batches", json={}, key=member.key), 403, "member-suspended")
    reinstated = api.post(f"/members/{member.org_id}/reinstate", key=ADMIN_KEY)
    assert reinstated.json()["active"] is True
    assert api.get("/me", key=member.key).status_code == 200


def test_rotate_signing_key(api: Api) -> None:
    """Rotation adds a new signing address and retires the old one; anchoring goes on."""
    member = admit(api, "Rotating Textiles")
    before = api.get(f"/members/{member.org_id}", key=ADMIN_KEY).json()["signing_addresses"]
    batch = new_batch(api, member)
    api.drain()
    rotated = api.post(f"/members/{member.org_id}/signing-keys", key=ADMIN_KEY)
    assert rotated.status_code == 200, rotated.text
    after = rotated.json()["signing_addresses"]
    assert after == [rotated.json()["address"]]
    assert not set(before) & set(after)
    second = new_batch(api, member)
    api.drain()
    for lot in (batch, second):
        trail = api.get(f"/identifiers/{quote(lot['identifier'], safe='')}").json()
        assert trail["verdict"] == "verified", trail
    addresses = {
        api.get(f"/identifiers/{quote(lot['identifier'], safe='')}").json()["events"][0][
            "verification"
        ]["recorder"]["address"]
        for lot in (batch, second)
    }
    assert addresses == {before[0], after[0]}


def test_member_errors(api: Api, supplier: Member, distributor: Member) -> None:
    """Membership mistakes are 4xx problems naming the field."""
    unknown = "0x" + "ab" * 32
    problem(api.get(f"/members/{unknown}", key=ADMIN_KEY), 404, "unknown-organisation")
    problem(api.post(f"/members/{unknown}/suspend", key=ADMIN_KEY), 404, "unknown-organisation")
    body = problem(api.get("/members/0x12", key=ADMIN_KEY), 422, "request-validation")
    assert body["errors"][0]["field"] == "org_id"
    taken = api.post(
        f"/members/{distributor.org_id}/prefixes", json={"prefix": supplier.prefix}, key=ADMIN_KEY
    )
    assert problem(taken, 409, "membership")["errors"][0]["field"] == "prefix"
    bad = api.post(
        f"/members/{distributor.org_id}/prefixes", json={"prefix": "gs1:12"}, key=ADMIN_KEY
    )
    assert problem(bad, 422, "invalid-identifier-syntax")["errors"][0]["field"] == "prefix"
    same = api.post("/members", json={"name": supplier.name}, key=ADMIN_KEY)
    problem(same, 409, "membership")
    extra = api.post("/members", json={"name": "x", "colour": "red"}, key=ADMIN_KEY)
    assert problem(extra, 422, "request-validation")["errors"][0]["field"] == "colour"
    added = api.post(
        f"/members/{distributor.org_id}/prefixes", json={"prefix": "88.777.1"}, key=ADMIN_KEY
    )
    assert added.status_code == 201
    assert added.json()["prefix"] == "handle:88.777.1"


def test_admin_key_created_once(
    make_api: Callable[..., Api], capsys: pytest.CaptureFixture[str]
) -> None:
    """Without a configured admin key the first start creates one and shows it once: on a
    terminal, else (as here) in a 0600 file of the data dir, never in the output (a log)."""
    first = make_api(api={"admin_key": None})
    assert "tc_" not in capsys.readouterr().err
    key_file = first.services.settings.data_dir / ADMIN_KEY_FILE
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    printed = re.findall(r"tc_[0-9a-f]{12}_\S+", key_file.read_text())
    key_file.unlink()
    assert len(printed) == 1
    assert first.get("/me", key=printed[0]).json()["role"] == "admin"
    assert first.get("/me", key=ADMIN_KEY).status_code == 401
    again = make_api(first.services.settings.effective_database_url, api={"admin_key": None})
    assert "tc_" not in capsys.readouterr().err
    assert not key_file.exists()
    assert again.get("/me", key=printed[0]).json()["role"] == "admin"


def test_a_bad_configured_admin_key_is_a_configuration_error(tmp_path: Path) -> None:
    """A malformed TRACECHAIN_ADMIN_API_KEY, or one whose key id names another key, is a
    ledger configuration error (the app does not start), not a bare ValueError."""
    engine = make_engine(f"sqlite:///{tmp_path / 'keys.sqlite3'}")
    migrate(engine)
    with pytest.raises(ConfigurationError, match="must look like"):
        bootstrap_admin_key(engine, "not-a-key")
    assert bootstrap_admin_key(engine, ADMIN_KEY) is None
    same_id = ADMIN_KEY[: len("tc_a1b2c3d4e5f6_")] + "t" * 43
    with pytest.raises(ConfigurationError, match="collides"):
        bootstrap_admin_key(engine, same_id)
    engine.dispose()


def test_a_wrong_admin_passphrase_is_a_503_not_a_500(
    make_api: Callable[..., Api],
    devnet: Devnet,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Member calls signed by the consortium admin's key answer 503, naming neither the
    passphrase nor the keystore's file, when the key cannot be opened."""
    data_dir = tmp_path / "data"
    (data_dir / "keys").mkdir(parents=True)
    shutil.copy(devnet.paths.deployment, data_dir / "deployment.json")
    shutil.copy(devnet.paths.admin_keystore, data_dir / "keys" / "admin.json")
    wrong = "not-the-admin-passphrase"
    monkeypatch.setenv(ADMIN_PASSPHRASE_ENV, wrong)
    locked = make_api(data_dir=data_dir)
    prefix = unique_prefix()
    answer = locked.post(
        "/members", json={"name": f"Locked Out {prefix}", "prefixes": [prefix]}, key=ADMIN_KEY
    )
    body = problem(answer, 503, "signing-key-unavailable")
    assert body["title"] == "A signing key of the service cannot be opened"
    assert wrong not in answer.text
    assert str(data_dir) not in answer.text
    # The service itself is up: the admin key still authenticates.
    assert locked.get("/me", key=ADMIN_KEY).json()["role"] == "admin"
