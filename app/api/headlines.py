"""Ingestion: JSON batches and raw ticker captures.

A batch is all or nothing: when any item is invalid, the whole batch is rejected with a 422 that
lists every bad item and field, and nothing is stored. A 200 means every headline is committed.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.concurrency import run_in_threadpool

from ..ingest.split import split_capture
from ..pipeline import HeadlineInput, IngestResult
from .models import MAX_ID, HeadlineBatch, HeadlineOut, IngestResponse, IngestResultOut, IsoDateTime, StorableStr, error_responses
from .security import require_read, require_write
from .state import AppState, get_state
from .timeparse import to_epoch
from .views import headline_out

router = APIRouter(prefix="/v1", tags=["ingest"])

#: how far ahead of our clock a published_at may be (time zones, clock skew), in seconds
FUTURE_SLACK = 36 * 3600.0
#: the oldest published_at accepted: 1900-01-01
OLDEST = -2208988800.0


def _err(loc: list[Any], msg: str, kind: str) -> dict[str, Any]:
    return {"loc": loc, "msg": msg, "type": kind}


def validate_title(title: str, max_chars: int, loc: list[Any]) -> list[dict[str, Any]]:
    if not title.strip():
        return [_err(loc, "title is empty or only whitespace", "value_error.empty")]
    if len(title) > max_chars:
        return [_err(loc, f"title has {len(title)} characters; the limit is {max_chars}", "value_error.too_long")]
    if "\x00" in title:
        return [_err(loc, "title contains a NUL character", "value_error.nul")]
    return []


def validate_time(ts: float | None, loc: list[Any], now: float) -> list[dict[str, Any]]:
    if ts is None:
        return []
    if ts > now + FUTURE_SLACK:
        return [_err(loc, "published_at is more than 36 hours in the future", "value_error.future")]
    if ts < OLDEST:
        return [_err(loc, "published_at is before 1900", "value_error.past")]
    return []


def _out(r: IngestResult) -> IngestResultOut:
    return IngestResultOut(
        headline_id=r.headline_id, lang=r.lang, story_id=r.story_id, duplicate=r.duplicate, match=r.match,  # type: ignore[arg-type]
        score=r.score, matched_headline_id=r.matched_headline_id, idempotent_replay=r.idempotent_replay,
    )


async def _ingest(state: AppState, items: list[HeadlineInput]) -> IngestResponse:
    pipeline = state.require_pipeline()
    results = await run_in_threadpool(pipeline.ingest, items)
    stored = sum(1 for r in results if not r.idempotent_replay)
    state.metrics.inc("ticker_headlines_ingested_total", stored)
    state.metrics.inc("ticker_headlines_replayed_total", len(results) - stored)
    state.metrics.inc("ticker_headlines_duplicate_total", sum(1 for r in results if r.duplicate and not r.idempotent_replay))
    return IngestResponse(results=[_out(r) for r in results])


@router.post(
    "/headlines",
    response_model=IngestResponse,
    dependencies=[Depends(require_write)],
    summary="Ingest a batch of headlines",
    responses=error_responses(400, 401, 413, 415, 503),
)
async def post_headlines(batch: HeadlineBatch, state: AppState = Depends(get_state)) -> IngestResponse:
    s = state.settings
    errors: list[dict[str, Any]] = []
    if not batch.headlines:
        errors.append(_err(["body", "headlines"], "the batch holds no headlines", "value_error.empty"))
    if len(batch.headlines) > s.max_batch_size:
        errors.append(_err(["body", "headlines"], f"the batch holds {len(batch.headlines)} headlines; the limit is {s.max_batch_size}", "value_error.too_long"))
    now = time.time()
    items: list[HeadlineInput] = []
    for i, h in enumerate(batch.headlines[: s.max_batch_size]):
        loc = ["body", "headlines", i]
        errors += validate_title(h.title, s.max_title_chars, [*loc, "title"])
        ts = to_epoch(h.published_at)
        errors += validate_time(ts, [*loc, "published_at"], now)
        lang = h.lang.lower() if h.lang else None
        items.append(HeadlineInput(
            title=h.title.strip(), ext_id=str(h.id) if h.id is not None else None, source=h.source, url=h.url,
            published_at=ts, lang=lang,
        ))
    if errors:
        raise HTTPException(status_code=422, detail=errors)
    return await _ingest(state, items)


@router.post(
    "/ticker",
    response_model=IngestResponse,
    dependencies=[Depends(require_write)],
    summary="Ingest a raw ticker or article capture (text/plain)",
    openapi_extra={"requestBody": {"required": True, "content": {"text/plain": {"schema": {"type": "string"}}}}},
    responses=error_responses(400, 401, 413, 415, 503),
)
async def post_ticker(
    request: Request,
    source: StorableStr | None = Query(default=None, max_length=200, description="Outlet or feed name for every headline."),
    published_at: IsoDateTime | None = Query(default=None, description="ISO-8601 time of the capture."),
    state: AppState = Depends(get_state),
) -> IngestResponse:
    # BodyGuard already checked UTF-8; "-sig" drops the byte order mark Windows tools put first, which would
    # otherwise stick, invisible, to the first headline and keep it from matching the same title sent without.
    raw = (await request.body()).decode("utf-8-sig")
    s = state.settings
    ts = to_epoch(published_at)
    errors = validate_time(ts, ["query", "published_at"], time.time())
    titles = split_capture(raw)
    if not titles:
        errors.append(_err(["body"], "no headline found in the capture", "value_error.empty"))
    if len(titles) > s.max_batch_size:
        errors.append(_err(["body"], f"the capture holds {len(titles)} headlines; the limit is {s.max_batch_size}", "value_error.too_long"))
    for i, t in enumerate(titles[: s.max_batch_size]):
        errors += validate_title(t, s.max_title_chars, ["body", i])
    if errors:
        raise HTTPException(status_code=422, detail=errors)
    return await _ingest(state, [HeadlineInput(title=t, source=source, published_at=ts) for t in titles])



@router.get("/headlines/{headline_id}", response_model=HeadlineOut, dependencies=[Depends(require_read)],
            summary="One stored headline", responses=error_responses(401, 503, not_found="no such headline"))
async def get_headline(headline_id: int = Path(ge=0, le=MAX_ID), state: AppState = Depends(get_state)) -> HeadlineOut:
    store = state.require_store()

    def work() -> HeadlineOut | None:
        row = store.headlines([headline_id]).get(headline_id)
        if row is None:
            return None
        story = store.story(row.story_id)
        canon = store.embeddings([story.canonical_headline_id, row.id]) if story else {}
        return headline_out(row, canon.get(story.canonical_headline_id) if story else None, canon.get(row.id))

    out = await run_in_threadpool(work)
    if out is None:
        raise HTTPException(status_code=404, detail=f"headline {headline_id} does not exist")
    return out
