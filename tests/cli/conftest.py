"""Fixtures of the CLI tests: the ``tracechain`` CLI end to end through Typer's CliRunner and
real subprocesses, on the session devnet with a real SQLite database of its own, and for
``--api`` the real app served by uvicorn."""

from __future__ import annotations

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
from tests.helpers import free_port

WORK_FACTOR = 1 << 10


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
