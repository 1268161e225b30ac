"""In-process vector index over the recent window, for the embedded (SQLite) backend.

Exact inner-product search on a contiguous float32 matrix: with unit vectors that is cosine.
Rows older than the kept horizon are pruned, so memory follows the window, not the archive.
"""

from __future__ import annotations

import threading

import numpy as np


class VectorIndex:
    def __init__(self, dim: int, capacity: int = 1024) -> None:
        self.dim = dim
        self._ids = np.zeros(capacity, dtype=np.int64)
        self._ts = np.zeros(capacity, dtype=np.float64)
        self._mat = np.zeros((capacity, dim), dtype=np.float32)
        self._n = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return self._n

    def _grow(self, need: int) -> None:
        cap = len(self._ids)
        if need <= cap:
            return
        new_cap = max(need, cap * 2)
        ids = np.zeros(new_cap, dtype=np.int64)
        ts = np.zeros(new_cap, dtype=np.float64)
        mat = np.zeros((new_cap, self.dim), dtype=np.float32)
        ids[: self._n], ts[: self._n], mat[: self._n] = self._ids[: self._n], self._ts[: self._n], self._mat[: self._n]
        self._ids, self._ts, self._mat = ids, ts, mat

    def add(self, ids: np.ndarray, ts: np.ndarray, vectors: np.ndarray) -> None:
        vectors = np.asarray(vectors, dtype=np.float32).reshape(-1, self.dim)
        with self._lock:
            m = len(vectors)
            self._grow(self._n + m)
            self._ids[self._n : self._n + m] = ids
            self._ts[self._n : self._n + m] = ts
            self._mat[self._n : self._n + m] = vectors
            self._n += m

    def truncate(self, n: int) -> None:
        """Forget every row added after the first ``n`` (a rolled-back transaction's rows)."""
        with self._lock:
            self._n = min(self._n, n)

    def prune(self, ts_min: float) -> int:
        """Drop rows older than ts_min; returns how many were dropped."""
        with self._lock:
            keep = self._ts[: self._n] >= ts_min
            dropped = int(self._n - keep.sum())
            if dropped:
                m = int(keep.sum())
                self._ids[:m] = self._ids[: self._n][keep]
                self._ts[:m] = self._ts[: self._n][keep]
                self._mat[:m] = self._mat[: self._n][keep]
                self._n = m
            return dropped

    def search(self, vector: np.ndarray, k: int, ts_lo: float, ts_hi: float) -> list[tuple[int, float]]:
        with self._lock:
            n = self._n
            ids, ts, mat = self._ids[:n], self._ts[:n], self._mat[:n]
        if n == 0 or k <= 0:
            return []
        sims = mat @ np.asarray(vector, dtype=np.float32).reshape(self.dim)
        inside = (ts >= ts_lo) & (ts <= ts_hi)
        if not inside.all():
            sims = np.where(inside, sims, -np.inf)
        k = min(k, n)
        top = np.argpartition(-sims, k - 1)[:k] if k < n else np.arange(n)
        top = top[np.argsort(-sims[top], kind="stable")]
        return [(int(ids[i]), float(sims[i])) for i in top if np.isfinite(sims[i])]
