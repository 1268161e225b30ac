"""The plain rows the store speaks in (headlines, stories, topics, corrections), the columns both
backends read them from, and the helpers both use to build them."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from ..ingest.fold import search_fold


@dataclass(kw_only=True)
class HeadlineFields:
    """What is stored of a headline, besides its id and embedding."""

    title: str
    norm: str
    text_hash: str
    lang: str | None
    source: str | None
    ext_id: str | None
    url: str | None
    published_at: float | None
    received_at: float
    story_id: int
    match: str | None
    score: float | None
    features: str  # JSON, see app.stories.features
    matched_headline_id: int | None = None

    @property
    def ts(self) -> float:
        """The time used for windows: when it was published, else when we received it."""
        return self.published_at if self.published_at is not None else self.received_at


@dataclass(kw_only=True)
class HeadlineRow(HeadlineFields):
    """A stored headline, as read back."""

    id: int


@dataclass(kw_only=True)
class NewHeadline(HeadlineFields):
    """A headline about to be stored, with the vector that goes with it."""

    embedding: np.ndarray


@dataclass
class StoryRow:
    id: int
    canonical_headline_id: int
    first_seen: float
    last_seen: float
    size: int
    topic_id: int | None
    languages: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    updated_at: float = 0.0


@dataclass
class CorrectionRow:
    """An editor's correction, as stored: what was asked, what undoing it needs, who and when."""

    id: int
    kind: str  # "merge", "move" or "apart"
    payload: dict[str, Any]
    undo: dict[str, Any]
    actor: str | None
    at: float
    undone_at: float | None = None
    undone_by: str | None = None


@dataclass(frozen=True)
class MemberRow:
    """What a story's aggregates are worked out from: one member headline."""

    id: int
    ts: float
    lang: str | None
    source: str | None
    embedding: np.ndarray


def story_aggregates(members: Sequence[MemberRow]) -> dict[str, Any]:
    """A story's columns worked out from its members, as ``add_to_story`` builds them up one by one:
    the earliest member is canonical, languages and sources in order of first appearance (members in
    time order), the centroid sum of the vectors. ``size`` 0 when there is none."""
    ordered = sorted(members, key=lambda m: (m.ts, m.id))
    langs: list[str] = []
    sources: list[str] = []
    for m in ordered:
        if m.lang and m.lang not in langs:
            langs.append(m.lang)
        if m.source and m.source not in sources:
            sources.append(m.source)
    return {
        "canonical_headline_id": ordered[0].id if ordered else None,
        "canonical_ts": ordered[0].ts if ordered else None,
        "first_seen": ordered[0].ts if ordered else None,
        "last_seen": ordered[-1].ts if ordered else None,
        "size": len(ordered),
        "languages": langs,
        "sources": sources,
        "centroid_sum": np.sum([m.embedding for m in ordered], axis=0, dtype=np.float32) if ordered else None,
    }


@dataclass
class TopicRow:
    id: int
    label: str
    label_score: float
    keywords: list[str]
    centroid: np.ndarray
    size: int
    created_at: float
    updated_at: float
    #: the taxonomy entry the topic belongs to ("sport", "other"...), set by the refit; None when not known
    category: str | None = None
    #: the language of each keyword (None: a name or a term of several languages), for showing the
    #: reader's language first
    keyword_langs: list[str | None] = field(default_factory=list)


#: the columns of a stored headline, in the order ``headline_row`` reads them (both backends' tables)
HEADLINE_COLS = (
    "id, title, norm, text_hash, lang, source, ext_id, url, published_at, received_at, story_id, "
    "match, score, features, matched_headline_id"
)
#: the columns of a story, in ``StoryRow``'s order (each backend reads its list columns its own way)
STORY_COLS = "id, canonical_headline_id, first_seen, last_seen, size, topic_id, languages, sources, updated_at"
#: the columns of an editor's correction, in ``CorrectionRow``'s order
CORRECTION_COLS = "id, kind, payload, undo, actor, at, undone_at, undone_by"


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


def headline_row(r: Sequence[Any]) -> HeadlineRow:
    """A row of ``HEADLINE_COLS`` (either driver's, or SQLite's JSON array of them) as a ``HeadlineRow``."""
    return HeadlineRow(
        id=r[0],
        title=r[1],
        norm=r[2],
        text_hash=r[3],
        lang=r[4],
        source=r[5],
        ext_id=r[6],
        url=r[7],
        published_at=_opt_float(r[8]),
        received_at=float(r[9]),
        story_id=r[10],
        match=r[11],
        score=_opt_float(r[12]),
        features=r[13],
        matched_headline_id=r[14],
    )


def story_row(r: Sequence[Any], as_list: Callable[[Any], list[str]] = list) -> StoryRow:
    """A row of a story's columns as a ``StoryRow``; ``as_list`` reads the languages and sources column
    (PostgreSQL's arrays and SQLite's JSON arrays are lists already; SQLite's stored text is JSON)."""
    return StoryRow(
        id=r[0],
        canonical_headline_id=r[1],
        first_seen=float(r[2]),
        last_seen=float(r[3]),
        size=r[4],
        topic_id=r[5],
        languages=as_list(r[6]),
        sources=as_list(r[7]),
        updated_at=float(r[8]),
    )


def headline_values(row: NewHeadline, embedding: Any) -> tuple[Any, ...]:
    """A new headline's values in ``INSERT`` column order (title ... features, embedding, search_text), as both
    backends write them; ``embedding`` is the driver's form of the vector."""
    return (
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
        embedding,
        search_fold(row.title),
    )


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
