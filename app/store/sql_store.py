"""What both SQL backends answer with the same statements: ``SQLStore`` holds the methods whose SQL differs
between SQLite and PostgreSQL only in the driver's parameter mark (``?``, ``%s``)."""

from __future__ import annotations

import abc
import json
from contextlib import AbstractContextManager
from typing import Any, Sequence

from .base import FEED_COLS, HEADLINE_COLS, FeedRow, HeadlineRow, Store, feed_row, headline_row


class SQLStore(Store):
    """A backend gives ``_mark`` (its parameter mark), ``_q`` (the rows of a read, seeing the calling
    thread's open transaction) and ``_write`` (a connection for a write, inside a transaction that
    moves the data version)."""

    #: the driver's parameter mark
    _mark: str = "?"

    @abc.abstractmethod
    def _q(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]: ...

    @abc.abstractmethod
    def _write(self) -> AbstractContextManager[Any]: ...

    # --- headlines ---------------------------------------------------------------------
    def get_by_external(self, source: str | None, ext_id: str) -> HeadlineRow | None:
        m = self._mark
        rows = self._q(
            f"SELECT {HEADLINE_COLS} FROM headlines WHERE source_key = {m} AND ext_id = {m}", (source or "", ext_id)
        )
        return headline_row(rows[0]) if rows else None

    def count_headlines(self) -> int:
        return int(self._q("SELECT COUNT(*) FROM headlines")[0][0])

    def recent_features(self, limit: int) -> list[tuple[int, int, float | None, str]]:
        if limit <= 0:
            return []
        return self._q(
            f"SELECT id, story_id, published_at, features FROM headlines ORDER BY id DESC LIMIT {self._mark}",
            (int(limit),),
        )

    def story_openers_since(self, after_id: int, ts_lo: float, limit: int) -> list[tuple[int, float, str]]:
        if limit <= 0:
            return []
        m = self._mark
        return self._q(
            f"SELECT id, ts, features FROM headlines WHERE id > {m} AND ts >= {m} AND match IS NULL "
            f"ORDER BY id LIMIT {m}",
            (int(after_id), float(ts_lo), int(limit)),
        )

    # --- stories -----------------------------------------------------------------------
    def story_headline_page(self, story_id: int, limit: int, offset: int) -> list[HeadlineRow]:
        m = self._mark
        rows = self._q(
            f"SELECT {HEADLINE_COLS} FROM headlines WHERE story_id = {m} ORDER BY ts, id LIMIT {m} OFFSET {m}",
            (story_id, limit, offset),
        )
        return [headline_row(r) for r in rows]

    def latest_story_time(self) -> float | None:
        rows = self._q("SELECT MAX(last_seen) FROM stories WHERE size > 0")
        return rows[0][0] if rows else None

    def count_stories(self) -> int:
        return int(self._q("SELECT COUNT(*) FROM stories WHERE size > 0")[0][0])

    def set_merged_into(self, story_id: int, target: int | None) -> None:
        m = self._mark
        with self._write() as c:
            c.execute(f"UPDATE stories SET merged_into = {m} WHERE id = {m}", (target, story_id))

    # --- topics ------------------------------------------------------------------------
    def set_story_topic(self, story_id: int, topic_id: int | None) -> None:
        m = self._mark
        with self._write() as c:
            c.execute(f"UPDATE stories SET topic_id = {m} WHERE id = {m}", (topic_id, story_id))

    def topic_members(self) -> dict[int, set[int]]:
        out: dict[int, set[int]] = {}
        for sid, tid in self._q("SELECT id, topic_id FROM stories WHERE topic_id IS NOT NULL"):
            out.setdefault(int(tid), set()).add(int(sid))
        return out

    def topic_events(self, limit: int = 100) -> list[dict[str, Any]]:
        rows = self._q(f"SELECT at, payload FROM topic_events ORDER BY id DESC LIMIT {self._mark}", (limit,))
        return [{"at": r[0], **json.loads(r[1])} for r in rows]

    # --- meta and feeds ----------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        rows = self._q(f"SELECT value FROM meta WHERE key = {self._mark}", (key,))
        return rows[0][0] if rows else None

    def feeds(self) -> list[FeedRow]:
        return [feed_row(r) for r in self._q(f"SELECT {FEED_COLS} FROM feeds ORDER BY id")]

    def feed(self, feed_id: int) -> FeedRow | None:
        rows = self._q(f"SELECT {FEED_COLS} FROM feeds WHERE id = {self._mark}", (int(feed_id),))
        return feed_row(rows[0]) if rows else None
