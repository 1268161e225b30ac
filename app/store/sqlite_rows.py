"""The SQLite backend's rows: the columns it reads and writes, and how they become the interface's rows."""

from __future__ import annotations

import json
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from embeddings import l2_normalise

from .base import CorrectionRow, HeadlineRow, StoryRow
from .rows import story_row

#: JSON text to Python values: orjson's, json's when it is missing (a dependency, pyproject; json reads
#: the same, slower)
_loads: Callable[[str | bytes], Any]
try:
    import orjson

    _loads = orjson.loads
except ImportError:
    _loads = json.loads


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


#: a story row as one JSON array, for ``_json_rows``: the columns of ``STORY_COLS``, in order
_STORY_JSON = (
    f"json_array(id, canonical_headline_id, {_exact('first_seen')}, {_exact('last_seen')}, size, topic_id, "
    f"json(languages), json(sources), {_exact('updated_at')})"
)


#: a headline row as one JSON array: the columns of ``HEADLINE_COLS``, in order, then ts
_HEADLINE_JSON = (
    f"json_array(id, title, norm, text_hash, lang, source, ext_id, url, {_exact('published_at')}, "
    f"{_exact('received_at')}, story_id, match, {_exact('score')}, features, matched_headline_id, {_exact('ts')})"
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


def _member_of(column: str) -> str:
    """The dialect's "the parameter is in this list column" test (``story_filter_sql``)."""
    return f"EXISTS (SELECT 1 FROM json_each(stories.{column}) WHERE value = ?)"


def _story(r: Sequence[Any]) -> StoryRow:
    """A stored story row: its languages and sources are JSON text."""
    return story_row(r, _json_list)
