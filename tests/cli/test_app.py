"""The ``tracechain`` app (:mod:`cli`): every command is there, with its help."""

from __future__ import annotations

from tests.cli.conftest import Cli


def test_every_command_has_help(cli: Cli) -> None:
    top = cli("--help")
    for command in (
        "serve",
        "members",
        "capture",
        "query",
        "trace",
        "verify",
        "audit",
        "export",
        "verify-bundle",
        "devnet",
        "anchor-worker",
    ):
        assert command in top.stdout
        assert "Usage" in cli(*command.split(), "--help").stdout
    for sub in ("list", "admit", "suspend", "reinstate", "assign-prefix", "rotate-key"):
        assert "Usage" in cli("members", sub, "--help").stdout
    assert "--install-completion" in top.stdout
