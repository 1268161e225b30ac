"""One contract for every storage backend: SQLite (always) and PostgreSQL + pgvector (when
TICKER_TEST_PG_DSN names a database with the vector extension; each test gets a fresh schema).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import uuid
from dataclasses import replace
from typing import Any, Callable, Iterator

import numpy as np
import pytest

from app.store.base import NewHeadline, Store, TopicRow
from app.stories.features import Features

DIM = 16
PG_DSN = os.environ.get("TICKER_TEST_PG_DSN", "")


def _drop_schema(dsn: str, schema: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture(params=["sqlite", "postgres"])
def open_store(request, tmp_path) -> Iterator[Callable[..., Store]]:
    """Opens stores on one fresh location (a file, or a schema); several calls share it."""
    opened: list[Store] = []
    if request.param == "sqlite":
        from app.store.sqlite import SQLiteStore

        def make(dim: int = DIM) -> Store:
            opened.append(SQLiteStore(tmp_path / "store.sqlite3", dim))
            return opened[-1]

        def cleanup() -> None:
            pass
    else:
        if not PG_DSN:
            pytest.skip("TICKER_TEST_PG_DSN is not set (scripts/test.sh starts a throw-away PostgreSQL)")
        from app.store.postgres import PostgresStore

        schema = f"contract_{uuid.uuid4().hex[:12]}"

        def make(dim: int = DIM) -> Store:
            opened.append(PostgresStore(PG_DSN, dim, schema=schema))
            return opened[-1]

        cleanup = lambda: _drop_schema(PG_DSN, schema)  # noqa: E731
    yield make
    for s in opened:
        try:
            s.close()
        except Exception:
            pass
    cleanup()


@pytest.fixture
def store(open_store) -> Store:
    return open_store()


def unit(rng: np.random.Generator, dim: int = DIM) -> np.ndarray:
    v = rng.normal(size=dim).astype(np.float32)
    return v / np.linalg.norm(v)


def row(
    emb: np.ndarray,
    *,
    ts: float,
    title: str = "t",
    text_hash: str | None = None,
    lang: str | None = "fr",
    source: str | None = "src",
    ext_id: str | None = None,
    story_id: int = 0,
    received_at: float | None = None,
) -> NewHeadline:
    return NewHeadline(
        title=title,
        norm=title.lower(),
        text_hash=text_hash or f"h-{title}",
        lang=lang,
        source=source,
        ext_id=ext_id,
        url=None,
        published_at=ts,
        received_at=ts if received_at is None else received_at,
        story_id=story_id,
        match=None,
        score=None,
        features='{"k":1}',
        embedding=emb,
    )


def add(store: Store, r: NewHeadline, story_id: int | None = None) -> tuple[int, int]:
    """Insert ``r`` as the pipeline does: open a story when none is given. Returns (headline, story)."""
    with store.transaction():
        if story_id is None:
            story_id = store.create_story(r)
        r.story_id = story_id
        hid = store.insert_headline(r)
        store.add_to_story(story_id, hid, r)
    return hid, story_id


def add_singletons(store: Store, vecs: np.ndarray, ts: np.ndarray) -> list[int]:
    """One headline per story for each row of ``vecs``, in one transaction. Returns the headline ids."""
    ids = []
    with store.transaction():
        for i in range(len(vecs)):
            r = row(vecs[i], ts=float(ts[i]), title=f"t{i}")
            r.story_id = store.create_story(r)
            ids.append(store.insert_headline(r))
            store.add_to_story(r.story_id, ids[-1], r)
    return ids


# --- headlines -----------------------------------------------------------------------------


def test_headline_round_trip(store):
    rng = np.random.default_rng(1)
    emb = unit(rng)
    r = row(emb, ts=1000.0, title="Le Maroc « exporte »", ext_id="a-1", source="ticker")
    r.url, r.score, r.match = "https://example.org/x", 0.8, "near"
    hid, sid = add(store, r)
    got = store.headlines([hid, hid, 999_999])
    assert list(got) == [hid]
    h = got[hid]
    assert (h.title, h.norm, h.text_hash, h.lang, h.source, h.ext_id, h.url) == (
        r.title,
        r.norm,
        r.text_hash,
        "fr",
        "ticker",
        "a-1",
        "https://example.org/x",
    )
    assert (h.published_at, h.received_at, h.story_id, h.match, h.score, h.features) == (
        1000.0,
        1000.0,
        sid,
        "near",
        0.8,
        '{"k":1}',
    )
    assert h.ts == 1000.0
    # embeddings come back exactly as written (float32), by id and by text hash
    np.testing.assert_array_equal(store.embeddings([hid])[hid], emb)
    np.testing.assert_array_equal(store.embeddings_by_hash([r.text_hash, "nope"])[r.text_hash], emb)
    assert store.embeddings([]) == {} and store.headlines([]) == {} and store.embeddings_by_hash([]) == {}
    assert store.count_headlines() == 1


def test_get_by_external_keys_on_source_and_id(store):
    rng = np.random.default_rng(2)
    h1, _ = add(store, row(unit(rng), ts=1.0, title="a", source="s1", ext_id="7"))
    h2, _ = add(store, row(unit(rng), ts=2.0, title="b", source=None, ext_id="7"))
    assert store.get_by_external("s1", "7").id == h1
    assert store.get_by_external(None, "7").id == h2
    assert store.get_by_external("", "7").id == h2  # no source and empty source are one key
    assert store.get_by_external("s2", "7") is None
    # the batch form: one answer per stored key, keyed (source or "", id), repeats and misses harmless
    got = store.get_by_externals([("s1", "7"), (None, "7"), ("s1", "7"), ("s2", "7"), ("s1", "8")])
    assert {k: v.id for k, v in got.items()} == {("s1", "7"): h1, ("", "7"): h2}
    assert store.get_by_externals([]) == {}


def test_same_source_and_id_twice_is_refused_and_rolled_back(store):
    rng = np.random.default_rng(3)
    add(store, row(unit(rng), ts=1.0, title="a", ext_id="x"))
    before = (store.count_headlines(), store.count_stories(), store.data_version())
    with pytest.raises(Exception):  # noqa: B017  # each backend's driver raises its own error type
        add(store, row(unit(rng), ts=2.0, title="b", ext_id="x"))
    assert (store.count_headlines(), store.count_stories(), store.data_version()) == before
    # headlines without an external id never collide
    add(store, row(unit(rng), ts=3.0, title="c"))
    add(store, row(unit(rng), ts=4.0, title="d"))
    assert store.count_headlines() == 3


def test_a_rolled_back_headline_is_not_found_by_nearest(store):
    rng = np.random.default_rng(31)
    kept = unit(rng)
    add(store, row(kept, ts=1.0, title="kept"))
    lost = unit(rng)
    with pytest.raises(RuntimeError):
        with store.transaction():
            sid = store.create_story(row(lost, ts=2.0, title="lost"))
            hid = store.insert_headline(row(lost, ts=2.0, title="lost", story_id=sid))
            # inside the transaction the new row is a candidate (later items of a batch need it)
            assert store.nearest(lost, 1, 0.0, 10.0)[0][0] == hid
            raise RuntimeError("the batch failed")
    found = store.nearest(lost, 5, 0.0, 10.0)
    assert [h for h, _ in found] == [h for h, _ in store.nearest(kept, 5, 0.0, 10.0)]
    assert len(found) == 1 and store.count_headlines() == 1


def test_find_exact_earliest_in_range(store):
    rng = np.random.default_rng(4)
    late, _ = add(store, row(unit(rng), ts=500.0, title="late", text_hash="H"))
    early, _ = add(store, row(unit(rng), ts=100.0, title="early", text_hash="H"))
    add(store, row(unit(rng), ts=50.0, title="other", text_hash="G"))
    assert store.find_exact("H", 0, 1000).id == early
    assert store.find_exact("H", 200, 1000).id == late
    assert store.find_exact("H", 100, 100).id == early  # bounds are inclusive
    assert store.find_exact("H", 600, 1000) is None
    assert store.find_exact("nope", 0, 1000) is None


def test_nearest_matches_exact_search(store):
    rng = np.random.default_rng(5)
    n = 300
    vecs = np.vstack([unit(rng) for _ in range(n)])
    ts = rng.uniform(0, 1000, size=n)
    ids = add_singletons(store, vecs, ts)
    ids_arr = np.array(ids)
    hits = total = 0
    for _ in range(20):
        query = unit(rng)
        lo, hi = sorted(rng.uniform(0, 1000, size=2))
        got = store.nearest(query, 10, lo, hi)
        sims = vecs @ query
        inside = (ts >= lo) & (ts <= hi)
        want = ids_arr[inside][np.argsort(-sims[inside])][:10]
        assert len(got) == min(10, int(inside.sum()))
        by_id = dict(zip(ids, sims))
        for hid, cos in got:
            assert hid in by_id and lo <= ts[ids.index(hid)] <= hi
            assert cos == pytest.approx(float(by_id[hid]), abs=1e-5)  # the exact cosine, not an estimate
        assert [c for _, c in got] == sorted((c for _, c in got), reverse=True)
        hits += len(set(h for h, _ in got) & set(want.tolist()))
        total += len(want)
    assert hits / total >= 0.95
    assert store.nearest(unit(rng), 0, 0, 1000) == []
    assert store.nearest(unit(rng), 5, 2000, 3000) == []


def test_nearest_many_answers_each_query_as_nearest_does(store):
    """Several queries, each with its own window, in one call; inside a transaction too, where the
    rows it has inserted are candidates (ingest searches a whole step at once)."""
    rng = np.random.default_rng(15)
    n = 120
    vecs = np.vstack([unit(rng) for _ in range(n)])
    ts = rng.uniform(0, 1000, size=n)
    add_singletons(store, vecs, ts)
    queries = np.vstack([unit(rng) for _ in range(6)] + [vecs[3], vecs[40]])
    lo = [0.0, 100.0, 500.0, 0.0, 2000.0, 0.0, 0.0, 300.0]
    hi = [1000.0, 400.0, 900.0, 1000.0, 3000.0, 1000.0, 1000.0, 1000.0]

    def same(got, want):
        assert [h for h, _ in got] == [h for h, _ in want]
        assert [c for _, c in got] == pytest.approx([c for _, c in want], abs=1e-5)

    for got, q, a, b in zip(store.nearest_many(queries, 7, lo, hi), queries, lo, hi):
        same(got, store.nearest(q, 7, a, b))
    assert store.nearest_many(queries[:0], 7, [], []) == []
    new = unit(rng)
    with store.transaction():
        sid = store.create_story(row(new, ts=500.0, title="new"))
        hid = store.insert_headline(row(new, ts=500.0, title="new", story_id=sid))
        many = store.nearest_many(np.vstack([new, queries[0]]), 3, [0.0, 0.0], [1000.0, 1000.0])
        assert many[0][0][0] == hid
        same(many[1], store.nearest(queries[0], 3, 0.0, 1000.0))


# --- transactions --------------------------------------------------------------------------


def test_transaction_sees_its_own_writes_and_rolls_back(store):
    rng = np.random.default_rng(6)
    emb = unit(rng)
    with pytest.raises(RuntimeError, match="boom"):
        with store.transaction():
            r = row(emb, ts=10.0, title="x", text_hash="X", ext_id="e1")
            sid = store.create_story(r)
            r.story_id = sid
            hid = store.insert_headline(r)
            store.add_to_story(sid, hid, r)
            # every read inside the transaction sees the uncommitted rows
            assert store.nearest(emb, 3, 0, 100)[0][0] == hid
            assert store.find_exact("X", 0, 100).id == hid
            assert store.get_by_external("src", "e1").id == hid
            assert store.story(sid).size == 1
            assert store.headlines([hid])[hid].story_id == sid
            raise RuntimeError("boom")
    assert store.count_headlines() == 0 and store.count_stories() == 0
    assert store.nearest(emb, 3, 0, 100) == []
    assert store.find_exact("X", 0, 100) is None and store.get_by_external("src", "e1") is None


def test_nested_transaction_joins_the_outer_one(store):
    rng = np.random.default_rng(7)
    v0 = int(store.data_version())
    with pytest.raises(ValueError):
        with store.transaction():
            add(store, row(unit(rng), ts=1.0, title="a"))  # add() opens its own, nested, transaction
            raise ValueError
    assert store.count_headlines() == 0 and int(store.data_version()) == v0


def test_data_version_moves_once_per_write_transaction(store):
    rng = np.random.default_rng(8)
    v0 = int(store.data_version())
    add(store, row(unit(rng), ts=1.0, title="a"))  # three writes, one transaction
    assert int(store.data_version()) == v0 + 1
    with store.transaction():
        store.count_headlines()  # read only
    assert int(store.data_version()) == v0 + 1
    sid = store.list_stories(limit=1, offset=0)[0][0].id
    store.set_story_topic(sid, None)  # a write outside any transaction is its own transaction
    assert int(store.data_version()) == v0 + 2


def test_concurrent_writers_open_one_story_per_duplicate_set(store):
    """Each thread matches by exact hash inside a transaction and opens a story when none
    matched: serialised transactions leave exactly one story per hash."""
    hashes = ["A", "B", "C"]
    errors: list[BaseException] = []

    def work(seed: int) -> None:
        rng = np.random.default_rng(seed)
        try:
            for i in range(6):
                h = hashes[(seed + i) % 3]
                r = row(unit(rng), ts=100.0 + i, title=f"{h}-{seed}-{i}", text_hash=h)
                with store.transaction():
                    found = store.find_exact(h, 0, 1000)
                    time.sleep(0.002)  # widen the race window
                    add(store, r, story_id=found.story_id if found else None)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert store.count_headlines() == 24
    assert store.count_stories() == 3
    stories, total = store.list_stories(limit=10, offset=0)
    assert total == 3 and sorted(s.size for s in stories) == [8, 8, 8]


def _dump(store: Store, hids: list[int], sids: list[int]) -> tuple:
    """Everything stored about these headlines and stories, ids made relative to the first of each
    (``updated_at`` aside: a clock)."""
    h0, s0 = hids[0], sids[0]

    def rel(x: int | None, base: int) -> int | None:
        return None if x is None else x - base

    hs = store.headlines(hids)
    stories = store.stories_by_ids(sids)
    ids, mat = store.story_centroids_for(sids)
    embs = store.embeddings(hids)
    return (
        [
            (
                rel(h.id, h0),
                h.title,
                h.text_hash,
                h.lang,
                h.source,
                h.ext_id[1:],
                rel(h.story_id, s0),
                h.match,
                h.score,
                h.features,
                h.published_at,
                h.received_at,
                h.matched_headline_id,
            )
            for h in (hs[i] for i in hids)
        ],
        [
            (rel(s.id, s0), rel(s.canonical_headline_id, h0), s.first_seen, s.last_seen, s.size, s.languages, s.sources)
            for s in (stories[i] for i in sids)
        ],
        sorted((rel(i, s0), m) for i, m in zip(ids, mat.tolist())),
        [embs[i].tolist() for i in hids],
    )


def _write_script(store: Store, one_transaction: bool, tag: str) -> tuple[list[int], list[int]]:
    """Three stories, members out of time order, repeated languages and sources, an empty story, in
    one transaction or one per headline."""
    rng = np.random.default_rng(40)
    vecs = [unit(rng) for _ in range(7)]
    plan = [
        (0, None, 300.0, "fr", "s1"),
        (1, 0, 100.0, "en", "s2"),
        (2, None, 50.0, "ar", None),
        (3, 0, 200.0, "fr", "s1"),
        (4, 2, 60.0, None, "s3"),
        (5, None, 10.0, "es", "s1"),
        (6, 0, 400.0, "es", "s4"),
    ]
    hids: list[int] = []
    sids: list[int] = []
    with store.transaction() if one_transaction else contextlib.nullcontext():
        for i, story_of, ts, lang, source in plan:
            r = row(vecs[i], ts=ts, title=f"w{i}", text_hash=f"W{i % 3}", lang=lang, source=source, ext_id=f"{tag}{i}")
            r.score, r.match = (None, None) if story_of is None else (0.5 + i / 100, "near")
            hid, sid = add(store, r, None if story_of is None else sids[story_of])
            hids.append(hid)
            sids.append(sid)
        with store.transaction():
            empty = store.create_story(row(vecs[0], ts=999.0))
    return hids, [*sorted(set(sids)), empty]


def test_one_transaction_stores_what_one_transaction_per_headline_stores(store):
    """A backend may hold a transaction's writes back and send them at commit: what ends up stored,
    and the ids handed out, must be those of writing them one by one."""
    one_by_one = _write_script(store, one_transaction=False, tag="a")
    batched = _write_script(store, one_transaction=True, tag="b")
    assert batched[0][0] == one_by_one[0][-1] + 1 and batched[1][0] == one_by_one[1][-1] + 1  # ids run on
    want, got = _dump(store, *one_by_one), _dump(store, *batched)
    assert got == want
    assert want[1][0][4] == 4 and want[1][-1][4] == 0  # the first story holds four members, the last none
    assert store.count_headlines() == 14 and store.count_stories() == 6


def test_reads_inside_a_transaction_see_its_buffered_writes(store):
    rng = np.random.default_rng(41)
    e1, e2, e3 = unit(rng), unit(rng), unit(rng)
    stored, s_old = add(store, row(e1, ts=500.0, title="stored", text_hash="H", ext_id="x1"))
    with store.transaction():
        # a later copy of the same text, then an earlier one, both pending
        sid = store.create_story(row(e2, ts=600.0, title="late"))
        late = store.insert_headline(row(e2, ts=600.0, title="late", text_hash="H", story_id=sid))
        store.add_to_story(sid, late, row(e2, ts=600.0))
        store.set_story_topic(sid, 7)  # a direct write after buffered ones keeps its effect
        early = store.insert_headline(row(e3, ts=100.0, title="early", text_hash="H", story_id=s_old))
        store.add_to_story(s_old, early, row(e3, ts=100.0, lang="en"))
        assert store.find_exact("H", 0, 1000).id == early  # pending and earliest
        assert store.find_exact("H", 400, 1000).id == stored  # stored, earlier than the pending 600
        assert store.find_exact("H", 550, 1000).id == late
        assert store.find_exact("H", 550, 1000).story_id == sid
        assert store.find_exact("H", 700, 1000) is None
        ids, mat = store.story_centroids_for([sid, s_old, 999_999])
        assert sorted(ids) == sorted([sid, s_old])
        want_old = (e1 + e3) / np.linalg.norm(e1 + e3)
        np.testing.assert_allclose(mat[ids.index(s_old)], want_old, atol=1e-5)
        np.testing.assert_allclose(mat[ids.index(sid)], e2, atol=1e-5)
        # stored rows read while writes are pending, then the pending ones
        assert store.headlines([stored])[stored].title == "stored"
        assert store.headlines([early, late])[early].story_id == s_old
        st = store.story(s_old)
        assert (st.size, st.canonical_headline_id, st.languages) == (2, early, ["fr", "en"])
        late2 = store.insert_headline(row(e2, ts=650.0, title="late2", text_hash="H", story_id=sid))
        store.add_to_story(sid, late2, row(e2, ts=650.0))
    assert store.story(sid).topic_id == 7 and store.story(sid).size == 2
    assert store.find_exact("H", 0, 1000).id == early
    assert [h.id for h in store.story_headlines([s_old])[s_old]] == [early, stored]
    assert store.count_headlines() == 4


def test_a_conflict_found_at_commit_rolls_back_the_whole_transaction(store):
    rng = np.random.default_rng(42)
    kept, _ = add(store, row(unit(rng), ts=1.0, title="kept", ext_id="dup"))
    before = (store.count_headlines(), store.count_stories(), store.data_version())
    lost = unit(rng)
    with pytest.raises(Exception):  # noqa: B017  # each backend's driver raises its own error type
        with store.transaction():
            add(store, row(lost, ts=2.0, title="fine", ext_id="new"))
            add(store, row(unit(rng), ts=3.0, title="again", ext_id="dup"))
    assert (store.count_headlines(), store.count_stories(), store.data_version()) == before
    assert store.get_by_external("src", "new") is None
    assert [h for h, _ in store.nearest(lost, 5, 0.0, 10.0)] == [kept]
    # ids handed out to the rolled-back rows are free again; the store still works
    hid, sid = add(store, row(lost, ts=2.0, title="fine", ext_id="new"))
    assert store.headlines([hid])[hid].title == "fine" and store.story(sid).size == 1


# --- stories -------------------------------------------------------------------------------


def test_story_aggregates(store):
    rng = np.random.default_rng(9)
    e1, e2, e3 = unit(rng), unit(rng), unit(rng)
    h1, sid = add(store, row(e1, ts=200.0, title="a", lang="fr", source="s1"))
    h2, _ = add(store, row(e2, ts=100.0, title="b", lang="en", source="s2"), story_id=sid)
    h3, _ = add(store, row(e3, ts=300.0, title="c", lang="fr", source=None), story_id=sid)
    s = store.story(sid)
    assert (s.size, s.first_seen, s.last_seen) == (3, 100.0, 300.0)
    assert s.canonical_headline_id == h2  # the earliest member
    assert s.languages == ["fr", "en"] and s.sources == ["s1", "s2"]  # first-seen order, no repeats
    assert s.topic_id is None and s.updated_at > 0
    ids, mat = store.story_centroids_for([sid])
    want = (e1 + e2 + e3) / np.linalg.norm(e1 + e2 + e3)
    assert ids == [sid]
    np.testing.assert_allclose(mat[0], want, atol=1e-5)
    assert store.story(999_999) is None
    assert list(store.stories_by_ids([sid, 999_999])) == [sid]
    hs = store.story_headlines([sid, 999_999])
    assert [h.id for h in hs[sid]] == [h2, h1, h3] and hs[999_999] == []
    with pytest.raises(KeyError):
        with store.transaction():
            store.add_to_story(999_999, h1, row(e1, ts=1.0))


def test_story_briefs_keep_canonical_and_first_per_language(store):
    rng = np.random.default_rng(15)
    h_fr, sid = add(store, row(unit(rng), ts=200.0, title="fr1", lang="fr"))
    h_en, _ = add(store, row(unit(rng), ts=100.0, title="en1", lang="en"), story_id=sid)
    add(store, row(unit(rng), ts=300.0, title="fr2", lang="fr"), story_id=sid)
    h_none, _ = add(store, row(unit(rng), ts=400.0, title="x1", lang=None), story_id=sid)
    add(store, row(unit(rng), ts=500.0, title="x2", lang=None), story_id=sid)
    h_solo, solo = add(store, row(unit(rng), ts=50.0, title="solo", lang="ar"))
    stories = [store.story(sid), store.story(solo)]
    briefs = store.story_briefs(stories)
    assert {k: [h.id for h in v] for k, v in briefs.items()} == {sid: [h_en, h_fr, h_none], solo: [h_solo]}
    # same answer as the interface's reference implementation (which reads every member)
    reference = Store.story_briefs(store, stories)
    assert {k: [h.id for h in v] for k, v in reference.items()} == {k: [h.id for h in v] for k, v in briefs.items()}
    assert store.story_briefs([]) == {}


def test_story_headline_page_is_a_slice_of_the_members_oldest_first(store):
    rng = np.random.default_rng(16)
    first, sid = add(store, row(unit(rng), ts=500.0, title="m0"))
    for i, ts in enumerate([300.0, 700.0, 300.0, 100.0, 900.0], start=1):  # a tie on ts: id decides
        add(store, row(unit(rng), ts=ts, title=f"m{i}"), story_id=sid)
    add(store, row(unit(rng), ts=200.0, title="other"))  # another story
    everything = [h.id for h in store.story_headlines([sid])[sid]]
    assert len(everything) == 6
    for limit, offset in [(2, 0), (2, 2), (4, 3), (10, 0), (3, 6)]:
        page = store.story_headline_page(sid, limit, offset)
        assert [h.id for h in page] == everything[offset : offset + limit]
        # same answer as the interface's reference implementation (which reads every member)
        assert [h.id for h in Store.story_headline_page(store, sid, limit, offset)] == [h.id for h in page]
    assert [h.published_at for h in store.story_headline_page(sid, 6, 0)] == [100.0, 300.0, 300.0, 500.0, 700.0, 900.0]
    assert store.story_headline_page(123456, 5, 0) == []


def test_story_titles_are_the_members_of_each_story_oldest_first(store):
    rng = np.random.default_rng(18)
    _, a = add(store, row(unit(rng), ts=500.0, title="a0", lang="fr"))
    add(store, row(unit(rng), ts=100.0, title="a1", lang=None), story_id=a)
    add(store, row(unit(rng), ts=300.0, title="a2", lang="en"), story_id=a)
    _, b = add(store, row(unit(rng), ts=200.0, title="b0", lang="ar"))
    _, other = add(store, row(unit(rng), ts=250.0, title="other"))
    rows = store.story_titles([a, b, 999_999])
    assert sorted(rows) == sorted([(a, "a0", "fr"), (a, "a1", None), (a, "a2", "en"), (b, "b0", "ar")])
    assert [t for sid, t, _ in rows if sid == a] == ["a1", "a2", "a0"]
    # same answer as the interface's reference implementation (which builds every HeadlineRow)
    assert sorted(Store.story_titles(store, [a, b])) == sorted(rows)
    assert [t for sid, t, _ in Store.story_titles(store, [a])] == ["a1", "a2", "a0"]
    assert store.story_titles([]) == [] and store.story_titles([other])[0][1] == "other"


def test_forget_stories_before_deletes_whole_stories_last_seen_before_the_cutoff(store):
    rng = np.random.default_rng(17)
    v_old, v_running, v_new = unit(rng), unit(rng), unit(rng)
    h_old, old = add(store, row(v_old, ts=100.0, title="old", text_hash="h-old", ext_id="o1"))
    h_old2, _ = add(store, row(unit(rng), ts=150.0, title="old2"), story_id=old)
    h_run_old, running = add(store, row(v_running, ts=120.0, title="run-old"))
    h_run_new, _ = add(store, row(unit(rng), ts=900.0, title="run-new"), story_id=running)
    h_new, new = add(store, row(v_new, ts=950.0, title="new"))
    version = store.data_version()

    assert store.forget_stories_before(50.0) == (0, 0)
    assert store.data_version() == version  # nothing due: no write, the clusters' ETag stays
    assert store.forget_stories_before(500.0) == (1, 2)
    assert store.story(old) is None and store.headlines([h_old, h_old2]) == {}
    # a story seen since keeps every headline, the old one too, and its aggregates
    assert [h.id for h in store.story_headlines([running])[running]] == [h_run_old, h_run_new]
    assert store.story(running).size == 2 and store.story(new) is not None
    assert store.count_headlines() == 3 and store.count_stories() == 2
    # gone from the exact-text lookup, the external keys and the vector search too
    assert store.find_exact("h-old", 0.0, 1e9) is None
    assert store.get_by_external("src", "o1") is None
    assert h_old not in [hid for hid, _ in store.nearest(v_old, 10, 0.0, 1e9)]
    assert h_run_old in [hid for hid, _ in store.nearest(v_running, 10, 0.0, 1e9)]
    assert h_old not in store.embeddings([h_old])
    assert store.forget_stories_before(500.0) == (0, 0)


def test_ids_retention_deleted_are_never_given_again(store):
    """The newest ids can belong to a due story (a late feed of old headlines): the next rows must not
    take them, or a link or a cached id would name another story or headline."""
    rng = np.random.default_rng(19)
    add(store, row(unit(rng), ts=900.0, title="recent"))
    h_late, s_late = add(store, row(unit(rng), ts=100.0, title="late copy of an old one"))
    assert store.forget_stories_before(500.0) == (1, 1)
    h_new, s_new = add(store, row(unit(rng), ts=950.0, title="next"))
    assert h_new > h_late and s_new > s_late


def test_forget_stories_before_goes_oldest_first_in_batches(store):
    rng = np.random.default_rng(18)
    sids = [add(store, row(unit(rng), ts=float(t), title=f"s{t}"))[1] for t in (40, 10, 30, 20, 60)]
    assert store.forget_stories_before(50.0, limit=2) == (2, 2)
    assert {s for s in sids if store.story(s) is not None} == {sids[0], sids[2], sids[4]}  # 10 and 20 went first
    assert store.forget_stories_before(50.0, limit=2) == (2, 2)
    assert store.forget_stories_before(50.0, limit=2) == (0, 0)
    assert store.story(sids[4]) is not None


def test_list_stories_filters_and_order(store):
    rng = np.random.default_rng(10)
    _, a = add(store, row(unit(rng), ts=100.0, title="a", lang="fr", source="s1"))
    _, b = add(store, row(unit(rng), ts=300.0, title="b", lang="en", source="s2"))
    _, c = add(store, row(unit(rng), ts=200.0, title="c", lang="ar", source="s1"))
    add(store, row(unit(rng), ts=400.0, title="c2", lang="fr", source="s3"), story_id=c)
    with store.transaction():
        store.create_story(row(unit(rng), ts=999.0))  # empty: never listed or counted

    def ids(**kw: Any) -> list[int]:
        got, total = store.list_stories(limit=10, offset=0, **kw)
        assert total == len(got)
        return [s.id for s in got]

    assert ids() == [c, b, a]  # newest last_seen first
    assert ids(lang="fr") == [c, a]
    assert ids(source="s1") == [c, a]
    assert ids(since=250.0) == [c, b]
    assert ids(until=150.0) == [a]
    store.set_story_topic(b, 5)
    assert ids(topic_id=5) == [b]
    assert ids(unassigned=True) == [c, a]
    page, total = store.list_stories(limit=1, offset=1)
    assert [s.id for s in page] == [b] and total == 3
    assert store.count_stories() == 3
    assert store.latest_story_time() == 400.0
    ids_since, mat = store.story_centroids(250.0)
    assert ids_since == sorted([b, c]) and mat.shape == (2, DIM)
    np.testing.assert_allclose(np.linalg.norm(mat, axis=1), 1.0, atol=1e-5)


def test_empty_store(store):
    assert store.latest_story_time() is None
    assert store.count_headlines() == 0 and store.count_stories() == 0
    assert store.list_stories(limit=10, offset=0) == ([], 0)
    ids, mat = store.story_centroids(0.0)
    assert ids == [] and mat.shape == (0, DIM)
    ids, mat = store.story_centroids_for([])
    assert ids == [] and mat.shape == (0, DIM)
    assert store.topics() == [] and store.topic_members() == {} and store.topic_stats() == {}
    assert store.topic_events() == []
    assert store.recent_counts([], 0.0) == {}
    assert store.nearest(np.ones(DIM, dtype=np.float32) / 4, 5, 0, 1e12) == []


def test_recent_counts_use_received_time(store):
    rng = np.random.default_rng(11)
    _, s1 = add(store, row(unit(rng), ts=10.0, title="a", received_at=1000.0))
    add(store, row(unit(rng), ts=20.0, title="b", received_at=2000.0), story_id=s1)
    add(store, row(unit(rng), ts=30.0, title="c", received_at=3000.0), story_id=s1)
    _, s2 = add(store, row(unit(rng), ts=40.0, title="d", received_at=500.0))
    assert store.recent_counts([s1, s2, 12345], 2000.0) == {s1: 2, s2: 0, 12345: 0}


# --- topics and meta -----------------------------------------------------------------------


def test_topics_replace_and_read(store):
    rng = np.random.default_rng(12)
    _, s1 = add(store, row(unit(rng), ts=100.0, title="a", lang="fr"))
    _, s2 = add(store, row(unit(rng), ts=200.0, title="b", lang="en"))
    add(store, row(unit(rng), ts=250.0, title="b2", lang="ar"), story_id=s2)
    _, s3 = add(store, row(unit(rng), ts=300.0, title="c", lang="es"))
    c1, c2 = unit(rng), unit(rng)
    topics = [
        TopicRow(
            id=3,
            label="economy",
            label_score=0.7,
            keywords=["maroc", "dirhams"],
            centroid=c1,
            size=2,
            created_at=10.0,
            updated_at=20.0,
        ),
        TopicRow(
            id=8, label="sport", label_score=0.5, keywords=[], centroid=c2, size=1, created_at=11.0, updated_at=21.0
        ),
    ]
    store.replace_topics(topics, {s1: 3, s2: 3, s3: 8}, [{"event": "born", "topic": 3}, {"event": "born", "topic": 8}])
    got = store.topics()
    assert [(t.id, t.label, t.label_score, t.keywords, t.size, t.created_at, t.updated_at) for t in got] == [
        (3, "economy", 0.7, ["maroc", "dirhams"], 2, 10.0, 20.0),
        (8, "sport", 0.5, [], 1, 11.0, 21.0),
    ]
    np.testing.assert_array_equal(got[0].centroid, c1)
    assert store.topic_members() == {3: {s1, s2}, 8: {s3}}
    stats = store.topic_stats()
    assert stats[3] == {
        "n_stories": 2,
        "n_headlines": 3,
        "first_seen": 100.0,
        "last_seen": 250.0,
        "languages": ["ar", "en", "fr"],
    }
    assert stats[8]["n_headlines"] == 1 and stats[8]["n_stories"] == 1 and stats[8]["languages"] == ["es"]
    events = store.topic_events()
    assert [e["topic"] for e in events] == [8, 3] and all(e["event"] == "born" and e["at"] > 0 for e in events)
    assert len(store.topic_events(limit=1)) == 1
    # a refit replaces all topics; stories it leaves out keep theirs, those mapped to None lose theirs
    store.replace_topics(topics[1:], {s1: None, s2: None}, [])
    assert [t.id for t in store.topics()] == [8]
    assert store.topic_members() == {8: {s3}}
    assert store.story(s1).topic_id is None


def test_meta(store):
    assert store.get_meta("nope") is None
    store.set_meta("next_topic_id", "4")
    store.set_meta("next_topic_id", "5")
    assert store.get_meta("next_topic_id") == "5"
    with store.transaction():
        store.set_meta("k", "v")
        assert store.get_meta("k") == "v"
    assert store.get_meta("k") == "v"


def test_refit_leader_yields_true_to_a_lone_process(store):
    with store.refit_leader() as leader:
        assert leader is True
    with store.refit_leader() as leader:  # released after use
        assert leader is True


# --- lifecycle -----------------------------------------------------------------------------


def test_reopen_keeps_data_and_refuses_another_dimension(open_store):
    rng = np.random.default_rng(13)
    first = open_store()
    emb = unit(rng)
    hid, sid = add(first, row(emb, ts=5.0, title="kept", text_hash="K", ext_id="k1"))
    version = first.data_version()
    first.close()
    again = open_store()
    assert again.get_by_external("src", "k1").id == hid
    assert again.nearest(emb, 1, 0, 10)[0][0] == hid
    assert again.story(sid).size == 1 and again.data_version() == version
    again.close()
    with pytest.raises(RuntimeError, match="16-d"):
        open_store(dim=DIM * 2)


# --- PostgreSQL only: the index path of nearest() -----------------------------------------------


@pytest.mark.skipif(not PG_DSN, reason="TICKER_TEST_PG_DSN is not set")
def test_pg_nearest_through_the_hnsw_index():
    """With the exact-scan cut-off at 0, busy windows go through the HNSW index: the plan must
    use it, and its answers must stay close to exact search (and carry exact cosines)."""
    import psycopg

    from app.store.postgres import PgOptions, PostgresStore, Vec, _index_nearest_sql

    schema = f"contract_{uuid.uuid4().hex[:12]}"
    store = PostgresStore(PG_DSN, DIM, schema=schema, options=PgOptions(exact_scan_max_rows=0))
    try:
        rng = np.random.default_rng(14)
        n = 3000
        # clustered data, like stories: a query's true neighbours stand out from the rest
        centres = np.vstack([unit(rng) for _ in range(300)])
        vecs = centres[rng.integers(300, size=n)] + rng.normal(scale=0.15, size=(n, DIM)).astype(np.float32)
        vecs = (vecs / np.linalg.norm(vecs, axis=1, keepdims=True)).astype(np.float32)
        ts = rng.uniform(0, 10_000, size=n)
        ids = add_singletons(store, vecs, ts)
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(f'ANALYZE "{schema}".headlines')
        ids_arr = np.array(ids)
        hits = total = 0
        with store.transaction():
            conn = store._local.conn
            # Left to itself the planner scans the table and sorts it here (and measured at 9,700
            # rows: 25 ms against 1.9 ms through the index); nearest() turns sequential scans off
            # for its index query, which makes this the plan.
            with conn.transaction():
                conn.execute("SET LOCAL enable_seqscan = off")
                plan = "\n".join(
                    r[0]
                    for r in conn.execute(
                        "EXPLAIN " + _index_nearest_sql(DIM), {"lo": 0.0, "hi": 5000.0, "k": 10, "q": Vec(vecs[0])}
                    ).fetchall()
                )
                assert "headlines_embedding" in plan, plan
                conn.execute("SET LOCAL enable_seqscan = DEFAULT")
            assert conn.execute("SHOW enable_seqscan").fetchone()[0] == "on"
            sent: list[str] = []
            execute = conn.execute

            def recording(query, *args, **kwargs):
                sent.append(str(query))
                return execute(query, *args, **kwargs)

            conn.execute = recording  # type: ignore[method-assign]
            for _ in range(30):
                query = centres[rng.integers(300)] + rng.normal(scale=0.15, size=DIM).astype(np.float32)
                query = query / np.linalg.norm(query)
                lo = float(rng.uniform(0, 5000))
                hi = lo + 5000.0  # half the rows: well over the cut-off
                got = store.nearest(query, 10, lo, hi)
                inside = (ts >= lo) & (ts <= hi)
                sims = vecs @ query
                want = set(ids_arr[inside][np.argsort(-sims[inside])][:10].tolist())
                assert len(got) == 10
                exact_cos = dict(zip(ids, sims))
                for hid, cos in got:
                    assert lo <= ts[ids.index(hid)] <= hi
                    assert cos == pytest.approx(float(exact_cos[hid]), abs=1e-5)
                assert [c for _, c in got] == sorted((c for _, c in got), reverse=True)
                hits += len(want & {h for h, _ in got})
                total += 10
            conn.execute = execute  # type: ignore[method-assign]
            index_query = _index_nearest_sql(DIM)
            at = [i for i, q in enumerate(sent) if q == index_query]
            assert len(at) == 30 and all(sent[i - 1] == "SET LOCAL enable_seqscan = off" for i in at)
            # ...and only for that statement: the write transaction goes on with the default
            assert conn.execute("SHOW enable_seqscan").fetchone()[0] == "on"
        assert hits / total >= 0.9
    finally:
        store.close()
        _drop_schema(PG_DSN, schema)


def test_readers_on_other_threads_do_not_wait_for_a_write_transaction(store):
    """A dedup check must answer while an ingest batch is being written: it reads the last commit.

    The writer holds its transaction open until ``release``, which is set only once the reader has
    answered (or, when it never does, after a bounded wait, to fail): a reader that waited for the
    writer can only answer after the commit, and that order is what is checked."""
    rng = np.random.default_rng(11)
    first, _ = add(store, row(unit(rng), ts=1.0, title="committed", ext_id="c"))
    inside, release, committed, failed = threading.Event(), threading.Event(), threading.Event(), []
    seen: dict[str, Any] = {}

    def writer() -> None:
        try:
            with store.transaction():
                sid = store.create_story(row(unit(rng), ts=2.0, title="pending"))
                hid = store.insert_headline(row(unit(rng), ts=2.0, title="pending", ext_id="p", story_id=sid))
                # the writer reads its own rows
                assert store.headlines([hid])[hid].title == "pending"
                inside.set()
                assert release.wait(120), "never released"
            committed.set()
        except BaseException as exc:  # pragma: no cover - reported below
            failed.append(exc)
            inside.set()

    def reader() -> None:
        try:
            seen["count"] = store.count_headlines()
            seen["pending"] = store.get_by_external("src", "p")
            seen["first"] = store.headlines([first])[first].title
            seen["after_commit"] = committed.is_set()
        except BaseException as exc:  # pragma: no cover - reported below
            failed.append(exc)

    w = threading.Thread(target=writer)
    w.start()
    assert inside.wait(30)
    r = threading.Thread(target=reader)
    r.start()
    r.join(30)  # a bound on the wait: a reader blocked by the writer is still there, and released below
    answered_inside = not r.is_alive()
    release.set()
    r.join(30)
    w.join(30)
    assert not failed, failed
    assert answered_inside and seen["after_commit"] is False, "the reader waited for the writer's commit"
    # the pending rows were not visible to it
    assert seen == {"count": 1, "pending": None, "first": "committed", "after_commit": False}, seen
    assert store.count_headlines() == 2 and store.get_by_external("src", "p").title == "pending"


def test_sqlite_kept_story_aggregates_follow_writes_by_another_connection(tmp_path):
    """The SQLite writer keeps committed story aggregates in memory between transactions; another
    connection writing the same file (another process) must not leave it with stale ones."""
    from app.store.sqlite import SQLiteStore

    rng = np.random.default_rng(43)
    e1, e2, e3 = unit(rng), unit(rng), unit(rng)
    a = SQLiteStore(tmp_path / "shared.sqlite3", DIM)
    b = SQLiteStore(tmp_path / "shared.sqlite3", DIM)
    try:
        h1, sid = add(a, row(e1, ts=100.0, title="a1", lang="fr"))
        with a.transaction():  # a reads the story as the writer: now kept
            np.testing.assert_allclose(a.story_centroids_for([sid])[1][0], e1, atol=1e-6)
        h2, _ = add(b, row(e2, ts=50.0, title="b1", lang="en"), story_id=sid)  # the other connection adds
        with a.transaction():
            want = (e1 + e2) / np.linalg.norm(e1 + e2)
            np.testing.assert_allclose(a.story_centroids_for([sid])[1][0], want, atol=1e-6)
        h3, _ = add(a, row(e3, ts=200.0, title="a2", lang="ar"), story_id=sid)
        for s in (a, b):
            st = s.story(sid)
            assert (st.size, st.canonical_headline_id, st.languages) == (3, h2, ["fr", "en", "ar"])
        np.testing.assert_allclose(
            b.story_centroids_for([sid])[1][0], (e1 + e2 + e3) / np.linalg.norm(e1 + e2 + e3), atol=1e-6
        )
        # a rolled-back change is not kept either
        with pytest.raises(RuntimeError):
            with a.transaction():
                add(a, row(unit(rng), ts=300.0, title="lost", lang="es"), story_id=sid)
                raise RuntimeError
        with a.transaction():
            np.testing.assert_allclose(
                a.story_centroids_for([sid])[1][0], (e1 + e2 + e3) / np.linalg.norm(e1 + e2 + e3), atol=1e-6
            )
        h4, _ = add(a, row(e1, ts=400.0, title="a3", lang="es"), story_id=sid)
        assert a.story(sid).size == 4 and a.story(sid).languages == ["fr", "en", "ar", "es"]
    finally:
        a.close()
        b.close()


def test_sqlite_schema_1_is_migrated_in_place(tmp_path, monkeypatch):
    """A database written by schema 1 (one index on story_id, no search text, no topic category) opens
    under today's code with its rows, the story indexes of schema 2, the search text of schema 4 filled in
    from the titles already stored, and the same answers."""
    import sqlite3

    import app.store.sqlite as sqlite_store

    rng = np.random.default_rng(21)
    monkeypatch.setattr(sqlite_store, "SCHEMA_VERSION", 1)
    sqlite_store.SQLiteStore(tmp_path / "store.sqlite3", DIM).close()  # the tables of schema 1
    monkeypatch.undo()
    # rows as schema 1's code wrote them (today's writes fill columns schema 1 does not have)
    with sqlite3.connect(tmp_path / "store.sqlite3") as conn:
        conn.execute(
            "INSERT INTO stories (id, canonical_headline_id, canonical_ts, first_seen, last_seen, size, "
            "languages, sources, centroid_sum, updated_at) VALUES (1, 2, 100.0, 100.0, 200.0, 2, '[\"fr\"]', "
            "'[\"src\"]', ?, 1.0)",
            (unit(rng).tobytes(),),
        )
        for hid, title, lang, ts in ((1, "Côte d\u2019Ivoire : la CAN", "fr", 200.0), (2, "Elecciones", None, 100.0)):
            conn.execute(
                "INSERT INTO headlines (id, title, norm, text_hash, lang, source, source_key, ext_id, url, "
                "published_at, received_at, ts, story_id, match, score, matched_headline_id, features, "
                "embedding) VALUES (?, ?, ?, ?, ?, 'src', 'src', NULL, NULL, ?, ?, ?, 1, NULL, NULL, NULL, "
                "'{}', ?)",
                (hid, title, title.lower(), f"h{hid}", lang, ts, ts, ts, unit(rng).tobytes()),
            )
        conn.execute(
            "INSERT INTO topics (id, label, label_score, keywords, centroid, size, created_at, updated_at) "
            "VALUES (7, 'Sport', 0.5, '[]', ?, 1, 1.0, 1.0)",
            (unit(rng).tobytes(),),
        )
    first, second, sid = 1, 2, 1

    store = sqlite_store.SQLiteStore(tmp_path / "store.sqlite3", DIM)
    try:
        assert [h.id for h in store.story_headline_page(sid, 10, 0)] == [second, first]
        assert [h.id for h in store.story_briefs([store.story(sid)])[sid]] == [second, first]
        # the titles stored before schema 4 are searchable, folded as new ones are
        assert [s.id for s in store.list_stories(limit=10, offset=0, q="cote d'ivoire")[0]] == [sid]
        assert store.list_stories(limit=10, offset=0, q="ivoire elecciones") == ([], 0)  # not in one headline
        assert [(t.id, t.category) for t in store.topics()] == [(7, None)]
        # and today's writes go on in the migrated file
        hid, _ = add(store, row(unit(rng), ts=300.0, title="Élection à Abidjan", lang="fr"), story_id=sid)
        assert [s.id for s in store.list_stories(limit=10, offset=0, q="ELECTION abidjan")[0]] == [sid]
    finally:
        store.close()
    with sqlite3.connect(tmp_path / "store.sqlite3") as conn:
        assert conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] == sqlite_store.SCHEMA_VERSION == 5
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        folded = dict(conn.execute("SELECT id, search_text FROM headlines"))
    assert {"headlines_story_ts", "headlines_story_lang", "headlines_search", "stories_topic"} <= names
    assert "headlines_story" not in names
    assert folded == {1: "cote d'ivoire : la can", 2: "elecciones", hid: "election a abidjan"}


def test_recent_features_are_the_newest_headlines_matching_view(store):
    rng = np.random.default_rng(19)
    ids = []
    for i in range(6):
        r = row(unit(rng), ts=1000.0 - i, title=f"h{i}")  # arrival order is not time order
        r.features = f'{{"key": "h{i}", "lang": "fr"}}'
        hid, sid = add(store, r)
        ids.append((hid, sid))
    got = store.recent_features(4)
    assert [g[0] for g in got] == [hid for hid, _ in reversed(ids)][:4]  # newest first, by arrival
    hid, sid = ids[-1]
    assert got[0][1] == sid and got[0][2] == 1000.0 - 5
    assert Features.from_json(got[0][3]).key == "h5"
    assert len(store.recent_features(100)) == 6
    assert store.recent_features(0) == []
    # the interface's default reads nothing: a backend without the query just starts cold
    assert Store.recent_features(store, 3) == []


def test_story_openers_since_reads_the_headlines_that_opened_a_story_after_an_id_within_a_time(store):
    rng = np.random.default_rng(23)
    ids = []
    for i, ts in enumerate([100.0, 300.0, 200.0, 400.0]):
        r = row(unit(rng), ts=ts, title=f"f{i}")
        r.features = f'{{"key": "f{i}", "lang": "en"}}'
        ids.append(add(store, r)[0])
    joined = row(unit(rng), ts=500.0, title="f-joined")
    joined.match, joined.score = "near", 0.9
    add(store, joined, story_id=store.headlines([ids[1]])[ids[1]].story_id)  # not an opener: never read
    got = store.story_openers_since(0, 150.0, 100)
    assert [g[0] for g in got] == [ids[1], ids[2], ids[3]]  # by id, the one before 150 left out
    assert [g[1] for g in got] == [300.0, 200.0, 400.0]
    assert Features.from_json(got[0][2]).key == "f1"
    assert [g[0] for g in store.story_openers_since(ids[1], 0.0, 100)] == ids[2:]
    assert [g[0] for g in store.story_openers_since(0, 0.0, 2)] == ids[:2]
    assert store.story_openers_since(ids[-1], 0.0, 100) == [] and store.story_openers_since(0, 0.0, 0) == []
    assert Store.story_openers_since(store, 0, 0.0, 10) == []


# --- editors' corrections ------------------------------------------------------------------


def _story_of(store, hid: int) -> int:
    return store.headlines([hid])[hid].story_id


def test_reassign_moves_headlines_and_works_out_both_stories_again(store):
    rng = np.random.default_rng(29)
    a = [add(store, row(unit(rng), ts=100.0 + i, title=f"a{i}", lang="fr", source=f"s{i}"))[0] for i in range(1)]
    sa = _story_of(store, a[0])
    for i in range(1, 4):
        a.append(
            add(
                store,
                row(unit(rng), ts=100.0 + i, title=f"a{i}", lang=("fr", "en", "es")[i - 1], source=f"s{i}"),
                story_id=sa,
            )[0]
        )
    b0, sb = add(store, row(unit(rng), ts=50.0, title="b0", lang="ar", source="sb"))
    with store.transaction():
        target, left = store.reassign([a[0], a[2]], sb)
    assert target == sb and left == {a[0]: sa, a[2]: sa}
    assert _story_of(store, a[0]) == _story_of(store, a[2]) == sb
    st_a, st_b = store.story(sa), store.story(sb)
    assert (st_a.size, st_a.canonical_headline_id, st_a.first_seen, st_a.last_seen) == (2, a[1], 101.0, 103.0)
    assert st_a.languages == ["fr", "es"] and st_a.sources == ["s1", "s3"]
    assert (st_b.size, st_b.canonical_headline_id, st_b.first_seen, st_b.last_seen) == (3, b0, 50.0, 102.0)
    assert st_b.languages == ["ar", "fr", "en"]
    ids, cents = store.story_centroids_for([sa, sb])
    embs = store.embeddings([a[1], a[3]])
    want = (embs[a[1]] + embs[a[3]]) / np.linalg.norm(embs[a[1]] + embs[a[3]])
    assert np.allclose(cents[ids.index(sa)], want, atol=1e-5)
    # to a new story; the one left empty keeps its id, out of every listing
    with store.transaction():
        new, left = store.reassign([a[1], a[3]], None)
    assert new not in (sa, sb) and left == {a[1]: sa, a[3]: sa}
    assert store.story(new).size == 2 and store.story(sa).size == 0
    assert sa not in {s.id for s in store.list_stories(limit=100, offset=0)[0]}
    assert store.count_stories() == 2
    with pytest.raises(KeyError):
        with store.transaction():
            store.reassign([999_999], sb)
    with pytest.raises(KeyError):
        with store.transaction():
            store.reassign([a[1]], 999_999)


def test_corrections_are_stored_listed_newest_first_and_undone_once(store):
    with store.transaction():
        c1 = store.add_correction("merge", {"story_id": 1, "into": 2}, {"moved": {"5": 1}}, "ana", 10.0)
        c2 = store.add_correction("apart", {"story_ids": [3, 4]}, {}, None, 11.0)
    rows, total = store.corrections(limit=10, offset=0)
    assert total == 2 and [r.id for r in rows] == [c2, c1]
    assert rows[1].kind == "merge" and rows[1].payload == {"story_id": 1, "into": 2}
    assert rows[1].undo == {"moved": {"5": 1}} and rows[1].actor == "ana" and rows[1].at == 10.0
    assert store.corrections(limit=1, offset=1)[0][0].id == c1
    with store.transaction():
        assert store.mark_undone(c1, "bo", 12.0) is True
    with store.transaction():
        assert store.mark_undone(c1, "cy", 13.0) is False
    got = store.correction(c1)
    assert (got.undone_at, got.undone_by) == (12.0, "bo") and store.correction(999) is None


def test_merged_into_and_apart_pairs(store):
    rng = np.random.default_rng(31)
    s1, s2, s3 = (add(store, row(unit(rng), ts=10.0 + i, title=f"m{i}"))[1] for i in range(3))
    with store.transaction():
        store.set_merged_into(s1, s2)
        store.set_apart(s3, s2, True)
        store.set_apart(s1, s3, True)
    assert store.merged_into([s1, s2, 999]) == {s1: s2}
    assert store.apart_pairs([s2, s3]) == {(s2, s3)}
    with store.transaction():
        store.set_merged_into(s1, None)
        store.set_apart(s2, s3, False)
    assert store.merged_into([s1]) == {} and store.apart_pairs([s1, s2, s3]) == {(s1, s3)}


def test_retention_forgets_the_apart_pairs_of_the_stories_it_deletes(store):
    rng = np.random.default_rng(37)
    old = add(store, row(unit(rng), ts=10.0, title="old"))[1]
    new1, new2 = (add(store, row(unit(rng), ts=1000.0 + i, title=f"new{i}"))[1] for i in range(2))
    with store.transaction():
        store.set_apart(old, new1, True)
        store.set_apart(new1, new2, True)
    assert store.forget_stories_before(500.0) == (1, 1)
    assert store.apart_pairs([old, new1, new2]) == {tuple(sorted((new1, new2)))}


def test_topic_story_pages_are_each_topics_newest_stories_in_one_go(store):
    rng = np.random.default_rng(41)
    sids = [add(store, row(unit(rng), ts=100.0 + 10 * i, title=f"p{i}"))[1] for i in range(7)]
    topics = [
        TopicRow(
            id=tid, label="x", label_score=0.5, keywords=[], centroid=unit(rng), size=1, created_at=1.0, updated_at=1.0
        )
        for tid in (4, 9, 11)
    ]
    store.replace_topics(
        topics, {sids[0]: 4, sids[1]: 4, sids[2]: 4, sids[3]: 9, sids[4]: 9, sids[5]: None, sids[6]: 4}, []
    )
    pages = store.topic_story_pages([4, 9, 11], 2)
    assert {t: [s.id for s in rows] for t, rows in pages.items()} == {
        4: [sids[6], sids[2]],
        9: [sids[4], sids[3]],
        11: [],
    }
    assert [s.id for s in store.topic_story_pages([4], 10, since=115.0)[4]] == [sids[6], sids[2]]
    # what list_stories gives topic by topic, and what the interface's default gives
    for tid in (4, 9):
        want = [s.id for s in store.list_stories(limit=2, offset=0, topic_id=tid)[0]]
        assert [s.id for s in pages[tid]] == want
        assert [s.id for s in Store.topic_story_pages(store, [tid], 2)[tid]] == want
    assert store.topic_story_pages([], 3) == {}


# --- story search, topic counts and categories -------------------------------------------------


def test_list_stories_search_folds_case_accents_and_arabic_marks(store):
    """``q``: every word, folded (case, accents, Arabic short vowels and tatweel, curly quotes), a
    substring of one of the story's headlines; LIKE's wildcards in it are plain characters."""
    rng = np.random.default_rng(51)
    _, ivoire = add(store, row(unit(rng), ts=100.0, title="Côte d’Ivoire : la CAN s'ouvre à Abidjan", lang="fr"))
    _, khaya = add(store, row(unit(rng), ts=200.0, title="Sultana Khaya sort du silence", lang="fr", source="s1"))
    add(
        store, row(unit(rng), ts=210.0, title="Sultana Khaya rompe el silencio", lang="es", source="s2"), story_id=khaya
    )
    _, arabic = add(store, row(unit(rng), ts=300.0, title="الأَمِيرُ يَسْتَقْبِلُ الوَفْدَ الرَّسْمِيَّ", lang="ar"))
    _, tatweel = add(store, row(unit(rng), ts=310.0, title="جـــلالة الملك", lang="ar"))
    _, percent = add(store, row(unit(rng), ts=400.0, title="Inflation : +50% sur un an", lang="fr"))
    _, under = add(store, row(unit(rng), ts=500.0, title="Le fichier rapport_final fuite", lang="fr"))
    _, slash = add(store, row(unit(rng), ts=600.0, title=r"Chemin C:\temp ouvert", lang="fr"))
    _, plain = add(store, row(unit(rng), ts=700.0, title="Rapport final 50 pages", lang="fr"))

    def ids(q: str, **kw: Any) -> list[int]:
        got, total = store.list_stories(limit=20, offset=0, q=q, **kw)
        assert total == len(got)
        return [s.id for s in got]

    assert ids("cote d'ivoire") == [ivoire]
    assert ids("CÔTE D’IVOIRE") == [ivoire]
    assert ids("abidjan côte") == [ivoire]  # any order
    assert ids("sulta") == [khaya]  # a prefix as it is typed
    assert ids("ompe") == [khaya]  # any substring, in any headline of the story
    assert ids("khaya silencio") == [khaya]
    assert ids("rompe sort") == []  # every word in one headline: these are in two
    assert ids("sultana ivoire") == []
    assert ids("الامير يستقبل") == [arabic]  # without the tashkeel typed
    assert ids("الوفد") == [arabic]
    assert ids("جلالة") == [tatweel]  # tatweel ignored
    assert ids("%") == [percent]  # a literal per cent sign, not "anything"
    assert ids("50%") == [percent]
    assert ids("rapport_final") == [under]  # "_" is not "any character" ("rapport final" is another story)
    assert ids("rapport final") == [plain, under]
    assert ids("\\temp") == [slash]
    assert ids("khaya:") == [khaya]  # punctuation around a word is not looked for
    assert ids("introuvable") == []
    assert ids("   ") == ids("")  # no word: no search
    # with the other filters
    assert ids("sultana", lang="es") == [khaya] and ids("sultana", lang="ar") == []
    assert ids("sultana", source="s2") == [khaya] and ids("sultana", source="nope") == []
    assert ids("la") == [percent, ivoire]  # "Inflation", "la CAN"
    assert ids("la", since=250.0) == [percent] and ids("la", until=150.0) == [ivoire]
    store.set_story_topic(khaya, 4)
    assert ids("sultana", topic_id=4) == [khaya] and ids("sultana", topic_id=5) == []
    assert ids("sultana", unassigned=True) == [] and ids("cote", unassigned=True) == [ivoire]
    # a page of the matches, the total counting them all
    page, total = store.list_stories(limit=1, offset=1, q="rapport")
    assert [s.id for s in page] == [under] and total == 2


def test_search_words_are_folded_bounded_and_unique():
    from app.store.base import MAX_SEARCH_WORDS, like_contains, search_words

    assert search_words("  Côte  D’Ivoire, (MAP) côte ") == ["cote", "d'ivoire", "map"]
    assert search_words("١٢ مُبَارَاة") == ["12", "مباراه"]
    assert search_words(None) == [] and search_words(" - ") == ["-"]
    assert len(search_words(" ".join(f"w{i}" for i in range(20)))) == MAX_SEARCH_WORDS == 8
    assert like_contains("5%_a\\b") == "%5\\%\\_a\\\\b%"


def test_topic_category_round_trips_and_stats_count_stories(store):
    rng = np.random.default_rng(52)
    sids = [add(store, row(unit(rng), ts=100.0 + i, title=f"c{i}"))[1] for i in range(4)]
    with store.transaction():
        store.create_story(row(unit(rng), ts=999.0))  # empty: in no count
    topics = [
        TopicRow(
            id=2,
            label="Football",
            label_score=0.6,
            keywords=["but", "Raja", "مباراة"],
            centroid=unit(rng),
            size=3,
            created_at=1.0,
            updated_at=2.0,
            category="sport",
            keyword_langs=["fr", None, "ar"],
        ),
        TopicRow(
            id=5,
            label="other",
            label_score=0.1,
            keywords=[],
            centroid=unit(rng),
            size=1,
            created_at=1.0,
            updated_at=2.0,
        ),  # no category given: None
    ]
    store.replace_topics(topics, {sids[0]: 2, sids[1]: 2, sids[2]: 2, sids[3]: 5}, [])
    assert [(t.id, t.label, t.category) for t in store.topics()] == [(2, "Football", "sport"), (5, "other", None)]
    assert [t.keyword_langs for t in store.topics()] == [["fr", None, "ar"], []]  # a name's language is None
    np.testing.assert_array_equal(store.topics()[0].centroid, topics[0].centroid)
    # without the centroids (a listing): the same rows, every centroid empty
    lean = store.topics(centroids=False)
    assert [
        (t.id, t.label, t.label_score, t.keywords, t.size, t.created_at, t.updated_at, t.category) for t in lean
    ] == [
        (2, "Football", 0.6, ["but", "Raja", "مباراة"], 3, 1.0, 2.0, "sport"),
        (5, "other", 0.1, [], 1, 1.0, 2.0, None),
    ]
    assert all(t.centroid.size == 0 for t in lean)
    stats = store.topic_stats()
    for tid, n in ((2, 3), (5, 1)):
        assert stats[tid]["n_stories"] == n == store.list_stories(limit=10, offset=0, topic_id=tid)[1]
    store.replace_topics([TopicRow(**{**topics[1].__dict__, "category": "other"})], {sids[0]: 5}, [])
    assert [(t.id, t.category) for t in store.topics()] == [(5, "other")]
    assert store.topic_stats()[5]["n_stories"] == 2


def test_pg_schema_2_is_migrated_with_the_search_text_filled_in():
    """A PostgreSQL schema at version 2 (no search text) gets migration 3: the folded text of the titles
    already stored, the trigram index, and topics.category."""
    if not PG_DSN:
        pytest.skip("TICKER_TEST_PG_DSN is not set")
    import psycopg

    from app.store import pg_migrations
    from app.store.postgres import PostgresStore

    schema = f"contract_{uuid.uuid4().hex[:12]}"
    rng = np.random.default_rng(53)
    try:
        with psycopg.connect(PG_DSN) as conn:
            old = [m for m in pg_migrations.MIGRATIONS if m.version <= 2]
            original = pg_migrations.MIGRATIONS
            pg_migrations.MIGRATIONS, pg_migrations.LATEST = tuple(old), 2
            try:
                assert pg_migrations.migrate(conn, DIM, schema) == [1, 2]
            finally:
                pg_migrations.MIGRATIONS, pg_migrations.LATEST = original, original[-1].version
            conn.execute("SELECT set_config('search_path', %s, false)", (pg_migrations._search_path(schema),))
            conn.execute(
                "INSERT INTO stories (id, first_seen, last_seen, size, updated_at, canonical_headline_id)"
                " VALUES (1, 100, 100, 1, 1, 1)"
            )
            conn.execute(
                "INSERT INTO headlines (id, title, norm, text_hash, source_key, received_at, ts, story_id, features,"
                " embedding) VALUES (1, %s, 'n', 'h', '', 100, 100, 1, '{}', %s::vector)",
                ("Côte d’Ivoire : la CAN", "[" + ",".join(str(float(x)) for x in unit(rng)) + "]"),
            )
            conn.commit()
        store = PostgresStore(PG_DSN, DIM, schema=schema)
        try:
            assert [s.id for s in store.list_stories(limit=5, offset=0, q="cote d'ivoire")[0]] == [1]
            assert store._q("SELECT search_text FROM headlines") == [("cote d'ivoire : la can",)]
            indexes = {r[0] for r in store._q("SELECT indexname FROM pg_indexes WHERE schemaname = %s", (schema,))}
            assert {"headlines_search", "stories_topic_recent"} <= indexes and "stories_topic" not in indexes
            assert store._q("SELECT MAX(version) FROM schema_migrations") == [(pg_migrations.LATEST,)]
        finally:
            store.close()
    finally:
        _drop_schema(PG_DSN, schema)


# --- followed feeds (app/feeds/) ---------------------------------------------------------------


def _poll(at: float, nxt: float, **kw: Any) -> Any:
    from app.store.base import FeedPoll

    kw.setdefault("last_status", 200)
    kw.setdefault("error", None)
    kw.setdefault("consecutive_errors", 0)
    return FeedPoll(last_fetch_at=at, next_poll_at=nxt, **kw)


def test_feeds_are_added_listed_read_and_deleted(open_store):
    from app.store.base import DuplicateFeed, TooManyFeeds

    store = open_store()
    version = store.data_version()
    a = store.add_feed("http://a.example/rss", "a.example", "fr", 300.0, 1000.0, max_feeds=2)
    assert (a.url, a.source, a.lang, a.interval_seconds, a.created_at, a.next_poll_at) == (
        "http://a.example/rss",
        "a.example",
        "fr",
        300.0,
        1000.0,
        1000.0,
    )
    assert (a.enabled, a.last_fetch_at, a.fetches, a.items_stored, a.leased_by, a.etag) == (
        True,
        None,
        0,
        0,
        None,
        None,
    )
    with pytest.raises(DuplicateFeed):
        store.add_feed("http://a.example/rss", "other", None, 300.0, 1000.0, max_feeds=2)
    b = store.add_feed("http://b.example/atom", "b", None, 60.0, 1001.0, max_feeds=2)
    with pytest.raises(TooManyFeeds):
        store.add_feed("http://c.example/feed.json", "c", None, 60.0, 1002.0, max_feeds=2)
    assert [f.id for f in store.feeds()] == [a.id, b.id] and b.id > a.id
    assert store.feed(b.id) == b and store.feed(999_999) is None
    assert store.delete_feed(b.id) is True and store.delete_feed(b.id) is False
    c = store.add_feed("http://c.example/feed.json", "c", None, 60.0, 1002.0, max_feeds=2)
    assert c.id > b.id  # a deleted feed's id is not given again (metrics name feeds by id)
    # polling state is not news: the clusters view's version does not move
    assert store.data_version() == version
    store.close()
    again = open_store()  # feeds survive a restart
    assert [(f.id, f.url) for f in again.feeds()] == [(a.id, a.url), (c.id, c.url)]


def test_a_feed_is_leased_to_one_owner_until_its_lease_runs_out(open_store):
    """Two stores on one database (two replicas): a leased feed is not handed out again until the lease
    expires; then the other takes it over, and the first one's late outcome is refused."""
    one, two = open_store(), open_store()
    f = one.add_feed("http://a.example/rss", "a", None, 300.0, 1000.0, max_feeds=10)
    later = one.add_feed("http://b.example/rss", "b", None, 300.0, 1000.0, max_feeds=10)
    # not due yet: nothing is claimed
    assert two.claim_feeds("B", 999.0, 60.0, 10) == []
    got = one.claim_feeds("A", 1000.0, 60.0, 1)  # limit 1: the soonest, then by id
    assert [(g.id, g.leased_by, g.lease_until) for g in got] == [(f.id, "A", 1060.0)]
    assert [g.id for g in two.claim_feeds("B", 1000.0, 60.0, 10)] == [later.id]
    assert two.claim_feeds("B", 1059.0, 60.0, 10) == []  # both held
    assert one.renew_feed_lease(f.id, "A", 1100.0) is True and two.renew_feed_lease(f.id, "B", 1200.0) is False
    # A dies: at 1100 its lease has run out and B takes the feed over (and its own expired one again)
    assert [(g.id, g.leased_by) for g in two.claim_feeds("B", 1100.0, 60.0, 10)] == [(f.id, "B"), (later.id, "B")]
    assert one.record_feed_poll(f.id, "A", _poll(1100.0, 1400.0)) is False  # A's late outcome: refused
    assert two.record_feed_poll(f.id, "B", _poll(1101.0, 1401.0, etag='"v1"', keep_validators=False)) is True
    row = one.feed(f.id)
    assert (row.leased_by, row.lease_until, row.next_poll_at, row.etag, row.fetches) == (None, None, 1401.0, '"v1"', 1)
    # a clean shutdown gives every lease back at once: the feed is due to the others right away
    assert two.release_feeds("B") == 1 and one.feed(later.id).leased_by is None
    assert [g.id for g in one.claim_feeds("A", 1101.0, 60.0, 10)] == [later.id]


def test_replicas_claiming_at_once_take_each_feed_once(open_store):
    stores = [open_store(), open_store()]
    ids = {
        stores[0].add_feed(f"http://f{i}.example/rss", f"f{i}", None, 60.0, 1000.0, max_feeds=100).id for i in range(30)
    }
    barrier = threading.Barrier(6)
    taken: list[list[int]] = []
    lock = threading.Lock()

    def claim(k: int) -> None:
        store = stores[k % 2]
        barrier.wait()
        for _ in range(5):
            got = [f.id for f in store.claim_feeds(f"owner{k}", 1000.0, 60.0, 4)]
            with lock:
                taken.append(got)

    threads = [threading.Thread(target=claim, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    flat = [i for got in taken for i in got]
    assert sorted(flat) == sorted(ids)  # every feed claimed, none twice


def test_a_poll_outcome_sets_state_adds_counts_and_moves_or_disables(open_store):
    store = open_store()
    f = store.add_feed("http://a.example/rss", "a", None, 300.0, 1000.0, max_feeds=10)
    other = store.add_feed("http://taken.example/rss", "t", None, 300.0, 1000.0, max_feeds=10)

    def poll(at: float, **kw: Any) -> Any:
        assert [g.id for g in store.claim_feeds("A", at, 60.0, 1)] == [f.id]
        assert store.record_feed_poll(f.id, "A", _poll(at, at + 1, **kw)) is True
        return store.feed(f.id)

    assert store.record_feed_poll(other.id, "nobody", _poll(1000.0, 5000.0)) is False  # no lease: nothing written
    assert store.feed(other.id).fetches == 0
    assert [g.id for g in store.claim_feeds("O", 1000.0, 60.0, 10)] == [f.id, other.id]
    assert store.record_feed_poll(other.id, "O", _poll(1000.0, 1e9)) is True  # the other one is due much later
    assert store.release_feeds("O") == 1
    row = poll(
        1000.0,
        etag='"e1"',
        last_modified="Sat, 21 Mar 2026 09:00:00 GMT",
        keep_validators=False,
        items_seen=5,
        items_stored=4,
    )
    assert (row.etag, row.last_modified, row.items_seen, row.items_stored, row.last_status) == (
        '"e1"',
        "Sat, 21 Mar 2026 09:00:00 GMT",
        5,
        4,
        200,
    )
    row = poll(1001.0, last_status=304)  # a 304 keeps the validators
    assert (row.etag, row.last_status, row.fetches, row.items_seen) == ('"e1"', 304, 2, 5)
    row = poll(1002.0, last_status=503, error="HTTP 503", consecutive_errors=1)
    assert (row.last_error, row.last_error_at, row.consecutive_errors, row.errors, row.etag) == (
        "HTTP 503",
        1002.0,
        1,
        1,
        '"e1"',
    )
    row = poll(1003.0, last_status=None, error="timed out", consecutive_errors=2)
    assert (row.last_status, row.consecutive_errors, row.errors) == (None, 2, 2)
    row = poll(1004.0, new_url="http://a.example/moved")  # success after errors; a permanent redirect
    assert (row.url, row.consecutive_errors, row.last_error, row.last_error_at) == (
        "http://a.example/moved",
        0,
        "timed out",
        1003.0,
    )  # the last error is kept, with its time
    row = poll(1005.0, new_url="http://taken.example/rss")  # another feed has that URL: kept as is
    assert row.url == "http://a.example/moved"
    row = poll(1006.0, last_status=410, error="HTTP 410 Gone", consecutive_errors=1, disable="410 Gone")
    assert (row.enabled, row.disabled_reason, row.fetches) == (False, "410 Gone", 7)
    assert store.claim_feeds("A", 10_000.0, 60.0, 10) == []  # disabled: never due again


# --- an operator's changes to a feed (PATCH /v1/feeds/{id}) ---------------------------------------


def _outcome(store: Store, owner: str, feed: Any, at: float, status: int = 200, **fetch: Any) -> bool:
    """What the poller writes after fetching ``feed`` (as it claimed it) at ``at``: the policy's own FeedPoll."""
    import random

    from app.feeds.fetch import FetchResult
    from app.feeds.policy import Outcome, next_poll

    result = FetchResult(url=feed.url, status=status, **fetch)
    poll = next_poll(
        feed, Outcome(fetch=result, items_seen=2, items_stored=1), at, max_backoff=3600.0, rng=random.Random(1)
    )
    return store.record_feed_poll(feed.id, owner, poll)


def test_a_paused_feed_is_not_claimed_and_a_resumed_one_is_due_at_once_with_its_counts_kept(open_store):
    from app.store.base import PAUSED_REASON, FeedChange

    store = open_store()
    version = store.data_version()
    f = store.add_feed("http://a.example/rss", "a", "fr", 300.0, 1000.0, max_feeds=10)
    other = store.add_feed("http://b.example/rss", "b", None, 300.0, 1e8, max_feeds=10)
    [claimed] = store.claim_feeds("A", 1000.0, 60.0, 10)
    assert _outcome(store, "A", claimed, 1000.0, etag='"e1"', last_modified="Sat, 21 Mar 2026 09:00:00 GMT")
    for at in (1300.0, 1900.0):  # two errors: a streak, and a backoff
        [claimed] = store.claim_feeds("A", at, 60.0, 10)
        assert _outcome(store, "A", claimed, at, status=500, error="HTTP 500")
    before = store.feed(f.id)
    assert (before.consecutive_errors, before.fetches, before.errors, before.etag) == (2, 3, 2, '"e1"')
    assert before.next_poll_at > 1900.0 + 300.0  # backing off

    paused = store.update_feed(f.id, FeedChange(enabled=False), 2000.0)
    assert (paused.enabled, paused.disabled_reason) == (False, PAUSED_REASON)
    assert store.feed(f.id) == paused
    assert store.claim_feeds("A", 1e7, 60.0, 10) == []  # never due while paused
    assert store.update_feed(f.id, FeedChange(enabled=False), 2100.0) == paused  # paused again: nothing changes

    resumed = store.update_feed(f.id, FeedChange(enabled=True), 2200.0)
    assert (resumed.enabled, resumed.disabled_reason, resumed.consecutive_errors, resumed.next_poll_at) == (
        True,
        None,
        0,
        2200.0,
    )  # due now, the streak and backoff gone
    # ... and nothing else moved: counters, validators, the last error and status, the settings
    assert resumed == replace(before, consecutive_errors=0, next_poll_at=2200.0)
    assert [g.id for g in store.claim_feeds("A", 2200.0, 60.0, 10)] == [f.id]  # claimed at once
    assert _outcome(store, "A", store.feed(f.id), 2200.0, status=304)
    ok = store.feed(f.id)
    assert store.update_feed(f.id, FeedChange(enabled=True), 2300.0) == ok  # enabled already: nothing changes

    # a 410 disabled it: resuming brings it back the same way
    [claimed] = store.claim_feeds("A", ok.next_poll_at, 60.0, 10)
    assert _outcome(store, "A", claimed, ok.next_poll_at, status=410, error="HTTP 410 Gone")
    gone = store.feed(f.id)
    assert (gone.enabled, gone.disabled_reason) == (False, "410 Gone: the publisher removed the feed")
    assert store.update_feed(f.id, FeedChange(enabled=False), 9000.0) == gone  # pausing keeps the 410's reason
    back = store.update_feed(f.id, FeedChange(enabled=True), 9000.0)
    assert (back.enabled, back.disabled_reason, back.consecutive_errors, back.next_poll_at) == (True, None, 0, 9000.0)
    assert (back.fetches, back.errors, back.items_seen, back.items_stored, back.etag) == (5, 3, 10, 5, '"e1"')
    assert [g.id for g in store.claim_feeds("A", 9000.0, 60.0, 10)] == [f.id]

    assert store.update_feed(999_999, FeedChange(enabled=True), 9000.0) is None
    assert store.feed(other.id) == other  # only the one feed changed
    assert store.data_version() == version  # polling state, not news


def test_a_feeds_interval_source_and_language_change_in_place(open_store):
    from app.store.base import FeedChange

    store = open_store()
    f = store.add_feed("http://a.example/rss", "a", "fr", 300.0, 1000.0, max_feeds=10)
    [claimed] = store.claim_feeds("A", 1000.0, 60.0, 10)
    assert _outcome(store, "A", claimed, 1000.0)
    assert store.feed(f.id).next_poll_at == 1300.0
    # a shorter interval: the next poll comes no later than one new interval from now
    row = store.update_feed(f.id, FeedChange(interval_seconds=60.0), 1100.0)
    assert (row.interval_seconds, row.next_poll_at) == (60.0, 1160.0)
    # a longer one: the poll already scheduled stays, the ones after it are an hour apart
    row = store.update_feed(f.id, FeedChange(interval_seconds=3600.0), 1100.0)
    assert (row.interval_seconds, row.next_poll_at) == (3600.0, 1160.0)
    assert store.claim_feeds("A", 1159.0, 60.0, 10) == []
    [claimed] = store.claim_feeds("A", 1160.0, 60.0, 10)
    assert _outcome(store, "A", claimed, 1160.0)
    assert store.feed(f.id).next_poll_at == 1160.0 + 3600.0

    row = store.update_feed(f.id, FeedChange(source="le360", set_lang=True, lang="es"), 1200.0)
    assert (row.source, row.lang, row.interval_seconds, row.enabled) == ("le360", "es", 3600.0, True)
    row = store.update_feed(f.id, FeedChange(set_lang=True, lang=None), 1200.0)
    assert (row.source, row.lang) == ("le360", None)  # no language: the entries' own, else detection
    assert store.update_feed(f.id, FeedChange(), 1300.0) == row  # nothing given: nothing changes
    assert store.feed(f.id) == row


def test_a_change_made_while_a_poller_holds_the_lease_is_kept_by_its_outcome(open_store):
    """Two stores on one database (an operator's replica, a polling one): a pause, or a new interval, made
    while the feed is being fetched applies at once, and the poller's outcome, written later, keeps it."""
    from app.store.base import PAUSED_REASON, FeedChange

    api, poller = open_store(), open_store()
    f = api.add_feed("http://a.example/rss", "a", None, 300.0, 1000.0, max_feeds=10)
    g = api.add_feed("http://b.example/rss", "b", None, 300.0, 1000.0, max_feeds=10)
    claimed = {c.id: c for c in poller.claim_feeds("P", 1000.0, 60.0, 10)}
    assert set(claimed) == {f.id, g.id}

    paused = api.update_feed(f.id, FeedChange(enabled=False), 1010.0)  # while P fetches it
    assert (paused.enabled, paused.leased_by, paused.lease_until) == (False, "P", 1060.0)  # the lease untouched
    longer = api.update_feed(g.id, FeedChange(interval_seconds=60.0), 1010.0)
    assert (longer.interval_seconds, longer.leased_by) == (60.0, "P")

    # P's outcomes, worked out from the rows as it claimed them (enabled, every 300 s)
    assert _outcome(poller, "P", claimed[f.id], 1020.0, etag='"e1"') is True
    assert _outcome(poller, "P", claimed[g.id], 1020.0) is True
    row = api.feed(f.id)
    assert (row.enabled, row.disabled_reason, row.fetches, row.items_stored, row.etag, row.leased_by) == (
        False,
        PAUSED_REASON,
        1,
        1,
        '"e1"',
        None,
    )  # the poll counted, the pause kept
    assert api.feed(g.id).next_poll_at == 1020.0 + 60.0  # the new interval, not the claimed row's 300
    assert [c.id for c in poller.claim_feeds("P", 1e9, 60.0, 10)] == [g.id]  # the paused one is not claimed

    resumed = api.update_feed(f.id, FeedChange(enabled=True), 2000.0)
    assert (resumed.enabled, resumed.next_poll_at, resumed.fetches, resumed.etag) == (True, 2000.0, 1, '"e1"')
    assert [c.id for c in poller.claim_feeds("Q", 2000.0, 60.0, 10)] == [f.id]
