"""/metrics through the Prometheus client library (``prometheus_client``): counters, the request-latency
histogram, and gauges computed at scrape time.

Each app has its own ``CollectorRegistry``, so every app built in one process (the test suite builds
many) counts from zero. With ``PROMETHEUS_MULTIPROC_DIR`` set before the process starts (the library's
convention), counters and the histogram are written to files in that directory and a scrape sums every
worker's; the scrape-time gauges stay those of the process that answers (docs/operations.md).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator, Mapping

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
    values,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

log = logging.getLogger("ticker.metrics")

#: the environment variable that turns on the library's multiprocess mode (several workers, one sum)
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

#: what /metrics is served as: the library's own text exposition content type
CONTENT_TYPE: str = CONTENT_TYPE_LATEST

#: the request histogram's bucket edges in seconds (+Inf is added by the library)
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

#: the request histogram's name and HELP line
REQUEST_DURATION = "ticker_request_duration_seconds"
REQUEST_DURATION_HELP = "HTTP request latency by route."

#: every counter: its name as served (with ``_total``), its HELP line and its label names
COUNTERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "ticker_http_responses_total": (
        "HTTP responses by status code and route template (route \"unmatched\" when no route matched).",
        ("code", "route"),
    ),
    "ticker_headlines_ingested_total": (
        "Headlines stored, from POST /v1/headlines and from feeds (replays not counted).",
        (),
    ),
    "ticker_headlines_replayed_total": (
        "Headlines sent again with a (source, id) already stored: answered with the first result, not stored again.",
        (),
    ),
    "ticker_headlines_duplicate_total": (
        "Headlines stored as duplicates of an existing story (replays not counted).",
        (),
    ),
    "ticker_dedup_checks_total": (
        "Dedup checks (POST /v1/dedup/check) by verdict (label duplicate: true or false).",
        ("duplicate",),
    ),
    "ticker_retention_deleted_stories_total": ("Stories deleted by retention.", ()),
    "ticker_retention_deleted_headlines_total": ("Headlines deleted by retention, with their stories.", ()),
    "ticker_feed_fetches_total": (
        "Fetches of a followed feed (label feed: its id), whatever their outcome.",
        ("feed",),
    ),
    "ticker_feed_errors_total": (
        "Polls of a feed that failed: no answer, an HTTP error, an unreadable or oversized body.",
        ("feed",),
    ),
    "ticker_feed_not_modified_total": (
        "Fetches of a feed answered 304 Not Modified (the conditional GET worked).",
        ("feed",),
    ),
    "ticker_feed_items_seen_total": ("Entries read in the documents fetched from a feed.", ("feed",)),
    "ticker_feed_items_stored_total": ("New headlines stored from a feed's entries (each entry once).", ("feed",)),
    "ticker_feed_items_skipped_total": ("Entries of a feed left out: no title once cleaned.", ("feed",)),
}

#: the HELP lines of the gauges computed at scrape time (from the app's state, see app/api/ops.py)
GAUGE_HELP: dict[str, str] = {
    "ticker_ready": "1 once the service takes headlines (storage open, encoder loaded), else 0.",
    "ticker_store_headlines": "Headlines in the store.",
    "ticker_store_stories": "Stories in the store.",
    "ticker_feeds": "Feeds followed, whatever their status.",
    "ticker_feeds_pending": "Feeds enabled but not fetched yet.",
    "ticker_feeds_ok": "Feeds whose last poll worked.",
    "ticker_feeds_error": "Feeds whose last poll failed.",
    "ticker_feeds_disabled": "Feeds disabled (not polled).",
    "ticker_topics": "Topics found by the last refit.",
    "ticker_topic_refits_total": "Topic refits run by this process since it started (served as a gauge).",
    "ticker_topic_refit_seconds": "Seconds the last topic refit took.",
    "ticker_topic_noise_fraction": "Share of stories the last topic refit left in no topic.",
    "ticker_topic_refit_worker_peak_rss_mib": "Peak resident memory (MiB) of the last refit's child process.",
}

#: a scrape-time gauge's source: name -> value, read on every scrape
GaugeSource = Callable[[], Mapping[str, float]]

# No _created series: multiprocess mode drops them, so that one worker or several serve the same series.
disable_created_metrics()


class ScrapeGauges(Collector):
    """Gauges computed when /metrics is scraped, from a source set once the app's state exists."""

    def __init__(self) -> None:
        self.source: GaugeSource | None = None

    def collect(self) -> Iterator[Metric]:
        source = self.source
        if source is None:
            return
        for name, value in sorted(source().items()):
            help_text = GAUGE_HELP.get(name, "A gauge computed at scrape time.")
            yield GaugeMetricFamily(name, help_text, value=float(value))


def multiproc_dir() -> str | None:
    """The directory of the library's multiprocess mode, or None when this process serves alone."""
    return os.environ.get(MULTIPROC_ENV) or None


class Metrics:
    """The app's metrics: ``inc`` a counter by name, ``observe`` a request's latency, ``render`` /metrics."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.multiprocess_dir = multiproc_dir()
        if self.multiprocess_dir is not None and values.ValueClass is values.MutexValue:
            # the library picks where values live when it is imported: set afterwards, the workers' files stay empty
            raise RuntimeError(
                f"{MULTIPROC_ENV} must be set before the process starts (before prometheus_client is imported)"
            )
        #: what /metrics serves: this app's own registry, never the library's global one
        self.registry = CollectorRegistry()
        # In multiprocess mode the values live in the directory's files, read back summed by the collector;
        # registering the metrics themselves as well would serve this worker's share twice.
        self._own: CollectorRegistry | None = None if self.multiprocess_dir else self.registry
        if self.multiprocess_dir is not None:
            MultiProcessCollector(self.registry, path=self.multiprocess_dir)
        self._counters: dict[str, Counter] = {
            name: Counter(name, text, labelnames, registry=self._own) for name, (text, labelnames) in COUNTERS.items()
        }
        self._latency = Histogram(
            REQUEST_DURATION, REQUEST_DURATION_HELP, ("method", "route"), buckets=BUCKETS, registry=self._own
        )
        self.gauges = ScrapeGauges()
        self.registry.register(self.gauges)

    def set_gauges(self, source: GaugeSource) -> None:
        """Read the scrape-time gauges from ``source`` at each scrape (it may block: render runs off the loop)."""
        self.gauges.source = source

    def inc(self, name: str, value: float = 1.0, **labels: str) -> None:
        counter = self._counters.get(name)
        if counter is None:
            counter = self._undeclared(name, labels)
        (counter.labels(**labels) if labels else counter).inc(value)

    def observe(self, route: str, method: str, seconds: float) -> None:
        self._latency.labels(method=method, route=route).observe(seconds)

    def render(self) -> bytes:
        """The text exposition of this app's registry (in multiprocess mode: every worker's counters summed)."""
        return generate_latest(self.registry)

    @property
    def counters(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """This process's counter values by (name, sorted labels), whatever the mode."""
        out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        with self._lock:
            counters = list(self._counters.values())
        for counter in counters:
            for family in counter.collect():
                for s in family.samples:
                    if s.name.endswith("_total"):
                        out[(s.name, tuple(sorted(s.labels.items())))] = s.value
        return out

    def _undeclared(self, name: str, labels: Mapping[str, str]) -> Counter:
        # A name missing from COUNTERS still counts rather than failing its request.
        with self._lock:
            counter = self._counters.get(name)
            if counter is None:
                log.warning("counter %s is not declared in app/api/metrics.py: served without a description", name)
                counter = Counter(name, "Undeclared counter.", tuple(sorted(labels)), registry=self._own)
                self._counters[name] = counter
            return counter
