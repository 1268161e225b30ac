"""The matches a dedup check shows a newsroom: the same text first, then by score, each text once with
how many stored headlines carry it (a feed that repeats itself, two outlets running one wire); and the
whole story they point at, by language (``story_versions``), which the top matches alone do not show."""

from __future__ import annotations

import weakref
from typing import Mapping, Sequence

from ..records import CheckMatch
from ..store import HeadlineRow, Store, StoryRow
from ..stories.decide import Candidate
from ..stories.features import Features
from ..stories.score import MatchParams, score_terms

#: the most languages a check's story lists (a story has few: the configured languages)
MAX_STORY_VERSIONS = 12
#: the story's oldest headlines read first: most stories are smaller, and a large one (a wire story re-run
#: all day) mostly has every language among them
STORY_PAGE = 16

#: Per store: the versions of the stories whose languages did not all show in their oldest ``STORY_PAGE``
#: headlines, with the story's state they were read for (every change of members moves ``updated_at``):
#: ``story_briefs`` reads an index entry per member (1.6 ms for a story of 2,000), and such a story is a
#: busy one, checked again before it changes.
_LATE: "weakref.WeakKeyDictionary[Store, dict[int, tuple[tuple, list[HeadlineRow]]]]" = weakref.WeakKeyDictionary()
_LATE_MAX = 1000


def _state(story: StoryRow) -> tuple:
    return (story.updated_at, story.size, story.canonical_headline_id, tuple(story.languages))


def story_versions(
    store: Store, story_id: int | None, limit: int = MAX_STORY_VERSIONS
) -> tuple[StoryRow, list[HeadlineRow]] | None:
    """The story ``story_id`` and its earliest headline in each language, in the order they ran, at most
    ``limit`` of them; None when there is no such story (or it holds no headline any more).

    Bounded reads: the story's row, then its oldest ``STORY_PAGE`` headlines (``story_headline_page``),
    which hold the whole story or every language of most; only when a language first ran later,
    ``story_briefs`` (the earliest headline of each language, from an index), kept until the story changes."""
    if story_id is None:
        return None
    story = store.story(story_id)
    if story is None or story.size == 0:
        return None
    firsts = _firsts(store.story_headline_page(story.id, STORY_PAGE, 0))
    if story.size > STORY_PAGE and not set(story.languages) <= firsts.keys():
        known = _LATE.get(store)
        if known is None:
            known = _LATE.setdefault(store, {})
        got = known.get(story.id)
        if got is not None and got[0] == _state(story):
            return story, got[1][:limit]
        firsts = _firsts(store.story_briefs([story]).get(story.id, []))
        if len(known) >= _LATE_MAX:
            known.clear()
        known[story.id] = (_state(story), list(firsts.values()))
    return story, list(firsts.values())[:limit]


def _firsts(rows: Sequence[HeadlineRow]) -> dict[str, HeadlineRow]:
    """The first headline of each language among ``rows`` (oldest first), in that order."""
    firsts: dict[str, HeadlineRow] = {}
    for h in rows:
        if h.lang and h.lang not in firsts:
            firsts[h.lang] = h
    return firsts


def distinct_texts(
    scored: Sequence[tuple[float, Candidate]], key: str
) -> tuple[list[tuple[float, Candidate]], dict[str, int]]:
    """The candidates in the order shown, one per normalised text, and the copies of each text."""
    # The same text first (what "exact" points at), then by score: a pair score can pass 1.0.
    ordered = sorted(scored, key=lambda sc: (sc[1].features.key != key, -sc[0]))
    distinct: list[tuple[float, Candidate]] = []
    copies: dict[str, int] = {}
    for s, c in ordered:
        text = c.features.key
        if text not in copies:
            distinct.append((s, c))
        copies[text] = copies.get(text, 0) + 1
    return distinct, copies


def check_matches(
    features: Features,
    shown: Sequence[tuple[float, Candidate]],
    copies: Mapping[str, int],
    rows: Mapping[int, HeadlineRow],
    params: MatchParams,
    weights: dict[str, float] | None,
) -> list[CheckMatch]:
    """One ``CheckMatch`` per shown candidate still stored, with the terms of its score."""
    out = []
    for s, c in shown:
        row = rows.get(c.headline_id)
        if row is None:
            continue
        terms = score_terms(features, c.features, c.cosine, None, params, weights)
        out.append(
            CheckMatch(
                headline_id=c.headline_id,
                story_id=c.story_id,
                title=row.title,
                lang=row.lang,
                source=row.source,
                published_at=row.published_at,
                score=round(float(s), 4),
                cosine=round(c.cosine, 4),
                terms={k: round(v, 4) for k, v in terms.items()},
                url=row.url,
                received_at=row.received_at,
                copies=copies[c.features.key],
            )
        )
    return out
