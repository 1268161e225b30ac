"""``--feedback N``: an editor correcting the service with the gold labels, in time order.

The file is ingested in batches. During its first half, after each batch, a simulated editor corrects up
to N wrong decisions in total, through the same code path as ``POST /v1/corrections/move``
(``app.corrections.Corrections``, then the rule's refit when due, as the API does):

* a headline that joined a story whose first headline is of another gold story is moved out: to the
  story holding its gold story's earlier headlines, or to a new one;
* a headline that opened a story while its gold story's earlier headlines sit in another story is moved
  into that story.

The second half is then ingested without help, and scored on its own; the same file goes through a
fresh pipeline without feedback for the comparison.
"""

from __future__ import annotations

from typing import Any

from ..corrections import Corrections
from ..pipeline import Pipeline
from ..records import IngestResult
from ..teach import after_correction, current_rule
from .metrics import story_metrics

EDITOR = "simulated editor"


def _stories_now(pipeline: Pipeline, headline_ids: list[int]) -> list[int]:
    rows = pipeline.store.headlines(headline_ids)
    return [rows[h].story_id for h in headline_ids]


def correct_batch(
    pipeline: Pipeline, editor: Corrections, truth: list[str], hids: list[int], batch: range, budget: int
) -> int:
    """Correct the wrong decisions of the rows in ``batch`` (indices into ``truth`` / ``hids``, every
    earlier row already stored), at most ``budget`` of them; returns how many were made."""
    made = 0
    now = _stories_now(pipeline, hids[: batch.stop])  # read once, then kept up to date with each move
    first_of: dict[int, int] = {}  # story -> its first row
    home_of: dict[str, int] = {}  # gold story -> the story holding its first row
    for j, story in enumerate(now):
        first_of.setdefault(story, j)
        if j < batch.start:
            home_of.setdefault(truth[j], story)
    for i in batch:
        story = now[i]
        home = home_of.get(truth[i])
        target: int | None
        if first_of[story] != i and truth[first_of[story]] != truth[i] and made < budget:
            target = home if home != story else None  # a wrong merge: out, to its own story
        elif first_of[story] == i and home is not None and home != story and made < budget:
            target = home  # a missed one: into its story
        else:
            home_of.setdefault(truth[i], story)
            continue
        c = editor.move([hids[i]], target, EDITOR)
        after_correction(pipeline)
        made += 1
        now[i] = target if target is not None else int(c.undo["opened"])
        first_of.setdefault(now[i], i)
        home_of.setdefault(truth[i], now[i])
    return made


def eval_with_feedback(rows: list[dict[str, Any]], gold: str, budget: int, ingest: Any) -> dict[str, Any]:
    """``ingest(pipeline_or_None, rows) -> (pipeline, results)`` ingests rows in the CLI's batches."""

    truth = [str(r[gold]) for r in rows]
    half = len(rows) // 2
    plain, plain_results = ingest(None, rows)
    second = list(range(half, len(rows)))
    without = story_metrics(
        [truth[i] for i in second], _stories_now(plain, [plain_results[i].headline_id for i in second])
    )
    pipeline: Pipeline | None = None
    results: list[IngestResult] = []
    editor: Corrections | None = None
    made = 0
    batch = 100
    for start in range(0, half, batch):
        pipeline, got = ingest(pipeline, rows[start : min(half, start + batch)])
        results += got
        if editor is None:
            editor = Corrections(pipeline.store, on_change=pipeline.forget_assignments)
        made += correct_batch(
            pipeline, editor, truth, [r.headline_id for r in results], range(start, start + len(got)), budget - made
        )
    pipeline, got = ingest(pipeline, rows[half:])
    results += got
    assert pipeline is not None
    after = story_metrics([truth[i] for i in second], _stories_now(pipeline, [results[i].headline_id for i in second]))
    rule = current_rule(pipeline)
    return {
        "after_feedback": after,
        "without_feedback": without,
        "feedback": {
            "budget": budget,
            "corrections": made,
            "threshold": rule.threshold,
            "origin": rule.origin,
            "pairs": rule.pairs,
            "figures": rule.figures,
        },
    }
