"""Refit the decision's threshold from editors' corrections (pure).

Each correction says of a (headline, story) pair "the same story" or "not the same story"; the rule's
story score for that pair is what the threshold cuts. The pairs are split in two (alternately, in the
order the corrections came): the threshold is chosen on one half, within ``max_step`` of the current
one, and kept only when it does at least as well as the current one on the other half.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

__all__ = ["Sample", "Fit", "fit_threshold"]


@dataclass(frozen=True)
class Sample:
    score: float
    same: bool


@dataclass(frozen=True)
class Fit:
    threshold: float
    #: False when the previous threshold was kept (too few pairs, or the new one validated worse)
    changed: bool
    pairs: int
    train_accuracy: float
    validation_accuracy: float
    previous_validation_accuracy: float


def _accuracy(samples: Sequence[Sample], threshold: float) -> float:
    """The share of the pairs the threshold decides as the editors did: each pair is a decision an
    editor had to correct, so the best threshold is the one that would have left the fewest to correct
    (balanced accuracy, each kind weighing the same, moved the threshold the wrong way on gnews_fr and
    uci_news: docs/corrections.md)."""
    if not samples:
        return 0.0
    return sum((s.score >= threshold) == s.same for s in samples) / len(samples)


def fit_threshold(samples: Sequence[Sample], current: float, max_step: float = 0.2, min_pairs: int = 10) -> Fit:
    train, validation = list(samples[0::2]), list(samples[1::2])
    before = _accuracy(validation, current)
    if len(samples) < min_pairs:
        return Fit(current, False, len(samples), _accuracy(train, current), before, before)
    lo, hi = current - max_step, current + max_step
    # candidate cuts: halfway between neighbouring scores, within the bounded step, and the current one
    scores = sorted({s.score for s in train})
    cuts = {current} | {min(hi, max(lo, (a + b) / 2)) for a, b in zip(scores, scores[1:])}
    # the best training accuracy; among ties, the cut closest to the current threshold
    best = max(sorted(cuts), key=lambda t: (_accuracy(train, t), -abs(t - current)))
    after = _accuracy(validation, best)
    if after < before or best == current:
        return Fit(current, False, len(samples), _accuracy(train, current), before, before)
    return Fit(round(best, 4), True, len(samples), _accuracy(train, best), after, before)
