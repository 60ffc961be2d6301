"""A deeply nested JSON body is a 400, never a crashed server.

Importing web3 pulls in py_ecc, which raises the interpreter's recursion limit to 100,000; at
that limit the C JSON decoder follows ``[[[[…`` down the C stack and the process dies with
SIGSEGV. The app puts the limit back when it is built (``ledger.runtime.bound_recursion``).
The request runs in a child process so that a regression kills the child, not the suite.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ledger.settings import REPO_ROOT

_PROBE = textwrap.dedent(
    """
    import asyncio, json, sys
    import httpx
    from api.app import create_app
    from ledger.settings import Settings

    app = create_app(Settings(data_dir=sys.argv[1], _env_file=None))
    body = b"[" * 100_000 + b"]" * 100_000

    async def main() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            answers = {}
            for path in sys.argv[2:]:
                r = await client.post(
                    path, content=body, headers={"content-type": "application/json"}
                )
                answers[path] = [r.status_code, r.headers.get("content-type")]
        print(json.dumps(answers))

    asyncio.run(main())
    """
)


@pytest.mark.parametrize("path", ["/members", "/batches"])
def test_a_100000_level_body_is_a_problem_not_a_crash(tmp_path: Path, path: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, str(tmp_path / "data"), path],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, f"the server process died (rc={done.returncode}): {done.stderr}"
    status, media_type = json.loads(done.stdout.splitlines()[-1])[path]
    assert status == 400
    assert media_type == "application/problem+json"
