"""The storage interface every backend implements, and the plain rows it speaks in.

The core never sees SQL: the pipeline calls these methods, and a backend (SQLite by default,
PostgreSQL + pgvector for replicas) decides how. Writes happen inside ``transaction()``, which
serialises story assignment so that two writers never open two stories for one duplicate set.

The rows, the feed rows and the story filter live in ``rows``, ``feed_rows`` and ``story_filter``;
they are imported from here as well.
"""

from __future__ import annotations

import abc
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from .feed_rows import (
    FEED_COLS,
    FEED_POLL_SQL,
    FEED_UPDATE_SQL,
    PAUSED_REASON,
    DuplicateFeed,
    FeedChange,
    FeedPoll,
    FeedRow,
    TooManyFeeds,
    feed_change_params,
    feed_poll_params,
    feed_row,
)
from .rows import (
    CORRECTION_COLS,
    HEADLINE_COLS,
    STORY_COLS,
    CorrectionRow,
    HeadlineFields,
    HeadlineRow,
    MemberRow,
    NewHeadline,
    StoryRow,
    TopicRow,
    dumps,
    headline_row,
    story_aggregates,
    story_row,
)
from .story_filter import MAX_SEARCH_CHARS, MAX_SEARCH_WORDS, StoryFilter, like_contains, search_words, story_filter_sql

__all__ = [
    "CORRECTION_COLS",
    "CorrectionRow",
    "DuplicateFeed",
    "FEED_COLS",
    "FEED_POLL_SQL",
    "FEED_UPDATE_SQL",
    "PAUSED_REASON",
    "FeedChange",
    "FeedPoll",
    "FeedRow",
    "HEADLINE_COLS",
    "HeadlineFields",
    "HeadlineRow",
    "MAX_SEARCH_CHARS",
    "MAX_SEARCH_WORDS",
    "MemberRow",
    "NewHeadline",
    "STORY_COLS",
    "Store",
    "StoryFilter",
    "StoryRow",
    "TooManyFeeds",
    "TopicRow",
    "dumps",
    "feed_change_params",
    "feed_poll_params",
    "feed_row",
    "headline_row",
    "like_contains",
    "search_words",
    "story_aggregates",
    "story_row",
    "story_filter_sql",
]


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
        """Newest first (by last_seen, then id), and how many match: ``stories_where`` of the
        ``StoryFilter`` these keywords make."""
        where = StoryFilter(
            lang=lang, source=source, since=since, until=until, topic_id=topic_id, unassigned=unassigned, q=q
        )
        return self.stories_where(where, limit=limit, offset=offset)

    @abc.abstractmethod
    def stories_where(self, where: StoryFilter, *, limit: int, offset: int) -> tuple[list[StoryRow], int]:
        """The stories ``where`` admits, newest first (by last_seen, then id): a page of ``limit`` from
        ``offset``, and how many match."""

    def topic_story_pages(
        self, topic_ids: Sequence[int], limit: int, since: float | None = None
    ) -> dict[int, list[StoryRow]]:
        """Each topic's newest ``limit`` stories (by last_seen, as ``list_stories``), seen at or after
        ``since``: the clusters view's stories. A backend should override this with one query; this
        default asks ``list_stories`` once per topic."""
        return {
            int(t): self.stories_where(StoryFilter(topic_id=int(t), since=since), limit=limit, offset=0)[0]
            for t in topic_ids
        }

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
    def update_feed(self, feed_id: int, change: FeedChange, now: float) -> FeedRow | None:
        """An operator's change (pause, resume, interval, source, language: see ``FeedChange``), in one
        UPDATE whether or not a poller holds the feed's lease; the row as changed, None when there is none."""

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
