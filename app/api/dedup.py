"""The newsroom check: "has this story already run?" Read-only: it stores nothing."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool

from ..matching.evidence import story_versions
from ..records import CheckResult
from ..store import HeadlineRow, StoryRow
from ..stories.confidence import confidence, verdict
from .headlines import validate_title
from .langs import check_lang
from .models import CheckIn, CheckMatchOut, CheckOut, error_responses
from .security import check_access
from .state import AppState
from .views import check_story, from_row, iso

router = APIRouter(prefix="/v1/dedup", tags=["dedup"])

#: the app's state, once the caller passed the read-key check and took a token of its rate limit
CheckedState = Annotated[AppState, Depends(check_access)]


@router.post(
    "/check",
    response_model=CheckOut,
    summary="Is this headline a duplicate of a stored story? (stores nothing)",
    responses=error_responses(400, 401, 413, 415, 429, 503),
)
async def check(body: CheckIn, state: CheckedState) -> Response:
    errors = validate_title(body.title, state.settings.max_title_chars, ["body", "title"])
    errors += check_lang(body.lang, state.settings.languages, ["body", "lang"])
    if errors:
        raise HTTPException(status_code=422, detail=errors)
    pipeline = state.require_pipeline()
    # ingest lets checks go first: from here, so that it also waits through the hop to the thread pool
    # and back and the answer's serialisation, which need the GIL an ingest batch would hold
    title, lang = body.title.strip(), body.lang.lower() if body.lang else None

    def work() -> tuple[CheckResult, tuple[StoryRow, list[HeadlineRow]] | None]:
        # the check, then the whole story it is about (matching/evidence.py), in one hop to the thread pool
        result = pipeline.check(title, lang)
        return result, story_versions(pipeline.store, result.closest_story_id)

    with pipeline.checking():
        result, story = await run_in_threadpool(work)
        return _answer(state, result, story)


def _answer(state: AppState, result: CheckResult, story: tuple[StoryRow, list[HeadlineRow]] | None) -> Response:
    state.metrics.inc("ticker_dedup_checks_total", duplicate=str(result.duplicate).lower())
    conf = confidence(result.score, result.threshold, result.duplicate) if result.closest_story_id is not None else 0.0
    about = result.story_id if result.duplicate else result.closest_story_id
    matches = [
        from_row(
            CheckMatchOut,
            m,
            published_at=iso(m.published_at),
            received_at=iso(m.received_at),
            same_story=about is not None and m.story_id == about,
        )
        for m in result.matches
    ]
    out = from_row(
        CheckOut,
        result,
        matches=matches,
        verdict=verdict(result.duplicate, conf),
        confidence=conf,
        related=[m for m in matches if not m.same_story],
        story=check_story(*story) if story is not None else None,
    )
    # Serialised here, once: the model was validated as it was built, and FastAPI would validate a
    # returned model again against response_model (which still documents the body).
    return Response(out.model_dump_json(), media_type="application/json")


def raw_check_errors(body: Any, request: Request) -> list[dict[str, Any]]:
    """The route's own checks on a body the schema refused (``errors.with_semantic_errors``)."""
    if not isinstance(body, dict):
        return []
    s = request.app.state.ticker.settings
    errors: list[dict[str, Any]] = []
    if isinstance(body.get("title"), str):
        errors += validate_title(body["title"], s.max_title_chars, ["body", "title"])
    if isinstance(body.get("lang"), str):
        errors += check_lang(body["lang"], s.languages, ["body", "lang"])
    return errors


check.semantic_errors = raw_check_errors  # type: ignore[attr-defined]
