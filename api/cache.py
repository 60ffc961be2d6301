"""The trail cache: rendered trails that do not change until something happens to them.

:class:`TrailCache` keeps rendered trails (JSON, HTML per language) of identifiers whose every
event's verification is final (verified or tampered): an anchored root never changes on chain,
so a trail stays what it is until the chain is reset (then :meth:`TrailCache.clear`). It is
invalidated per identifier when an event mentioning it is captured, when it is recalled (or
the recall lifted), and by the watcher that follows captures made by other processes and
recalls made directly on chain; entries also expire after ``ttl`` seconds, so even a change
made behind the ledger's back shows up.

A request with ``Cache-Control: no-cache`` (or ``Pragma: no-cache``) is never answered from the
cache (:func:`wants_fresh`): the trail is verified afresh and the new rendering replaces the
cached one, so an auditor can always get the chain's word of this moment.

A trail depends on who reads it (:mod:`ledger.visibility`). Only two views are cached, each
under a variant of its own (:func:`cached_view`): the public one (a buyer without a key reads
``linked`` and ``public`` events, which only a capture changes) and the operator's (every event).
A member's view also changes when a grant is made or revoked or a link reaches it through
another identifier, and a capability link's depends on its scope, so those views are verified
on every request and never cached.

The public view shows every event as the brand owner's public projection
(:mod:`ledger.disclosure`), which depends only on the identifier and its owner's disclosure
rules: setting or deleting a rule clears this cache (a rule may cover a whole prefix), and
:class:`api.fastpath.TrailReplay` stops replaying at once since it replays only entries the
cache still holds. Another process's cache picks a rule change up within ``ttl``.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from ledger.visibility import Reader, ReaderKind

_NO_CACHE: Final = b"no-cache"


def wants_fresh(headers: Iterable[tuple[bytes, bytes]]) -> bool:
    """Whether raw request headers ask for an answer not taken from a cache: a
    ``Cache-Control`` directive ``no-cache`` (RFC 9111 5.2.1.4) or ``Pragma: no-cache``."""
    for name, value in headers:
        name = name.lower()
        if name == b"cache-control":
            directives = (d.split(b"=", 1)[0].strip().lower() for d in value.split(b","))
            if _NO_CACHE in directives:
                return True
        elif name == b"pragma" and _NO_CACHE in value.lower():
            return True
    return False


#: The cached views of a trail, by the kind of reader.
_VIEWS: Final = {ReaderKind.PUBLIC: "public", ReaderKind.OPERATOR: "all"}


def cached_view(reader: Reader) -> str | None:
    """The name of ``reader``'s view of a trail in the cache (the first part of its
    variants), or None when its view is not cached (see the module docstring)."""
    return _VIEWS.get(reader.kind)


def trail_variant(view: str, fmt: str, lang: str, klass: str | None) -> str:
    """The variant of a cached trail: the view, the format, the language and the class the
    identifier was asked with (a lot-qualified item keeps its lot)."""
    return f"{view}:{fmt}:{lang}:{klass or ''}"


@dataclass(frozen=True, slots=True)
class CachedTrail:
    """One rendered trail."""

    body: bytes
    media_type: str
    etag: str
    headers: tuple[tuple[str, str], ...]
    stored_at: float


class TrailCache:
    """Rendered trails per identifier (canonical form) and variant (view, format, language:
    :func:`trail_variant`)."""

    def __init__(self, ttl: float = 30.0, max_identifiers: int = 50_000) -> None:
        self.ttl = ttl
        self._max = max_identifiers
        self._data: OrderedDict[str, dict[str, CachedTrail]] = OrderedDict()
        self._lock = threading.Lock()
        #: Bumped by every invalidation, so a render that raced one is not stored.
        self._generation = 0
        self.hits = 0
        self.misses = 0

    @property
    def generation(self) -> int:
        """The invalidation counter (read it before computing a trail)."""
        return self._generation

    def get(self, canonical: str, variant: str) -> CachedTrail | None:
        """A fresh rendering, or None."""
        with self._lock:
            variants = self._data.get(canonical)
            entry = variants.get(variant) if variants else None
            if entry is None or time.monotonic() - entry.stored_at > self.ttl:
                self.misses += 1
                return None
            self.hits += 1
            return entry

    def peek(self, canonical: str, variant: str) -> CachedTrail | None:
        """The entry, fresh or not, without counting a hit or a miss."""
        variants = self._data.get(canonical)
        return variants.get(variant) if variants else None

    def put(self, canonical: str, variant: str, entry: CachedTrail, generation: int) -> None:
        """Store a rendering computed when the counter was ``generation`` (dropped if stale)."""
        with self._lock:
            if generation != self._generation:
                return
            self._data.setdefault(canonical, {})[variant] = entry
            self._data.move_to_end(canonical)
            while len(self._data) > self._max:
                self._data.popitem(last=False)

    def invalidate(self, canonicals: Iterable[str]) -> None:
        """Forget the trails of these identifiers."""
        with self._lock:
            self._generation += 1
            for canonical in canonicals:
                self._data.pop(canonical, None)

    def __len__(self) -> int:
        return sum(len(variants) for variants in self._data.values())

    def clear(self) -> None:
        """Forget every trail."""
        with self._lock:
            self._generation += 1
            self._data.clear()
