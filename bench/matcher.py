"""What the story rule's rarity counts and story ages cost, against the same rule without them, in one run.

    .venv/bin/python -m bench.matcher [--reps 5] [--checks 400] [--out bench/results/matcher.json]

In-process, one thread, the dense uci_news dev stream (8,163 headlines, file order, batches of 100) into
a fresh in-memory store, then dedup checks of stored titles with a word changed. The vectors are
encoded once beforehand and served from memory, so the encoder's own time and noise are out of the
figures: what is left is matching and storing, where the rule's cost lies. The two configurations take
turns, ``--reps`` times each; the figures are the medians and the ratio ``rule / baseline``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.config import load_settings  # noqa: E402
from app.pipeline import HeadlineInput, Pipeline  # noqa: E402
from app.store import open_store  # noqa: E402
from app.stories import MatchParams  # noqa: E402
from app.times import parse_epoch  # noqa: E402
from bench.common import write_result  # noqa: E402

DATA = ROOT.parent / "shared" / "datasets" / "uci_news" / "dev.jsonl"


class _Precomputed:
    """An encoder that answers from vectors computed beforehand (the real encoder's)."""

    thread_safe = False

    def __init__(self, inner: Any, texts: list[str]) -> None:
        self.name, self.dim = inner.name, inner.dim
        self._vectors = dict(zip(texts, inner.encode(texts)))
        self._inner = inner

    def encode(self, texts: list[str]) -> np.ndarray:
        missing = [t for t in texts if t not in self._vectors]
        if missing:
            self._vectors.update(zip(missing, self._inner.encode(missing)))
        return np.stack([self._vectors[t] for t in texts])


def _run(encoder: Any, params: MatchParams, items: list[HeadlineInput], probes: list[str]) -> dict[str, float]:
    settings = load_settings(env={})
    pipeline = Pipeline(settings, open_store(settings, encoder.dim, memory=True), encoder, params=params)
    pipeline.warm_up()
    t0 = time.perf_counter()
    for i in range(0, len(items), 100):
        pipeline.ingest(items[i : i + 100])
    ingest_s = time.perf_counter() - t0
    times = []
    for title in probes:
        t = time.perf_counter()
        pipeline.check(title)
        times.append(time.perf_counter() - t)
    return {
        "ingest_per_s": len(items) / ingest_s,
        "check_p50_ms": 1000 * statistics.median(times),
        "check_p95_ms": 1000 * float(np.percentile(times, 95)),
        "stories": pipeline.store.count_stories(),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--checks", type=int, default=400)
    ap.add_argument("--limit", type=int, default=0, help="first N rows only (a smoke run)")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)

    from embeddings import load_encoder

    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
    if args.limit:
        rows = rows[: args.limit]
    items = [HeadlineInput(title=r["title"], lang=r["lang"], published_at=parse_epoch(r["date"])) for r in rows]
    rng = np.random.default_rng(0)
    picked = rng.choice(len(rows), size=min(args.checks, len(rows)), replace=False)
    probes = [rows[i]["title"].rsplit(" ", 1)[0] + " today" for i in picked]
    settings = load_settings(env={})
    encoder = _Precomputed(load_encoder(settings.encoder), _encoder_texts(items, probes))
    rule = MatchParams()
    baseline = replace(rule, rarity_share=0.0, w_age=0.0)
    runs: dict[str, list[dict[str, float]]] = {"rule": [], "baseline": []}
    for rep in range(args.reps):
        for name, params in (
            (("baseline", baseline), ("rule", rule)) if rep % 2 else (("rule", rule), ("baseline", baseline))
        ):
            runs[name].append(_run(encoder, params, items, probes))
            print(f"# rep {rep} {name}: {runs[name][-1]}", file=sys.stderr)
    med = {name: {k: round(statistics.median(r[k] for r in rs), 3) for k in rs[0]} for name, rs in runs.items()}
    out = {
        "section": "matcher",
        "rows": len(items),
        "checks": len(probes),
        "reps": args.reps,
        "median": med,
        "ratios": {
            "ingest_per_s_rule_over_baseline": round(med["rule"]["ingest_per_s"] / med["baseline"]["ingest_per_s"], 3),
            "check_p50_rule_over_baseline": round(med["rule"]["check_p50_ms"] / med["baseline"]["check_p50_ms"], 3),
        },
    }
    print(json.dumps(out))
    if args.out is not None:
        write_result(args.out, out)
    return 0


def _encoder_texts(items: list[HeadlineInput], probes: list[str]) -> list[str]:
    """What the pipeline hands the encoder for these titles (the key's cleaning, case kept)."""
    from app.ingest.kicker import strip_kicker

    return list(dict.fromkeys([strip_kicker(it.title)[1] for it in items] + [strip_kicker(t)[1] for t in probes]))


if __name__ == "__main__":
    raise SystemExit(main())
