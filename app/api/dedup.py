"""The newsroom check: "has this story already run?" Read-only: it stores nothing."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException
from fastapi.concurrency import run_in_threadpool

from .headlines import validate_title
from .models import CheckIn, CheckMatchOut, CheckOut, error_responses
from .security import rate_limit_check, require_read
from .state import AppState, get_state
from .views import iso

router = APIRouter(prefix="/v1/dedup", tags=["dedup"])


@router.post(
    "/check",
    response_model=CheckOut,
    dependencies=[Depends(require_read), Depends(rate_limit_check)],
    summary="Is this headline a duplicate of a stored story? (stores nothing)",
    responses=error_responses(400, 401, 413, 415, 429, 503),
)
async def check(body: CheckIn, state: AppState = Depends(get_state)) -> CheckOut:
    errors = validate_title(body.title, state.settings.max_title_chars, ["body", "title"])
    if errors:
        raise HTTPException(status_code=422, detail=errors)
    pipeline = state.require_pipeline()
    result = await run_in_threadpool(pipeline.check, body.title.strip(), body.lang.lower() if body.lang else None)
    state.metrics.inc("ticker_dedup_checks_total", duplicate=str(result.duplicate).lower())
    return CheckOut(
        duplicate=result.duplicate, story_id=result.story_id, match=result.match, score=result.score,  # type: ignore[arg-type]
        threshold=result.threshold, lang=result.lang,
        matches=[
            CheckMatchOut(
                headline_id=m.headline_id, story_id=m.story_id, title=m.title, lang=m.lang, source=m.source,
                published_at=iso(m.published_at), score=m.score, cosine=m.cosine,
            )
            for m in result.matches
        ],
    )
