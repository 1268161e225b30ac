"""Ingestion: JSON batches and raw ticker captures.

A batch is all or nothing: when any item is invalid, the whole batch is rejected with a 422 that
lists every bad item and field, and nothing is stored. A 200 means every headline is committed.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import TypeAdapter, ValidationError

from ..config import Settings
from ..ingest.normalise import has_content
from ..ingest.split import split_capture
from ..limits import FUTURE_SLACK, OLDEST
from ..records import HeadlineInput, IngestResult
from ..times import to_epoch
from .langs import check_lang
from .models import (
    HeadlineBatch,
    HeadlineOut,
    IngestResponse,
    IngestResultOut,
    IsoDateTime,
    StorableStr,
    error_responses,
)
from .params import RowId
from .security import require_read, require_write
from .state import AppState, StateDep
from .views import headline_out

router = APIRouter(prefix="/v1", tags=["ingest"])

_ISO: TypeAdapter[Any] = TypeAdapter(IsoDateTime)


def _err(loc: list[Any], msg: str, kind: str) -> dict[str, Any]:
    return {"loc": loc, "msg": msg, "type": kind}


def validate_title(title: str, max_chars: int, loc: list[Any]) -> list[dict[str, Any]]:
    if not title.strip():
        return [_err(loc, "title is empty or only whitespace", "value_error.empty")]
    if len(title) > max_chars:
        return [_err(loc, f"title has {len(title)} characters; the limit is {max_chars}", "value_error.too_long")]
    if "\x00" in title:
        return [_err(loc, "title contains a NUL character", "value_error.nul")]
    if not has_content(title):
        return [
            _err(
                loc,
                "title has no letter or digit: only spaces, punctuation, symbols or invisible characters",
                "value_error.no_content",
            )
        ]
    return []


def validate_time(ts: float | None, loc: list[Any], now: float) -> list[dict[str, Any]]:
    if ts is None:
        return []
    if ts > now + FUTURE_SLACK:
        return [_err(loc, "published_at is more than 36 hours in the future", "value_error.future")]
    if ts < OLDEST:
        return [_err(loc, "published_at is before 1900", "value_error.past")]
    return []


async def _ingest(state: AppState, items: list[HeadlineInput]) -> Response:
    pipeline = state.require_pipeline()

    def work() -> tuple[list[IngestResult], bytes]:
        # The answer is built and serialised in the thread too: a thousand results are CPU work.
        results = pipeline.ingest(items)
        return results, IngestResponse(
            results=[IngestResultOut.model_validate(r) for r in results]
        ).model_dump_json().encode()

    results, body = await run_in_threadpool(work)
    stored = sum(1 for r in results if not r.idempotent_replay)
    state.metrics.inc("ticker_headlines_ingested_total", stored)
    state.metrics.inc("ticker_headlines_replayed_total", len(results) - stored)
    state.metrics.inc(
        "ticker_headlines_duplicate_total", sum(1 for r in results if r.duplicate and not r.idempotent_replay)
    )
    return Response(body, media_type="application/json")


def _too_many(n: int, limit: int, what: str, loc: list[Any]) -> dict[str, Any]:
    return _err(loc, f"the {what} holds {n} headlines; the limit is {limit}", "value_error.too_long")


async def batch_within_limit(request: Request, state: StateDep) -> None:
    """Refuse a batch of more than TICKER_MAX_BATCH_SIZE items before its items are validated: pydantic
    checks every item and lists every error while it holds the GIL (2 MB of ``{}`` items: 6 s)."""
    if not await request.body():
        return  # FastAPI reports the missing body
    try:
        data = await request.json()  # parsed for the body already: the request keeps it, nothing is parsed twice
    except ValueError:
        return  # FastAPI reports broken JSON
    items = data.get("headlines") if isinstance(data, dict) else None
    limit = state.settings.max_batch_size
    if isinstance(items, list) and len(items) > limit:
        raise HTTPException(status_code=422, detail=[_too_many(len(items), limit, "batch", ["body", "headlines"])])


def _batch_items(batch: HeadlineBatch, s: Settings) -> tuple[list[HeadlineInput], list[dict[str, Any]]]:
    """The batch's items as pipeline inputs, and what is wrong with them."""
    errors: list[dict[str, Any]] = []
    if not batch.headlines:
        errors.append(_err(["body", "headlines"], "the batch holds no headlines", "value_error.empty"))
    now = time.time()
    items: list[HeadlineInput] = []
    for i, h in enumerate(batch.headlines):
        loc = ["body", "headlines", i]
        errors += validate_title(h.title, s.max_title_chars, [*loc, "title"])
        ts = to_epoch(h.published_at)
        errors += validate_time(ts, [*loc, "published_at"], now)
        errors += check_lang(h.lang, s.languages, [*loc, "lang"])
        lang = h.lang.lower() if h.lang else None
        items.append(
            HeadlineInput(
                title=h.title.strip(),
                ext_id=str(h.id) if h.id is not None else None,
                source=h.source,
                url=h.url,
                published_at=ts,
                lang=lang,
            )
        )
    return items, errors


def _capture_titles(body: bytes, s: Settings) -> tuple[list[str], list[dict[str, Any]]]:
    """The headlines of a raw capture, and what is wrong with them."""
    # BodyGuard already checked UTF-8; "-sig" drops the byte order mark Windows tools put first, which would
    # otherwise stick, invisible, to the first headline and keep it from matching the same title sent without.
    titles = split_capture(body.decode("utf-8-sig"))
    errors: list[dict[str, Any]] = []
    if not titles:
        errors.append(_err(["body"], "no headline found in the capture", "value_error.empty"))
    if len(titles) > s.max_batch_size:
        errors.append(_too_many(len(titles), s.max_batch_size, "capture", ["body"]))
    for i, t in enumerate(titles[: s.max_batch_size]):
        errors += validate_title(t, s.max_title_chars, ["body", i])
    return titles, errors


@router.post(
    "/headlines",
    response_model=IngestResponse,
    dependencies=[Depends(require_write), Depends(batch_within_limit)],
    summary="Ingest a batch of headlines",
    responses=error_responses(400, 401, 413, 415, 503),
)
async def post_headlines(batch: HeadlineBatch, state: StateDep) -> Response:
    # Checking up to TICKER_MAX_BATCH_SIZE titles is CPU work: in a thread, like the ingest itself.
    items, errors = await run_in_threadpool(_batch_items, batch, state.settings)
    if errors:
        raise HTTPException(status_code=422, detail=errors)
    return await _ingest(state, items)


def raw_item_errors(body: Any, request: Request) -> list[dict[str, Any]]:
    """The route's own checks (title, lang) on the items of a batch the schema refused, as far as they can be
    read: the 422 then lists every bad item, not only those the schema faulted (``errors.with_semantic_errors``)."""
    items = body.get("headlines") if isinstance(body, dict) else None
    if not isinstance(items, list):
        return []
    s: Settings = request.app.state.ticker.settings
    errors: list[dict[str, Any]] = []
    now = time.time()
    for i, h in enumerate(items[: s.max_batch_size]):
        if not isinstance(h, dict):
            continue
        loc = ["body", "headlines", i]
        if isinstance(h.get("title"), str):
            errors += validate_title(h["title"], s.max_title_chars, [*loc, "title"])
        if isinstance(h.get("published_at"), str):
            try:
                ts = to_epoch(_ISO.validate_python(h["published_at"]))
            except (ValueError, ValidationError):
                pass  # the schema reports it
            else:
                errors += validate_time(ts, [*loc, "published_at"], now)
        if isinstance(h.get("lang"), str):
            errors += check_lang(h["lang"], s.languages, [*loc, "lang"])
    return errors


post_headlines.semantic_errors = raw_item_errors  # type: ignore[attr-defined]


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
    state: StateDep,
    source: Annotated[
        StorableStr | None, Query(max_length=200, description="Outlet or feed name for every headline.")
    ] = None,
    published_at: Annotated[IsoDateTime | None, Query(description="ISO-8601 time of the capture.")] = None,
) -> Response:
    ts = to_epoch(published_at)
    errors = validate_time(ts, ["query", "published_at"], time.time())
    # Splitting takes time in proportion to the capture (up to TICKER_MAX_BODY_BYTES): in a thread, so that
    # one large capture does not hold up every other request.
    titles, capture_errors = await run_in_threadpool(_capture_titles, await request.body(), state.settings)
    errors += capture_errors
    if errors:
        raise HTTPException(status_code=422, detail=errors)
    return await _ingest(state, [HeadlineInput(title=t, source=source, published_at=ts) for t in titles])


@router.get(
    "/headlines/{headline_id}",
    response_model=HeadlineOut,
    dependencies=[Depends(require_read)],
    summary="One stored headline",
    responses=error_responses(401, 503, not_found="no such headline"),
)
async def get_headline(headline_id: RowId, state: StateDep) -> HeadlineOut:
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
