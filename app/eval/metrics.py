"""Clustering agreement between gold and predicted labels: pairwise, BCubed, NMI, ARI.

Labels are any hashable values, one per item, in the same order for gold and prediction.
Conventions for degenerate cases: a precision with no predicted pairs (or a recall with no gold
pairs) is 1.0 — nothing claimed, nothing wrong — and F1 is 0.0 when precision + recall is 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Hashable, Sequence

import numpy as np

__all__ = ["PRF", "pairwise", "bcubed", "nmi", "ari", "cluster_metrics"]


@dataclass(frozen=True)
class PRF:
    precision: float
    recall: float
    f1: float


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


def bcubed(gold: Sequence[Hashable], pred: Sequence[Hashable]) -> PRF:
    """Per item: share of its predicted cluster that is gold-same (P) and of its gold cluster found (R)."""
    table = _contingency(gold, pred)
    n = table.sum()
    if n == 0:
        return PRF(1.0, 1.0, 1.0)
    # Every item in cell (i, j) sees table[i, j] items (itself included) in both clusters.
    cell_sq = (table.astype(np.float64) ** 2)
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
