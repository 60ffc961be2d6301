"""HTTP content negotiation (RFC 9110 §12.5.1): pick the best offered media type."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache


@lru_cache(maxsize=512)
def _ranges(accept: str) -> tuple[tuple[str, str, float], ...]:
    out: list[tuple[str, str, float]] = []
    for item in accept.split(",")[:64]:
        media, _, params = item.partition(";")
        media = media.strip().lower()
        if not media:
            continue
        kind, _, sub = media.partition("/")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = max(0.0, min(1.0, float(value)))
                except ValueError:
                    quality = 0.0
        out.append((kind, sub or "*", quality))
    return tuple(out)


def _quality(offer: str, ranges: tuple[tuple[str, str, float], ...]) -> float:
    kind, _, sub = offer.partition("/")
    best_specificity = -1
    quality = 0.0
    for range_kind, range_sub, q in ranges:
        if range_kind == kind and range_sub == sub:
            specificity = 2
        elif range_kind == kind and range_sub == "*":
            specificity = 1
        elif range_kind == "*" and range_sub == "*":
            specificity = 0
        else:
            continue
        if specificity > best_specificity:
            best_specificity, quality = specificity, q
    return quality


def best_match(accept: str | None, offers: Sequence[str]) -> str | None:
    """The offer the client prefers (ties go to the earlier offer); the first offer when the
    client sends no Accept header; None when the client accepts none of them."""
    if not accept or not accept.strip():
        return offers[0]
    ranges = _ranges(accept)
    best: tuple[float, int] | None = None
    chosen: str | None = None
    for position, offer in enumerate(offers):
        quality = _quality(offer, ranges)
        if quality > 0 and (best is None or (quality, -position) > best):
            best, chosen = (quality, -position), offer
    return chosen
