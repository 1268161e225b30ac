"""Section 1 — ingest throughput.

* ``http``: headlines/s through ``POST /v1/headlines`` (one client, sequential batches, loopback), a
  fresh server and data directory per batch size; ``encoder_share`` = the server's own encode seconds
  over the wall time (see ``bench.server``).
* ``in_process``: ``Pipeline.ingest`` on a SQLite file store (the server's backend, same settings),
  with the time split into phases by wrapping the pipeline's own steps, and a cProfile of it (after
  the timed runs, on the same store) at the largest batch.
* ``in_process_with_topics``: the same plus what the server adds, the topic listener (online topic
  assignment of each new story) and the background refit thread (every ``refit_every_stories``).
* ``encoder_alone``: ``encoder.encode`` on the very texts the in-process pipeline handed it, in the same
  batches: the ceiling.
* ``encoder_beside_python``: the same texts (one run's, largest batch) alone and then with a thread
  running pure Python beside the encoder: how much the encoder waits for the GIL.

Every headline is distinct after normalisation (``bench.synth``), carries a feed id and a source like a
real feed, and no language (the service detects it).
"""

from __future__ import annotations

import cProfile
import os
import pstats
import tempfile
import threading
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
    per_rep: int = 1000
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
        body = {
            "headlines": [
                {"title": h.title, "id": str(start_id + k * batch + j), "source": "bench-feed"}
                for j, h in enumerate(part)
            ]
        }
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
            "headlines_per_s": median(rates),
            "runs_headlines_per_s": rates,
            "encoder_share": median(shares),
            "server_startup_s": srv.startup_seconds,
            "server_memory": srv.memory(),
        }


def http_all(texts: _Texts, sizes: IngestSizes, workdir: Path, prestarted: Server | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if sizes.server_per_batch:
        for batch in sizes.batch_sizes:
            log(f"ingest: HTTP, batch {batch}")
            with Server(workdir / f"ingest-http-{batch}") as srv:
                out[str(batch)] = http_throughput(srv, texts, batch, sizes, 0)
    else:
        with prestarted or Server(workdir / "ingest-http") as srv:
            for k, batch in enumerate(sizes.batch_sizes):
                log(f"ingest: HTTP, batch {batch} (shared server)")
                out[str(batch)] = http_throughput(srv, texts, batch, sizes, k * 10**7)
    return out


def _in_process_pipeline(encoder, data_dir: Path):
    from app.config import load_settings
    from app.pipeline import Pipeline
    from app.store import open_store

    settings = load_settings(env={**os.environ, "TICKER_DATA_DIR": str(data_dir)})
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


def _attach_topics(pipeline, encoder, phases: dict[str, float]):
    """What the server adds to the pipeline: the topic listener (online assignment of new stories)
    and the background refit thread, both timed."""
    from app.topics.service import TopicService

    topics = TopicService(pipeline.settings, pipeline.store, encoder)
    on_stories = topics.on_stories

    def listener(opened: list[int], grown: list[int]) -> None:
        t0 = time.perf_counter()
        try:
            on_stories(opened, grown)
        finally:
            phases["topic_listener"] += time.perf_counter() - t0

    pipeline.listeners.append(listener)
    _wrap(topics, "refit", phases, "refits")  # runs in its own thread, alongside ingestion
    topics.start()
    return topics


def in_process_throughput(
    encoder, texts: _Texts, batch: int, sizes: IngestSizes, workdir: Path, profile_n: int = 0, with_topics: bool = False
) -> dict[str, Any]:
    timed = TimedEncoder(encoder)
    pipeline, store = _in_process_pipeline(timed, workdir / f"ingest-inproc-{batch}{'-topics' if with_topics else ''}")
    phases = {
        "lang_detect": 0.0,
        "prepare": 0.0,
        "cache_lookup": 0.0,
        "nearest": 0.0,
        "topic_listener": 0.0,
        "refits": 0.0,
    }
    topics = _attach_topics(pipeline, timed, phases) if with_topics else None
    _wrap(pipeline.detector, "detect_many", phases, "lang_detect")
    # ingest prepares in two parts: keys and texts first (what the encoder needs), then languages and
    # features while the encoder works; both are functions of app.matching.prepare, put back at the end
    from app.matching import prepare

    unwrapped = (prepare.keys, prepare.describe)
    _wrap(prepare, "keys", phases, "prepare")
    _wrap(prepare, "describe", phases, "prepare")
    _wrap(store, "embeddings_by_hash", phases, "cache_lookup")
    _wrap(store, "nearest", phases, "nearest")
    _wrap(store, "nearest_many", phases, "nearest")  # ingest searches a step at a time
    try:
        next_id = 0
        for part in chunks(_inputs(texts.take(sizes.warmup), next_id), batch):
            pipeline.ingest(part)
        next_id += sizes.warmup
        rates, shares, splits = [], [], []
        encoded: list[list[str]] = []
        refit_s: list[float] = []
        for _ in range(sizes.reps):
            items = _inputs(texts.take(sizes.per_rep), next_id)
            next_id += len(items)
            for k in phases:
                phases[k] = 0.0
            timed.reset()
            timed.record = []
            encoded.append(timed.record)
            t0 = time.perf_counter()
            for part in chunks(items, batch):
                pipeline.ingest(part)
            wall = time.perf_counter() - t0
            rates.append(len(items) / wall)
            shares.append(timed.clock.seconds / wall)
            # The encoder runs in a background thread, overlapping the rest: its share is of the wall
            # time, and the main thread's phases below add up to 1 with it left out.
            splits.append(
                {
                    "encode_overlapping": timed.clock.seconds / wall,
                    "embedding_cache_lookup": phases["cache_lookup"] / wall,
                    "language_detection": phases["lang_detect"] / wall,
                    "normalise_and_features": (phases["prepare"] - phases["lang_detect"]) / wall,
                    "vector_search": phases["nearest"] / wall,
                    **({"topic_listener": phases["topic_listener"] / wall} if with_topics else {}),
                    "match_store_and_wait_for_encoder": (
                        wall - phases["prepare"] - phases["cache_lookup"] - phases["nearest"] - phases["topic_listener"]
                    )
                    / wall,
                }
            )
            refit_s.append(phases["refits"])
        out = {
            "headlines_per_s": median(rates),
            "runs_headlines_per_s": rates,
            "encoder_share": median(shares),
            "time_share": {k: median([s[k] for s in splits]) for k in splits[0]},
            "stored_at_end": store.count_headlines(),
            **(
                {"background_refit_seconds_per_run": median(refit_s), "refits_total": topics.refits}
                if topics is not None
                else {}
            ),
            "_encoded": encoded,  # what the encoder was given, per run: the ceiling re-encodes it
        }
        timed.record = None
        if topics is not None:
            topics.stop()
        if profile_n:
            # Profiled after the timed runs, on the same store: the steady state, not an empty index.
            out["profile"] = _profile(pipeline, _inputs(texts.take(profile_n), next_id), batch)
        return out
    finally:
        prepare.keys, prepare.describe = unwrapped
        if topics is not None:
            topics.stop()
        store.close()


def encoder_ceiling(encoder, encoded: Sequence[Sequence[str]], batch: int) -> dict[str, Any]:
    """The encoder on its own, on the very texts the pipeline gave it in a timed run, in the same
    batches (the encoder keeps no cache, so a second pass costs what the first did)."""
    rates = []
    for texts in encoded:
        t0 = time.perf_counter()
        for part in chunks(list(texts), batch):
            encoder.encode(list(part))
        rates.append(len(texts) / (time.perf_counter() - t0))
    return {"texts_per_s": median(rates), "runs_texts_per_s": rates}


def encoder_beside_python(encoder, texts: Sequence[str], batch: int) -> dict[str, Any]:
    """The encoder's texts/s alone, then with one more thread running pure Python meanwhile (what
    matching does in the service). Sharing two cores three ways alone costs the encoder's two workers
    up to 1.5x; beyond that, it waits for the GIL: every return from native code into Python waits up
    to the 5 ms switch interval behind the Python thread."""

    def encode_all() -> float:
        t0 = time.perf_counter()
        for part in chunks(list(texts), batch):
            encoder.encode(list(part))
        return len(texts) / (time.perf_counter() - t0)

    alone = encode_all()
    stop = threading.Event()

    def spin() -> None:
        n = 0
        while not stop.is_set():
            for _ in range(1000):
                n += 1

    spinner = threading.Thread(target=spin, daemon=True)
    spinner.start()
    try:
        beside = encode_all()
    finally:
        stop.set()
        spinner.join()
    return {
        "texts_per_s_alone": alone,
        "texts_per_s_beside_python": beside,
        "slowdown": alone / beside,
        "batch": batch,
        "texts": len(texts),
    }


def _short(path: str) -> str:
    for marker in ("site-packages/", "/work/main/"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


def _profile(pipeline, items: Sequence[Any], batch: int, top: int = 15) -> dict[str, Any]:
    """cProfile of ``Pipeline.ingest`` on ``items``: the functions that own the time."""
    prof = cProfile.Profile()
    prof.enable()
    for part in chunks(items, batch):
        pipeline.ingest(part)
    prof.disable()
    st = pstats.Stats(prof)
    total = max(st.total_tt, 1e-9)  # type: ignore[attr-defined]
    rows = []
    for (file, line, func), (_cc, nc, tt, ct, _callers) in st.stats.items():  # type: ignore[attr-defined]
        rows.append(
            {
                "function": f"{_short(file)}:{line}({func})",
                "calls": nc,
                "self_s": tt,
                "cumulative_s": ct,
                "self_share": tt / total,
            }
        )
    by_self = sorted(rows, key=lambda r: -r["self_s"])[:top]
    ours = sorted(
        (r for r in rows if r["function"].startswith(("app/", "embeddings/"))), key=lambda r: -r["cumulative_s"]
    )
    return {
        "headlines": len(items),
        "batch": batch,
        "profiled_seconds": total,
        "top_self_time": by_self,
        "app_cumulative": ours[:top],
    }


def run(encoder, pool: Sequence[PoolTitle], sizes: IngestSizes, seed: int = 1) -> dict[str, Any]:
    texts = _Texts(pool, seed * 1000)
    out: dict[str, Any] = {
        "section": "ingest",
        "headlines_per_rep": sizes.per_rep,
        "reps": sizes.reps,
        "http": {},
        "in_process": {},
        "in_process_with_topics": {},
        "encoder_alone": {},
    }
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        work = Path(tmp)
        # A shared server boots while the in-process figures are taken (smoke: saves a start-up;
        # the full run gives each batch size its own server, started when nothing else runs).
        prestarted = None if sizes.server_per_batch else Server(work / "ingest-http").start()
        try:
            for batch in sizes.batch_sizes:
                log(f"ingest: in-process, batch {batch}")
                prof_n = sizes.per_rep // 2 if sizes.profile and batch == max(sizes.batch_sizes) else 0
                res = in_process_throughput(encoder, texts, batch, sizes, work, prof_n)
                if "profile" in res:
                    out["profile"] = res.pop("profile")
                log(f"ingest: encoder alone, batch {batch}")
                encoded = res.pop("_encoded")
                out["encoder_alone"][str(batch)] = encoder_ceiling(encoder, encoded, batch)
                if batch == max(sizes.batch_sizes):
                    log(f"ingest: encoder beside a thread running Python, batch {batch}")
                    out["encoder_beside_python"] = encoder_beside_python(encoder, encoded[0], batch)
                out["in_process"][str(batch)] = res
                log(f"ingest: in-process with the topic listener and refits, batch {batch}")
                res = in_process_throughput(encoder, texts, batch, sizes, work, with_topics=True)
                res.pop("_encoded")
                out["in_process_with_topics"][str(batch)] = res
            out["http"] = http_all(texts, sizes, work, prestarted)
        finally:
            if prestarted is not None:
                prestarted.stop()
    out["http_over_encoder"] = {
        b: out["http"][b]["headlines_per_s"] / out["encoder_alone"][b]["texts_per_s"] for b in out["http"]
    }
    best = max(out["http"], key=lambda b: out["http"][b]["headlines_per_s"])
    out["targets"] = {
        "http_headlines_per_s>=500": {
            "value": out["http"][best]["headlines_per_s"],
            "batch": int(best),
            "met": out["http"][best]["headlines_per_s"] >= 500,
        },
        "http_over_encoder>=0.70": {
            "value": out["http_over_encoder"][best],
            "batch": int(best),
            "met": out["http_over_encoder"][best] >= 0.70,
        },
    }
    return out
