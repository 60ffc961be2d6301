"""In-memory caches of what does not change: verifications of anchored events, and whole trails.

* :class:`VerificationCache` keeps the verification of an event that was found ``verified``,
  keyed by a digest of everything the verification read from the database (the stored event,
  its hash, proof and batch): an anchored root never changes on chain, so the same inputs give
  the same answer until the chain is reset (then :meth:`clear`). An altered row has another
  digest and is verified afresh.
* :class:`TrailCache` keeps rendered trails (JSON, HTML per language) of identifiers whose
  every event is verified. It is invalidated per identifier when an event mentioning it is
  captured, when it is recalled (or the recall lifted), and by the watcher that follows
  captures made by other processes and recalls made directly on chain; entries also expire
  after ``ttl`` seconds, so even a change made behind the ledger's back shows up.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

V = TypeVar("V")


class LruCache(Generic[V]):
    """A thread-safe LRU map with a size bound (0 disables it)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._data: OrderedDict[str, V] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> V | None:
        """The value of ``key``, or None."""
        with self._lock:
            value = self._data.get(key)
            if value is None:
                self.misses += 1
                return None
            self._data.move_to_end(key)
            self.hits += 1
            return value

    def put(self, key: str, value: V) -> None:
        """Keep ``value`` under ``key`` (evicting the least recently used beyond the bound)."""
        if self._size <= 0:
            return
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self._size:
                self._data.popitem(last=False)

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


class VerificationCache(LruCache[object]):
    """Verifications of events found verified, keyed by the digest of their inputs."""


@dataclass(frozen=True, slots=True)
class CachedTrail:
    """One rendered trail."""

    body: bytes
    media_type: str
    etag: str
    headers: tuple[tuple[str, str], ...]
    stored_at: float


class TrailCache:
    """Rendered trails per identifier (canonical form) and variant (format, language)."""

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

    def clear(self) -> None:
        """Forget every trail."""
        with self._lock:
            self._generation += 1
            self._data.clear()
