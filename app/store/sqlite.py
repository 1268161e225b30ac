"""Embedded default backend: one SQLite file (WAL, synchronous=FULL) plus an in-process vector index.

One connection guarded by a re-entrant lock: SQLite allows a single writer anyway, and story
assignment must be serialised so duplicates of one story never open two stories.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from embeddings import l2_normalise, unit_vector

try:
    from orjson import loads as _loads
except ImportError:  # a dependency (pyproject); json reads the same, slower
    _loads = json.loads  # type: ignore[assignment]

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
from .vector_index import ANN_MIN_ROWS, VectorIndex

SCHEMA_VERSION = 5

#: stories whose aggregates the writer keeps in memory between transactions (~2.3 KB each)
STORY_CACHE_SIZE = 10_000

MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE headlines (
        id INTEGER PRIMARY KEY,
        title TEXT NOT NULL,
        norm TEXT NOT NULL,
        text_hash TEXT NOT NULL,
        lang TEXT,
        source TEXT,
        source_key TEXT NOT NULL,
        ext_id TEXT,
        url TEXT,
        published_at REAL,
        received_at REAL NOT NULL,
        ts REAL NOT NULL,
        story_id INTEGER NOT NULL,
        match TEXT,
        score REAL,
        matched_headline_id INTEGER,
        features TEXT NOT NULL,
        embedding BLOB NOT NULL
    );
    CREATE UNIQUE INDEX headlines_external ON headlines(source_key, ext_id) WHERE ext_id IS NOT NULL;
    CREATE INDEX headlines_hash ON headlines(text_hash, ts);
    CREATE INDEX headlines_story ON headlines(story_id);
    CREATE INDEX headlines_ts ON headlines(ts);
    CREATE INDEX headlines_received ON headlines(received_at);
    CREATE TABLE stories (
        id INTEGER PRIMARY KEY,
        canonical_headline_id INTEGER,
        canonical_ts REAL,
        first_seen REAL NOT NULL,
        last_seen REAL NOT NULL,
        size INTEGER NOT NULL DEFAULT 0,
        topic_id INTEGER,
        languages TEXT NOT NULL DEFAULT '[]',
        sources TEXT NOT NULL DEFAULT '[]',
        centroid_sum BLOB,
        updated_at REAL NOT NULL
    );
    CREATE INDEX stories_last_seen ON stories(last_seen);
    CREATE INDEX stories_topic ON stories(topic_id);
    CREATE TABLE topics (
        id INTEGER PRIMARY KEY,
        label TEXT NOT NULL,
        label_score REAL NOT NULL,
        keywords TEXT NOT NULL,
        centroid BLOB NOT NULL,
        size INTEGER NOT NULL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE TABLE topic_events (
        id INTEGER PRIMARY KEY,
        at REAL NOT NULL,
        payload TEXT NOT NULL
    );
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
    # A story's members in time order come straight off these (a page of a story, each language's
    # first headline for the listings), instead of sorting every member of a story re-run all day.
    2: """
    CREATE INDEX headlines_story_ts ON headlines(story_id, ts);
    CREATE INDEX headlines_story_lang ON headlines(story_id, lang, ts, received_at);
    DROP INDEX headlines_story;
    """,
    # Editors' corrections: what they did (and how to undo it), merged stories, stories kept apart.
    3: """
    ALTER TABLE stories ADD COLUMN merged_into INTEGER;
    CREATE TABLE corrections (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        payload TEXT NOT NULL,
        undo TEXT NOT NULL,
        actor TEXT,
        at REAL NOT NULL,
        undone_at REAL,
        undone_by TEXT
    );
    CREATE TABLE story_apart (a INTEGER NOT NULL, b INTEGER NOT NULL, PRIMARY KEY (a, b));
    """,
    # Story search (GET /v1/stories?q=): each headline's title folded for search (``search_fold``, the
    # same Python function at insert, registered with the connection for this backfill), in an index
    # with its story so that a search scans the index, not the rows (each holds a 2 KB embedding).
    # A topic's category, and its keywords' languages (a JSON list beside ``keywords``). Stories by topic, newest first, with what the clusters view counts (size,
    # first_seen, languages) in the index itself: a topic's page is a few index entries, and the
    # topics' counts never read the rows (each holds a 2 KB centroid).
    4: """
    ALTER TABLE headlines ADD COLUMN search_text TEXT NOT NULL DEFAULT '';
    UPDATE headlines SET search_text = search_fold(title);
    CREATE INDEX headlines_search ON headlines(search_text, story_id);
    ALTER TABLE topics ADD COLUMN category TEXT;
    ALTER TABLE topics ADD COLUMN keyword_langs TEXT NOT NULL DEFAULT '[]';
    DROP INDEX stories_topic;
    CREATE INDEX stories_topic ON stories(topic_id, last_seen, size, first_seen, languages);
    """,
    # Followed feeds (app/feeds/) and their polling state. AUTOINCREMENT: a deleted feed's id is never
    # given to another (metrics and logs name feeds by id). The lease (leased_by, lease_until) lets one
    # process poll a feed at a time, as on PostgreSQL.
    5: """
    CREATE TABLE feeds (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        url TEXT NOT NULL UNIQUE,
        source TEXT NOT NULL,
        lang TEXT,
        interval_seconds REAL NOT NULL,
        created_at REAL NOT NULL,
        next_poll_at REAL NOT NULL,
        enabled INTEGER NOT NULL DEFAULT 1,
        disabled_reason TEXT,
        etag TEXT,
        last_modified TEXT,
        last_fetch_at REAL,
        last_status INTEGER,
        last_error TEXT,
        last_error_at REAL,
        consecutive_errors INTEGER NOT NULL DEFAULT 0,
        fetches INTEGER NOT NULL DEFAULT 0,
        errors INTEGER NOT NULL DEFAULT 0,
        items_seen INTEGER NOT NULL DEFAULT 0,
        items_stored INTEGER NOT NULL DEFAULT 0,
        leased_by TEXT,
        lease_until REAL
    );
    CREATE INDEX feeds_due ON feeds(enabled, next_poll_at);
    """,
}


def _vec(blob: bytes | None, dim: int | None = None) -> np.ndarray:
    arr = np.frombuffer(blob or b"", dtype=np.float32)
    return arr.copy() if dim is None or arr.size == dim else np.zeros(dim, dtype=np.float32)


def _unique_ints(values: Iterable[int]) -> list[int]:
    return list(dict.fromkeys(int(v) for v in values))


def _unit_rows(blobs: Sequence[bytes | None], dim: int) -> np.ndarray:
    """Stored centroid sums as unit rows, in one pass (row by row was a tenth of ingest time)."""
    size = dim * 4
    raw = b"".join(b if b is not None and len(b) == size else bytes(size) for b in blobs)
    return l2_normalise(np.frombuffer(raw, dtype=np.float32).reshape(len(blobs), dim))


_HEADLINE_COLS = (
    "id, title, norm, text_hash, lang, source, ext_id, url, published_at, received_at, story_id, "
    "match, score, features, matched_headline_id"
)


def _headline(r: sqlite3.Row | tuple) -> HeadlineRow:
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


_CORRECTION_COLS = "id, kind, payload, undo, actor, at, undone_at, undone_by"


def _correction(r: tuple) -> CorrectionRow:
    return CorrectionRow(
        id=int(r[0]),
        kind=r[1],
        payload=json.loads(r[2]),
        undo=json.loads(r[3]),
        actor=r[4],
        at=r[5],
        undone_at=r[6],
        undone_by=r[7],
    )


#: stories' language and source lists by their JSON text: the same few hundred come back in every listing
#: (json.loads was a sixth of the clusters view's time)
_LISTS: dict[str, list[str]] = {}
_LISTS_MAX = 1 << 14


def _json_list(text: str) -> list[str]:
    got = _LISTS.get(text)
    if got is None:
        got = json.loads(text)
        if len(_LISTS) >= _LISTS_MAX:
            _LISTS.clear()
        _LISTS[text] = got
    return list(got)  # a list of the caller's own


def _exact(column: str) -> str:
    """A REAL column as text that reads back as the same float (SQLite's JSON keeps 15 digits of it)."""
    return f"CASE WHEN {column} IS NULL THEN NULL ELSE printf('%!.17g', {column}) END"


def _float(text: str | None) -> float | None:
    return None if text is None else float(text)


#: a story row as one JSON array, for ``_json_rows``: the columns of ``_STORY_COLS``, in order
_STORY_JSON = (
    f"json_array(id, canonical_headline_id, {_exact('first_seen')}, {_exact('last_seen')}, size, topic_id, "
    f"json(languages), json(sources), {_exact('updated_at')})"
)


#: a headline row as one JSON array: the columns of ``_HEADLINE_COLS``, in order, then ts
_HEADLINE_JSON = (
    f"json_array(id, title, norm, text_hash, lang, source, ext_id, url, {_exact('published_at')}, "
    f"{_exact('received_at')}, story_id, match, {_exact('score')}, features, matched_headline_id, {_exact('ts')})"
)


def _headline_of_json(r: list) -> HeadlineRow:
    return HeadlineRow(
        id=r[0],
        title=r[1],
        norm=r[2],
        text_hash=r[3],
        lang=r[4],
        source=r[5],
        ext_id=r[6],
        url=r[7],
        published_at=_float(r[8]),
        received_at=float(r[9]),
        story_id=r[10],
        match=r[11],
        score=_float(r[12]),
        features=r[13],
        matched_headline_id=r[14],
    )


def _story_of_json(r: list) -> StoryRow:
    return StoryRow(
        id=r[0],
        canonical_headline_id=r[1],
        first_seen=float(r[2]),
        last_seen=float(r[3]),
        size=r[4],
        topic_id=r[5],
        languages=r[6],
        sources=r[7],
        updated_at=float(r[8]),
    )


def _story(r: tuple) -> StoryRow:
    return StoryRow(
        id=r[0],
        canonical_headline_id=r[1],
        first_seen=r[2],
        last_seen=r[3],
        size=r[4],
        topic_id=r[5],
        languages=_json_list(r[6]),
        sources=_json_list(r[7]),
        updated_at=r[8],
    )


_INSERT_HEADLINE = (
    "INSERT INTO headlines (id, title, norm, text_hash, lang, source, source_key, ext_id, url, published_at, "
    "received_at, ts, story_id, match, score, matched_headline_id, features, embedding, search_text) "
    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)
_INSERT_STORY = (
    "INSERT INTO stories (canonical_headline_id, canonical_ts, first_seen, last_seen, size, languages, sources, "
    "centroid_sum, updated_at, id) VALUES (?,?,?,?,?,?,?,?,?,?)"
)
_UPDATE_STORY = (
    "UPDATE stories SET canonical_headline_id=?, canonical_ts=?, first_seen=?, last_seen=?, size=?, "
    "languages=?, sources=?, centroid_sum=?, updated_at=? WHERE id=?"
)


def _inserted(t: tuple) -> HeadlineRow:
    """A buffered INSERT's parameters (``_INSERT_HEADLINE`` order) as the row SQLite would give back."""
    return HeadlineRow(
        id=t[0],
        title=t[1],
        norm=t[2],
        text_hash=t[3],
        lang=t[4],
        source=t[5],
        ext_id=t[7],
        url=t[8],
        published_at=t[9],
        received_at=t[10],
        story_id=t[12],
        match=t[13],
        score=t[14],
        features=t[16],
        matched_headline_id=t[15],
    )


@dataclass(slots=True)
class _StoryState:
    """A story's aggregates as ``add_to_story`` keeps them up to date (the columns it writes)."""

    canon_id: int | None
    canon_ts: float | None
    first: float
    last: float
    size: int
    langs: list[str]
    sources: list[str]
    csum: np.ndarray | None
    updated_at: float
    new: bool
    #: the unit centroid, worked out when first asked for after ``csum`` last changed
    unit: np.ndarray | None = None

    def copy(self) -> "_StoryState":
        return _StoryState(
            self.canon_id,
            self.canon_ts,
            self.first,
            self.last,
            self.size,
            list(self.langs),
            list(self.sources),
            self.csum,
            self.updated_at,
            self.new,
            self.unit,
        )

    def unit_centroid(self) -> np.ndarray:
        if self.unit is None:
            assert self.csum is not None
            self.unit = unit_vector(self.csum)
        return self.unit

    def params(self, story_id: int) -> tuple:
        csum = None if self.csum is None else self.csum.astype(np.float32).tobytes()
        return (
            self.canon_id,
            self.canon_ts,
            self.first,
            self.last,
            self.size,
            dumps(self.langs),
            dumps(self.sources),
            csum,
            self.updated_at,
            story_id,
        )


@dataclass
class _Pending:
    """The open transaction's story and headline writes, not yet sent to SQLite.

    An ingest batch used to cost ~4 statements per headline (INSERT headline, INSERT story, SELECT and
    UPDATE story); they are kept here, with ids given out the way SQLite would (max + 1), and sent by
    ``executemany`` when the transaction commits, or before any query that could read them.
    """

    next_headline: int
    next_story: int
    headlines: list[tuple] = field(default_factory=list)
    by_hash: dict[str, list[tuple]] = field(default_factory=dict)
    stories: dict[int, _StoryState] = field(default_factory=dict)
    #: stories this transaction changed and already sent (what the file holds for them now)
    sent: dict[int, _StoryState] = field(default_factory=dict)
    #: rows for the vector index, added together before the next search or at commit (one add of a
    #: step's rows costs what one add of a single row did, ~40 us)
    index_rows: list[tuple[int, float, np.ndarray]] = field(default_factory=list)


class SQLiteStore(Store):
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

    def _migrate(self) -> None:
        with self._lock:
            c = self._conn
            c.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = c.execute("SELECT MAX(version) FROM schema_version").fetchone()
            current = row[0] or 0
            if current > SCHEMA_VERSION:
                raise RuntimeError(
                    f"database {self.path} has schema version {current}, newer than this code ({SCHEMA_VERSION})"
                )
            for version in range(current + 1, SCHEMA_VERSION + 1):
                c.execute("BEGIN IMMEDIATE")
                try:
                    for stmt in MIGRATIONS[version].split(";"):
                        if stmt.strip():
                            c.execute(stmt)
                    c.execute("INSERT INTO schema_version(version) VALUES (?)", (version,))
                    c.execute("COMMIT")
                except BaseException:
                    c.execute("ROLLBACK")
                    raise
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

    # --- headlines ---------------------------------------------------------------------
    def get_by_external(self, source: str | None, ext_id: str) -> HeadlineRow | None:
        rows = self._q(
            f"SELECT {_HEADLINE_COLS} FROM headlines WHERE source_key = ? AND ext_id = ?", (source or "", ext_id)
        )
        return _headline(rows[0]) if rows else None

    def get_by_externals(self, keys: Iterable[tuple[str | None, str]]) -> dict[tuple[str, str], HeadlineRow]:
        by_source: dict[str, list[str]] = {}
        for source, ext_id in keys:
            by_source.setdefault(source or "", []).append(ext_id)
        out: dict[tuple[str, str], HeadlineRow] = {}
        for source, ext_ids in by_source.items():
            # source_key first: the unique (source_key, ext_id) index answers it
            sql = f"SELECT {_HEADLINE_COLS}, source_key FROM headlines WHERE source_key = ? AND ext_id IN ({{marks}})"
            for r in self._q_in(sql, list(dict.fromkeys(ext_ids)), before=[source]):
                out[(r[-1], r[6])] = _headline(r)
        return out

    def embeddings_by_hash(self, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        sql = "SELECT text_hash, embedding FROM headlines WHERE text_hash IN ({marks}) GROUP BY text_hash"
        return {h: _vec(blob, self.dim) for h, blob in self._q_in(sql, list(dict.fromkeys(hashes)))}

    def find_exact(self, text_hash: str, ts_lo: float, ts_hi: float) -> HeadlineRow | None:
        # the stored rows, then this transaction's buffered ones (they only add rows)
        rows = self._q(
            f"SELECT {_HEADLINE_COLS} FROM headlines WHERE text_hash = ? AND ts BETWEEN ? AND ? "
            "ORDER BY ts, id LIMIT 1",
            (text_hash, ts_lo, ts_hi),
            flush=False,
        )
        best = _headline(rows[0]) if rows else None
        pending = self._mine()
        for t in pending.by_hash.get(text_hash, ()) if pending is not None else ():
            if ts_lo <= t[11] <= ts_hi and (best is None or (t[11], t[0]) < (best.ts, best.id)):
                best = _inserted(t)
        return best

    def nearest(self, vector: np.ndarray, k: int, ts_lo: float, ts_hi: float) -> list[tuple[int, float]]:
        if self._mine() is not None:
            self._flush_index()
        return self._index.search(vector, k, ts_lo, ts_hi)

    def nearest_many(
        self, vectors: np.ndarray, k: int, ts_lo: Sequence[float], ts_hi: Sequence[float]
    ) -> list[list[tuple[int, float]]]:
        if self._mine() is not None:
            self._flush_index()
        return self._index.search_many(vectors, k, ts_lo, ts_hi)

    def headlines(self, ids: Iterable[int]) -> dict[int, HeadlineRow]:
        sql = f"SELECT {_HEADLINE_COLS} FROM headlines WHERE id IN ({{marks}})"
        wanted = _unique_ints(ids)
        pending = self._mine()
        # stored rows only (matching asks for those): the buffer can stay
        flush = pending is not None and bool(pending.headlines) and max(wanted, default=0) >= pending.headlines[0][0]
        return {r[0]: _headline(r) for r in self._q_in(sql, wanted, flush=flush)}

    def embeddings(self, ids: Iterable[int]) -> dict[int, np.ndarray]:
        sql = "SELECT id, embedding FROM headlines WHERE id IN ({marks})"
        return {hid: _vec(blob, self.dim) for hid, blob in self._q_in(sql, _unique_ints(ids))}

    def insert_headline(self, row: NewHeadline) -> int:
        emb = np.asarray(row.embedding, dtype=np.float32).reshape(self.dim)
        with self._write(buffered=True):
            p = self._pend()
            hid = p.next_headline
            p.next_headline += 1
            ts = row.ts
            params = (
                hid,
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
                ts,
                row.story_id,
                row.match,
                row.score,
                row.matched_headline_id,
                row.features,
                emb.tobytes(),
                search_fold(row.title),
            )
            p.headlines.append(params)
            p.by_hash.setdefault(row.text_hash, []).append(params)
            p.index_rows.append((hid, ts, emb))
            self._newest_ts = max(self._newest_ts, ts)
            return hid

    def count_headlines(self) -> int:
        return int(self._q("SELECT COUNT(*) FROM headlines")[0][0])

    # --- stories -----------------------------------------------------------------------
    def create_story(self, first: NewHeadline) -> int:
        with self._write(buffered=True):
            p = self._pend()
            sid = p.next_story
            p.next_story += 1
            p.stories[sid] = _StoryState(None, None, first.ts, first.ts, 0, [], [], None, time.time(), new=True)
            return sid

    def add_to_story(self, story_id: int, headline_id: int, row: NewHeadline) -> None:
        with self._write(buffered=True):
            p = self._pend()
            st = p.stories.get(story_id)
            if st is None:
                known = self._story_state(story_id)
                if known is None:
                    raise KeyError(f"story {story_id} does not exist")
                # a copy: the kept state stays the committed one until this transaction commits
                st = p.stories[story_id] = known.copy()
            ts = row.ts
            if st.canon_id is None or st.canon_ts is None or ts < st.canon_ts:
                st.canon_id, st.canon_ts = headline_id, ts
            if row.lang and row.lang not in st.langs:
                st.langs.append(row.lang)
            if row.source and row.source not in st.sources:
                st.sources.append(row.source)
            emb = np.asarray(row.embedding, dtype=np.float32).reshape(self.dim)
            st.csum = emb.copy() if st.csum is None else st.csum + emb
            st.unit = None
            st.first, st.last, st.size = min(st.first, ts), max(st.last, ts), st.size + 1
            st.updated_at = time.time()

    def story(self, story_id: int) -> StoryRow | None:
        rows = self._q(f"SELECT {_STORY_COLS} FROM stories WHERE id = ?", (story_id,))
        return _story(rows[0]) if rows else None

    def stories_by_ids(self, ids: Iterable[int]) -> dict[int, StoryRow]:
        sql = f"SELECT {_STORY_COLS} FROM stories WHERE id IN ({{marks}})"
        return {r[0]: _story(r) for r in self._q_in(sql, _unique_ints(ids))}

    def topic_story_pages(
        self, topic_ids: Sequence[int], limit: int, since: float | None = None
    ) -> dict[int, list[StoryRow]]:
        ids = _unique_ints(topic_ids)
        out: dict[int, list[StoryRow]] = {t: [] for t in ids}
        if not ids:
            return out
        since_sql, params = ("AND last_seen >= ?", [since]) if since is not None else ("", [])
        # one query for every topic: each topic's newest ``limit`` stories are its first entries in
        # stories_topic (topic_id, last_seen, size, ...) read backwards, so a topic costs ``limit`` index
        # entries and rows, not a sort of all its stories (a window function over every assigned story
        # read each 2 KB row: 35 ms at 10,000 stories); handed over as one JSON text (``_json_rows``)
        rows = [
            _story_of_json(r)
            for r in self._json_rows(
                _STORY_JSON,
                f"SELECT {', '.join('s.' + c for c in _STORY_COLS.split(', '))} FROM json_each(?) AS t JOIN stories AS s "
                f"ON s.id IN (SELECT id FROM stories WHERE topic_id = t.value AND size > 0 {since_sql} "
                "ORDER BY last_seen DESC, id DESC LIMIT ?)",
                [dumps(ids), *params, int(limit)],
            )
        ]
        rows.sort(key=lambda s: (-s.last_seen, -s.id))
        for row in rows:
            out[int(row.topic_id)].append(row)  # type: ignore[arg-type]
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
            "?",
            lambda column: f"EXISTS (SELECT 1 FROM json_each(stories.{column}) WHERE value = ?)",
            lang=lang,
            source=source,
            since=since,
            until=until,
            topic_id=topic_id,
            unassigned=unassigned,
            q=q,
        )
        total = self._q(f"SELECT COUNT(*) FROM stories WHERE {clause}", params)[0][0]
        rows = [
            _story_of_json(r)
            for r in self._json_rows(
                _STORY_JSON,
                f"SELECT {_STORY_COLS} FROM stories WHERE {clause} ORDER BY last_seen DESC, id DESC LIMIT ? OFFSET ?",
                [*params, limit, offset],
            )
        ]
        rows.sort(key=lambda s: (-s.last_seen, -s.id))  # the page's order (a JSON array's is not promised)
        return rows, int(total)

    def story_headlines(self, story_ids: Sequence[int]) -> dict[int, list[HeadlineRow]]:
        out: dict[int, list[HeadlineRow]] = {int(s): [] for s in story_ids}
        sql = f"SELECT {_HEADLINE_COLS} FROM headlines WHERE story_id IN ({{marks}}) ORDER BY ts, id"
        for r in self._q_in(sql, list(out)):
            out[r[10]].append(_headline(r))
        return out

    def recent_features(self, limit: int) -> list[tuple[int, int, float | None, str]]:
        if limit <= 0:
            return []
        return self._q(
            "SELECT id, story_id, published_at, features FROM headlines ORDER BY id DESC LIMIT ?", (int(limit),)
        )

    def story_openers_since(self, after_id: int, ts_lo: float, limit: int) -> list[tuple[int, float, str]]:
        if limit <= 0:
            return []
        return self._q(
            "SELECT id, ts, features FROM headlines WHERE id > ? AND ts >= ? AND match IS NULL ORDER BY id LIMIT ?",
            (int(after_id), float(ts_lo), int(limit)),
        )

    def story_titles(self, story_ids: Sequence[int]) -> list[tuple[int, str, str | None]]:
        sql = "SELECT story_id, title, lang FROM headlines WHERE story_id IN ({marks}) ORDER BY ts, id"
        return list(self._q_in(sql, [int(s) for s in story_ids]))

    def forget_stories_before(self, cutoff: float, limit: int = 5000) -> tuple[int, int]:
        # Looked up first outside a write: a write transaction moves the data version (the clusters
        # view's ETag) even when it deletes nothing, and most runs find nothing.
        if not self._q("SELECT 1 FROM stories WHERE last_seen < ? LIMIT 1", (cutoff,)):
            return 0, 0
        # The writer lock stays held until the index has let go of the rows too: an ingest searching in
        # between would find headlines (and, through matching's cache, stories) no longer there.
        with self._lock:
            with self._write() as c:
                sids = [
                    r[0]
                    for r in c.execute(
                        "SELECT id FROM stories WHERE last_seen < ? ORDER BY last_seen, id LIMIT ?", (cutoff, limit)
                    )
                ]
                if not sids:
                    return 0, 0
                marks = ",".join("?" * len(sids))
                hids = [r[0] for r in c.execute(f"SELECT id FROM headlines WHERE story_id IN ({marks})", sids)]
                c.execute(f"DELETE FROM headlines WHERE story_id IN ({marks})", sids)
                c.execute(f"DELETE FROM stories WHERE id IN ({marks})", sids)
                c.execute(f"DELETE FROM story_apart WHERE a IN ({marks}) OR b IN ({marks})", sids + sids)
                for key, ids in (("deleted_headline_id", hids), ("deleted_story_id", sids)):
                    c.execute(
                        "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE"
                        " SET value = MAX(CAST(value AS INTEGER), CAST(excluded.value AS INTEGER))",
                        (key, str(max(ids, default=0))),
                    )
            # After the commit: a rolled-back delete must leave the rows searchable.
            self._index.remove(hids)
            for sid in sids:
                self._stories.pop(sid, None)
        return len(sids), len(hids)

    def story_headline_page(self, story_id: int, limit: int, offset: int) -> list[HeadlineRow]:
        rows = self._q(
            f"SELECT {_HEADLINE_COLS} FROM headlines WHERE story_id = ? ORDER BY ts, id LIMIT ? OFFSET ?",
            (story_id, limit, offset),
        )
        return [_headline(r) for r in rows]

    def story_briefs(self, stories: Sequence[StoryRow]) -> dict[int, list[HeadlineRow]]:
        out: dict[int, list[HeadlineRow]] = {s.id: [] for s in stories}
        if not out:
            return out
        # The earliest headline (by ts, id) of each (story, language) is picked from headlines_story_lang
        # (story_id, lang, ts, ...) alone, which holds every member's (lang, ts, id) without reading its
        # 2 KB row; then only the picked rows and the canonicals are read. (A seek per language reads
        # rows too: 7 ms for 1,400 stories, against 2.)
        # Both handed over as one JSON text each (``_json_rows``).
        first: dict[tuple[int, str | None], tuple[float, int]] = {}
        for sid, lang, ts, hid in self._json_rows(
            f"json_array(story_id, lang, {_exact('ts')}, id)",
            "SELECT story_id, lang, ts, id FROM headlines INDEXED BY headlines_story_lang "
            "WHERE story_id IN (SELECT value FROM json_each(?))",
            (dumps(list(out)),),
        ):
            ts = float(ts)
            best = first.get((sid, lang))
            if best is None or (ts, hid) < best:
                first[(sid, lang)] = (ts, hid)
        wanted = {hid for _, hid in first.values()}
        wanted.update(s.canonical_headline_id for s in stories if s.canonical_headline_id is not None)
        rows = self._json_rows(
            _HEADLINE_JSON,
            f"SELECT {_HEADLINE_COLS}, ts FROM headlines WHERE id IN (SELECT value FROM json_each(?))",
            (dumps(sorted(wanted)),),
        )
        rows.sort(key=lambda r: (float(r[15]), r[0]))  # oldest first, as story_headlines
        for r in rows:
            if r[10] in out:
                out[r[10]].append(_headline_of_json(r))
        return out

    def story_centroids(self, since: float) -> tuple[list[int], np.ndarray]:
        rows = self._q("SELECT id, centroid_sum FROM stories WHERE last_seen >= ? AND size > 0 ORDER BY id", (since,))
        if not rows:
            return [], np.zeros((0, self.dim), dtype=np.float32)
        return [int(r[0]) for r in rows], _unit_rows([r[1] for r in rows], self.dim)

    def story_centroids_for(self, story_ids: Sequence[int]) -> tuple[list[int], np.ndarray]:
        wanted = _unique_ints(story_ids)
        if self._in_tx and self._writer == threading.get_ident():
            # the writer (matching an ingest batch): from the aggregates it keeps, the file for the rest
            states = {}
            missing = []
            for sid in wanted:
                st = self._story_state_kept(sid)
                if st is None:
                    missing.append(sid)
                else:
                    states[sid] = st
            if missing:
                states.update(self._read_stories(missing))
            ids = sorted(sid for sid, st in states.items() if st.csum is not None)
            if not ids:
                return [], np.zeros((0, self.dim), dtype=np.float32)
            return ids, np.vstack([states[sid].unit_centroid() for sid in ids])
        sql = "SELECT id, centroid_sum FROM stories WHERE id IN ({marks}) AND centroid_sum IS NOT NULL"
        rows = list(self._q_in(sql, wanted))
        if not rows:
            return [], np.zeros((0, self.dim), dtype=np.float32)
        return [int(r[0]) for r in rows], _unit_rows([r[1] for r in rows], self.dim)

    def _story_state_kept(self, story_id: int) -> _StoryState | None:
        """``_story_state`` without reading the file: None for a story neither buffered nor kept."""
        p = self._pending
        if p is not None:
            st = p.stories.get(story_id) or p.sent.get(story_id)
            if st is not None:
                return st
        return self._stories.get(story_id)

    def latest_story_time(self) -> float | None:
        row = self._q("SELECT MAX(last_seen) FROM stories WHERE size > 0")
        return row[0][0] if row else None

    def count_stories(self) -> int:
        return int(self._q("SELECT COUNT(*) FROM stories WHERE size > 0")[0][0])

    def recent_counts(self, story_ids: Sequence[int], since: float) -> dict[int, int]:
        out = {int(s): 0 for s in story_ids}
        if not out:
            return out
        # one JSON text (``_json_rows``): a view asks for 1,400 stories at once
        for sid, n in self._json_rows(
            "json_array(story_id, n)",
            "SELECT story_id, COUNT(*) AS n FROM headlines WHERE story_id IN (SELECT value FROM json_each(?)) "
            "AND received_at >= ? GROUP BY story_id",
            (dumps(list(out)), since),
        ):
            out[int(sid)] = int(n)
        return out

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

    def set_story_topic(self, story_id: int, topic_id: int | None) -> None:
        with self._write() as c:
            c.execute("UPDATE stories SET topic_id = ? WHERE id = ?", (topic_id, story_id))

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

    def topic_members(self) -> dict[int, set[int]]:
        out: dict[int, set[int]] = {}
        for sid, tid in self._q("SELECT id, topic_id FROM stories WHERE topic_id IS NOT NULL"):
            out.setdefault(int(tid), set()).add(int(sid))
        return out

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

    def topic_events(self, limit: int = 100) -> list[dict[str, Any]]:
        rows = self._q("SELECT at, payload FROM topic_events ORDER BY id DESC LIMIT ?", (limit,))
        return [{"at": r[0], **json.loads(r[1])} for r in rows]

    # --- editors' corrections --------------------------------------------------------------
    def reassign(self, headline_ids: Sequence[int], story_id: int | None) -> tuple[int, dict[int, int]]:
        ids = _unique_ints(headline_ids)
        if not ids:
            raise ValueError("no headline to move")
        with self._write() as c:
            left = {
                int(r[0]): int(r[1])
                for r in c.execute(f"SELECT id, story_id FROM headlines WHERE id IN ({','.join('?' * len(ids))})", ids)
            }
            missing = [h for h in ids if h not in left]
            if missing:
                raise KeyError(f"headlines {missing} do not exist")
            if story_id is None:
                p = self._pend()
                story_id, p.next_story = p.next_story, p.next_story + 1
                now = time.time()
                c.execute(_INSERT_STORY, (None, None, now, now, 0, "[]", "[]", None, now, story_id))
            elif not c.execute("SELECT 1 FROM stories WHERE id = ?", (story_id,)).fetchone():
                raise KeyError(f"story {story_id} does not exist")
            c.execute(f"UPDATE headlines SET story_id = ? WHERE id IN ({','.join('?' * len(ids))})", [story_id, *ids])
            touched = {story_id, *left.values()}
            for sid in touched:
                self._work_out_story(c, sid)
            # the aggregates kept in memory (committed, or sent by this transaction) are stale now
            for sid in touched:
                self._stories.pop(sid, None)
                if self._pending is not None:
                    self._pending.sent.pop(sid, None)
        return story_id, left

    def _work_out_story(self, c: sqlite3.Connection, story_id: int) -> None:
        members = [
            MemberRow(int(r[0]), float(r[1]), r[2], r[3], _vec(r[4], self.dim))
            for r in c.execute("SELECT id, ts, lang, source, embedding FROM headlines WHERE story_id = ?", (story_id,))
        ]
        agg = story_aggregates(members)
        csum = agg["centroid_sum"]
        # an emptied story keeps its times and canonical: retention still finds it by last_seen
        c.execute(
            "UPDATE stories SET canonical_headline_id = COALESCE(?, canonical_headline_id), "
            "canonical_ts = COALESCE(?, canonical_ts), first_seen = COALESCE(?, first_seen), "
            "last_seen = COALESCE(?, last_seen), size = ?, languages = ?, sources = ?, centroid_sum = ?, "
            "updated_at = ? WHERE id = ?",
            (
                agg["canonical_headline_id"],
                agg["canonical_ts"],
                agg["first_seen"],
                agg["last_seen"],
                agg["size"],
                dumps(agg["languages"]),
                dumps(agg["sources"]),
                None if csum is None else csum.tobytes(),
                time.time(),
                story_id,
            ),
        )

    def set_merged_into(self, story_id: int, target: int | None) -> None:
        with self._write() as c:
            c.execute("UPDATE stories SET merged_into = ? WHERE id = ?", (target, story_id))

    def merged_into(self, story_ids: Iterable[int]) -> dict[int, int]:
        sql = "SELECT id, merged_into FROM stories WHERE id IN ({marks}) AND merged_into IS NOT NULL"
        return {int(r[0]): int(r[1]) for r in self._q_in(sql, _unique_ints(story_ids))}

    def add_correction(
        self, kind: str, payload: dict[str, Any], undo: dict[str, Any], actor: str | None, at: float
    ) -> int:
        with self._write() as c:
            cur = c.execute(
                "INSERT INTO corrections (kind, payload, undo, actor, at) VALUES (?, ?, ?, ?, ?)",
                (kind, dumps(payload), dumps(undo), actor, at),
            )
            return int(cur.lastrowid or 0)

    def corrections(self, limit: int, offset: int) -> tuple[list[CorrectionRow], int]:
        rows = self._q(
            f"SELECT {_CORRECTION_COLS} FROM corrections ORDER BY id DESC LIMIT ? OFFSET ?", (int(limit), int(offset))
        )
        return [_correction(r) for r in rows], int(self._q("SELECT COUNT(*) FROM corrections")[0][0])

    def correction(self, correction_id: int) -> CorrectionRow | None:
        rows = self._q(f"SELECT {_CORRECTION_COLS} FROM corrections WHERE id = ?", (int(correction_id),))
        return _correction(rows[0]) if rows else None

    def mark_undone(self, correction_id: int, actor: str | None, at: float) -> bool:
        with self._write() as c:
            cur = c.execute(
                "UPDATE corrections SET undone_at = ?, undone_by = ? WHERE id = ? AND undone_at IS NULL",
                (at, actor, int(correction_id)),
            )
            return cur.rowcount == 1

    def set_apart(self, a: int, b: int, apart: bool) -> None:
        lo, hi = sorted((int(a), int(b)))
        with self._write() as c:
            if apart:
                c.execute("INSERT OR IGNORE INTO story_apart (a, b) VALUES (?, ?)", (lo, hi))
            else:
                c.execute("DELETE FROM story_apart WHERE a = ? AND b = ?", (lo, hi))

    def apart_pairs(self, story_ids: Iterable[int]) -> set[tuple[int, int]]:
        ids = _unique_ints(story_ids)
        if not ids:
            return set()
        marks = ",".join("?" * len(ids))
        rows = self._q(f"SELECT a, b FROM story_apart WHERE a IN ({marks}) AND b IN ({marks})", [*ids, *ids])
        return {(int(a), int(b)) for a, b in rows}

    def get_meta(self, key: str) -> str | None:
        rows = self._q("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0][0] if rows else None

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

    def feeds(self) -> list[FeedRow]:
        return [feed_row(r) for r in self._q(f"SELECT {FEED_COLS} FROM feeds ORDER BY id")]

    def feed(self, feed_id: int) -> FeedRow | None:
        rows = self._q(f"SELECT {FEED_COLS} FROM feeds WHERE id = ?", (int(feed_id),))
        return feed_row(rows[0]) if rows else None

    def delete_feed(self, feed_id: int) -> bool:
        with self._feed_write() as c:
            return c.execute("DELETE FROM feeds WHERE id = ?", (int(feed_id),)).rowcount == 1

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
