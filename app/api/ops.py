from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from .feeds import feed_gauges
from .metrics import CONTENT_TYPE
from .models import EncoderInfo, ErrorOut, Health, RetentionOut, error_responses
from .security import require_write
from .state import AppState, StateDep
from .views import from_row, iso

router = APIRouter(tags=["operations"])


@router.get("/livez", response_model=Health, summary="The process answers")
async def livez() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Health,
    summary="Ready once storage is open and the encoder is loaded",
    responses={503: {"model": Health}},
)
async def readyz(state: StateDep):
    if state.ready.is_set() and state.pipeline is not None:
        return Health(status="ready", encoder=EncoderInfo.model_validate(state.encoder_info))
    detail = state.startup_error or "loading the encoder"
    return JSONResponse(
        status_code=503, content={"status": "starting" if not state.startup_error else "failed", "detail": detail}
    )


def scrape_gauges(state: AppState) -> dict[str, float]:
    """/metrics gauges, computed at each scrape (blocking: the store counts; render runs in a thread)."""
    gauges: dict[str, float] = {"ticker_ready": 1.0 if state.ready.is_set() else 0.0}
    store = state.store
    if store is not None:
        gauges["ticker_store_headlines"] = float(store.count_headlines())
        gauges["ticker_store_stories"] = float(store.count_stories())
        gauges.update(feed_gauges(store.feeds()))
    if state.topics is not None:
        gauges.update(state.topics.gauges())
    return gauges


@router.get("/metrics", response_class=PlainTextResponse, summary="Prometheus metrics")
async def metrics(state: StateDep) -> Response:
    # COUNT(*) grows with the table, and the gauges are computed during the render: keep it off the event loop.
    body = await run_in_threadpool(state.metrics.render)
    return Response(body, media_type=CONTENT_TYPE)


@router.post(
    "/v1/retention/run",
    response_model=RetentionOut,
    dependencies=[Depends(require_write)],
    summary="Delete the stories TICKER_RETENTION_DAYS says are due, now",
    responses={
        **error_responses(401, 503),
        409: {"description": "retention is off (TICKER_RETENTION_DAYS=0)", "model": ErrorOut},
    },
)
async def run_retention(state: StateDep) -> RetentionOut:
    state.require_pipeline()  # retention starts with the rest of the service
    retention = state.retention
    if retention is None or not retention.enabled:
        raise HTTPException(status_code=409, detail="retention is off: set TICKER_RETENTION_DAYS to a number of days")
    report = await run_in_threadpool(retention.run)
    return from_row(
        RetentionOut,
        report,
        cutoff=iso(report.cutoff),
        retention_days=state.settings.retention_days,
        seconds=round(report.seconds, 4),
    )
