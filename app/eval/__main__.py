"""``python -m app.eval {stories,topics} FILE.jsonl --gold FIELD [--langs en,fr] [--limit N] [--detect-lang]
[--out FILE] [--pairs-by-lang]``

Runs the real pipeline (the same ``Pipeline`` and ``TopicService`` the API uses) on a fresh
in-memory store, in file order, and prints the metrics as the last line: one JSON object.
``--out FILE`` writes what was predicted for each row, one JSON line per row in file order;
``--pairs-by-lang`` adds pair precision and recall per pair of the rows' languages.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Sequence

from ..config import load_settings
from ..ingest.langcodes import canonical_lang
from ..pipeline import Pipeline
from ..records import HeadlineInput, IngestResult
from ..store import open_store
from ..times import parse_epoch
from .metrics import PairCounts, ari, bcubed, largest_cluster, nmi, pairs_by_lang, story_metrics

BATCH = 100


def iso639_1(code: str) -> str:
    return canonical_lang(code) or ""


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


def run_pipeline(
    rows: list[dict[str, Any]], encoder_spec: str | None = None, detect_lang: bool = False
) -> tuple[Pipeline, list[int]]:
    """Ingest ``rows`` in file order; returns the pipeline and each row's story id. ``detect_lang``: the
    rows go in without their ``lang``, so the service detects it (a feed that sends none)."""
    pipeline, results = ingest_rows(rows, encoder_spec, detect_lang)
    return pipeline, [res.story_id for res in results]


def ingest_rows(
    rows: list[dict[str, Any]],
    encoder_spec: str | None = None,
    detect_lang: bool = False,
    pipeline: Pipeline | None = None,
) -> tuple[Pipeline, list[IngestResult]]:
    """``run_pipeline`` with each row's whole ingest result (story, match type, score). ``pipeline``:
    ingest into this one (its store) instead of a fresh one."""
    if pipeline is None:
        from embeddings import load_encoder

        settings = load_settings(encoder=encoder_spec) if encoder_spec else load_settings()
        encoder = load_encoder(
            settings.encoder, threads=settings.encoder_threads, batch_size=settings.encoder_batch_size
        )
        store = open_store(settings, encoder.dim, memory=True)
        pipeline = Pipeline(settings, store, encoder)
    results: list[IngestResult] = []
    for i in range(0, len(rows), BATCH):
        chunk = rows[i : i + BATCH]
        items = [
            HeadlineInput(
                title=r["title"],
                lang=None if detect_lang else canonical_lang(r.get("lang")),
                published_at=parse_epoch(r.get("date") or r.get("published_at")),
            )
            for r in chunk
        ]
        results += pipeline.ingest(items)
    return pipeline, results


def row_langs(rows: list[dict[str, Any]]) -> list[str]:
    """Each row's own ``lang`` (639-1 where there is one; "und" when it has none), as --pairs-by-lang groups them."""
    return [iso639_1(r.get("lang") or "") or "und" for r in rows]


def _cluster_sizes(truth: list[str], pred: list[Any]) -> dict[str, int]:
    return {"largest_pred_cluster": largest_cluster(pred), "largest_gold_cluster": largest_cluster(truth)}


def _pairs_json(counts: dict[str, PairCounts]) -> dict[str, dict[str, float | int]]:
    return {
        key: {
            "recall": c.recall,
            "precision": c.precision,
            "gold_pairs": c.gold_pairs,
            "pred_pairs": c.pred_pairs,
            "correct_pairs": c.correct_pairs,
        }
        for key, c in counts.items()
    }


def eval_stories(
    rows: list[dict[str, Any]],
    gold: str,
    encoder: str | None,
    detect_lang: bool = False,
    *,
    by_lang: bool = False,
    records: list[dict[str, Any]] | None = None,
    feedback: int = 0,
) -> dict[str, Any]:
    """The metrics. ``by_lang``: add ``pairs_by_lang``. ``records``: a list to which each row's
    prediction is appended (what ``--out`` writes). ``feedback``: add the second half's metrics with and
    without a simulated editor's corrections (``app/eval/feedback.py``)."""
    t0 = time.perf_counter()
    _, results = ingest_rows(rows, encoder, detect_lang)
    seconds = time.perf_counter() - t0
    pred = [res.story_id for res in results]
    truth = [str(r[gold]) for r in rows]
    out: dict[str, Any] = {**story_metrics(truth, pred), "seconds": round(seconds, 3)}
    if by_lang:
        out["pairs_by_lang"] = _pairs_json(pairs_by_lang(truth, pred, row_langs(rows)))
    if feedback:
        from .feedback import eval_with_feedback

        out.update(
            eval_with_feedback(
                rows, gold, feedback, lambda p, part: ingest_rows(part, encoder, detect_lang, pipeline=p)
            )
        )
    if records is not None:
        records += [
            {"id": r.get("id"), "story_id": res.story_id, "match": res.match, "score": res.score, "gold": r[gold]}
            for r, res in zip(rows, results)
        ]
    return out


def eval_topics(
    rows: list[dict[str, Any]],
    gold: str,
    encoder: str | None,
    detect_lang: bool = False,
    *,
    by_lang: bool = False,
    records: list[dict[str, Any]] | None = None,
    label_map: dict[str, str] | None = None,
) -> dict[str, Any]:
    """As ``eval_stories``, for the topics of one refit after the stories. ``label_map`` (gold value ->
    taxonomy entry id) adds ``label_accuracy``: the share of the mapped rows whose topic has that entry."""
    from ..topics.service import TopicService

    t0 = time.perf_counter()
    pipeline, story_ids = run_pipeline(rows, encoder, detect_lang)
    topics = TopicService(pipeline.settings, pipeline.store, pipeline.encoder)
    topics.refit()
    stories = pipeline.store.stories_by_ids(story_ids)
    seconds = time.perf_counter() - t0
    pred: list[str] = []
    topic_ids: list[int | None] = []
    noise = 0
    for i, sid in enumerate(story_ids):
        tid = stories[sid].topic_id
        topic_ids.append(tid)
        if tid is None:
            noise += 1
            pred.append(f"noise-{i}")  # unassigned items count as singletons
        else:
            pred.append(f"t{tid}")
    truth = [str(r[gold]) for r in rows]
    b = bcubed(truth, pred)
    out: dict[str, Any] = {
        "nmi": nmi(truth, pred),
        "ari": ari(truth, pred),
        "bcubed_precision": b.precision,
        "bcubed_recall": b.recall,
        "bcubed_f1": b.f1,
        "n_topics": len({p for p in pred if not p.startswith("noise-")}),
        "noise_fraction": round(noise / len(rows), 4) if rows else 0.0,
        "n_items": len(rows),
        **_cluster_sizes(truth, pred),
        "seconds": round(seconds, 3),
    }
    if by_lang:
        out["pairs_by_lang"] = _pairs_json(pairs_by_lang(truth, pred, row_langs(rows)))
    rows_topics = {t.id: t for t in pipeline.store.topics()}
    if label_map:
        # rows left without a topic count as wrong: "the share of rows whose topic's label is their category's"
        right = [
            label_map[str(r[gold])] == (rows_topics[tid].category if tid is not None else None)
            for r, tid in zip(rows, topic_ids)
            if str(r[gold]) in label_map
        ]
        out["label_accuracy"] = round(sum(right) / len(right), 4) if right else 0.0
        out["label_rows"] = len(right)
    if records is not None:
        records += [
            {
                "id": r.get("id"),
                "story_id": sid,
                "topic_id": tid,
                "label": rows_topics[tid].category if tid is not None else None,
                "label_name": rows_topics[tid].label if tid is not None else None,
                "gold": r[gold],
            }
            for r, sid, tid in zip(rows, story_ids, topic_ids)
        ]
    return out


def _label_map(spec: str, rows: list[dict[str, Any]], gold: str) -> dict[str, str]:
    if spec.strip() == "same":
        return {str(r[gold]): str(r[gold]) for r in rows}
    pairs = [p.split("=", 1) for p in spec.split(",") if p.strip()]
    if not pairs or any(len(p) != 2 or not p[0].strip() or not p[1].strip() for p in pairs):
        raise SystemExit(f"--label-map: expected GOLD=ENTRY,... or 'same', got {spec!r}")
    return {k.strip(): v.strip() for k, v in pairs}


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return value


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for record in records:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.eval", description=__doc__.split("\n\n")[0])
    parser.add_argument("task", choices=["stories", "topics"])
    parser.add_argument("file", type=Path)
    parser.add_argument("--gold", required=True, help="the gold field (e.g. story, label, parallel_id, topic)")
    parser.add_argument("--langs", default=None, help="keep only these languages, e.g. en,fr,es,ar (639-1 or 639-3)")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument(
        "--contains",
        default=None,
        help="keep only the rows whose title holds this text (any case): a one-topic stress stream, "
        "such as every uci_news headline naming one person",
    )
    parser.add_argument("--encoder", default=None, help="encoder spec (default: TICKER_ENCODER or use-m3)")
    parser.add_argument(
        "--detect-lang",
        action="store_true",
        help="ingest the rows without their lang, so that the service detects it (--langs still filters on it)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="write one JSON line per evaluated row, in file order: stories: id, story_id, match, "
        "score, gold; topics: id, story_id, topic_id, label (taxonomy entry id), label_name, gold",
    )
    parser.add_argument(
        "--feedback",
        type=int,
        default=0,
        metavar="N",
        help="stories: a simulated editor corrects up to N wrong decisions of the first half, with the "
        "gold labels, through the corrections API's code; adds after_feedback and "
        "without_feedback, the second half's metrics",
    )
    parser.add_argument(
        "--label-map",
        default=None,
        metavar="GOLD=ENTRY,...",
        help="topics: add label_accuracy, the share of rows whose topic's taxonomy entry is their gold "
        "value's entry, e.g. business=economy,sports=sport (rows of unmapped values are left out; "
        "rows left without a topic count as wrong); 'same' when gold values are entry ids",
    )
    parser.add_argument(
        "--pairs-by-lang",
        action="store_true",
        help="add pairs_by_lang: pair recall and precision, with their counts, per pair of the rows' languages",
    )
    args = parser.parse_args(argv)
    if not args.file.exists():
        parser.error(f"{args.file} does not exist")
    if args.out is not None and not args.out.parent.is_dir():
        parser.error(f"--out: {args.out.parent} is not a directory")
    langs = [c.strip() for c in args.langs.split(",") if c.strip()] if args.langs else None
    rows = read_rows(args.file, args.gold, langs, None if args.contains else args.limit)
    if args.contains:
        rows = [r for r in rows if args.contains.casefold() in r["title"].casefold()][: args.limit]
    if not rows:
        parser.error("no rows left after --langs/--contains/--limit")
    records: list[dict[str, Any]] | None = [] if args.out is not None else None
    if args.feedback and args.task != "stories":
        parser.error("--feedback: stories only")
    label_map = _label_map(args.label_map, rows, args.gold) if args.label_map else None
    if label_map is not None and args.task != "topics":
        parser.error("--label-map: topics only")
    if args.feedback < 0:
        parser.error("--feedback: a number of corrections, 0 or more")
    if args.task == "stories":
        result = eval_stories(
            rows,
            args.gold,
            args.encoder,
            args.detect_lang,
            by_lang=args.pairs_by_lang,
            records=records,
            feedback=args.feedback,
        )
    else:
        result = eval_topics(
            rows,
            args.gold,
            args.encoder,
            args.detect_lang,
            by_lang=args.pairs_by_lang,
            records=records,
            label_map=label_map,
        )
    if args.out is not None and records is not None:
        write_jsonl(args.out, records)
    print(json.dumps(_rounded(result)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
