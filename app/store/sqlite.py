"""Embedded default backend: one SQLite file (WAL, synchronous=FULL) plus an in-process vector index.

``SQLiteStore`` is its headlines and stories; the rest comes from the parts it is made of: the machinery
(connections, transactions, write buffer, vector index: ``sqlite_core``), the schema (``sqlite_schema``),
topics, editors' corrections and followed feeds (``sqlite_topics``, ``sqlite_corrections``, ``sqlite_feeds``).
"""

from __future__ import annotations

import threading
import time
from typing import Iterable, Sequence

import numpy as np

from .base import (
    HEADLINE_COLS,
    STORY_COLS,
    HeadlineRow,
    NewHeadline,
    StoryFilter,
    StoryRow,
    dumps,
    headline_row,
    story_filter_sql,
    story_row,
)
from .rows import headline_values
from .sqlite_buffer import _StoryState
from .sqlite_core import SQLiteBase
from .sqlite_corrections import SQLiteCorrections
from .sqlite_feeds import SQLiteFeeds
from .sqlite_rows import (
    _HEADLINE_JSON,
    _STORY_JSON,
    _exact,
    _inserted,
    _member_of,
    _story,
    _unique_ints,
    _unit_rows,
    _vec,
)
from .sqlite_schema import MIGRATIONS, SCHEMA_VERSION
from .sqlite_topics import SQLiteTopics

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "SQLiteBase", "SQLiteStore"]


class SQLiteStore(SQLiteTopics, SQLiteCorrections, SQLiteFeeds):
    """Headlines and stories; the rest comes from the parts it is made of (see the module's docstring)."""

    def _migrate(self, version: int | None = None) -> None:
        # this module's SCHEMA_VERSION, looked up as the store opens: a test opens a database at an older one
        super()._migrate(SCHEMA_VERSION if version is None else version)

    # --- headlines ---------------------------------------------------------------------
    def get_by_externals(self, keys: Iterable[tuple[str | None, str]]) -> dict[tuple[str, str], HeadlineRow]:
        by_source: dict[str, list[str]] = {}
        for source, ext_id in keys:
            by_source.setdefault(source or "", []).append(ext_id)
        out: dict[tuple[str, str], HeadlineRow] = {}
        for source, ext_ids in by_source.items():
            # source_key first: the unique (source_key, ext_id) index answers it
            sql = f"SELECT {HEADLINE_COLS}, source_key FROM headlines WHERE source_key = ? AND ext_id IN ({{marks}})"
            for r in self._q_in(sql, list(dict.fromkeys(ext_ids)), before=[source]):
                out[(r[-1], r[6])] = headline_row(r)
        return out

    def embeddings_by_hash(self, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        sql = "SELECT text_hash, embedding FROM headlines WHERE text_hash IN ({marks}) GROUP BY text_hash"
        return {h: _vec(blob, self.dim) for h, blob in self._q_in(sql, list(dict.fromkeys(hashes)))}

    def find_exact(self, text_hash: str, ts_lo: float, ts_hi: float) -> HeadlineRow | None:
        # the stored rows, then this transaction's buffered ones (they only add rows)
        rows = self._q(
            f"SELECT {HEADLINE_COLS} FROM headlines WHERE text_hash = ? AND ts BETWEEN ? AND ? ORDER BY ts, id LIMIT 1",
            (text_hash, ts_lo, ts_hi),
            flush=False,
        )
        best = headline_row(rows[0]) if rows else None
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
        sql = f"SELECT {HEADLINE_COLS} FROM headlines WHERE id IN ({{marks}})"
        wanted = _unique_ints(ids)
        pending = self._mine()
        # stored rows only (matching asks for those): the buffer can stay
        flush = pending is not None and bool(pending.headlines) and max(wanted, default=0) >= pending.headlines[0][0]
        return {r[0]: headline_row(r) for r in self._q_in(sql, wanted, flush=flush)}

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
            params = (hid, *headline_values(row, emb.tobytes()))
            p.headlines.append(params)
            p.by_hash.setdefault(row.text_hash, []).append(params)
            p.index_rows.append((hid, ts, emb))
            self._newest_ts = max(self._newest_ts, ts)
            return hid

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
        rows = self._q(f"SELECT {STORY_COLS} FROM stories WHERE id = ?", (story_id,))
        return _story(rows[0]) if rows else None

    def stories_by_ids(self, ids: Iterable[int]) -> dict[int, StoryRow]:
        sql = f"SELECT {STORY_COLS} FROM stories WHERE id IN ({{marks}})"
        return {r[0]: _story(r) for r in self._q_in(sql, _unique_ints(ids))}

    def topic_story_pages(
        self, topic_ids: Sequence[int], limit: int, since: float | None = None
    ) -> dict[int, list[StoryRow]]:
        ids = _unique_ints(topic_ids)
        out: dict[int, list[StoryRow]] = {t: [] for t in ids}
        if not ids:
            return out
        clause, params = story_filter_sql("?", _member_of, StoryFilter(since=since))
        # one query for every topic: each topic's newest ``limit`` stories are its first entries in
        # stories_topic (topic_id, last_seen, size, ...) read backwards, so a topic costs ``limit`` index
        # entries and rows, not a sort of all its stories (a window function over every assigned story
        # read each 2 KB row: 35 ms at 10,000 stories); handed over as one JSON text (``_json_rows``)
        rows = [
            story_row(r)
            for r in self._json_rows(
                _STORY_JSON,
                f"SELECT {', '.join('s.' + c for c in STORY_COLS.split(', '))} FROM json_each(?) AS t JOIN stories AS s "
                f"ON s.id IN (SELECT id FROM stories WHERE topic_id = t.value AND {clause} "
                "ORDER BY last_seen DESC, id DESC LIMIT ?)",
                [dumps(ids), *params, int(limit)],
            )
        ]
        rows.sort(key=lambda s: (-s.last_seen, -s.id))
        for row in rows:
            out[int(row.topic_id)].append(row)  # type: ignore[arg-type]
        return out

    def stories_where(self, where: StoryFilter, *, limit: int, offset: int) -> tuple[list[StoryRow], int]:
        clause, params = story_filter_sql("?", _member_of, where)
        total = self._q(f"SELECT COUNT(*) FROM stories WHERE {clause}", params)[0][0]
        rows = [
            story_row(r)
            for r in self._json_rows(
                _STORY_JSON,
                f"SELECT {STORY_COLS} FROM stories WHERE {clause} ORDER BY last_seen DESC, id DESC LIMIT ? OFFSET ?",
                [*params, limit, offset],
            )
        ]
        rows.sort(key=lambda s: (-s.last_seen, -s.id))  # the page's order (a JSON array's is not promised)
        return rows, int(total)

    def story_headlines(self, story_ids: Sequence[int]) -> dict[int, list[HeadlineRow]]:
        out: dict[int, list[HeadlineRow]] = {int(s): [] for s in story_ids}
        sql = f"SELECT {HEADLINE_COLS} FROM headlines WHERE story_id IN ({{marks}}) ORDER BY ts, id"
        for r in self._q_in(sql, list(out)):
            out[r[10]].append(headline_row(r))
        return out

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
            f"SELECT {HEADLINE_COLS}, ts FROM headlines WHERE id IN (SELECT value FROM json_each(?))",
            (dumps(sorted(wanted)),),
        )
        rows.sort(key=lambda r: (float(r[15]), r[0]))  # oldest first, as story_headlines
        for r in rows:
            if r[10] in out:
                out[r[10]].append(headline_row(r))
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
