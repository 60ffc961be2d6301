"""Helpers of the reliability tests: how big a run is, and printing a figures table."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Final

#: Multiplies the size of the bounded runs (events, kills) for long runs: ``=10`` is ten times.
SCALE_ENV: Final = "TRACECHAIN_RELIABILITY_SCALE"


def scale() -> float:
    """The run-size multiplier from ``TRACECHAIN_RELIABILITY_SCALE`` (default 1, at least 1)."""
    raw = os.environ.get(SCALE_ENV, "").strip()
    if not raw:
        return 1.0
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{SCALE_ENV} must be a number, not {raw!r}") from None
    return max(1.0, value)


def scaled(base: int) -> int:
    """``base`` times the scale, rounded."""
    return max(1, round(base * scale()))


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain-text table with aligned columns."""
    cells = [[str(c) for c in header], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)
