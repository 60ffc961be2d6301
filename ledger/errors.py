"""The one exception hierarchy of the ledger package.

Every error the ledger raises on purpose derives from :class:`LedgerError`. Errors caused by
bad input carry the ``field`` they are about (a part name such as ``"GTIN"`` or a JSON path such
as ``"epcisBody.eventList[3].epcList[0]"``) and a human ``reason``. The ledger knows nothing of
HTTP: the API decides each class's status in one table (:mod:`api.problems`) and turns them into
RFC 9457 problem+json bodies; the CLI turns them into messages and exit codes (:mod:`cli.errors`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar


class LedgerError(Exception):
    """Base class of every error raised by the ledger."""

    #: Short slug naming the problem type (the API builds its ``type`` URI from it).
    problem: ClassVar[str] = "ledger-error"
    #: Whether the error is caused by the caller's input or rights rather than the system.
    client_error: ClassVar[bool] = False

    def __init__(self, reason: str, *, field: str | None = None) -> None:
        super().__init__(f"{field}: {reason}" if field else reason)
        self.reason = reason
        self.field = field


class InvalidInputError(LedgerError, ValueError):
    """Input that does not satisfy a standard or a rule of ours; always the caller's fault."""

    problem = "invalid-input"
    client_error = True


class ConfigurationError(LedgerError):
    """Settings, files or deployments that are missing or inconsistent."""

    problem = "configuration"


class ChainError(LedgerError):
    """The chain could not be reached or answered something we cannot accept."""

    problem = "chain"


class ConflictError(LedgerError):
    """Input that contradicts what the ledger already holds."""

    problem = "conflict"
    client_error = True


class ForbiddenError(LedgerError):
    """Something the acting member has no right to do.

    An error refusing several things at once keeps one error per refused thing in ``errors``
    (each with its ``field``); its own ``reason`` summarises them.
    """

    problem = "forbidden"
    client_error = True

    def __init__(
        self,
        reason: str,
        *,
        field: str | None = None,
        errors: Sequence[ForbiddenError] = (),
    ) -> None:
        super().__init__(reason, field=field)
        self.errors: tuple[ForbiddenError, ...] = tuple(errors)


class TooManyEventsError(InvalidInputError):
    """A capture holding more events than one capture may (``limit``); nothing was stored."""

    problem = "capture-limit-exceeded"

    def __init__(self, count: int, limit: int, *, field: str | None = None) -> None:
        super().__init__(
            f"the document holds {count} events, at most {limit} per capture", field=field
        )
        self.count = count
        self.limit = limit
