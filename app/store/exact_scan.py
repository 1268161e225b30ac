"""Exact nearest rows by inner product (cosine on unit vectors) over a time window of stored rows.

These read a snapshot of the vector index's arrays (ids, vectors, which rows are inside the window)
and never change it, so the index runs them outside its lock. Queries sharing a window are scanned as
one matrix product (``scan_many``), which reads the rows once for all of them (see
``VectorIndex.search_many``).
"""

from __future__ import annotations

import numpy as np

#: one answer: (headline id, cosine), best first
Hits = list[tuple[int, float]]


def window_rows(
    ids: np.ndarray, mat: np.ndarray, inside: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """The rows an exact scan of a window reads: their ids, their vectors, and which of them are
    outside the window (None when all are inside)."""
    if inside is None:
        return ids, mat, None
    pos = np.flatnonzero(inside)
    lo, hi = int(pos[0]), int(pos[-1]) + 1
    if hi - lo <= 2 * len(pos):
        # rows arrive roughly in time order: the window is mostly one run of the arrays
        return ids[lo:hi], mat[lo:hi], ~inside[lo:hi]
    return ids[pos], mat[pos], None


def scan(v: np.ndarray, k: int, ids: np.ndarray, mat: np.ndarray, inside: np.ndarray | None, n_in: int) -> Hits:
    """The ``k`` rows nearest to ``v`` among the ``n_in`` rows inside the window (``inside`` None: all rows)."""
    rows, sub, outside = window_rows(ids, mat, inside)
    sims = sub @ v
    if outside is not None:
        sims[outside] = -np.inf
    return top(sims, min(k, n_in), rows)


def scan_many(
    q: np.ndarray, k: int, ids: np.ndarray, mat: np.ndarray, inside: np.ndarray | None, n_in: int
) -> list[Hits]:
    """``scan`` for each row of ``q``, over one window: one matrix product, one partition."""
    rows, sub, outside = window_rows(ids, mat, inside)
    sims = q @ sub.T
    if outside is not None:
        sims[:, outside] = -np.inf
    k = min(k, n_in)
    width = sims.shape[1]
    top_pos = (
        np.argpartition(-sims, k - 1, axis=1)[:, :k] if k < width else np.broadcast_to(np.arange(width), sims.shape)
    )
    top_sims = np.take_along_axis(sims, top_pos, axis=1)
    order = np.argsort(-top_sims, axis=1, kind="stable")
    top_pos = np.take_along_axis(top_pos, order, axis=1)
    top_sims = np.take_along_axis(top_sims, order, axis=1)
    top_ids = rows[top_pos]
    return [
        [(int(i), float(s)) for i, s in zip(row_ids.tolist(), row_sims.tolist()) if s != -np.inf]
        for row_ids, row_sims in zip(top_ids, top_sims)
    ]


def top(sims: np.ndarray, k: int, rows: np.ndarray) -> Hits:
    """The ``k`` best of ``sims`` (one score per entry of ``rows``, -inf for rows left out), best first."""
    n = len(sims)
    best = np.argpartition(-sims, k - 1)[:k] if k < n else np.arange(n)
    best = best[np.argsort(-sims[best], kind="stable")]
    return [(int(rows[i]), float(sims[i])) for i in best if np.isfinite(sims[i])]


def ranked(v: np.ndarray, ids: np.ndarray, mat: np.ndarray, pos: np.ndarray, k: int) -> Hits:
    """The ``k`` rows at positions ``pos`` nearest to ``v``, best first."""
    # Scores from the same product as the exact scan, so a row's cosine does not depend on the path.
    sims = mat[pos] @ v
    order = np.argsort(-sims, kind="stable")[:k]
    return [(int(ids[pos[i]]), float(sims[i])) for i in order]
