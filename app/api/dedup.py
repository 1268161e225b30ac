"""The newsroom check: "has this story already run?" Read-only: it stores nothing."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Response
from fastapi.concurrency import run_in_threadpool

from ..pipeline import CheckResult
from .headlines import validate_title
from .models import CheckIn, CheckMatchOut, CheckOut, error_responses
from .security import check_access
from .state import AppState
from .views import iso

router = APIRouter(prefix="/v1/dedup", tags=["dedup"])


@router.post(
    "/check",
    response_model=CheckOut,
    summary="Is this headline a duplicate of a stored story? (stores nothing)",
    responses=error_responses(400, 401, 413, 415, 429, 503),
)
async def check(body: CheckIn, state: AppState = Depends(check_access)) -> Response:
    errors = validate_title(body.title, state.settings.max_title_chars, ["body", "title"])
    if errors:
        raise HTTPException(status_code=422, detail=errors)
    pipeline = state.require_pipeline()
    # ingest lets checks go first: from here, so that it also waits through the hop to the thread pool
    # and back and the answer's serialisation, which need the GIL an ingest batch would hold
    with pipeline.checking():
        result = await run_in_threadpool(pipeline.check, body.title.strip(), body.lang.lower() if body.lang else None)
        return _answer(state, result)


def _answer(state: AppState, result: CheckResult) -> Response:
    state.metrics.inc("ticker_dedup_checks_total", duplicate=str(result.duplicate).lower())
    out = CheckOut(
        duplicate=result.duplicate, story_id=result.story_id, match=result.match, score=result.score,  # type: ignore[arg-type]
        threshold=result.threshold, lang=result.lang,
        matches=[
            CheckMatchOut(
                headline_id=m.headline_id, story_id=m.story_id, title=m.title, lang=m.lang, source=m.source,
                published_at=iso(m.published_at), score=m.score, cosine=m.cosine, terms=m.terms,
            )
            for m in result.matches
        ],
    )
    # Serialised here, once: the model was validated as it was built, and FastAPI would validate a
    # returned model again against response_model (which still documents the body).
    return Response(out.model_dump_json(), media_type="application/json")
