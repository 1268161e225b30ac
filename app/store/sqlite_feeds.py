"""The SQLite backend's followed feeds (app/feeds/): the feed list and its polling leases."""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from typing import Iterator

from .base import (
    FEED_COLS,
    FEED_POLL_SQL,
    FEED_UPDATE_SQL,
    DuplicateFeed,
    FeedChange,
    FeedPoll,
    FeedRow,
    TooManyFeeds,
    feed_change_params,
    feed_poll_params,
    feed_row,
)
from .sqlite_core import SQLiteBase


class SQLiteFeeds(SQLiteBase):
    # --- followed feeds --------------------------------------------------------------------
    @contextmanager
    def _feed_write(self) -> Iterator[sqlite3.Connection]:
        """A write of feed rows in a transaction of its own (or the caller's): polling state, so it does
        not move ``data_version`` (the clusters view's ETag)."""
        with self._lock, self.transaction():
            self._flush()
            yield self._conn

    def add_feed(
        self, url: str, source: str, lang: str | None, interval_seconds: float, now: float, max_feeds: int
    ) -> FeedRow:
        with self._feed_write() as c:
            if c.execute("SELECT 1 FROM feeds WHERE url = ?", (url,)).fetchone():
                raise DuplicateFeed(url)
            if c.execute("SELECT COUNT(*) FROM feeds").fetchone()[0] >= max_feeds:
                raise TooManyFeeds(max_feeds)
            r = c.execute(
                f"INSERT INTO feeds (url, source, lang, interval_seconds, created_at, next_poll_at) "
                f"VALUES (?, ?, ?, ?, ?, ?) RETURNING {FEED_COLS}",
                (url, source, lang, float(interval_seconds), now, now),
            ).fetchone()
            return feed_row(r)

    def delete_feed(self, feed_id: int) -> bool:
        with self._feed_write() as c:
            return c.execute("DELETE FROM feeds WHERE id = ?", (int(feed_id),)).rowcount == 1

    def update_feed(self, feed_id: int, change: FeedChange, now: float) -> FeedRow | None:
        with self._feed_write() as c:
            r = c.execute(FEED_UPDATE_SQL, feed_change_params(feed_id, change, now)).fetchone()
        return feed_row(r) if r else None

    def claim_feeds(self, owner: str, now: float, lease_seconds: float, limit: int) -> list[FeedRow]:
        free = "enabled = 1 AND next_poll_at <= :now AND (leased_by IS NULL OR lease_until <= :now)"
        with self._feed_write() as c:
            rows = c.execute(
                f"UPDATE feeds SET leased_by = :owner, lease_until = :until WHERE id IN "
                f"(SELECT id FROM feeds WHERE {free} ORDER BY next_poll_at, id LIMIT :limit) AND {free} "
                f"RETURNING {FEED_COLS}",
                {"owner": owner, "until": now + lease_seconds, "now": now, "limit": int(limit)},
            ).fetchall()
        return sorted((feed_row(r) for r in rows), key=lambda f: (f.next_poll_at, f.id))

    def renew_feed_lease(self, feed_id: int, owner: str, until: float) -> bool:
        with self._feed_write() as c:
            return (
                c.execute(
                    "UPDATE feeds SET lease_until = ? WHERE id = ? AND leased_by = ?", (until, int(feed_id), owner)
                ).rowcount
                == 1
            )

    def record_feed_poll(self, feed_id: int, owner: str, poll: FeedPoll) -> bool:
        with self._feed_write() as c:
            return c.execute(FEED_POLL_SQL, feed_poll_params(feed_id, owner, poll)).rowcount == 1

    def release_feeds(self, owner: str) -> int:
        with self._feed_write() as c:
            return c.execute(
                "UPDATE feeds SET leased_by = NULL, lease_until = NULL WHERE leased_by = ?", (owner,)
            ).rowcount
