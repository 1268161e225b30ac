"""Clustering agreement between gold and predicted labels: pairwise, BCubed, NMI, ARI.

Labels are any hashable values, one per item, in the same order for gold and prediction.
Conventions for degenerate cases: a precision with no predicted pairs (or a recall with no gold
pairs) is 1.0 — nothing claimed, nothing wrong — and F1 is 0.0 when precision + recall is 0.

Pair counts come from cluster sizes (a cluster of n holds n(n-1)/2 pairs), never from the pairs
themselves: linear in the number of items.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Hashable, Sequence

import numpy as np

__all__ = [
    "PRF",
    "PairCounts",
    "pairwise",
    "bcubed",
    "nmi",
    "ari",
    "cluster_metrics",
    "largest_cluster",
    "pairs_by_lang",
]


@dataclass(frozen=True)
class PRF:
    precision: float
    recall: float
    f1: float


@dataclass(frozen=True)
class PairCounts:
    """Unordered item pairs: in one gold cluster, in one predicted cluster, and in both."""

    gold_pairs: int
    pred_pairs: int
    correct_pairs: int

    @property
    def precision(self) -> float:
        return self.correct_pairs / self.pred_pairs if self.pred_pairs else 1.0

    @property
    def recall(self) -> float:
        return self.correct_pairs / self.gold_pairs if self.gold_pairs else 1.0


def _f1(p: float, r: float) -> float:
    return 0.0 if p + r == 0 else 2 * p * r / (p + r)


def _codes(labels: Sequence[Hashable]) -> np.ndarray:
    index: dict[Hashable, int] = {}
    return np.fromiter((index.setdefault(x, len(index)) for x in labels), dtype=np.int64, count=len(labels))


def _contingency(gold: Sequence[Hashable], pred: Sequence[Hashable]) -> np.ndarray:
    if len(gold) != len(pred):
        raise ValueError(f"gold has {len(gold)} labels, prediction {len(pred)}")
    g, p = _codes(gold), _codes(pred)
    table = np.zeros((int(g.max(initial=-1)) + 1, int(p.max(initial=-1)) + 1), dtype=np.int64)
    np.add.at(table, (g, p), 1)
    return table


def _pairs(n: np.ndarray) -> int:
    return int((n * (n - 1) // 2).sum())


def pairwise(gold: Sequence[Hashable], pred: Sequence[Hashable]) -> PRF:
    """Over all unordered item pairs: a pair is positive when both items share a cluster."""
    table = _contingency(gold, pred)
    together = _pairs(table)
    pred_pairs = _pairs(table.sum(axis=0))
    gold_pairs = _pairs(table.sum(axis=1))
    p = together / pred_pairs if pred_pairs else 1.0
    r = together / gold_pairs if gold_pairs else 1.0
    return PRF(p, r, _f1(p, r))


def largest_cluster(labels: Sequence[Hashable]) -> int:
    """Items in the largest cluster (0 when there are none)."""
    return int(np.bincount(_codes(labels)).max(initial=0))


def _pairs_by_lang_of(groups: np.ndarray, langs: np.ndarray, n_langs: int) -> np.ndarray:
    """[n_langs, n_langs]: unordered pairs of items in one group, by their two languages (a pair of
    languages a != b counted in both [a, b] and [b, a]; pairs of one language on the diagonal)."""
    per_group = np.zeros((int(groups.max(initial=-1)) + 1, n_langs), dtype=np.int64)
    np.add.at(per_group, (groups, langs), 1)
    # (M^T M)[a, b] = sum over groups of n_a * n_b: the pairs across a and b; on the diagonal n_a^2,
    # of which n_a(n_a - 1)/2 are pairs of two different items
    out = per_group.T @ per_group
    np.fill_diagonal(out, (np.diag(out) - per_group.sum(axis=0)) // 2)
    return out


def pairs_by_lang(gold: Sequence[Hashable], pred: Sequence[Hashable], langs: Sequence[str]) -> dict[str, PairCounts]:
    """Pair counts per unordered language pair ("en-fr", "en-en": the two codes sorted, joined by "-"),
    for the language pairs that have a gold or a predicted pair. Summed over the language pairs, the
    counts are those ``pairwise`` works from."""
    if not len(gold) == len(pred) == len(langs):
        raise ValueError(f"{len(gold)} gold labels, {len(pred)} predicted, {len(langs)} languages")
    names = sorted(set(langs))
    index = {name: i for i, name in enumerate(names)}
    lang = np.fromiter((index[x] for x in langs), dtype=np.int64, count=len(langs))
    g, p = _codes(gold), _codes(pred)
    # one code per (gold, predicted) cell: a pair is correct when both items share the cell
    cell = np.unique(g * (int(p.max(initial=-1)) + 1) + p, return_inverse=True)[1].reshape(-1)
    by_gold, by_pred, by_cell = (_pairs_by_lang_of(x, lang, len(names)) for x in (g, p, cell))
    out: dict[str, PairCounts] = {}
    for a in range(len(names)):
        for b in range(a, len(names)):
            counts = PairCounts(int(by_gold[a, b]), int(by_pred[a, b]), int(by_cell[a, b]))
            if counts.gold_pairs or counts.pred_pairs:
                out[f"{names[a]}-{names[b]}"] = counts
    return out


def bcubed(gold: Sequence[Hashable], pred: Sequence[Hashable]) -> PRF:
    """Per item: share of its predicted cluster that is gold-same (P) and of its gold cluster found (R)."""
    table = _contingency(gold, pred)
    n = table.sum()
    if n == 0:
        return PRF(1.0, 1.0, 1.0)
    # Every item in cell (i, j) sees table[i, j] items (itself included) in both clusters.
    cell_sq = table.astype(np.float64) ** 2
    p = float((cell_sq / table.sum(axis=0, keepdims=True).clip(min=1)).sum() / n)
    r = float((cell_sq / table.sum(axis=1, keepdims=True).clip(min=1)).sum() / n)
    return PRF(p, r, _f1(p, r))


def nmi(gold: Sequence[Hashable], pred: Sequence[Hashable]) -> float:
    from sklearn.metrics import normalized_mutual_info_score

    return float(normalized_mutual_info_score(_codes(gold), _codes(pred)))


def ari(gold: Sequence[Hashable], pred: Sequence[Hashable]) -> float:
    from sklearn.metrics import adjusted_rand_score

    return float(adjusted_rand_score(_codes(gold), _codes(pred)))


def cluster_metrics(gold: Sequence[Hashable], pred: Sequence[Hashable]) -> dict[str, float]:
    """All of the above as one flat dict (keys: pairwise_p/r/f1, bcubed_p/r/f1, nmi, ari, n, ...)."""
    out: dict[str, float] = {"n": len(gold), "gold_clusters": len(set(gold)), "pred_clusters": len(set(pred))}
    for name, prf in (("pairwise", pairwise(gold, pred)), ("bcubed", bcubed(gold, pred))):
        out[f"{name}_p"], out[f"{name}_r"], out[f"{name}_f1"] = prf.precision, prf.recall, prf.f1
    out["nmi"] = nmi(gold, pred)
    out["ari"] = ari(gold, pred)
    return out


def story_metrics(truth: Sequence[Hashable], pred: Sequence[Hashable]) -> dict[str, Any]:
    """The stories task's metrics of one prediction (what the last line reports, and each half of --feedback)."""
    p, b = pairwise(truth, pred), bcubed(truth, pred)
    return {
        "pairwise_precision": p.precision,
        "pairwise_recall": p.recall,
        "pairwise_f1": p.f1,
        "bcubed_precision": b.precision,
        "bcubed_recall": b.recall,
        "bcubed_f1": b.f1,
        "n_items": len(truth),
        "n_gold_clusters": len(set(truth)),
        "n_pred_clusters": len(set(pred)),
        "largest_pred_cluster": largest_cluster(pred),
        "largest_gold_cluster": largest_cluster(truth),
    }
