"""``/v1/matcher``: the story rule in force (its threshold, where it comes from, its figures) and a refit
of it from the editors' corrections."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from ..teach import current_rule, refit_rule
from .models import error_responses
from .security import require_read, require_write
from .state import AppState, StateDep
from .views import from_row

router = APIRouter(prefix="/v1/matcher", tags=["matcher"])


class MatcherOut(BaseModel):
    threshold: float
    #: "default" (fitted on the labelled sets), "configured" (TICKER_MATCH_THRESHOLD) or "corrections"
    origin: str
    #: corrections there were at the last refit, and the (headline, story) pairs they gave
    corrections: int
    pairs: int
    fitted_at: float | None
    #: the last refit's figures: train / validation balanced accuracy, the previous rule's, seconds
    figures: dict[str, Any]
    #: every weight of the rule (app/stories/score.py)
    params: dict[str, Any]


def _out(state: AppState) -> MatcherOut:
    pipeline = state.require_pipeline()
    rule = current_rule(pipeline)
    return from_row(MatcherOut, rule, params=asdict(pipeline.params))


@router.get(
    "",
    response_model=MatcherOut,
    summary="The story rule in force",
    dependencies=[Depends(require_read)],
    responses=error_responses(401, 503),
)
async def get_matcher(state: StateDep) -> MatcherOut:
    return await run_in_threadpool(_out, state)


@router.post(
    "/refit",
    response_model=MatcherOut,
    summary="Refit the threshold from the corrections now (API key)",
    dependencies=[Depends(require_write)],
    responses=error_responses(401, 503),
)
async def refit(state: StateDep) -> MatcherOut:
    pipeline = state.require_pipeline()

    def work() -> MatcherOut:
        refit_rule(pipeline, min_corrections=1)
        return _out(state)

    return await run_in_threadpool(work)
