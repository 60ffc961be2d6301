"""Errors raised while reading EPCIS events and documents.

One :class:`EventValidationError` names one problem at one JSON path (``field``), for example
``epcisBody.eventList[3].epcList[0]``. A document with several problems raises one
:class:`DocumentValidationError` that carries all of them in ``errors``; capture is all-or-nothing
per document, so nothing of a document with any error is returned.
"""

from __future__ import annotations

from collections.abc import Sequence

from ledger.errors import InvalidInputError


class EventValidationError(InvalidInputError):
    """One problem with one value of an EPCIS event or document, named by its JSON path."""

    problem = "invalid-epcis-event"


class DocumentValidationError(InvalidInputError):
    """Every problem found in one EPCIS document; the document is rejected as a whole."""

    problem = "invalid-epcis-document"

    def __init__(self, errors: Sequence[EventValidationError]) -> None:
        if not errors:
            raise ValueError("a DocumentValidationError needs at least one error")
        self.errors: tuple[EventValidationError, ...] = tuple(errors)
        first = self.errors[0]
        more = len(self.errors) - 1
        summary = first.reason if not more else f"{first.reason} (and {more} more problem(s))"
        super().__init__(summary, field=first.field)
