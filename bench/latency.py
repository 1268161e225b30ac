"""Section 2 — dedup check latency at 10k and 100k stored headlines, and the server's memory there.

The store is filled before the server starts, through the Store API with synthetic vectors
(``bench.synth.fill_store``: real embeddings of dataset titles turned by a random angle, the matching
features of the dataset title each synthetic one was made from, published over the last 48 h so every row is inside the match window
and the whole index is searched). The server loads them at start-up like after a restart. Then one
client sends ``POST /v1/dedup/check`` sequentially on loopback: half the queries are new variants of
stored titles (near duplicates: a full candidate list to score), half are variants of titles held out
of the store (mostly new stories). The same queries then go through ``Pipeline.check`` in-process on
the same file, to separate HTTP from the work.

Memory: VmRSS / VmHWM (peak) of the server process after the checks, and after one topic refit
(``POST /v1/clusters/refit``) over the stored stories, which is the largest allocation the service makes.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import httpx
import numpy as np

from .common import log, median, percentiles
from .server import API_KEY, Server
from .synth import PoolTitle, SynthHeadline, fill_store, headlines


@dataclass(frozen=True)
class LatencySizes:
    stored: tuple[int, ...] = (10_000, 100_000)
    requests: int = 200  # per repetition
    reps: int = 3
    #: extract every stored headline's own features (slower fill) or reuse its pool title's
    exact_features: bool = False
    warmup: int = 30
    refit: bool = True
    refit_timeout_s: float = 420.0


def _queries(stored_pool: Sequence[PoolTitle], held_out: Sequence[PoolTitle], n: int, seed: int,
             taken: set[str]) -> list[SynthHeadline]:
    half = n // 2
    near = headlines(stored_pool, half, seed, taken)
    new = headlines(held_out, n - half, seed + 1, taken)
    mixed = [q for pair in zip(near, new) for q in pair] + near[len(new):] + new[len(near):]
    return mixed


def _http_checks(url: str, queries: Sequence[SynthHeadline], warmup: int, reps: int, per_rep: int) -> dict[str, Any]:
    samples: list[float] = []
    duplicates = 0
    with httpx.Client(base_url=url, timeout=60.0) as client:
        for i, q in enumerate(queries[: warmup + reps * per_rep]):
            t0 = time.perf_counter()
            r = client.post("/v1/dedup/check", json={"title": q.title})
            ms = (time.perf_counter() - t0) * 1000.0
            if r.status_code != 200:
                raise RuntimeError(f"POST /v1/dedup/check -> {r.status_code}: {r.text[:300]}")
            if i >= warmup:
                samples.append(ms)
                duplicates += bool(r.json()["duplicate"])
    return _summary(samples, reps, per_rep) | {"duplicate_share": duplicates / max(1, len(samples))}


def _in_process_checks(encoder, env: dict[str, str], queries: Sequence[SynthHeadline], warmup: int, reps: int,
                       per_rep: int) -> dict[str, Any]:
    from app.config import load_settings
    from app.pipeline import Pipeline
    from app.store import open_store

    settings = load_settings(env=env)
    t0 = time.perf_counter()
    store = open_store(settings, encoder.dim)
    open_s = time.perf_counter() - t0
    try:
        pipeline = Pipeline(settings, store, encoder)
        samples = []
        for i, q in enumerate(queries[: warmup + reps * per_rep]):
            t0 = time.perf_counter()
            pipeline.check(q.title)
            if i >= warmup:
                samples.append((time.perf_counter() - t0) * 1000.0)
    finally:
        store.close()
    return _summary(samples, reps, per_rep) | {"store_open_s": open_s}


def _summary(samples: list[float], reps: int, per_rep: int) -> dict[str, Any]:
    per = [percentiles(samples[r * per_rep : (r + 1) * per_rep]) for r in range(reps)]
    return {
        **{k: median([p[k] for p in per]) for k in ("p50_ms", "p95_ms", "p99_ms")},
        "pooled": percentiles(samples), "per_rep_p99_ms": [p["p99_ms"] for p in per], "n_requests": len(samples),
    }


class Stages:
    """The growing store of this section: fills it size by size (before each server start) and hands
    out queries that were never stored. ``first()`` may run early, overlapping another section's work
    (smoke runs do that to save a server start-up)."""

    def __init__(self, encoder, pool: Sequence[PoolTitle], pool_vecs: np.ndarray, sizes: LatencySizes, seed: int) -> None:
        # Every fifth pool title never enters the store: its variants are the "new story" queries.
        self.stored_pool = [p for i, p in enumerate(pool) if i % 5]
        self.stored_vecs = pool_vecs[[i for i in range(len(pool)) if i % 5]]
        self.held_out = [p for i, p in enumerate(pool) if i % 5 == 0]
        self.encoder, self.sizes, self.seed = encoder, sizes, seed
        self.taken: set[str] = set()
        self._tmp = tempfile.TemporaryDirectory(prefix="bench-latency-")
        self.data_dir = Path(self._tmp.name) / "data"
        self.have = 0
        self._early: tuple[Server, dict[str, Any]] | None = None

    def fill(self, k: int, n: int) -> tuple[Server, dict[str, Any]]:
        """Grow the store to ``n`` headlines; returns a (not yet started) server on it and the facts."""
        from app.config import load_settings
        from app.store import open_store

        srv = Server(self.data_dir)
        store = open_store(load_settings(env=srv.settings_env()), self.encoder.dim)
        try:
            log(f"latency: filling the store {self.have} -> {n} headlines")
            fill = fill_store(store, self.stored_pool, self.stored_vecs, n - self.have, seed=self.seed + k,
                              now=time.time(), taken=self.taken, exact_features=self.sizes.exact_features)
            self.have = store.count_headlines()
            facts = {"stored_headlines": self.have, "stored_stories": store.count_stories(),
                     "fill": {"added": fill.headlines, "seconds": fill.seconds, "features_seconds": fill.features_seconds}}
        finally:
            store.close()
        return srv, facts

    def start_first(self) -> None:
        """Fill the first size and launch its server now, without waiting for it."""
        srv, facts = self.fill(0, min(self.sizes.stored))
        self._early = (srv.start(), facts)

    def stage(self, k: int, n: int) -> tuple[Server, dict[str, Any]]:
        if k == 0 and self._early is not None:
            return self._early
        return self.fill(k, n)

    def queries(self, k: int) -> list[SynthHeadline]:
        s = self.sizes
        return _queries(self.stored_pool, self.held_out, s.warmup + s.reps * s.requests, self.seed + 100 + k, self.taken)

    def close(self) -> None:
        if self._early is not None:
            self._early[0].stop()
        self._tmp.cleanup()


def run(encoder, pool: Sequence[PoolTitle], pool_vecs: np.ndarray, sizes: LatencySizes, seed: int = 2,
        stages: Stages | None = None) -> dict[str, Any]:
    stages = stages or Stages(encoder, pool, pool_vecs, sizes, seed)
    out: dict[str, Any] = {"section": "latency", "client": "one httpx client, sequential, loopback",
                           "per_rep": sizes.requests, "reps": sizes.reps, "sizes": {}}
    try:
        for k, n in enumerate(sorted(sizes.stored)):
            srv, entry = stages.stage(k, n)
            queries = stages.queries(k)
            log(f"latency: HTTP checks at {entry['stored_headlines']}")
            with srv:
                entry["server_startup_s"] = srv.startup_seconds
                entry["http"] = _http_checks(srv.url, queries, sizes.warmup, sizes.reps, sizes.requests)
                entry["server_memory_after_checks"] = srv.memory()
                if sizes.refit and n == max(sizes.stored):
                    log(f"latency: one topic refit over {entry['stored_stories']} stories (memory)")
                    entry["refit"] = _refit(srv, sizes.refit_timeout_s)
                    entry["server_memory_after_refit"] = srv.memory()
            log(f"latency: in-process checks at {entry['stored_headlines']}")
            entry["in_process"] = _in_process_checks(encoder, srv.settings_env(), queries, sizes.warmup, sizes.reps,
                                                     sizes.requests)
            entry["http_overhead_p50_ms"] = entry["http"]["p50_ms"] - entry["in_process"]["p50_ms"]
            out["sizes"][str(n)] = entry
    finally:
        stages.close()
    top = out["sizes"][str(max(sizes.stored))]
    out["targets"] = {"http_p99_ms<50_at_largest": {"value": top["http"]["p99_ms"], "stored": top["stored_headlines"],
                                                     "met": top["http"]["p99_ms"] < 50.0}}
    mem = top.get("server_memory_after_refit") or top["server_memory_after_checks"]
    out["peak_rss_mib_at_largest"] = mem["peak_rss_mib"]
    return out


def _refit(srv: Server, timeout: float) -> dict[str, Any]:
    t0 = time.perf_counter()
    try:
        r = httpx.post(srv.url + "/v1/clusters/refit", headers={"X-API-Key": API_KEY}, timeout=timeout)
    except httpx.TimeoutException:
        return {"error": f"no answer within {timeout}s", "seconds": time.perf_counter() - t0}
    body = r.json() if r.status_code == 200 else {"error": f"{r.status_code}: {r.text[:200]}"}
    return {**{k: body.get(k) for k in ("n_stories", "n_topics", "noise_fraction", "seconds", "error") if k in body},
            "wall_s": time.perf_counter() - t0}
