"""Prometheus metrics of one app (its own registry, so several apps can live in one process).

* ``tracechain_captures_total{outcome}`` and ``tracechain_captured_events_total{new}``: the
  capture rate (``rate(...[5m])``);
* ``tracechain_pending_events``: events waiting to be anchored (the outbox), read at scrape;
* ``tracechain_anchor_lag_seconds``: age of the oldest event waiting to be anchored;
* ``tracechain_http_request_duration_seconds{route,method,status}``;
* ``tracechain_trail_cache_{hits,misses}_total`` style gauges of the caches.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector


@dataclass(frozen=True, slots=True)
class BacklogSample:
    """What the scrape reads from the database."""

    pending_events: int
    oldest_pending_age_s: float
    anchored_batches: int


class _BacklogCollector(Collector):
    def __init__(self, sample: Callable[[], BacklogSample | None]) -> None:
        self._sample = sample

    def collect(self) -> Iterator[Metric]:
        data = self._sample()
        if data is None:
            return
        pending = GaugeMetricFamily(
            "tracechain_pending_events", "Events captured but not anchored yet (the outbox)."
        )
        pending.add_metric([], data.pending_events)
        yield pending
        lag = GaugeMetricFamily(
            "tracechain_anchor_lag_seconds",
            "Age of the oldest event waiting to be anchored (0 when none waits).",
        )
        lag.add_metric([], data.oldest_pending_age_s)
        yield lag
        batches = GaugeMetricFamily("tracechain_anchored_batches", "Anchor batches mined on chain.")
        batches.add_metric([], data.anchored_batches)
        yield batches


class _CacheCollector(Collector):
    def __init__(self, read: Callable[[], dict[str, tuple[int, int, int]]]) -> None:
        self._read = read

    def collect(self) -> Iterator[Metric]:
        hits = GaugeMetricFamily(
            "tracechain_cache_hits", "Cache hits since start.", labels=["cache"]
        )
        misses = GaugeMetricFamily(
            "tracechain_cache_misses", "Cache misses since start.", labels=["cache"]
        )
        size = GaugeMetricFamily("tracechain_cache_entries", "Cache entries.", labels=["cache"])
        for name, (h, m, n) in self._read().items():
            hits.add_metric([name], h)
            misses.add_metric([name], m)
            size.add_metric([name], n)
        yield hits
        yield misses
        yield size


class Metrics:
    """The metrics of one app."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.captures = Counter(
            "tracechain_captures",
            "Capture requests by outcome.",
            ["outcome"],
            registry=self.registry,
        )
        self.captured_events = Counter(
            "tracechain_captured_events",
            "Events in accepted captures (new: stored now; else already stored).",
            ["new"],
            registry=self.registry,
        )
        self.recalls = Counter(
            "tracechain_recalls", "Recalls sent on chain.", ["action"], registry=self.registry
        )
        self.requests = Histogram(
            "tracechain_http_request_duration_seconds",
            "HTTP request duration by route template.",
            ["route", "method", "status"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0),
            registry=self.registry,
        )

    def watch_backlog(self, sample: Callable[[], BacklogSample | None]) -> None:
        """Read the anchoring backlog at every scrape."""
        self.registry.register(_BacklogCollector(sample))

    def watch_caches(self, read: Callable[[], dict[str, tuple[int, int, int]]]) -> None:
        """Report cache statistics at every scrape."""
        self.registry.register(_CacheCollector(read))
