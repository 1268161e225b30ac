"""Topics for the dashboard. Cheap to poll: ETag / If-None-Match answers 304 while nothing changed."""

from __future__ import annotations

import hashlib
import time

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from ..store import Store, TopicRow
from ..topics.worker import WorkerError
from .models import ClustersOut, IsoDateTime, RefitOut, TopicEventsOut, TopicOut, error_responses
from .params import RowId
from .security import require_read, require_write
from .state import AppState, get_state
from .timeparse import to_epoch
from .views import iso, stories_out

router = APIRouter(prefix="/v1/clusters", tags=["topics"])


def _topic_outs(store: Store, topics: list[TopicRow], stats: dict, n: int, since: float | None) -> list[TopicOut]:
    """The topics with their newest stories, in a number of queries that does not grow with the topics."""
    pages = store.topic_story_pages([t.id for t in topics], n, since)
    shown = stories_out(store, [s for t in topics for s in pages.get(t.id, [])])
    by_topic: dict[int, list] = {}
    for story in shown:
        by_topic.setdefault(story.topic_id, []).append(story)
    out = []
    for t in topics:
        st = stats.get(t.id, {})
        out.append(TopicOut(
            id=t.id, label=t.label, label_score=round(t.label_score, 4), keywords=t.keywords,
            size=t.size, n_headlines=st.get("n_headlines", 0), languages=st.get("languages", []),
            first_seen=iso(st.get("first_seen")), last_seen=iso(st.get("last_seen")), stories=by_topic.get(t.id, []),
        ))
    return out


def _etag(store: Store, *parts: object) -> str:
    # recent_count ("growing fast") moves with the clock, so the minute is part of the version.
    raw = f"{store.data_version()}|{int(time.time() // 60)}|{'|'.join(map(str, parts))}"
    return '"' + hashlib.sha1(raw.encode()).hexdigest()[:20] + '"'


def _not_modified(request: Request, etag: str) -> bool:
    given = request.headers.get("if-none-match", "")
    return etag in [tag.strip().removeprefix("W/") for tag in given.split(",")]


@router.get("", response_model=ClustersOut, dependencies=[Depends(require_read)],
            summary="Topics with their newest stories",
            responses={304: {"description": "unchanged since If-None-Match"}, **error_responses(401, 503)})
async def clusters(
    request: Request,
    response: Response,
    since: IsoDateTime | None = Query(None, description="Only stories seen at or after this time."),
    stories_per_topic: int = Query(10, ge=1, le=200),
    unassigned_limit: int = Query(30, ge=0, le=500),
    state: AppState = Depends(get_state),
):
    store = state.require_store()
    etag = _etag(store, since, stories_per_topic, unassigned_limit)
    if _not_modified(request, etag):
        return Response(status_code=304, headers={"ETag": etag, "Cache-Control": "no-cache"})
    since_ts = to_epoch(since)

    def work() -> ClustersOut:
        topics = store.topics()
        stats = store.topic_stats()
        out = _topic_outs(store, topics, stats, stories_per_topic, since_ts)
        out = [t for t in out if t.stories or since_ts is None]
        out.sort(key=lambda t: (t.last_seen or "", t.size), reverse=True)
        rows, _ = store.list_stories(limit=unassigned_limit, offset=0, unassigned=True, since=since_ts)
        return ClustersOut(
            version=etag.strip('"'), generated_at=iso(time.time()) or "", topics=out, unassigned=stories_out(store, rows)
        )

    body = await run_in_threadpool(work)
    response.headers["ETag"] = etag
    response.headers["Cache-Control"] = "no-cache"
    return body


@router.get("/events", response_model=TopicEventsOut, dependencies=[Depends(require_read)],
            summary="How topic ids moved across refits: new, merge, split, retired (newest first)")
async def events(limit: int = Query(100, ge=1, le=1000), state: AppState = Depends(get_state)) -> TopicEventsOut:
    store = state.require_store()
    rows = await run_in_threadpool(store.topic_events, limit)
    return TopicEventsOut(events=[{**e, "at": iso(e.get("at"))} for e in rows])


# ":digits" so that /v1/clusters/refit is not taken for a topic id: GET or OPTIONS on it get 405 "Allow: POST".
@router.get("/{topic_id:digits}", response_model=TopicOut, dependencies=[Depends(require_read)],
            summary="One topic", responses=error_responses(401, 503, not_found="no such topic"))
async def cluster(topic_id: RowId, stories: int = Query(50, ge=1, le=500), state: AppState = Depends(get_state)) -> TopicOut:
    store = state.require_store()

    def work() -> TopicOut | None:
        t = next((t for t in store.topics() if t.id == topic_id), None)
        return None if t is None else _topic_outs(store, [t], store.topic_stats(), stories, None)[0]

    out = await run_in_threadpool(work)
    if out is None:
        raise HTTPException(status_code=404, detail=f"topic {topic_id} does not exist")
    return out


@router.post("/refit", response_model=RefitOut, dependencies=[Depends(require_write)], summary="Refit topics now",
             responses=error_responses(401, 409, 500, 503))
async def refit(state: AppState = Depends(get_state)) -> RefitOut:
    state.require_pipeline()
    assert state.topics is not None
    try:
        report = await run_in_threadpool(state.topics.refit)
    except WorkerError as exc:  # the previous topics stay in place
        raise HTTPException(status_code=500, detail=f"topic refit failed: {exc}") from None
    if report.skipped:
        raise HTTPException(status_code=409, detail="a refit is already running")
    return RefitOut(n_stories=report.n_stories, n_topics=report.n_topics, noise_fraction=round(report.noise_fraction, 4),
                    seconds=round(report.seconds, 3), events=report.events, in_child=report.in_child,
                    worker_peak_rss_mib=None if report.worker_peak_rss_mib is None else round(report.worker_peak_rss_mib, 1))
