"""Section 3 — topic refit time at 10k and 50k stories.

Vectors: story centroids made like the stored vectors of section 2 (``bench.synth.variant_vectors``):
each is a real dataset title's embedding turned by a random angle (cosine to it uniform in
[0.55, 0.95]), so that the space has the clumps and the spread of real headline embeddings.

* ``model_fit``: ``TopicModel(min_cluster_size, min_samples, knn from Settings).fit`` on those vectors
  in the taxonomy-guided space (``app.topics.guide``), as a refit clusters them: the clustering core
  (guided space, kNN graph, HDBSCAN), in a child process (bounded by a timeout; its peak RSS is the
  fit's memory, the encoder loaded for the taxonomy included).
* ``service_refit``: ``TopicService.refit()`` on an in-memory store holding that many one-headline
  stories (filled through the Store API), published over the last 48 h so all are in the topic window:
  what the background refit does (read centroids, cluster, carry ids over, name, store). The first refit
  names every topic from scratch; the later ones carry ids over from the previous one.
"""

from __future__ import annotations

import multiprocessing as mp
import time
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from .common import log, median, proc_memory, repeat
from .synth import PoolTitle, fill_store, variant_vectors


@dataclass(frozen=True)
class RefitSizes:
    stories: tuple[int, ...] = (10_000, 50_000)
    #: TopicService.refit sizes (each needs a store filled through the Store API)
    service_stories: tuple[int, ...] = (10_000,)
    reps: int = 3
    budget_s: float = 60.0  # per measurement: stop repeating once spent (at least one run)
    timeout_s: float = 400.0  # per TopicModel size: the fitting process is stopped after this
    #: fit in a child process (bounded by timeout_s, memory of its own); False: in this process
    isolate: bool = True


def _fit_measure(pool_vecs: np.ndarray, n: int, reps: int, budget_s: float, seed: int) -> dict[str, Any]:
    """Time ``TopicModel.fit`` on ``n`` synthetic story vectors; peak RSS of this process around it."""
    from app.config import load_settings
    from app.topics.cluster import TopicModel
    from app.topics.guide import guided_space
    from app.topics.taxonomy import Taxonomy
    from embeddings import load_encoder

    s = load_settings()
    rng = np.random.default_rng(seed)
    X = variant_vectors(pool_vecs[rng.integers(len(pool_vecs), size=n)], rng, 0.55, 0.95)
    # The taxonomy's phrases are encoded once per service, not per refit: done before timing.
    taxonomy = Taxonomy.load(s.taxonomy_path or None, load_encoder(s.encoder, threads=s.encoder_threads))
    taxonomy.vectors()
    rss_before = proc_memory().get("peak_rss_mib")

    def fit() -> np.ndarray:
        # what a refit clusters: the stories in the taxonomy-guided space
        model = TopicModel(min_cluster_size=s.topic_min_cluster_size, min_samples=s.topic_min_samples, knn=s.topic_knn)
        return np.asarray(model.fit(guided_space(X, taxonomy, s.topic_guide_weight)).labels_)

    times, labels = repeat(fit, reps, budget_s)
    lab = labels[-1]
    return {
        "seconds": median(times),
        "runs_s": times,
        "n_topics": int(len(set(lab.tolist()) - {-1})),
        "noise_fraction": float(np.mean(lab == -1)),
        "peak_rss_mib_before_fit": rss_before,
        "peak_rss_mib": proc_memory().get("peak_rss_mib"),
    }


def _fit_child(pool_vecs: np.ndarray, n: int, reps: int, budget_s: float, seed: int, conn) -> None:
    conn.send(_fit_measure(pool_vecs, n, reps, budget_s, seed))
    conn.close()


def model_fit(pool_vecs: np.ndarray, n: int, sizes: RefitSizes, seed: int) -> dict[str, Any]:
    """``_fit_child`` in a fresh process, stopped after ``timeout_s`` (one fit may take minutes at
    50k): bounded, and its peak memory is the fit's own."""
    if not sizes.isolate:
        return _fit_measure(pool_vecs, n, sizes.reps, sizes.budget_s, seed)
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_fit_child, args=(pool_vecs, n, sizes.reps, sizes.budget_s, seed, child), daemon=True)
    t0 = time.perf_counter()
    proc.start()
    child.close()
    try:
        if parent.poll(sizes.timeout_s):
            return parent.recv()
        return {
            "timeout_s": sizes.timeout_s,
            "seconds": None,
            "note": f"no fit finished within {sizes.timeout_s:.0f} s; stopped",
        }
    except EOFError:
        return {
            "error": f"the fit process died (exit code {proc.exitcode})",
            "seconds": None,
            "wall_s": time.perf_counter() - t0,
        }
    finally:
        if proc.is_alive():
            proc.terminate()
        proc.join(10)
        if proc.is_alive():
            proc.kill()
            proc.join(10)


def service_refits(
    encoder, pool: Sequence[PoolTitle], pool_vecs: np.ndarray, sizes: RefitSizes, seed: int
) -> dict[str, Any]:
    from app.config import load_settings
    from app.store import open_store
    from app.topics.service import TopicService

    settings = load_settings()
    store = open_store(settings, encoder.dim, memory=True)
    out: dict[str, Any] = {}
    taken: set[str] = set()
    try:
        have = 0
        service = None
        for k, n in enumerate(sorted(sizes.service_stories)):
            log(f"refit: filling an in-memory store to {n} stories")
            fill = fill_store(
                store,
                pool,
                pool_vecs,
                n - have,
                seed=seed + k,
                now=time.time(),
                max_story_size=1,
                exact_features=False,
                taken=taken,
            )
            have = store.count_stories()
            service = service or TopicService(settings, store, encoder)
            log(f"refit: TopicService.refit at {have} stories")
            times, reports = repeat(service.refit, sizes.reps, sizes.budget_s)
            last = reports[-1]
            out[str(n)] = {
                "seconds": median(times),
                "runs_s": times,
                "first_refit_s": times[0],
                "n_stories": last.n_stories,
                "n_topics": last.n_topics,
                "noise_fraction": last.noise_fraction,
                "fill_seconds": fill.seconds,
            }
    finally:
        store.close()
    return out


#: the topic targets, seconds: TopicModel.fit and TopicService.refit at these sizes (only sizes measured count)
FIT_TARGETS_S = {10_000: 10.0, 50_000: 60.0}
SERVICE_TARGETS_S = {10_000: 10.0}


def targets(out: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for kind, limits in (("model_fit", FIT_TARGETS_S), ("service_refit", SERVICE_TARGETS_S)):
        for n, limit in limits.items():
            entry = out[kind].get(str(n))
            if entry is None:
                continue
            value = entry.get("seconds")  # None when the fit timed out or failed
            found[f"{kind}_{n}_s<{limit:g}"] = {"value": value, "met": value is not None and value < limit}
    return found


def run(encoder, pool: Sequence[PoolTitle], pool_vecs: np.ndarray, sizes: RefitSizes, seed: int = 3) -> dict[str, Any]:
    out: dict[str, Any] = {"section": "refit", "model_fit": {}, "service_refit": {}}
    for k, n in enumerate(sizes.stories):
        log(f"refit: TopicModel.fit on {n} vectors")
        out["model_fit"][str(n)] = model_fit(pool_vecs, n, sizes, seed + k)
    if sizes.service_stories:
        out["service_refit"] = service_refits(encoder, pool, pool_vecs, sizes, seed + 10)
    out["targets"] = targets(out)
    return out
