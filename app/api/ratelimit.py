"""The dedup check's rate limit: a token bucket per client, in memory (each replica counts its own)."""

from __future__ import annotations

import threading
import time


class RateLimiter:
    """Token bucket per client: ``rate_per_minute`` sustained, bursts up to the same number."""

    def __init__(self, rate_per_minute: int, clock=time.monotonic) -> None:
        self.capacity = float(rate_per_minute)
        self.refill = rate_per_minute / 60.0
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, client: str) -> float:
        """0 when allowed, else the seconds to wait before a token is available."""
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.get(client, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.refill)
            if tokens >= 1.0:
                self._buckets[client] = (tokens - 1.0, now)
                if len(self._buckets) > 10_000:  # forget idle clients
                    self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < 120}
                return 0.0
            self._buckets[client] = (tokens, now)
            return (1.0 - tokens) / self.refill
