"""``/v1/feeds``: the RSS, Atom and JSON feeds the service follows, and how polling them goes (docs/feeds.md).

Adding and deleting need the API key; listing is a read. A feed's URL must be http(s) and, unless
TICKER_FEEDS_ALLOW_PRIVATE is set, resolve to public addresses only (checked here for a clear 422, and again
at every connection of every poll, redirects included: see app/feeds/fetch.py).
"""

from __future__ import annotations

import time
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
from fastapi import APIRouter, Depends, HTTPException, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from ..feeds.fetch import check_url
from ..limits import LANG_PATTERN
from ..store.base import DuplicateFeed, FeedRow, TooManyFeeds
from .models import ErrorOut, StorableStr, _Input, error_responses
from .params import RowId
from .security import require_read, require_write
from .state import StateDep
from .views import from_row, iso

router = APIRouter(prefix="/v1/feeds", tags=["feeds"])

#: the longest feed URL taken
MAX_URL_CHARS = 2000

FeedStatus = Literal["pending", "ok", "error", "disabled"]


class FeedIn(_Input):
    url: str = Field(
        max_length=MAX_URL_CHARS,
        description="The feed's http(s) URL (RSS, Atom or JSON Feed).",
        examples=["https://fr.le360.ma/rss"],
    )
    source: StorableStr | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="The outlet its headlines are stored under (with each entry's guid or link, what makes an "
        "entry stored once); default: the URL's host without 'www.'.",
    )
    interval_seconds: float | None = Field(
        default=None,
        strict=True,
        allow_inf_nan=False,
        description="Seconds between polls; default TICKER_FEEDS_DEFAULT_INTERVAL_SECONDS, within "
        "TICKER_FEEDS_MIN_INTERVAL_SECONDS and TICKER_FEEDS_MAX_INTERVAL_SECONDS.",
    )
    lang: str | None = Field(
        default=None,
        max_length=8,
        pattern=LANG_PATTERN,
        description="Language of every entry, over what the feed declares; default: the "
        "entry's or feed's own declaration, else detection.",
    )


class FeedOut(BaseModel):
    id: int
    url: str = Field(description="Where it is fetched now (a permanent redirect moves it).")
    source: str
    lang: str | None
    interval_seconds: float
    status: FeedStatus = Field(description="pending (never fetched), ok, error (the last poll failed), disabled.")
    enabled: bool
    disabled_reason: str | None
    created_at: str
    last_fetch_at: str | None
    last_status: int | None = Field(description="The last HTTP status; null when no answer came.")
    last_error: str | None = Field(description="The last error, kept after the feed recovers (see last_error_at).")
    last_error_at: str | None
    consecutive_errors: int
    next_poll_at: str | None = Field(description="null once disabled.")
    fetches: int
    errors: int
    items_seen: int = Field(description="Entries read, counted at each fetch of a changed document.")
    items_stored: int = Field(description="New headlines stored from the feed (each entry once).")


class FeedList(BaseModel):
    feeds: list[FeedOut]
    total: int


def feed_status(f: FeedRow) -> FeedStatus:
    if not f.enabled:
        return "disabled"
    if f.last_fetch_at is None:
        return "pending"
    return "error" if f.consecutive_errors else "ok"


def feed_out(f: FeedRow) -> FeedOut:
    return from_row(
        FeedOut,
        f,
        status=feed_status(f),
        created_at=iso(f.created_at) or "",
        last_fetch_at=iso(f.last_fetch_at),
        last_error_at=iso(f.last_error_at),
        next_poll_at=iso(f.next_poll_at) if f.enabled else None,
    )


def _invalid(field: str, msg: str, kind: str = "value_error") -> HTTPException:
    return HTTPException(status_code=422, detail=[{"loc": ["body", field], "msg": msg, "type": kind}])


def _default_source(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    return host[4:] if host.startswith("www.") and len(host) > 4 else host


def _checked_url(raw: str, allow_private: bool) -> str:
    url = raw.strip()
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError) as exc:
        raise _invalid("url", f"not a URL: {exc}") from None
    if parsed.scheme not in ("http", "https"):
        raise _invalid(
            "url", f"the URL's scheme must be http or https, not {parsed.scheme or 'none'!r}", "value_error.url_scheme"
        )
    try:
        check_url(url, allow_private)
    except ValueError as exc:
        raise _invalid("url", str(exc), "value_error.url") from None
    return url


_CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"description": "a feed with this URL is followed already, or TICKER_FEEDS_MAX are", "model": ErrorOut}
}


@router.post(
    "",
    response_model=FeedOut,
    status_code=201,
    dependencies=[Depends(require_write)],
    summary="Follow a feed",
    responses={**error_responses(400, 401, 413, 415, 503), **_CONFLICT},
)
async def add_feed(body: FeedIn, state: StateDep) -> FeedOut:
    store = state.require_store()
    s = state.settings
    interval = s.feeds_default_interval_seconds if body.interval_seconds is None else float(body.interval_seconds)
    if not s.feeds_min_interval_seconds <= interval <= s.feeds_max_interval_seconds:
        raise _invalid(
            "interval_seconds",
            f"must lie between {s.feeds_min_interval_seconds:g} and "
            f"{s.feeds_max_interval_seconds:g} seconds, got {interval:g}",
            "value_error.out_of_range",
        )
    # resolving the host blocks: in a thread
    url = await run_in_threadpool(_checked_url, body.url, s.feeds_allow_private)
    source = body.source.strip() if body.source and body.source.strip() else _default_source(url)
    try:
        row = await run_in_threadpool(
            store.add_feed, url, source, body.lang or None, interval, time.time(), s.feeds_max
        )
    except DuplicateFeed:
        same = [f.id for f in await run_in_threadpool(store.feeds) if f.url == url]
        raise HTTPException(
            status_code=409, detail=f"this URL is followed already, as feed {same[0] if same else '?'}"
        ) from None
    except TooManyFeeds:
        raise HTTPException(
            status_code=409,
            detail=f"the service follows {s.feeds_max} feeds already (TICKER_FEEDS_MAX); delete one first",
        ) from None
    if state.feeds is not None:
        state.feeds.wake()
    return feed_out(row)


@router.get(
    "",
    response_model=FeedList,
    dependencies=[Depends(require_read)],
    summary="Every followed feed and its state",
    responses=error_responses(401, 503),
)
async def list_feeds(state: StateDep) -> FeedList:
    store = state.require_store()
    rows = await run_in_threadpool(store.feeds)
    return FeedList(feeds=[feed_out(f) for f in rows], total=len(rows))


@router.get(
    "/{feed_id}",
    response_model=FeedOut,
    dependencies=[Depends(require_read)],
    summary="One followed feed",
    responses=error_responses(401, 503, not_found="no such feed"),
)
async def get_feed(feed_id: RowId, state: StateDep) -> FeedOut:
    store = state.require_store()
    row = await run_in_threadpool(store.feed, feed_id)
    if row is None:
        raise HTTPException(status_code=404, detail=f"feed {feed_id} does not exist")
    return feed_out(row)


@router.delete(
    "/{feed_id}",
    status_code=204,
    dependencies=[Depends(require_write)],
    summary="Stop following a feed (its headlines stay)",
    responses=error_responses(401, 503, not_found="no such feed"),
)
async def delete_feed(feed_id: RowId, state: StateDep) -> Response:
    store = state.require_store()
    if not await run_in_threadpool(store.delete_feed, feed_id):
        raise HTTPException(status_code=404, detail=f"feed {feed_id} does not exist")
    return Response(status_code=204)


def feed_gauges(rows: list[FeedRow]) -> dict[str, Any]:
    """/metrics gauges: how many feeds, by status."""
    counts = {"pending": 0, "ok": 0, "error": 0, "disabled": 0}
    for f in rows:
        counts[feed_status(f)] += 1
    return {"ticker_feeds": float(len(rows)), **{f"ticker_feeds_{k}": float(v) for k, v in counts.items()}}
