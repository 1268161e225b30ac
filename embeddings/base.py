from __future__ import annotations

from typing import Protocol, Sequence, runtime_checkable

import numpy as np


@runtime_checkable
class Encoder(Protocol):
    """What every backend offers: a name, a dimension, and batch encoding to unit vectors."""

    name: str
    dim: int
    # Optional: ``thread_safe = True`` lets the pipeline call ``encode`` from several threads at once
    # (absent: one call at a time).

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Return a float32 array of shape [len(texts), dim], each row L2-normalised."""
        ...


def describe(encoder: Encoder) -> dict[str, object]:
    """What an encoder says of itself (model, precision, runtime, CPU), or at least its name and dimension."""
    own = getattr(encoder, "describe", None)
    return dict(own()) if callable(own) else {"name": encoder.name, "dim": encoder.dim}


def l2_normalise(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float32)
    if matrix.ndim == 1:
        matrix = matrix[None, :]
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(matrix / norms, dtype=np.float32)


def unit_vector(vector: np.ndarray) -> np.ndarray:
    """``l2_normalise`` of one float32 vector, to the bit (same reduction, same division), at a third
    of its cost: a story's centroid is normalised once per headline it gains, on the ingest path."""
    vector = np.asarray(vector, dtype=np.float32)
    norm = np.sqrt(np.add.reduce(vector * vector))
    return vector / norm if norm else vector.copy()
