from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse

from .feeds import feed_gauges
from .models import EncoderInfo, ErrorOut, Health, RetentionOut, error_responses
from .security import require_write
from .state import StateDep
from .views import iso

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


@router.get("/metrics", response_class=PlainTextResponse, summary="Prometheus metrics")
async def metrics(state: StateDep) -> PlainTextResponse:
    gauges: dict[str, float] = {"ticker_ready": 1.0 if state.ready.is_set() else 0.0}
    store = state.store
    if store is not None:
        # COUNT(*) grows with the table: keep it off the event loop.
        counts = await run_in_threadpool(lambda: (store.count_headlines(), store.count_stories()))
        gauges["ticker_store_headlines"], gauges["ticker_store_stories"] = map(float, counts)
        gauges.update(feed_gauges(await run_in_threadpool(store.feeds)))
    if state.topics is not None:
        gauges.update(state.topics.gauges())
    return PlainTextResponse(state.metrics.render(gauges), media_type="text/plain; version=0.0.4")


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
    return RetentionOut(
        stories=report.stories,
        headlines=report.headlines,
        cutoff=iso(report.cutoff),
        retention_days=state.settings.retention_days,
        seconds=round(report.seconds, 4),
    )
