"""The decision rule in force, and its refit from editors' corrections.

A correction is a label: a headline merged or moved into a story is "the same story" as it, one moved
out of a story is "not the same story". The rule's score for each labelled (headline, story) pair is
worked out again by the pipeline (the headline's candidates, without itself), and the threshold is
refitted with guard rails (``app/stories/teach.py``). The rule is kept in the store, so that every
replica applies the one fitted rule, and a restart keeps it.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

from .corrections import bump_version
from .stories.teach import Sample, fit_threshold

if TYPE_CHECKING:
    from .pipeline import Pipeline

__all__ = [
    "Rule",
    "RULE_KEY",
    "current_rule",
    "labelled_pairs",
    "refit_rule",
    "apply_stored_rule",
    "due",
    "after_correction",
]

RULE_KEY = "matcher_rule"
#: the newest corrections a refit learns from (each needs a candidate search: ~2-5 ms)
MAX_CORRECTIONS = 1000
#: how far one refit may move the threshold
MAX_STEP = 0.2


@dataclass
class Rule:
    threshold: float
    #: "default" (fitted on the labelled sets), "configured" (TICKER_MATCH_THRESHOLD) or "corrections"
    origin: str
    corrections: int = 0
    pairs: int = 0
    fitted_at: float | None = None
    figures: dict[str, Any] = field(default_factory=dict)


def current_rule(pipeline: "Pipeline") -> Rule:
    """The rule in force: the one refitted from corrections (stored), else the configured or default one."""
    stored = pipeline.store.get_meta(RULE_KEY)
    if stored and pipeline.settings.match_threshold is None:
        return Rule(**json.loads(stored))
    origin = "configured" if pipeline.settings.match_threshold is not None else "default"
    return Rule(
        threshold=pipeline.params.threshold if origin == "configured" else _default_threshold(pipeline), origin=origin
    )


def _default_threshold(pipeline: "Pipeline") -> float:
    from .pipeline import match_params

    return match_params(pipeline.settings).threshold


def apply_stored_rule(pipeline: "Pipeline") -> None:
    """Match with the rule the store holds, when it holds one (a configured TICKER_MATCH_THRESHOLD wins)."""
    if pipeline.settings.match_threshold is not None or not pipeline.store.get_meta(RULE_KEY):
        return
    rule = current_rule(pipeline)
    if pipeline.params.threshold != rule.threshold:
        pipeline.params = replace(pipeline.params, threshold=rule.threshold)


def labelled_pairs(pipeline: "Pipeline", limit: int = MAX_CORRECTIONS) -> list[tuple[int, int, bool]]:
    """(headline id, story id, same story?) from the newest corrections still in force, oldest first."""
    rows, _ = pipeline.store.corrections(limit=limit, offset=0)
    out: list[tuple[int, int, bool]] = []
    for c in reversed(rows):
        if c.undone_at is not None or c.kind not in ("merge", "move"):
            continue
        target = c.payload.get("into") if c.kind == "merge" else c.payload.get("to_story_id")
        for hid, left in c.undo.get("moved", {}).items():
            if c.kind == "move":
                out.append((int(hid), int(left), False))
            if target is not None:
                out.append((int(hid), int(target), True))
    return out


def refit_rule(pipeline: "Pipeline", min_corrections: int | None = None) -> Rule:
    """Refit the threshold from the corrections, store the rule and apply it. Returns the rule in force."""
    settings = pipeline.settings
    before = current_rule(pipeline)
    if settings.match_threshold is not None:
        return before  # the operator pinned the threshold
    _, total = pipeline.store.corrections(limit=1, offset=0)
    if total < (settings.teach_min_corrections if min_corrections is None else min_corrections):
        return before
    t0 = time.perf_counter()
    samples = []
    for hid, sid, same in labelled_pairs(pipeline):
        scores = pipeline.story_scores_of(hid)
        if sid in scores:  # a story that is not even a candidate says nothing about the threshold
            samples.append(Sample(scores[sid], same))
    fit = fit_threshold(samples, before.threshold, max_step=MAX_STEP)
    figures = {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(fit).items()}
    figures["seconds"] = round(time.perf_counter() - t0, 3)
    rule = Rule(
        threshold=fit.threshold,
        origin="corrections" if fit.changed or before.origin == "corrections" else before.origin,
        corrections=total,
        pairs=len(samples),
        fitted_at=time.time(),
        figures=figures,
    )
    with pipeline.store.transaction():
        pipeline.store.set_meta(RULE_KEY, json.dumps(asdict(rule)))
        bump_version(pipeline.store)
    apply_stored_rule(pipeline)
    return rule


def after_correction(pipeline: "Pipeline") -> Rule | None:
    """What follows an editor's correction: a refit of the rule when this correction makes it due."""
    _, total = pipeline.store.corrections(limit=1, offset=0)
    if due(total, pipeline.settings.teach_min_corrections, pipeline.settings.teach_every):
        return refit_rule(pipeline)
    return None


def due(total: int, min_corrections: int, every: int) -> bool:
    """Whether the correction that made ``total`` calls for a refit: at ``min_corrections``, then every
    ``every`` more."""
    return min_corrections > 0 and total >= min_corrections and (total - min_corrections) % max(1, every) == 0
