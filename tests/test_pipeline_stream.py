"""Ingest encodes ahead of matching, in steps: the answer must not depend on the step size, a text must be
encoded once, and a failure half-way must leave nothing behind."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from conftest import DATASETS, read_jsonl

from app.config import load_settings
from app.pipeline import HeadlineInput, Pipeline
from app.store import open_store


class CountingEncoder:
    """The real encoder, counting texts, remembering the calling threads, failing on request."""

    def __init__(self, inner, fail_on: str | None = None) -> None:
        self.inner, self.name, self.dim = inner, inner.name, inner.dim
        self.texts: list[str] = []
        self.threads: set[str] = set()
        self.fail_on = fail_on

    def encode(self, texts):
        if self.fail_on is not None and self.fail_on in texts:
            raise RuntimeError("encoder failed")
        self.texts += list(texts)
        self.threads.add(threading.current_thread().name)
        return self.inner.encode(texts)


def _pipeline(encoder) -> Pipeline:
    settings = load_settings(env={})
    return Pipeline(settings, open_store(settings, encoder.dim, memory=True), encoder)


def _rows(n: int) -> list[HeadlineInput]:
    path = DATASETS / "gnews_fr" / "dev.jsonl"
    if not path.exists():
        pytest.skip("../shared missing")
    titles = [r["title"] for r in read_jsonl(path)][:n]
    # verbatim repeats far apart: the second copy lands in a later step than the first
    titles += titles[:20]
    return [HeadlineInput(title=t, lang="fr") for t in titles]


def _summary(results):
    return [(r.story_id, r.duplicate, r.match, None if r.score is None else round(r.score, 4)) for r in results]


def test_stepwise_encoding_matches_one_step_and_encodes_each_text_once(encoder, monkeypatch):
    items = _rows(150)
    ahead = CountingEncoder(encoder)
    streamed = _pipeline(ahead).ingest(items)
    assert len(ahead.texts) == len(set(ahead.texts)) == 150  # the 20 repeats were never encoded
    assert any(name.startswith("encode-ahead") for name in ahead.threads)

    import app.matching.encode_ahead as encode_ahead

    monkeypatch.setattr(encode_ahead, "STREAM_CHUNK", 10_000)  # the whole batch in one step
    whole = _pipeline(CountingEncoder(encoder)).ingest(items)
    assert _summary(streamed) == _summary(whole)
    assert [r.match for r in streamed[150:]] == ["exact"] * 20


def test_an_encoder_failure_in_a_later_step_stores_nothing(encoder):
    items = _rows(150)
    failing = CountingEncoder(encoder, fail_on=items[120].title)
    pipeline = _pipeline(failing)
    with pytest.raises(RuntimeError, match="encoder failed"):
        pipeline.ingest(items)
    assert pipeline.store.count_headlines() == 0
    assert len(pipeline.cache) == 0  # rolled-back ids may be handed out again: none of them is remembered
    assert len(failing.texts) >= 48  # earlier steps had been encoded and matched before the failure
    # the pipeline is still usable, and what it had cached of the rolled-back rows is not reused
    failing.fail_on = None
    results = pipeline.ingest(items[:60])
    assert pipeline.store.count_headlines() == 60 and len({r.headline_id for r in results}) == 60
    vec = pipeline.embed(pipeline.prepare([items[0]]))
    assert vec.shape == (1, encoder.dim) and np.isclose(np.linalg.norm(vec), 1.0, atol=1e-4)


def _count_find_exact(pipeline: Pipeline, monkeypatch) -> list[str]:
    """The hashes the pipeline's store is asked about by ``find_exact`` from now on."""
    calls: list[str] = []
    find_exact = pipeline.store.find_exact

    def counting(text_hash, lo, hi):
        calls.append(text_hash)
        return find_exact(text_hash, lo, hi)

    monkeypatch.setattr(pipeline.store, "find_exact", counting)
    return calls


def test_exact_repeats_are_found_without_asking_the_store_about_new_texts(encoder, monkeypatch):
    """A text neither stored before the batch nor met earlier in it cannot have an exact repeat: ingest
    skips that lookup, and still finds every repeat, within a batch and across batches."""
    items = _rows(60)  # 60 titles, then the first 20 again
    pipeline = _pipeline(encoder)
    calls = _count_find_exact(pipeline, monkeypatch)
    first = pipeline.ingest(items)
    assert [r.match for r in first[60:]] == ["exact"] * 20
    assert [r.story_id for r in first[60:]] == [r.story_id for r in first[:20]]
    assert len(calls) == 20  # only the repeats were looked up
    calls.clear()
    again = pipeline.ingest([HeadlineInput(title=it.title, lang="fr") for it in items[20:40]])  # stored before
    assert [r.match for r in again] == ["exact"] * 20 and len(calls) == 20
    assert [r.story_id for r in again] == [r.story_id for r in first[20:40]]
    # the same answers as a pipeline that asks the store every time
    monkeypatch.setattr(Pipeline, "_assign", _always_ask(Pipeline._assign))
    other = _pipeline(encoder)
    assert _summary(other.ingest(items)) == _summary(first)


def test_a_check_looks_up_exact_repeats_only_of_stored_texts(encoder, monkeypatch):
    """The dedup check skips the exact-repeat query for a text never stored, and still answers
    "exact" for a stored one."""
    items = _rows(5)
    pipeline = _pipeline(encoder)
    stored = pipeline.ingest(items[:4])
    calls = _count_find_exact(pipeline, monkeypatch)
    fresh = pipeline.check(items[4].title)
    assert calls == [] and fresh.match != "exact"
    again = pipeline.check(items[1].title)
    assert len(calls) == 1 and again.match == "exact" and again.story_id == stored[1].story_id
    assert again.matches[0].headline_id == stored[1].headline_id


def _always_ask(assign):
    def wrapped(self, p, vec, pending, maybe_exact=True, found=None):
        return assign(self, p, vec, pending, True, found)

    return wrapped


def test_steps_are_a_short_first_one_then_longer_ones():
    from app.matching.encode_ahead import STREAM_CHUNK, STREAM_STEP, step_bounds

    assert step_bounds(0) == []
    assert step_bounds(10) == [(0, 10)]
    bounds = step_bounds(1000)
    assert bounds[0] == (0, STREAM_CHUNK) and bounds[-1][1] == 1000
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))  # contiguous, in order
    assert all(stop - start == STREAM_STEP for start, stop in bounds[1:-1])


def _order_recording_pipeline(encoder) -> tuple[Pipeline, list[str], threading.Event]:
    """A pipeline that records "encode" and "detect" in the order they start; detection first waits
    (up to 5 s) for an encoder call to have started, so it is recorded second only if the encoder
    was handed its work first."""
    events: list[str] = []
    encoding = threading.Event()

    class Slow(CountingEncoder):
        def encode(self, texts):
            events.append("encode")
            encoding.set()
            return super().encode(texts)

    pipeline = _pipeline(Slow(encoder))
    detect = pipeline.detector.detect_many

    def detect_many(texts):
        encoding.wait(5)
        events.append("detect")
        return detect(texts)

    pipeline.detector.detect_many = detect_many
    return pipeline, events, encoding


def test_the_encoder_starts_before_languages_and_features_are_worked_out(encoder):
    """Language detection and features need nothing from the encoder: ingest hands the encoder its
    work first, so the two overlap."""
    items = [HeadlineInput(title=it.title) for it in _rows(100)]  # no language: detected
    pipeline, events, _ = _order_recording_pipeline(encoder)
    results = pipeline.ingest(items)
    assert events[0] == "encode" and "detect" in events
    assert all(r.lang for r in results)
    reference = _pipeline(CountingEncoder(encoder)).ingest(items)
    assert _summary(results) == _summary(reference) and [r.lang for r in results] == [r.lang for r in reference]


def test_a_check_encodes_its_title_in_the_requests_own_thread_then_detects_the_language(encoder):
    """The dedup check encodes its title in the calling thread (a hand-off to another thread, to
    overlap encoding with language detection, made checks slower: see ``Pipeline._check``), before
    lingua and feature extraction, and answers as a check that detected the language first would."""
    items = [HeadlineInput(title=it.title, lang="fr") for it in _rows(30)[:30]]  # distinct: the last never stored
    pipeline, events, encoding = _order_recording_pipeline(encoder)
    pipeline.ingest(items[:-1])  # languages given: no detection, nothing recorded but encoding
    events.clear()
    encoding.clear()
    pipeline.encoder.threads.clear()
    got = pipeline.check(items[-1].title)
    assert events == ["encode", "detect"]
    assert pipeline.encoder.threads == {threading.current_thread().name}
    reference = _pipeline(CountingEncoder(encoder))
    reference.ingest(items[:-1])
    want = reference.check(items[-1].title)  # languages detected, then encoding: one after the other
    assert (got.duplicate, got.story_id, got.match, got.score, got.lang) == (
        want.duplicate,
        want.story_id,
        want.match,
        want.score,
        want.lang,
    )
    assert [(m.headline_id, m.score) for m in got.matches] == [(m.headline_id, m.score) for m in want.matches]


def test_keys_give_what_normalise_and_embedding_text_give():
    """Ingest strips the kicker once for both the matching key and the encoder's text: the same as
    ``normalise`` and ``embedding_text`` each doing it."""
    from app.ingest.normalise import normalise, text_hash
    from app.stories._text import embedding_text

    titles = [it.title for it in _rows(200)] + [
        "URGENT - Rabat. Le « Roi » reçoit l'ambassadeur (vidéo)",
        "Officiel : Rayane Bounida dit oui !",
        "عاجل | المغرب يستضيف الاجتماع",
        "Madrid, 3 mars (AFP) - Marruecos acoge la reunión…",
        "  x  ",
        "Tanger-Med : 10 % de hausse — record",
        "`Quote´ and ‘this’ – dash",
    ]
    from app.matching.prepare import keys

    for p, title in zip(keys([HeadlineInput(title=t) for t in titles], now=0.0), titles):
        assert (p.key, p.text, p.hash) == (normalise(title), embedding_text(title), text_hash(normalise(title)))


class GatedEncoder:
    """Blocks any batch holding ``gate_text`` until released; says whether it is thread-safe."""

    def __init__(self, inner, thread_safe: bool) -> None:
        self.inner, self.name, self.dim, self.thread_safe = inner, inner.name, inner.dim, thread_safe
        self.gate_text = "Le train de nuit Paris-Berlin reprend du service"
        self.entered, self.release = threading.Event(), threading.Event()

    def encode(self, texts):
        if self.gate_text in texts:
            self.entered.set()
            assert self.release.wait(30)
        return self.inner.encode(texts)


@pytest.mark.parametrize("thread_safe", [True, False])
def test_a_check_waits_for_ingest_encoding_only_when_the_encoder_is_not_thread_safe(encoder, thread_safe, tmp_path):
    gated = GatedEncoder(encoder, thread_safe)
    # a file store: its readers have their own connections (an in-memory one shares the writer's)
    settings = load_settings(env={"TICKER_DATA_DIR": str(tmp_path)})
    pipeline = Pipeline(settings, open_store(settings, encoder.dim), gated)
    ingest = threading.Thread(target=pipeline.ingest, args=([HeadlineInput(title=gated.gate_text, lang="fr")],))
    ingest.start()
    try:
        assert gated.entered.wait(30)
        done = threading.Event()
        checker = threading.Thread(target=lambda: (pipeline.check("Grève à la SNCF ce lundi"), done.set()))
        checker.start()
        assert done.wait(5 if thread_safe else 0.5) is thread_safe
    finally:
        gated.release.set()
        ingest.join(30)
        checker.join(30)
    assert done.is_set()


class _InTransactionEncoder(CountingEncoder):
    """Records, for each call, whether the store had a write transaction open."""

    def __init__(self, inner, store_ref: list) -> None:
        super().__init__(inner)
        self.store_ref, self.inside = store_ref, []

    def encode(self, texts):
        self.inside.append(bool(self.store_ref[0]._in_tx))
        return super().encode(texts)


def test_with_shared_writers_ingest_encodes_before_taking_the_write_lock(encoder, monkeypatch):
    """Replicas of a shared database wait for each other's write transactions: encoding inside one made
    them take turns at their encoders. Answers are the same either way, exact repeats included, and an
    encoder failure still stores nothing."""
    items = _rows(150)
    ref: list = [None]
    rec = _InTransactionEncoder(encoder, ref)
    shared = _pipeline(rec)
    ref[0] = shared.store
    monkeypatch.setattr(type(shared.store), "shared_writers", True)
    got = shared.ingest(items)
    assert rec.inside and not any(rec.inside), rec.inside
    assert len(rec.texts) == len(set(rec.texts)) == 150
    # a second batch repeating stored texts encodes nothing and finds the exact repeats
    again = shared.ingest(items[:30])
    assert len(rec.texts) == 150 and [r.match for r in again] == ["exact"] * 30

    monkeypatch.setattr(type(shared.store), "shared_writers", False)
    single = CountingEncoder(encoder)
    assert _summary(_pipeline(single).ingest(items)) == _summary(got)

    monkeypatch.setattr(type(shared.store), "shared_writers", True)
    failing = _pipeline(CountingEncoder(encoder, fail_on=items[120].title))
    with pytest.raises(RuntimeError, match="encoder failed"):
        failing.ingest(items)
    assert failing.store.count_headlines() == 0


def test_matching_keeps_stored_headlines_in_memory_compact_and_decides_as_before(encoder):
    """The cache of stored headlines holds compact features (two thirds of the memory of sets), whether
    a headline was stored by this pipeline or read back from the store, and a second pipeline on the
    same store (cold cache, rows read back) decides a check like the first one (warm cache)."""
    items = _rows(120)
    first = _pipeline(encoder)
    first.ingest(items)
    assert len(first.cache) >= 120
    assert all(isinstance(k.features.tokens, tuple) for _, k in first.cache.items())
    second = Pipeline(first.settings, first.store, encoder)
    title = items[5].title + " !"
    warm, cold = first.check(title), second.check(title)
    assert len(second.cache) and all(isinstance(k.features.tokens, tuple) for _, k in second.cache.items())
    assert (cold.duplicate, cold.story_id, cold.score) == (warm.duplicate, warm.story_id, warm.score)
    assert [m.headline_id for m in cold.matches] == [m.headline_id for m in warm.matches]


def test_warm_cache_reads_the_newest_stored_headlines_and_checks_then_read_no_candidate_rows(encoder, monkeypatch):
    items = _rows(60)
    first = _pipeline(encoder)
    first.ingest(items)
    stored = first.store.count_headlines()
    small = Pipeline(load_settings(env={"TICKER_FEATURE_CACHE_SIZE": "25"}), first.store, encoder)
    assert small.warm_cache() == 25 and len(small.cache) == 25
    newest = sorted(hid for hid, _ in first.cache.items())[-25:]
    assert sorted(hid for hid, _ in small.cache.items()) == newest
    full = Pipeline(first.settings, first.store, encoder)
    assert full.warm_cache() == stored
    # every candidate now comes from memory: the store is asked only for the answer's rows
    asked: list[list[int]] = []
    real = full.store.headlines
    monkeypatch.setattr(full.store, "headlines", lambda ids: asked.append(list(ids)) or real(asked[-1]))
    result = full.check(items[7].title + " ?")
    assert len(asked) == 1 and len(asked[0]) == len(result.matches) > 0
    none = Pipeline(load_settings(env={"TICKER_FEATURE_CACHE_SIZE": "0"}), first.store, encoder)
    assert none.warm_cache() == 0 and len(none.cache) == 0
    none.check(items[7].title + " ?")
    assert len(none.cache) == 0


def test_rarity_counts_each_story_once_and_a_restart_counts_the_stored_window_again(encoder, tmp_path):
    settings = load_settings(env={}, data_dir=tmp_path)
    store = open_store(settings, encoder.dim)
    try:
        first = Pipeline(settings, store, encoder)
        results = first.ingest(_rows(80))
        opened = sum(r.new_story for r in results)
        assert len(first.rarity) == opened < len(results)  # verbatim repeats and rewrites count once
        counts = first.rarity.frequencies("fr")
        title = _rows(80)[3].title + " ?"
        before = first.check(title)
        restarted = Pipeline(settings, store, encoder)
        assert len(restarted.rarity) == 0
        assert restarted.warm_rarity() == opened
        assert restarted.rarity.frequencies("fr") == counts
        after = restarted.check(title)
        assert (after.story_id, after.score, [m.terms for m in after.matches]) == (
            before.story_id,
            before.score,
            [m.terms for m in before.matches],
        )
    finally:
        store.close()


def test_a_batch_that_fails_half_way_takes_its_counts_back(encoder, monkeypatch):
    pipeline = _pipeline(encoder)
    pipeline.ingest(_rows(30)[:30])
    counts, n = pipeline.rarity.frequencies("fr"), len(pipeline.rarity)
    real, calls = pipeline.store.insert_headline, []

    def failing(row):
        calls.append(row)
        if len(calls) == 20:
            raise RuntimeError("disk full")
        return real(row)

    monkeypatch.setattr(pipeline.store, "insert_headline", failing)
    added = []
    add = pipeline.rarity.add
    monkeypatch.setattr(pipeline.rarity, "add", lambda *a: added.append(a) or add(*a))
    with pytest.raises(RuntimeError, match="disk full"):
        pipeline.ingest(_rows(60)[30:60])
    assert added  # stories the batch had opened before it failed were counted ...
    assert len(pipeline.rarity) == n and pipeline.rarity.frequencies("fr") == counts  # ... and taken back


def test_a_publication_time_in_the_future_does_not_slide_the_rarity_window(encoder):
    import time as _time

    pipeline = _pipeline(encoder)
    now = _time.time()
    pipeline.ingest(
        [
            HeadlineInput(title=f"Titre numéro {i} sur la région de {city}", lang="fr", published_at=now)
            for i, city in enumerate(["Rabat", "Fès", "Oujda", "Tanger"])
        ]
    )
    before = len(pipeline.rarity)
    pipeline.ingest(
        [
            HeadlineInput(
                title="Un titre daté de la semaine prochaine à Agadir", lang="fr", published_at=now + 100 * 3600.0
            )
        ]
    )
    assert len(pipeline.rarity) == before + 1  # the four stories of now are still counted


def test_rows_read_before_a_correction_are_not_kept_after_it(encoder, monkeypatch):
    """A check reading candidates while an editor's correction commits must not put the old stories back
    into the cache the correction emptied."""
    pipeline = _pipeline(encoder)
    results = pipeline.ingest(_rows(20)[:20])
    pipeline.forget_assignments()
    real = pipeline.store.headlines

    def read_then_correction(ids):
        rows = real(ids)
        pipeline.forget_assignments()  # the correction commits while the rows are on their way
        return rows

    monkeypatch.setattr(pipeline.store, "headlines", read_then_correction)
    got = pipeline.cache.lookup([r.headline_id for r in results[:5]])
    assert len(got) == 5 and len(pipeline.cache) == 0
    monkeypatch.setattr(pipeline.store, "headlines", real)
    pipeline.cache.lookup([r.headline_id for r in results[:5]])
    assert len(pipeline.cache) == 5
