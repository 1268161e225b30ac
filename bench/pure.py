"""Micro-benchmark of the per-headline pure functions (key normalisation, story features, pair score).

    .venv/bin/python -m bench.pure [--repeat 7] [--pairs 18] [--datasets ../shared/datasets]

Single-threaded, no server, no encoder: prints one JSON object with the microseconds per call (the
minimum over ``--repeat`` runs, each over every title of the shared datasets) of

* ``normalise`` — what ingest does per item: ``strip_kicker`` + ``key_of_rest`` + ``text_hash``;
* ``extract`` — ``Features`` of one headline from its title, key and language (word caches warm);
* ``normalise_cold`` / ``extract_cold`` — the same, each run starting with every word cache empty
  (the words that repeat within the datasets still hit them, as they do in a live stream);
* ``pair_score`` — one headline against one candidate (each title against ``--pairs`` others);
* ``score_terms`` — the same pair, as the named terms (explanations);
* ``pair_score_compact`` — the same, the candidate compact (``Features.compact``), as the pipeline
  scores the candidates it keeps in memory;
* ``to_json`` / ``from_json`` — storing a headline's features and reading a candidate's back;
  ``from_json_compact`` reads it compact, as the pipeline does.

and ``bytes_per_entry``: the memory of one headline's features read back, as sets and compact
(tracemalloc, every title's features held at once): what each entry of the pipeline's cache of
stored headlines (up to ``TICKER_FEATURE_CACHE_SIZE``) costs.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import random
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app.ingest.kicker import strip_kicker  # noqa: E402
from app.ingest.normalise import key_of_rest, text_hash  # noqa: E402
from app.stories.features import Features, extract  # noqa: E402
from app.stories.score import MatchParams, pair_score, score_terms  # noqa: E402

DATASETS = ROOT.parent / "shared" / "datasets"
FILES = ("gnews_fr/dev.jsonl", "seed_ticker/gold.jsonl", "masakhanews/dev.jsonl", "sib200/dev.jsonl")


def load_titles(datasets: Path = DATASETS) -> list[tuple[str, str | None]]:
    out = []
    for name in FILES:
        with open(datasets / name, encoding="utf-8") as fh:
            for line in fh:
                row = json.loads(line)
                out.append((row["title"], row.get("lang")))
    return out


def clear_word_caches() -> None:
    """Empty the per-word caches of normalisation and features (those that exist in this version)."""
    fold = importlib.import_module("app.ingest.fold")
    kicker = importlib.import_module("app.ingest.kicker")
    text = importlib.import_module("app.stories._text")
    features = importlib.import_module("app.stories.features")
    fold._fold_word.cache_clear()
    for module, name in (
        (kicker, "_FOLD_KEY_CACHE"),
        (text, "_FOLDED"),
        (features, "_NAME_INFO"),
        (features, "_GRAMS_OF"),
    ):
        getattr(module, name, {}).clear()


def best_of(fn: Callable[[], Any], n_calls: int, repeat: int, cold: bool = False) -> float:
    """Microseconds per call: the fastest of ``repeat`` runs (the machine is shared and noisy)."""
    best = float("inf")
    for _ in range(repeat):
        if cold:
            clear_word_caches()
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return round(best / n_calls * 1e6, 3)


def bytes_per_entry(blobs: list[str], compact: bool) -> int:
    """Memory per headline of ``Features.from_json`` over ``blobs``, all of them held at once."""
    gc.collect()
    tracemalloc.start()
    try:
        held = [Features.from_json(s, compact=compact) for s in blobs]
        used = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return round(used / max(1, len(held)))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--pairs", type=int, default=18, help="candidates scored per headline")
    ap.add_argument("--datasets", type=Path, default=DATASETS)
    args = ap.parse_args(argv)

    titles = load_titles(args.datasets)
    keys = [key_of_rest(strip_kicker(t)[1]) for t, _ in titles]
    feats = [extract(t, k, lang) for (t, lang), k in zip(titles, keys)]
    blobs = [f.to_json() for f in feats]
    rng = random.Random(0)
    pairs = [
        (feats[i], feats[j], rng.uniform(0.3, 0.9), rng.choice((None, 2.0, 40.0)))
        for i in range(len(feats))
        for j in rng.sample(range(len(feats)), args.pairs)
    ]
    params = MatchParams()
    triples = [(t, k, lang) for (t, lang), k in zip(titles, keys)]

    def run_normalise() -> None:
        for t, _ in titles:
            text_hash(key_of_rest(strip_kicker(t)[1]))

    def run_extract() -> None:
        for t, k, lang in triples:
            extract(t, k, lang)

    def run_pair_score() -> None:
        for a, b, cos, dt in pairs:
            pair_score(a, b, cos, dt, params)

    compact_pairs = [(a, b.compact(), cos, dt) for a, b, cos, dt in pairs]

    def run_pair_score_compact() -> None:
        for a, b, cos, dt in compact_pairs:
            pair_score(a, b, cos, dt, params)

    def run_score_terms() -> None:
        for a, b, cos, dt in pairs:
            score_terms(a, b, cos, dt, params)

    def run_to_json() -> None:
        for f in feats:
            f.to_json()

    def run_from_json() -> None:
        for s in blobs:
            Features.from_json(s)

    def run_from_json_compact() -> None:
        for s in blobs:
            Features.from_json(s, compact=True)

    n, r = len(titles), args.repeat
    result = {
        "titles": n,
        "pairs": len(pairs),
        "repeat": r,
        "us_per_call": {
            "normalise": best_of(run_normalise, n, r),
            "extract": best_of(run_extract, n, r),
            "normalise_cold": best_of(run_normalise, n, r, cold=True),
            "extract_cold": best_of(run_extract, n, r, cold=True),
            "pair_score": best_of(run_pair_score, len(pairs), r),
            "pair_score_compact": best_of(run_pair_score_compact, len(pairs), r),
            "score_terms": best_of(run_score_terms, len(pairs), r),
            "to_json": best_of(run_to_json, n, r),
            "from_json": best_of(run_from_json, n, r),
            "from_json_compact": best_of(run_from_json_compact, n, r),
        },
        "bytes_per_entry": {"sets": bytes_per_entry(blobs, False), "compact": bytes_per_entry(blobs, True)},
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
