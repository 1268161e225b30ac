"""What an editor's correction and a refit of the rule from corrections cost, at a given store size.

    .venv/bin/python -m bench.corrections [--stored 100000] [--corrections 1000] [--out bench/results/corrections.json]

In-process, on a SQLite file store filled with synthetic headlines (``bench.synth.fill_store``: real
embeddings of dataset titles, turned), one pipeline: the time of each correction through
``app.corrections.Corrections`` (what ``POST /v1/corrections/*`` runs in its thread, then the service's
refit check), alternately a move out, a merge and an undo; then one refit of the threshold from every
correction (``app.teach.refit_rule``). Medians and 95th percentiles in milliseconds.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import log, percentiles, write_result  # noqa: E402
from bench.synth import filled_store  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stored", type=int, default=100_000)
    ap.add_argument("--corrections", type=int, default=1000)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)

    from app.config import load_settings
    from app.corrections import Corrections
    from app.pipeline import Pipeline
    from app.teach import after_correction, refit_rule

    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(env={}, data_dir=Path(tmp), teach_min_corrections=10**9)
        t0 = time.perf_counter()
        encoder, _, _, store = filled_store(settings, args.stored, seed=7, exact_features=True)
        log(f"corrections: {args.stored} headlines stored in {time.perf_counter() - t0:.1f}s")
        pipeline = Pipeline(settings, store, encoder)
        editor = Corrections(store, on_change=pipeline.forget_assignments)
        stories, _ = store.list_stories(limit=3 * args.corrections, offset=0)
        multi = [s.id for s in stories if s.size >= 2]
        rng = np.random.default_rng(0)
        times: dict[str, list[float]] = {"move": [], "merge": [], "undo": []}
        made = 0
        for k in range(0, len(multi) - 1, 2):
            if made >= args.corrections:
                break
            a, b = multi[k], multi[k + 1]
            kind = ("move", "merge", "undo")[made % 3]
            t = time.perf_counter()
            if kind == "move":
                members = store.story_headline_page(a, 10, 0)
                c = editor.move([members[int(rng.integers(len(members)))].id], None, "bench")
            elif kind == "merge":
                c = editor.merge(a, b, "bench")
            else:
                c = editor.move([store.story_headline_page(a, 1, 0)[0].id], b, "bench")
                editor.undo(c.id, "bench")
            after_correction(pipeline)
            times[kind].append((time.perf_counter() - t) * 1000.0)
            made += 1
        t = time.perf_counter()
        rule = refit_rule(pipeline, min_corrections=1)
        refit_s = time.perf_counter() - t
        store.close()
    out: dict[str, Any] = {
        "section": "corrections",
        "stored": args.stored,
        "corrections": made,
        "ms": {kind: percentiles(ts) for kind, ts in times.items() if ts},
        "refit": {
            "seconds": round(refit_s, 3),
            "pairs": rule.pairs,
            "corrections": rule.corrections,
            "threshold": rule.threshold,
        },
        "targets": {
            "correction_p95_ms<100": max(percentiles(ts)["p95_ms"] for ts in times.values() if ts) < 100,
            "refit_s<5": refit_s < 5,
        },
    }
    print(json.dumps(out))
    if args.out is not None:
        write_result(args.out, out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
