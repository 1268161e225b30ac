"""A followed feed's row and what a poll writes to it, for both backends (app/feeds/ polls them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence


@dataclass
class FeedRow:
    """A followed RSS/Atom/JSON feed and its polling state (app/feeds/)."""

    id: int
    url: str
    source: str
    lang: str | None
    interval_seconds: float
    created_at: float
    next_poll_at: float
    #: False once the feed answered 410 Gone (or an operator turned it off): never polled again
    enabled: bool = True
    disabled_reason: str | None = None
    #: validators of the last 200, sent back as If-None-Match / If-Modified-Since
    etag: str | None = None
    last_modified: str | None = None
    last_fetch_at: float | None = None
    #: the last HTTP status (None: no answer, e.g. a refused address or a timeout)
    last_status: int | None = None
    last_error: str | None = None
    last_error_at: float | None = None
    #: errors since the last success; the backoff grows with it
    consecutive_errors: int = 0
    fetches: int = 0
    errors: int = 0
    #: entries read in the documents fetched (each time a document is read), and new headlines stored from them
    items_seen: int = 0
    items_stored: int = 0
    #: the process polling it now, and until when its lease holds
    leased_by: str | None = None
    lease_until: float | None = None


@dataclass(frozen=True)
class FeedPoll:
    """What one poll changes in a feed's row: values to set, and counts to add."""

    last_fetch_at: float
    next_poll_at: float
    last_status: int | None
    #: None: the poll succeeded (``last_error`` is cleared); else the error, recorded with its time
    error: str | None
    consecutive_errors: int
    etag: str | None = None
    last_modified: str | None = None
    #: keep the stored validators (a 304, an error) instead of setting ``etag`` / ``last_modified``
    keep_validators: bool = True
    #: a permanent redirect's target: the feed's URL from now on (kept when another feed already has it)
    new_url: str | None = None
    #: set: the feed is disabled for this reason (410 Gone)
    disable: str | None = None
    items_seen: int = 0
    items_stored: int = 0
    #: the interval a success's ``next_poll_at`` was worked out with: when the feed's interval was changed
    #: while it was being polled (``update_feed``), the next poll is one new interval after the fetch instead
    interval_seconds: float | None = None


#: ``FeedRow.disabled_reason`` of a feed an operator paused (``FeedChange(enabled=False)``)
PAUSED_REASON = "paused by an operator"


@dataclass(frozen=True)
class FeedChange:
    """An operator's change to a feed (PATCH /v1/feeds/{id}): None (``set_lang`` False) keeps a value.

    - ``enabled=False`` pauses an enabled feed (it is claimed no more; a poll under way finishes, and its
      outcome keeps the pause); on a disabled feed it changes nothing.
    - ``enabled=True`` resumes a disabled or paused feed: due at once, its error streak cleared, its counters,
      validators and last error kept; on an enabled feed it changes nothing.
    - ``interval_seconds``: polls from now on are that far apart; the next one comes no later than one new
      interval from now (``min(next_poll_at, now + interval)``).
    """

    enabled: bool | None = None
    interval_seconds: float | None = None
    source: str | None = None
    #: set the language (``lang``; None: no language given, entries declare or are detected)
    set_lang: bool = False
    lang: str | None = None


class DuplicateFeed(ValueError):
    """A feed with this URL is followed already."""


class TooManyFeeds(ValueError):
    """As many feeds as TICKER_FEEDS_MAX are followed already."""


FEED_COLS = (
    "id, url, source, lang, interval_seconds, created_at, next_poll_at, enabled, disabled_reason, etag, "
    "last_modified, last_fetch_at, last_status, last_error, last_error_at, consecutive_errors, fetches, errors, "
    "items_seen, items_stored, leased_by, lease_until"
)


#: ``record_feed_poll`` for either backend (named parameters: ``:name``, see ``feed_poll_params``). Only the
#: lease holder writes; the new URL of a permanent redirect is taken only when no other feed has it. What an
#: operator changed during the poll (``FEED_UPDATE_SQL``) holds: a pause stays (``enabled`` is only ever
#: turned off here), and a new interval schedules a success's next poll.
FEED_POLL_SQL = (
    "UPDATE feeds SET last_fetch_at = :at, last_status = :status,"
    " next_poll_at = CASE WHEN :rescheduled AND interval_seconds <> :interval THEN :at + interval_seconds"
    " ELSE :next END,"
    " last_error = CASE WHEN :failed THEN :error ELSE last_error END,"
    " last_error_at = CASE WHEN :failed THEN :at ELSE last_error_at END,"
    " consecutive_errors = :streak,"
    " etag = CASE WHEN :keep_validators THEN etag ELSE :etag END,"
    " last_modified = CASE WHEN :keep_validators THEN last_modified ELSE :last_modified END,"
    " url = CASE WHEN :move AND NOT EXISTS (SELECT 1 FROM feeds other WHERE other.url = :new_url AND other.id <> feeds.id)"
    " THEN :new_url ELSE url END,"
    " enabled = enabled AND :keep_enabled,"
    " disabled_reason = CASE WHEN :keep_enabled THEN disabled_reason ELSE :disable END,"
    " fetches = fetches + 1, errors = errors + :error_count,"
    " items_seen = items_seen + :seen, items_stored = items_stored + :stored,"
    " leased_by = NULL, lease_until = NULL"
    " WHERE id = :id AND leased_by = :owner"
)


def feed_poll_params(feed_id: int, owner: str, poll: FeedPoll) -> dict[str, Any]:
    failed = poll.error is not None
    return {
        "id": int(feed_id),
        "owner": owner,
        "at": float(poll.last_fetch_at),
        "next": float(poll.next_poll_at),
        "status": poll.last_status,
        "failed": failed,
        "error": poll.error,
        "streak": int(poll.consecutive_errors),
        "keep_validators": bool(poll.keep_validators),
        "etag": poll.etag,
        "last_modified": poll.last_modified,
        "move": poll.new_url is not None,
        "new_url": poll.new_url,
        "keep_enabled": poll.disable is None,
        "disable": poll.disable,
        "error_count": 1 if failed else 0,
        "seen": int(poll.items_seen),
        "stored": int(poll.items_stored),
        "rescheduled": poll.interval_seconds is not None,
        "interval": float(poll.interval_seconds or 0.0),
    }


#: ``update_feed`` for either backend, one statement (see ``FeedChange``; ``feed_change_params``). It does not
#: look at the lease: a feed being polled gets the change, and the poll's outcome keeps it (``FEED_POLL_SQL``).
FEED_UPDATE_SQL = (
    "UPDATE feeds SET"
    " source = CASE WHEN :set_source THEN :source ELSE source END,"
    " lang = CASE WHEN :set_lang THEN :lang ELSE lang END,"
    " interval_seconds = CASE WHEN :set_interval THEN :interval ELSE interval_seconds END,"
    " next_poll_at = CASE WHEN :resume AND NOT enabled THEN :now"
    " WHEN :set_interval AND :now + :interval < next_poll_at THEN :now + :interval ELSE next_poll_at END,"
    " consecutive_errors = CASE WHEN :resume AND NOT enabled THEN 0 ELSE consecutive_errors END,"
    " disabled_reason = CASE WHEN :pause AND enabled THEN :reason WHEN :resume THEN NULL ELSE disabled_reason END,"
    " enabled = CASE WHEN :pause THEN FALSE WHEN :resume THEN TRUE ELSE enabled END"
    f" WHERE id = :id RETURNING {FEED_COLS}"
)


def feed_change_params(feed_id: int, change: FeedChange, now: float) -> dict[str, Any]:
    return {
        "id": int(feed_id),
        "now": float(now),
        "set_source": change.source is not None,
        "source": change.source or "",
        "set_lang": bool(change.set_lang),
        "lang": change.lang,
        "set_interval": change.interval_seconds is not None,
        "interval": float(change.interval_seconds or 0.0),
        "pause": change.enabled is False,
        "resume": change.enabled is True,
        "reason": PAUSED_REASON,
    }


def feed_row(r: Sequence[Any]) -> FeedRow:
    """A ``FEED_COLS`` row as a FeedRow (both backends)."""
    return FeedRow(
        id=int(r[0]),
        url=r[1],
        source=r[2],
        lang=r[3],
        interval_seconds=float(r[4]),
        created_at=float(r[5]),
        next_poll_at=float(r[6]),
        enabled=bool(r[7]),
        disabled_reason=r[8],
        etag=r[9],
        last_modified=r[10],
        last_fetch_at=r[11],
        last_status=r[12],
        last_error=r[13],
        last_error_at=r[14],
        consecutive_errors=int(r[15]),
        fetches=int(r[16]),
        errors=int(r[17]),
        items_seen=int(r[18]),
        items_stored=int(r[19]),
        leased_by=r[20],
        lease_until=r[21],
    )
