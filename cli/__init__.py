"""The ``tracechain`` command line (Typer).

Every subcommand imports what it needs when it runs, so ``tracechain --help`` and the devnet
commands start fast and need no web stack. One module per command group: :mod:`cli.devnet`,
:mod:`cli.members`, :mod:`cli.events` (capture, query), :mod:`cli.trace`, :mod:`cli.verify`,
:mod:`cli.audit`, :mod:`cli.bundle` (export, verify-bundle), :mod:`cli.serve` (serve,
anchor-worker), :mod:`cli.access` (grant, link: through the API only); :mod:`cli.backends` is
where their data comes from, :mod:`cli.output` how they print, :mod:`cli.errors` how failures
become messages and exit codes.

Commands talk to the database and the chain directly (``DATABASE_URL``,
``TRACECHAIN_RPC_URL``, the deployment record in ``TRACECHAIN_DATA_DIR``); ``capture``,
``query``, ``verify`` and ``trace`` can instead ask a running API with ``--api URL --api-key
KEY`` (or ``TRACECHAIN_API_URL`` / ``TRACECHAIN_API_KEY``). ``--json`` prints JSON for scripts.

Exit codes: 0 success (everything verified); 1 a check failed (audit findings, a tampered or
unverified trail, a bundle that does not verify) or the input was refused; 2 usage errors and
operational failures (database, chain or API unreachable, misconfiguration, a key that cannot
be opened); ``verify`` also answers 3 when the trail is only pending (not anchored yet) and 4
when it is recalled. See :mod:`cli.errors`.
"""

from __future__ import annotations

import typer

from cli import access, audit, bundle, devnet, events, members, network, serve, trace, verify
from cli.errors import HandledGroup

__all__ = ["app"]

app = typer.Typer(
    name="tracechain",
    help="Supply-chain traceability ledger: EPCIS events anchored on a permissioned chain.",
    no_args_is_help=True,
    cls=HandledGroup,
)
app.add_typer(devnet.app, name="devnet")
app.add_typer(network.app, name="network")
app.add_typer(members.app, name="members")
app.add_typer(access.grant_app, name="grant")
app.add_typer(access.link_app, name="link")
app.command("serve")(serve.serve)
app.command("anchor-worker")(serve.anchor_worker)
app.command("capture")(events.capture)
app.command("query", context_settings={"allow_extra_args": False})(events.query)
app.command("trace")(trace.trace)
app.command("verify")(verify.verify)
app.command("audit")(audit.audit)
app.command("export")(bundle.export)
app.command("verify-bundle")(bundle.verify_bundle)
