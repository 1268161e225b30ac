"""The one place where the flow is written as code:

    request → normalise (ingest) → embed (embeddings) → match to a story (stories) → store → topics

Routers call ``Pipeline``; so does ``python -m app.eval`` on an in-memory store, so what is measured
is what is served. What goes in and comes out is in ``records``.
"""

from __future__ import annotations

__all__ = ["Pipeline", "match_params", "HeadlineInput", "IngestResult", "CheckMatch", "CheckResult"]

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Callable, Iterator, Mapping, Sequence

import numpy as np

from embeddings import Encoder

from .blas import limit_blas_threads
from .config import Settings
from .ingest.lang import LanguageDetector
from .ingest.langcodes import canonical_lang
from .ingest.normalise import key_of_rest, strip_kicker, text_hash
from .records import CheckMatch, CheckResult, HeadlineInput, IngestResult
from .store import NewHeadline, Store
from .stories.decide import EXACT, Candidate, candidate_scores, decide
from .stories.features import Features, extract
from .stories.rarity import DocumentFrequency, rarity_terms, rarity_weights
from .stories.score import MatchParams, score_terms

#: headlines in the first step of an ingest batch: the encoder works on the next step while this one is
#: matched, so the first step is what matching waits for before it can start
STREAM_CHUNK = 48
#: headlines in the later steps: the encoder does ~10 % more texts/s in calls of 96-128 than of 48
#: (its two workers get 24 each; measured on 2 cores), and the steps after the first overlap matching
STREAM_STEP = 128
#: items described (language, features) at a time in an ingest batch: lingua holds the GIL for a whole
#: call, so a batch of 1,000 in one call held every other thread off for ~120 ms
DESCRIBE_PART = 64
#: stored headlines read at a time when counting the rarity of names and words from the store
RARITY_READ = 5000
#: with several replicas, a dedup check counts the others' new headlines at most this often
RARITY_SYNC_SECONDS = 5.0
#: with several replicas, a dedup check looks for the others' corrections at most this often
CORRECTIONS_SYNC_SECONDS = 1.0
#: while dedup checks are under way, an ingest batch waits for them before its next headline or step,
#: up to this long at a time ...
CHECKS_FIRST_MAX_WAIT = 0.05
#: ... and for no more than this share of its own time, so that a stream of checks slows ingest down
#: without stopping it
CHECKS_FIRST_SHARE = 0.5


@dataclass(frozen=True, slots=True)
class _Known:
    """A stored headline as matching sees it. Only an editor's correction moves a headline to another
    story, and each correction empties the cache (``Pipeline.forget_assignments``)."""

    story_id: int
    published_at: float | None
    features: Features


#: a step of an ingest batch for the encoder: item range, hashes it encodes, their vectors to come
_Step = tuple[int, int, list[str], "Future[np.ndarray] | None"]
#: placeholder until ``Pipeline._describe`` fills an item's features in
_NO_FEATURES: Features = None  # type: ignore[assignment]


@dataclass
class _Prepared:
    item: HeadlineInput
    key: str
    #: what the encoder reads: the key's cleaning with the case kept (the encoder reads case)
    text: str
    hash: str
    lang: str | None
    features: Features
    ts: float
    received_at: float


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
        self._encode_lock = threading.Lock()
        self._known: dict[int, _Known] = {}
        #: moves with every ``forget_assignments``: rows read before it are not kept
        self._known_epoch = 0
        self._known_lock = threading.Lock()
        # The encoder works ahead of the matching loop (see _embed_stream): an encoder that queues work
        # itself (``submit``, thread-safe) gets every step at once; any other is fed one step at a time
        # by a thread of ours.
        submit = getattr(encoder, "submit", None)
        self._submit: Callable[[list[str]], Future[np.ndarray]] | None = (
            submit if callable(submit) and getattr(encoder, "thread_safe", False) else None
        )
        self._encode_ahead = ThreadPoolExecutor(1, thread_name_prefix="encode-ahead")
        # Checks go first: an ingest batch holds the GIL for most of its time (matching is Python), and
        # every return of a check's threads from native code waited behind it. Checks under way are
        # counted here and ingest waits for them between headlines (``_ChecksFirst``).
        self._checks = threading.Condition()
        self._checks_in_flight = 0
        #: ingest batches waiting for checks right now
        self.ingest_waiting_for_checks = 0
        # How common each name and word is in the window (app/stories/rarity.py). With several writers
        # (replicas on PostgreSQL) the others' headlines are read from the store by id: ``_rarity_seen``
        # is the highest id read, ``_rarity_own`` the ids this process counted itself above it.
        self.rarity = DocumentFrequency(self.window)
        self._rarity_lock = threading.Lock()
        self._rarity_seen = 0
        self._rarity_own: set[int] = set()
        self._rarity_synced_at = 0.0
        # Editors' corrections move headlines between stories, which the cache above holds: the store's
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

    # --- preparation (pure) -------------------------------------------------------------
    def _prepare(self, items: Sequence[HeadlineInput]) -> list[_Prepared]:
        return self._describe(self._keys(items))

    def _keys(self, items: Sequence[HeadlineInput]) -> list[_Prepared]:
        """What the encoder and the lookups need (matching key, encoder text, hash, times); language and
        features are left for ``_describe``, so that ingest can start the encoder before them."""
        now = self.clock()
        out = []
        for it in items:
            # normalise(title) and embedding_text(title) both start from strip_kicker(title): once here
            rest = strip_kicker(it.title)[1]
            key = key_of_rest(rest)
            out.append(
                _Prepared(
                    item=it,
                    key=key,
                    text=rest,
                    hash=text_hash(key),
                    lang=None,
                    features=_NO_FEATURES,
                    ts=it.published_at if it.published_at is not None else now,
                    received_at=now,
                )
            )
        return out

    def _describe(self, prepared: list[_Prepared], pause: Callable[[], None] | None = None) -> list[_Prepared]:
        """Fill in each item's language (the client's, else detected) and matching features.
        ``pause``: called between parts of ``DESCRIBE_PART`` items (ingest lets checks go first there)."""
        for start in range(0, len(prepared), DESCRIBE_PART):
            if pause is not None and start:
                pause()
            part = prepared[start : start + DESCRIBE_PART]
            missing = [p for p in part if not p.item.lang]
            detected = self.detector.detect_many([p.item.title for p in missing]) if missing else []
            for p in part:
                if p.item.lang:
                    p.lang = canonical_lang(p.item.lang)
            for p, lang in zip(missing, detected):
                p.lang = lang
            for p in part:
                p.features = extract(p.item.title, p.key, p.lang)
        return prepared

    def _embed(self, prepared: Sequence[_Prepared]) -> np.ndarray:
        """One vector per item; a normalised text already stored is never encoded again."""
        return np.vstack(list(self._embed_stream(prepared, chunk=len(prepared))))

    def _encode(self, texts: list[str]) -> np.ndarray:
        # An encoder that says it is thread-safe (the USE one) is called without the lock: a dedup
        # check's one title must not queue behind an ingest step of 128 (~0.15 s of encoding).
        if getattr(self.encoder, "thread_safe", False):
            return self.encoder.encode(texts)
        with self._encode_lock:  # the others (torch models, wrappers) one call at a time
            return self.encoder.encode(texts)

    def _embed_stream(
        self, prepared: Sequence[_Prepared], chunk: int = STREAM_CHUNK, known: dict[str, np.ndarray] | None = None
    ) -> Iterator[np.ndarray]:
        """The vectors of ``prepared``, ``chunk`` items at a time, in order.

        The encoder runs in a background thread, step k+1 while the caller matches step k: matching is
        Python holding the GIL on one core, the encoder is mostly BLAS outside it, so the two overlap on a
        multi-core machine instead of taking turns. Texts already stored, or met earlier in the batch,
        are not encoded again. ``known``: the stored vectors by hash, when the caller already asked
        (``store.embeddings_by_hash``); encoded ones are added to it. Every step is handed to the encoder
        when this is called; the vectors come as the returned iterator is read.
        """
        if known is None:
            known = self.store.embeddings_by_hash([p.hash for p in prepared])
        bounds = [(start, min(len(prepared), start + chunk)) for start in range(0, len(prepared), chunk)]
        return self._vectors(prepared, known, self._encode_steps(prepared, known, bounds, len(bounds) > 1))

    def _encode_steps(
        self, prepared: Sequence[_Prepared], known: dict[str, np.ndarray], bounds: list[tuple[int, int]], ahead: bool
    ) -> list[_Step]:
        """Hand each step's new texts to the encoder: to its background thread when ``ahead``, else
        here and now (a single step has nothing to overlap with: no thread hop)."""
        steps: list[_Step] = []
        queued: set[str] = set()
        for start, stop in bounds:
            todo: dict[str, str] = {}
            for p in prepared[start:stop]:
                if p.hash not in known and p.hash not in queued and p.hash not in todo:
                    todo[p.hash] = p.text
            queued.update(todo)
            future = None
            if todo:
                texts = list(todo.values())
                if not ahead:
                    future = _done(self._encode(texts))
                elif self._submit is not None:
                    future = self._submit(texts)
                else:
                    future = self._encode_ahead.submit(self._encode, texts)
            steps.append((start, stop, list(todo), future))
        return steps

    @staticmethod
    def _vectors(
        prepared: Sequence[_Prepared], known: dict[str, np.ndarray], steps: list[_Step]
    ) -> Iterator[np.ndarray]:
        try:
            for start, stop, hashes, future in steps:
                if future is not None:
                    known.update(zip(hashes, future.result()))
                yield np.vstack([known[p.hash] for p in prepared[start:stop]]).astype(np.float32)
        finally:
            _cancel(steps)

    def _candidates(
        self,
        vec: np.ndarray,
        ts: float,
        pending: dict[int, _Known] | None = None,
        found: list[tuple[int, float]] | None = None,
    ) -> list[Candidate]:
        if found is None:
            found = self.store.nearest(vec, self.settings.candidate_k, ts - self.window, ts + self.window)
        found = [(hid, cos) for hid, cos in found if cos >= self.params.min_cosine]
        if not found:
            return []
        rows = self._rows([hid for hid, _ in found], pending or {})
        story_ids, centroids = self.store.story_centroids_for(sorted({r.story_id for r in rows.values()}))
        story_cos = dict(zip(story_ids, (centroids @ vec).tolist())) if story_ids else {}
        out = []
        for hid, cos in found:
            row = rows.get(hid)
            if row is not None:
                out.append(
                    Candidate(
                        headline_id=hid,
                        story_id=row.story_id,
                        cosine=cos,
                        features=row.features,
                        published_at=row.published_at,
                        story_cosine=story_cos.get(row.story_id),
                    )
                )
        return out

    def _rows(self, ids: list[int], pending: dict[int, _Known]) -> dict[int, _Known]:
        """Matching's view of stored headlines: from memory when seen before (reading and parsing
        ~18 rows per headline from the store was a fifth of ingest time), else from the store."""
        out: dict[int, _Known] = {}
        missing = []
        for hid in ids:
            known = pending.get(hid) or self._known.get(hid)
            if known is None:
                missing.append(hid)
            else:
                out[hid] = known
        if missing:
            epoch = self._known_epoch
            fetched = {
                r.id: _Known(r.story_id, r.published_at, Features.from_json(r.features, compact=True))
                for r in self.store.headlines(missing).values()
            }
            self._remember(fetched, epoch)
            out.update(fetched)
        return out

    def warm_cache(self) -> int:
        """Read the newest stored headlines' matching view into memory (``TICKER_FEATURE_CACHE_SIZE``
        of them), so that a restarted service matches and checks at the speed of one that has run for
        a while: at 100k stored, a dedup check whose candidates were read from the store took p50
        6.2-6.5 ms in-process, 5.3 with the newest 50k in memory (2.2 s to read them, ~200 MiB).
        Returns how many were read."""
        rows = self.store.recent_features(self.settings.feature_cache_size)
        # oldest first: the cache evicts in insertion order
        self._remember(
            {
                hid: _Known(sid, published, Features.from_json(features, compact=True))
                for hid, sid, published, features in reversed(rows)
            }
        )
        return len(rows)

    def forget_assignments(self) -> None:
        """Forget which story each cached headline is in (after an editor's correction)."""
        with self._known_lock:
            self._known.clear()
            self._known_epoch += 1

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
        newest = self.store.latest_story_time()
        return self._sync_rarity(newest - self.window) if newest is not None else 0

    def _sync_rarity(self, ts_lo: float = float("-inf")) -> int:
        """Count the stored headlines this process has not counted yet (above ``_rarity_seen``)."""
        counted = 0
        with self._rarity_lock:
            while True:
                rows = self.store.story_openers_since(self._rarity_seen, max(ts_lo, -1e18), RARITY_READ)
                for hid, ts, features in rows:
                    if hid not in self._rarity_own:
                        f = Features.from_json(features)
                        counted += self.rarity.add(f.lang, rarity_terms(f), min(ts, self.clock()))
                if rows:
                    self._rarity_seen = max(self._rarity_seen, rows[-1][0])
                if len(rows) < RARITY_READ:
                    break
            self._rarity_own = {hid for hid in self._rarity_own if hid > self._rarity_seen}
            self._rarity_synced_at = time.monotonic()
        return counted

    def _weights(self, features: Features) -> dict[str, float] | None:
        """The rarity of a headline's names and words in the window now (None: rarity is switched off)."""
        return rarity_weights(self.rarity, features, self.params.rarity_share, self.params.rarity_prior)

    def _remember(self, rows: dict[int, _Known], epoch: int | None = None) -> None:
        """Keep ``rows`` in the cache, unless a correction emptied it since they were read (``epoch``)."""
        if self.settings.feature_cache_size <= 0:
            return
        cache = self._known
        with self._known_lock:  # ingest and checks both add; evicting reads the oldest key
            if epoch is not None and epoch != self._known_epoch:
                return  # read before a correction: they may name a story a headline has left
            for hid, known in rows.items():
                if hid not in cache and len(cache) >= self.settings.feature_cache_size:
                    cache.pop(next(iter(cache)))
                cache[hid] = known

    # --- ingestion ----------------------------------------------------------------------
    def ingest(self, items: Sequence[HeadlineInput]) -> list[IngestResult]:
        if not items:
            return []
        prepared = self._keys(items)
        results: list[IngestResult | None] = [None] * len(items)
        opened: list[int] = []
        grown: list[int] = []
        # Headlines stored by this batch: matching sees them at once, the shared cache only after the
        # commit (a rollback may hand their ids out again).
        pending: dict[int, _Known] = {}
        bounds = _step_bounds(len(prepared))
        # Replicas wait for each other's write transactions (PostgreSQL's write lock): encoding inside
        # one would make them take turns at the encoder too, so it is done before. A single writer
        # (SQLite) encodes inside instead, overlapping each step's encoding with the last one's matching.
        checks_first: Callable[[], None] = _ChecksFirst(self)
        encoded = None
        if self.store.shared_writers:
            encoded = self._encode_all(prepared, bounds, checks_first)
            # other replicas wait for this write transaction: it does not wait for this process's checks
            checks_first = _no_pause
        counted: list[tuple[int, _Prepared]] = []
        epoch = self._known_epoch
        try:
            self._ingest(prepared, results, opened, grown, pending, bounds, checks_first, encoded, counted)
        except BaseException:
            # rolled back: what the batch counted was never stored
            with self._rarity_lock:
                for hid, p in counted:
                    self.rarity.remove(p.lang, rarity_terms(p.features), min(p.ts, p.received_at))
                    self._rarity_own.discard(hid)
            raise
        self._remember(pending, epoch)
        for listener in self.listeners:
            listener(opened, grown)
        return [r for r in results if r is not None]

    def _ingest(
        self,
        prepared: list[_Prepared],
        results: list[IngestResult | None],
        opened: list[int],
        grown: list[int],
        pending: dict[int, _Known],
        bounds: list[tuple[int, int]],
        checks_first: Callable[[], None],
        encoded: dict[str, np.ndarray] | None,
        counted: list[tuple[int, _Prepared]],
    ) -> None:
        """``ingest``'s one write transaction: match and store every item of the batch."""
        with self.store.transaction():
            if self.store.shared_writers:
                # what other replicas stored or corrected before this transaction: they wait for it now
                self._sync_rarity()
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
                steps: list[_Step] = [(start, stop, [], None) for start, stop in bounds]
            else:
                steps = self._encode_and_describe(prepared, known, bounds, checks_first)
            replays = _replays(prepared, already)
            start = 0
            for block in self._vectors(prepared, known, steps):
                stop = start + len(block)
                checks_first()
                near = self._step_neighbours(prepared[start:stop], block, replays[start:stop])
                for j, (p, vec) in enumerate(zip(prepared[start:stop], block)):
                    i = start + j
                    ext = (p.item.source or "", p.item.ext_id) if p.item.ext_id else None
                    if ext is not None:
                        if ext in seen_in_batch:
                            results[i] = _replay(seen_in_batch[ext])
                            continue
                        stored = already.get(ext)
                        if stored is not None:
                            results[i] = IngestResult(
                                headline_id=stored.id,
                                lang=stored.lang,
                                story_id=stored.story_id,
                                duplicate=stored.match is not None,
                                match=stored.match,
                                score=stored.score,
                                matched_headline_id=stored.matched_headline_id,
                                idempotent_replay=True,
                            )
                            continue
                    checks_first()
                    result = self._assign(p, vec, pending, p.hash in exact_hashes, near.nearest(j))
                    if result.new_story:
                        counted.append((result.headline_id, p))
                    near.stored(j, result.headline_id)
                    exact_hashes.add(p.hash)
                    results[i] = result
                    (opened if result.new_story else grown).append(result.story_id)
                    if ext is not None:
                        seen_in_batch[ext] = result
                start = stop

    def _encode_all(
        self, prepared: list[_Prepared], bounds: list[tuple[int, int]], pause: Callable[[], None] | None = None
    ) -> dict[str, np.ndarray]:
        """Languages, features and a vector for every item, outside any transaction: vectors by text
        hash (the stored ones read, the others encoded)."""
        known = self.store.embeddings_by_hash([p.hash for p in prepared])
        for _ in self._vectors(prepared, known, self._encode_and_describe(prepared, known, bounds, pause)):
            pass
        return known

    def _encode_and_describe(
        self,
        prepared: list[_Prepared],
        known: dict[str, np.ndarray],
        bounds: list[tuple[int, int]],
        pause: Callable[[], None] | None = None,
    ) -> list[_Step]:
        """Every step goes to the encoder now; languages and features are worked out meanwhile."""
        steps = self._encode_steps(prepared, known, bounds, ahead=True)
        try:
            self._describe(prepared, pause)
        except BaseException:
            _cancel(steps)
            raise
        return steps

    def _step_neighbours(
        self, prepared: Sequence[_Prepared], block: np.ndarray, replays: Sequence[bool]
    ) -> "_StepNeighbours":
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
        return _StepNeighbours(found, block, [p.ts for p in prepared], self.window, self.settings.candidate_k)

    def _assign(
        self,
        p: _Prepared,
        vec: np.ndarray,
        pending: dict[int, _Known],
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
            self.rarity.add(p.lang, rarity_terms(p.features), min(p.ts, p.received_at))
            if self.store.shared_writers:
                with self._rarity_lock:
                    self._rarity_own.add(headline_id)
        pending[headline_id] = _Known(story_id, p.item.published_at, p.features.compact())
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
    @contextmanager
    def checking(self) -> Iterator[None]:
        """A dedup check is under way meanwhile: ingest waits for it (``_ChecksFirst``). ``check`` enters
        it; the HTTP route enters it too, around its thread hop and the answer's serialisation."""
        with self._checks:
            self._checks_in_flight += 1
        try:
            yield
        finally:
            with self._checks:
                self._checks_in_flight -= 1
                if not self._checks_in_flight:
                    self._checks.notify_all()

    def check(
        self, title: str, lang: str | None = None, top: int = 5, published_at: float | None = None
    ) -> CheckResult:
        """``published_at``: the headline's time (epoch seconds), now when None (the HTTP check); a replay
        of a labelled stream (bench/calibrate_check.py) gives each row's own."""
        with self.checking():
            return self._check(title, lang, top, published_at)

    def _check(self, title: str, lang: str | None, top: int, published_at: float | None = None) -> CheckResult:
        p = self._keys([HeadlineInput(title=title, lang=lang, published_at=published_at)])[0]
        known = self.store.embeddings_by_hash([p.hash])
        # A text never stored has no exact repeat to look up (ingest skips it the same way).
        stored_before = p.hash in known
        # Encoded here, in the request's thread, then described: a thread of its own encoding the title
        # while this one described it started only once the description (Python, holding the GIL) was
        # done, and the hand-offs cost more than they hid. At 100k stored, in-process, the two ways
        # taking turns query by query, 1,200 checks each: p50 7.20 -> 6.91 ms, 0.28 ms less per query
        # (paired median), less for 61 % of the queries. The USE encoder runs a lone title in the
        # calling thread, never queued behind ingest's steps.
        vec = np.asarray(known[p.hash] if stored_before else self._encode([p.text])[0], dtype=np.float32)
        self._describe([p])
        candidates = self._candidates(vec, p.ts)
        if self.store.shared_writers and time.monotonic() - self._rarity_synced_at > RARITY_SYNC_SECONDS:
            self._sync_rarity()
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
        # The same text first (what "exact" points at), then by score: a pair score can pass 1.0.
        scored.sort(key=lambda sc: (sc[1].features.key != p.key, -sc[0]))
        # One entry per text: the same normalised title stored again (a feed that repeats itself, two
        # outlets running one wire) is listed once, with how many carry it; the list goes on to `top` texts.
        distinct: list[tuple[float, Candidate]] = []
        copies: dict[str, int] = {}
        for s, c in scored:
            key = c.features.key
            if key not in copies:
                distinct.append((s, c))
            copies[key] = copies.get(key, 0) + 1
        rows = self.store.headlines(c.headline_id for _, c in distinct[:top])
        matches = [
            CheckMatch(
                headline_id=c.headline_id,
                story_id=c.story_id,
                title=rows[c.headline_id].title,
                lang=rows[c.headline_id].lang,
                source=rows[c.headline_id].source,
                published_at=rows[c.headline_id].published_at,
                score=round(float(s), 4),
                cosine=round(c.cosine, 4),
                terms={
                    k: round(v, 4)
                    for k, v in score_terms(p.features, c.features, c.cosine, None, self.params, weights).items()
                },
                url=rows[c.headline_id].url,
                received_at=rows[c.headline_id].received_at,
                copies=copies[c.features.key],
            )
            for s, c in distinct[:top]
            if c.headline_id in rows
        ]
        return CheckResult(
            duplicate=decision_story is not None,
            story_id=decision_story,
            match=match,
            score=round(float(score), 4),
            threshold=self.params.threshold,
            lang=p.lang,
            matches=matches,
            closest_story_id=closest_story,
            closest_headline_id=closest_headline,
        )


class _ChecksFirst:
    """Called by an ingest batch before each step, headline and part of ``DESCRIBE_PART`` descriptions:
    while dedup checks are under way, wait until they are done (``CHECKS_FIRST_MAX_WAIT`` at most at a
    time), unless the batch has already spent ``CHECKS_FIRST_SHARE`` of its time waiting.

    Why: a check is a newsroom waiting on a publish button, an ingest batch is a feed that can wait a
    few milliseconds. In-process, 3,000-7,000 stored, checks back to back while another thread ingested
    at full speed, p50 / p99: batches of 1,000, 10.0-13.3 / 112-128 ms without this, 5.9-6.8 / 51-57 ms with
    it; batches of 100, 10.7-13.3 / 38-49 and 6.0-6.3 / 38-42 ms (4.6-5.5 / 7-13 ms with nothing else
    running). Ingest meanwhile ran ~25-40 % slower."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.started = time.perf_counter()
        self.waited = 0.0

    def __call__(self) -> None:
        p = self.pipeline
        if not p._checks_in_flight or not p.store.reads_during_writes:
            # (read without the lock: a check that starts right after waits one headline more); a check
            # on a store whose reads wait for the write transaction cannot go first
            return
        now = time.perf_counter()
        if self.waited >= CHECKS_FIRST_SHARE * (now - self.started):
            return
        with p._checks:
            p.ingest_waiting_for_checks += 1
            try:
                p._checks.wait_for(lambda: not p._checks_in_flight, timeout=CHECKS_FIRST_MAX_WAIT)
            finally:
                p.ingest_waiting_for_checks -= 1
        self.waited += time.perf_counter() - now


class _StepNeighbours:
    """The nearest stored headlines of each headline of an ingest step.

    ``found`` holds what one batched search over the store answered for the step at its start; the
    headlines the step stores afterwards are added here as they are stored, with their cosines from
    one product of the step's vectors. Headline j's list is then what a search of its own, made just
    before it is matched, would give.
    """

    def __init__(
        self, found: list[list[tuple[int, float]] | None], block: np.ndarray, ts: list[float], window: float, k: int
    ) -> None:
        self.found, self.ts, self.window, self.k = found, ts, window, k
        self._block = block
        self._gram: np.ndarray | None = None
        self._stored: list[tuple[int, int]] = []  # (position in the step, headline id)

    def nearest(self, j: int) -> list[tuple[int, float]]:
        found = self.found[j] or []
        if not self._stored:
            return found
        if self._gram is None:
            self._gram = self._block @ self._block.T
        lo, hi = self.ts[j] - self.window, self.ts[j] + self.window
        sims = self._gram[j]
        extra = [(hid, float(sims[a])) for a, hid in self._stored if lo <= self.ts[a] <= hi]
        if not extra:
            return found
        return sorted(found + extra, key=lambda hc: -hc[1])[: self.k]

    def stored(self, j: int, headline_id: int) -> None:
        self._stored.append((j, headline_id))


def _no_pause() -> None:
    return None


def _replays(prepared: Sequence[_Prepared], already: Mapping[tuple[str, str], object]) -> list[bool]:
    """Which items of a batch repeat a (source, id) stored before or met earlier in the batch."""
    seen: set[tuple[str, str]] = set()
    out = []
    for p in prepared:
        ext = (p.item.source or "", p.item.ext_id) if p.item.ext_id else None
        out.append(ext is not None and (ext in seen or ext in already))
        if ext is not None:
            seen.add(ext)
    return out


def _step_bounds(n: int) -> list[tuple[int, int]]:
    """An ingest batch's steps: ``STREAM_CHUNK`` items first, then ``STREAM_STEP`` at a time."""
    bounds, start = [], 0
    while start < n:
        stop = min(n, start + (STREAM_CHUNK if start == 0 else STREAM_STEP))
        bounds.append((start, stop))
        start = stop
    return bounds


def _cancel(steps: list[_Step]) -> None:
    """Take back from the encoder the steps it has not started (after a failure, or when done)."""
    for *_, future in steps:
        if future is not None:
            future.cancel()


def _done(value: np.ndarray) -> Future[np.ndarray]:
    future: Future[np.ndarray] = Future()
    future.set_result(value)
    return future


def _replay(r: IngestResult) -> IngestResult:
    return IngestResult(
        headline_id=r.headline_id,
        lang=r.lang,
        story_id=r.story_id,
        duplicate=r.duplicate,
        match=r.match,
        score=r.score,
        matched_headline_id=r.matched_headline_id,
        idempotent_replay=True,
    )
