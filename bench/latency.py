"""Section 2 — dedup check latency at 10k and 100k stored headlines, and the server's memory there.

The store is filled before the server starts, through the Store API with synthetic vectors
(``bench.synth.fill_store``: real embeddings of dataset titles turned by a random angle, the matching
features of the dataset title each synthetic one was made from, published over the last 48 h so every row is inside the match window
and the whole index is searched). The server loads them at start-up like after a restart. Then one
client sends ``POST /v1/dedup/check`` sequentially on loopback: half the queries are new variants of
stored titles (near duplicates: a full candidate list to score), half are variants of titles held out
of the store (mostly new stories). The same queries then go through ``Pipeline.check`` in-process on
the same file, to separate HTTP from the work.

At the smallest size, right after its HTTP checks, the checks again while another client posts batches
of new headlines as fast as the server takes them (``http_during_ingest``, with the feed's rate meanwhile).

Memory: VmRSS / VmHWM (peak) of the server process after the checks, and after one topic refit
(``POST /v1/clusters/refit``) over the stored stories, which is the largest allocation the service makes.
"""

from __future__ import annotations

import http.client
import json
import tempfile
import threading
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
    #: per-stage breakdown of in-process checks and the index's recall against an exact scan
    stages: bool = True
    #: new headlines ingested in-process into the largest store, after its checks (batches of 100): what
    #: ingest costs once the window holds that many headlines (the ingest section starts from empty)
    ingest_at_largest: int = 1000
    #: the largest store's HTTP checks again with the server held to one CPU (the check's target is
    #: set "on one core"); the clients stay free to use the other one
    one_core: bool = True
    #: at the smallest size, the checks again while a feed posts batches of ``under_ingest_batch`` as
    #: fast as the server takes them (up to this many headlines; 0: not run)
    under_ingest: int = 4000
    under_ingest_batch: int = 100


def _queries(
    stored_pool: Sequence[PoolTitle], held_out: Sequence[PoolTitle], n: int, seed: int, taken: set[str]
) -> list[SynthHeadline]:
    half = n // 2
    near = headlines(stored_pool, half, seed, taken)
    new = headlines(held_out, n - half, seed + 1, taken)
    mixed = [q for pair in zip(near, new) for q in pair] + near[len(new) :] + new[len(near) :]
    return mixed


def _http_checks(
    url: str, queries: Sequence[SynthHeadline], warmup: int, reps: int, per_rep: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The checks through two clients taking turns request by request (same conditions for both):
    httpx, what a Python integration would use, and the standard library's ``http.client`` on a
    kept-alive connection, whose own cost is ~1 ms less per request; the difference is the client's
    time, not the service's."""
    samples: dict[str, list[float]] = {"httpx": [], "stdlib": []}
    duplicates = 0
    host, port = url.removeprefix("http://").split(":")
    plain = http.client.HTTPConnection(host, int(port), timeout=60.0)
    with httpx.Client(base_url=url, timeout=60.0) as client:
        for i, q in enumerate(queries[: warmup + 2 * reps * per_rep]):
            which = "httpx" if i % 2 == 0 else "stdlib"
            t0 = time.perf_counter()
            if which == "httpx":
                r = client.post("/v1/dedup/check", json={"title": q.title})
                status, text = r.status_code, r.text
            else:
                plain.request(
                    "POST",
                    "/v1/dedup/check",
                    body=json.dumps({"title": q.title}),
                    headers={"Content-Type": "application/json"},
                )
                resp = plain.getresponse()
                status, text = resp.status, resp.read().decode()
            ms = (time.perf_counter() - t0) * 1000.0
            if status != 200:
                raise RuntimeError(f"POST /v1/dedup/check -> {status}: {text[:300]}")
            if i >= warmup:
                samples[which].append(ms)
                duplicates += bool(json.loads(text)["duplicate"])
    plain.close()
    share = {"duplicate_share": duplicates / max(1, len(samples["httpx"]) + len(samples["stdlib"]))}
    return _summary(samples["httpx"], reps, per_rep) | share, _summary(samples["stdlib"], reps, per_rep)


def _http_checks_during_ingest(
    url: str, queries: Sequence[SynthHeadline], feed: Sequence[SynthHeadline], batch: int, n_checks: int
) -> dict[str, Any]:
    """The checks (httpx, sequential) while another client posts ``feed`` in batches as fast as the server
    answers: a newsroom checking a title while the tickers come in. The feed starts first; checks begin
    once its first batch is stored, and the feed's rate is measured over the checks' time."""
    stop = threading.Event()
    first = threading.Event()
    fed: list[tuple[float, int]] = []  # (time a batch was acknowledged, headlines in it)
    errors: list[str] = []

    def feeder() -> None:
        with httpx.Client(base_url=url, timeout=120.0) as client:
            for a in range(0, len(feed), batch):
                if stop.is_set():
                    break
                body = {
                    "headlines": [
                        {"title": h.title, "id": f"load-{a + j}", "source": "bench-load"}
                        for j, h in enumerate(feed[a : a + batch])
                    ]
                }
                r = client.post("/v1/headlines", json=body, headers={"X-API-Key": API_KEY})
                if r.status_code != 200:
                    errors.append(f"POST /v1/headlines -> {r.status_code}: {r.text[:200]}")
                    break
                fed.append((time.perf_counter(), len(body["headlines"])))
                first.set()
        first.set()

    thread = threading.Thread(target=feeder, name="bench-feed")
    thread.start()
    first.wait(120)
    samples: list[float] = []
    t_start = time.perf_counter()
    try:
        with httpx.Client(base_url=url, timeout=60.0) as client:
            for q in queries[:n_checks]:
                if not thread.is_alive():
                    break  # the feed ran out: later checks would not be under load
                samples.append(_check_ms(client, q.title))
    finally:
        t_end = time.perf_counter()
        stop.set()
        thread.join(300)
    if errors:
        raise RuntimeError(errors[0])
    during = sum(n for t, n in fed if t_start <= t <= t_end)
    return {
        **percentiles(samples),
        "n_requests": len(samples),
        "batch": batch,
        "fed": sum(n for _, n in fed),
        "ingest_headlines_per_s_meanwhile": during / max(t_end - t_start, 1e-9),
    }


def _check_ms(client: httpx.Client, title: str) -> float:
    """One ``POST /v1/dedup/check`` of ``title``: its time in ms (an error status stops the section)."""
    t0 = time.perf_counter()
    r = client.post("/v1/dedup/check", json={"title": title})
    if r.status_code != 200:
        raise RuntimeError(f"POST /v1/dedup/check -> {r.status_code}: {r.text[:300]}")
    return (time.perf_counter() - t0) * 1000.0


def _ingest_into(pipeline, items: Sequence[SynthHeadline], batch: int = 100) -> dict[str, Any]:
    """Headlines/s of ``Pipeline.ingest`` on ``items`` (no language given, like the ingest section), and
    the share of that time in the store's nearest-neighbour search."""
    from app.pipeline import HeadlineInput

    clock = _Clock()
    clock.wrap(pipeline.store, "nearest_many", "nearest")
    try:
        inputs = [HeadlineInput(title=h.title, ext_id=f"late-{i}", source="bench-feed") for i, h in enumerate(items)]
        t0 = time.perf_counter()
        for a in range(0, len(inputs), batch):
            pipeline.ingest(inputs[a : a + batch])
        wall = time.perf_counter() - t0
    finally:
        del pipeline.store.nearest_many
    spent = clock.ms.get("nearest", 0.0) / 1000.0
    return {
        "headlines": len(items),
        "batch": batch,
        "headlines_per_s": len(items) / wall,
        "vector_search_share": spent / wall,
        "vector_search_ms_per_headline": spent / len(items) * 1000.0,
    }


def _in_process_checks(
    encoder,
    env: dict[str, str],
    queries: Sequence[SynthHeadline],
    warmup: int,
    reps: int,
    per_rep: int,
    stages: bool = False,
    ingest: Sequence[SynthHeadline] = (),
) -> dict[str, Any]:
    from app.config import load_settings
    from app.pipeline import Pipeline
    from app.store import open_store

    settings = load_settings(env=env)
    t0 = time.perf_counter()
    store = open_store(settings, encoder.dim)
    open_s = time.perf_counter() - t0
    extra: dict[str, Any] = {"store_open_s": open_s}
    index = getattr(store, "_index", None)
    if index is not None and hasattr(index, "wait_ready"):
        # the steady state: an IVF trains in the background after a large store is loaded
        t0 = time.perf_counter()
        index.wait_ready()
        extra["index_ready_wait_s"] = time.perf_counter() - t0
        extra["index"] = index.stats() | {"tuning": getattr(index, "last_tuning", {})}
    try:
        pipeline = Pipeline(settings, store, encoder)
        t0 = time.perf_counter()  # as the service does at start-up
        extra["cache_warm"] = {"headlines": pipeline.warm_cache(), "seconds": time.perf_counter() - t0}
        samples = []
        for i, q in enumerate(queries[: warmup + reps * per_rep]):
            t0 = time.perf_counter()
            pipeline.check(q.title)
            if i >= warmup:
                samples.append((time.perf_counter() - t0) * 1000.0)
        if stages:
            extra["stages"] = _stage_profile(pipeline, queries[warmup : warmup + per_rep])
            extra["search"] = _search_vs_exact(pipeline, queries[warmup : warmup + per_rep])
        if ingest:
            extra["ingest"] = _ingest_into(pipeline, ingest)
    finally:
        store.close()
    return _summary(samples, reps, per_rep) | extra


class _Clock:
    """Wraps a bound method and adds its wall time to a named bucket (instance attribute, so only this
    pipeline's store and encoder are timed)."""

    def __init__(self) -> None:
        self.ms: dict[str, float] = {}

    def wrap(self, obj: Any, name: str, bucket: str) -> None:
        inner = getattr(obj, name)

        def timed(*a: Any, **kw: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return inner(*a, **kw)
            finally:
                self.ms[bucket] = self.ms.get(bucket, 0.0) + (time.perf_counter() - t0) * 1000.0

        setattr(obj, name, timed)


def _stage_profile(pipeline, queries: Sequence[SynthHeadline]) -> dict[str, Any]:
    """Where one check's time goes: per-stage medians over ``queries`` (ms); ``other`` is what is left
    (normalising, feature extraction, scoring, result building)."""
    store, per_query = pipeline.store, []
    wrapped = [
        (pipeline.encoder, "encode", "encode"),
        (pipeline.detector, "detect_many", "lang_detect"),
        (store, "nearest", "vector_search"),
        (store, "find_exact", "sqlite"),
        (store, "headlines", "sqlite"),
        (store, "story_centroids_for", "sqlite"),
        (store, "embeddings_by_hash", "sqlite"),
    ]
    saved = [(obj, name, obj.__dict__.get(name)) for obj, name, _ in wrapped]
    clock = _Clock()
    for obj, name, bucket in wrapped:
        clock.wrap(obj, name, bucket)
    try:
        for q in queries:
            clock.ms = {}
            t0 = time.perf_counter()
            pipeline.check(q.title)
            total = (time.perf_counter() - t0) * 1000.0
            per_query.append({**clock.ms, "other": total - sum(clock.ms.values()), "total": total})
    finally:
        for obj, name, before in saved:
            if before is None:
                delattr(obj, name)
            else:
                setattr(obj, name, before)
    keys = sorted({k for q in per_query for k in q})
    return {k: median([q.get(k, 0.0) for q in per_query]) for k in keys} | {"n": len(per_query)}


def _search_vs_exact(pipeline, queries: Sequence[SynthHeadline]) -> dict[str, Any]:
    """The store's candidate search against an exact scan of the same rows, on the queries' own vectors:
    recall@k (share of the exact top k returned) and the time of each, in-process."""
    index = getattr(pipeline.store, "_index", None)
    if index is None:
        return {"skipped": "the store has no in-process index"}
    exact = getattr(index, "search_exact", index.search)
    k = pipeline.settings.candidate_k
    vecs = pipeline.encoder.encode([q.title for q in queries])
    now = time.time()
    lo, hi = now - pipeline.window, now + pipeline.window
    recalls, fast_ms, exact_ms = [], [], []
    for v in vecs:
        t0 = time.perf_counter()
        got = index.search(v, k, lo, hi)
        t1 = time.perf_counter()
        want = exact(v, k, lo, hi)
        t2 = time.perf_counter()
        fast_ms.append((t1 - t0) * 1000.0)
        exact_ms.append((t2 - t1) * 1000.0)
        if want:
            recalls.append(len({i for i, _ in got} & {i for i, _ in want}) / len(want))
    return {
        "k": k,
        "rows": len(index),
        "recall_at_k_mean": float(np.mean(recalls)) if recalls else None,
        "recall_at_k_min": float(np.min(recalls)) if recalls else None,
        "index_p50_ms": median(fast_ms),
        "index_p99_ms": percentiles(fast_ms)["p99_ms"],
        "exact_p50_ms": median(exact_ms),
        "exact_p99_ms": percentiles(exact_ms)["p99_ms"],
    }


def _summary(samples: list[float], reps: int, per_rep: int) -> dict[str, Any]:
    per = [percentiles(samples[r * per_rep : (r + 1) * per_rep]) for r in range(reps)]
    return {
        **{k: median([p[k] for p in per]) for k in ("p50_ms", "p95_ms", "p99_ms")},
        "pooled": percentiles(samples),
        "per_rep_p99_ms": [p["p99_ms"] for p in per],
        "n_requests": len(samples),
    }


class Stages:
    """The growing store of this section: fills it size by size (before each server start) and hands
    out queries that were never stored. ``first()`` may run early, overlapping another section's work
    (smoke runs do that to save a server start-up)."""

    def __init__(
        self, encoder, pool: Sequence[PoolTitle], pool_vecs: np.ndarray, sizes: LatencySizes, seed: int
    ) -> None:
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
            fill = fill_store(
                store,
                self.stored_pool,
                self.stored_vecs,
                n - self.have,
                seed=self.seed + k,
                now=time.time(),
                taken=self.taken,
                exact_features=self.sizes.exact_features,
            )
            self.have = store.count_headlines()
            facts = {
                "stored_headlines": self.have,
                "stored_stories": store.count_stories(),
                "fill": {"added": fill.headlines, "seconds": fill.seconds, "features_seconds": fill.features_seconds},
            }
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
        # the HTTP run sends each of its two clients reps x requests of them
        return _queries(
            self.stored_pool, self.held_out, s.warmup + 2 * s.reps * s.requests, self.seed + 100 + k, self.taken
        )

    def fresh(self, n: int) -> list[SynthHeadline]:
        """``n`` headlines made from the held-out pool titles, none of them stored or sent before."""
        return headlines(self.held_out, n, self.seed + 999, self.taken) if n else []

    def close(self) -> None:
        if self._early is not None:
            self._early[0].stop()
        self._tmp.cleanup()


def run(
    encoder,
    pool: Sequence[PoolTitle],
    pool_vecs: np.ndarray,
    sizes: LatencySizes,
    seed: int = 2,
    stages: Stages | None = None,
) -> dict[str, Any]:
    stages = stages or Stages(encoder, pool, pool_vecs, sizes, seed)
    out: dict[str, Any] = {
        "section": "latency",
        "client": "sequential on loopback, an httpx client and an http.client one taking turns",
        "per_rep": sizes.requests,
        "reps": sizes.reps,
        "sizes": {},
    }
    try:
        for k, n in enumerate(sorted(sizes.stored)):
            srv, entry = stages.stage(k, n)
            queries = stages.queries(k)
            log(f"latency: HTTP checks at {entry['stored_headlines']}")
            with srv:
                entry["server_startup_s"] = srv.startup_seconds
                entry["http"], entry["http_stdlib_client"] = _http_checks(
                    srv.url, queries, sizes.warmup, sizes.reps, sizes.requests
                )
                entry["server_memory_after_checks"] = srv.memory()
                if sizes.under_ingest and k == 0:
                    # in the same server, whose index has trained since it started (a restarted one trains
                    # its IVF in the background first: checks then waited up to 0.3-0.7 s); the feed's
                    # headlines join the store, which the in-process checks below then hold too
                    log(
                        f"latency: HTTP checks at {entry['stored_headlines']} while a feed posts batches of "
                        f"{sizes.under_ingest_batch}"
                    )
                    entry["http_during_ingest"] = _http_checks_during_ingest(
                        srv.url,
                        stages.queries(k + 20),
                        stages.fresh(sizes.under_ingest),
                        sizes.under_ingest_batch,
                        sizes.requests,
                    )
                    entry["stored_after_feed"] = entry["stored_headlines"] + entry["http_during_ingest"]["fed"]
                if sizes.refit and n == max(sizes.stored):
                    log(f"latency: one topic refit over {entry['stored_stories']} stories (memory), checks meanwhile")
                    entry["refit"] = _refit(srv, sizes.refit_timeout_s, stages.queries(k + 30))
                    entry["server_memory_after_refit"] = srv.memory()
            if sizes.one_core and n == max(sizes.stored):
                log(f"latency: HTTP checks at {entry['stored_headlines']}, the server on one CPU")
                with Server(stages.data_dir, cpus={0}) as one:
                    entry["one_core"] = {"server_startup_s": one.startup_seconds}
                    entry["one_core"]["http"], entry["one_core"]["http_stdlib_client"] = _http_checks(
                        one.url, stages.queries(k + 50), sizes.warmup, sizes.reps, sizes.requests
                    )
            log(f"latency: in-process checks at {entry['stored_headlines']}")
            # the largest store is not filled further afterwards: ingest into it (new titles, never stored)
            late = stages.fresh(sizes.ingest_at_largest) if n == max(sizes.stored) else []
            entry["in_process"] = _in_process_checks(
                encoder,
                srv.settings_env(),
                queries,
                sizes.warmup,
                sizes.reps,
                sizes.requests,
                stages=sizes.stages,
                ingest=late,
            )
            entry["http_overhead_p50_ms"] = entry["http"]["p50_ms"] - entry["in_process"]["p50_ms"]
            out["sizes"][str(n)] = entry
    finally:
        stages.close()
    top = out["sizes"][str(max(sizes.stored))]
    out["targets"] = _check_targets(top, top)
    if "one_core" in top:
        out["targets"] |= _check_targets(top["one_core"], top, prefix="one_core_")
    mem = top.get("server_memory_after_refit") or top["server_memory_after_checks"]
    out["peak_rss_mib_at_largest"] = mem["peak_rss_mib"]
    return out


def _check_targets(run: dict[str, Any], size: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """The check's targets at the largest size from one HTTP run of it (``run``: the ``http`` and
    ``http_stdlib_client`` figures). The p50 target is judged on the httpx figure; the stdlib client's is
    beside it."""
    http, stored = run["http"], size["stored_headlines"]
    return {
        f"{prefix}http_p99_ms<50_at_largest": {"value": http["p99_ms"], "stored": stored, "met": http["p99_ms"] < 50.0},
        f"{prefix}http_p50_ms<10_at_largest": {
            "value": http["p50_ms"],
            "stored": stored,
            "stdlib_client": run["http_stdlib_client"]["p50_ms"],
            "met": http["p50_ms"] < 10.0,
        },
    }


def _refit(srv: Server, timeout: float, queries: Sequence[SynthHeadline] = ()) -> dict[str, Any]:
    """One ``POST /v1/clusters/refit``; with ``queries``, dedup checks (httpx, sequential, the queries
    in turn) run meanwhile and their latency is reported (``checks_during``): a refit holds no lock a
    check needs, but a large one computed in the server's own process held its GIL for up to ~0.75 s."""
    answer: dict[str, Any] = {}

    def refit() -> None:
        t0 = time.perf_counter()
        try:
            r = httpx.post(srv.url + "/v1/clusters/refit", headers={"X-API-Key": API_KEY}, timeout=timeout)
        except httpx.TimeoutException:
            answer.update(error=f"no answer within {timeout}s")
        else:
            answer.update(r.json() if r.status_code == 200 else {"error": f"{r.status_code}: {r.text[:200]}"})
        answer["wall_s"] = time.perf_counter() - t0

    thread = threading.Thread(target=refit, name="bench-refit")
    thread.start()
    samples: list[float] = []
    try:
        if queries:
            with httpx.Client(base_url=srv.url, timeout=60.0) as client:
                while thread.is_alive() or not samples:  # at least one, even beside a refit quicker than it
                    samples.append(_check_ms(client, queries[len(samples) % len(queries)].title))
    finally:
        thread.join()
    keys = ("n_stories", "n_topics", "noise_fraction", "seconds", "in_child", "worker_peak_rss_mib", "error", "wall_s")
    out = {k: answer[k] for k in keys if k in answer}
    if samples:
        out["checks_during"] = {**percentiles(samples), "n_requests": len(samples)}
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m bench.latency [--stored 10000,100000] [--no-refit] ...``: this section alone, with
    other sizes than ``bench.run``'s, printing its JSON on stdout (nothing written)."""
    import argparse

    from .common import rounded
    from .synth import load_pool, pool_vectors

    d = LatencySizes()
    ap = argparse.ArgumentParser(prog="python -m bench.latency")
    ap.add_argument("--stored", default=",".join(map(str, d.stored)))
    ap.add_argument("--requests", type=int, default=d.requests)
    ap.add_argument("--reps", type=int, default=d.reps)
    ap.add_argument("--warmup", type=int, default=d.warmup)
    ap.add_argument("--no-refit", action="store_true")
    ap.add_argument("--pool-limit", type=int, default=None)
    args = ap.parse_args(argv)
    from app.config import load_settings
    from embeddings import load_encoder

    settings = load_settings()
    encoder = load_encoder(settings.encoder, threads=settings.encoder_threads, batch_size=settings.encoder_batch_size)
    pool = load_pool(args.pool_limit)
    vecs = pool_vectors(encoder, pool)
    sizes = LatencySizes(
        stored=tuple(int(x) for x in args.stored.split(",")),
        requests=args.requests,
        reps=args.reps,
        warmup=args.warmup,
        refit=not args.no_refit,
    )
    print(json.dumps(rounded(run(encoder, pool, vecs, sizes)), ensure_ascii=False, indent=1), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
