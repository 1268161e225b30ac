"""Forget stories a while after their last headline, so that the store follows the days kept, not the archive.

Matching only reads the window (``TICKER_WINDOW_HOURS``) and topics their own (``TICKER_TOPIC_WINDOW_HOURS``),
but without retention the tables, the disk and every full-table query (counts, story listings) grow
with each day of traffic. ``TICKER_RETENTION_DAYS`` (0, the default, keeps everything) deletes each
story, with all its headlines, once its last headline is that many days older than the newest story
(or than now, whichever is earlier: a replay of last year's archive is not wiped as it loads, and a
clock running ahead deletes nothing early). Stories still running keep all their headlines, old ones
too, so a story's id, canonical headline and counts never change under a reader.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable

from .config import Settings
from .store import Store

log = logging.getLogger("ticker.retention")

#: stories deleted per transaction, so that ingest waits for one batch, not for a first run over months
#: of history: 500 stories (1,500 headlines) took 0.1-0.5 s on the 2-core VM (SQLite, 30k headlines
#: stored; a third of it taking their rows out of the vector index), 2,000 took 0.6-0.8 s
BATCH = 500


@dataclass(frozen=True)
class RetentionReport:
    stories: int
    headlines: int
    #: stories last seen before this (epoch seconds) were deleted; None when retention is off or the store is empty
    cutoff: float | None
    seconds: float


def retention_cutoff(newest_story: float | None, now: float, days: float) -> float | None:
    """Epoch seconds before which a story's last headline makes it forgotten; None: keep everything."""
    if days <= 0 or newest_story is None:
        return None
    return min(newest_story, now) - days * 86400.0


class RetentionService:
    """Runs retention every ``TICKER_RETENTION_EVERY_SECONDS`` in a background thread, and on request."""

    def __init__(self, settings: Settings, store: Store, on_deleted: Callable[[int, int], None] | None = None) -> None:
        self.settings = settings
        self.store = store
        self.on_deleted = on_deleted
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_report: RetentionReport | None = None

    @property
    def enabled(self) -> bool:
        return self.settings.retention_days > 0

    def run(self, now: float | None = None) -> RetentionReport:
        """Delete what is due now, in batches; one run at a time per process (a second caller waits)."""
        t0 = time.perf_counter()
        with self._lock:
            cutoff = retention_cutoff(
                self.store.latest_story_time(), time.time() if now is None else now, self.settings.retention_days
            )
            stories = headlines = 0
            if cutoff is not None:
                while not self._stop.is_set():
                    s, h = self.store.forget_stories_before(cutoff, BATCH)
                    stories, headlines = stories + s, headlines + h
                    if s < BATCH:
                        break
            report = RetentionReport(stories, headlines, cutoff, time.perf_counter() - t0)
            self.last_report = report
        if stories:
            log.info(
                "retention: %d stories, %d headlines deleted (last seen before %s), %.2fs",
                stories,
                headlines,
                time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(cutoff)),
                report.seconds,
            )
            if self.on_deleted is not None:
                self.on_deleted(stories, headlines)
        return report

    def start(self) -> None:
        if self.enabled and self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="ticker-retention", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _loop(self) -> None:
        # The first run waits one period too: start-up (and the sample data) comes first.
        while not self._stop.wait(self.settings.retention_every_seconds):
            try:
                self.run()
            except Exception:  # the next period tries again; nothing is half-deleted (one transaction per batch)
                log.exception("retention run failed")
