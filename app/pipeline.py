"""The one place where the flow is written as code:

    request → normalise (ingest) → embed (embeddings) → match to a story (stories) → store → topics

Routers call ``Pipeline``; so does ``python -m app.eval`` on an in-memory store, so what is measured
is what is served. What goes in and comes out is in ``records``; the machinery the flow runs on (the
encoder working ahead, the matching cache, checks going first, rarity kept in step) is in ``matching``.
"""

from __future__ import annotations

__all__ = ["Pipeline", "match_params", "HeadlineInput", "IngestResult", "CheckMatch", "CheckResult"]

import time
from contextlib import AbstractContextManager
from dataclasses import replace
from typing import Callable, Sequence

import numpy as np

from embeddings import Encoder

from .blas import limit_blas_threads
from .config import Settings
from .ingest.lang import LanguageDetector
from .matching import encode_ahead, prepare
from .matching.cache import KnownHeadline, MatchingCache
from .matching.checks_first import ChecksGate, no_pause
from .matching.encode_ahead import EncodeAhead, Step
from .matching.evidence import check_matches, distinct_texts
from .matching.prepare import Prepared, external_key
from .matching.rarity_sync import RaritySync
from .matching.step_neighbours import StepNeighbours
from .records import CheckMatch, CheckResult, HeadlineInput, IngestResult
from .store import HeadlineRow, NewHeadline, Store
from .stories.decide import EXACT, Candidate, candidate_scores, decide
from .stories.features import Features
from .stories.rarity import rarity_weights
from .stories.score import MatchParams

#: with several replicas, a dedup check looks for the others' corrections at most this often
CORRECTIONS_SYNC_SECONDS = 1.0


def match_params(settings: Settings) -> MatchParams:
    """The tuned defaults, with the threshold and candidate floor from configuration when set."""
    overrides: dict[str, float] = {}
    if settings.match_threshold is not None:
        overrides["threshold"] = settings.match_threshold
    if settings.candidate_min_cosine is not None:
        overrides["min_cosine"] = settings.candidate_min_cosine
    return replace(MatchParams(), **overrides)  # type: ignore[arg-type]  # both fields are floats


class Pipeline:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        encoder: Encoder,
        detector: LanguageDetector | None = None,
        params: MatchParams | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.store = store
        self.encoder = encoder
        self.detector = detector or LanguageDetector(settings.languages)
        self.params = params or match_params(settings)
        self.clock = clock
        limit_blas_threads()
        self.window = settings.window_hours * 3600.0
        # Listeners told about stories that were opened or grew (the topic scheduler subscribes).
        self.listeners: list[Callable[[list[int], list[int]], None]] = []
        self.encoding = EncodeAhead(encoder)
        #: stored headlines as matching sees them, up to ``TICKER_FEATURE_CACHE_SIZE``
        self.cache = MatchingCache(store, settings.feature_cache_size)
        #: dedup checks under way; ingest waits for them
        self.checks = ChecksGate()
        self.rarity_sync = RaritySync(store, self.window, clock)
        #: how common each name and word is in the window
        self.rarity = self.rarity_sync.counts
        # Editors' corrections move headlines between stories, which the cache holds: the store's
        # corrections version says when to forget it (another replica's corrections too).
        self._corrections_seen: str | None = None
        self._corrections_checked_at = 0.0
        from .teach import apply_stored_rule

        apply_stored_rule(self)  # the threshold refitted from this deployment's corrections, if any

    def warm_up(self) -> None:
        """Load lazily built models (language detection) now, not in the first request."""
        self.detector.detect_many(
            [
                "Le Maroc accueille la réunion",
                "Morocco hosts the meeting",
                "Marruecos acoge la reunión",
                "المغرب يستضيف الاجتماع",
            ]
        )

    # --- preparation ----------------------------------------------------------------------
    def prepare(self, items: Sequence[HeadlineInput]) -> list[Prepared]:
        """Items with their matching key, language and features, as ingest and the check see them."""
        return prepare.describe(prepare.keys(items, self.clock()), self.detector)

    def embed(self, prepared: Sequence[Prepared]) -> np.ndarray:
        """One vector per item; a normalised text already stored is never encoded again."""
        known = self.store.embeddings_by_hash([p.hash for p in prepared])
        return np.vstack(list(self.encoding.stream(prepared, known, chunk=len(prepared))))

    # --- matching ----------------------------------------------------------------------------
    def _candidates(
        self,
        vec: np.ndarray,
        ts: float,
        pending: dict[int, KnownHeadline] | None = None,
        found: list[tuple[int, float]] | None = None,
    ) -> list[Candidate]:
        """The nearest stored headlines within the window above the cosine floor (``found``: when
        already searched), with their story, features and their story's centroid cosine."""
        if found is None:
            found = self.store.nearest(vec, self.settings.candidate_k, ts - self.window, ts + self.window)
        found = [(hid, cos) for hid, cos in found if cos >= self.params.min_cosine]
        if not found:
            return []
        rows = self.cache.lookup([hid for hid, _ in found], pending)
        story_ids, centroids = self.store.story_centroids_for(sorted({r.story_id for r in rows.values()}))
        story_cos = dict(zip(story_ids, (centroids @ vec).tolist())) if story_ids else {}
        return [
            Candidate(hid, row.story_id, cos, row.features, row.published_at, story_cos.get(row.story_id))
            for hid, cos in found
            if (row := rows.get(hid)) is not None
        ]

    def warm_cache(self) -> int:
        """Read the newest stored headlines' matching view into memory (``TICKER_FEATURE_CACHE_SIZE``)."""
        return self.cache.warm()

    def forget_assignments(self) -> None:
        """Forget which story each cached headline is in (after an editor's correction)."""
        self.cache.forget()

    def _sync_corrections(self) -> None:
        from .corrections import VERSION_KEY
        from .teach import apply_stored_rule

        version = self.store.get_meta(VERSION_KEY)
        self._corrections_checked_at = time.monotonic()
        if version != self._corrections_seen:
            if self._corrections_seen is not None or version is not None:
                self.forget_assignments()
                apply_stored_rule(self)  # a refit from corrections moves the version too
            self._corrections_seen = version

    def story_scores_of(self, headline_id: int) -> dict[int, float]:
        """The rule's score of every candidate story for a stored headline, as if it came in now without
        being stored (its own row is left out of its candidates): what corrections are learnt from."""
        row = self.store.headlines([headline_id]).get(headline_id)
        vec = self.store.embeddings([headline_id]).get(headline_id)
        if row is None or vec is None:
            return {}
        vec = np.asarray(vec, dtype=np.float32)
        found = self.store.nearest(vec, self.settings.candidate_k + 1, row.ts - self.window, row.ts + self.window)
        found = [(hid, cos) for hid, cos in found if hid != headline_id][: self.settings.candidate_k]
        features = Features.from_json(row.features)
        candidates = self._candidates(vec, row.ts, found=found)
        return dict(
            decide(
                features, row.published_at, candidates, self.params, weights=self._weights(features), at=row.ts
            ).stories
        )

    def warm_rarity(self) -> int:
        """Count the names and words of the stored window (start-up), so that a restart weighs them as
        the running service did. Returns how many headlines were counted."""
        return self.rarity_sync.warm()

    def _weights(self, features: Features) -> dict[str, float] | None:
        """The rarity of a headline's names and words in the window now (None: rarity is switched off)."""
        return rarity_weights(self.rarity, features, self.params.rarity_share, self.params.rarity_prior)

    # --- ingestion ----------------------------------------------------------------------
    def ingest(self, items: Sequence[HeadlineInput]) -> list[IngestResult]:
        if not items:
            return []
        prepared = prepare.keys(items, self.clock())
        results: list[IngestResult | None] = [None] * len(items)
        opened: list[int] = []
        grown: list[int] = []
        # Headlines stored by this batch: matching sees them at once, the shared cache only after the
        # commit (a rollback may hand their ids out again).
        pending: dict[int, KnownHeadline] = {}
        bounds = encode_ahead.step_bounds(len(prepared))
        # A check on a store whose reads wait for the write transaction cannot go first.
        pace = self.checks.pacer() if self.store.reads_during_writes else no_pause
        # Replicas wait for each other's write transactions (PostgreSQL's write lock): encoding inside
        # one would make them take turns at the encoder too, so it is done before. A single writer
        # (SQLite) encodes inside instead, overlapping each step's encoding with the last one's matching.
        encoded = None
        if self.store.shared_writers:
            encoded = self._encode_all(prepared, bounds, pace)
            pace = no_pause  # other replicas wait for this write transaction, not for this process's checks
        counted: list[tuple[int, Features, float]] = []
        epoch = self.cache.epoch
        try:
            with self.store.transaction():
                self._ingest(prepared, results, opened, grown, pending, bounds, pace, encoded, counted)
        except BaseException:
            self.rarity_sync.take_back(counted)  # rolled back: what the batch counted was never stored
            raise
        self.cache.remember(pending, epoch)
        for listener in self.listeners:
            listener(opened, grown)
        return [r for r in results if r is not None]

    def _ingest(
        self,
        prepared: list[Prepared],
        results: list[IngestResult | None],
        opened: list[int],
        grown: list[int],
        pending: dict[int, KnownHeadline],
        bounds: list[tuple[int, int]],
        pace: Callable[[], None],
        encoded: dict[str, np.ndarray] | None,
        counted: list[tuple[int, Features, float]],
    ) -> None:
        """``ingest``'s write transaction: match and store every item of the batch."""
        if self.store.shared_writers:
            # what other replicas stored or corrected before this transaction: they wait for it now
            self.rarity_sync.sync()
            self._sync_corrections()
        # Items already seen once ((source, id) replay), in this batch or before, return the same result.
        seen_in_batch: dict[tuple[str, str], IngestResult] = {}
        already = self.store.get_by_externals((p.item.source, p.item.ext_id) for p in prepared if p.item.ext_id)
        known = self.store.embeddings_by_hash([p.hash for p in prepared])
        # Normalised texts stored before this batch, then those the batch stores: any other text has
        # no exact repeat to find (the transaction keeps other writers out meanwhile), so its
        # find_exact query is skipped. Read here, inside: another replica may have stored some
        # text since ``encoded`` was read.
        exact_hashes = set(known)
        if encoded is not None:
            known = {**encoded, **known}
            steps: list[Step] = [(start, stop, [], None) for start, stop in bounds]
        else:
            steps = self._encode_and_describe(prepared, known, bounds, pace)
        replays = prepare.replays(prepared, already)
        start = 0
        for block in encode_ahead.vectors(prepared, known, steps):
            stop = start + len(block)
            pace()
            near = self._step_neighbours(prepared[start:stop], block, replays[start:stop])
            for j, (p, vec) in enumerate(zip(prepared[start:stop], block)):
                ext = external_key(p)
                if ext is not None and (ext in seen_in_batch or ext in already):
                    earlier = seen_in_batch.get(ext)
                    results[start + j] = (
                        replace(earlier, idempotent_replay=True, new_story=False)
                        if earlier is not None
                        else _replay_of(already[ext])
                    )
                    continue
                pace()
                result = self._assign(p, vec, pending, p.hash in exact_hashes, near.nearest(j))
                if result.new_story:
                    counted.append((result.headline_id, p.features, min(p.ts, p.received_at)))
                near.stored(j, result.headline_id)
                exact_hashes.add(p.hash)
                results[start + j] = result
                (opened if result.new_story else grown).append(result.story_id)
                if ext is not None:
                    seen_in_batch[ext] = result
            start = stop

    def _encode_all(
        self, prepared: list[Prepared], bounds: list[tuple[int, int]], pause: Callable[[], None] | None = None
    ) -> dict[str, np.ndarray]:
        """Languages, features and a vector for every item, outside any transaction: vectors by text
        hash (the stored ones read, the others encoded)."""
        known = self.store.embeddings_by_hash([p.hash for p in prepared])
        for _ in encode_ahead.vectors(prepared, known, self._encode_and_describe(prepared, known, bounds, pause)):
            pass
        return known

    def _encode_and_describe(
        self,
        prepared: list[Prepared],
        known: dict[str, np.ndarray],
        bounds: list[tuple[int, int]],
        pause: Callable[[], None] | None = None,
    ) -> list[Step]:
        """Every step goes to the encoder now; languages and features are worked out meanwhile."""
        steps = self.encoding.steps(prepared, known, bounds, ahead=True)
        try:
            prepare.describe(prepared, self.detector, pause)
        except BaseException:
            encode_ahead.cancel(steps)
            raise
        return steps

    def _step_neighbours(
        self, prepared: Sequence[Prepared], block: np.ndarray, replays: Sequence[bool]
    ) -> StepNeighbours:
        """One search for a step's headlines (replays need none) over what was stored before the step."""
        wanted = [j for j, replay in enumerate(replays) if not replay]
        found: list[list[tuple[int, float]] | None] = [None] * len(prepared)
        if wanted:
            ts = [prepared[j].ts for j in wanted]
            answers = self.store.nearest_many(
                block[wanted], self.settings.candidate_k, [t - self.window for t in ts], [t + self.window for t in ts]
            )
            for j, answer in zip(wanted, answers):
                found[j] = answer
        return StepNeighbours(found, block, [p.ts for p in prepared], self.window, self.settings.candidate_k)

    def _assign(
        self,
        p: Prepared,
        vec: np.ndarray,
        pending: dict[int, KnownHeadline],
        maybe_exact: bool = True,
        found: list[tuple[int, float]] | None = None,
    ) -> IngestResult:
        """Match ``p`` and store it. ``found``: its nearest stored headlines, when already searched."""
        exact = self.store.find_exact(p.hash, p.ts - self.window, p.ts + self.window) if maybe_exact else None
        story_id: int | None
        match: str | None
        matched: int | None
        if exact is not None:
            story_id, match, score, matched = exact.story_id, EXACT, 1.0, exact.id
        else:
            candidates = self._candidates(vec, p.ts, pending, found)
            decision = decide(
                p.features, p.item.published_at, candidates, self.params, weights=self._weights(p.features), at=p.ts
            )
            story_id, match, score, matched = decision.story_id, decision.match, decision.score, decision.headline_id
        row = NewHeadline(
            title=p.item.title,
            norm=p.key,
            text_hash=p.hash,
            lang=p.lang,
            source=p.item.source,
            ext_id=p.item.ext_id,
            url=p.item.url,
            published_at=p.item.published_at,
            received_at=p.received_at,
            story_id=story_id or 0,
            match=match if story_id else None,
            score=score if story_id else None,
            features=p.features.to_json(),
            embedding=vec,
            matched_headline_id=matched if story_id else None,
        )
        new_story = story_id is None
        if story_id is None:
            story_id = self.store.create_story(row)
            row.story_id = story_id
        headline_id = self.store.insert_headline(row)
        self.store.add_to_story(story_id, headline_id, row)
        if new_story:  # each story counts once, by its first headline (rarity.py)
            # never ahead of now: a publication time in the future would slide the whole window forward
            self.rarity_sync.add_opener(headline_id, p.features, min(p.ts, p.received_at))
        pending[headline_id] = KnownHeadline(story_id, p.item.published_at, p.features.compact())
        return IngestResult(
            headline_id=headline_id,
            lang=p.lang,
            story_id=story_id,
            duplicate=not new_story,
            match=row.match,
            score=row.score,
            matched_headline_id=row.matched_headline_id,
            new_story=new_story,
        )

    # --- the newsroom check (read-only) ------------------------------------------------------
    def checking(self) -> AbstractContextManager[None]:
        """A dedup check is under way meanwhile: ingest waits for it (``matching.checks_first``). ``check``
        enters it; the HTTP route enters it too, around its thread hop and the answer's serialisation."""
        return self.checks.checking()

    def check(
        self, title: str, lang: str | None = None, top: int = 5, published_at: float | None = None
    ) -> CheckResult:
        """``published_at``: the headline's time (epoch seconds), now when None (the HTTP check); a replay
        of a labelled stream (bench/calibrate_check.py) gives each row's own."""
        with self.checking():
            return self._check(title, lang, top, published_at)

    def _check(self, title: str, lang: str | None, top: int, published_at: float | None = None) -> CheckResult:
        p = prepare.keys([HeadlineInput(title=title, lang=lang, published_at=published_at)], self.clock())[0]
        known = self.store.embeddings_by_hash([p.hash])
        # A text never stored has no exact repeat to look up (ingest skips it the same way).
        stored_before = p.hash in known
        # Encoded here, in the request's thread, then described: a thread of its own encoding the title
        # while this one described it started only once the description (Python, holding the GIL) was
        # done, and the hand-offs cost more than they hid. At 100k stored, in-process, the two ways
        # taking turns query by query, 1,200 checks each: p50 7.20 -> 6.91 ms, 0.28 ms less per query
        # (paired median), less for 61 % of the queries. The USE encoder runs a lone title in the
        # calling thread, never queued behind ingest's steps.
        vec = np.asarray(known[p.hash] if stored_before else self.encoding.encode([p.text])[0], dtype=np.float32)
        prepare.describe([p], self.detector)
        candidates = self._candidates(vec, p.ts)
        if self.store.shared_writers and self.rarity_sync.due():
            self.rarity_sync.sync()
        if self.store.shared_writers and time.monotonic() - self._corrections_checked_at > CORRECTIONS_SYNC_SECONDS:
            self._sync_corrections()
        weights = self._weights(p.features)
        # Scored once: the decision and the list of matches shown to the newsroom read the same figures.
        scores = candidate_scores(p.features, None, candidates, self.params, weights)
        exact = self.store.find_exact(p.hash, p.ts - self.window, p.ts + self.window) if stored_before else None
        decision_story: int | None
        match: str | None
        closest_story: int | None
        closest_headline: int | None
        if exact is not None:
            decision_story, match, score = exact.story_id, EXACT, 1.0
            closest_story, closest_headline = exact.story_id, exact.id
        else:
            d = decide(p.features, None, candidates, self.params, scores, weights, at=p.ts)
            decision_story, match, score = d.story_id, d.match, d.score
            closest_headline = d.headline_id
            closest_story = (
                d.story_id
                if d.story_id is not None
                else next((c.story_id for c in candidates if c.headline_id == d.headline_id), None)
            )
        scored = [(s, c) for s, c in zip(scores, candidates) if s is not None]
        if exact is not None and all(c.headline_id != exact.id for _, c in scored):
            scored.append(
                (1.0, Candidate(exact.id, exact.story_id, 1.0, Features.from_json(exact.features), exact.published_at))
            )
        distinct, copies = distinct_texts(scored, p.key)
        shown = distinct[:top]
        rows = self.store.headlines(c.headline_id for _, c in shown)
        return CheckResult(
            duplicate=decision_story is not None,
            story_id=decision_story,
            match=match,
            score=round(float(score), 4),
            threshold=self.params.threshold,
            lang=p.lang,
            matches=check_matches(p.features, shown, copies, rows, self.params, weights),
            closest_story_id=closest_story,
            closest_headline_id=closest_headline,
        )


def _replay_of(stored: HeadlineRow) -> IngestResult:
    """The answer to a (source, id) stored by an earlier batch."""
    return IngestResult(
        headline_id=stored.id,
        lang=stored.lang,
        story_id=stored.story_id,
        duplicate=stored.match is not None,
        match=stored.match,
        score=stored.score,
        matched_headline_id=stored.matched_headline_id,
        idempotent_replay=True,
    )
