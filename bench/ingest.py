"""Section 1 — ingest throughput.

* ``http``: headlines/s through ``POST /v1/headlines`` (one client, sequential batches, loopback), a
  fresh server and data directory per batch size; ``encoder_share`` = the server's own encode seconds
  over the wall time (see ``bench.server``).
* ``in_process``: ``Pipeline.ingest`` on a SQLite file store (the server's backend, same settings),
  with the time split into phases by wrapping the pipeline's own steps.
* ``encoder_alone``: ``encoder.encode`` on the same matching keys in the same batches: the ceiling.

Every headline is distinct after normalisation (``bench.synth``), carries a feed id and a source like a
real feed, and no language (the service detects it).
"""

from __future__ import annotations

import cProfile
import pstats
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import httpx

from .common import TimedEncoder, log, median
from .server import API_KEY, Server
from .synth import PoolTitle, SynthHeadline, chunks, headlines


@dataclass(frozen=True)
class IngestSizes:
    batch_sizes: tuple[int, ...] = (100, 1000)
    per_rep: int = 1500
    reps: int = 3
    warmup: int = 200
    profile: bool = True
    #: a fresh server (and data directory) per batch size; False shares one (smoke: fewer start-ups)
    server_per_batch: bool = True


class _Texts:
    """Hands out fresh headlines: never the same matching key twice in one benchmark run."""

    def __init__(self, pool: Sequence[PoolTitle], seed: int) -> None:
        self.pool, self.seed, self.taken = pool, seed, set()

    def take(self, n: int) -> list[SynthHeadline]:
        self.seed += 1
        return headlines(self.pool, n, self.seed, self.taken)


def _http_run(client: httpx.Client, items: list[SynthHeadline], batch: int, start_id: int) -> float:
    t0 = time.perf_counter()
    for k, part in enumerate(chunks(items, batch)):
        body = {"headlines": [
            {"title": h.title, "id": str(start_id + k * batch + j), "source": "bench-feed"} for j, h in enumerate(part)
        ]}
        r = client.post("/v1/headlines", json=body, headers={"X-API-Key": API_KEY})
        if r.status_code != 200 or len(r.json()["results"]) != len(part):
            raise RuntimeError(f"POST /v1/headlines -> {r.status_code}: {r.text[:300]}")
    return time.perf_counter() - t0


def http_throughput(srv: Server, texts: _Texts, batch: int, sizes: IngestSizes, first_id: int) -> dict[str, Any]:
    with httpx.Client(base_url=srv.url, timeout=600.0) as client:
        next_id = first_id
        _http_run(client, texts.take(sizes.warmup), batch, next_id)
        next_id += sizes.warmup
        rates, shares = [], []
        for _ in range(sizes.reps):
            items = texts.take(sizes.per_rep)
            before = srv.encoder_clock()
            wall = _http_run(client, items, batch, next_id)
            after = srv.encoder_clock()
            next_id += len(items)
            rates.append(len(items) / wall)
            shares.append((after.seconds - before.seconds) / wall)
        return {
            "headlines_per_s": median(rates), "runs_headlines_per_s": rates, "encoder_share": median(shares),
            "server_startup_s": srv.startup_seconds, "server_memory": srv.memory(),
        }


def http_all(texts: _Texts, sizes: IngestSizes, workdir: Path, prestarted: Server | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if sizes.server_per_batch:
        for batch in sizes.batch_sizes:
            log(f"ingest: HTTP, batch {batch}")
            with Server(workdir / f"ingest-http-{batch}") as srv:
                out[str(batch)] = http_throughput(srv, texts, batch, sizes, 0)
    else:
        with (prestarted or Server(workdir / "ingest-http")) as srv:
            for k, batch in enumerate(sizes.batch_sizes):
                log(f"ingest: HTTP, batch {batch} (shared server)")
                out[str(batch)] = http_throughput(srv, texts, batch, sizes, k * 10**7)
    return out


def _in_process_pipeline(encoder, data_dir: Path):
    from app.config import load_settings
    from app.pipeline import Pipeline
    from app.store import open_store

    settings = load_settings(env={"TICKER_DATA_DIR": str(data_dir)})
    store = open_store(settings, encoder.dim)
    return Pipeline(settings, store, encoder), store


def _wrap(obj: Any, name: str, phases: dict[str, float], key: str) -> None:
    fn: Callable[..., Any] = getattr(obj, name)

    def timed(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            phases[key] += time.perf_counter() - t0

    setattr(obj, name, timed)


def _inputs(items: Sequence[SynthHeadline], start_id: int):
    from app.pipeline import HeadlineInput

    return [HeadlineInput(title=h.title, ext_id=str(start_id + j), source="bench-feed") for j, h in enumerate(items)]


def in_process_throughput(encoder, texts: _Texts, batch: int, sizes: IngestSizes, workdir: Path) -> dict[str, Any]:
    timed = TimedEncoder(encoder)
    pipeline, store = _in_process_pipeline(timed, workdir / f"ingest-inproc-{batch}")
    phases = {"lang_detect": 0.0, "prepare": 0.0, "embed": 0.0, "vector_search": 0.0}
    _wrap(pipeline.detector, "detect_many", phases, "lang_detect")
    _wrap(pipeline, "_prepare", phases, "prepare")
    _wrap(pipeline, "_embed", phases, "embed")
    _wrap(store, "nearest", phases, "vector_search")
    try:
        next_id = 0
        for part in chunks(_inputs(texts.take(sizes.warmup), next_id), batch):
            pipeline.ingest(part)
        next_id += sizes.warmup
        rates, shares, splits = [], [], []
        for _ in range(sizes.reps):
            items = _inputs(texts.take(sizes.per_rep), next_id)
            next_id += len(items)
            for k in phases:
                phases[k] = 0.0
            timed.reset()
            t0 = time.perf_counter()
            for part in chunks(items, batch):
                pipeline.ingest(part)
            wall = time.perf_counter() - t0
            rates.append(len(items) / wall)
            shares.append(timed.clock.seconds / wall)
            enc = timed.clock.seconds
            splits.append({
                "encode": enc / wall,
                "embedding_cache_lookup": (phases["embed"] - enc) / wall,
                "language_detection": phases["lang_detect"] / wall,
                "normalise_and_features": (phases["prepare"] - phases["lang_detect"]) / wall,
                "vector_search": phases["vector_search"] / wall,
                "match_and_store": (wall - phases["prepare"] - phases["embed"] - phases["vector_search"]) / wall,
            })
        return {
            "headlines_per_s": median(rates), "runs_headlines_per_s": rates, "encoder_share": median(shares),
            "time_share": {k: median([s[k] for s in splits]) for k in splits[0]},
        }
    finally:
        store.close()


def encoder_ceiling(encoder, texts: _Texts, batch: int, sizes: IngestSizes) -> dict[str, Any]:
    """The encoder on its own, on matching keys (what the pipeline encodes), in the same batches."""
    from app.ingest.normalise import normalise

    rates = []
    encoder.encode([normalise(h.title) for h in texts.take(min(sizes.warmup, batch))])
    for _ in range(sizes.reps):
        keys = [normalise(h.title) for h in texts.take(sizes.per_rep)]
        t0 = time.perf_counter()
        for part in chunks(keys, batch):
            encoder.encode(list(part))
        rates.append(len(keys) / (time.perf_counter() - t0))
    return {"texts_per_s": median(rates), "runs_texts_per_s": rates}


def _short(path: str) -> str:
    for marker in ("site-packages/", "/work/main/"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


def profile_in_process(encoder, texts: _Texts, batch: int, n: int, workdir: Path, top: int = 15) -> dict[str, Any]:
    """cProfile of ``Pipeline.ingest`` on ``n`` fresh headlines: the functions that own the time."""
    pipeline, store = _in_process_pipeline(encoder, workdir / "ingest-profile")
    try:
        for part in chunks(_inputs(texts.take(min(200, batch)), 0), batch):
            pipeline.ingest(part)
        items = _inputs(texts.take(n), 10**6)
        prof = cProfile.Profile()
        prof.enable()
        for part in chunks(items, batch):
            pipeline.ingest(part)
        prof.disable()
    finally:
        store.close()
    st = pstats.Stats(prof)
    total = max(st.total_tt, 1e-9)  # type: ignore[attr-defined]
    rows = []
    for (file, line, func), (cc, nc, tt, ct, _callers) in st.stats.items():  # type: ignore[attr-defined]
        rows.append({"function": f"{_short(file)}:{line}({func})", "calls": nc, "self_s": tt, "cumulative_s": ct,
                     "self_share": tt / total})
    by_self = sorted(rows, key=lambda r: -r["self_s"])[:top]
    ours = sorted((r for r in rows if r["function"].startswith(("app/", "embeddings/"))), key=lambda r: -r["cumulative_s"])
    return {"headlines": n, "batch": batch, "profiled_seconds": total, "top_self_time": by_self,
            "app_cumulative": ours[:top]}


def run(encoder, pool: Sequence[PoolTitle], sizes: IngestSizes, seed: int = 1) -> dict[str, Any]:
    texts = _Texts(pool, seed * 1000)
    out: dict[str, Any] = {"section": "ingest", "headlines_per_rep": sizes.per_rep, "reps": sizes.reps,
                           "http": {}, "in_process": {}, "encoder_alone": {}}
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        work = Path(tmp)
        # A shared server boots while the in-process figures are taken (smoke: saves a start-up;
        # the full run gives each batch size its own server, started when nothing else runs).
        prestarted = None if sizes.server_per_batch else Server(work / "ingest-http").start()
        try:
            for batch in sizes.batch_sizes:
                log(f"ingest: encoder alone, batch {batch}")
                out["encoder_alone"][str(batch)] = encoder_ceiling(encoder, texts, batch, sizes)
                log(f"ingest: in-process, batch {batch}")
                out["in_process"][str(batch)] = in_process_throughput(encoder, texts, batch, sizes, work)
            out["http"] = http_all(texts, sizes, work, prestarted)
        finally:
            if prestarted is not None:
                prestarted.stop()
        if sizes.profile:
            log("ingest: cProfile of the in-process pipeline")
            out["profile"] = profile_in_process(encoder, texts, max(sizes.batch_sizes), sizes.per_rep // 2, work)
    out["http_over_encoder"] = {
        b: out["http"][b]["headlines_per_s"] / out["encoder_alone"][b]["texts_per_s"] for b in out["http"]
    }
    best = max(out["http"], key=lambda b: out["http"][b]["headlines_per_s"])
    out["targets"] = {
        "http_headlines_per_s>=500": {"value": out["http"][best]["headlines_per_s"], "batch": int(best),
                                      "met": out["http"][best]["headlines_per_s"] >= 500},
        "http_over_encoder>=0.70": {"value": out["http_over_encoder"][best], "batch": int(best),
                                    "met": out["http_over_encoder"][best] >= 0.70},
    }
    return out
