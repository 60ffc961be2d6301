"""No secret leaks (issue 11, suite "Secrets", and defect 10): the whole flow on a fresh data dir
(the devnet, the API server creating the admin key itself, a member admitted with a new signing
key, a batch and a capture anchored, the trail, queries, an export, CLI commands) leaves no
private key, keystore passphrase or API key secret in the server's log, the HTTP answers (other
than the one that hands out a new API key), the CLI's output or the database's bytes. The
admin key created on first start is never written to the log (no terminal: a 0600 file names
it), and the data dir, database and key files are private (0700 / 0600)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from api.app import ADMIN_KEY_FILE
from bench.loadrun import gs1, serve
from devnet.launcher import ADMIN_PASSPHRASE_ENV, Devnet
from tests.conftest import devnet_settings
from tests.helpers import EPCIS_CONTEXT, unique_prefix
from wallets.keyring import Keyring
from wallets.keystore import SCRYPT_N_LIGHT, load_keystore, read_passphrase

pytestmark = pytest.mark.slow


def _mode(path: Path) -> str:
    return oct(stat.S_IMODE(path.stat().st_mode))


def _forms(secret: bytes) -> list[bytes]:
    """The ways a 32-byte private key may appear: raw, and hex in either case."""
    return [secret, secret.hex().encode(), secret.hex().upper().encode()]


def test_no_secret_in_logs_answers_or_database(tmp_path: Path) -> None:
    data_dir = tmp_path / "fresh" / "data"  # nothing exists yet: everything is created here
    previous = os.umask(0o022)
    try:
        devnet = Devnet(devnet_settings(data_dir), key_work_factor=SCRYPT_N_LIGHT)
        devnet.up()
    finally:
        os.umask(previous)
    answers: list[bytes] = []
    outputs: list[bytes] = []
    try:
        env = {"TRACECHAIN_ADMIN_API_KEY": ""}  # the server creates the admin key itself
        with serve(data_dir, devnet.settings.devnet.port, env=env, access_log=True) as server:
            key_file = data_dir / ADMIN_KEY_FILE
            admin_key = key_file.read_text().strip()
            assert admin_key.startswith("tc_")
            member_key, lot, link_token = _flow(server.base, admin_key, answers)
            outputs += _cli(data_dir, devnet, server.database_url, server.base, member_key, lot)
        log = server.log.read_bytes()
    finally:
        devnet.down()

    # Every secret of the flow.
    admin_passphrase = read_passphrase(
        env=ADMIN_PASSPHRASE_ENV, file=data_dir / "keys" / "admin.passphrase"
    )
    keyring = Keyring(data_dir)
    member_passphrase = keyring.passphrase_file.read_text().strip()
    private_keys = [bytes(load_keystore(data_dir / "keys" / "admin.json", admin_passphrase).key)]
    keystores = sorted(keyring.root.rglob("*.json"))
    assert keystores, "no member keystore was created"
    private_keys += [bytes(load_keystore(path, member_passphrase).key) for path in keystores]
    secrets_ = [admin_passphrase.encode(), member_passphrase.encode()]
    for api_key in (admin_key, member_key, link_token):
        secrets_ += [api_key.encode(), api_key.rsplit("_", 1)[1].encode()]
    for private_key in private_keys:
        secrets_ += _forms(private_key)

    database = Path(server.database_url.removeprefix("sqlite:///"))
    stored = b"".join(
        path.read_bytes() for path in database.parent.glob(database.name + "*") if path.is_file()
    )
    places = {
        "server log": log,
        "HTTP answers": b"\n".join(answers),
        "CLI output": b"\n".join(outputs),
        "database": stored,
    }
    assert b"tc_" in places["HTTP answers"] or b"key_id" in places["HTTP answers"]
    leaks = [
        (place, secret[:6] + b"...")
        for place, haystack in places.items()
        for secret in secrets_
        if secret in haystack
    ]
    assert not leaks, leaks
    assert admin_key.encode() not in log
    assert b"created the consortium admin" in log  # the log names the file, not the key
    # The access log printed the regulator's request, its token redacted.
    assert b"/events?access=[redacted]" in log

    # File modes: private like the keystores.
    modes = {
        "data dir": _mode(data_dir),
        "keys dir": _mode(data_dir / "keys"),
        "database": _mode(database),
        "admin key file": _mode(key_file),
        "admin keystore": _mode(data_dir / "keys" / "admin.json"),
        "admin passphrase": _mode(data_dir / "keys" / "admin.passphrase"),
        "members passphrase": _mode(keyring.passphrase_file),
        **{f"keystore {p.name}": _mode(p) for p in keystores},
        **{f"key dir {p.parent.name[:10]}": _mode(p.parent) for p in keystores},
    }
    for suffix in ("-wal", "-shm"):
        side = database.with_name(database.name + suffix)
        if side.exists():
            modes[f"database{suffix}"] = _mode(side)
    wanted = {
        name: "0o700" if "dir" in name else "0o600" for name in modes
    }  # directories 0700, files 0600
    assert modes == wanted


def _flow(base: str, admin_key: str, answers: list[bytes]) -> tuple[str, str, str]:
    """Admit a member, create its key, commission a lot, capture an event, wait until the
    trail is verified, then read everything a member and a buyer read; issue a regulator's
    capability link and open it (in the URL and as a bearer token)."""

    def keep(answer: httpx.Response) -> httpx.Response:
        answers.append(str(answer.headers).encode() + b"\n" + answer.content)
        return answer

    admin = {"X-API-Key": admin_key}
    prefix = unique_prefix()
    with httpx.Client(base_url=base, timeout=120) as client:
        member = keep(client.post("/members", json={"name": "Secret Foods", "prefixes": [prefix]},
                                  headers=admin))  # fmt: skip
        assert member.status_code == 201, member.text
        org = member.json()["org_id"]
        created = client.post(f"/members/{org}/api-keys", json={"role": "recorder"}, headers=admin)
        assert created.status_code == 201  # the one answer that shows a key (not scanned)
        key = created.json()["key"]
        headers = {"X-API-Key": key}
        gtin = "0" + gs1(prefix, 1, 5)
        body = {"gtin": gtin, "lot": "SECRET-1", "quantity": 10, "site_gln": gs1(prefix, 1, 5)}
        batch = keep(client.post("/batches", headers=headers, json=body))
        assert batch.status_code == 201, batch.text
        lot = batch.json()["identifier"]
        event = {
            "type": "ObjectEvent", "eventTime": "2026-05-01T10:00:00Z",
            "eventTimeZoneOffset": "+00:00", "epcList": [], "action": "OBSERVE",
            "quantityList": [{"epcClass": lot, "quantity": 2}], "bizStep": "shipping",
        }  # fmt: skip
        document = {
            "@context": [EPCIS_CONTEXT], "type": "EPCISDocument", "schemaVersion": "2.0",
            "creationDate": "2026-05-01T10:00:00Z", "epcisBody": {"eventList": [event]},
        }  # fmt: skip
        assert keep(client.post("/capture", json=document, headers=headers)).status_code == 202
        page = batch.json()["digital_link"].removeprefix(base)
        deadline = time.monotonic() + 60
        while (
            keep(client.get(page, headers={"Accept": "application/json"})).json()["verdict"]
            != "verified"
        ):
            assert time.monotonic() < deadline, "not anchored in time"
            time.sleep(0.2)
        for path, who in (
            (page, {"Accept": "text/html"}),
            ("/me", headers),
            ("/members", admin),
            (f"/members/{org}/api-keys", admin),
            ("/capture", headers),
            ("/events?perPage=10", headers),
            (f"/export?lot={lot}", headers),
            (f"/trace/{lot}", headers),
            ("/readyz", {}),
            ("/metrics", {}),
        ):
            answer = keep(client.get(path, headers=who))
            assert answer.status_code == 200, (path, answer.text[:300])
        link = client.post("/links", json={"scope_kind": "lot", "scope": lot}, headers=headers)
        assert link.status_code == 201, link.text  # the one answer that shows the token
        token = link.json()["token"]
        by_url = keep(client.get(f"/events?access={token}&perPage=5"))
        assert by_url.status_code == 200, by_url.text[:300]
        assert by_url.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        by_header = keep(client.get("/events", headers={"Authorization": f"Bearer {token}"}))
        assert by_header.status_code == 200, by_header.text[:300]
    return key, lot, token


def _cli(
    data_dir: Path, devnet: Devnet, database_url: str, base: str, key: str, lot: str
) -> list[bytes]:
    """CLI commands an operator and an auditor run; their output (stdout and stderr)."""
    env = {
        **os.environ,
        "TRACECHAIN_DATA_DIR": str(data_dir),
        "TRACECHAIN_DEVNET_PORT": str(devnet.settings.devnet.port),
        "DATABASE_URL": database_url,
    }
    bundle = data_dir.parent / "bundle.json"
    commands = [
        ["devnet", "status", "--json"],
        ["members", "list", "--json"],
        ["verify", lot, "--json"],
        ["verify", lot, "--json", "--api", base, "--api-key", key],
        ["audit", "--json", "--no-progress"],
        ["export", "--lot", lot, "--out", str(bundle)],
        ["verify-bundle", str(bundle), "--rpc", devnet.rpc_url, "--json"],
    ]
    outputs = []
    for command in commands:
        done = subprocess.run(
            [sys.executable, "-c", "from cli import app; app()", *command],
            env=env, capture_output=True, timeout=300, check=False,
        )  # fmt: skip
        assert done.returncode == 0, (command, done.stdout[-2000:], done.stderr[-2000:])
        outputs += [done.stdout, done.stderr]
    outputs.append(bundle.read_bytes())
    return outputs
