"""Failures become one clear line on stderr and a documented exit code (:mod:`cli.errors`),
never a traceback."""

from __future__ import annotations

from pathlib import Path

from typer.testing import Result

from devnet.launcher import ADMIN_PASSPHRASE_ENV
from tests.cli.conftest import Cli
from tests.helpers import document_bytes, unique_prefix


def test_errors_give_nonzero_exit_codes(cli: Cli, tmp_path: Path) -> None:
    cli("verify-bundle", str(tmp_path / "missing.json"), code=1)
    not_a_bundle = tmp_path / "not.json"
    not_a_bundle.write_text('{"format": "other"}')
    cli("verify-bundle", str(not_a_bundle), code=1)
    cli("query", "not-a-parameter", code=1)
    cli("query", "NOPE=1", code=1)
    cli("export", code=1)
    doc = tmp_path / "doc.json"
    doc.write_bytes(document_bytes())
    cli("capture", str(doc), code=1)  # no --member
    cli("verify-bundle", str(doc), "--rpc", "http://127.0.0.1:1", code=1)  # not a bundle
    # Operational failures exit 2: a database without tables (a wrong DATABASE_URL) ...
    unmigrated = cli("export", "--from", "2031-01-01T00:00:00Z", code=2)
    assert "database error" in unmigrated.output
    cli("members", "list")  # (migrates the database)
    # ... and a node or API that does not answer.
    bundle = tmp_path / "empty-bundle.json"
    cli("export", "--from", "2031-01-01T00:00:00Z", "--out", str(bundle))
    cli("verify-bundle", str(bundle), "--rpc", "http://127.0.0.1:1", code=2)
    cli("capture", str(doc), "--api", "http://127.0.0.1:1", "--api-key", "k", code=2)


def one_error_line(result: Result) -> str:
    """The one line a failure prints on stderr (and that there is no traceback anywhere)."""
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines
    return lines[0]


def test_a_wrong_admin_passphrase_is_one_line_and_exit_2(cli: Cli) -> None:
    wrong = "not-the-admin-passphrase"
    result = cli(
        "members", "admit", f"Locked {unique_prefix('05')}", code=2,
        env={ADMIN_PASSPHRASE_ENV: wrong},
    )  # fmt: skip
    line = one_error_line(result)
    assert "wrong passphrase" in line
    assert wrong not in result.output
    # The same in a process of its own: its stderr is that one line.
    done = cli.run(
        "members", "admit", f"Locked {unique_prefix('05')}", env={ADMIN_PASSPHRASE_ENV: wrong}
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert [line for line in done.stderr.splitlines() if line.strip()] == [line]


def test_no_admin_passphrase_is_one_line_and_exit_2(cli: Cli) -> None:
    (cli.data_dir / "keys" / "admin.passphrase").unlink()
    result = cli("members", "suspend", "0x" + "ab" * 32, code=2, env={ADMIN_PASSPHRASE_ENV: ""})
    assert "no passphrase" in one_error_line(result)


def test_a_missing_or_corrupt_admin_keystore_is_one_line_and_exit_2(cli: Cli) -> None:
    keystore = cli.data_dir / "keys" / "admin.json"
    keystore.write_text("{not a keystore")
    corrupt = cli("members", "reinstate", "0x" + "ab" * 32, code=2)
    assert "cannot read keystore" in one_error_line(corrupt)
    keystore.unlink()
    missing = cli("members", "assign-prefix", "0x" + "ab" * 32, unique_prefix("05"), code=2)
    assert f"no consortium admin keystore at {keystore}" in one_error_line(missing)


def test_invalid_settings_are_one_line_and_exit_2(cli: Cli) -> None:
    result = cli("members", "list", code=2, env={"TRACECHAIN_DEVNET_PORT": "eighty"})
    assert one_error_line(result).startswith("error: invalid setting TRACECHAIN_DEVNET_PORT: ")
