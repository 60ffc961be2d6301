"""Fixtures of the CLI tests: the ``tracechain`` CLI end to end through Typer's CliRunner and
real subprocesses, on the session devnet with a real SQLite database of its own, and for
``--api`` the real app served by uvicorn."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from typer.testing import CliRunner, Result

from api.app import create_app
from cli import app
from devnet.launcher import Devnet
from ledger.chain import ChainClient
from ledger.settings import REPO_ROOT, get_settings
from tests.api.conftest import app_settings
from tests.conftest import free_port
from tests.ledger.test_trace import gln, gtin, sscc

_prefixes = itertools.count(int(time.time() * 10) % 90_000)
WORK_FACTOR = 1 << 10
CONTEXT = "https://ref.gs1.org/standards/epcis/epcis-context.jsonld"
DL = "https://id.gs1.org"


def unique_prefix() -> str:
    """A 7-digit company prefix no other test of the session owns on chain."""
    return f"05{next(_prefixes) % 100_000:05d}"


@dataclass
class Cli:
    """The CLI with its own data dir and database on the session devnet."""

    env: dict[str, str]
    data_dir: Path
    database_url: str
    rpc_url: str
    runner: CliRunner

    def __call__(
        self, *args: str, code: int | None = 0, env: Mapping[str, str] | None = None
    ) -> Result:
        """Run the CLI in process (``env`` adds to its environment)."""
        get_settings.cache_clear()
        try:
            result = self.runner.invoke(
                app, list(args), env={**self.env, **(env or {})}, catch_exceptions=False
            )
        finally:
            get_settings.cache_clear()
        if code is not None:
            assert result.exit_code == code, (args, result.exit_code, result.output)
        return result

    def json(self, *args: str, code: int = 0) -> Any:
        return json.loads(self(*args, "--json", code=code).stdout)

    def run(
        self, *args: str, env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """The CLI in its own process (``python -m cli``)."""
        return subprocess.run(
            [sys.executable, "-m", "cli", *args],
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **self.env, **(env or {})},
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )

    def block(self) -> int:
        return int(ChainClient(self.rpc_url).w3.eth.block_number)


@pytest.fixture
def cli(devnet: Devnet, tmp_path: Path) -> Cli:
    data_dir = tmp_path / "data"
    (data_dir / "keys").mkdir(parents=True)
    shutil.copy(devnet.paths.deployment, data_dir / "deployment.json")
    shutil.copy(devnet.paths.admin_keystore, data_dir / "keys" / "admin.json")
    shutil.copy(devnet.paths.admin_passphrase, data_dir / "keys" / "admin.passphrase")
    database_url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    env = {
        "TRACECHAIN_DATA_DIR": str(data_dir),
        "TRACECHAIN_RPC_URL": devnet.rpc_url,
        "DATABASE_URL": database_url,
        "TRACECHAIN_KEYSTORE_WORK_FACTOR": str(WORK_FACTOR),
        "TRACECHAIN_ANCHOR_BATCH_MAX_EVENTS": "3",
        "COLUMNS": "200",
    }
    return Cli(env, data_dir, database_url, devnet.rpc_url, CliRunner())


def epcis(*events: dict[str, Any]) -> str:
    return json.dumps(
        {
            "@context": [CONTEXT],
            "type": "EPCISDocument",
            "schemaVersion": "2.0",
            "creationDate": "2026-03-01T09:00:00Z",
            "epcisBody": {"eventList": list(events)},
        }
    )


def supply_document(prefix: str) -> tuple[str, list[str], str, str]:
    """Commissioning of 4 items of a lot, packing them in a case, shipping the case."""
    lot = f"{DL}/01/{gtin(prefix, 1)}/10/L1"
    items = [f"{lot}/21/{n}" for n in range(4)]
    case = f"{DL}/00/{sscc(prefix, 1)}"
    site = f"{DL}/414/{gln(prefix, 1)}"
    shop = f"{DL}/414/{gln(prefix, 2)}"
    doc = epcis(
        {
            "type": "ObjectEvent",
            "eventTime": "2026-03-01T08:00:00Z",
            "eventTimeZoneOffset": "+01:00",
            "epcList": items,
            "action": "ADD",
            "bizStep": "commissioning",
            "disposition": "active",
            "readPoint": {"id": site},
        },
        {
            "type": "AggregationEvent",
            "eventTime": "2026-03-01T08:05:00Z",
            "eventTimeZoneOffset": "+01:00",
            "parentID": case,
            "childEPCs": items,
            "action": "ADD",
            "bizStep": "packing",
            "readPoint": {"id": site},
        },
        {
            "type": "ObjectEvent",
            "eventTime": "2026-03-01T08:10:00Z",
            "eventTimeZoneOffset": "+01:00",
            "epcList": [case],
            "action": "OBSERVE",
            "bizStep": "shipping",
            "readPoint": {"id": site},
            "destinationList": [{"type": "location", "destination": shop}],
        },
    )
    return doc, items, case, lot


@pytest.fixture
def served_api(devnet: Devnet, tmp_path: Path) -> Iterator[str]:
    """The app (with the trace and export routers) served by uvicorn on a free port."""
    application = create_app(app_settings(devnet, f"sqlite:///{tmp_path / 'served.sqlite3'}"))
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(application, host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
