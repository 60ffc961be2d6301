"""Errors raised for identifiers that cannot be parsed, validated or converted.

Every error names the part of the identifier it is about in ``field`` (``"GTIN"``,
``"serial"``, ``"company prefix"``, ``"handle prefix"``...) and says what is wrong in
``reason``, e.g. ``field="GTIN", reason="GTIN check digit is 7, expected 3"``.
"""

from __future__ import annotations

from ledger.errors import InvalidInputError

__all__ = [
    "CharacterSetError",
    "CheckDigitError",
    "IdentifierError",
    "IdentifierSyntaxError",
    "LengthError",
    "NotConvertibleError",
]


class IdentifierError(InvalidInputError):
    """An identifier (or a part of one) is not valid, or cannot be converted as asked."""

    problem = "invalid-identifier"


class CheckDigitError(IdentifierError):
    """A GS1 key's check digit does not match the one computed from its other digits."""

    problem = "invalid-identifier-check-digit"


class LengthError(IdentifierError):
    """A part of an identifier (or the whole input) is too long or too short."""

    problem = "invalid-identifier-length"


class CharacterSetError(IdentifierError):
    """A part of an identifier contains a character its standard does not allow."""

    problem = "invalid-identifier-character"


class IdentifierSyntaxError(IdentifierError):
    """The input does not have the shape of any supported identifier form."""

    problem = "invalid-identifier-syntax"


class NotConvertibleError(IdentifierError):
    """A valid identifier has no representation in the form that was asked for."""

    problem = "identifier-not-convertible"
