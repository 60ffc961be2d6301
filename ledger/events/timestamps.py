"""EPCIS timestamps: RFC 3339 ``date-time`` values with a mandatory UTC offset.

:func:`parse_timestamp` checks and reads one (what JSON Schema's ``date-time`` format accepts:
``T``/``Z`` in either case, any number of fractional digits, no leap second) into an aware
:class:`~datetime.datetime`. :func:`hash_timestamp` writes one the way the CBV 2.0 event hash
wants it: in UTC, with exactly three fractional digits, the third rounded up when the fourth is
5-9 (CBV 2.0 §8.9.2), and ``Z``.
"""

from __future__ import annotations

import calendar
import re
from datetime import datetime, timedelta, timezone
from typing import Final

_RFC3339: Final = re.compile(
    r"([0-9]{4})-(0[1-9]|1[0-2])-([0-9]{2})[Tt]([01][0-9]|2[0-3]):([0-5][0-9]):([0-5][0-9])"
    r"(?:\.([0-9]+))?(?:([Zz])|([+-])([01][0-9]|2[0-3]):([0-5][0-9]))"
)
_OFFSET: Final = re.compile(r"([+-])((?:0[0-9]|1[0-3]):[0-5][0-9]|14:00)")


def _fields(text: str) -> tuple[datetime, str] | None:
    """The naive wall-clock time (whole seconds, offset applied) and the fraction digits."""
    m = _RFC3339.fullmatch(text)
    if m is None:
        return None
    year, month, day = int(m[1]), int(m[2]), int(m[3])
    if year == 0 or day < 1 or day > calendar.monthrange(year, month)[1]:
        return None
    offset = timedelta(0)
    if m[8] is None:
        offset = timedelta(hours=int(m[10]), minutes=int(m[11]))
        if m[9] == "-":
            offset = -offset
    wall = datetime(year, month, day, int(m[4]), int(m[5]), int(m[6]), tzinfo=timezone(offset))
    return wall, m[7] or ""


def parse_timestamp(text: str) -> datetime | None:
    """The aware datetime ``text`` denotes (microsecond precision), or None if not RFC 3339."""
    fields = _fields(text)
    if fields is None:
        return None
    wall, fraction = fields
    return wall.replace(microsecond=int((fraction + "000000")[:6]))


def is_timezone_offset(text: str) -> bool:
    """Whether ``text`` is an EPCIS ``eventTimeZoneOffset`` (``-13:59`` … ``+14:00``)."""
    return _OFFSET.fullmatch(text) is not None


_MONTH_DAYS: Final = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_TWO_DIGITS: Final = tuple(f"{n:02d}" for n in range(60))
_THREE_DIGITS: Final = tuple(f"{n:03d}" for n in range(1000))


def hash_timestamp(text: str) -> str:
    """``text`` in UTC at millisecond precision (``2023-01-18T11:04:03.142Z``).

    A value that is not an RFC 3339 timestamp, or whose UTC form falls outside years 1-9999,
    is returned unchanged. (Hot in event hashing: a timestamp whose UTC form is on the same day
    is computed with integers and table look-ups, others with naive datetimes.)
    """
    m = _RFC3339.fullmatch(text)
    if m is None:
        return text
    y, mo, d, h, mi, sec, fraction, zulu, sign, offset_hours, offset_minutes = m.groups()
    year, month, day = int(y), int(mo), int(d)
    if day > _MONTH_DAYS[month] and not (
        month == 2 and day == 29 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    ):
        return text
    if year == 0 or day < 1:
        return text
    millis = 0
    if fraction is not None:
        millis = int((fraction + "000")[:3])
        if len(fraction) > 3 and fraction[3] >= "5":
            millis += 1
    if zulu is not None and millis < 1000:  # already UTC, no carry into the seconds
        return f"{y}-{mo}-{d}T{h}:{mi}:{sec}.{_THREE_DIGITS[millis]}Z"
    hour, minute, second = int(h), int(mi), int(sec)
    seconds = hour * 3600 + minute * 60 + second
    if zulu is None:
        shift = int(offset_hours) * 3600 + int(offset_minutes) * 60
        seconds = seconds + shift if sign == "-" else seconds - shift
    if seconds >= 0 and seconds + (millis == 1000) < 86400:  # the same UTC day
        seconds += millis == 1000
        hour, rest = divmod(seconds, 3600)
        minute, second = divmod(rest, 60)
        return (
            f"{y}-{mo}-{d}T{_TWO_DIGITS[hour]}:{_TWO_DIGITS[minute]}:{_TWO_DIGITS[second]}."
            f"{_THREE_DIGITS[millis % 1000]}Z"
        )
    wall = datetime(year, month, day, hour, minute, second)
    try:
        if zulu is None:
            offset = timedelta(hours=int(offset_hours), minutes=int(offset_minutes))
            wall = wall + offset if sign == "-" else wall - offset
        utc = wall + timedelta(milliseconds=millis)
    except OverflowError:
        return text
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T{utc.hour:02d}:{utc.minute:02d}:"
        f"{utc.second:02d}.{utc.microsecond // 1000:03d}Z"
    )
