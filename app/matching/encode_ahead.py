"""The encoder working ahead of the matching loop.

When an ingest batch starts, every step (``STREAM_CHUNK`` headlines, then ``STREAM_STEP`` at a time) is
handed to the encoder; matching then reads the vectors step by step. Matching is Python holding the GIL on
one core, the encoder is mostly BLAS outside it, so on a multi-core machine the two overlap instead of
taking turns.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Iterator, Sequence

import numpy as np

from embeddings import Encoder

from .prepare import Prepared

#: headlines in the first step of an ingest batch: the encoder works on the next step while this one is
#: matched, so the first step is what matching waits for before it can start
STREAM_CHUNK = 48
#: headlines in the later steps: the encoder does ~10 % more texts/s in calls of 96-128 than of 48
#: (its two workers get 24 each; measured on 2 cores), and the steps after the first overlap matching
STREAM_STEP = 128

#: a step for the encoder: item range, hashes it encodes, their vectors to come
Step = tuple[int, int, list[str], "Future[np.ndarray] | None"]


class EncodeAhead:
    """Calls to one encoder: now (``encode``) or queued ahead of the caller (``steps``)."""

    def __init__(self, encoder: Encoder) -> None:
        self.encoder = encoder
        self._lock = threading.Lock()
        # An encoder that queues work itself (``submit``, thread-safe) gets every step at once; any
        # other is fed one step at a time by a thread of ours.
        submit = getattr(encoder, "submit", None)
        self._submit: Callable[[list[str]], Future[np.ndarray]] | None = (
            submit if callable(submit) and getattr(encoder, "thread_safe", False) else None
        )
        self._ahead = ThreadPoolExecutor(1, thread_name_prefix="encode-ahead")

    def encode(self, texts: list[str]) -> np.ndarray:
        # An encoder that says it is thread-safe (the USE one) is called without the lock: a dedup
        # check's one title must not queue behind an ingest step of 128 (~0.15 s of encoding).
        if getattr(self.encoder, "thread_safe", False):
            return self.encoder.encode(texts)
        with self._lock:  # the others (torch models, wrappers) one call at a time
            return self.encoder.encode(texts)

    def stream(
        self, prepared: Sequence[Prepared], known: dict[str, np.ndarray], chunk: int = STREAM_CHUNK
    ) -> Iterator[np.ndarray]:
        """The vectors of ``prepared``, ``chunk`` items at a time, in order. Texts in ``known`` (stored
        vectors by hash) or met earlier in the batch are not encoded again; encoded ones are added to
        ``known``. Every step is handed to the encoder now; the vectors come as the iterator is read."""
        bounds = [(start, min(len(prepared), start + chunk)) for start in range(0, len(prepared), chunk)]
        return vectors(prepared, known, self.steps(prepared, known, bounds, len(bounds) > 1))

    def steps(
        self, prepared: Sequence[Prepared], known: dict[str, np.ndarray], bounds: list[tuple[int, int]], ahead: bool
    ) -> list[Step]:
        """Hand each step's new texts to the encoder: to its background thread when ``ahead``, else
        here and now (a single step has nothing to overlap with: no thread hop)."""
        steps: list[Step] = []
        queued: set[str] = set()
        for start, stop in bounds:
            todo: dict[str, str] = {}
            for p in prepared[start:stop]:
                if p.hash not in known and p.hash not in queued and p.hash not in todo:
                    todo[p.hash] = p.text
            queued.update(todo)
            future = None
            if todo:
                texts = list(todo.values())
                if not ahead:
                    future = _done(self.encode(texts))
                elif self._submit is not None:
                    future = self._submit(texts)
                else:
                    future = self._ahead.submit(self.encode, texts)
            steps.append((start, stop, list(todo), future))
        return steps


def vectors(prepared: Sequence[Prepared], known: dict[str, np.ndarray], steps: list[Step]) -> Iterator[np.ndarray]:
    """Each step's vectors as float32 rows, once its encoding is done; what is left is cancelled."""
    try:
        for start, stop, hashes, future in steps:
            if future is not None:
                known.update(zip(hashes, future.result()))
            yield np.vstack([known[p.hash] for p in prepared[start:stop]]).astype(np.float32)
    finally:
        cancel(steps)


def step_bounds(n: int) -> list[tuple[int, int]]:
    """An ingest batch's steps: ``STREAM_CHUNK`` items first, then ``STREAM_STEP`` at a time."""
    bounds, start = [], 0
    while start < n:
        stop = min(n, start + (STREAM_CHUNK if start == 0 else STREAM_STEP))
        bounds.append((start, stop))
        start = stop
    return bounds


def cancel(steps: list[Step]) -> None:
    """Take back from the encoder the steps it has not started (after a failure, or when done)."""
    for *_, future in steps:
        if future is not None:
            future.cancel()


def _done(value: np.ndarray) -> Future[np.ndarray]:
    future: Future[np.ndarray] = Future()
    future.set_result(value)
    return future
