"""The ASGI application, served by ``python -m app`` (``app/serve.py``, uvicorn configured from the settings).

Start-up loads the encoder in a background thread so that /livez answers at once and /readyz
says when the service can take headlines; nothing else waits on it.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import AsyncIterator

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from embeddings import Encoder, describe, load_encoder

from .api import clusters, corrections, dedup, headlines, matcher, ops, stories
from .api import feeds as feeds_api
from .api.body_timeout import BodyTimeout
from .api.docs import add_docs
from .api.errors import method_not_allowed_handler, validation_error_handler
from .api.metrics import Metrics
from .api.middleware import BodyGuard, Timing
from .api.ratelimit import RateLimiter
from .api.security import KeyGate
from .api.state import AppState
from .config import ConfigError, Settings, load_settings
from .feeds.poller import FeedPoller
from .ingest.lang import LanguageDetector
from .pipeline import Pipeline
from .retention import RetentionService
from .sample import load_sample_data
from .store import open_store
from .topics.service import TopicService

log = logging.getLogger("ticker")
WEB = Path(__file__).parent / "web"


def check_encoder(store, name: str) -> None:
    """Vectors of two models are not comparable, even at the same dimension: refuse to mix them."""
    stored = store.get_meta("encoder")
    if stored is None:
        store.set_meta("encoder", name)
    elif stored != name:
        raise RuntimeError(
            f"the store was built with encoder {stored!r} but TICKER_ENCODER gives {name!r}; "
            "use the same encoder or another TICKER_DATA_DIR / database"
        )


def _freeze_gc() -> None:
    """Leave what start-up built (models, the store's caches, the sample data) out of the garbage
    collector's full passes from now on. A full pass holds the GIL from start to end: with 10,000
    stories loaded, two of them in a topic refit took 134 and 185 ms, and a dedup check arriving then
    waited that long; after a freeze, 41 and 83 ms."""
    gc.collect()
    gc.freeze()


def _start(state: AppState, encoder: Encoder | None, memory: bool, freeze_gc: bool = False) -> None:
    s = state.settings
    # What is under way, for callers: an exception's own text may hold the data directory's path or the
    # database DSN, so it goes to the log only.
    failed = "the encoder could not be loaded"
    try:
        enc = encoder or load_encoder(s.encoder, threads=s.encoder_threads, batch_size=s.encoder_batch_size)
        failed = "the store could not be opened"
        store = open_store(s, enc.dim, memory=memory)
        failed = "the store was built with another encoder, or could not be read"
        check_encoder(store, enc.name)
        state.store = store
        failed = "the matching pipeline could not be prepared"
        pipeline = Pipeline(s, store, enc, LanguageDetector(s.languages, preload=True))
        pipeline.warm_up()
        t0 = time.perf_counter()
        cached = pipeline.warm_cache()
        if cached:
            log.info("matching cache: the newest %d stored headlines read in %.1fs", cached, time.perf_counter() - t0)
        t0 = time.perf_counter()
        counted = pipeline.warm_rarity()
        if counted:
            log.info(
                "rarity of names and words: %d stored headlines counted in %.1fs", counted, time.perf_counter() - t0
            )
        failed = "the topic service could not be started"
        topics = TopicService(s, store, enc)
        pipeline.listeners.append(topics.on_stories)
        state.pipeline, state.topics = pipeline, topics
        if s.load_sample_data and store.count_headlines() == 0:
            failed = "the sample data could not be loaded"
            n = load_sample_data(pipeline)
            log.info("loaded %d sample headlines", n)
            topics.refit()
        failed = "the background services could not be started"
        topics.start()

        def deleted(stories: int, headlines: int) -> None:
            state.metrics.inc("ticker_retention_deleted_stories_total", stories)
            state.metrics.inc("ticker_retention_deleted_headlines_total", headlines)

        state.retention = RetentionService(s, store, on_deleted=deleted)
        state.retention.start()
        # feeds: their entries go through the same pipeline as a POST (docs/feeds.md)
        state.feeds = FeedPoller(s, store, pipeline.ingest, metrics=state.metrics)
        if s.feeds_poll:
            state.feeds.start()
        if freeze_gc:
            _freeze_gc()
        info = state.encoder_info = describe(enc)
        state.ready.set()
        bits = f"/w{info['weight_bits']}" if info.get("weight_bits") else ""
        precision = " ".join(p for p in (f"{info.get('precision') or ''}{bits}", str(info.get("runtime") or "")) if p)
        log.info(
            "ready: encoder %s%s (%d-d), store %s",
            enc.name,
            f" {precision}" if precision else "",
            enc.dim,
            store.backend,
        )
    except Exception:  # /readyz and every route say what failed; the process stays up so that they can
        log.exception("start-up failed: %s", failed)
        state.startup_error = f"start-up failed: {failed}; see the server log"


def _configure_logging(level: str) -> None:
    """TICKER_LOG_LEVEL for the service's own loggers ("ticker.*"): uvicorn configures only its own."""
    logger = logging.getLogger("ticker")
    try:
        logger.setLevel(level.upper())
    except ValueError:
        raise ConfigError(f"TICKER_LOG_LEVEL={level!r}: expected debug, info, warning, error or critical") from None
    if not logger.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)-9s %(name)s: %(message)s"))
        logger.addHandler(handler)


def create_app(
    settings: Settings | None = None,
    *,
    encoder: Encoder | None = None,
    memory: bool = False,
    wait_ready: bool = False,
    freeze_gc: bool = False,
) -> FastAPI:
    """Build the app. ``encoder`` lets tests share one loaded encoder; ``memory`` uses an in-memory store.
    ``freeze_gc``: once started, leave what start-up built out of the garbage collector's full passes
    (the served app does; a process that builds many apps, like the test suite, need not)."""
    settings = settings or load_settings()
    _configure_logging(settings.log_level)
    metrics = Metrics()
    state = AppState(settings=settings, metrics=metrics, rate_limiter=RateLimiter(settings.dedup_rate_per_minute))
    metrics.set_gauges(lambda: ops.scrape_gauges(state))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        thread = threading.Thread(
            target=_start, args=(state, encoder, memory, freeze_gc), name="ticker-start", daemon=True
        )
        thread.start()
        if wait_ready:
            thread.join()
        yield
        thread.join(timeout=60)
        if state.feeds is not None:
            state.feeds.stop()
        if state.topics is not None:
            state.topics.stop()
        if state.retention is not None:
            state.retention.stop()
        if state.store is not None:
            state.store.close()

    app = FastAPI(
        title="Ticker dedup",
        version="0.1.0",
        summary="Headline ticker deduplication (across languages) and topic clustering.",
        lifespan=lifespan,
        docs_url=None,  # served by add_docs, with their assets from the service itself
        redoc_url=None,
    )
    app.state.ticker = state
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(StarletteHTTPException, method_not_allowed_handler)
    for router in (
        headlines.router,
        stories.router,
        dedup.router,
        clusters.router,
        corrections.router,
        matcher.router,
        ops.router,
    ):
        app.include_router(router)
    app.include_router(feeds_api.router)
    add_docs(app)

    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    async def dashboard() -> FileResponse:
        return FileResponse(WEB / "index.html", media_type="text/html")

    @app.api_route("/plugin.js", methods=["GET", "HEAD"], include_in_schema=False)
    async def plugin_js() -> FileResponse:
        return FileResponse(WEB / "plugin.js", media_type="application/javascript")

    @app.api_route("/plugin-demo", methods=["GET", "HEAD"], include_in_schema=False)
    async def plugin_demo() -> FileResponse:
        return FileResponse(WEB / "plugin-demo.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=WEB), name="static")

    app.add_middleware(BodyGuard, max_body_bytes=settings.max_body_bytes)
    # Added after the body guard, so outside it: a request without the key gets its 401 before any body check.
    app.add_middleware(KeyGate, settings=settings)
    # Outside the body guard, so the guard's reads have the deadline; inside Timing, so a 408 is counted.
    app.add_middleware(BodyTimeout, seconds=settings.body_timeout_seconds)
    app.add_middleware(Timing, metrics=metrics)
    if settings.cors_origins:
        # Added last, so outermost: the body guard's 400/413/415 carry the CORS headers too, and the plugin
        # in the CMS can read them instead of seeing an opaque network error.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "X-API-Key", "Content-Type", "If-None-Match"],
            expose_headers=["ETag"],
        )
    return app


def __getattr__(name: str) -> FastAPI:
    # ``app`` is built on first access, so importing this module (tests, tools) reads no environment.
    if name == "app":
        application = create_app(freeze_gc=True)
        globals()["app"] = application
        return application
    raise AttributeError(name)
