"""The one exception hierarchy of the ledger package.

Every error the ledger raises on purpose derives from :class:`LedgerError`. Errors caused by
bad input carry the ``field`` they are about (a part name such as ``"GTIN"`` or a JSON path such
as ``"epcisBody.eventList[3].epcList[0]"``) and a human ``reason``; the API turns them into
RFC 9457 problem+json bodies without looking inside them.
"""

from __future__ import annotations

from typing import ClassVar


class LedgerError(Exception):
    """Base class of every error raised by the ledger."""

    #: Short slug naming the problem type (the API builds its ``type`` URI from it).
    problem: ClassVar[str] = "ledger-error"
    #: Whether the error is caused by the caller's input (a 4xx) rather than the system.
    client_error: ClassVar[bool] = False
    #: The HTTP status the API answers with, where the class decides it.
    http_status: ClassVar[int | None] = None

    def __init__(self, reason: str, *, field: str | None = None) -> None:
        super().__init__(f"{field}: {reason}" if field else reason)
        self.reason = reason
        self.field = field


class InvalidInputError(LedgerError, ValueError):
    """Input that does not satisfy a standard or a rule of ours; always the caller's fault."""

    problem = "invalid-input"
    client_error = True
    http_status = 422


class ConfigurationError(LedgerError):
    """Settings, files or deployments that are missing or inconsistent."""

    problem = "configuration"
    http_status = 503


class ChainError(LedgerError):
    """The chain could not be reached or answered something we cannot accept."""

    problem = "chain"
    http_status: ClassVar[int | None] = 503


class ConflictError(LedgerError):
    """Input that contradicts what the ledger already holds (the API answers 409)."""

    problem = "conflict"
    client_error = True
    http_status = 409
