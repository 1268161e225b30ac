"""The PostgreSQL backend's followed feeds (app/feeds/): the feed list and its polling leases, shared by
the replicas (a feed is polled by the one holding its lease)."""

from __future__ import annotations

import re
from typing import Any

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
from .pg_core import PostgresBase
from .pg_migrations import LOCK_FEEDS

#: ``FEED_POLL_SQL`` with psycopg's named parameters
_PG_FEED_POLL_SQL = re.sub(r":([a-z_]+)", r"%(\1)s", FEED_POLL_SQL)
#: ``FEED_UPDATE_SQL`` likewise
_PG_FEED_UPDATE_SQL = re.sub(r":([a-z_]+)", r"%(\1)s", FEED_UPDATE_SQL)


class PostgresFeeds(PostgresBase):
    """The feed methods of ``PostgresStore``."""

    # --- followed feeds ----------------------------------------------------------------------
    # Single statements on a pooled (autocommit) connection: polling state takes no part in the ingest
    # write lock, and a lease is one conditional UPDATE.
    def add_feed(
        self, url: str, source: str, lang: str | None, interval_seconds: float, now: float, max_feeds: int
    ) -> FeedRow:
        with self._pool.connection() as conn, conn.transaction():
            # replicas adding feeds at once queue here, so the count and the insert agree
            conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (LOCK_FEEDS, self._schema_key))
            if conn.execute("SELECT 1 FROM feeds WHERE url = %s", (url,)).fetchone():
                raise DuplicateFeed(url)
            if conn.execute("SELECT COUNT(*) FROM feeds").fetchone()[0] >= max_feeds:  # type: ignore[index]
                raise TooManyFeeds(max_feeds)
            r = conn.execute(
                f"INSERT INTO feeds (url, source, lang, interval_seconds, created_at, next_poll_at) "
                f"VALUES (%s, %s, %s, %s, %s, %s) RETURNING {FEED_COLS}",
                (url, source, lang, float(interval_seconds), now, now),
            ).fetchone()
            return feed_row(r)  # type: ignore[arg-type]

    def _feed_update(self, query: str, params: Any) -> list[tuple]:
        with self._pool.connection() as conn:
            cur = conn.execute(query, params)
            return cur.fetchall() if cur.description else [()] * cur.rowcount

    def delete_feed(self, feed_id: int) -> bool:
        return len(self._feed_update("DELETE FROM feeds WHERE id = %s", (int(feed_id),))) == 1

    def update_feed(self, feed_id: int, change: FeedChange, now: float) -> FeedRow | None:
        # one statement on an autocommit connection, lease or not: a poller's claim skips the row while it is
        # locked (SKIP LOCKED), and its outcome (record_feed_poll) waits for it, then keeps what it changed
        rows = self._feed_update(_PG_FEED_UPDATE_SQL, feed_change_params(feed_id, change, now))
        return feed_row(rows[0]) if rows else None

    def claim_feeds(self, owner: str, now: float, lease_seconds: float, limit: int) -> list[FeedRow]:
        # SKIP LOCKED: two replicas claiming at once take different feeds instead of waiting on each
        # other; the outer condition is checked again on the row as locked (READ COMMITTED re-reads it).
        free = "enabled AND next_poll_at <= %(now)s AND (leased_by IS NULL OR lease_until <= %(now)s)"
        rows = self._feed_update(
            f"UPDATE feeds SET leased_by = %(owner)s, lease_until = %(until)s WHERE id IN "
            f"(SELECT id FROM feeds WHERE {free} ORDER BY next_poll_at, id LIMIT %(limit)s FOR UPDATE SKIP LOCKED)"
            f" AND {free} RETURNING {FEED_COLS}",
            {"owner": owner, "until": now + lease_seconds, "now": now, "limit": int(limit)},
        )
        return sorted((feed_row(r) for r in rows), key=lambda f: (f.next_poll_at, f.id))

    def renew_feed_lease(self, feed_id: int, owner: str, until: float) -> bool:
        return (
            len(
                self._feed_update(
                    "UPDATE feeds SET lease_until = %s WHERE id = %s AND leased_by = %s", (until, int(feed_id), owner)
                )
            )
            == 1
        )

    def record_feed_poll(self, feed_id: int, owner: str, poll: FeedPoll) -> bool:
        return len(self._feed_update(_PG_FEED_POLL_SQL, feed_poll_params(feed_id, owner, poll))) == 1

    def release_feeds(self, owner: str) -> int:
        return len(
            self._feed_update("UPDATE feeds SET leased_by = NULL, lease_until = NULL WHERE leased_by = %s", (owner,))
        )
