"""In-process vector index over the recent window, for the embedded (SQLite) backend.

Rows (id, time, unit float32 vector) live in contiguous arrays in insertion order; inner product on
unit vectors is cosine. Rows older than the kept horizon are pruned, so memory follows the window,
not the archive.

Search is an exact scan while the index is small (``app.store.exact_scan``). From ``ann_min_rows`` rows
on, a faiss inverted-file index answers instead (``app.store.ivf``, which says why an IVF and what it
measured).

IVF rows are keyed by a *slot*: a number given to each row when it is added, increasing and never
reused, so a slot still names the same row after pruning moves rows and after a rollback (truncate)
lets new rows take the old positions. Positions are found from slots by binary search, since slots
grow along the arrays.

The IVF is trained once, in a background thread, when the index first reaches ``ann_min_rows``; until
it is ready searches stay exact. It is retrained (again in the background, the old one answering
meanwhile) once ``retrain_after`` times as many rows were added as it was trained on, so that its
centroids follow the news of the day and its lists do not grow without end (the number of lists
follows the square root of the rows, see ``ivf.nlist_for``). A build that finds, when done, that the
rows already outgrew it (a store loading 100k rows at start trains first at ``ann_min_rows``) trains
again at once, in the same thread.
"""

from __future__ import annotations

import logging
import threading
from contextlib import contextmanager
from dataclasses import asdict
from typing import Any, Iterator, Literal, Sequence

import numpy as np

from .exact_scan import scan, scan_many
from .ivf import Ivf, default_nprobe, nlist_for, trained, tune_nprobe
from .ivf import answers as ivf_answers

log = logging.getLogger(__name__)

#: rows under which every search is an exact scan. One vector against 10k-20k rows reads 20-40 MB at
#: memory speed (1.7-3.1 ms on the bench's stores); the IVF answers in 0.4-0.5 ms there (see
#: ivf.default_nprobe)
ANN_MIN_ROWS = 8192
#: a time window holding at most this many rows is scanned exactly even when the IVF is there
EXACT_WINDOW_ROWS = 4096
#: ...and for a batch of queries (an ingest step), one holding at most this many: one matrix product
#: reads the rows once for the whole batch, 0.25-0.58 ms a query from 10k to 20k rows, which the IVF
#: does not beat until the window is larger
EXACT_BATCH_WINDOW_ROWS = 20_000


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
        exact top ``recall_k`` at cosine >= ``recall_floor`` (see ``ivf.tune_nprobe``)."""
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
        self._ivf: Ivf | None = None
        self._builder: threading.Thread | None = None
        self._loading = False
        # How ``search`` and ``search_many`` answered: faiss searches and exact scans (one per window
        # they grouped queries by) and the queries each kind answered; IVF trainings started.
        self._counts = {"ivf_searches": 0, "ivf_queries": 0, "exact_scans": 0, "exact_queries": 0, "trainings": 0}
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
            **self._counts,
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

    def _count(self, path: Literal["ivf", "exact"], queries: int) -> None:
        """Count one IVF search or exact scan answering ``queries`` queries (lock held)."""
        self._counts["ivf_searches" if path == "ivf" else "exact_scans"] += 1
        self._counts[f"{path}_queries"] += queries

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

    def _stale(self, ivf: Ivf) -> bool:
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
    def _flush(self, ivf: Ivf) -> None:
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
        with self._lock:
            self._counts["trainings"] += 1
            n = self._n
            nlist = nlist_for(n)
            rng = np.random.default_rng(self.seed)
            take = min(n, nlist * 20)
            picked = np.sort(rng.choice(n, size=take, replace=False))
            sample, sample_slots = self._mat[picked].copy(), self._slots[picked].copy()
            sample_next = self._next_slot  # rows from here on count as added since training
        index = trained(self.dim, nlist, sample, self.seed)
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
        if len(held):
            tuning = tune_nprobe(
                index,
                held,
                held_slots,
                sample_slots,
                nlist,
                k=self.recall_k,
                target=self.recall_target,
                floor=self.recall_floor,
                seed=self.seed,
            )
            self.last_tuning = asdict(tuning)
            nprobe = tuning.nprobe
        else:
            nprobe = default_nprobe(nlist)
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
            ivf = Ivf(
                index, nlist, nprobe, trained_rows=n, upto=self._next_slot, added=self._next_slot - int(sample_next)
            )
            self._ivf = ivf
            log.info("vector index: IVF of %d lists (nprobe %d) over %d rows ready", nlist, nprobe, index.ntotal)
            return self._stale(ivf)

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
                self._count("ivf", 1)
                return ivf_answers(ivf, v[None, :], k, ids, mat, slots, inside, n_in, self._next_slot)[0]
            self._count("exact", 1)
        return scan(v, k, ids, mat, inside if n_in < n else None, n_in)

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
                    self._count("ivf", len(members))
                    found_all = ivf_answers(ivf, q[members], k, ids, mat, slots, inside, n_in, self._next_slot)
                    for i, found in zip(members, found_all):
                        out[i] = found
                else:
                    self._count("exact", len(members))
                    exact.append((members, inside, n_in))
        for members, inside, n_in in exact:  # on the snapshot, outside the lock
            for i, found in zip(members, scan_many(q[members], k, ids, mat, inside if n_in < n else None, n_in)):
                out[i] = found
        return out

    def search_exact(self, vector: np.ndarray, k: int, ts_lo: float, ts_hi: float) -> list[tuple[int, float]]:
        """What ``search`` answers, always by an exact scan (the reference for recall; not counted in ``stats``)."""
        v = np.ascontiguousarray(np.asarray(vector, dtype=np.float32).reshape(self.dim))
        with self._lock:
            n = self._n
            ids, ts, mat = self._ids[:n], self._ts[:n], self._mat[:n]
        if n == 0 or k <= 0:
            return []
        inside = (ts >= ts_lo) & (ts <= ts_hi)
        n_in = int(np.count_nonzero(inside))
        return scan(v, k, ids, mat, inside if n_in < n else None, n_in) if n_in else []
