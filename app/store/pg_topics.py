"""The PostgreSQL backend's topics: a refit's topics and assignments, and what the clusters view reads of them."""

from __future__ import annotations

import time
from typing import Any, Sequence

import numpy as np

from .base import TopicRow, dumps
from .pg_core import PostgresBase, Vec


class PostgresTopics(PostgresBase):
    # --- topics --------------------------------------------------------------------------
    def replace_topics(
        self, topics: Sequence[TopicRow], story_topics: dict[int, int | None], events: Sequence[dict[str, Any]]
    ) -> None:
        now = time.time()
        with self._write() as c:
            c.execute("DELETE FROM topics")
            with c.cursor() as cur:
                if topics:
                    cur.executemany(
                        "INSERT INTO topics (id, label, label_score, keywords, centroid, size, created_at, updated_at,"
                        " category, keyword_langs) VALUES (%s, %s, %s, %s::text[], %s, %s, %s, %s, %s, %s::text[])",
                        [
                            (
                                t.id,
                                t.label,
                                float(t.label_score),
                                list(t.keywords),
                                Vec(t.centroid),
                                t.size,
                                t.created_at,
                                t.updated_at,
                                t.category,
                                list(t.keyword_langs),
                            )
                            for t in topics
                        ],
                    )
                if events:
                    cur.executemany(
                        "INSERT INTO topic_events (at, payload) VALUES (%s, %s)", [(now, dumps(e)) for e in events]
                    )
            if story_topics:
                sids = [int(s) for s in story_topics]
                # NULL travels as text inside the array literal; an all-NULL list has no element type.
                tids = [None if t is None else str(int(t)) for t in story_topics.values()]
                c.execute(
                    "UPDATE stories SET topic_id = v.tid FROM unnest(%s::bigint[], %s::text[]::bigint[]) AS v(sid, tid)"
                    " WHERE stories.id = v.sid",
                    (sids, tids),
                )

    def topics(self, centroids: bool = True) -> list[TopicRow]:
        rows = self._q(
            f"SELECT id, label, label_score, keywords, {'centroid' if centroids else 'NULL'}, size, created_at, "
            "updated_at, category, keyword_langs FROM topics ORDER BY id"
        )
        return [
            TopicRow(
                id=r[0],
                label=r[1],
                label_score=r[2],
                keywords=list(r[3]),
                centroid=r[4] if centroids else np.zeros(0, dtype=np.float32),
                size=r[5],
                created_at=r[6],
                updated_at=r[7],
                category=r[8],
                keyword_langs=list(r[9]),
            )
            for r in rows
        ]

    def topic_stats(self) -> dict[int, dict[str, Any]]:
        out: dict[int, dict[str, Any]] = {}
        # One pass: the counts per (topic, list of languages), added up per topic here; few stories of a
        # topic differ in their list of languages.
        for tid, langs, n, total, first, last in self._q(
            "SELECT topic_id, languages, COUNT(*), SUM(size), MIN(first_seen), MAX(last_seen) FROM stories "
            "WHERE topic_id IS NOT NULL AND size > 0 GROUP BY topic_id, languages"
        ):
            st = out.get(int(tid))
            if st is None:
                out[int(tid)] = {
                    "n_stories": int(n),
                    "n_headlines": int(total),
                    "first_seen": first,
                    "last_seen": last,
                    "languages": set(langs),
                }
            else:
                st["n_stories"] += int(n)
                st["n_headlines"] += int(total)
                st["first_seen"] = min(st["first_seen"], first)
                st["last_seen"] = max(st["last_seen"], last)
                st["languages"].update(langs)
        for st in out.values():
            st["languages"] = sorted(st["languages"])
        return out
