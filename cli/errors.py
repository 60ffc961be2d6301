"""The one place the CLI turns failures into messages and exit codes.

Every command runs inside :func:`handled` (the app's group, :class:`HandledGroup`, wraps them
all): a failure it knows becomes one line on stderr, ``error: ...`` (a rejected document adds
one line per problem found), and an exit code; never a traceback.

Exit codes (:class:`ExitCode`):

* 0 success (everything verified);
* 1 a check failed (audit findings, a tampered or unverified trail, a bundle that does not
  verify) or the input was refused (a :class:`~ledger.errors.LedgerError` that is the caller's
  fault, an API answering 4xx);
* 2 usage errors and operational failures: the database, chain or API unreachable, a
  misconfiguration (invalid settings, a missing deployment record or admin keystore), a key
  that cannot be opened (a :class:`~wallets.errors.WalletError`: a missing or wrong passphrase,
  a missing or corrupt keystore);
* 3 (``verify``) the trail is only pending (not anchored yet);
* 4 (``verify``) it is recalled.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from enum import IntEnum
from typing import Any, NoReturn

import typer
from rich.markup import escape
from typer.core import TyperGroup

from cli.output import err_console
from ledger.errors import LedgerError
from wallets.errors import WalletError


class ExitCode(IntEnum):
    """What the CLI's exit status means (see the module docstring)."""

    OK = 0
    FAILED = 1
    ERROR = 2
    PENDING = 3
    RECALLED = 4


def die(message: str, code: ExitCode = ExitCode.ERROR) -> NoReturn:
    """Print ``error: message`` on stderr and exit with ``code``."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=int(code))


def _ledger_error(exc: LedgerError) -> NoReturn:
    from ledger.capture import FailedCaptureError

    message = str(exc)
    if isinstance(exc, FailedCaptureError):
        message += f" (recorded as failed capture {exc.capture_id})"
    nested: tuple[Any, ...] = getattr(exc, "errors", None) or ()
    if len(nested) > 1:
        for error in nested:
            if isinstance(error, LedgerError):
                err_console.print(f"  {error}", markup=False, highlight=False, soft_wrap=True)
    die(message, ExitCode.FAILED if exc.client_error else ExitCode.ERROR)


def _settings_error(exc: Any) -> NoReturn:
    """Invalid settings (a pydantic ``ValidationError`` of :class:`ledger.settings.Settings`):
    name the environment variable of the first bad one."""
    from ledger.settings import variable_of

    problems = exc.errors()
    first = problems[0] if problems else {"loc": (), "msg": "invalid"}
    variable = variable_of(first["loc"]) or ".".join(map(str, first["loc"])) or "settings"
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    die(f"invalid setting {variable}: {first['msg']}{more}")


def fail(exc: BaseException) -> None:
    """Exit with the message and code of ``exc`` if it is a failure the CLI knows; return
    (for the caller to re-raise) otherwise."""
    from pydantic import ValidationError
    from sqlalchemy.exc import SQLAlchemyError

    if isinstance(exc, LedgerError):
        _ledger_error(exc)
    if isinstance(exc, WalletError):
        # Wallet messages name files and variables, never key material.
        die(f"a key cannot be opened: {exc}")
    if isinstance(exc, ValidationError) and exc.title == "Settings":
        _settings_error(exc)
    if isinstance(exc, SQLAlchemyError):
        orig = getattr(exc, "orig", None)
        reason = str(orig if orig is not None else exc)
        die(f"database error: {reason.splitlines()[0]} (is DATABASE_URL right?)")
    if isinstance(exc, OSError):
        die(str(exc))


@contextmanager
def handled() -> Iterator[None]:
    """Turn the failures a command may meet into messages and exit codes."""
    try:
        yield
    except (typer.Exit, typer.Abort, typer.TyperException):
        raise
    except Exception as exc:
        fail(exc)
        raise


class HandledGroup(TyperGroup):
    """The app's command group: every command (and sub-group) runs inside :func:`handled`."""

    def invoke(self, ctx: Any) -> Any:
        """Run the command of ``ctx``, its known failures turned into exit codes."""
        with handled():
            return super().invoke(ctx)
