"""Calibrate the dedup check's confidence: ``python -m bench.calibrate_check [--sets seed,gnews,sib,uci] [--out FILE]``.

Each shared labelled set is replayed in file order through the real pipeline (fresh in-memory store, the
default settings): every row is first *checked* (``Pipeline.check``, what ``POST /v1/dedup/check`` runs,
with the row's own date when it has one), then ingested. A check that found a closest stored story gives
one labelled pair: ``x = score - threshold`` and ``same = gold(row) == gold(the story's best-matching
stored headline)``. uci_news pairs whose two headlines were crawled on different days are left out (its
story ids change from day to day: the datasets' README says to judge within a day).

Split: by gold story, ``crc32("<set>:<gold>") % 2``; fitted (Platt: two parameters) on the even half, the
reliability table and the Brier score reported on the odd half, which the fit never saw. The constants in
``app/stories/confidence.py`` are the ones printed here; the figures in docs/evidence.md come from its JSON
(``bench/results/calibration.json``). tests/test_check_evidence.py recomputes the small sets' held-out figures.
"""

from __future__ import annotations

import argparse
import json
import math
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT.parent / "shared" / "datasets"
RESULTS = ROOT / "bench" / "results" / "calibration.json"


@dataclass(frozen=True)
class LabelledSet:
    name: str
    path: str
    gold: str
    langs: tuple[str, ...] | None = None
    #: pairs count only when both rows carry the same value of this field (uci_news: the crawl day)
    same_day: bool = False


SETS = {
    "seed": LabelledSet("seed_ticker", "seed_ticker/gold.jsonl", "story"),
    "gnews": LabelledSet("gnews_fr", "gnews_fr/dev.jsonl", "label"),
    "sib": LabelledSet("sib200", "sib200/dev.jsonl", "parallel_id", ("en", "fr", "es", "ar", "ary")),
    "uci": LabelledSet("uci_news", "uci_news/dev.jsonl", "story", same_day=True),
}

#: the hand-labelled and parallel sets (no uci_news): what tests/test_check_evidence.py recomputes
NEWSROOM_SETS = ("seed_ticker", "gnews_fr", "sib200")


def read_set(spec: LabelledSet) -> list[dict[str, Any]]:
    rows = [
        json.loads(line) for line in (DATASETS / spec.path).read_text(encoding="utf-8").splitlines() if line.strip()
    ]
    if spec.langs:
        rows = [r for r in rows if r["lang"] in spec.langs]
    return rows


def half(set_name: str, gold: Any) -> int:
    """0 = fit half, 1 = held-out half: by gold story, so that no story is on both sides."""
    return zlib.crc32(f"{set_name}:{gold}".encode()) % 2


def replay(spec: LabelledSet, encoder: Any, limit: int | None = None) -> list[dict[str, Any]]:
    """Check then ingest each row in order; one pair per check that had a closest story."""
    from app.config import load_settings
    from app.ingest.langcodes import canonical_lang
    from app.pipeline import HeadlineInput, Pipeline
    from app.store import open_store
    from app.times import parse_epoch

    rows = read_set(spec)[:limit]
    settings = load_settings(env={})
    store = open_store(settings, encoder.dim, memory=True)
    pipeline = Pipeline(settings, store, encoder)
    row_of: dict[int, int] = {}
    pairs = []
    try:
        for i, r in enumerate(rows):
            lang = canonical_lang(r.get("lang"))
            ts = parse_epoch(r.get("date") or r.get("published_at"))
            res = pipeline.check(r["title"], lang, published_at=ts)
            if res.closest_headline_id is not None:
                j = row_of[res.closest_headline_id]
                if not (spec.same_day and rows[j].get("date") != r.get("date")):
                    pairs.append(
                        {
                            "set": spec.name,
                            "row": i,
                            "x": res.score - res.threshold,
                            "score": res.score,
                            "threshold": res.threshold,
                            "duplicate": res.duplicate,
                            "same": r[spec.gold] == rows[j][spec.gold],
                            "half": half(spec.name, r[spec.gold]),
                        }
                    )
            [out] = pipeline.ingest([HeadlineInput(title=r["title"], lang=lang, published_at=ts)])
            row_of[out.headline_id] = i
    finally:
        store.close()
    return pairs


def fit_platt(x: np.ndarray, y: np.ndarray, weight: np.ndarray | None = None, iters: int = 100) -> tuple[float, float]:
    """Weighted logistic regression of y on x (slope, intercept) by Newton's method, with a tiny ridge."""
    a, b = 1.0, 0.0
    X = np.stack([x, np.ones_like(x)], axis=1)
    sw = np.ones_like(x) if weight is None else weight
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-(a * x + b)))
        grad = X.T @ (sw * (p - y)) + 1e-6 * np.array([a, b])
        w = sw * p * (1 - p)
        hess = X.T @ (X * w[:, None]) + 1e-6 * np.eye(2)
        step = np.linalg.solve(hess, grad)
        a, b = a - step[0], b - step[1]
        if np.abs(step).max() < 1e-10:
            break
    return float(a), float(b)


def reliability(pred: Sequence[float], same: Sequence[bool], bins: int = 10) -> dict[str, Any]:
    """Bins of predicted confidence (equal width): count, mean predicted, observed rate; Brier score;
    expected calibration error (bin gaps weighted by count); the base-rate Brier score for comparison."""
    p = np.asarray(pred, dtype=float)
    y = np.asarray(same, dtype=float)
    table = []
    ece = 0.0
    for k in range(bins):
        lo, hi = k / bins, (k + 1) / bins
        sel = (p >= lo) & ((p < hi) if k < bins - 1 else (p <= hi))
        n = int(sel.sum())
        if not n:
            continue
        mean_p, rate = float(p[sel].mean()), float(y[sel].mean())
        ece += n * abs(mean_p - rate)
        table.append(
            {"bin": f"{lo:.1f}-{hi:.1f}", "count": n, "mean_predicted": round(mean_p, 3), "observed": round(rate, 3)}
        )
    n = len(p)
    base = float(y.mean()) if n else 0.0
    return {
        "n": n,
        "positives": int(y.sum()),
        "brier": round(float(np.mean((p - y) ** 2)), 4) if n else None,
        "brier_base_rate": round(float(np.mean((base - y) ** 2)), 4) if n else None,
        "ece": round(ece / n, 4) if n else None,
        "table": table,
    }


def predict(pairs: Iterable[dict[str, Any]], slope: float | None = None, intercept: float | None = None) -> list[float]:
    """Each pair's confidence: with these parameters, or (None) as the service computes it."""
    from app.stories.confidence import confidence

    out = []
    for q in pairs:
        if slope is None or intercept is None:
            out.append(confidence(q["score"], q["threshold"], q["duplicate"]))
        else:
            x = max(q["x"], 0.0) if q["duplicate"] else q["x"]
            out.append(1.0 / (1.0 + math.exp(-(slope * x + intercept))))
    return out


def evaluate(pairs: list[dict[str, Any]], slope: float | None = None, intercept: float | None = None) -> dict[str, Any]:
    """Held-out figures (half 1), pooled and per set: with these parameters, or (None) the service's."""
    held = [q for q in pairs if q["half"] == 1]
    out = {"pooled": reliability(predict(held, slope, intercept), [q["same"] for q in held])}
    small = [q for q in held if q["set"] in NEWSROOM_SETS]
    if small and len(small) < len(held):
        out["newsroom_sets"] = reliability(predict(small, slope, intercept), [q["same"] for q in small])
    for name in sorted({q["set"] for q in held}):
        part = [q for q in held if q["set"] == name]
        out[name] = reliability(predict(part, slope, intercept), [q["same"] for q in part])
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sets", default="seed,gnews,sib,uci", help="comma-separated: " + ",".join(SETS))
    ap.add_argument("--limit", type=int, default=None, help="rows per set (a quick look)")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)

    from embeddings import load_encoder

    encoder = load_encoder("use-m3")
    pairs: list[dict[str, Any]] = []
    seconds = {}
    for key in args.sets.split(","):
        spec = SETS[key]
        t0 = time.perf_counter()
        got = replay(spec, encoder, args.limit)
        seconds[spec.name] = round(time.perf_counter() - t0, 1)
        print(f"{spec.name}: {len(got)} pairs, {sum(q['same'] for q in got)} same story ({seconds[spec.name]} s)")
        pairs += got
    fit = [q for q in pairs if q["half"] == 0]
    x = np.array([max(q["x"], 0.0) if q["duplicate"] else q["x"] for q in fit])
    y = np.array([q["same"] for q in fit], dtype=float)
    # Each set weighs the same in the fit: uci_news' 3,000 machine-labelled pairs (coarse stories, judged
    # within a day) would otherwise decide the map for the newsroom sets alone.
    per_set = {name: sum(q["set"] == name for q in fit) for name in {q["set"] for q in fit}}
    weight = np.array([len(fit) / (len(per_set) * per_set[q["set"]]) for q in fit])
    slope, intercept = fit_platt(x, y, weight)
    print(
        f"fitted on {len(fit)} pairs (half 0, each set weighing the same): CONFIDENCE_SLOPE = {slope:.3f}, CONFIDENCE_INTERCEPT = {intercept:.3f}"
    )
    from app.stories.confidence import CONFIDENCE_INTERCEPT, CONFIDENCE_SLOPE

    result = {
        "command": "python -m bench.calibrate_check"
        + (f" --sets {args.sets}" if args.sets != "seed,gnews,sib,uci" else ""),
        "measured_at": time.strftime("%Y-%m-%d"),
        "sets": args.sets.split(","),
        "limit": args.limit,
        "seconds": seconds,
        "pairs": {"fit_half": len(fit), "held_out_half": len(pairs) - len(fit)},
        "fitted": {"slope": round(slope, 3), "intercept": round(intercept, 3)},
        "fit_half_figures": reliability(1.0 / (1.0 + np.exp(-(slope * x + intercept))), y),
        "held_out_fitted": evaluate(pairs, slope, intercept),
        "constants_in_code": {"slope": CONFIDENCE_SLOPE, "intercept": CONFIDENCE_INTERCEPT},
        "held_out_constants_in_code": evaluate(pairs),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    pooled = result["held_out_constants_in_code"]["pooled"]
    print(
        f"held-out half, constants in code: n={pooled['n']} Brier {pooled['brier']} (base rate {pooled['brier_base_rate']}), ECE {pooled['ece']}"
    )
    for row in pooled["table"]:
        print(
            f"  {row['bin']}: {row['count']:5d}  predicted {row['mean_predicted']:.3f}  observed {row['observed']:.3f}"
        )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
