"""In-process vector index over the recent window, for the embedded (SQLite) backend.

Rows (id, time, unit float32 vector) live in contiguous arrays in insertion order; inner product on
unit vectors is cosine. Rows older than the kept horizon are pruned, so memory follows the window,
not the archive.

Search is an exact scan while the index is small. From ``ann_min_rows`` rows on, a faiss inverted-file
index (inner product) answers instead: an exact scan of 100k x 512 float32 reads 200 MB and takes
~15-30 ms on one core, while the IVF with ``nprobe`` lists reads a few thousand vectors (~1-2 ms). Its
lists hold each vector in 8 bits a dimension, one range for all dimensions (``LIST_CODE``; ``REFINE`` times
``k`` rows are fetched, then ranked by the exact float32 product, so the answer's cosines are exact): a
quarter of the memory of float32 lists, and a search streams a quarter of the bytes through the caches the
encoder's weights also need. Measured on 100k stored headline vectors at nprobe 79: float32 1.48 ms a
search, float16 1.11; then, this uniform 8-bit code against float16, three alternating rounds of 1,024
check queries: 0.78-0.81 against 0.93-1.12 ms a search through ``search``, the same recall@20 (0.9977
against the exact scan, cosine >= 0.3) and the same tuned nprobe (faiss alone: 0.39 against 0.50-0.57 ms). IVF rather than HNSW because this
index is edited all the time: IVF removes rows for real (rollbacks, pruning), adding a row costs one assignment to a centroid
(HNSW: a graph insertion, ~0.5 ms), the time filter is a selector that costs nothing in recall, and
building it takes seconds rather than a minute. Measured on 100k synthetic headline vectors
(bench/synth.py's variants of real embeddings) with the settings of then (1,265 lists, nprobe 79,
float16 lists): recall@20 of the dedup check's queries 0.9997 at 1.1-1.3 ms per search; HNSW
(M=32, efSearch=128) reached recall 0.970 on the same kind of vectors.

IVF rows are keyed by a *slot*: a number given to each row when it is added, increasing and never
reused, so a slot still names the same row after pruning moves rows and after a rollback (truncate)
lets new rows take the old positions. Positions are found from slots by binary search, since slots
grow along the arrays.

The IVF is trained once, in a background thread, when the index first reaches ``ann_min_rows``; until
it is ready searches stay exact. It is retrained (again in the background, the old one answering
meanwhile) once ``retrain_after`` times as many rows were added as it was trained on, so that its
centroids follow the news of the day and its lists do not grow without end: the number of lists
follows the square root of the rows, so a search reads about as many vectors at 100k rows as at 20k
(below ~20k rows it reads half its lists, see ``_nprobe``). A build that finds, when done, that the rows
already outgrew it (a store loading 100k rows at start trains first at ``ann_min_rows``) trains again at
once, in the same thread.

A search for one vector runs on one OpenMP thread (set for the calling thread only): waking a second
thread for a ~1 ms scan cost more than it saved, and gave 6-9 ms outliers on a busy 2-core machine.
"""

from __future__ import annotations

import logging
import math
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import numpy as np

log = logging.getLogger(__name__)

#: rows under which every search is an exact scan. One vector against 10k-20k rows reads 20-40 MB at
#: memory speed (1.7-3.1 ms on the bench's stores); the IVF answers in 0.4-0.5 ms there (see _nprobe)
ANN_MIN_ROWS = 8192
#: a time window holding at most this many rows is scanned exactly even when the IVF is there
EXACT_WINDOW_ROWS = 4096
#: ...and for a batch of queries (an ingest step), one holding at most this many: one matrix product
#: reads the rows once for the whole batch, 0.25-0.58 ms a query from 10k to 20k rows, which the IVF
#: does not beat until the window is larger
EXACT_BATCH_WINDOW_ROWS = 20_000
#: the IVF's coarse ranking (its lists' codes) fetches this many times k rows; the exact product ranks them
REFINE = 2
#: how the IVF's lists store a vector (a faiss ``ScalarQuantizer`` type): 8 bits a dimension, one range
LIST_CODE = "QT_8bit_uniform"


@dataclass
class _Ivf:
    index: Any  # faiss.IndexIVFScalarQuantizer (LIST_CODE lists) over slots
    nlist: int
    nprobe: int
    trained_rows: int
    #: rows added since the snapshot it was trained on (pruned ones too: turnover counts)
    added: int = 0
    #: rows of slot >= upto are not in it yet: they are scanned exactly until a batch of them is added
    upto: int = 0


def _nlist(rows: int) -> int:
    return int(min(8192, max(64, round(4 * math.sqrt(rows)))))


#: an index of fewer lists than one of 20k rows gets (566) reads half of them (see _nprobe)
SMALL_NLIST = _nlist(20_000)


def _nprobe(nlist: int) -> int:
    # 1/16 of the lists, at least 48: recall@20 >= 0.995 from 20k to 100k rows on the bench vectors.
    # A small index reads half its lists: at 10k-15k rows 48 lists of 400-490 missed 1-2 % of the rows
    # at cosine >= 0.3 of the bench's check queries (up to cosine 0.57); half the lists missed 1 row and
    # 0 (0.41-0.50 ms a search, against 1.7-3.1 ms for the exact scan)
    if nlist < SMALL_NLIST:
        return max(1, nlist // 2)
    return min(nlist, max(48, nlist // 16))


class VectorIndex:
    def __init__(
        self,
        dim: int,
        capacity: int = 1024,
        *,
        ann_min_rows: int | None = ANN_MIN_ROWS,
        exact_window_rows: int = EXACT_WINDOW_ROWS,
        exact_batch_window_rows: int = EXACT_BATCH_WINDOW_ROWS,
        retrain_after: float = 1.0,
        background: bool = True,
        recall_k: int = 20,
        recall_target: float = 0.99,
        recall_floor: float = 0.3,
        flush_rows: int = 256,
        seed: int = 0,
    ) -> None:
        """``ann_min_rows=None`` keeps every search exact. ``background=False`` trains in the calling
        thread (tests, tools): the ``add`` that crosses the size returns with the IVF ready.
        ``flush_rows``: new rows enter the IVF by batches of this many (one faiss add per row costs
        ~5 ms of OpenMP start-up on a busy 2-core machine, one add of 1,000 rows ~30 ms); the rows
        waiting are scanned exactly. ``recall_*``: each new IVF reads as many lists as it takes to find ``recall_target`` of the
        exact top ``recall_k`` at cosine >= ``recall_floor`` (see ``_tune_nprobe``)."""
        self.dim = dim
        self.ann_min_rows = ann_min_rows
        self.exact_window_rows = exact_window_rows
        self.exact_batch_window_rows = max(exact_window_rows, exact_batch_window_rows)
        self.retrain_after = retrain_after
        self.background = background
        self.recall_k, self.recall_target, self.recall_floor = recall_k, recall_target, recall_floor
        self.seed = seed
        self.last_tuning: dict[str, Any] = {}
        self.flush_rows = flush_rows
        self._ids = np.zeros(capacity, dtype=np.int64)
        self._ts = np.zeros(capacity, dtype=np.float64)
        self._mat = np.zeros((capacity, dim), dtype=np.float32)
        self._slots = np.zeros(capacity, dtype=np.int64)
        self._n = 0
        self._next_slot = 0
        self._ivf: _Ivf | None = None
        self._builder: threading.Thread | None = None
        self._loading = False
        # Guards the arrays and every call into the IVF (faiss does not allow a search during an add).
        # Exact scans run outside it on a snapshot: arrays are replaced, never compacted in place.
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return self._n

    # --- state -------------------------------------------------------------------------
    @property
    def ann_ready(self) -> bool:
        return self._ivf is not None

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Wait for a background (re)training under way; True when none is left running."""
        builder = self._builder
        if builder is not None and builder.ident is not None:  # started (not a build in the caller's thread)
            builder.join(timeout)
        return self._builder is None

    def stats(self) -> dict[str, Any]:
        ivf = self._ivf
        return {
            "rows": self._n,
            "ann": ivf is not None,
            "building": self._builder is not None,
            **(
                {
                    "nlist": ivf.nlist,
                    "nprobe": ivf.nprobe,
                    "ivf_rows": int(ivf.index.ntotal),
                    "waiting": self._n - int(np.searchsorted(self._slots[: self._n], ivf.upto)),
                    "trained_rows": ivf.trained_rows,
                }
                if ivf is not None
                else {}
            ),
        }

    # --- writes ------------------------------------------------------------------------
    def _grow(self, need: int) -> None:
        cap = len(self._ids)
        if need <= cap:
            return
        self._realloc(max(need, cap * 2), np.arange(self._n))

    def _realloc(self, cap: int, keep: np.ndarray) -> None:
        """New arrays holding the rows at positions ``keep``: a search scanning the old ones is unaffected."""
        m = len(keep)
        ids = np.zeros(cap, dtype=np.int64)
        ts = np.zeros(cap, dtype=np.float64)
        mat = np.zeros((cap, self.dim), dtype=np.float32)
        slots = np.zeros(cap, dtype=np.int64)
        ids[:m], ts[:m], mat[:m], slots[:m] = self._ids[keep], self._ts[keep], self._mat[keep], self._slots[keep]
        self._ids, self._ts, self._mat, self._slots = ids, ts, mat, slots
        self._n = m

    def add(self, ids: np.ndarray, ts: np.ndarray, vectors: np.ndarray) -> None:
        vectors = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32).reshape(-1, self.dim))
        m = len(vectors)
        if m == 0:
            return
        with self._lock:
            self._grow(self._n + m)
            a, b = self._n, self._n + m
            self._ids[a:b] = ids
            self._ts[a:b] = ts
            self._mat[a:b] = vectors
            slots = np.arange(self._next_slot, self._next_slot + m, dtype=np.int64)
            self._slots[a:b] = slots
            self._next_slot += m
            self._n = b
            ivf = self._ivf
            if ivf is not None:
                ivf.added += m
                if self._next_slot - ivf.upto >= self.flush_rows:
                    self._flush(ivf)
            build = self._start_build_if_due()
        if build and not self.background:
            self._build()

    @contextmanager
    def loading(self) -> Iterator[None]:
        """Add many rows (a store opening) with one training at the end instead of one at
        ``ann_min_rows`` and another when the rows have outgrown it."""
        self._loading = True
        try:
            yield
        finally:
            with self._lock:
                self._loading = False
                build = self._start_build_if_due()
            if build and not self.background:
                self._build()

    def _start_build_if_due(self) -> bool:
        """Start a (re)training when one is due (lock held); True when one was set up."""
        ivf = self._ivf
        build = (
            self._builder is None
            and not self._loading
            and (
                (ivf is None and self.ann_min_rows is not None and self._n >= self.ann_min_rows)
                or (ivf is not None and self._stale(ivf))
            )
        )
        if build:
            self._builder = threading.Thread(target=self._build, name="vector-index-ivf", daemon=True)
            if self.background:
                self._builder.start()  # it waits for this lock before reading anything
        return build

    def _stale(self, ivf: _Ivf) -> bool:
        return ivf.added > self.retrain_after * ivf.trained_rows

    def truncate(self, n: int) -> None:
        """Forget every row added after the first ``n`` (a rolled-back transaction's rows)."""
        with self._lock:
            if n >= self._n:
                return
            # Those rows hold the highest slots: one range leaves the IVF.
            lo, hi = int(self._slots[n]), self._next_slot
            self._n = max(0, n)
            if self._ivf is not None and lo < self._ivf.upto:
                import faiss

                self._ivf.index.remove_ids(faiss.IDSelectorRange(lo, hi))

    def prune(self, ts_min: float) -> int:
        """Drop rows older than ts_min; returns how many were dropped."""
        with self._lock:
            return self._keep(self._ts[: self._n] >= ts_min)

    def remove(self, ids: Sequence[int]) -> int:
        """Drop the rows of these headline ids (deleted from the store); returns how many were here."""
        if not len(ids):
            return 0
        with self._lock:
            return self._keep(~np.isin(self._ids[: self._n], np.asarray(ids, dtype=np.int64)))

    def _keep(self, keep: np.ndarray) -> int:
        """Keep the rows where ``keep`` (one flag per row) is true, in order (lock held)."""
        n = self._n
        m = int(keep.sum())
        dropped = n - m
        if dropped:
            gone = self._slots[:n][~keep]
            self._realloc(len(self._ids), np.flatnonzero(keep))
            if self._ivf is not None:
                if self.ann_min_rows is None or m < self.ann_min_rows // 2:
                    self._ivf = None  # small again: exact scans, trained anew if it grows back
                else:
                    self._ivf.index.remove_ids(gone)
        return dropped

    # --- the IVF -----------------------------------------------------------------------
    def _flush(self, ivf: _Ivf) -> None:
        """Add the waiting rows to the IVF (lock held)."""
        start = int(np.searchsorted(self._slots[: self._n], ivf.upto))
        if start < self._n:
            ivf.index.add_with_ids(self._mat[start : self._n], self._slots[start : self._n])
        ivf.upto = self._next_slot

    def _build(self) -> None:
        try:
            while self._build_once():
                pass
        except Exception:  # an IVF is only a speed-up: keep answering with exact scans
            log.exception("vector index: building the IVF failed; searches stay exact")
        finally:
            self._builder = None

    def _build_once(self) -> bool:
        """Train a new IVF on a sample of the rows, fill it, tune its nprobe, then swap it in. Only the
        final catch-up (rows added meanwhile, rows gone meanwhile) holds the lock: training, the bulk of
        the adds and the tuning run beside searches and inserts. True when the rows outgrew it while it
        was built (build again)."""
        import faiss

        with self._lock:
            n = self._n
            nlist = _nlist(n)
            rng = np.random.default_rng(self.seed)
            take = min(n, nlist * 20)
            picked = np.sort(rng.choice(n, size=take, replace=False))
            sample, sample_slots = self._mat[picked].copy(), self._slots[picked].copy()
            sample_next = self._next_slot  # rows from here on count as added since training
        quantizer = faiss.IndexFlatIP(self.dim)
        index = faiss.IndexIVFScalarQuantizer(
            quantizer, self.dim, nlist, getattr(faiss.ScalarQuantizer, LIST_CODE), faiss.METRIC_INNER_PRODUCT
        )
        index.cp.niter = 10
        index.cp.seed = self.seed
        # 20 points a centroid, 10 rounds: ~3 s at 20k rows; finer centroids buy no recall here
        index.cp.max_points_per_centroid = 20
        index.cp.min_points_per_centroid = 8
        index.train(sample)
        del sample
        added: list[np.ndarray] = []
        next_slot = 0
        while True:
            with self._lock:
                start = int(np.searchsorted(self._slots[: self._n], next_slot))
                if self._n - start <= 2048:
                    # what the IVF holds now (arrays are replaced, not edited, so the views stay valid)
                    held, held_slots = self._mat[:start], self._slots[:start]
                    break
                stop = min(start + 8192, self._n)
                vecs = self._mat[start:stop].copy()
                slots = self._slots[start:stop].copy()
            index.add_with_ids(vecs, slots)
            added.append(slots)
            next_slot = int(slots[-1]) + 1
        nprobe = self._tune_nprobe(index, held, held_slots, sample_slots, nlist) if len(held) else _nprobe(nlist)
        del held, held_slots
        with self._lock:
            # the last rows, and the reconciliation, under the lock: nothing can change meanwhile
            start = int(np.searchsorted(self._slots[: self._n], next_slot))
            if start < self._n:
                index.add_with_ids(self._mat[start : self._n], self._slots[start : self._n])
                added.append(self._slots[start : self._n].copy())
            done = np.concatenate(added) if added else np.zeros(0, dtype=np.int64)
            gone = np.setdiff1d(done, self._slots[: self._n], assume_unique=True)
            if len(gone):
                # faiss's stub types remove_ids as taking an IDSelector; its wrapper takes an int64 array too
                index.remove_ids(gone)  # type: ignore[arg-type]
            if self.ann_min_rows is None or self._n < self.ann_min_rows // 2:
                return False
            ivf = _Ivf(
                index, nlist, nprobe, trained_rows=n, upto=self._next_slot, added=self._next_slot - int(sample_next)
            )
            self._ivf = ivf
            log.info("vector index: IVF of %d lists (nprobe %d) over %d rows ready", nlist, nprobe, index.ntotal)
            return self._stale(ivf)

    def _tune_nprobe(
        self, index: Any, held: np.ndarray, held_slots: np.ndarray, trained: np.ndarray, nlist: int
    ) -> int:
        """The smallest nprobe (from the default up, at most half the lists) whose recall@k against an
        exact scan reaches ``recall_target``, with stored rows as queries. How many lists must be read
        depends on the data: 1/12 of them give 0.9995 on embeddings of real headlines, isotropic
        synthetic clusters need 1/3 for 0.99. Neighbours under ``recall_floor`` are not counted: the
        pipeline never scores them (its min_cosine)."""
        import faiss

        rng = np.random.default_rng(self.seed + 1)
        k = self.recall_k
        # Queries are rows the centroids were not trained on: a training row sits well inside its own
        # list and flatters the recall (1.0 against 0.95 for new rows on isotropic clusters).
        fresh = np.flatnonzero(~np.isin(held_slots, trained))
        pool = fresh if len(fresh) >= 16 else np.arange(len(held))
        qpos = rng.choice(pool, size=min(len(pool), 128), replace=False)
        queries = np.ascontiguousarray(held[qpos])
        sims = queries @ held.T
        sims[np.arange(len(qpos)), qpos] = -np.inf  # a row finding itself proves nothing
        want = np.argpartition(-sims, k, axis=1)[:, :k]
        wanted = [
            set(held_slots[w][np.take_along_axis(sims, w[None], axis=1)[0] >= self.recall_floor].tolist()) for w in want
        ]
        total = sum(len(w) for w in wanted)
        nprobe = _nprobe(nlist)
        while True:
            # what a search keeps: the exact top k of the REFINE x k rows the lists give
            # faiss's stub gives the SearchParameters classes no keywords; its wrapper sets them as attributes
            _, got = index.search(queries, REFINE * k + 1, params=faiss.SearchParametersIVF(nprobe=nprobe))  # type: ignore[call-arg]
            found = sum(len(w & set(g.tolist())) for w, g in zip(wanted, got))
            rec = found / total if total else 1.0
            if rec >= self.recall_target or nprobe >= nlist // 2:
                log.info("vector index: nprobe %d of %d lists, recall@%d %.4f on stored rows", nprobe, nlist, k, rec)
                self.last_tuning = {"nprobe": nprobe, "nlist": nlist, "recall": rec, "queries": len(qpos)}
                return nprobe
            nprobe = min(nlist // 2, int(nprobe * 1.5) + 1)

    # --- reads -------------------------------------------------------------------------
    def search(self, vector: np.ndarray, k: int, ts_lo: float, ts_hi: float) -> list[tuple[int, float]]:
        """The ``k`` rows of time in [ts_lo, ts_hi] nearest to ``vector``, best first, as (id, cosine)."""
        v = np.ascontiguousarray(np.asarray(vector, dtype=np.float32).reshape(self.dim))
        with self._lock:
            n = self._n
            ids, ts, mat, slots = self._ids[:n], self._ts[:n], self._mat[:n], self._slots[:n]
            ivf = self._ivf
            if n == 0 or k <= 0:
                return []
            inside = (ts >= ts_lo) & (ts <= ts_hi)
            n_in = int(np.count_nonzero(inside))
            if n_in == 0:
                return []
            if ivf is not None and n_in > self.exact_window_rows:
                return self._ivf_answers(ivf, v[None, :], k, ids, mat, slots, inside, n_in)[0]
        return self._exact(v, k, ids, mat, inside if n_in < n else None, n_in)

    def _ivf_answers(
        self,
        ivf: _Ivf,
        q: np.ndarray,
        k: int,
        ids: np.ndarray,
        mat: np.ndarray,
        slots: np.ndarray,
        inside: np.ndarray,
        n_in: int,
    ) -> list[list[tuple[int, float]]]:
        """The IVF's answer for each row of ``q`` over one window (lock held): the rows its lists give,
        plus the rows waiting for the next batch into the IVF, ranked by the exact product."""
        n = len(slots)
        found_rows = self._ivf_search(ivf, q, k, slots, inside if n_in < n else None)
        tail = int(np.searchsorted(slots, ivf.upto))
        waiting = tail + np.flatnonzero(inside[tail:]) if tail < n else None
        out = []
        for v, found in zip(q, found_rows):
            pos = np.searchsorted(slots, found)
            pos = pos[(pos < n) & (slots[np.minimum(pos, n - 1)] == found)]
            if waiting is not None:
                pos = np.concatenate([pos, waiting])
            out.append(self._ranked(v, ids, mat, np.unique(pos), k))
        return out

    def search_many(
        self, vectors: np.ndarray, k: int, ts_lo: Sequence[float], ts_hi: Sequence[float]
    ) -> list[list[tuple[int, float]]]:
        """``search`` for each row of ``vectors`` (with its own window), in one pass where it can.

        An exact scan for one vector is a matrix-vector product: it reads every stored row for a
        handful of flops each, so it runs at memory speed. Queries sharing a window are scanned
        together as one matrix product, which reads the rows once for all of them (measured on 2 cores,
        128 queries over 4k rows: ~5x less time than 128 scans). Queries the IVF answers go to faiss
        together too: its coarse search becomes one product, and the window is worked out once."""
        q = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32).reshape(-1, self.dim))
        out: list[list[tuple[int, float]]] = [[] for _ in range(len(q))]
        if len(q) == 0 or k <= 0:
            return out
        exact: list[tuple[list[int], np.ndarray, int]] = []
        with self._lock:
            n = self._n
            ids, ts, mat, slots = self._ids[:n], self._ts[:n], self._mat[:n], self._slots[:n]
            ivf = self._ivf
            if n == 0:
                return out
            # Queries whose window holds every row are one group, whatever their windows: headlines
            # published at different times were a group each, one IVF search and one window mask each.
            first, last = float(ts.min()), float(ts.max())
            groups: dict[tuple[float, float] | None, list[int]] = {}
            for i, (lo, hi) in enumerate(zip(ts_lo, ts_hi)):
                lo, hi = float(lo), float(hi)
                groups.setdefault(None if lo <= first and hi >= last else (lo, hi), []).append(i)
            for window, members in groups.items():
                if window is None:
                    inside, n_in = np.ones(n, dtype=bool), n
                else:
                    inside = (ts >= window[0]) & (ts <= window[1])
                    n_in = int(np.count_nonzero(inside))
                if n_in == 0:
                    continue
                # one query alone is an exact scan up to exact_window_rows; several share one up to more
                limit = self.exact_window_rows if len(members) == 1 else self.exact_batch_window_rows
                if ivf is not None and n_in > limit:
                    # faiss does not allow a search during an add: under the lock, like search()
                    for i, found in zip(members, self._ivf_answers(ivf, q[members], k, ids, mat, slots, inside, n_in)):
                        out[i] = found
                else:
                    exact.append((members, inside, n_in))
        for members, inside, n_in in exact:  # on the snapshot, outside the lock
            for i, found in zip(members, self._exact_many(q[members], k, ids, mat, inside if n_in < n else None, n_in)):
                out[i] = found
        return out

    def search_exact(self, vector: np.ndarray, k: int, ts_lo: float, ts_hi: float) -> list[tuple[int, float]]:
        """What ``search`` answers, always by an exact scan (the reference for recall)."""
        v = np.ascontiguousarray(np.asarray(vector, dtype=np.float32).reshape(self.dim))
        with self._lock:
            n = self._n
            ids, ts, mat = self._ids[:n], self._ts[:n], self._mat[:n]
        if n == 0 or k <= 0:
            return []
        inside = (ts >= ts_lo) & (ts <= ts_hi)
        n_in = int(np.count_nonzero(inside))
        return self._exact(v, k, ids, mat, inside if n_in < n else None, n_in) if n_in else []

    def _ivf_search(
        self, ivf: _Ivf, q: np.ndarray, k: int, slots: np.ndarray, inside: np.ndarray | None
    ) -> list[np.ndarray]:
        """The slots the IVF's lists give for each row of ``q`` (``REFINE * k`` at most, time-filtered)."""
        import faiss

        # faiss's stub gives the SearchParameters classes no keywords; its wrapper sets them as attributes
        params = faiss.SearchParametersIVF(nprobe=ivf.nprobe)  # type: ignore[call-arg]
        bitmap = None
        if inside is not None:
            # Selector over slot numbers: bit s set when the row of slot s is inside the window.
            member = np.zeros(self._next_slot, dtype=bool)
            member[slots[inside]] = True
            bitmap = np.packbits(member, bitorder="little")
            sel = faiss.IDSelectorBitmap(len(member), faiss.swig_ptr(bitmap))
            params.sel = sel
        before = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)  # this thread's setting only (an OpenMP per-thread value)
        try:
            _, found = ivf.index.search(q, REFINE * k, params=params)
        finally:
            faiss.omp_set_num_threads(before)
        del bitmap  # the selector reads it until search returns
        return [row[row >= 0] for row in found]

    @staticmethod
    def _ranked(v: np.ndarray, ids: np.ndarray, mat: np.ndarray, pos: np.ndarray, k: int) -> list[tuple[int, float]]:
        # Scores from the same product as the exact scan, so a row's cosine does not depend on the path.
        sims = mat[pos] @ v
        order = np.argsort(-sims, kind="stable")[:k]
        return [(int(ids[pos[i]]), float(sims[i])) for i in order]

    @staticmethod
    def _window_rows(
        ids: np.ndarray, mat: np.ndarray, inside: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """The rows an exact scan of a window reads: their ids, their vectors, and which of them are
        outside the window (None when all are inside)."""
        if inside is None:
            return ids, mat, None
        pos = np.flatnonzero(inside)
        lo, hi = int(pos[0]), int(pos[-1]) + 1
        if hi - lo <= 2 * len(pos):
            # rows arrive roughly in time order: the window is mostly one run of the arrays
            return ids[lo:hi], mat[lo:hi], ~inside[lo:hi]
        return ids[pos], mat[pos], None

    @staticmethod
    def _exact(
        v: np.ndarray, k: int, ids: np.ndarray, mat: np.ndarray, inside: np.ndarray | None, n_in: int
    ) -> list[tuple[int, float]]:
        rows, sub, outside = VectorIndex._window_rows(ids, mat, inside)
        sims = sub @ v
        if outside is not None:
            sims[outside] = -np.inf
        return VectorIndex._top(sims, min(k, n_in), lambda i: rows[i])

    @staticmethod
    def _exact_many(
        q: np.ndarray, k: int, ids: np.ndarray, mat: np.ndarray, inside: np.ndarray | None, n_in: int
    ) -> list[list[tuple[int, float]]]:
        """``_exact`` for each row of ``q``, over one window: one matrix product, one partition."""
        rows, sub, outside = VectorIndex._window_rows(ids, mat, inside)
        sims = q @ sub.T
        if outside is not None:
            sims[:, outside] = -np.inf
        k = min(k, n_in)
        width = sims.shape[1]
        top = (
            np.argpartition(-sims, k - 1, axis=1)[:, :k] if k < width else np.broadcast_to(np.arange(width), sims.shape)
        )
        top_sims = np.take_along_axis(sims, top, axis=1)
        order = np.argsort(-top_sims, axis=1, kind="stable")
        top = np.take_along_axis(top, order, axis=1)
        top_sims = np.take_along_axis(top_sims, order, axis=1)
        top_ids = rows[top]
        return [
            [(int(i), float(s)) for i, s in zip(row_ids.tolist(), row_sims.tolist()) if s != -np.inf]
            for row_ids, row_sims in zip(top_ids, top_sims)
        ]

    @staticmethod
    def _top(sims: np.ndarray, k: int, id_of) -> list[tuple[int, float]]:
        n = len(sims)
        top = np.argpartition(-sims, k - 1)[:k] if k < n else np.arange(n)
        top = top[np.argsort(-sims[top], kind="stable")]
        return [(int(id_of(i)), float(sims[i])) for i in top if np.isfinite(sims[i])]
