"""Online assignment: given a new headline and its nearest stored headlines, pick its story (or none).

The caller (the pipeline) finds the candidates — the top-k stored headlines by cosine within the
time window — and looks up exact text hashes itself; ``decide`` scores every candidate, aggregates
per story (several candidates may belong to one story), and compares the best story with the one
threshold. Per-candidate work is a few set operations on precomputed ``Features``: microseconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from .features import Features
from .score import MatchParams, pair_score

__all__ = ["Candidate", "Decision", "decide", "candidate_scores", "rival_reference", "EXACT", "NEAR", "TRANSLATION"]

EXACT = "exact"
NEAR = "near"
TRANSLATION = "translation"


@dataclass(frozen=True)
class Candidate:
    """A stored headline close to the incoming one, with the story it already belongs to."""

    headline_id: int
    story_id: int
    cosine: float
    features: Features
    published_at: float | None = None  # epoch seconds
    #: cosine of the incoming headline to this candidate's story centroid, when the caller keeps one
    story_cosine: float | None = None

    @property
    def lang(self) -> str | None:
        return self.features.lang


@dataclass(frozen=True)
class Decision:
    """``story_id`` None means: open a new story. ``headline_id`` is the best-matching stored headline."""

    story_id: int | None
    match: str | None
    score: float
    headline_id: int | None

    @property
    def duplicate(self) -> bool:
        return self.story_id is not None


def _match_type(a: Features, b: Features) -> str:
    if a.key == b.key:
        return EXACT
    if a.lang is not None and b.lang is not None and a.lang != b.lang:
        return TRANSLATION
    return NEAR


def rival_reference(top_cosine: dict[int, float], story_id: int, rivals: int, floor: float) -> float:
    """Mean cosine of the ``rivals`` closest stories other than ``story_id`` (missing ones: ``floor``)."""
    others = sorted((c for sid, c in top_cosine.items() if sid != story_id), reverse=True)[:rivals]
    others += [floor] * (rivals - len(others))
    return sum(others) / rivals if rivals else 0.0


def candidate_scores(
    features: Features,
    published_at: float | None,
    candidates: Sequence[Candidate],
    params: MatchParams = MatchParams(),
) -> list[float | None]:
    """Each candidate's pair score (1.0 for the same text; None under ``min_cosine``, never scored)."""
    out: list[float | None] = []
    for cand in candidates:
        if cand.features.key == features.key:
            out.append(1.0)
        elif cand.cosine < params.min_cosine:
            out.append(None)
        else:
            dt_hours = None
            if published_at is not None and cand.published_at is not None:
                dt_hours = (published_at - cand.published_at) / 3600.0
            out.append(pair_score(features, cand.features, cand.cosine, dt_hours, params))
    return out


def _rivals_mean(ranked: list[tuple[int, float]], story_id: int, rivals: int, floor: float) -> float:
    """``rival_reference`` over stories already sorted by cosine, closest first."""
    if not rivals:
        return 0.0
    total, taken = 0.0, 0
    for sid, cos in ranked:
        if sid != story_id:
            total += cos
            taken += 1
            if taken == rivals:
                break
    for _ in range(rivals - taken):  # added one by one: the same sum, to the bit, as rival_reference
        total += floor
    return total / rivals


def decide(
    features: Features,
    published_at: float | None,
    candidates: Sequence[Candidate],
    params: MatchParams = MatchParams(),
    scores: Sequence[float | None] | None = None,
) -> Decision:
    """Story for ``features`` among ``candidates``; ``score`` is the best story's score even on a miss.
    ``scores``: ``candidate_scores`` of the same arguments, when the caller already has them (the
    dedup check lists them too)."""
    for cand in candidates:
        # The same key is the same text: no score can argue with it.
        if cand.features.key == features.key:
            return Decision(story_id=cand.story_id, match=EXACT, score=1.0, headline_id=cand.headline_id)
    if scores is None:
        scores = candidate_scores(features, published_at, candidates, params)
    best: dict[int, tuple[float, Candidate]] = {}
    top_cosine: dict[int, float] = {}
    for cand, s in zip(candidates, scores):
        if s is None:
            continue
        if cand.cosine > top_cosine.get(cand.story_id, -1.0):
            top_cosine[cand.story_id] = cand.cosine
        held = best.get(cand.story_id)
        if held is None or s > held[0]:
            best[cand.story_id] = (s, cand)
    if not best:
        return Decision(story_id=None, match=None, score=0.0, headline_id=None)
    # Closest stories first, once: each story's rivals are the first ones of this list but itself.
    ranked = sorted(top_cosine.items(), key=lambda sc: -sc[1])

    def story_score(story_id: int) -> float:
        s, cand = best[story_id]
        if params.w_centroid and cand.story_cosine is not None:
            s += params.w_centroid * (cand.story_cosine - cand.cosine)
        if params.w_rivals:
            s -= params.w_rivals * _rivals_mean(ranked, story_id, params.rivals, params.min_cosine)
        return s

    scores = {sid: story_score(sid) for sid in best}
    story_id = max(scores, key=scores.__getitem__)
    score, cand = scores[story_id], best[story_id][1]
    if score < params.threshold:
        return Decision(story_id=None, match=None, score=score, headline_id=cand.headline_id)
    return Decision(
        story_id=story_id, match=_match_type(features, cand.features), score=score, headline_id=cand.headline_id
    )
