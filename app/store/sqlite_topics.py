"""The SQLite backend's topics: a refit's topics and assignments, and what the clusters view reads of them."""

from __future__ import annotations

import time
from typing import Any, Sequence

import numpy as np

from .base import TopicRow, dumps
from .sqlite_core import SQLiteBase
from .sqlite_rows import _exact, _loads, _vec


class SQLiteTopics(SQLiteBase):
    # --- topics ------------------------------------------------------------------------
    def replace_topics(
        self, topics: Sequence[TopicRow], story_topics: dict[int, int | None], events: Sequence[dict[str, Any]]
    ) -> None:
        now = time.time()
        with self._write() as c:
            c.execute("DELETE FROM topics")
            c.executemany(
                "INSERT INTO topics (id, label, label_score, keywords, centroid, size, created_at, updated_at, "
                "category, keyword_langs) VALUES (?,?,?,?,?,?,?,?,?,?)",
                [
                    (
                        t.id,
                        t.label,
                        float(t.label_score),
                        dumps(t.keywords),
                        np.asarray(t.centroid, dtype=np.float32).tobytes(),
                        t.size,
                        t.created_at,
                        t.updated_at,
                        t.category,
                        dumps(t.keyword_langs),
                    )
                    for t in topics
                ],
            )
            c.executemany("UPDATE stories SET topic_id = ? WHERE id = ?", [(t, s) for s, t in story_topics.items()])
            c.executemany("INSERT INTO topic_events (at, payload) VALUES (?, ?)", [(now, dumps(e)) for e in events])

    def topics(self, centroids: bool = True) -> list[TopicRow]:
        # one JSON text (``_json_rows``): the clusters view reads every topic
        rows = self._json_rows(
            f"json_array(id, label, {_exact('label_score')}, json(keywords), "
            f"{'hex(centroid)' if centroids else 'NULL'}, size, {_exact('created_at')}, {_exact('updated_at')}, "
            "category, json(keyword_langs))",
            "SELECT id, label, label_score, keywords, centroid, size, created_at, updated_at, category, keyword_langs "
            "FROM topics",
        )
        return [
            TopicRow(
                id=r[0],
                label=r[1],
                label_score=float(r[2]),
                keywords=r[3],
                centroid=_vec(bytes.fromhex(r[4]) if centroids else None),
                size=r[5],
                created_at=float(r[6]),
                updated_at=float(r[7]),
                category=r[8],
                keyword_langs=r[9],
            )
            for r in sorted(rows, key=lambda r: r[0])
        ]

    def topic_stats(self) -> dict[int, dict[str, Any]]:
        out: dict[int, dict[str, Any]] = {}
        # One pass over stories_topic, which holds every column asked (the rows are not read), handed over
        # as one JSON text (``_json_rows``); each topic's distinct language lists come joined:
        # '["fr"],["fr","en"]'.
        for tid, n, total, first, last, langs in self._json_rows(
            f"json_array(topic_id, n, total, {_exact('first')}, {_exact('last')}, langs)",
            "SELECT topic_id, COUNT(*) AS n, SUM(size) AS total, MIN(first_seen) AS first, MAX(last_seen) AS last, "
            "group_concat(DISTINCT languages) AS langs FROM stories WHERE topic_id IS NOT NULL AND size > 0 "
            "GROUP BY topic_id",
        ):
            languages = sorted({lang for group in _loads(f"[{langs or ''}]") for lang in group})
            out[int(tid)] = {
                "n_stories": int(n),
                "n_headlines": int(total),
                "first_seen": float(first),
                "last_seen": float(last),
                "languages": languages,
            }
        return out
