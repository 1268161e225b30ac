"""PostgreSQL + pgvector backend, for several replicas sharing one database.

- Connections come from a pool (the API calls the store from a threadpool). A ``transaction()``
  pins one connection to the calling thread until it ends, so every method called inside it sees
  that transaction's writes.
- Each write transaction first takes a transaction-level advisory lock: story assignment is
  serialised across all replicas, as SQLite's single writer serialises it within one process.
  Isolation stays READ COMMITTED, so statements after the lock see what the previous holder
  committed (REPEATABLE READ would keep the snapshot taken before the wait).
- ``nearest()`` runs in the database. A time window holding few headlines is scored exactly;
  a busy one goes through an HNSW index over a halfvec cast of the embeddings (pgvector 0.8's
  iterative scan keeps the time filter from starving it), then the exact float32 cosine ranks
  the candidates.
- ``refit_leader()`` holds a session-level advisory lock, so one replica refits at a time.
"""

from __future__ import annotations

import time
from typing import Iterable, Sequence

import numpy as np

from embeddings import l2_normalise

from .base import (
    HEADLINE_COLS,
    STORY_COLS,
    HeadlineRow,
    NewHeadline,
    StoryFilter,
    StoryRow,
    headline_row,
    story_filter_sql,
)
from .pg_core import PgOptions, Vec
from .pg_corrections import PostgresCorrections
from .pg_feeds import PostgresFeeds
from .pg_rows import _ids, _member_of
from .pg_topics import PostgresTopics
from .rows import headline_values
from .rows import story_row as _story

__all__ = ["PgOptions", "PostgresStore", "Vec"]


# --- nearest(): two ways to search a time window ------------------------------------------
# Few rows in the window: score them all, exactly. Many: the HNSW index. The cut-off grows with
# the table so that the index scan, which must visit about k / (window share) tuples to find k
# inside the window, stays well under max_scan_tuples and cannot starve. The count stops at the
# cut-off: it never walks a whole busy window.
_WINDOW_IS_SMALL_SQL = (
    "WITH cap AS (SELECT GREATEST(%(min)s::bigint, (2 * %(k)s * GREATEST(reltuples, 0) / %(scan)s)::bigint) AS n"
    " FROM pg_class WHERE oid = 'headlines'::regclass)"
    " SELECT (SELECT count(*) FROM (SELECT 1 FROM headlines WHERE ts BETWEEN %(lo)s AND %(hi)s"
    " LIMIT (SELECT n FROM cap) + 1) w) <= (SELECT n FROM cap)"
)

_EXACT_NEAREST_SQL = (
    "SELECT id, 1 - (embedding <=> %(q)s) AS cos FROM headlines WHERE ts BETWEEN %(lo)s AND %(hi)s"
    " ORDER BY embedding <=> %(q)s, id LIMIT %(k)s"
)


def _index_nearest_sql(dim: int) -> str:
    # (ts + 0) hides the filter from the ts btree, so the planner cannot trade the HNSW index for
    # a sort of the whole window (it did, for 5,000-row windows: 90 ms instead of 3). The ORDER BY
    # repeats the index expression so the index matches; MATERIALIZED keeps that LIMIT apart from
    # the exact re-rank (relaxed_order may return candidates slightly out of order).
    return (
        f"WITH c AS MATERIALIZED ("
        f" SELECT id, embedding FROM headlines WHERE ts + 0 BETWEEN %(lo)s AND %(hi)s"
        f" ORDER BY embedding::halfvec({dim}) <=> %(q)s::halfvec({dim}) LIMIT %(k)s)"
        f" SELECT id, 1 - (embedding <=> %(q)s) AS cos FROM c ORDER BY cos DESC, id"
    )


class PostgresStore(PostgresTopics, PostgresCorrections, PostgresFeeds):
    """Headlines and stories; the rest comes from the parts it is made of (``pg_core``, ``pg_topics``,
    ``pg_corrections``, ``pg_feeds``)."""

    # --- headlines -----------------------------------------------------------------------
    def embeddings_by_hash(self, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        uniq = list(dict.fromkeys(hashes))
        if not uniq:
            return {}
        rows = self._q(
            "SELECT DISTINCT ON (text_hash) text_hash, embedding FROM headlines WHERE text_hash = ANY(%s::text[])",
            (uniq,),
        )
        return {h: v for h, v in rows}

    def find_exact(self, text_hash: str, ts_lo: float, ts_hi: float) -> HeadlineRow | None:
        rows = self._q(
            f"SELECT {HEADLINE_COLS} FROM headlines WHERE text_hash = %s AND ts BETWEEN %s AND %s "
            "ORDER BY ts, id LIMIT 1",
            (text_hash, ts_lo, ts_hi),
        )
        return headline_row(rows[0]) if rows else None

    def nearest(self, vector: np.ndarray, k: int, ts_lo: float, ts_hi: float) -> list[tuple[int, float]]:
        if k <= 0:
            return []
        params = {
            "lo": ts_lo,
            "hi": ts_hi,
            "k": int(k),
            "q": Vec(vector),
            "min": self.options.exact_scan_max_rows,
            "scan": self.options.max_scan_tuples,
        }
        with self._conn() as conn:
            exact = conn.execute(_WINDOW_IS_SMALL_SQL, params).fetchone()[0]  # type: ignore[index]
            if exact:
                rows = conn.execute(_EXACT_NEAREST_SQL, params, binary=True).fetchall()
            else:
                # With (ts + 0) the planner guesses the window keeps 0.5 % of the rows, and a sequential
                # scan with a top-k sort then looks cheaper than the HNSW index: measured 25 ms at 9,700
                # rows (and growing with the table) against 1.9 ms through the index. So the index query
                # runs with sequential scans off, for this statement only: a savepoint when inside the
                # write transaction, and the setting put back before it ends.
                with conn.transaction():
                    conn.execute("SET LOCAL enable_seqscan = off")
                    rows = conn.execute(_index_nearest_sql(self.dim), params, binary=True).fetchall()
                    conn.execute("SET LOCAL enable_seqscan = DEFAULT")
        return [(int(r[0]), float(r[1])) for r in rows]

    def headlines(self, ids: Iterable[int]) -> dict[int, HeadlineRow]:
        ids = _ids(ids)
        if not ids:
            return {}
        rows = self._q(f"SELECT {HEADLINE_COLS} FROM headlines WHERE id = ANY(%s::bigint[])", (ids,))
        return {r[0]: headline_row(r) for r in rows}

    def embeddings(self, ids: Iterable[int]) -> dict[int, np.ndarray]:
        ids = _ids(ids)
        if not ids:
            return {}
        return {r[0]: r[1] for r in self._q("SELECT id, embedding FROM headlines WHERE id = ANY(%s::bigint[])", (ids,))}

    def insert_headline(self, row: NewHeadline) -> int:
        emb = np.asarray(row.embedding, dtype=np.float32).reshape(self.dim)
        with self._write() as c:
            r = c.execute(
                "INSERT INTO headlines (title, norm, text_hash, lang, source, source_key, ext_id, url, "
                "published_at, received_at, ts, story_id, match, score, matched_headline_id, features, embedding, "
                "search_text) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s) RETURNING id",
                headline_values(row, Vec(emb)),
            ).fetchone()
            return int(r[0])  # type: ignore[index]

    # --- stories -------------------------------------------------------------------------
    def create_story(self, first: NewHeadline) -> int:
        with self._write() as c:
            r = c.execute(
                "INSERT INTO stories (first_seen, last_seen, size, updated_at) VALUES (%s, %s, 0, %s) RETURNING id",
                (first.ts, first.ts, time.time()),
            ).fetchone()
            return int(r[0])  # type: ignore[index]

    def add_to_story(self, story_id: int, headline_id: int, row: NewHeadline) -> None:
        emb = Vec(np.asarray(row.embedding, dtype=np.float32).reshape(self.dim))
        # One statement: every right-hand side reads the row as it was before the update, so the
        # two canonical CASEs agree with each other.
        with self._write() as c:
            r = c.execute(
                "UPDATE stories SET"
                " canonical_headline_id = CASE WHEN canonical_headline_id IS NULL OR %(ts)s < canonical_ts"
                "   THEN %(hid)s ELSE canonical_headline_id END,"
                " canonical_ts = CASE WHEN canonical_headline_id IS NULL OR %(ts)s < canonical_ts"
                "   THEN %(ts)s ELSE canonical_ts END,"
                " first_seen = LEAST(first_seen, %(ts)s), last_seen = GREATEST(last_seen, %(ts)s),"
                " size = size + 1,"
                " languages = CASE WHEN %(lang)s::text IS NULL OR %(lang)s::text = ANY(languages)"
                "   THEN languages ELSE array_append(languages, %(lang)s::text) END,"
                " sources = CASE WHEN %(source)s::text IS NULL OR %(source)s::text = ANY(sources)"
                "   THEN sources ELSE array_append(sources, %(source)s::text) END,"
                " centroid_sum = COALESCE(centroid_sum + %(emb)s, %(emb)s),"
                " updated_at = %(now)s"
                " WHERE id = %(sid)s RETURNING id",
                {
                    "ts": row.ts,
                    "hid": headline_id,
                    "lang": row.lang or None,
                    "source": row.source or None,
                    "emb": emb,
                    "now": time.time(),
                    "sid": story_id,
                },
            ).fetchone()
            if r is None:
                raise KeyError(f"story {story_id} does not exist")

    def story(self, story_id: int) -> StoryRow | None:
        rows = self._q(f"SELECT {STORY_COLS} FROM stories WHERE id = %s", (story_id,))
        return _story(rows[0]) if rows else None

    def stories_by_ids(self, ids: Iterable[int]) -> dict[int, StoryRow]:
        ids = _ids(ids)
        if not ids:
            return {}
        rows = self._q(f"SELECT {STORY_COLS} FROM stories WHERE id = ANY(%s::bigint[])", (ids,))
        return {r[0]: _story(r) for r in rows}

    def topic_story_pages(
        self, topic_ids: Sequence[int], limit: int, since: float | None = None
    ) -> dict[int, list[StoryRow]]:
        ids = list(dict.fromkeys(int(t) for t in topic_ids))
        out: dict[int, list[StoryRow]] = {t: [] for t in ids}
        if not ids:
            return out
        clause, params = story_filter_sql("%s", _member_of, StoryFilter(since=since))
        # one query for every topic: each topic's newest ``limit`` stories, the first entries of
        # stories_topic_recent (topic_id, last_seen DESC, id DESC) for it
        cols = ", ".join("s." + c for c in STORY_COLS.split(", "))
        with self._conn() as conn:
            rows = conn.execute(
                f"SELECT {cols} FROM unnest(%s::bigint[]) AS t(id) CROSS JOIN LATERAL (SELECT {STORY_COLS} "
                f"FROM stories WHERE topic_id = t.id AND {clause} ORDER BY last_seen DESC, id DESC "
                f"LIMIT %s) AS s ORDER BY s.topic_id, s.last_seen DESC, s.id DESC",
                [ids, *params, int(limit)],
                binary=True,
            ).fetchall()
        for r in rows:
            out[int(r[5])].append(_story(r))
        return out

    def stories_where(self, where: StoryFilter, *, limit: int, offset: int) -> tuple[list[StoryRow], int]:
        clause, params = story_filter_sql("%s", _member_of, where)
        with self._conn() as conn:
            total = conn.execute(f"SELECT COUNT(*) FROM stories WHERE {clause}", params).fetchone()[0]  # type: ignore[index]
            rows = conn.execute(
                f"SELECT {STORY_COLS} FROM stories WHERE {clause} ORDER BY last_seen DESC, id DESC LIMIT %s OFFSET %s",
                [*params, limit, offset],
                binary=True,
            ).fetchall()
        return [_story(r) for r in rows], int(total)

    def story_headlines(self, story_ids: Sequence[int]) -> dict[int, list[HeadlineRow]]:
        out: dict[int, list[HeadlineRow]] = {int(s): [] for s in story_ids}
        if not out:
            return out
        for r in self._q(
            f"SELECT {HEADLINE_COLS} FROM headlines WHERE story_id = ANY(%s::bigint[]) ORDER BY ts, id", (list(out),)
        ):
            out[r[10]].append(headline_row(r))
        return out

    def story_titles(self, story_ids: Sequence[int]) -> list[tuple[int, str, str | None]]:
        if not story_ids:
            return []
        return self._q(
            "SELECT story_id, title, lang FROM headlines WHERE story_id = ANY(%s::bigint[]) ORDER BY ts, id",
            ([int(s) for s in story_ids],),
        )

    def forget_stories_before(self, cutoff: float, limit: int = 5000) -> tuple[int, int]:
        # Looked up first outside a write: a write transaction moves the data version (the clusters
        # view's ETag) even when it deletes nothing, and most runs find nothing.
        if not self._q("SELECT 1 FROM stories WHERE last_seen < %s LIMIT 1", (cutoff,)):
            return 0, 0
        with self._write() as c:
            sids = [
                r[0]
                for r in c.execute(
                    "SELECT id FROM stories WHERE last_seen < %s ORDER BY last_seen, id LIMIT %s", (cutoff, limit)
                ).fetchall()
            ]
            if not sids:
                return 0, 0
            gone = c.execute("DELETE FROM headlines WHERE story_id = ANY(%s::bigint[])", (sids,)).rowcount
            c.execute("DELETE FROM stories WHERE id = ANY(%s::bigint[])", (sids,))
            c.execute("DELETE FROM story_apart WHERE a = ANY(%s::bigint[]) OR b = ANY(%s::bigint[])", (sids, sids))
        return len(sids), int(gone)

    def story_briefs(self, stories: Sequence[StoryRow]) -> dict[int, list[HeadlineRow]]:
        out: dict[int, list[HeadlineRow]] = {s.id: [] for s in stories}
        if not out:
            return out
        canon = [s.canonical_headline_id for s in stories if s.canonical_headline_id is not None]
        # DISTINCT ON keeps the earliest row per (story, language); NULL languages count as one,
        # as in the base implementation.
        for r in self._q(
            f"SELECT {HEADLINE_COLS} FROM headlines WHERE id IN ("
            " SELECT DISTINCT ON (story_id, lang) id FROM headlines WHERE story_id = ANY(%s::bigint[])"
            " ORDER BY story_id, lang, ts, id"
            ") OR id = ANY(%s::bigint[]) ORDER BY ts, id",
            (list(out), canon),
        ):
            if r[10] in out:
                out[r[10]].append(headline_row(r))
        return out

    def _centroids(self, rows: list[tuple]) -> tuple[list[int], np.ndarray]:
        if not rows:
            return [], np.zeros((0, self.dim), dtype=np.float32)
        return [int(r[0]) for r in rows], l2_normalise(np.vstack([r[1] for r in rows]))

    def story_centroids(self, since: float) -> tuple[list[int], np.ndarray]:
        return self._centroids(
            self._q(
                "SELECT id, centroid_sum FROM stories WHERE last_seen >= %s AND size > 0 "
                "AND centroid_sum IS NOT NULL ORDER BY id",
                (since,),
            )
        )

    def story_centroids_for(self, story_ids: Sequence[int]) -> tuple[list[int], np.ndarray]:
        ids = _ids(story_ids)
        if not ids:
            return self._centroids([])
        rows = self._q(
            "SELECT id, centroid_sum FROM stories WHERE id = ANY(%s::bigint[]) AND centroid_sum IS NOT NULL", (ids,)
        )
        order = {sid: i for i, sid in enumerate(ids)}
        return self._centroids(sorted(rows, key=lambda r: order[r[0]]))

    def recent_counts(self, story_ids: Sequence[int], since: float) -> dict[int, int]:
        out = {int(s): 0 for s in story_ids}
        if not out:
            return out
        for sid, n in self._q(
            "SELECT story_id, COUNT(*) FROM headlines WHERE story_id = ANY(%s::bigint[]) AND received_at >= %s "
            "GROUP BY story_id",
            (list(out), since),
        ):
            out[sid] = int(n)
        return out
