"""The SQLite backend's machinery: its connections (one writer, a reader per thread), transactions, the
writer's buffered writes and kept story aggregates, and the in-process vector index's lifecycle.

One connection guarded by a re-entrant lock: SQLite allows a single writer anyway, and story
assignment must be serialised so duplicates of one story never open two stories.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from ..ingest.fold import search_fold
from .sql_store import SQLStore
from .sqlite_buffer import STORY_CACHE_SIZE, _Pending, _StoryState
from .sqlite_rows import _INSERT_HEADLINE, _INSERT_STORY, _UPDATE_STORY, _loads, _vec
from .sqlite_schema import SCHEMA_VERSION, migrate
from .vector_index import ANN_MIN_ROWS, VectorIndex


class SQLiteBase(SQLStore):
    """What every part of ``SQLiteStore`` works with (``sqlite_feeds``, ``sqlite_topics`` and
    ``sqlite_corrections`` add methods to it)."""

    backend = "sqlite"

    def __init__(
        self, path: str | Path, dim: int, index_horizon_hours: float = 24 * 30, ann_min_rows: int | None = ANN_MIN_ROWS
    ) -> None:
        self.path = str(path)
        self.dim = dim
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        self._lock = threading.RLock()
        # Readers on other threads get a connection of their own (WAL lets them read the last commit
        # while a write transaction runs): a dedup check must not wait seconds behind an ingest batch.
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()  # not self._lock: a writer holds that for a whole batch
        self._writer: int | None = None  # thread inside a write transaction
        self._in_tx = False
        self._dirty = False
        self._pending: _Pending | None = None  # buffered writes of the open transaction
        # Committed story aggregates, read and kept by the writer: matching asks for the centroids of
        # ~5 stories per headline (a query was a tenth of ingest time), and adding a member needs the
        # row. Valid while no other connection writes the file: cleared when PRAGMA data_version says
        # one did (checked as each write transaction begins).
        self._stories: dict[int, _StoryState] = {}
        self._file_version: int | None = None
        self._newest_ts = 0.0
        self._index = VectorIndex(dim, ann_min_rows=ann_min_rows)
        self._index_horizon = index_horizon_hours * 3600.0
        self._configure()
        self._migrate()
        self._load_index()

    # --- set-up ------------------------------------------------------------------------
    def _configure(self) -> None:
        c = self._conn
        if self.path != ":memory:":
            c.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit is on disk before the HTTP response acknowledges it.
        c.execute("PRAGMA synchronous=FULL")
        c.execute("PRAGMA foreign_keys=ON")
        # for migration 4's backfill: the folded search text of the headlines stored before it
        c.create_function("search_fold", 1, search_fold, deterministic=True)

    def _migrate(self, version: int = SCHEMA_VERSION) -> None:
        with self._lock:
            migrate(self._conn, self.path, version)
            stored_dim = self.get_meta("embedding_dim")
            if stored_dim is None:
                self.set_meta("embedding_dim", str(self.dim))
            elif int(stored_dim) != self.dim:
                raise RuntimeError(
                    f"database {self.path} holds {stored_dim}-d embeddings but the encoder gives {self.dim}-d; "
                    "use another TICKER_DATA_DIR or the encoder it was built with"
                )

    def _load_index(self) -> None:
        row = self._conn.execute("SELECT MAX(ts) FROM headlines").fetchone()
        if row[0] is None:
            return
        self._newest_ts = float(row[0])
        lo = row[0] - self._index_horizon
        cur = self._conn.execute("SELECT id, ts, embedding FROM headlines WHERE ts >= ? ORDER BY id", (lo,))
        with self._index.loading():  # one training, on every row, once they are all in
            while True:
                batch = cur.fetchmany(5000)
                if not batch:
                    break
                ids = np.array([b[0] for b in batch], dtype=np.int64)
                ts = np.array([b[1] for b in batch], dtype=np.float64)
                vecs = np.vstack([_vec(b[2], self.dim) for b in batch])
                self._index.add(ids, ts, vecs)
        # A large store trains its approximate index now (seconds at 100k rows), so that the service,
        # which reports ready once the store is open, answers its first checks at full speed.
        self._index.wait_ready(timeout=120.0)

    def close(self) -> None:
        with self._lock, self._readers_lock:
            for reader in self._readers:
                reader.close()
            self._readers.clear()
            self._conn.close()

    # --- transactions ------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self._lock:
            if self._in_tx:  # nested: join the outer transaction
                yield
                return
            self._conn.execute("BEGIN IMMEDIATE")
            version = self._conn.execute("PRAGMA data_version").fetchone()[0]
            if version != self._file_version:
                self._stories.clear()
                self._file_version = version
            self._in_tx, self._dirty = True, False
            self._writer = threading.get_ident()
            # Rows go into the index before the writer's next search (so later rows of the same batch
            # find them) or at commit; a rollback takes out those that went in.
            index_size = len(self._index)
            try:
                yield
                self._flush()
                self._flush_index()
                if self._dirty:
                    self._conn.execute(
                        "INSERT INTO meta(key, value) VALUES ('data_version', '1') "
                        "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1"
                    )
                self._conn.execute("COMMIT")
                if self._pending is not None:
                    self._keep_stories(self._pending.sent)
            except BaseException:
                self._pending = None
                self._conn.execute("ROLLBACK")
                self._index.truncate(index_size)
                raise
            finally:
                self._in_tx, self._writer, self._pending = False, None, None
            added = len(self._index) - index_size
            if added and len(self._index) > 1000 and len(self._index) % 1000 < added:
                self._index.prune(self._newest_ts - self._index_horizon)

    @contextmanager
    def _write(self, buffered: bool = False) -> Iterator[sqlite3.Connection]:
        """A write in the current (or its own) transaction. Unless ``buffered`` (it goes through
        ``_pending``), the buffered writes are sent first, so that statements keep their order."""
        with self._lock, self.transaction():
            self._dirty = True
            if not buffered:
                self._flush()
            yield self._conn

    def _pend(self) -> _Pending:
        """This transaction's write buffer (the writer holds the lock; BEGIN IMMEDIATE holds the file)."""
        if self._pending is None:
            # Never below an id retention deleted: a link to story 123 must not come to show another story,
            # nor a cached headline id name a new row.
            hid, sid = self._conn.execute(
                "SELECT MAX((SELECT COALESCE(MAX(id), 0) FROM headlines),"
                "           (SELECT COALESCE(MAX(CAST(value AS INTEGER)), 0) FROM meta WHERE key = 'deleted_headline_id')),"
                "       MAX((SELECT COALESCE(MAX(id), 0) FROM stories),"
                "           (SELECT COALESCE(MAX(CAST(value AS INTEGER)), 0) FROM meta WHERE key = 'deleted_story_id'))"
            ).fetchone()
            self._pending = _Pending(next_headline=int(hid) + 1, next_story=int(sid) + 1)
        return self._pending

    def _keep_stories(self, states: dict[int, _StoryState]) -> None:
        cache = self._stories
        for sid, st in states.items():
            if sid not in cache and len(cache) >= STORY_CACHE_SIZE:
                cache.pop(next(iter(cache)))
            cache[sid] = st

    def _story_state(self, story_id: int) -> _StoryState | None:
        """A story's current aggregates for the writer inside its transaction: buffered, sent by this
        transaction, committed and kept, or read from the file (and kept)."""
        st = self._story_state_kept(story_id)
        return st if st is not None else self._read_stories([story_id]).get(story_id)

    def _read_stories(self, story_ids: list[int]) -> dict[int, _StoryState]:
        """Committed aggregates of stories this transaction has not changed, from the file, kept."""
        sql = (
            "SELECT id, canonical_headline_id, canonical_ts, first_seen, last_seen, size, languages, sources, "
            "centroid_sum, updated_at FROM stories WHERE id IN ({marks})"
        )
        out = {
            int(r[0]): _StoryState(
                r[1],
                r[2],
                r[3],
                r[4],
                r[5],
                json.loads(r[6]),
                json.loads(r[7]),
                None if r[8] is None else _vec(r[8], self.dim),
                r[9],
                new=False,
            )
            for r in self._q_in(sql, story_ids, flush=False)
        }
        self._keep_stories(out)
        return out

    def _flush_index(self) -> None:
        """Add this transaction's rows waiting for the vector index (the writer, lock held)."""
        p = self._pending
        if p is None or not p.index_rows:
            return
        ids, ts, vecs = zip(*p.index_rows)
        p.index_rows = []
        self._index.add(np.array(ids, dtype=np.int64), np.array(ts, dtype=np.float64), np.vstack(vecs))

    def _mine(self) -> _Pending | None:
        """The write buffer when the calling thread is the writer (others never see uncommitted rows)."""
        return self._pending if self._writer == threading.get_ident() else None

    def _flush(self) -> None:
        """Send the buffered writes to SQLite (still inside the transaction)."""
        p = self._pending
        if p is None or (not p.headlines and not p.stories):
            return
        c = self._conn
        if p.headlines:
            c.executemany(_INSERT_HEADLINE, p.headlines)
        new = [st.params(sid) for sid, st in p.stories.items() if st.new]
        old = [st.params(sid) for sid, st in p.stories.items() if not st.new]
        if new:
            c.executemany(_INSERT_STORY, new)
        if old:
            c.executemany(_UPDATE_STORY, old)
        for st in p.stories.values():
            st.new = False
        p.sent.update(p.stories)
        p.headlines, p.by_hash, p.stories = [], {}, {}

    @property
    def reads_during_writes(self) -> bool:  # type: ignore[override]
        # in memory there is one connection (see _reader), and the writer holds it for a whole batch
        return self.path != ":memory:"

    def _reader(self) -> sqlite3.Connection | None:
        """This thread's read connection; None for the writer itself (it must see its own rows) and for
        an in-memory database (a second connection would open another, empty, database)."""
        if not self.reads_during_writes or self._writer == threading.get_ident():
            return None
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
            conn.execute("PRAGMA query_only=ON")
            with self._readers_lock:
                self._readers.append(conn)
            self._local.conn = conn
        return conn

    def _q(self, sql: str, params: Sequence[Any] = (), flush: bool = True) -> list[tuple]:
        """Rows of a read. On the writer's connection the buffered writes are sent first, unless the
        caller (``flush=False``) reads only rows that the buffer cannot hold or change."""
        reader = self._reader()
        if reader is not None:
            return reader.execute(sql, params).fetchall()
        with self._lock:
            if flush and self._mine() is not None:
                self._flush()
            return self._conn.execute(sql, params).fetchall()

    def _q_in(
        self,
        sql: str,
        values: Sequence[Any],
        after: Sequence[Any] = (),
        before: Sequence[Any] = (),
        flush: bool = True,
    ) -> Iterator[tuple]:
        """Rows of ``sql`` whose ``{marks}`` is a list of ``values``, asked in chunks that stay under
        SQLite's limit on bound parameters; ``before``/``after`` are parameters around the list."""
        for i in range(0, len(values), 500):
            chunk = values[i : i + 500]
            yield from self._q(sql.format(marks=",".join("?" * len(chunk))), [*before, *chunk, *after], flush)

    def _json_rows(self, row_json: str, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """The rows of ``sql`` (columns named as ``row_json`` uses them), each as ``row_json`` makes it,
        handed over as one JSON text. Python's sqlite3 lets go of the GIL for every row it steps to: with
        another thread busy in Python (an ingest), getting it back can take a switch interval (5 ms) per
        row, and a view of 1,400 rows took seconds. One row: one wait at most."""
        rows = self._q(f"SELECT json_group_array({row_json}) FROM ({sql})", params)
        return _loads(rows[0][0]) if rows and rows[0][0] else []

    def _story_state_kept(self, story_id: int) -> _StoryState | None:
        """``_story_state`` without reading the file: None for a story neither buffered nor kept."""
        p = self._pending
        if p is not None:
            st = p.stories.get(story_id) or p.sent.get(story_id)
            if st is not None:
                return st
        return self._stories.get(story_id)

    def set_meta(self, key: str, value: str) -> None:
        with self._lock:
            if self._in_tx:
                self._conn.execute(
                    "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    (key, value),
                )
            else:
                with self.transaction():
                    self._conn.execute(
                        "INSERT INTO meta(key, value) VALUES (?, ?) "
                        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                        (key, value),
                    )
