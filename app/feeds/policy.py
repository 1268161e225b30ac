"""What a fetch's outcome does to a feed: when to poll next, which validators to keep, a new URL, disabling.

Pure: a feed row, an outcome, a time and a random source in; the ``FeedPoll`` the store writes out.

- success (200 read and ingested, or 304): next poll one interval later (the feed's interval as stored when
  the outcome is written: one changed during the fetch counts); the error streak ends; a 200's
  ETag / Last-Modified become the validators (a 304 keeps the old ones); a chain of permanent redirects
  (301, 308) from the feed's URL makes its target the feed's URL;
- 410 Gone: the feed is disabled, never polled again (unless an operator resumes it: PATCH /v1/feeds/{id});
- any other failure: the streak grows and the next poll backs off, doubling per error from one interval up
  to ``max_backoff`` (never under one interval), times a random factor in [0.8, 1.2) so that feeds
  failing together (one host down) do not come back together; a 429's or 503's Retry-After is a floor
  (capped at the longest of the backoff cap and the interval: a typo of a year does not park a feed).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from ..store.base import FeedPoll, FeedRow
from .fetch import FetchResult

#: the backoff's random factor, from JITTER_LOW (inclusive) to JITTER_HIGH
JITTER_LOW, JITTER_HIGH = 0.8, 1.2


@dataclass(frozen=True)
class Outcome:
    """A fetch, and what ingesting its entries gave (when it got that far)."""

    fetch: FetchResult
    #: set when the fetch succeeded but its body could not be used (not a feed, ingest failed)
    error: str | None = None
    items_seen: int = 0
    items_stored: int = 0


def backoff_seconds(streak: int, interval: float, max_backoff: float, rng: random.Random) -> float:
    """Seconds before the next try after ``streak`` consecutive errors (>= 1)."""
    base = interval * 2.0 ** min(max(streak, 1) - 1, 30)
    return max(interval, min(base, max_backoff)) * rng.uniform(JITTER_LOW, JITTER_HIGH)


def next_poll(feed: FeedRow, outcome: Outcome, now: float, *, max_backoff: float, rng: random.Random) -> FeedPoll:
    f = outcome.fetch
    error = f.error or outcome.error
    common: dict[str, Any] = {
        "last_fetch_at": now,
        "last_status": f.status,
        "items_seen": outcome.items_seen,
        "items_stored": outcome.items_stored,
    }
    if error is None:
        body = f.status == 200
        return FeedPoll(
            **common,
            next_poll_at=now + feed.interval_seconds,
            interval_seconds=feed.interval_seconds,
            error=None,
            consecutive_errors=0,
            etag=f.etag if body else None,
            last_modified=f.last_modified if body else None,
            keep_validators=not body,
            new_url=f.permanent_url if f.permanent_url and f.permanent_url != feed.url else None,
        )
    if f.status == 410:
        return FeedPoll(
            **common,
            next_poll_at=now,
            error=error,
            consecutive_errors=feed.consecutive_errors + 1,
            disable="410 Gone: the publisher removed the feed",
        )
    streak = feed.consecutive_errors + 1
    delay = backoff_seconds(streak, feed.interval_seconds, max_backoff, rng)
    if f.retry_after is not None and f.status in (429, 503):
        delay = max(delay, min(f.retry_after, max(max_backoff, feed.interval_seconds)))
    return FeedPoll(**common, next_poll_at=now + delay, error=error, consecutive_errors=streak)
