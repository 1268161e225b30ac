"""``/v1/feeds``: the RSS, Atom and JSON feeds the service follows, and how polling them goes (docs/feeds.md).

Adding, changing (pause, resume, interval, source, language) and deleting need the API key; listing is a read. A feed's URL must be http(s) and, unless
TICKER_FEEDS_ALLOW_PRIVATE is set, resolve to public addresses only (checked here for a clear 422, and again
at every connection of every poll, redirects included: see app/feeds/fetch.py).
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import httpx
from fastapi import APIRouter, Depends, HTTPException, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from ..config import Settings
from ..feeds.fetch import check_url
from ..limits import LANG_PATTERN
from ..store.base import PAUSED_REASON, DuplicateFeed, FeedChange, FeedRow, TooManyFeeds
from .models import ErrorOut, StorableStr, _Input, error_responses
from .params import RowId
from .security import require_read, require_write
from .state import StateDep
from .views import from_row, iso

router = APIRouter(prefix="/v1/feeds", tags=["feeds"])

#: the longest feed URL taken
MAX_URL_CHARS = 2000

FeedStatus = Literal["pending", "ok", "error", "disabled"]


#: the fields POST /v1/feeds and PATCH /v1/feeds/{id} share, each declared once and so checked the same way by
#: both (``_interval`` and ``_source`` do what the schema cannot say)
FeedSource = Annotated[
    StorableStr | None,
    Field(
        min_length=1,
        max_length=200,
        description="The outlet its headlines are stored under (with each entry's guid or link, what makes an "
        "entry stored once); default: the URL's host without 'www.'.",
    ),
]
FeedInterval = Annotated[
    float | None,
    Field(
        strict=True,
        allow_inf_nan=False,
        description="Seconds between polls; default TICKER_FEEDS_DEFAULT_INTERVAL_SECONDS, within "
        "TICKER_FEEDS_MIN_INTERVAL_SECONDS and TICKER_FEEDS_MAX_INTERVAL_SECONDS.",
    ),
]
FeedLang = Annotated[
    str | None,
    Field(
        max_length=8,
        pattern=LANG_PATTERN,
        description="Language of every entry, over what the feed declares; default: the "
        "entry's or feed's own declaration, else detection.",
    ),
]


class FeedIn(_Input):
    url: str = Field(
        max_length=MAX_URL_CHARS,
        description="The feed's http(s) URL (RSS, Atom or JSON Feed).",
        examples=["https://fr.le360.ma/rss"],
    )
    source: FeedSource = None
    interval_seconds: FeedInterval = None
    lang: FeedLang = None


def _true_or_false(value: object) -> object:
    """``enabled`` is JSON true or false: not null, 0, 1 or "yes" (one error at the field, not one per type)."""
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


def _no_default(schema: dict[str, Any]) -> None:
    """A field whose absence means "no change": its schema names no default (null is no value for it)."""
    schema.pop("default", None)


class FeedPatch(_Input):
    """What an operator changes in a followed feed: any of these fields, at least one. ``source``,
    ``interval_seconds`` and ``lang`` are POST's fields, checked as POST checks them (null: what POST gives
    when the field is left out)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"minProperties": 1})

    enabled: Annotated[bool | SkipJsonSchema[None], BeforeValidator(_true_or_false)] = Field(
        default=None,
        description="false pauses the feed (it is polled no more; a fetch under way finishes); true resumes a "
        "paused or disabled (410 Gone) feed: polled at once, its error streak and backoff cleared, its counters and "
        "validators kept. The same value again changes nothing.",
        json_schema_extra=_no_default,
    )
    source: FeedSource = None
    interval_seconds: FeedInterval = None
    lang: FeedLang = None


class FeedOut(BaseModel):
    id: int
    url: str = Field(description="Where it is fetched now (a permanent redirect moves it).")
    source: str
    lang: str | None
    interval_seconds: float
    status: FeedStatus = Field(description="pending (never fetched), ok, error (the last poll failed), disabled.")
    enabled: bool
    disabled_reason: str | None
    paused: bool = Field(description="Disabled by an operator (PATCH enabled: false), not by a failure.")
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
        paused=not f.enabled and f.disabled_reason == PAUSED_REASON,
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


def _source(raw: str | None, url: str) -> str:
    """The source a feed's headlines are stored under: the one given, else (none, or blanks) the URL's host."""
    return raw.strip() if raw and raw.strip() else _default_source(url)


def _interval(raw: float | None, s: Settings) -> float:
    """Seconds between polls: the one given (422 out of the configured range), else the default."""
    interval = s.feeds_default_interval_seconds if raw is None else float(raw)
    if not s.feeds_min_interval_seconds <= interval <= s.feeds_max_interval_seconds:
        raise _invalid(
            "interval_seconds",
            f"must lie between {s.feeds_min_interval_seconds:g} and "
            f"{s.feeds_max_interval_seconds:g} seconds, got {interval:g}",
            "value_error.out_of_range",
        )
    return interval


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
    interval = _interval(body.interval_seconds, s)
    # resolving the host blocks: in a thread
    url = await run_in_threadpool(_checked_url, body.url, s.feeds_allow_private)
    source = _source(body.source, url)
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


@router.patch(
    "/{feed_id}",
    response_model=FeedOut,
    dependencies=[Depends(require_write)],
    summary="Pause, resume or change a followed feed (interval, source, language)",
    responses=error_responses(400, 401, 413, 415, 503, not_found="no such feed"),
)
async def update_feed(feed_id: RowId, body: FeedPatch, state: StateDep) -> FeedOut:
    store = state.require_store()
    given = body.model_fields_set
    if not given:
        raise HTTPException(
            status_code=422,
            detail=[
                {
                    "loc": ["body"],
                    "msg": "nothing to change: give at least one of enabled, interval_seconds, source, lang",
                    "type": "value_error.empty",
                }
            ],
        )
    interval = _interval(body.interval_seconds, state.settings) if "interval_seconds" in given else None
    source = None
    if "source" in given:
        if body.source and body.source.strip():
            source = body.source.strip()
        else:  # none, or blanks: the URL's host, as POST gives
            current = await run_in_threadpool(store.feed, feed_id)
            if current is None:
                raise HTTPException(status_code=404, detail=f"feed {feed_id} does not exist")
            source = _source(body.source, current.url)
    change = FeedChange(
        enabled=body.enabled,
        interval_seconds=interval,
        source=source,
        set_lang="lang" in given,
        lang=body.lang or None,
    )
    row = await run_in_threadpool(store.update_feed, feed_id, change, time.time())
    if row is None:
        raise HTTPException(status_code=404, detail=f"feed {feed_id} does not exist")
    if state.feeds is not None:
        state.feeds.wake()  # resumed, or an earlier next poll: looked at now
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
