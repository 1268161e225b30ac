"""Online assignment: given a new headline and its nearest stored headlines, pick its story (or none).

The caller (the pipeline) finds the candidates — the top-k stored headlines by cosine within the
time window — and looks up exact text hashes itself; ``decide`` scores every candidate, aggregates
per story (several candidates may belong to one story), and compares the best story with the one
threshold. Per-candidate work is a few set operations on precomputed ``Features``: microseconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from .features import Features
from .score import MatchParams, pair_score, score_terms

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
    """``story_id`` None means: open a new story. ``headline_id`` is the best-matching stored headline.
    ``stories``: every candidate story's score (what an editor's corrections are learnt from)."""

    story_id: int | None
    match: str | None
    score: float
    headline_id: int | None
    stories: Mapping[int, float] = field(default_factory=dict, compare=False)

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
    weights: Mapping[str, float] | None = None,
) -> list[float | None]:
    """Each candidate's pair score (1.0 for the same text; None under ``min_cosine``, never scored).
    ``weights``: the rarity of the headline's names and words (``rarity.DocumentFrequency.weights``)."""
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
            out.append(pair_score(features, cand.features, cand.cosine, dt_hours, params, weights))
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


def _is_translation(features: Features, cand: Candidate) -> bool:
    return features.lang is not None and cand.lang is not None and features.lang != cand.lang


def _joint_evidence(
    features: Features, cand: Candidate, params: MatchParams, weights: Mapping[str, float] | None
) -> bool:
    """A cross-language pair whose calibrated cosine passes alone, or that shares a name, figure or trigram."""
    t = score_terms(features, cand.features, cand.cosine, None, params, weights)
    if t.get("exact"):
        return True
    return t["cosine"] + t["cross_lang"] >= params.threshold or t["entity"] > 0 or t["number"] > 0 or t["gram"] > 0


def age_decay(seconds: float, age_days: float, grace_hours: float = 0.0) -> float:
    """0 for a story within ``grace_hours`` of the headline's time, toward 1 for one ``age_days`` more away."""
    late = max(0.0, abs(seconds) - 3600.0 * grace_hours)
    return 1.0 - math.exp(-late / (86400.0 * age_days))


def _story_ages(
    published_at: float, candidates: Sequence[Candidate], scores: Sequence[float | None]
) -> dict[int, float]:
    """Seconds from each story's candidates' mean time to ``published_at`` (stories with known times)."""
    sums: dict[int, list[float]] = {}
    for cand, s in zip(candidates, scores):
        if s is not None and cand.published_at is not None:
            acc = sums.setdefault(cand.story_id, [0.0, 0.0])
            acc[0] += cand.published_at
            acc[1] += 1.0
    return {sid: published_at - total / n for sid, (total, n) in sums.items()}


def decide(
    features: Features,
    published_at: float | None,
    candidates: Sequence[Candidate],
    params: MatchParams = MatchParams(),
    scores: Sequence[float | None] | None = None,
    weights: Mapping[str, float] | None = None,
    at: float | None = None,
) -> Decision:
    """Story for ``features`` among ``candidates``; ``score`` is the best story's score even on a miss.
    ``published_at``: the headline's publication time (pair time gaps); ``at``: its time for story ages
    (the publication time, else when it was received; ``published_at`` when not given).
    ``scores``: ``candidate_scores`` of the same arguments, when the caller already has them (the
    dedup check lists them too)."""
    for cand in candidates:
        # The same key is the same text: no score can argue with it.
        if cand.features.key == features.key:
            return Decision(
                story_id=cand.story_id,
                match=EXACT,
                score=1.0,
                headline_id=cand.headline_id,
                stories={cand.story_id: 1.0},
            )
    if scores is None:
        scores = candidate_scores(features, published_at, candidates, params, weights)
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

    at = published_at if at is None else at
    ages = _story_ages(at, candidates, scores) if params.w_age and at is not None else {}

    def story_score(story_id: int) -> float:
        s, cand = best[story_id]
        if params.w_centroid and cand.story_cosine is not None:
            s += params.w_centroid * (cand.story_cosine - cand.cosine)
        if params.w_rivals:
            # over the floor: a story with no close rival (all at min_cosine) pays nothing
            s -= params.w_rivals * (
                _rivals_mean(ranked, story_id, params.rivals, params.min_cosine) - params.min_cosine
            )
        age = ages.get(story_id)
        if age is not None:
            s -= params.w_age * age_decay(age, params.age_days, params.age_grace_hours)
        return s

    story_scores = {sid: story_score(sid) for sid in best}
    story_id = max(story_scores, key=story_scores.__getitem__)
    if story_scores[story_id] >= params.threshold and _is_translation(features, best[story_id][1]):
        # Same language first: a translation joins its own language's version of the story when one
        # passes too, so that a story's versions in one language are never split by a translation.
        passing = [sid for sid, s in story_scores.items() if s >= params.threshold]
        same = [sid for sid in passing if not _is_translation(features, best[sid][1])]
        # Then across languages, on joint evidence: a cosine that passes on its own, or a shared name,
        # figure or trigram besides it (no decision on the labelled sets lacks one; it guards the rest).
        joint = [sid for sid in passing if _joint_evidence(features, best[sid][1], params, weights)]
        if same or joint:
            story_id = max(same or joint, key=story_scores.__getitem__)
        else:
            story_scores[story_id] = min(story_scores[story_id], math.nextafter(params.threshold, -math.inf))
    score, cand = story_scores[story_id], best[story_id][1]
    if score < params.threshold:
        return Decision(story_id=None, match=None, score=score, headline_id=cand.headline_id, stories=story_scores)
    return Decision(
        story_id=story_id,
        match=_match_type(features, cand.features),
        score=score,
        headline_id=cand.headline_id,
        stories=story_scores,
    )
