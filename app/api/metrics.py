"""A few Prometheus metrics, written in the text exposition format by hand (no client library needed)."""

from __future__ import annotations

import threading
from collections import defaultdict

_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

#: what a counter counts, written as its # HELP line (counters not named here get none)
HELP = {
    "ticker_feed_fetches_total": "Fetches of a followed feed (label feed: its id), whatever their outcome.",
    "ticker_feed_errors_total": "Polls of a feed that failed: no answer, an HTTP error, an unreadable or oversized body.",
    "ticker_feed_not_modified_total": "Fetches of a feed answered 304 Not Modified (the conditional GET worked).",
    "ticker_feed_items_seen_total": "Entries read in the documents fetched from a feed.",
    "ticker_feed_items_stored_total": "New headlines stored from a feed's entries (each entry once).",
    "ticker_feed_items_skipped_total": "Entries of a feed left out: no title once cleaned.",
}


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counters: dict[tuple[str, tuple[tuple[str, str], ...]], float] = defaultdict(float)
        self.hist: dict[tuple[str, str], list[float]] = {}
        self.hist_sum: dict[tuple[str, str], float] = defaultdict(float)
        self.hist_count: dict[tuple[str, str], int] = defaultdict(int)

    def inc(self, name: str, value: float = 1.0, **labels: str) -> None:
        with self._lock:
            self.counters[(name, tuple(sorted(labels.items())))] += value

    def observe(self, route: str, method: str, seconds: float) -> None:
        key = (route, method)
        with self._lock:
            buckets = self.hist.setdefault(key, [0.0] * len(_BUCKETS))
            for i, edge in enumerate(_BUCKETS):
                if seconds <= edge:
                    buckets[i] += 1
            self.hist_sum[key] += seconds
            self.hist_count[key] += 1

    def render(self, gauges: dict[str, float]) -> str:
        lines: list[str] = []
        with self._lock:
            names = sorted({name for name, _ in self.counters})
            for name in names:
                if name in HELP:
                    lines.append(f"# HELP {name} {HELP[name]}")
                lines.append(f"# TYPE {name} counter")
                for (n, labels), value in sorted(self.counters.items()):
                    if n == name:
                        lines.append(f"{name}{_labels(dict(labels))} {value:g}")
            lines.append("# HELP ticker_request_duration_seconds HTTP request latency by route.")
            lines.append("# TYPE ticker_request_duration_seconds histogram")
            for (route, method), buckets in sorted(self.hist.items()):
                base = {"route": route, "method": method}
                for edge, count in zip(_BUCKETS, buckets):
                    lines.append(
                        f"ticker_request_duration_seconds_bucket{_labels({**base, 'le': f'{edge:g}'})} {count:g}"
                    )
                lines.append(
                    f"ticker_request_duration_seconds_bucket{_labels({**base, 'le': '+Inf'})} {self.hist_count[(route, method)]}"
                )
                lines.append(f"ticker_request_duration_seconds_sum{_labels(base)} {self.hist_sum[(route, method)]:.6f}")
                lines.append(f"ticker_request_duration_seconds_count{_labels(base)} {self.hist_count[(route, method)]}")
        for name, value in sorted(gauges.items()):
            lines.append(f"# TYPE {name} gauge")
            lines.append(f"{name} {value:g}")
        return "\n".join(lines) + "\n"


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items()))
    return "{" + inner + "}"


def _escape(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
