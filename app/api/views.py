"""Turn store rows into the API's response shapes (shared by the routers).

A response model whose source is a row or record (a dataclass) is validated from it: directly
(``from_attributes``) when it serves the source's fields as they are, else through ``from_row``. A field the
model and its source share by name is copied nowhere by hand; only what is computed (a renamed field, a time
as ISO-8601, a derived value) is spelt out where the response is built.

A story's card is built once as a plain dict (``story_card``), in the field order of ``StoryOut``: the
clusters view serialises thousands of them straight to JSON, the other routes validate them into
``StoryOut`` (tests/test_api_clusters.py checks that both give the same JSON).
"""

from __future__ import annotations

import math
import time
import weakref
from datetime import datetime, timezone
from typing import Any, Sequence, TypeVar

import numpy as np
from pydantic import BaseModel

from ..store import HeadlineRow, Store, StoryRow
from .models import CheckStoryOut, HeadlineBrief, HeadlineOut, StoryDetailOut, StoryOut

M = TypeVar("M", bound=BaseModel)


def from_row(model: type[M], row: object, **computed: Any) -> M:
    """``model`` validated from ``row``'s fields (a dataclass's), but for those given in ``computed``: what
    the response renames, converts or derives. The row's other fields are ignored.

    A dict of the row's fields merged with the computed ones, not the row itself with ``from_attributes``:
    the model needs the computed fields too, and a stand-in object answering for both (a Python
    ``__getattr__`` per field) made the dedup check's answer 2-3 times slower to build."""
    return model.model_validate({**vars(row), **computed})


#: "YYYY-MM-DDT" of a day (days since the epoch), formatted once: the clusters view formats ~6,000 times
_DAYS: dict[int, str] = {}
_DAYS_MAX = 4096


def iso(ts: float | None) -> str | None:
    """ISO-8601 UTC to the second, "Z" for UTC: what ``datetime.isoformat(timespec="seconds")`` gives,
    at a third of its cost (the date part of each day is formatted once)."""
    if ts is None:
        return None
    # the microseconds rounded as datetime.fromtimestamp rounds them (half to even), then dropped
    frac, whole = math.modf(ts)
    seconds = int(whole)
    us = round(frac * 1e6)
    if us >= 1_000_000:
        seconds += 1
    elif us < 0:
        seconds -= 1
    day, rest = divmod(seconds, 86_400)
    prefix = _DAYS.get(day)
    if prefix is None:
        prefix = datetime.fromtimestamp(day * 86_400, tz=timezone.utc).isoformat()[:11]
        if len(_DAYS) >= _DAYS_MAX:
            _DAYS.clear()
        _DAYS[day] = prefix
    hour, rest = divmod(rest, 3600)
    minute, second = divmod(rest, 60)
    return f"{prefix}{hour:02d}:{minute:02d}:{second:02d}Z"


def _iso_reference(ts: float) -> str:
    """What ``iso`` must equal (tests compare them)."""
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def brief_dict(h: HeadlineRow) -> dict[str, Any]:
    return {
        "headline_id": h.id,
        "title": h.title,
        "lang": h.lang,
        "source": h.source,
        "published_at": iso(h.published_at),
    }


def brief(h: HeadlineRow) -> HeadlineBrief:
    return HeadlineBrief.model_validate(brief_dict(h))


def _headings(s: StoryRow, members: list[HeadlineRow]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The story's canonical headline and its first headline in each other language, as briefs.
    ``members``: its ``story_briefs`` (canonical and the first headline of each language, oldest first)."""
    canonical = None
    for h in members:
        if h.id == s.canonical_headline_id:
            canonical = h
            break
    if canonical is None:
        canonical = members[0]
    versions: dict[str, HeadlineRow] = {}
    for h in members:  # members come oldest first: keep the first headline of each other language
        if h.lang and h.lang != canonical.lang and h.lang not in versions:
            versions[h.lang] = h
    return brief_dict(canonical), [brief_dict(h) for h in versions.values()]


def _card_fields(s: StoryRow, canonical: dict[str, Any], versions: list[dict[str, Any]]) -> dict[str, Any]:
    """A story's card but for its ``recent_count`` and ``topic_id`` (the last two fields): what its members
    alone decide."""
    return {
        "id": s.id,
        "canonical": canonical,
        "versions": versions,
        "languages": s.languages,
        "sources": s.sources,
        "n_sources": len(set(s.sources)),
        "size": s.size,
        "first_seen": iso(s.first_seen) or "",
        "last_seen": iso(s.last_seen) or "",
    }


def story_card(s: StoryRow, members: list[HeadlineRow], recent: int) -> dict[str, Any]:
    """A story as ``StoryOut`` shows it, as a plain dict (see ``_headings`` for ``members``)."""
    return {**_card_fields(s, *_headings(s, members)), "recent_count": recent, "topic_id": s.topic_id}


#: Per store: each story's card but for ``recent_count`` and ``topic_id``, with what it was worked out for.
#: All of it (canonical and versions, languages, sources, size, times) follows from the story's members,
#: and every change of members (a headline joins, an editor moves one) moves the story's ``updated_at``
#: (and mostly its size): while those and the canonical id are the same, so is the card. The clusters
#: view shows ~1,400 stories; an ingest batch changes a few of them, so the view reads the members of
#: those few again, not of all, and formats no time twice.
_CARDS: "weakref.WeakKeyDictionary[Store, dict[int, tuple]]" = weakref.WeakKeyDictionary()
_CARDS_MAX = 20_000


def _card_key(s: StoryRow) -> tuple:
    return (s.updated_at, s.size, s.canonical_headline_id)


def story_cards(store: Store, stories: Sequence[StoryRow], now: float | None = None) -> list[dict[str, Any]]:
    """The stories' cards, in two store calls (``story_briefs`` for the stories whose cards are not known
    yet, ``recent_counts``) however many they are."""
    if not stories:
        return []
    now = time.time() if now is None else now
    known = _CARDS.get(store)
    if known is None:
        known = _CARDS.setdefault(store, {})
    missing = [s for s in stories if (got := known.get(s.id)) is None or got[0] != _card_key(s)]
    members = store.story_briefs(missing)
    if len(known) + len(missing) > _CARDS_MAX:
        known.clear()
    for s in missing:
        if members.get(s.id):
            known[s.id] = (_card_key(s), _card_fields(s, *_headings(s, members[s.id])))
    recent = store.recent_counts([s.id for s in stories], now - 3600.0)
    out = []
    for s in stories:
        got = known.get(s.id)
        if got is not None and got[0] == _card_key(s):
            out.append({**got[1], "recent_count": recent.get(s.id, 0), "topic_id": s.topic_id})
    return out


def stories_out(store: Store, stories: Sequence[StoryRow], now: float | None = None) -> list[StoryOut]:
    return [StoryOut.model_validate(card) for card in story_cards(store, stories, now)]


def story_detail(store: Store, story: StoryRow, limit: int, offset: int) -> StoryDetailOut:
    """The story's summary (canonical, versions: ``story_briefs``, which does not read every member)
    and one page of its headlines, oldest first."""
    base = story_card(
        story, store.story_briefs([story])[story.id], store.recent_counts([story.id], time.time() - 3600.0)[story.id]
    )
    page = store.story_headline_page(story.id, limit, offset)
    ids = [h.id for h in page]
    if story.canonical_headline_id is not None:
        ids.append(story.canonical_headline_id)
    vecs = store.embeddings(ids)
    canon = vecs.get(story.canonical_headline_id) if story.canonical_headline_id is not None else None
    out = [headline_out(h, canon, vecs.get(h.id)) for h in page]
    return StoryDetailOut.model_validate({**base, "headlines": out, "limit": limit, "offset": offset})


def check_story(s: StoryRow, versions: Sequence[HeadlineRow]) -> CheckStoryOut:
    """The dedup check's ``story``: the story's row and its earliest headline in each language
    (``matching.evidence.story_versions``)."""
    return CheckStoryOut.model_validate(
        {
            "id": s.id,
            "size": s.size,
            "n_sources": len(set(s.sources)),
            "languages": s.languages,
            "first_seen": iso(s.first_seen) or "",
            "last_seen": iso(s.last_seen) or "",
            "versions": [
                {
                    "headline_id": h.id,
                    "title": h.title,
                    "lang": h.lang,
                    "source": h.source,
                    "url": h.url,
                    "published_at": iso(h.published_at),
                    "received_at": iso(h.received_at),
                }
                for h in versions
            ],
        }
    )


def headline_out(h: HeadlineRow, canonical_vec: np.ndarray | None, vec: np.ndarray | None) -> HeadlineOut:
    sim = float(np.dot(vec, canonical_vec)) if canonical_vec is not None and vec is not None else 0.0
    return from_row(
        HeadlineOut,
        h,
        headline_id=h.id,
        published_at=iso(h.published_at),
        received_at=iso(h.received_at) or "",
        similarity=round(sim, 4),
    )


__all__ = [
    "brief",
    "brief_dict",
    "check_story",
    "from_row",
    "headline_out",
    "iso",
    "stories_out",
    "story_card",
    "story_cards",
    "story_detail",
]
