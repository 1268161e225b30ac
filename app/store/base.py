"""The storage interface every backend implements, and the plain rows it speaks in.

The core never sees SQL: the pipeline calls these methods, and a backend (SQLite by default,
PostgreSQL + pgvector for replicas) decides how. Writes happen inside ``transaction()``, which
serialises story assignment so that two writers never open two stories for one duplicate set.
"""

from __future__ import annotations

import abc
import json
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from ..ingest.normalise import search_fold


@dataclass(kw_only=True)
class HeadlineFields:
    """What is stored of a headline, besides its id and embedding."""

    title: str
    norm: str
    text_hash: str
    lang: str | None
    source: str | None
    ext_id: str | None
    url: str | None
    published_at: float | None
    received_at: float
    story_id: int
    match: str | None
    score: float | None
    features: str  # JSON, see app.stories.features
    matched_headline_id: int | None = None

    @property
    def ts(self) -> float:
        """The time used for windows: when it was published, else when we received it."""
        return self.published_at if self.published_at is not None else self.received_at


@dataclass(kw_only=True)
class HeadlineRow(HeadlineFields):
    """A stored headline, as read back."""

    id: int


@dataclass(kw_only=True)
class NewHeadline(HeadlineFields):
    """A headline about to be stored, with the vector that goes with it."""

    embedding: np.ndarray


@dataclass
class StoryRow:
    id: int
    canonical_headline_id: int
    first_seen: float
    last_seen: float
    size: int
    topic_id: int | None
    languages: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    updated_at: float = 0.0


@dataclass
class CorrectionRow:
    """An editor's correction, as stored: what was asked, what undoing it needs, who and when."""

    id: int
    kind: str  # "merge", "move" or "apart"
    payload: dict[str, Any]
    undo: dict[str, Any]
    actor: str | None
    at: float
    undone_at: float | None = None
    undone_by: str | None = None


@dataclass(frozen=True)
class MemberRow:
    """What a story's aggregates are worked out from: one member headline."""

    id: int
    ts: float
    lang: str | None
    source: str | None
    embedding: np.ndarray


def story_aggregates(members: Sequence[MemberRow]) -> dict[str, Any]:
    """A story's columns worked out from its members, as ``add_to_story`` builds them up one by one:
    the earliest member is canonical, languages and sources in order of first appearance (members in
    time order), the centroid sum of the vectors. ``size`` 0 when there is none."""
    ordered = sorted(members, key=lambda m: (m.ts, m.id))
    langs: list[str] = []
    sources: list[str] = []
    for m in ordered:
        if m.lang and m.lang not in langs:
            langs.append(m.lang)
        if m.source and m.source not in sources:
            sources.append(m.source)
    return {
        "canonical_headline_id": ordered[0].id if ordered else None,
        "canonical_ts": ordered[0].ts if ordered else None,
        "first_seen": ordered[0].ts if ordered else None,
        "last_seen": ordered[-1].ts if ordered else None,
        "size": len(ordered),
        "languages": langs,
        "sources": sources,
        "centroid_sum": np.sum([m.embedding for m in ordered], axis=0, dtype=np.float32) if ordered else None,
    }


@dataclass
class TopicRow:
    id: int
    label: str
    label_score: float
    keywords: list[str]
    centroid: np.ndarray
    size: int
    created_at: float
    updated_at: float
    #: the taxonomy entry the topic belongs to ("sport", "other"...), set by the refit; None when not known
    category: str | None = None
    #: the language of each keyword (None: a name or a term of several languages), for showing the
    #: reader's language first
    keyword_langs: list[str | None] = field(default_factory=list)


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
#: lease holder writes; the new URL of a permanent redirect is taken only when no other feed has it.
FEED_POLL_SQL = (
    "UPDATE feeds SET last_fetch_at = :at, next_poll_at = :next, last_status = :status,"
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


#: the most a story search (``q``) may hold: characters, and words (each word is one LIKE test per headline)
MAX_SEARCH_CHARS = 200
MAX_SEARCH_WORDS = 8

#: punctuation around a query word ("Khaya:", "(MAP)", "«Polisario»"), not part of the word looked for
#: (``search_fold`` has made every quote ' or "); symbols such as % $ # + - _ stay: "50%" is not "50"
_EDGE_PUNCT = ".,;:!?¿¡()[]{}\"'«»…"


def search_words(q: str | None) -> list[str]:
    """The words a story search looks for: ``q`` folded as the stored headlines are (``search_fold``),
    split on whitespace, punctuation around a word dropped (a word of punctuation alone is kept as it is),
    repeats dropped; the first ``MAX_SEARCH_WORDS`` of them."""
    words: list[str] = []
    for word in search_fold(q or "").split():
        word = word.strip(_EDGE_PUNCT) or word
        if word not in words:
            words.append(word)
    return words[:MAX_SEARCH_WORDS]


def like_contains(word: str) -> str:
    """A LIKE pattern (with ``ESCAPE '\\'``) matching text that contains ``word`` as it is: its own
    ``%``, ``_`` and ``\\`` are escaped, not wildcards."""
    return "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def story_filter_sql(
    placeholder: str,
    member_of: Callable[[str], str],
    *,
    lang: str | None = None,
    source: str | None = None,
    since: float | None = None,
    until: float | None = None,
    topic_id: int | None = None,
    unassigned: bool = False,
    q: str | None = None,
) -> tuple[str, list[Any]]:
    """The WHERE clause of a story listing, for either backend: ``placeholder`` is the driver's
    parameter mark, ``member_of(column)`` the dialect's "parameter is in this list column" test.

    ``q``: stories one of whose headlines holds every word of it (``search_words``) in its folded text
    (``headlines.search_text``, ``search_fold`` of the title), as a substring: "sulta" finds "Sultana"."""
    where: list[str] = ["size > 0"]
    params: list[Any] = []
    if unassigned:
        where.append("topic_id IS NULL")
    for column, value in (("languages", lang), ("sources", source)):
        if value:
            where.append(member_of(column))
            params.append(value)
    bounds: tuple[tuple[str, float | int | None], ...] = (
        ("last_seen >= ", since),
        ("first_seen <= ", until),
        ("topic_id = ", topic_id),
    )
    for condition, bound in bounds:
        if bound is not None:
            where.append(condition + placeholder)
            params.append(bound)
    words = search_words(q)
    if words:
        tests = " AND ".join(f"search_text LIKE {placeholder} ESCAPE '\\'" for _ in words)
        where.append(f"id IN (SELECT story_id FROM headlines WHERE {tests})")
        params.extend(like_contains(w) for w in words)
    return " AND ".join(where), params


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class Store(abc.ABC):
    """Storage interface. Methods called inside ``transaction()`` see that transaction's writes."""

    backend: str = "abstract"
    #: other processes (replicas) write the same database, and wait for this one's write transactions:
    #: the pipeline then does its slow work (encoding) before opening one, not inside it
    shared_writers: bool = False
    #: other threads' reads go on while a write transaction is open (a SQLite file's reader connections,
    #: PostgreSQL); False when they wait for it to end (SQLite in memory: one connection)
    reads_during_writes: bool = True

    # --- lifecycle ---------------------------------------------------------------------
    @abc.abstractmethod
    def close(self) -> None: ...

    @abc.abstractmethod
    def transaction(self) -> AbstractContextManager[None]:
        """Serialised write transaction: committed durably on normal exit, rolled back on error."""

    # --- headlines ---------------------------------------------------------------------
    @abc.abstractmethod
    def get_by_external(self, source: str | None, ext_id: str) -> HeadlineRow | None: ...

    def get_by_externals(self, keys: Iterable[tuple[str | None, str]]) -> dict[tuple[str, str], HeadlineRow]:
        """Stored headlines by (source, feed id), keyed ``(source or "", ext_id)``; absent keys are left out.
        A backend answers in one query where it can: ingest asks once per batch."""
        out: dict[tuple[str, str], HeadlineRow] = {}
        for source, ext_id in dict.fromkeys((src or "", ext) for src, ext in keys):
            row = self.get_by_external(source, ext_id)
            if row is not None:
                out[(source, ext_id)] = row
        return out

    @abc.abstractmethod
    def embeddings_by_hash(self, hashes: Sequence[str]) -> dict[str, np.ndarray]: ...

    @abc.abstractmethod
    def find_exact(self, text_hash: str, ts_lo: float, ts_hi: float) -> HeadlineRow | None:
        """Earliest stored headline with this normalised-text hash whose time lies in [ts_lo, ts_hi]."""

    @abc.abstractmethod
    def nearest(self, vector: np.ndarray, k: int, ts_lo: float, ts_hi: float) -> list[tuple[int, float]]:
        """Up to k (headline id, cosine) pairs, best first, among headlines with time in [ts_lo, ts_hi]."""

    def nearest_many(
        self, vectors: np.ndarray, k: int, ts_lo: Sequence[float], ts_hi: Sequence[float]
    ) -> list[list[tuple[int, float]]]:
        """``nearest`` for each row of ``vectors``, row i within [ts_lo[i], ts_hi[i]]. A backend that
        can answer several queries in one pass overrides this (the embedded index does)."""
        return [self.nearest(v, k, lo, hi) for v, lo, hi in zip(vectors, ts_lo, ts_hi)]

    @abc.abstractmethod
    def headlines(self, ids: Iterable[int]) -> dict[int, HeadlineRow]: ...

    @abc.abstractmethod
    def embeddings(self, ids: Iterable[int]) -> dict[int, np.ndarray]: ...

    @abc.abstractmethod
    def insert_headline(self, row: NewHeadline) -> int: ...

    @abc.abstractmethod
    def count_headlines(self) -> int: ...

    # --- stories -----------------------------------------------------------------------
    @abc.abstractmethod
    def create_story(self, first: NewHeadline) -> int:
        """A new story whose first member will be ``first`` (inserted right after)."""

    @abc.abstractmethod
    def add_to_story(self, story_id: int, headline_id: int, row: NewHeadline) -> None:
        """Update size, times, languages, sources, centroid and canonical after a member joins."""

    @abc.abstractmethod
    def story(self, story_id: int) -> StoryRow | None: ...

    @abc.abstractmethod
    def stories_by_ids(self, ids: Iterable[int]) -> dict[int, StoryRow]: ...

    @abc.abstractmethod
    def list_stories(
        self,
        *,
        limit: int,
        offset: int,
        lang: str | None = None,
        source: str | None = None,
        since: float | None = None,
        until: float | None = None,
        topic_id: int | None = None,
        unassigned: bool = False,
        q: str | None = None,
    ) -> tuple[list[StoryRow], int]:
        """Newest first (by last_seen, then id), and how many match. ``unassigned``: only stories without a
        topic; ``q``: only stories with a headline holding every word of it (see ``story_filter_sql``)."""

    def topic_story_pages(
        self, topic_ids: Sequence[int], limit: int, since: float | None = None
    ) -> dict[int, list[StoryRow]]:
        """Each topic's newest ``limit`` stories (by last_seen, as ``list_stories``), seen at or after
        ``since``: the clusters view's stories. A backend should override this with one query; this
        default asks ``list_stories`` once per topic."""
        return {int(t): self.list_stories(limit=limit, offset=0, topic_id=int(t), since=since)[0] for t in topic_ids}

    @abc.abstractmethod
    def story_headlines(self, story_ids: Sequence[int]) -> dict[int, list[HeadlineRow]]: ...

    def story_titles(self, story_ids: Sequence[int]) -> list[tuple[int, str, str | None]]:
        """``(story_id, title, lang)`` of every headline of these stories, each story's oldest first (as
        ``story_headlines``): what a topic refit names topics from. A backend should override this with
        a query that builds no ``HeadlineRow`` (a refit reads every headline of the window)."""
        return [(sid, h.title, h.lang) for sid, rows in self.story_headlines(story_ids).items() for h in rows]

    def recent_features(self, limit: int) -> list[tuple[int, int, float | None, str]]:
        """``(headline id, story id, published_at, features JSON)`` of the ``limit`` newest headlines
        (by id, i.e. by arrival), newest first: what matching keeps in memory, read in at start-up. The
        default reads nothing (matching then reads candidates as it meets them); a backend should
        override it with one lean query."""
        return []

    def story_openers_since(self, after_id: int, ts_lo: float, limit: int) -> list[tuple[int, float, str]]:
        """``(headline id, ts, features JSON)`` of up to ``limit`` headlines that opened their story
        (``match`` is None), with an id above ``after_id`` and a time at or after ``ts_lo``, by id: what
        the rarity of names and words is counted from (the stored window at start-up, then other
        replicas' stories). The default reads nothing (each process then counts only the stories it
        opens); a backend should override it."""
        return []

    def story_headline_page(self, story_id: int, limit: int, offset: int) -> list[HeadlineRow]:
        """A story's headlines oldest first (as ``story_headlines``), ``limit`` of them from ``offset``.
        A backend should override this with a query that does not build every member of a large story."""
        return self.story_headlines([story_id])[story_id][offset : offset + limit]

    def story_briefs(self, stories: Sequence[StoryRow]) -> dict[int, list[HeadlineRow]]:
        """Per story: its canonical headline and the earliest headline of each language, oldest first.
        Listings need only these; a backend should override this with a query that does not read
        every member of a large story."""
        members = self.story_headlines([s.id for s in stories])
        out: dict[int, list[HeadlineRow]] = {}
        for s in stories:
            seen: set[str | None] = set()
            keep = []
            for h in members.get(s.id, []):
                if h.id == s.canonical_headline_id or h.lang not in seen:
                    keep.append(h)
                    seen.add(h.lang)
            out[s.id] = keep
        return out

    @abc.abstractmethod
    def forget_stories_before(self, cutoff: float, limit: int = 5000) -> tuple[int, int]:
        """Delete up to ``limit`` stories last seen before ``cutoff`` (epoch seconds), oldest first,
        with all their headlines, in one transaction; returns (stories, headlines) deleted. A story
        seen since keeps every headline, old ones too: its id, canonical and counts stay as they were."""

    @abc.abstractmethod
    def story_centroids(self, since: float) -> tuple[list[int], np.ndarray]:
        """Ids and unit centroids of stories seen since ``since`` (for topic refits)."""

    @abc.abstractmethod
    def story_centroids_for(self, story_ids: Sequence[int]) -> tuple[list[int], np.ndarray]: ...

    @abc.abstractmethod
    def latest_story_time(self) -> float | None:
        """The newest story's last_seen: windows are measured back from it, not from the wall clock,
        so that a replayed archive clusters like a live feed."""

    @abc.abstractmethod
    def count_stories(self) -> int: ...

    @abc.abstractmethod
    def recent_counts(self, story_ids: Sequence[int], since: float) -> dict[int, int]:
        """How many headlines each story received at or after ``since`` (received time)."""

    # --- topics ------------------------------------------------------------------------
    @abc.abstractmethod
    def replace_topics(
        self, topics: Sequence[TopicRow], story_topics: dict[int, int | None], events: Sequence[dict[str, Any]]
    ) -> None:
        """Store a refit's result atomically: topics, each story's topic, and the id events."""

    @abc.abstractmethod
    def set_story_topic(self, story_id: int, topic_id: int | None) -> None: ...

    @abc.abstractmethod
    def topics(self, centroids: bool = True) -> list[TopicRow]:
        """Every topic, by id. ``centroids=False``: each ``centroid`` is an empty array (a listing that shows
        none reads 2 KB less per topic)."""

    @abc.abstractmethod
    def topic_members(self) -> dict[int, set[int]]: ...

    @abc.abstractmethod
    def topic_stats(self) -> dict[int, dict[str, Any]]:
        """Per topic with a story: n_stories (as ``list_stories(topic_id=)`` counts them), n_headlines,
        languages (sorted), first_seen, last_seen."""

    @abc.abstractmethod
    def topic_events(self, limit: int = 100) -> list[dict[str, Any]]: ...

    @abc.abstractmethod
    def get_meta(self, key: str) -> str | None: ...

    @abc.abstractmethod
    def set_meta(self, key: str, value: str) -> None: ...

    @contextmanager
    def refit_leader(self) -> Iterator[bool]:
        """True when this process may refit topics now. One process per database by default;
        a shared backend overrides this with a database-wide lock."""
        yield True

    # --- editors' corrections --------------------------------------------------------------
    @abc.abstractmethod
    def reassign(self, headline_ids: Sequence[int], story_id: int | None) -> tuple[int, dict[int, int]]:
        """Move headlines to ``story_id`` (None: to a new story, opened for them), inside a write
        transaction. Returns (the story they are in now, {headline id: the story it left}). Every story
        touched gets its aggregates worked out again from its members (``story_aggregates``); one left
        with no member keeps its id with size 0, out of every listing. Unknown ids: KeyError; none: ValueError."""

    @abc.abstractmethod
    def set_merged_into(self, story_id: int, target: int | None) -> None:
        """Record (or, with None, clear) that an editor merged ``story_id`` into ``target``."""

    @abc.abstractmethod
    def merged_into(self, story_ids: Iterable[int]) -> dict[int, int]:
        """{story id: the story it was merged into} for those of ``story_ids`` that were merged."""

    @abc.abstractmethod
    def add_correction(
        self, kind: str, payload: dict[str, Any], undo: dict[str, Any], actor: str | None, at: float
    ) -> int:
        """Store a correction (in the caller's transaction); returns its id."""

    @abc.abstractmethod
    def corrections(self, limit: int, offset: int) -> tuple[list[CorrectionRow], int]:
        """Corrections newest first, a page of them, and how many there are."""

    @abc.abstractmethod
    def correction(self, correction_id: int) -> CorrectionRow | None: ...

    @abc.abstractmethod
    def mark_undone(self, correction_id: int, actor: str | None, at: float) -> bool:
        """Mark a correction undone; False when it already was (two editors undoing at once: one wins)."""

    @abc.abstractmethod
    def set_apart(self, a: int, b: int, apart: bool) -> None:
        """Record (or clear) an editor's "not the same story" between two stories."""

    @abc.abstractmethod
    def apart_pairs(self, story_ids: Iterable[int]) -> set[tuple[int, int]]:
        """The recorded "not the same story" pairs (smaller id first) among ``story_ids``."""

    def data_version(self) -> str:
        """Changes whenever anything the clusters view shows changes (used for ETags)."""
        return self.get_meta("data_version") or "0"

    # --- followed feeds (app/feeds/) ---------------------------------------------------------
    # Feed rows are polling state, not news: their writes do not move ``data_version`` and do not wait for
    # (nor hold up) the ingest write lock of a shared backend.
    @abc.abstractmethod
    def add_feed(
        self, url: str, source: str, lang: str | None, interval_seconds: float, now: float, max_feeds: int
    ) -> FeedRow:
        """Follow a feed, first polled at ``now``. DuplicateFeed when one has this URL; TooManyFeeds when
        ``max_feeds`` are followed already (checked in the same transaction as the insert)."""

    @abc.abstractmethod
    def feeds(self) -> list[FeedRow]:
        """Every followed feed, by id."""

    @abc.abstractmethod
    def feed(self, feed_id: int) -> FeedRow | None: ...

    @abc.abstractmethod
    def delete_feed(self, feed_id: int) -> bool:
        """Stop following a feed (its headlines stay); False when there was none."""

    @abc.abstractmethod
    def claim_feeds(self, owner: str, now: float, lease_seconds: float, limit: int) -> list[FeedRow]:
        """Lease up to ``limit`` enabled feeds due at ``now`` (``next_poll_at <= now``), soonest first, to
        ``owner`` until ``now + lease_seconds``: one conditional UPDATE, so a feed leased to another owner
        whose lease has not run out is never handed out twice; an expired lease (a dead process's) is
        taken over. Returns the rows as leased."""

    @abc.abstractmethod
    def renew_feed_lease(self, feed_id: int, owner: str, until: float) -> bool:
        """Extend ``owner``'s lease of a feed; False when it holds it no more (expired and taken, or deleted)."""

    @abc.abstractmethod
    def record_feed_poll(self, feed_id: int, owner: str, poll: FeedPoll) -> bool:
        """Write a poll's outcome and release the lease, only while ``owner`` holds it: False (and nothing
        written) when the lease went to another process or the feed was deleted."""

    @abc.abstractmethod
    def release_feeds(self, owner: str) -> int:
        """Give up every lease ``owner`` holds (a clean shutdown): the feeds are due to others at once."""
