"""Column types shared by the store's tables.

:class:`UTCDateTime` stores every instant in UTC on both back ends: ``timestamptz`` on
PostgreSQL, and on SQLite a naive ``YYYY-MM-DD HH:MM:SS.ffffff`` string (fixed width, so text
order is time order). It refuses naive datetimes on the way in and always returns aware UTC
datetimes on the way out. :data:`BINARY_TEXT` is text compared byte-wise (``COLLATE "C"`` on
PostgreSQL, SQLite's default ``BINARY``), so that prefix ranges over canonical identifiers are
index range scans whatever the database's locale.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

__all__ = ["BIG_ID", "BINARY_TEXT", "UTCDateTime"]


class UTCDateTime(TypeDecorator[datetime]):
    """An aware datetime stored in UTC (microsecond precision)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Convert to UTC; SQLite gets the naive UTC wall-clock time."""
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("UTCDateTime needs an aware datetime")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        """On SQLite, one C-speed step from an aware datetime to SQLAlchemy's stored text."""
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        def process(value: datetime | None) -> str | None:
            if value is None:
                return None
            if value.tzinfo is None or value.utcoffset() is None:
                raise ValueError("UTCDateTime needs an aware datetime")
            utc = value.astimezone(UTC).replace(tzinfo=None)
            # SQLAlchemy's SQLite DATETIME format: "YYYY-MM-DD HH:MM:SS.ffffff".
            return utc.isoformat(" ", "microseconds")

        return process

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Return an aware UTC datetime."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


#: Text compared byte by byte (code point order for UTF-8) on every back end.
BINARY_TEXT: Final = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")

#: 64-bit surrogate keys; SQLite needs exactly ``INTEGER PRIMARY KEY`` for its rowid alias.
BIG_ID: Final = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
