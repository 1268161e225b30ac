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

import json
import re
import struct
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Sequence

import numpy as np
import psycopg
from psycopg.adapt import Dumper, Loader
from psycopg.pq import Format
from psycopg.types import TypeInfo
from psycopg_pool import ConnectionPool

from ..ingest.normalise import search_fold
from .base import (
    FEED_COLS,
    FEED_POLL_SQL,
    CorrectionRow,
    DuplicateFeed,
    FeedPoll,
    FeedRow,
    HeadlineRow,
    MemberRow,
    NewHeadline,
    Store,
    StoryRow,
    TooManyFeeds,
    TopicRow,
    dumps,
    feed_poll_params,
    feed_row,
    story_aggregates,
    story_filter_sql,
)
from .pg_migrations import LOCK_FEEDS, LOCK_REFIT, LOCK_WRITE, _search_path, migrate


@dataclass(frozen=True)
class PgOptions:
    """Tunables of the PostgreSQL backend (defaults suit one replica on a small machine)."""

    pool_min_size: int = 1
    #: per replica; keep replicas × this under the server's max_connections
    pool_max_size: int = 8
    #: seconds a caller waits for a free pooled connection before failing
    pool_timeout: float = 30.0
    #: HNSW candidate list size: recall vs. latency (must be >= the k asked for)
    ef_search: int = 100
    #: pgvector >= 0.8: keep scanning the graph until k rows pass the time filter
    iterative_scan: str = "relaxed_order"
    #: pgvector >= 0.8: upper bound of tuples one iterative scan visits
    max_scan_tuples: int = 20000
    #: a time window holding at most this many headlines is searched exactly, without the index
    #: (measured on 512-d: exact costs ~3 µs a row, so 3,000 rows ≈ the index's 15-20 ms, at recall 1)
    exact_scan_max_rows: int = 3000


# --- pgvector wire format ------------------------------------------------------------------
# Binary ``vector``: uint16 dim, uint16 unused, dim × big-endian float32. Written here rather than
# using the pgvector package's adapters, which register for every numpy array and load to lists.


class Vec:
    """Marks a numpy array to be sent as a pgvector ``vector``."""

    __slots__ = ("array",)

    def __init__(self, array: np.ndarray) -> None:
        self.array = np.asarray(array, dtype=np.float32).reshape(-1)


class _VecDumper(Dumper):
    format = Format.BINARY

    def dump(self, obj: Vec) -> bytes:
        a = obj.array
        return struct.pack(">HH", a.size, 0) + a.astype(">f4").tobytes()


class _VecLoader(Loader):
    format = Format.BINARY

    def load(self, data: Any) -> np.ndarray:
        return np.frombuffer(bytes(data), dtype=">f4", offset=4).astype(np.float32)


class _VecTextLoader(Loader):
    format = Format.TEXT

    def load(self, data: Any) -> np.ndarray:
        text = bytes(data).decode()
        return np.array(text[1:-1].split(","), dtype=np.float32) if len(text) > 2 else np.zeros(0, np.float32)


def _register_vector(conn: psycopg.Connection, oid: int) -> None:
    dumper = type("VecDumper", (_VecDumper,), {"oid": oid})
    conn.adapters.register_dumper(Vec, dumper)
    conn.adapters.register_loader(oid, _VecLoader)
    conn.adapters.register_loader(oid, _VecTextLoader)


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return (v / n).astype(np.float32) if n > 0 else v.astype(np.float32)


_HEADLINE_COLS = (
    "id, title, norm, text_hash, lang, source, ext_id, url, published_at, received_at, story_id, "
    "match, score, features, matched_headline_id"
)


def _headline(r: Sequence[Any]) -> HeadlineRow:
    return HeadlineRow(
        id=r[0],
        title=r[1],
        norm=r[2],
        text_hash=r[3],
        lang=r[4],
        source=r[5],
        ext_id=r[6],
        url=r[7],
        published_at=r[8],
        received_at=r[9],
        story_id=r[10],
        match=r[11],
        score=r[12],
        features=r[13],
        matched_headline_id=r[14],
    )


_STORY_COLS = "id, canonical_headline_id, first_seen, last_seen, size, topic_id, languages, sources, updated_at"


def _story(r: Sequence[Any]) -> StoryRow:
    return StoryRow(
        id=r[0],
        canonical_headline_id=r[1],
        first_seen=r[2],
        last_seen=r[3],
        size=r[4],
        topic_id=r[5],
        languages=list(r[6]),
        sources=list(r[7]),
        updated_at=r[8],
    )


_CORRECTION_COLS = "id, kind, payload, undo, actor, at, undone_at, undone_by"


def _correction(r: Sequence[Any]) -> CorrectionRow:
    # jsonb columns come back already decoded
    return CorrectionRow(
        id=r[0], kind=r[1], payload=r[2], undo=r[3], actor=r[4], at=r[5], undone_at=r[6], undone_by=r[7]
    )


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


def _ids(ids: Iterable[int]) -> list[int]:
    return list(dict.fromkeys(int(i) for i in ids))


class PostgresStore(Store):
    backend = "postgres"
    shared_writers = True

    def __init__(self, dsn: str, dim: int, *, schema: str | None = None, options: PgOptions | None = None) -> None:
        """``schema``: work in this schema (created if missing); else the DSN's search_path decides."""
        self.dim = int(dim)
        self.options = options or PgOptions()
        if self.options.ef_search < 1 or self.options.pool_max_size < 1:
            raise ValueError("ef_search and pool_max_size must be >= 1")
        self._local = threading.local()
        with psycopg.connect(dsn, autocommit=False) as boot:
            migrate(boot, self.dim, schema)
            if schema:
                boot.execute("SELECT set_config('search_path', %s, false)", (_search_path(schema),))
            row = boot.execute(
                "SELECT current_schema(), hashtext(current_schema()), "
                "(SELECT extversion FROM pg_extension WHERE extname = 'vector')"
            ).fetchone()
            boot.commit()
            info = TypeInfo.fetch(boot, "vector")
            boot.commit()
        assert row is not None and info is not None
        self.schema: str = row[0]
        self._schema_key: int = int(row[1])
        self._vector_oid = info.oid
        self._iterative = _version_at_least(row[2] or "0", (0, 8))
        self._schema_opt = schema
        self._pool = ConnectionPool(
            dsn,
            min_size=self.options.pool_min_size,
            max_size=self.options.pool_max_size,
            timeout=self.options.pool_timeout,
            # prepare_threshold=None: no server-side prepared statements, so every nearest() is
            # planned with its actual time range (a generic plan could pick HNSW for a window
            # that a btree scan answers exactly, or the reverse).
            kwargs={"autocommit": True, "prepare_threshold": None},
            configure=self._configure,
            name=f"ticker-store-{self.schema}",
            open=False,
        )
        self._pool.open(wait=True, timeout=self.options.pool_timeout)

    def _configure(self, conn: psycopg.Connection) -> None:
        _register_vector(conn, self._vector_oid)
        settings = {"hnsw.ef_search": str(self.options.ef_search)}
        if self._iterative:
            settings["hnsw.iterative_scan"] = self.options.iterative_scan
            settings["hnsw.max_scan_tuples"] = str(self.options.max_scan_tuples)
        if self._schema_opt:
            settings["search_path"] = _search_path(self._schema_opt)
        for name, value in settings.items():
            conn.execute("SELECT set_config(%s, %s, false)", (name, value))

    def close(self) -> None:
        self._pool.close()

    # --- transactions --------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[None]:
        local = self._local
        if getattr(local, "conn", None) is not None:  # nested: join the outer transaction
            yield
            return
        with self._pool.connection() as conn:
            local.conn, local.dirty = conn, False
            try:
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (LOCK_WRITE, self._schema_key))
                    yield
                    if local.dirty:
                        conn.execute(
                            "INSERT INTO meta (key, value) VALUES ('data_version', '1') "
                            "ON CONFLICT (key) DO UPDATE SET value = (meta.value::bigint + 1)::text"
                        )
            finally:
                local.conn, local.dirty = None, False

    @contextmanager
    def _write(self) -> Iterator[psycopg.Connection]:
        with self.transaction():
            self._local.dirty = True
            yield self._local.conn

    @contextmanager
    def _conn(self) -> Iterator[psycopg.Connection]:
        """This thread's transaction connection if one is open, else a pooled one."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            yield conn
        else:
            with self._pool.connection() as pooled:
                yield pooled

    def _q(self, query: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[tuple]:
        with self._conn() as conn:
            return conn.execute(query, params, binary=True).fetchall()

    @contextmanager
    def refit_leader(self) -> Iterator[bool]:
        """True for the one process holding the database-wide refit lock; it is released after."""
        conn: psycopg.Connection = self._pool.getconn()
        returned = False
        try:
            got = conn.execute("SELECT pg_try_advisory_lock(%s, %s)", (LOCK_REFIT, self._schema_key)).fetchone()
            if not (got and got[0]):
                self._pool.putconn(conn)  # not needed while the caller does its fallback
                returned = True
                yield False
                return
            try:
                yield True
            finally:
                try:
                    conn.execute("SELECT pg_advisory_unlock(%s, %s)", (LOCK_REFIT, self._schema_key))
                except psycopg.Error:
                    # A session lock must never go back to the pool: drop the connection with it.
                    conn.close()
        finally:
            if not returned:
                self._pool.putconn(conn)

    # --- headlines -----------------------------------------------------------------------
    def get_by_external(self, source: str | None, ext_id: str) -> HeadlineRow | None:
        rows = self._q(
            f"SELECT {_HEADLINE_COLS} FROM headlines WHERE source_key = %s AND ext_id = %s", (source or "", ext_id)
        )
        return _headline(rows[0]) if rows else None

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
            f"SELECT {_HEADLINE_COLS} FROM headlines WHERE text_hash = %s AND ts BETWEEN %s AND %s "
            "ORDER BY ts, id LIMIT 1",
            (text_hash, ts_lo, ts_hi),
        )
        return _headline(rows[0]) if rows else None

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
        rows = self._q(f"SELECT {_HEADLINE_COLS} FROM headlines WHERE id = ANY(%s::bigint[])", (ids,))
        return {r[0]: _headline(r) for r in rows}

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
                (
                    row.title,
                    row.norm,
                    row.text_hash,
                    row.lang,
                    row.source,
                    row.source or "",
                    row.ext_id,
                    row.url,
                    row.published_at,
                    row.received_at,
                    row.ts,
                    row.story_id,
                    row.match,
                    row.score,
                    row.matched_headline_id,
                    row.features,
                    Vec(emb),
                    search_fold(row.title),
                ),
            ).fetchone()
            return int(r[0])  # type: ignore[index]

    def count_headlines(self) -> int:
        return int(self._q("SELECT COUNT(*) FROM headlines")[0][0])

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
        rows = self._q(f"SELECT {_STORY_COLS} FROM stories WHERE id = %s", (story_id,))
        return _story(rows[0]) if rows else None

    def stories_by_ids(self, ids: Iterable[int]) -> dict[int, StoryRow]:
        ids = _ids(ids)
        if not ids:
            return {}
        rows = self._q(f"SELECT {_STORY_COLS} FROM stories WHERE id = ANY(%s::bigint[])", (ids,))
        return {r[0]: _story(r) for r in rows}

    def topic_story_pages(
        self, topic_ids: Sequence[int], limit: int, since: float | None = None
    ) -> dict[int, list[StoryRow]]:
        ids = list(dict.fromkeys(int(t) for t in topic_ids))
        out: dict[int, list[StoryRow]] = {t: [] for t in ids}
        if not ids:
            return out
        since_sql, params = ("AND last_seen >= %s", [since]) if since is not None else ("", [])
        # one query for every topic: each topic's newest ``limit`` stories, the first entries of
        # stories_topic_recent (topic_id, last_seen DESC, id DESC) for it
        cols = ", ".join("s." + c for c in _STORY_COLS.split(", "))
        with self._conn() as conn:
            rows = conn.execute(
                f"SELECT {cols} FROM unnest(%s::bigint[]) AS t(id) CROSS JOIN LATERAL (SELECT {_STORY_COLS} "
                f"FROM stories WHERE topic_id = t.id AND size > 0 {since_sql} ORDER BY last_seen DESC, id DESC "
                f"LIMIT %s) AS s ORDER BY s.topic_id, s.last_seen DESC, s.id DESC",
                [ids, *params, int(limit)],
                binary=True,
            ).fetchall()
        for r in rows:
            out[int(r[5])].append(_story(r))
        return out

    def list_stories(
        self,
        *,
        limit: int,
        offset: int,
        lang: str | None = None,
        source: str | None = None,
        since: float | None = None,
        until: float | None = None,
        topic_id: int | None = None,
        unassigned: bool = False,
        q: str | None = None,
    ) -> tuple[list[StoryRow], int]:
        clause, params = story_filter_sql(
            "%s",
            lambda column: f"%s::text = ANY({column})",
            lang=lang,
            source=source,
            since=since,
            until=until,
            topic_id=topic_id,
            unassigned=unassigned,
            q=q,
        )
        with self._conn() as conn:
            total = conn.execute(f"SELECT COUNT(*) FROM stories WHERE {clause}", params).fetchone()[0]  # type: ignore[index]
            rows = conn.execute(
                f"SELECT {_STORY_COLS} FROM stories WHERE {clause} ORDER BY last_seen DESC, id DESC LIMIT %s OFFSET %s",
                [*params, limit, offset],
                binary=True,
            ).fetchall()
        return [_story(r) for r in rows], int(total)

    def story_headlines(self, story_ids: Sequence[int]) -> dict[int, list[HeadlineRow]]:
        out: dict[int, list[HeadlineRow]] = {int(s): [] for s in story_ids}
        if not out:
            return out
        for r in self._q(
            f"SELECT {_HEADLINE_COLS} FROM headlines WHERE story_id = ANY(%s::bigint[]) ORDER BY ts, id", (list(out),)
        ):
            out[r[10]].append(_headline(r))
        return out

    def recent_features(self, limit: int) -> list[tuple[int, int, float | None, str]]:
        if limit <= 0:
            return []
        return self._q(
            "SELECT id, story_id, published_at, features FROM headlines ORDER BY id DESC LIMIT %s", (int(limit),)
        )

    def story_openers_since(self, after_id: int, ts_lo: float, limit: int) -> list[tuple[int, float, str]]:
        if limit <= 0:
            return []
        return self._q(
            "SELECT id, ts, features FROM headlines WHERE id > %s AND ts >= %s AND match IS NULL ORDER BY id LIMIT %s",
            (int(after_id), float(ts_lo), int(limit)),
        )

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

    def story_headline_page(self, story_id: int, limit: int, offset: int) -> list[HeadlineRow]:
        rows = self._q(
            f"SELECT {_HEADLINE_COLS} FROM headlines WHERE story_id = %s ORDER BY ts, id LIMIT %s OFFSET %s",
            (story_id, limit, offset),
        )
        return [_headline(r) for r in rows]

    def story_briefs(self, stories: Sequence[StoryRow]) -> dict[int, list[HeadlineRow]]:
        out: dict[int, list[HeadlineRow]] = {s.id: [] for s in stories}
        if not out:
            return out
        canon = [s.canonical_headline_id for s in stories if s.canonical_headline_id is not None]
        # DISTINCT ON keeps the earliest row per (story, language); NULL languages count as one,
        # as in the base implementation.
        for r in self._q(
            f"SELECT {_HEADLINE_COLS} FROM headlines WHERE id IN ("
            " SELECT DISTINCT ON (story_id, lang) id FROM headlines WHERE story_id = ANY(%s::bigint[])"
            " ORDER BY story_id, lang, ts, id"
            ") OR id = ANY(%s::bigint[]) ORDER BY ts, id",
            (list(out), canon),
        ):
            if r[10] in out:
                out[r[10]].append(_headline(r))
        return out

    def _centroids(self, rows: list[tuple]) -> tuple[list[int], np.ndarray]:
        if not rows:
            return [], np.zeros((0, self.dim), dtype=np.float32)
        return [int(r[0]) for r in rows], np.vstack([_unit(r[1]) for r in rows])

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

    def latest_story_time(self) -> float | None:
        rows = self._q("SELECT MAX(last_seen) FROM stories WHERE size > 0")
        return rows[0][0] if rows else None

    def count_stories(self) -> int:
        return int(self._q("SELECT COUNT(*) FROM stories WHERE size > 0")[0][0])

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

    def set_story_topic(self, story_id: int, topic_id: int | None) -> None:
        with self._write() as c:
            c.execute("UPDATE stories SET topic_id = %s WHERE id = %s", (topic_id, story_id))

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

    def topic_members(self) -> dict[int, set[int]]:
        out: dict[int, set[int]] = {}
        for sid, tid in self._q("SELECT id, topic_id FROM stories WHERE topic_id IS NOT NULL"):
            out.setdefault(int(tid), set()).add(int(sid))
        return out

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

    def topic_events(self, limit: int = 100) -> list[dict[str, Any]]:
        rows = self._q("SELECT at, payload FROM topic_events ORDER BY id DESC LIMIT %s", (limit,))
        return [{"at": r[0], **json.loads(r[1])} for r in rows]

    def get_meta(self, key: str) -> str | None:
        rows = self._q("SELECT value FROM meta WHERE key = %s", (key,))
        return rows[0][0] if rows else None

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction(), self._conn() as c:
            c.execute(
                "INSERT INTO meta (key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    # --- editors' corrections --------------------------------------------------------------
    def reassign(self, headline_ids: Sequence[int], story_id: int | None) -> tuple[int, dict[int, int]]:
        ids = _ids(headline_ids)
        if not ids:
            raise ValueError("no headline to move")
        with self._write() as c:
            rows = c.execute("SELECT id, story_id, ts FROM headlines WHERE id = ANY(%s::bigint[])", (ids,)).fetchall()
            missing = set(ids) - {r[0] for r in rows}
            if missing:
                raise KeyError(f"headlines {sorted(missing)} do not exist")
            left = {int(r[0]): int(r[1]) for r in rows}
            if story_id is None:
                # Opened as create_story opens one; the aggregates below fill it in.
                first = min(float(r[2]) for r in rows)
                r = c.execute(
                    "INSERT INTO stories (first_seen, last_seen, size, updated_at) VALUES (%s, %s, 0, %s) RETURNING id",
                    (first, first, time.time()),
                ).fetchone()
                target = int(r[0])  # type: ignore[index]
            else:
                target = int(story_id)
                if c.execute("SELECT 1 FROM stories WHERE id = %s", (target,)).fetchone() is None:
                    raise KeyError(f"story {target} does not exist")
            c.execute("UPDATE headlines SET story_id = %s WHERE id = ANY(%s::bigint[])", (target, ids))
            self._recompute_stories(c, {target, *left.values()})
        return target, left

    def _recompute_stories(self, c: psycopg.Connection, story_ids: set[int]) -> None:
        """Work each story's columns out again from its members; an emptied one keeps its times and
        canonical (retention still finds it by last_seen) with size 0 and no centroid."""
        sids = sorted(story_ids)
        members: dict[int, list[MemberRow]] = {sid: [] for sid in sids}
        for hid, sid, ts, lang, source, emb in c.execute(
            "SELECT id, story_id, ts, lang, source, embedding FROM headlines WHERE story_id = ANY(%s::bigint[])",
            (sids,),
            binary=True,
        ):
            members[sid].append(MemberRow(id=hid, ts=ts, lang=lang, source=source, embedding=emb))
        now = time.time()
        filled, emptied = [], []
        for sid in sids:
            agg = story_aggregates(members[sid])
            if agg["size"] == 0:
                emptied.append(sid)
                continue
            filled.append(
                (
                    agg["canonical_headline_id"],
                    agg["canonical_ts"],
                    agg["first_seen"],
                    agg["last_seen"],
                    agg["size"],
                    agg["languages"],
                    agg["sources"],
                    Vec(agg["centroid_sum"]),
                    now,
                    sid,
                )
            )
        with c.cursor() as cur:
            if filled:
                cur.executemany(
                    "UPDATE stories SET canonical_headline_id = %s, canonical_ts = %s, first_seen = %s,"
                    " last_seen = %s, size = %s, languages = %s::text[], sources = %s::text[], centroid_sum = %s,"
                    " updated_at = %s WHERE id = %s",
                    filled,
                )
            if emptied:
                cur.execute(
                    "UPDATE stories SET size = 0, languages = '{}', sources = '{}', centroid_sum = NULL,"
                    " updated_at = %s WHERE id = ANY(%s::bigint[])",
                    (now, emptied),
                )

    def set_merged_into(self, story_id: int, target: int | None) -> None:
        with self._write() as c:
            c.execute("UPDATE stories SET merged_into = %s WHERE id = %s", (target, story_id))

    def merged_into(self, story_ids: Iterable[int]) -> dict[int, int]:
        ids = _ids(story_ids)
        if not ids:
            return {}
        rows = self._q(
            "SELECT id, merged_into FROM stories WHERE id = ANY(%s::bigint[]) AND merged_into IS NOT NULL", (ids,)
        )
        return {int(r[0]): int(r[1]) for r in rows}

    def add_correction(
        self, kind: str, payload: dict[str, Any], undo: dict[str, Any], actor: str | None, at: float
    ) -> int:
        with self._write() as c:
            r = c.execute(
                "INSERT INTO corrections (kind, payload, undo, actor, at) VALUES (%s, %s::jsonb, %s::jsonb, %s, %s)"
                " RETURNING id",
                (kind, dumps(payload), dumps(undo), actor, at),
            ).fetchone()
            return int(r[0])  # type: ignore[index]

    def corrections(self, limit: int, offset: int) -> tuple[list[CorrectionRow], int]:
        with self._conn() as conn:
            total = conn.execute("SELECT COUNT(*) FROM corrections").fetchone()[0]  # type: ignore[index]
            rows = conn.execute(
                f"SELECT {_CORRECTION_COLS} FROM corrections ORDER BY id DESC LIMIT %s OFFSET %s",
                (limit, offset),
                binary=True,
            ).fetchall()
        return [_correction(r) for r in rows], int(total)

    def correction(self, correction_id: int) -> CorrectionRow | None:
        rows = self._q(f"SELECT {_CORRECTION_COLS} FROM corrections WHERE id = %s", (correction_id,))
        return _correction(rows[0]) if rows else None

    def mark_undone(self, correction_id: int, actor: str | None, at: float) -> bool:
        # The condition is checked again on the locked row, so of two replicas undoing at once one wins;
        # the data version moves only when something changed.
        with self.transaction(), self._conn() as c:
            changed = (
                c.execute(
                    "UPDATE corrections SET undone_at = %s, undone_by = %s WHERE id = %s AND undone_at IS NULL",
                    (at, actor, correction_id),
                ).rowcount
                == 1
            )
            if changed:
                self._local.dirty = True
        return changed

    def set_apart(self, a: int, b: int, apart: bool) -> None:
        lo, hi = sorted((int(a), int(b)))
        with self._write() as c:
            if apart:
                c.execute("INSERT INTO story_apart (a, b) VALUES (%s, %s) ON CONFLICT DO NOTHING", (lo, hi))
            else:
                c.execute("DELETE FROM story_apart WHERE a = %s AND b = %s", (lo, hi))

    def apart_pairs(self, story_ids: Iterable[int]) -> set[tuple[int, int]]:
        ids = _ids(story_ids)
        if not ids:
            return set()
        rows = self._q("SELECT a, b FROM story_apart WHERE a = ANY(%s::bigint[]) AND b = ANY(%s::bigint[])", (ids, ids))
        return {(int(r[0]), int(r[1])) for r in rows}

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

    def feeds(self) -> list[FeedRow]:
        return [feed_row(r) for r in self._q(f"SELECT {FEED_COLS} FROM feeds ORDER BY id")]

    def feed(self, feed_id: int) -> FeedRow | None:
        rows = self._q(f"SELECT {FEED_COLS} FROM feeds WHERE id = %s", (int(feed_id),))
        return feed_row(rows[0]) if rows else None

    def _feed_update(self, query: str, params: Any) -> list[tuple]:
        with self._pool.connection() as conn:
            cur = conn.execute(query, params)
            return cur.fetchall() if cur.description else [()] * cur.rowcount

    def delete_feed(self, feed_id: int) -> bool:
        return len(self._feed_update("DELETE FROM feeds WHERE id = %s", (int(feed_id),))) == 1

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


#: ``FEED_POLL_SQL`` with psycopg's named parameters
_PG_FEED_POLL_SQL = re.sub(r":([a-z_]+)", r"%(\1)s", FEED_POLL_SQL)


def _version_at_least(version: str, minimum: tuple[int, ...]) -> bool:
    parts = []
    for p in version.split("."):
        digits = "".join(ch for ch in p if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts) >= minimum
