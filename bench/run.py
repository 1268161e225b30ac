"""``python -m bench.run [--smoke] [--sections ingest,latency,refit,peers] [--out DIR]``

Runs the benchmark sections in one process (servers as subprocesses), prints one JSON object per
section on stdout and a final ``{"section": "summary", ...}``; progress goes to stderr. A full run
writes ``bench/results/<section>.json`` and ``bench/results/summary.json``; ``--smoke`` runs every
section on tiny sizes in seconds and writes nothing unless ``--out`` is given.
Exit status 1 when a section failed (its JSON then holds ``error``).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from .common import ROOT, emit, log, machine, write_result
from .ingest import IngestSizes
from .latency import LatencySizes
from .peers import PeerSizes
from .precision import PrecisionSizes
from .refit import RefitSizes

SECTIONS = ("precision", "ingest", "latency", "refit", "peers")
RESULTS = ROOT / "bench" / "results"


@dataclass(frozen=True)
class Plan:
    pool_limit: int | None = None
    ingest: IngestSizes = field(default_factory=IngestSizes)
    latency: LatencySizes = field(default_factory=LatencySizes)
    refit: RefitSizes = field(default_factory=RefitSizes)
    peers: PeerSizes = field(default_factory=PeerSizes)
    precision: PrecisionSizes = field(default_factory=PrecisionSizes)
    #: start servers early, alongside other work (smoke only: it disturbs the figures)
    overlap_startups: bool = False


FULL = Plan()
SMOKE = Plan(
    pool_limit=300,
    ingest=IngestSizes(batch_sizes=(10, 50), per_rep=100, reps=1, warmup=10, profile=True, server_per_batch=False),
    latency=LatencySizes(
        stored=(300,),
        requests=20,
        reps=1,
        warmup=3,
        refit=True,
        refit_timeout_s=60.0,
        ingest_at_largest=50,
        under_ingest=400,
        under_ingest_batch=20,
    ),
    refit=RefitSizes(stories=(300,), service_stories=(200,), reps=1, budget_s=10.0, timeout_s=60.0, isolate=False),
    peers=PeerSizes(
        shingles=(3,),
        minhash_thresholds=(0.3, 0.5),
        cosine_thresholds=(0.6, 0.7, 0.8),
        reps=1,
        limit=60,
        bertopic=False,
    ),
    precision=PrecisionSizes(speed_titles=200, rounds=1, cosine_limit=50),
    overlap_startups=True,
)


def summary(results: dict[str, dict[str, Any]], mach: dict[str, Any], seconds: float, mode: str) -> dict[str, Any]:
    """The figures a reader looks for first, every target with its value, and the ratios ours/peer."""
    figures: dict[str, Any] = {}
    ratios: dict[str, Any] = {}
    targets: dict[str, Any] = {}
    ing = results.get("ingest", {})
    for b, e in ing.get("http", {}).items():
        figures[f"ingest_http_batch{b}_per_s"] = e["headlines_per_s"]
        figures[f"ingest_http_batch{b}_encoder_share"] = e["encoder_share"]
    for b, e in ing.get("in_process", {}).items():
        figures[f"ingest_in_process_batch{b}_per_s"] = e["headlines_per_s"]
    for b, e in ing.get("in_process_with_topics", {}).items():
        figures[f"ingest_in_process_with_topics_batch{b}_per_s"] = e["headlines_per_s"]
    for b, e in ing.get("encoder_alone", {}).items():
        figures[f"encoder_alone_batch{b}_per_s"] = e["texts_per_s"]
    if "encoder_beside_python" in ing:
        figures["encoder_beside_python_slowdown"] = ing["encoder_beside_python"]["slowdown"]
    for b, v in ing.get("http_over_encoder", {}).items():
        ratios[f"ingest_http_over_encoder_batch{b}"] = v
    prec = results.get("precision", {})
    for name, e in prec.get("texts_per_s", {}).items():
        figures[f"encoder_{name}_batch100_per_s"] = e["median"]
    for name, v in prec.get("ratios", {}).items():
        ratios[f"encoder_{name}"] = v
    lat = results.get("latency", {})
    for n, e in lat.get("sizes", {}).items():
        for p in ("p50_ms", "p95_ms", "p99_ms"):
            figures[f"check_http_{n}_{p}"] = e["http"][p]
        figures[f"check_in_process_{n}_p99_ms"] = e["in_process"]["p99_ms"]
        if "http_during_ingest" in e:
            for p in ("p50_ms", "p99_ms"):
                figures[f"check_http_during_ingest_{n}_{p}"] = e["http_during_ingest"][p]
            figures[f"ingest_during_checks_{n}_per_s"] = e["http_during_ingest"]["ingest_headlines_per_s_meanwhile"]
        if "one_core" in e:
            for p in ("p50_ms", "p95_ms", "p99_ms"):
                figures[f"check_http_one_core_{n}_{p}"] = e["one_core"]["http"][p]
        figures[f"server_peak_rss_mib_{n}"] = (e.get("server_memory_after_refit") or e["server_memory_after_checks"])[
            "peak_rss_mib"
        ]
        rf = e.get("refit", {})
        if "checks_during" in rf:
            for p in ("p50_ms", "p99_ms", "max_ms"):
                figures[f"check_http_during_refit_{n}_{p}"] = rf["checks_during"][p]
            figures[f"refit_in_child_{n}"] = rf.get("in_child")
            figures[f"refit_worker_peak_rss_mib_{n}"] = rf.get("worker_peak_rss_mib")
    ref = results.get("refit", {})
    for n, e in ref.get("model_fit", {}).items():
        figures[f"topic_model_fit_{n}_s"] = e.get("seconds")
    for n, e in ref.get("service_refit", {}).items():
        figures[f"topic_service_refit_{n}_s"] = e["seconds"]
    peers = results.get("peers", {})
    for ds, e in peers.get("dedup", {}).items():
        if "ours" not in e:
            continue
        for who in ("ours", "minhash_lsh", "cosine_threshold"):
            for m in ("pairwise_f1", "bcubed_f1"):
                figures[f"{ds}_{who}_{m}"] = e[who][m]
        for peer, r in e["ratios"].items():
            for m, v in r.items():
                ratios[f"{ds}_{m}_ours_over_{peer}"] = v
    top = peers.get("topics", {})
    if "ours" in top:
        figures["topics_ours_nmi"] = top["ours"]["nmi"]
        figures["topics_ours_fit_s"] = top["ours"]["fit_seconds"]
    if "bertopic" in top:
        figures["topics_bertopic_nmi"] = top["bertopic"]["nmi"]
        figures["topics_bertopic_fit_s"] = top["bertopic"]["fit_seconds"]
        for m, v in top["ratios"].items():
            ratios[f"topics_{m}_ours_over_bertopic"] = v
    for sec in results.values():
        for name, t in sec.get("targets", {}).items():
            targets[name] = t
    errors = {name: r["error"] for name, r in results.items() if "error" in r}
    return {
        "section": "summary",
        "mode": mode,
        "machine": mach,
        "seconds": seconds,
        "figures": figures,
        "ratios": ratios,
        "targets": targets,
        "targets_met": sum(bool(t.get("met")) for t in targets.values()),
        "targets_total": len(targets),
        "errors": errors,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, every section, seconds")
    parser.add_argument("--sections", default=",".join(SECTIONS), help=f"comma list of {','.join(SECTIONS)}")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="where to write the JSON results (default bench/results for a full run, nowhere for --smoke)",
    )
    args = parser.parse_args(argv)
    wanted = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = set(wanted) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    plan = SMOKE if args.smoke else FULL
    mode = "smoke" if args.smoke else "full"
    out_dir = args.out if args.out is not None else (None if args.smoke else RESULTS)

    # A SIGTERM (a timeout around us) unwinds like an exception, so every server we started is stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    t_start = time.perf_counter()
    mach = machine()
    from app.config import load_settings
    from embeddings import describe, load_encoder

    from .synth import load_pool, pool_vectors

    settings = load_settings()
    log(f"{mode} run; loading the encoder {settings.encoder}")
    encoder = load_encoder(settings.encoder, threads=settings.encoder_threads, batch_size=settings.encoder_batch_size)
    mach["encoder"] = {
        **describe(encoder),
        "spec": settings.encoder,
        "threads": settings.encoder_threads,
        "batch_size": settings.encoder_batch_size,
        "fast_tokenizer": getattr(encoder, "fast_tokenizer", None),
    }
    pool = load_pool(plan.pool_limit)
    vecs = pool_vectors(encoder, pool)
    log(f"pool: {len(pool)} dataset titles encoded")

    from . import ingest, latency, peers, precision, refit

    # Smoke runs boot the latency server while the ingest section works (one start-up less to wait
    # for); a full run keeps the sections apart so that one does not slow the other's figures.
    stages = None
    if plan.overlap_startups and "latency" in wanted:
        stages = latency.Stages(encoder, pool, vecs, plan.latency, seed=2)
        stages.start_first()
    runners: dict[str, Callable[[], dict[str, Any]]] = {
        "precision": lambda: precision.run(encoder, pool, plan.precision),
        "ingest": lambda: ingest.run(encoder, pool, plan.ingest),
        "latency": lambda: latency.run(encoder, pool, vecs, plan.latency, stages=stages),
        "refit": lambda: refit.run(encoder, pool, vecs, plan.refit),
        "peers": lambda: peers.run(encoder, plan.peers),
    }
    results: dict[str, dict[str, Any]] = {}
    try:
        for name in SECTIONS:
            if name not in wanted:
                continue
            t0 = time.perf_counter()
            try:
                res = runners[name]()
            except Exception as exc:  # report and go on: one broken section should not hide the others
                traceback.print_exc()
                res = {"section": name, "error": f"{type(exc).__name__}: {exc}"}
            res["seconds"] = time.perf_counter() - t0
            res["mode"] = mode
            results[name] = res
            emit(res)
            if out_dir is not None:
                write_result(out_dir / f"{name}.json", res)
    finally:
        if stages is not None:
            stages.close()  # the early server, had its section not run
    mach["load_average_end"] = [round(x, 2) for x in os.getloadavg()]  # contention from other processes
    summ = summary(results, mach, time.perf_counter() - t_start, mode)
    emit(summ)
    if out_dir is not None:
        write_result(out_dir / "summary.json", summ)
    return 1 if summ["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
