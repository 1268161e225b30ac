"""``python -m app.eval {stories,topics} FILE.jsonl --gold FIELD [--langs en,fr] [--limit N] [--detect-lang]``

Runs the real pipeline (the same ``Pipeline`` and ``TopicService`` the API uses) on a fresh
in-memory store, in file order, and prints the metrics as the last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

from ..config import load_settings
from ..pipeline import HeadlineInput, Pipeline, canonical_lang
from ..store import open_store
from .metrics import ari, bcubed, nmi, pairwise

BATCH = 100


def iso639_1(code: str) -> str:
    return canonical_lang(code) or ""


def _epoch(value: Any) -> float | None:
    if value in (None, ""):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    dt = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return (dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)).timestamp()


def read_rows(path: Path, gold: str, langs: Sequence[str] | None, limit: int | None) -> list[dict[str, Any]]:
    wanted = {iso639_1(code) for code in langs} if langs else None
    rows = []
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            row = json.loads(line)
            if "title" not in row or gold not in row:
                raise SystemExit(f"{path}:{n}: each line needs 'title' and the gold field {gold!r}")
            if wanted is not None and iso639_1(row.get("lang") or "") not in wanted:
                continue
            rows.append(row)
            if limit and len(rows) >= limit:
                break
    return rows


def run_pipeline(rows: list[dict[str, Any]], encoder_spec: str | None = None, detect_lang: bool = False
                 ) -> tuple[Pipeline, list[int]]:
    """Ingest ``rows`` in file order; returns the pipeline and each row's story id. ``detect_lang``: the
    rows go in without their ``lang``, so the service detects it (a feed that sends none)."""
    from embeddings import load_encoder

    overrides = {"encoder": encoder_spec} if encoder_spec else {}
    settings = load_settings(**overrides)
    encoder = load_encoder(settings.encoder, threads=settings.encoder_threads, batch_size=settings.encoder_batch_size)
    store = open_store(settings, encoder.dim, memory=True)
    pipeline = Pipeline(settings, store, encoder)
    story_ids: list[int] = []
    for i in range(0, len(rows), BATCH):
        chunk = rows[i : i + BATCH]
        items = [
            HeadlineInput(
                title=r["title"], lang=None if detect_lang else canonical_lang(r.get("lang")),
                published_at=_epoch(r.get("date") or r.get("published_at")),
            )
            for r in chunk
        ]
        story_ids += [res.story_id for res in pipeline.ingest(items)]
    return pipeline, story_ids


def eval_stories(rows: list[dict[str, Any]], gold: str, encoder: str | None, detect_lang: bool = False
                 ) -> dict[str, Any]:
    t0 = time.perf_counter()
    _, pred = run_pipeline(rows, encoder, detect_lang)
    seconds = time.perf_counter() - t0
    truth = [str(r[gold]) for r in rows]
    p = pairwise(truth, pred)
    b = bcubed(truth, pred)
    return {
        "pairwise_precision": p.precision, "pairwise_recall": p.recall, "pairwise_f1": p.f1,
        "bcubed_precision": b.precision, "bcubed_recall": b.recall, "bcubed_f1": b.f1,
        "n_items": len(rows), "n_gold_clusters": len(set(truth)), "n_pred_clusters": len(set(pred)),
        "seconds": round(seconds, 3),
    }


def eval_topics(rows: list[dict[str, Any]], gold: str, encoder: str | None, detect_lang: bool = False
                ) -> dict[str, Any]:
    from ..topics.service import TopicService

    t0 = time.perf_counter()
    pipeline, story_ids = run_pipeline(rows, encoder, detect_lang)
    topics = TopicService(pipeline.settings, pipeline.store, pipeline.encoder)
    topics.refit()
    stories = pipeline.store.stories_by_ids(story_ids)
    seconds = time.perf_counter() - t0
    pred: list[str] = []
    noise = 0
    for i, sid in enumerate(story_ids):
        tid = stories[sid].topic_id
        if tid is None:
            noise += 1
            pred.append(f"noise-{i}")  # unassigned items count as singletons
        else:
            pred.append(f"t{tid}")
    truth = [str(r[gold]) for r in rows]
    b = bcubed(truth, pred)
    return {
        "nmi": nmi(truth, pred), "ari": ari(truth, pred),
        "bcubed_precision": b.precision, "bcubed_recall": b.recall, "bcubed_f1": b.f1,
        "n_topics": len({p for p in pred if not p.startswith("noise-")}),
        "noise_fraction": round(noise / len(rows), 4) if rows else 0.0,
        "n_items": len(rows), "seconds": round(seconds, 3),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.eval", description=__doc__.split("\n\n")[0])
    parser.add_argument("task", choices=["stories", "topics"])
    parser.add_argument("file", type=Path)
    parser.add_argument("--gold", required=True, help="the gold field (e.g. story, label, parallel_id, topic)")
    parser.add_argument("--langs", default=None, help="keep only these languages, e.g. en,fr,es,ar (639-1 or 639-3)")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--encoder", default=None, help="encoder spec (default: TICKER_ENCODER or use-m3)")
    parser.add_argument("--detect-lang", action="store_true",
                        help="ingest the rows without their lang, so that the service detects it (--langs still filters on it)")
    args = parser.parse_args(argv)
    if not args.file.exists():
        parser.error(f"{args.file} does not exist")
    langs = [c.strip() for c in args.langs.split(",") if c.strip()] if args.langs else None
    rows = read_rows(args.file, args.gold, langs, args.limit)
    if not rows:
        parser.error("no rows left after --langs/--limit")
    result = (eval_stories if args.task == "stories" else eval_topics)(rows, args.gold, args.encoder, args.detect_lang)
    print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in result.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
