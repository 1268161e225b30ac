"""Topics for the dashboard. Cheap to poll: ETag / If-None-Match answers 304 while nothing changed, and the
body of the current ETag is kept, so that many dashboards polling an unchanged store cost one build."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Annotated, Any, Sequence

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response

try:
    import orjson
except ImportError:  # a dependency (pyproject); json does the same, slower
    orjson = None  # type: ignore[assignment]
from fastapi.concurrency import run_in_threadpool

from ..store import Store, StoryRow, TopicRow
from ..times import to_epoch
from ..topics.names import reader_first
from ..topics.worker import WorkerError, collector_paused
from .models import ClustersOut, IsoDateTime, RefitOut, TopicEventsOut, TopicOut, error_responses
from .params import ReaderLang, RowId
from .security import require_read, require_write
from .state import AppState, StateDep
from .views import from_row, iso, story_cards

router = APIRouter(prefix="/v1/clusters", tags=["topics"])

#: stories shown per topic by default; a topic's others page through ``GET /v1/stories?topic_id=``
STORIES_PER_TOPIC = 5


def _topic_dicts(
    store: Store,
    topics: list[TopicRow],
    stats: dict,
    n: int,
    since: float | None,
    also: Sequence[StoryRow] = (),
    reader: str | None = None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The topics as ``TopicOut`` shows them (plain dicts, its field order) with their newest stories, and
    the cards of the stories ``also`` (in no topic), in a number of store calls that does not grow with
    the topics (one ``story_cards`` for all: under load every query is a wait for the GIL)."""
    pages = store.topic_story_pages([t.id for t in topics], n, since)
    shown = [s for t in topics for s in pages.get(t.id, [])]
    cards = {card["id"]: card for card in story_cards(store, [*shown, *also])}
    by_topic: dict[int, list[dict[str, Any]]] = {}
    for s in shown:
        if s.id in cards:
            by_topic.setdefault(s.topic_id, []).append(cards[s.id])  # type: ignore[arg-type]
    out = []
    for t in topics:
        st = stats.get(t.id, {})
        words, langs = reader_first(t.keywords, t.keyword_langs, reader)
        out.append(
            {
                "id": t.id,
                "label": t.label,
                "category": t.category,
                "label_score": round(t.label_score, 4),
                "keywords": words,
                "keyword_langs": langs,
                "size": t.size,
                "n_stories": st.get("n_stories", 0),
                "n_headlines": st.get("n_headlines", 0),
                "languages": st.get("languages", []),
                "first_seen": iso(st.get("first_seen")),
                "last_seen": iso(st.get("last_seen")),
                "stories": by_topic.get(t.id, []),
            }
        )
    return out, [cards[s.id] for s in also if s.id in cards]


def _etag(store: Store, *parts: object) -> str:
    # recent_count ("growing fast") moves with the clock, so the minute is part of the version.
    raw = f"{store.data_version()}|{int(time.time() // 60)}|{'|'.join(map(str, parts))}"
    return '"' + hashlib.sha1(raw.encode()).hexdigest()[:20] + '"'


def reader_lang(request: Request, lang: str | None) -> str | None:
    """The reader's language: ``lang`` if given, else the first of the browser's Accept-Language."""
    if lang:
        return lang
    first = request.headers.get("accept-language", "").split(",")[0].split(";")[0].strip()
    return first.split("-")[0].lower()[:8] or None


def _not_modified(request: Request, etag: str) -> bool:
    given = request.headers.get("if-none-match", "")
    return etag in [tag.strip().removeprefix("W/") for tag in given.split(",")]


def _json(body: Any) -> bytes:
    """The body as JSON, as JSONResponse renders it (compact, UTF-8), without validating it again: orjson
    takes 1 ms for the view at 10,000 stories, json 10 (kept as the fallback)."""
    if orjson is not None:
        return orjson.dumps(body)
    return json.dumps(body, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")


@dataclass
class _Kept:
    """The last body built, as (store, ETag, body): another request with that ETag gets the body as it is.
    Any write moves the store's data version, hence the ETag, so the next request builds anew. One
    tuple, replaced whole: a reader never sees one ETag with another's body."""

    last: tuple[Store, str, bytes] | None = None
    #: a burst of polls after a write builds the body once; the others wait for it
    lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, store: Store, etag: str) -> bytes | None:
        last = self.last
        return last[2] if last is not None and last[0] is store and last[1] == etag else None


def _kept(state: AppState) -> _Kept:
    kept = state.extra.get("clusters_body")
    if kept is None:
        kept = state.extra.setdefault("clusters_body", _Kept())
    return kept


@router.get(
    "",
    response_model=ClustersOut,
    dependencies=[Depends(require_read)],
    summary="Topics with their newest stories",
    responses={304: {"description": "unchanged since If-None-Match"}, **error_responses(401, 503)},
)
async def clusters(
    state: StateDep,
    request: Request,
    since: Annotated[IsoDateTime | None, Query(description="Only stories seen at or after this time.")] = None,
    stories_per_topic: Annotated[
        int,
        Query(
            ge=1,
            le=200,
            description="Newest stories shown per topic; `n_stories` says how many it "
            "holds, `GET /v1/stories?topic_id=` pages through them.",
        ),
    ] = STORIES_PER_TOPIC,
    unassigned_limit: Annotated[int, Query(ge=0, le=500)] = 30,
    lang: ReaderLang = None,
):
    store = state.require_store()
    reader = reader_lang(request, lang)
    etag = _etag(store, since, stories_per_topic, unassigned_limit, reader)
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if _not_modified(request, etag):
        return Response(status_code=304, headers=headers)
    since_ts = to_epoch(since)
    kept = _kept(state)

    def build() -> bytes:
        topics = store.topics(centroids=False)
        stats = store.topic_stats()
        rows, unassigned_total = store.list_stories(limit=unassigned_limit, offset=0, unassigned=True, since=since_ts)
        out, unassigned = _topic_dicts(store, topics, stats, stories_per_topic, since_ts, also=rows, reader=reader)
        out = [t for t in out if t["stories"] or since_ts is None]
        out.sort(key=lambda t: (t["last_seen"] or "", t["size"]), reverse=True)
        return _json(
            {
                "version": etag.strip('"'),
                "generated_at": iso(time.time()) or "",
                "topics": out,
                "unassigned": unassigned,
                "unassigned_total": unassigned_total,
            }
        )

    def work() -> bytes:
        with kept.lock:
            body = kept.get(store, etag)
            if body is None:
                # A build makes ~100k objects (rows, cards), all dead by their reference counts once the
                # body is out: without a pause they set off full collections of the whole heap, 170-200 ms
                # each, one every few builds (the view's p95 was 4x its median).
                with collector_paused():
                    body = build()
                kept.last = (store, etag, body)
            return body

    body = kept.get(store, etag)
    if body is None:
        body = await run_in_threadpool(work)
    return Response(content=body, media_type="application/json", headers=headers)


@router.get(
    "/events",
    response_model=TopicEventsOut,
    dependencies=[Depends(require_read)],
    summary="How topic ids moved across refits: new, merge, split, retired (newest first)",
)
async def events(state: StateDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> TopicEventsOut:
    store = state.require_store()
    rows = await run_in_threadpool(store.topic_events, limit)
    return TopicEventsOut(events=[{**e, "at": iso(e.get("at"))} for e in rows])


# ":digits" so that /v1/clusters/refit is not taken for a topic id: GET or OPTIONS on it get 405 "Allow: POST".
@router.get(
    "/{topic_id:digits}",
    response_model=TopicOut,
    dependencies=[Depends(require_read)],
    summary="One topic",
    responses=error_responses(401, 503, not_found="no such topic"),
)
async def cluster(
    state: StateDep,
    request: Request,
    topic_id: RowId,
    stories: Annotated[int, Query(ge=1, le=500)] = 50,
    lang: ReaderLang = None,
) -> TopicOut:
    store = state.require_store()
    reader = reader_lang(request, lang)

    def work() -> TopicOut | None:
        t = next((t for t in store.topics(centroids=False) if t.id == topic_id), None)
        if t is None:
            return None
        return TopicOut.model_validate(
            _topic_dicts(store, [t], store.topic_stats(), stories, None, reader=reader)[0][0]
        )

    out = await run_in_threadpool(work)
    if out is None:
        raise HTTPException(status_code=404, detail=f"topic {topic_id} does not exist")
    return out


@router.post(
    "/refit",
    response_model=RefitOut,
    dependencies=[Depends(require_write)],
    summary="Refit topics now",
    responses=error_responses(401, 409, 500, 503),
)
async def refit(state: StateDep) -> RefitOut:
    state.require_pipeline()
    assert state.topics is not None
    try:
        report = await run_in_threadpool(state.topics.refit)
    except WorkerError as exc:  # the previous topics stay in place
        raise HTTPException(status_code=500, detail=f"topic refit failed: {exc}") from None
    if report.skipped:
        raise HTTPException(status_code=409, detail="a refit is already running")
    return from_row(
        RefitOut,
        report,
        noise_fraction=round(report.noise_fraction, 4),
        seconds=round(report.seconds, 3),
        worker_peak_rss_mib=None if report.worker_peak_rss_mib is None else round(report.worker_peak_rss_mib, 1),
    )
