"""The matches a dedup check shows a newsroom: the same text first, then by score, each text once with
how many stored headlines carry it (a feed that repeats itself, two outlets running one wire)."""

from __future__ import annotations

from typing import Mapping, Sequence

from ..records import CheckMatch
from ..store import HeadlineRow
from ..stories.decide import Candidate
from ..stories.features import Features
from ..stories.score import MatchParams, score_terms


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
