"""Turn store rows into the API's response shapes (shared by the stories and clusters routers)."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Sequence

import numpy as np

from ..store import HeadlineRow, Store, StoryRow
from .models import HeadlineBrief, HeadlineOut, StoryDetailOut, StoryOut


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def brief(h: HeadlineRow) -> HeadlineBrief:
    return HeadlineBrief(headline_id=h.id, title=h.title, lang=h.lang, source=h.source, published_at=iso(h.published_at))


def _story_out(s: StoryRow, members: list[HeadlineRow], recent: int) -> StoryOut:
    canonical = next((h for h in members if h.id == s.canonical_headline_id), members[0])
    versions: dict[str, HeadlineRow] = {}
    for h in members:  # members come oldest first: keep the first headline of each other language
        if h.lang and h.lang != canonical.lang and h.lang not in versions:
            versions[h.lang] = h
    return StoryOut(
        id=s.id, canonical=brief(canonical), versions=[brief(h) for h in versions.values()],
        languages=s.languages, sources=s.sources, size=s.size, first_seen=iso(s.first_seen) or "",
        last_seen=iso(s.last_seen) or "", recent_count=recent, topic_id=s.topic_id,
    )


def stories_out(store: Store, stories: Sequence[StoryRow], now: float | None = None) -> list[StoryOut]:
    if not stories:
        return []
    now = time.time() if now is None else now
    ids = [s.id for s in stories]
    members = store.story_briefs(stories)
    recent = store.recent_counts(ids, now - 3600.0)
    return [_story_out(s, members[s.id], recent.get(s.id, 0)) for s in stories if members.get(s.id)]


def story_detail(store: Store, story: StoryRow, limit: int, offset: int) -> StoryDetailOut:
    """The story's summary (canonical, versions: ``story_briefs``, which does not read every member)
    and one page of its headlines, oldest first."""
    base = _story_out(
        story, store.story_briefs([story])[story.id], store.recent_counts([story.id], time.time() - 3600.0)[story.id]
    )
    page = store.story_headline_page(story.id, limit, offset)
    ids = [h.id for h in page]
    if story.canonical_headline_id is not None:
        ids.append(story.canonical_headline_id)
    vecs = store.embeddings(ids)
    canon = vecs.get(story.canonical_headline_id) if story.canonical_headline_id is not None else None
    out = [headline_out(h, canon, vecs.get(h.id)) for h in page]
    return StoryDetailOut(**base.model_dump(), headlines=out, limit=limit, offset=offset)


def headline_out(h: HeadlineRow, canonical_vec: np.ndarray | None, vec: np.ndarray | None) -> HeadlineOut:
    sim = float(np.dot(vec, canonical_vec)) if canonical_vec is not None and vec is not None else 0.0
    return HeadlineOut(
        headline_id=h.id, title=h.title, lang=h.lang, source=h.source, published_at=iso(h.published_at),
        url=h.url, received_at=iso(h.received_at) or "", match=h.match, similarity=round(sim, 4),  # type: ignore[arg-type]
    )
