"""What the routers share: settings, store, pipeline and friends, reached through ``Depends(get_state)``."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, HTTPException, Request

from ..config import Settings
from .metrics import Metrics
from .ratelimit import RateLimiter

if TYPE_CHECKING:
    from ..feeds.poller import FeedPoller
    from ..pipeline import Pipeline
    from ..retention import RetentionService
    from ..store import Store
    from ..topics.service import TopicService


@dataclass
class AppState:
    settings: Settings
    metrics: Metrics
    rate_limiter: RateLimiter
    store: "Store | None" = None
    pipeline: "Pipeline | None" = None
    topics: "TopicService | None" = None
    retention: "RetentionService | None" = None
    #: the feed poller (app/feeds/), made at start-up; running unless TICKER_FEEDS_POLL is off
    feeds: "FeedPoller | None" = None
    ready: threading.Event = field(default_factory=threading.Event)
    startup_error: str | None = None
    #: what the encoder says of itself (precision, runtime, CPU), read once at start-up for /readyz
    encoder_info: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def require_pipeline(self) -> "Pipeline":
        if self.pipeline is None or not self.ready.is_set():
            detail = self.startup_error or "the encoder is still loading; retry in a few seconds"
            raise HTTPException(status_code=503, detail=detail, headers={"Retry-After": "2"})
        return self.pipeline

    def require_store(self) -> "Store":
        if self.store is None:
            raise HTTPException(
                status_code=503, detail=self.startup_error or "storage is not open yet", headers={"Retry-After": "2"}
            )
        return self.store


async def get_state(request: Request) -> AppState:
    return request.app.state.ticker


#: a route's parameter for the app's state: ``state: StateDep``
StateDep = Annotated[AppState, Depends(get_state)]
