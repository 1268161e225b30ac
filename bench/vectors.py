"""Vectors exactly as the service makes them, read through the pipeline's own steps, so that a change
in what the service feeds the encoder (the key, a cased variant...) reaches every benchmark too."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .common import TimedEncoder


def pipeline_vectors(encoder, rows: Sequence[dict[str, Any]]) -> tuple[np.ndarray, list[str]]:
    """One vector per row (``title``, optional ``lang``) as ``Pipeline`` embeds it (its own text
    preparation and cache), and the distinct texts it handed the encoder, in order."""
    from app.config import load_settings
    from app.eval.__main__ import iso639_1
    from app.pipeline import HeadlineInput, Pipeline
    from app.store import open_store

    settings = load_settings()
    seen: list[str] = []
    rec = TimedEncoder(encoder, record=seen)
    store = open_store(settings, encoder.dim, memory=True)
    try:
        pipeline = Pipeline(settings, store, rec)
        items = [HeadlineInput(title=r["title"], lang=iso639_1(r["lang"]) if r.get("lang") else None) for r in rows]
        vecs = np.asarray(pipeline.embed(pipeline.prepare(items)), dtype=np.float32)
    finally:
        store.close()
    return vecs, seen
