"""The feed poller: a background thread that leases due feeds, fetches them, and ingests their new entries.

One pass (``poll_once(now)``, which tests call directly):
1. lease up to ``2 x TICKER_FEEDS_WORKERS`` feeds due at ``now`` (``Store.claim_feeds``: a conditional UPDATE,
   so with several replicas on one PostgreSQL database each feed is polled by one of them at a time, and a
   replica that died hands its feeds over when its leases run out);
2. fetch each on a worker thread (``fetch.Fetcher``: conditional, capped, every address checked);
3. parse the body (``parse.parse_feed``), leave out the entries already stored (by the feed's source and the
   entry's guid / link, the headlines' own ``(source, ext_id)`` key), and ingest the rest through
   ``Pipeline.ingest``, the call POST /v1/headlines makes: they are committed before they count as stored;
4. write the outcome (``policy.next_poll``) and give the lease back, only while still holding it.

The validators (ETag, Last-Modified) are written only after the entries are committed: a process killed in
between fetches the whole document again next time and finds its entries stored (nothing lost, nothing
twice). The thread never runs on the event loop; ``stop()`` ends it between feeds and gives back its leases.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

from ..config import Settings
from ..ingest.langcodes import accepted_langs, canonical_lang
from ..records import HeadlineInput, IngestResult
from ..store.base import FeedRow, Store
from .fetch import Fetcher
from .parse import FeedParseError, ParsedFeed, parse_feed
from .policy import Outcome, next_poll

log = logging.getLogger("ticker.feeds")

#: seconds between two looks for due feeds (a feed added through the API is looked at at once)
TICK_SECONDS = 1.0


class Counter(Protocol):
    def inc(self, name: str, value: float = 1.0, **labels: str) -> None: ...


@dataclass(frozen=True)
class PollReport:
    """One feed's poll, for tests and logs."""

    feed_id: int
    url: str
    status: int | None
    error: str | None
    items_seen: int
    items_stored: int
    skipped: int
    #: False when the lease was lost before the outcome could be written (another process polls it now)
    recorded: bool


def owner_id() -> str:
    """This process's name in leases: host, pid and a random part (a restarted process is another owner)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class FeedPoller:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        ingest: Callable[[Sequence[HeadlineInput]], list[IngestResult]],
        *,
        metrics: Counter | None = None,
        fetcher: Fetcher | None = None,
        owner: str | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.ingest = ingest
        self.metrics = metrics
        self.fetcher = fetcher or Fetcher(
            max_bytes=settings.feeds_max_bytes,
            timeout=settings.feeds_timeout_seconds,
            max_redirects=settings.feeds_max_redirects,
            allow_private=settings.feeds_allow_private,
            max_connections=max(2, settings.feeds_workers * 2),
        )
        self.owner = owner or owner_id()
        self.rng = rng or random.Random()
        self._rng_lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._pool = ThreadPoolExecutor(max_workers=settings.feeds_workers, thread_name_prefix="ticker-feed")

    # --- the loop -------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="ticker-feeds", daemon=True)
            self._thread.start()

    def wake(self) -> None:
        """Look for due feeds now (a feed was just added)."""
        self._wake.set()

    def stop(self) -> None:
        """End the loop between feeds, give back every lease this process holds, close the HTTP client."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=self.settings.feeds_timeout_seconds + 10)
        self._pool.shutdown(wait=True, cancel_futures=True)
        try:
            self.store.release_feeds(self.owner)
        except Exception:  # the store may be gone already; the leases then run out on their own
            log.warning("feeds: could not give back the leases of %s", self.owner, exc_info=True)
        self.fetcher.close()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                reports = self.poll_once()
            except Exception:
                log.exception("feeds: a polling pass failed")
                reports = []
            if len(reports) >= self._batch():
                continue  # more may be due: no pause
            self._wake.wait(TICK_SECONDS)
            self._wake.clear()

    def _batch(self) -> int:
        return 2 * self.settings.feeds_workers

    # --- one pass -------------------------------------------------------------------------
    def poll_once(self, now: float | None = None) -> list[PollReport]:
        """Lease the feeds due at ``now`` (default: the clock) and poll them; returns what each poll did."""
        now = time.time() if now is None else now
        if self._stop.is_set():
            return []
        feeds = self.store.claim_feeds(self.owner, now, self.settings.feeds_lease_seconds, self._batch())
        if not feeds:
            return []
        return list(self._pool.map(lambda f: self.poll_feed(f, now), feeds))

    def poll_feed(self, feed: FeedRow, now: float) -> PollReport:
        """Poll one feed this process has leased, and write the outcome."""
        label = str(feed.id)
        fetched = self.fetcher.fetch(feed.url, feed.etag, feed.last_modified)
        self._inc("ticker_feed_fetches_total", 1, label)
        error: str | None = None
        seen = stored = skipped = 0
        if fetched.error is None and fetched.status == 200 and fetched.body is not None:
            try:
                parsed = parse_feed(
                    fetched.body,
                    fetched.content_type,
                    base_url=fetched.url,
                    max_title_chars=self.settings.max_title_chars,
                    now=now,
                )
            except FeedParseError as exc:
                error = f"unreadable feed: {exc}"[:500]
            else:
                seen, skipped = len(parsed.entries) + parsed.skipped, parsed.skipped
                if parsed.malformed:
                    log.info(
                        "feeds: feed %d is not well formed (%s); %d entries recovered",
                        feed.id,
                        parsed.malformed,
                        len(parsed.entries),
                    )
                # the fetch took some of the lease: renewed from this moment for the ingest (``now`` is the
                # pass's clock; a test's may run ahead of the wall clock)
                until = max(time.time(), now) + self.settings.feeds_lease_seconds
                if not self.store.renew_feed_lease(feed.id, self.owner, until):
                    return PollReport(feed.id, feed.url, fetched.status, "lease lost", seen, 0, skipped, False)
                try:
                    stored = self._ingest(feed, parsed)
                except Exception as exc:  # nothing of the failed batch is stored; validators stay, so all is read again
                    log.exception("feeds: ingesting feed %d failed", feed.id)
                    error = f"ingest failed: {type(exc).__name__}"
        elif fetched.status == 304:
            self._inc("ticker_feed_not_modified_total", 1, label)
        outcome = Outcome(fetch=fetched, error=error, items_seen=seen, items_stored=stored)
        with self._rng_lock:
            poll = next_poll(feed, outcome, now, max_backoff=self.settings.feeds_max_backoff_seconds, rng=self.rng)
        recorded = self.store.record_feed_poll(feed.id, self.owner, poll)
        if poll.error is not None:
            self._inc("ticker_feed_errors_total", 1, label)
            log.info(
                "feeds: feed %d (%s): %s; next try in %.0f s", feed.id, feed.url, poll.error, poll.next_poll_at - now
            )
        if seen:
            self._inc("ticker_feed_items_seen_total", seen, label)
        if stored:
            self._inc("ticker_feed_items_stored_total", stored, label)
        if skipped:
            self._inc("ticker_feed_items_skipped_total", skipped, label)
        if poll.new_url and recorded:
            log.info("feeds: feed %d moved permanently to %s", feed.id, poll.new_url)
        if poll.disable and recorded:
            log.warning("feeds: feed %d (%s) disabled: %s", feed.id, feed.url, poll.disable)
        return PollReport(feed.id, feed.url, fetched.status, poll.error, seen, stored, skipped, recorded)

    def _ingest(self, feed: FeedRow, parsed: ParsedFeed) -> int:
        """Store the entries not stored before; returns how many were stored now."""
        known = self.store.get_by_externals((feed.source, e.key) for e in parsed.entries)
        accepted = accepted_langs(tuple(self.settings.languages))
        items = [
            HeadlineInput(
                title=e.title,
                ext_id=e.key,
                source=feed.source,
                url=e.url,
                published_at=e.published_at,
                # the language given when the feed was added wins over what the feed declares; a
                # language the service does not take ("de") is detected instead, as the API refuses it
                lang=lang if canonical_lang(lang := feed.lang or e.lang) in accepted else None,
            )
            for e in parsed.entries
            if (feed.source, e.key) not in known
        ]
        stored = 0
        step = self.settings.max_batch_size
        for i in range(0, len(items), step):
            if i and self._stop.is_set():
                # the rest is read again at the next poll: an error keeps the validators (see poll_feed)
                raise InterruptedError("the service is stopping")
            results = self.ingest(items[i : i + step])
            fresh = sum(1 for r in results if not r.idempotent_replay)
            stored += fresh
            if self.metrics is not None:
                # the same counters a POST moves
                self.metrics.inc("ticker_headlines_ingested_total", fresh)
                self.metrics.inc("ticker_headlines_replayed_total", len(results) - fresh)
                self.metrics.inc(
                    "ticker_headlines_duplicate_total",
                    sum(1 for r in results if r.duplicate and not r.idempotent_replay),
                )
        return stored

    def _inc(self, name: str, value: float, feed: str) -> None:
        if self.metrics is not None:
            self.metrics.inc(name, value, feed=feed)
