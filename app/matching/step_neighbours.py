"""The nearest stored headlines of each headline of an ingest step, the step's own included."""

from __future__ import annotations

import numpy as np


class StepNeighbours:
    """``found`` holds what one batched search over the store answered for the step at its start; the
    headlines the step stores afterwards are added here as they are stored, with their cosines from
    one product of the step's vectors. Headline j's list is then what a search of its own, made just
    before it is matched, would give.
    """

    def __init__(
        self, found: list[list[tuple[int, float]] | None], block: np.ndarray, ts: list[float], window: float, k: int
    ) -> None:
        self.found, self.ts, self.window, self.k = found, ts, window, k
        self._block = block
        self._gram: np.ndarray | None = None
        self._stored: list[tuple[int, int]] = []  # (position in the step, headline id)

    def nearest(self, j: int) -> list[tuple[int, float]]:
        found = self.found[j] or []
        if not self._stored:
            return found
        if self._gram is None:
            self._gram = self._block @ self._block.T
        lo, hi = self.ts[j] - self.window, self.ts[j] + self.window
        sims = self._gram[j]
        extra = [(hid, float(sims[a])) for a, hid in self._stored if lo <= self.ts[a] <= hi]
        if not extra:
            return found
        return sorted(found + extra, key=lambda hc: -hc[1])[: self.k]

    def stored(self, j: int, headline_id: int) -> None:
        self._stored.append((j, headline_id))
