"""How common each name and word is in the window (``app/stories/rarity.py``), kept in step with the
store: counted from it at start-up, and with several writers (replicas on PostgreSQL) the others' new
stories read from it by id."""

from __future__ import annotations

import threading
import time
from typing import Callable, Iterable

from ..store import Store
from ..stories.features import Features
from ..stories.rarity import DocumentFrequency, rarity_terms

#: stored headlines read at a time when counting the rarity of names and words from the store
RARITY_READ = 5000
#: with several replicas, a dedup check counts the others' new headlines at most this often
RARITY_SYNC_SECONDS = 5.0


class RaritySync:
    """``counts``: the window's document frequencies. Each story counts once, by its first headline.

    ``_seen`` is the highest headline id read from the store, ``_own`` the ids this process counted
    itself above it (so they are not counted twice when read back).
    """

    def __init__(self, store: Store, window: float, clock: Callable[[], float]) -> None:
        self.store = store
        self.window = window
        self.clock = clock
        self.counts = DocumentFrequency(window)
        self._lock = threading.Lock()
        self._seen = 0
        self._own: set[int] = set()
        self._synced_at = 0.0

    def warm(self) -> int:
        """Count the stored window's story openers (start-up). Returns how many were counted."""
        newest = self.store.latest_story_time()
        return self.sync(newest - self.window) if newest is not None else 0

    def due(self) -> bool:
        """Whether a reader should look for other writers' stories now."""
        return time.monotonic() - self._synced_at > RARITY_SYNC_SECONDS

    def sync(self, ts_lo: float = float("-inf")) -> int:
        """Count the stored story openers this process has not counted yet."""
        counted = 0
        with self._lock:
            while True:
                rows = self.store.story_openers_since(self._seen, max(ts_lo, -1e18), RARITY_READ)
                for hid, ts, features in rows:
                    if hid not in self._own:
                        f = Features.from_json(features)
                        counted += self.counts.add(f.lang, rarity_terms(f), min(ts, self.clock()))
                if rows:
                    self._seen = max(self._seen, rows[-1][0])
                if len(rows) < RARITY_READ:
                    break
            self._own = {hid for hid in self._own if hid > self._seen}
            self._synced_at = time.monotonic()
        return counted

    def add_opener(self, headline_id: int, features: Features, ts: float) -> None:
        """Count a story this process opened (``ts``: never ahead of now, see ``Pipeline``)."""
        self.counts.add(features.lang, rarity_terms(features), ts)
        if self.store.shared_writers:
            with self._lock:
                self._own.add(headline_id)

    def take_back(self, openers: Iterable[tuple[int, Features, float]]) -> None:
        """Uncount what a rolled-back batch counted: it was never stored."""
        with self._lock:
            for headline_id, features, ts in openers:
                self.counts.remove(features.lang, rarity_terms(features), ts)
                self._own.discard(headline_id)
