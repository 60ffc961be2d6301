"""Public reads need no secret (issue 12): a node whose consortium admin key cannot be opened
(a wrong passphrase, or none at all) still answers a product's trail (JSON and the buyer's
page) and its recall state; only the writes the admin signs answer 503
``signing-key-unavailable``. Two real apps on one SQLite ledger and the session devnet: one
with the admin key records the trail, the other, locked out of it, serves it."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import pytest
from web3.contract import Contract

from devnet.launcher import ADMIN_PASSPHRASE_ENV, Devnet
from tests.api.conftest import ADMIN_KEY, Api, admit, capture
from tests.api.test_auth import problem
from tests.helpers import document, gtin, object_event, unique_prefix

WRONG = "not-the-admin-passphrase"


@pytest.mark.parametrize("lock", ["wrong passphrase", "no passphrase"])
def test_public_reads_need_no_admin_key(
    make_api: Callable[..., Api],
    devnet: Devnet,
    anchor: Contract,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    lock: str,
) -> None:
    ledger = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    recording = make_api(ledger)
    owner = admit(recording, "Open Reads")
    product = gtin(owner.prefix, 7)
    item = f"https://id.gs1.org/01/{product}/21/OPEN-1"
    commissioning = object_event(epcs=[item], action="ADD", biz_step="commissioning")
    assert capture(recording, owner.key, document(commissioning)).status_code == 202
    assert recording.drain() == 1

    # The same ledger, served by a node that cannot open the admin's keystore.
    data_dir = tmp_path / "locked"
    (data_dir / "keys").mkdir(parents=True)
    shutil.copy(devnet.paths.deployment, data_dir / "deployment.json")
    shutil.copy(devnet.paths.admin_keystore, data_dir / "keys" / "admin.json")
    if lock == "wrong passphrase":
        monkeypatch.setenv(ADMIN_PASSPHRASE_ENV, WRONG)
    else:  # neither the variable nor an admin.passphrase beside the keystore
        monkeypatch.delenv(ADMIN_PASSPHRASE_ENV, raising=False)
    locked = make_api(ledger, data_dir=data_dir)

    path = f"/01/{product}/21/OPEN-1"
    trail = locked.get(path, headers={"Accept": "application/json"})
    assert trail.status_code == 200, trail.text
    data = trail.json()
    assert data["verdict"] == "verified"
    assert data["owner"] == {"org_id": owner.org_id, "name": owner.name, "address": None}
    (event,) = data["events"]
    check = event["verification"]
    assert check["status"] == "verified"
    # The anchor says what it covers and gives the leaf's first word: with the proof, the
    # identifier key and the recorder, the contract checks the event with no code of ours.
    assert check["anchor"]["coverage"] == "record"
    assert anchor.functions.verifyEvent(
        bytes.fromhex(check["anchor"]["root"][2:]),
        [bytes.fromhex(p[2:]) for p in check["anchor"]["proof"]],
        bytes.fromhex(check["anchor"]["leaf_word"][2:]),
        bytes.fromhex(check["anchor"]["id_key"][2:]),
        check["recorder"]["address"],
    ).call()
    page = locked.get(path, headers={"Accept": "text/html"})
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    assert "Verified: this product" in page.text

    # A product with no events yet: the owner comes from the membership's prefixes.
    unseen = quote(f"https://id.gs1.org/01/{product}/21/OPEN-2", safe="")
    empty = locked.get(f"/identifiers/{unseen}", headers={"Accept": "application/json"})
    assert empty.status_code == 200, empty.text
    assert empty.json()["verdict"] == "unknown"
    assert empty.json()["owner"]["org_id"] == owner.org_id
    assert empty.json()["owner"]["name"] == owner.name
    state = locked.get(f"/identifiers/{quote(item, safe='')}/recall")
    assert state.status_code == 200, state.text
    assert state.json()["recalled"] is False
    # Reads by the admin need no signing key either.
    members = locked.get("/members", key=ADMIN_KEY)
    assert members.status_code == 200, members.text
    assert owner.org_id in {m["org_id"] for m in members.json()}

    # A write the admin signs cannot be made, and says so without naming secrets or files.
    prefix = unique_prefix()
    admitted = locked.post(
        "/members", json={"name": f"Locked Out {prefix}", "prefixes": [prefix]}, key=ADMIN_KEY
    )
    body = problem(admitted, 503, "signing-key-unavailable")
    assert body["title"] == "A signing key of the service cannot be opened"
    assert WRONG not in admitted.text
    assert str(data_dir) not in admitted.text
    assert locked.get("/members", key=ADMIN_KEY).json() == members.json()
