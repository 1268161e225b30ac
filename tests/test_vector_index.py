"""The in-process vector index: exact below its IVF size, close to exact above it, and the same rows
either way after windows, rollbacks (truncate), pruning and retraining."""

from __future__ import annotations

import threading
from typing import Callable, TypeVar

import numpy as np
import pytest

from app.store.vector_index import VectorIndex

DIM = 512
K = 20
T = TypeVar("T")


def clustered(n: int, centers: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Unit vectors at cosine ~U(0.55, 0.95) from a random center: variants of one story, like
    bench/synth.py makes from real embeddings (dense neighbourhoods, the hard case for an IVF)."""
    base = centers[rng.integers(len(centers), size=n)]
    u = rng.standard_normal((n, DIM)).astype(np.float32)
    u -= (u * base).sum(axis=1, keepdims=True) * base
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    c = rng.uniform(0.55, 0.95, size=(n, 1)).astype(np.float32)
    v = c * base + np.sqrt(1 - c * c) * u
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def unit(n: int, rng: np.random.Generator) -> np.ndarray:
    v = rng.standard_normal((n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def rows_in_time_order(seed: int, n: int = 12_000):
    """``n`` clustered rows around 300 centers, ids and times 0..n-1; with the generator and the centers."""
    rng = np.random.default_rng(seed)
    centers = unit(300, rng)
    vecs = clustered(n, centers, rng)
    return rng, centers, vecs, np.arange(n, dtype=np.int64), np.arange(n, dtype=np.float64)


def brute(vecs: np.ndarray, ids: np.ndarray, ts: np.ndarray, q: np.ndarray, k: int, lo: float, hi: float):
    sims = vecs @ q
    sims[(ts < lo) | (ts > hi)] = -np.inf
    order = np.argsort(-sims, kind="stable")[:k]
    return [(int(ids[i]), float(sims[i])) for i in order if np.isfinite(sims[i])]


def recall(got, want) -> float:
    return len({i for i, _ in got} & {i for i, _ in want}) / max(1, len(want))


@pytest.fixture(scope="module")
def big():
    """30k clustered rows published over 30 days, in time order, and queries near them."""
    rng = np.random.default_rng(7)
    centers = unit(2000, rng)
    n = 30_000
    vecs = clustered(n, centers, rng)
    ts = np.sort(rng.uniform(0, 30 * 86400, size=n))
    ids = np.arange(1, n + 1, dtype=np.int64) * 3
    queries = clustered(150, centers, rng)
    index = VectorIndex(DIM, ann_min_rows=n, background=False)
    for a in range(0, n, 5000):
        index.add(ids[a : a + 5000], ts[a : a + 5000], vecs[a : a + 5000])
    return index, vecs, ids, ts, queries


def useful(want, floor: float = 0.3):
    """The exact neighbours the pipeline would score (its min_cosine): on isotropic synthetic data the
    rest of a top 20 is noise at cosine ~0.1 that no approximate index orders reliably."""
    return [(i, s) for i, s in want if s >= floor]


def test_exact_below_the_ivf_size():
    rng = np.random.default_rng(1)
    n = 3000
    vecs, ts = unit(n, rng), rng.uniform(0, 1000, size=n)
    ids = np.arange(100, 100 + n, dtype=np.int64)
    index = VectorIndex(DIM, capacity=16, ann_min_rows=10_000, background=False)
    for a in range(0, n, 700):  # grows the arrays several times
        index.add(ids[a : a + 700], ts[a : a + 700], vecs[a : a + 700])
    assert len(index) == n and not index.ann_ready
    for q in unit(20, rng):
        for lo, hi in ((-1, 2000), (200, 400), (999.5, 2000)):
            got = index.search(q, K, lo, hi)
            want = brute(vecs, ids, ts, q, K, lo, hi)
            assert [i for i, _ in got] == [i for i, _ in want]
            assert np.allclose([s for _, s in got], [s for _, s in want], atol=1e-5)
    assert index.search(unit(1, rng)[0], K, 5000, 6000) == []
    assert index.search(unit(1, rng)[0], 0, -1, 2000) == []


def test_window_scattered_over_the_arrays_is_exact():
    # rows out of time order: the window is no longer one run of the arrays (the gather path)
    rng = np.random.default_rng(2)
    n = 4000
    vecs, ts = unit(n, rng), rng.permutation(np.arange(n, dtype=np.float64))
    ids = np.arange(n, dtype=np.int64)
    index = VectorIndex(DIM, ann_min_rows=None)
    index.add(ids, ts, vecs)
    for q in unit(10, rng):
        got = index.search(q, K, 1000, 1400)
        assert [i for i, _ in got] == [i for i, _ in brute(vecs, ids, ts, q, K, 1000, 1400)]
        assert all(1000 <= ts[i] <= 1400 for i, _ in got)


def test_search_many_answers_what_one_search_per_vector_answers(big):
    """Queries sharing a window are scanned as one matrix product; each keeps its own window. Several
    queries over a window of up to ``exact_batch_window_rows`` rows get the exact answer (one product
    for all of them beats the IVF there); wider windows, and a query alone in its window, get what
    ``search`` answers, to float rounding."""
    rng = np.random.default_rng(3)
    n = 5000
    vecs, ts = unit(n, rng), rng.permutation(np.arange(n, dtype=np.float64))
    ids = np.arange(7, 7 + n, dtype=np.int64)
    small = VectorIndex(DIM, ann_min_rows=None)
    small.add(ids[:4000], np.sort(ts[:4000]), vecs[:4000])  # the first rows in time order: one run
    small.add(ids[4000:], ts[4000:], vecs[4000:])  # then scattered: the gather path
    index, _, _, big_ts, queries = big
    for ix, stored_ts in ((small, ts), (index, big_ts)):
        qs = np.vstack([queries[:30], vecs[:5]])
        windows = [(-1.0, 1e9), (1000.0, 1400.0), (100.0, 4500.0), (10 * 86400.0, 20 * 86400.0), (9e9, 1e10)]
        lo = [windows[i % len(windows)][0] for i in range(len(qs))]
        hi = [windows[i % len(windows)][1] for i in range(len(qs))]
        many = ix.search_many(qs, K, lo, hi)
        assert len(many) == len(qs)
        for q, a, b, got in zip(qs, lo, hi, many):
            in_window = int(np.count_nonzero((stored_ts >= a) & (stored_ts <= b)))
            batched_exact = in_window <= ix.exact_batch_window_rows  # 7 queries share each window here
            one = ix.search_exact(q, K, a, b) if batched_exact else ix.search(q, K, a, b)
            assert [i for i, _ in got] == [i for i, _ in one]
            assert np.allclose([s for _, s in got], [s for _, s in one], atol=1e-5)
        if ix is index:  # the 30k-row index: its widest window goes to the IVF, the others are exact
            assert not all(
                np.count_nonzero((stored_ts >= a) & (stored_ts <= b)) <= ix.exact_batch_window_rows for a, b in windows
            )
        alone = ix.search_many(qs[:1], K, [-1.0], [1e9])[0]  # a query alone in its window: search's answer
        assert [i for i, _ in alone] == [i for i, _ in ix.search(qs[0], K, -1.0, 1e9)]
    assert small.search_many(vecs[:3], K, [9e9] * 3, [1e10] * 3) == [[], [], []]  # empty window
    assert small.search_many(vecs[:0], K, [], []) == []
    assert small.search_many(vecs[:2], 0, [-1.0] * 2, [1e9] * 2) == [[], []]


def counted(index: VectorIndex, search: Callable[[], T]) -> tuple[T, dict[str, int]]:
    """What ``search()`` answers, and the IVF searches and exact scans it made (with the queries each
    kind answered), as the index's stats count them."""
    keys = ("ivf_searches", "ivf_queries", "exact_scans", "exact_queries")
    before = index.stats()
    answer = search()
    after = index.stats()
    return answer, {key: after[key] - before[key] for key in keys}


def test_queries_whose_windows_hold_every_row_are_searched_together(big):
    """Headlines published at different times have different windows; when each window holds every
    stored row they are one IVF search, with the answers each would get alone."""
    index, vecs, ids, ts, queries = big
    qs = queries[:12]
    lo = [-1e6 - i for i in range(len(qs))]  # twelve different windows, each around all 30 days
    hi = [1e9 + i for i in range(len(qs))]
    answers, made = counted(index, lambda: index.search_many(qs, K, lo, hi))
    assert made == {"ivf_searches": 1, "ivf_queries": len(qs), "exact_scans": 0, "exact_queries": 0}
    for q, a, b, got in zip(qs, lo, hi, answers):
        assert got == index.search(q, K, a, b)
    # one window leaving out the first row: searched on its own, with its own window
    cut = float(ts[0]) + 1e-3
    many, made = counted(index, lambda: index.search_many(qs[:3], K, [-1e6, cut, -1e6 - 1], [1e9, 1e9, 1e9 + 1]))
    assert made == {"ivf_searches": 2, "ivf_queries": 3, "exact_scans": 0, "exact_queries": 0}
    assert ids[0] not in {i for i, _ in many[1]}
    assert many[1] == index.search(qs[1], K, cut, 1e9)


def test_a_small_index_reads_half_its_lists_and_keeps_the_useful_neighbours():
    """From the default ANN_MIN_ROWS (8,192) to ~20k rows the IVF reads half its lists: a dedup check
    there is an IVF search instead of a 20-40 MB exact scan, and it still finds what matching scores."""
    from app.store.vector_index import ANN_MIN_ROWS

    rng = np.random.default_rng(21)
    n = 10_000
    assert ANN_MIN_ROWS <= n
    vecs = clustered(n, unit(600, rng), rng)
    ids, ts = np.arange(n, dtype=np.int64), np.arange(n, dtype=np.float64)
    index = VectorIndex(DIM, background=False)
    index.add(ids, ts, vecs)
    assert index.ann_ready
    stats = index.stats()
    assert stats["nprobe"] == stats["nlist"] // 2
    queries = clustered(200, vecs[rng.integers(n, size=200)], rng)  # near stored rows, like re-written headlines
    got_recall = [recall(index.search(q, K, -1.0, 1e9), useful(brute(vecs, ids, ts, q, K, -1.0, 1e9))) for q in queries]
    assert np.mean(got_recall) >= 0.995, np.mean(got_recall)


def test_recall_above_the_ivf_size(big):
    index, vecs, ids, ts, queries = big
    assert index.ann_ready and index.stats()["ivf_rows"] == len(vecs)
    lo, hi = -1.0, 1e9
    recalls = []
    for q in queries:
        got = index.search(q, K, lo, hi)
        want = brute(vecs, ids, ts, q, K, lo, hi)
        assert len(got) == K
        # whatever it returns is scored exactly, best first
        assert [s for _, s in got] == sorted((s for _, s in got), reverse=True)
        for i, s in got:
            assert s == pytest.approx(float(vecs[i // 3 - 1] @ q), abs=1e-5)
        recalls.append(recall(got, useful(want)))
    assert np.mean(recalls) >= 0.97, np.mean(recalls)
    # a stored headline sent again is always its own best match
    for i in range(0, len(vecs), 997):
        assert index.search(vecs[i], K, lo, hi)[0] == (int(ids[i]), pytest.approx(1.0, abs=1e-5))
    assert [i for i, _ in index.search_exact(queries[0], K, lo, hi)] == [
        i for i, _ in brute(vecs, ids, ts, queries[0], K, lo, hi)
    ]


def test_window_filter_on_the_ivf(big):
    index, vecs, ids, ts, queries = big
    lo, hi = 10 * 86400.0, 20 * 86400.0  # ~10k rows: the IVF with a selector
    small_lo, small_hi = 10 * 86400.0, 11 * 86400.0  # ~1k rows: an exact scan
    recalls = []
    for q in queries[:60]:
        got = index.search(q, K, lo, hi)
        assert got and all(lo <= ts[i // 3 - 1] <= hi for i, _ in got)
        recalls.append(recall(got, useful(brute(vecs, ids, ts, q, K, lo, hi))))
        small = index.search(q, K, small_lo, small_hi)
        assert [i for i, _ in small] == [i for i, _ in brute(vecs, ids, ts, q, K, small_lo, small_hi)]
    assert np.mean(recalls) >= 0.97, np.mean(recalls)


def test_truncate_takes_rows_out_of_the_ivf_and_new_rows_in():
    n = 12_000
    rng, centers, vecs, ids, ts = rows_in_time_order(3, n)
    index = VectorIndex(DIM, ann_min_rows=10_000, background=False)
    index.add(ids, ts, vecs)
    assert index.ann_ready
    index.truncate(11_000)  # a rolled-back batch of 1,000
    assert len(index) == 11_000 and index.stats()["ivf_rows"] == 11_000
    for i in (11_000, 11_500, 11_999):
        assert all(hid < 11_000 for hid, _ in index.search(vecs[i], K, -1, 1e9))
    # The next rows take the rolled-back positions (and SQLite may hand out the same ids again)
    fresh = clustered(500, centers, rng)
    index.add(np.arange(11_000, 11_500, dtype=np.int64), np.arange(11_000, 11_500, dtype=np.float64), fresh)
    for j in (0, 250, 499):
        got = index.search(fresh[j], K, -1, 1e9)
        assert got[0][0] == 11_000 + j and got[0][1] == pytest.approx(1.0, abs=1e-5)
    # an old vector of a reused id is not found under that id
    got = dict(index.search(vecs[11_250], K, -1, 1e9))
    assert got.get(11_250, -1.0) == pytest.approx(float(fresh[250] @ vecs[11_250]), abs=1e-5) or 11_250 not in got
    index.truncate(20_000)  # beyond the end: nothing happens
    assert len(index) == 11_500


def test_prune_removes_rows_and_returns_to_exact_when_small():
    rng = np.random.default_rng(4)
    centers = unit(300, rng)
    n = 12_000
    vecs, ids = clustered(n, centers, rng), np.arange(n, dtype=np.int64)
    ts = np.arange(n, dtype=np.float64)
    index = VectorIndex(DIM, ann_min_rows=8_000, background=False)
    index.add(ids, ts, vecs)
    assert index.ann_ready
    assert index.prune(2_000.0) == 2_000
    assert len(index) == 10_000 and index.ann_ready and index.stats()["ivf_rows"] == 10_000
    for i in (0, 1_000, 1_999):
        assert all(hid >= 2_000 for hid, _ in index.search(vecs[i], K, -1, 1e9))
    got = index.search(vecs[5_000], K, -1, 1e9)
    assert got[0] == (5_000, pytest.approx(1.0, abs=1e-5))
    assert index.prune(9_000.0) == 7_000  # 3,000 left, under half the IVF size
    assert not index.ann_ready
    q = vecs[10_000]
    want = brute(vecs[9_000:], ids[9_000:], ts[9_000:], q, K, -1, 1e9)
    assert [i for i, _ in index.search(q, K, -1, 1e9)] == [i for i, _ in want]


def test_remove_takes_named_rows_out_of_the_arrays_and_the_ivf():
    n = 12_000
    rng, centers, vecs, ids, ts = rows_in_time_order(5, n)
    index = VectorIndex(DIM, ann_min_rows=8_000, background=False)
    index.add(ids, ts, vecs)
    assert index.ann_ready
    gone = np.arange(100, 12_000, 7, dtype=np.int64)  # scattered over the arrays, old and new
    assert index.remove(gone) == len(gone)
    assert len(index) == n - len(gone) and index.stats()["ivf_rows"] == n - len(gone)
    assert index.remove(gone) == 0 and index.remove([]) == 0
    gone_set = set(gone.tolist())
    for i in (gone[0], gone[700], gone[-1]):
        got = index.search(vecs[i], K, -1, 1e9)
        assert got and not gone_set & {hid for hid, _ in got}
    for q in (vecs[101], vecs[6_000]):
        assert not gone_set & {hid for hid, _ in index.search_many(q[None, :], K, [-1], [1e9])[0]}
    kept = 101
    assert index.search(vecs[kept], K, -1, 1e9)[0] == (kept, pytest.approx(1.0, abs=1e-5))
    # windows are still by time after the rows moved
    keep = np.array([i for i in range(n) if i not in gone_set])
    want = brute(vecs[keep], ids[keep], ts[keep], vecs[3_000], K, 2_000.0, 4_000.0)
    got = index.search_exact(vecs[3_000], K, 2_000.0, 4_000.0)
    assert [i for i, _ in got] == [i for i, _ in want]


@pytest.mark.slow
def test_background_build_and_retrain_keep_answers_right():
    rng = np.random.default_rng(5)
    centers = unit(500, rng)
    n = 16_000
    vecs, ids, ts = clustered(n, centers, rng), np.arange(n, dtype=np.int64), np.arange(n, dtype=np.float64)
    queries = clustered(40, centers, rng)
    index = VectorIndex(DIM, ann_min_rows=6_000, retrain_after=0.5)
    index.add(ids[:6_000], ts[:6_000], vecs[:6_000])
    # while the IVF trains, searches are exact scans
    during = [index.search(q, K, -1, 1e9) for q in queries[:5]]
    assert index.wait_ready(120)
    assert index.ann_ready and index.stats()["trained_rows"] == 6_000
    for q, got in zip(queries, during):
        assert [i for i, _ in got] == [i for i, _ in brute(vecs[:6_000], ids[:6_000], ts[:6_000], q, K, -1, 1e9)]
    # more than half as many rows again: a retrain starts in the background; rows keep coming, some
    # roll back and some get pruned meanwhile, and searches go on against the old IVF
    stop = threading.Event()
    errors: list[BaseException] = []

    def searcher() -> None:
        try:
            while not stop.is_set():
                index.search(queries[0], K, -1, 1e9)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    t = threading.Thread(target=searcher)
    t.start()
    try:
        for a in range(6_000, n, 500):
            index.add(ids[a : a + 500], ts[a : a + 500], vecs[a : a + 500])
            if a == 9_000:
                index.truncate(9_250)  # rows 9,250..9,499 roll back
        index.prune(1_000.0)
        assert index.wait_ready(120)
    finally:
        stop.set()
        t.join()
    assert not errors
    live = np.r_[np.arange(1_000, 9_250), np.arange(9_500, n)]
    st = index.stats()
    assert st["trained_rows"] > 6_000 and st["ivf_rows"] + st["waiting"] == len(live) == len(index)
    recalls = []
    for q in queries:
        got = index.search(q, K, -1, 1e9)
        assert all(i in set(live.tolist()) for i, _ in got)
        recalls.append(recall(got, useful(brute(vecs[live], ids[live], ts[live], q, K, -1, 1e9))))
    assert np.mean(recalls) >= 0.97, np.mean(recalls)


def test_exact_only_when_asked():
    rng = np.random.default_rng(6)
    index = VectorIndex(DIM, ann_min_rows=None, background=False)
    index.add(np.arange(3000), np.zeros(3000), unit(3000, rng))
    assert not index.ann_ready and index.stats()["ann"] is False


def test_rows_gone_while_the_ivf_builds_are_not_in_it(monkeypatch):
    """Rollbacks and pruning that happen between the bulk fill of a new IVF and its swap reach it."""
    from app.store import vector_index

    n = 12_000
    rng, centers, vecs, ids, ts = rows_in_time_order(8, n)
    filled, go_on = threading.Event(), threading.Event()
    tune = vector_index.tune_nprobe

    def paused(*a, **kw):  # the build has filled the new IVF and tunes it next
        filled.set()
        assert go_on.wait(60)
        return tune(*a, **kw)

    monkeypatch.setattr(vector_index, "tune_nprobe", paused)
    index = VectorIndex(DIM, ann_min_rows=n)
    index.add(ids, ts, vecs)
    assert filled.wait(60)  # every row is in the new IVF, which is not swapped in yet
    index.prune(500.0)
    index.truncate(len(index) - 300)  # rows 11,700.. roll back
    index.add(np.arange(20_000, 20_010), np.full(10, 1e5), vecs[:10])
    go_on.set()
    assert index.wait_ready(60) and index.ann_ready
    st = index.stats()
    assert st["ivf_rows"] == len(index) == n - 500 - 300 + 10 and st["waiting"] == 0
    got = index.search(vecs[5], K, -1, 1e9)  # its own row was pruned; its copy was added as 20,005
    assert got[0] == (20_005, pytest.approx(1.0, abs=1e-5)) and all(i >= 500 for i, _ in got)
    assert all(i < 11_700 or i >= 20_000 for i, _ in index.search(vecs[11_800], K, -1, 1e9))


def test_rows_wait_for_a_batch_before_entering_the_ivf():
    rng = np.random.default_rng(9)
    centers = unit(300, rng)
    n = 10_000
    vecs, ids, ts = clustered(n + 600, centers, rng), np.arange(n + 600, dtype=np.int64), np.arange(n + 600.0)
    index = VectorIndex(DIM, ann_min_rows=n, background=False, flush_rows=256)
    index.add(ids[:n], ts[:n], vecs[:n])
    for i in range(n, n + 300):  # one row at a time, as ingestion adds them
        index.add(ids[i : i + 1], ts[i : i + 1], vecs[i : i + 1])
    st = index.stats()
    assert st["ivf_rows"] == n + 256 and st["waiting"] == 44
    for i in (n + 10, n + 299):  # in the IVF / still waiting: found either way
        assert index.search(vecs[i], K, -1, 1e9)[0] == (i, pytest.approx(1.0, abs=1e-5))
    assert index.search(vecs[n + 299], K, n + 290.0, 1e9)[0][0] == n + 299
    index.truncate(n + 250)  # back into the rows already in the IVF
    st = index.stats()
    assert st["ivf_rows"] == n + 250 and st["waiting"] == 0
    assert all(h < n + 250 for h, _ in index.search(vecs[n + 299], K, -1, 1e9))


@pytest.mark.slow
def test_a_build_overtaken_by_loading_trains_again_on_all_rows(monkeypatch):
    # A store opening on 12k rows adds them in chunks; the first training starts at 2k in the
    # background. Without a second training the IVF would keep 2k rows' lists (too few, too long).
    n = 12_000
    rng, centers, vecs, ids, ts = rows_in_time_order(11, n)
    from app.store import vector_index

    index = VectorIndex(DIM, ann_min_rows=2_000, retrain_after=1.0)
    sampled, loaded = threading.Event(), threading.Event()
    nlist, tune = vector_index.nlist_for, vector_index.tune_nprobe

    def nlist_then_signal(rows: int) -> int:  # the first build has taken its sample of 2k rows
        sampled.set()
        return nlist(rows)

    def tune_after_loading(*args, **kwargs):  # ... and is still running when the last rows arrive
        assert loaded.wait(60)
        return tune(*args, **kwargs)

    monkeypatch.setattr(vector_index, "nlist_for", nlist_then_signal)
    monkeypatch.setattr(vector_index, "tune_nprobe", tune_after_loading)
    index.add(ids[:2_000], ts[:2_000], vecs[:2_000])
    assert sampled.wait(60)
    for a in range(2_000, n, 1_000):
        index.add(ids[a : a + 1_000], ts[a : a + 1_000], vecs[a : a + 1_000])
    loaded.set()
    assert index.wait_ready(180)
    stats = index.stats()
    assert stats["ann"] and stats["trained_rows"] * 2 >= n, stats
    assert stats["ivf_rows"] == n
    q = clustered(1, centers, rng)[0]
    assert recall(index.search(q, K, -1, 1e9), brute(vecs, ids, ts, q, K, -1, 1e9)) >= 0.9


def test_a_search_leaves_the_threads_openmp_setting_as_it_found_it(big):
    import faiss

    index, *_, queries = big
    before = faiss.omp_get_max_threads()
    index.search(queries[0], K, -1, 1e9)
    assert index.ann_ready and faiss.omp_get_max_threads() == before


def test_loading_trains_once_on_every_row():
    n = 12_000
    rng, centers, vecs, ids, ts = rows_in_time_order(12, n)
    index = VectorIndex(DIM, ann_min_rows=2_000, background=False)
    with index.loading():
        for a in range(0, n, 1_000):
            index.add(ids[a : a + 1_000], ts[a : a + 1_000], vecs[a : a + 1_000])
        assert not index.ann_ready and index.stats()["trainings"] == 0  # exact scans while loading
    stats = index.stats()
    assert stats["trainings"] == 1 and stats["trained_rows"] == n
