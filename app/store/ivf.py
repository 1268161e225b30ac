"""The faiss inverted-file (IVF) index the vector index answers with from ``ann_min_rows`` rows on:
how many lists it has and reads, its training and nprobe tuning, and a search through it.

An exact scan of 100k x 512 float32 reads 200 MB and takes ~15-30 ms on one core, while the IVF (inner
product) with ``nprobe`` lists reads a few thousand vectors (~1-2 ms). Its lists hold each vector in 8
bits a dimension, one range for all dimensions (``LIST_CODE``; ``REFINE`` times ``k`` rows are fetched,
then ranked by the exact float32 product, so the answer's cosines are exact): a quarter of the memory of
float32 lists, and a search streams a quarter of the bytes through the caches the encoder's weights also
need. Measured on 100k stored headline vectors at nprobe 79: float32 1.48 ms a search, float16 1.11;
then, this uniform 8-bit code against float16, three alternating rounds of 1,024 check queries:
0.78-0.81 against 0.93-1.12 ms a search through ``search``, the same recall@20 (0.9977 against the exact
scan, cosine >= 0.3) and the same tuned nprobe (faiss alone: 0.39 against 0.50-0.57 ms). IVF rather than
HNSW because this index is edited all the time: IVF removes rows for real (rollbacks, pruning), adding a
row costs one assignment to a centroid (HNSW: a graph insertion, ~0.5 ms), the time filter is a selector
that costs nothing in recall, and building it takes seconds rather than a minute. Measured on 100k
synthetic headline vectors (bench/synth.py's variants of real embeddings) with the settings of then
(1,265 lists, nprobe 79, float16 lists): recall@20 of the dedup check's queries 0.9997 at 1.1-1.3 ms per
search; HNSW (M=32, efSearch=128) reached recall 0.970 on the same kind of vectors.

Its rows are keyed by the vector index's *slots* (see ``app.store.vector_index``). The number of lists
follows the square root of the rows, so a search reads about as many vectors at 100k rows as at 20k
(below ~20k rows it reads half its lists, see ``default_nprobe``).

A search for one vector runs on one OpenMP thread (set for the calling thread only): waking a second
thread for a ~1 ms scan cost more than it saved, and gave 6-9 ms outliers on a busy 2-core machine.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .exact_scan import Hits, ranked

if TYPE_CHECKING:
    import faiss

log = logging.getLogger(__name__)

#: the IVF's coarse ranking (its lists' codes) fetches this many times k rows; the exact product ranks them
REFINE = 2
#: how the IVF's lists store a vector (a faiss ``ScalarQuantizer`` type): 8 bits a dimension, one range
LIST_CODE = "QT_8bit_uniform"


@dataclass
class Ivf:
    """One trained IVF and the vector index's bookkeeping about it."""

    index: Any  # faiss.IndexIVFScalarQuantizer (LIST_CODE lists) over slots
    nlist: int
    nprobe: int
    trained_rows: int
    #: rows added since the snapshot it was trained on (pruned ones too: turnover counts)
    added: int = 0
    #: rows of slot >= upto are not in it yet: they are scanned exactly until a batch of them is added
    upto: int = 0


def nlist_for(rows: int) -> int:
    """How many lists an IVF trained on ``rows`` rows gets: 4 x sqrt(rows), 64 to 8,192."""
    return int(min(8192, max(64, round(4 * math.sqrt(rows)))))


#: an index of fewer lists than one of 20k rows gets (566) reads half of them (see default_nprobe)
SMALL_NLIST = nlist_for(20_000)


def default_nprobe(nlist: int) -> int:
    """How many of ``nlist`` lists a search reads before tuning (and when there is nothing to tune on)."""
    # 1/16 of the lists, at least 48: recall@20 >= 0.995 from 20k to 100k rows on the bench vectors.
    # A small index reads half its lists: at 10k-15k rows 48 lists of 400-490 missed 1-2 % of the rows
    # at cosine >= 0.3 of the bench's check queries (up to cosine 0.57); half the lists missed 1 row and
    # 0 (0.41-0.50 ms a search, against 1.7-3.1 ms for the exact scan)
    if nlist < SMALL_NLIST:
        return max(1, nlist // 2)
    return min(nlist, max(48, nlist // 16))


def trained(dim: int, nlist: int, sample: np.ndarray, seed: int) -> faiss.IndexIVFScalarQuantizer:
    """A new, empty IVF of ``nlist`` lists (``LIST_CODE`` codes, inner product) trained on ``sample``."""
    import faiss

    quantizer = faiss.IndexFlatIP(dim)
    index = faiss.IndexIVFScalarQuantizer(
        quantizer, dim, nlist, getattr(faiss.ScalarQuantizer, LIST_CODE), faiss.METRIC_INNER_PRODUCT
    )
    index.cp.niter = 10
    index.cp.seed = seed
    # 20 points a centroid, 10 rounds: ~3 s at 20k rows; finer centroids buy no recall here
    index.cp.max_points_per_centroid = 20
    index.cp.min_points_per_centroid = 8
    index.train(sample)
    return index


@dataclass(frozen=True)
class Tuning:
    """What ``tune_nprobe`` chose, and the recall it measured on stored rows."""

    nprobe: int
    nlist: int
    recall: float
    queries: int


def tune_nprobe(
    index: Any,
    held: np.ndarray,
    held_slots: np.ndarray,
    trained_slots: np.ndarray,
    nlist: int,
    *,
    k: int,
    target: float,
    floor: float,
    seed: int,
) -> Tuning:
    """The smallest nprobe (from the default up, at most half the lists) whose recall@k against an
    exact scan reaches ``target``, with stored rows as queries. How many lists must be read depends on
    the data: 1/12 of them give 0.9995 on embeddings of real headlines, isotropic synthetic clusters
    need 1/3 for 0.99. Neighbours under ``floor`` are not counted: the pipeline never scores them (its
    min_cosine).

    ``held``/``held_slots``: the rows ``index`` holds and their slots; ``trained_slots``: the slots of
    the rows it was trained on; ``seed``: the vector index's (the queries are drawn from ``seed + 1``)."""
    import faiss

    rng = np.random.default_rng(seed + 1)
    # Queries are rows the centroids were not trained on: a training row sits well inside its own
    # list and flatters the recall (1.0 against 0.95 for new rows on isotropic clusters).
    fresh = np.flatnonzero(~np.isin(held_slots, trained_slots))
    pool = fresh if len(fresh) >= 16 else np.arange(len(held))
    qpos = rng.choice(pool, size=min(len(pool), 128), replace=False)
    queries = np.ascontiguousarray(held[qpos])
    sims = queries @ held.T
    sims[np.arange(len(qpos)), qpos] = -np.inf  # a row finding itself proves nothing
    want = np.argpartition(-sims, k, axis=1)[:, :k]
    wanted = [set(held_slots[w][np.take_along_axis(sims, w[None], axis=1)[0] >= floor].tolist()) for w in want]
    total = sum(len(w) for w in wanted)
    nprobe = default_nprobe(nlist)
    while True:
        # what a search keeps: the exact top k of the REFINE x k rows the lists give
        # faiss's stub gives the SearchParameters classes no keywords; its wrapper sets them as attributes
        _, got = index.search(queries, REFINE * k + 1, params=faiss.SearchParametersIVF(nprobe=nprobe))  # type: ignore[call-arg]
        found = sum(len(w & set(g.tolist())) for w, g in zip(wanted, got))
        rec = found / total if total else 1.0
        if rec >= target or nprobe >= nlist // 2:
            log.info("vector index: nprobe %d of %d lists, recall@%d %.4f on stored rows", nprobe, nlist, k, rec)
            return Tuning(nprobe=nprobe, nlist=nlist, recall=rec, queries=len(qpos))
        nprobe = min(nlist // 2, int(nprobe * 1.5) + 1)


def search(
    ivf: Ivf, q: np.ndarray, k: int, slots: np.ndarray, inside: np.ndarray | None, next_slot: int
) -> list[np.ndarray]:
    """The slots the IVF's lists give for each row of ``q`` (``REFINE * k`` at most, time-filtered).

    ``slots``: the stored rows' slots; ``inside``: which of them are in the window (None: all);
    ``next_slot``: the slot the next row will get (the selector's size)."""
    import faiss

    # faiss's stub gives the SearchParameters classes no keywords; its wrapper sets them as attributes
    params = faiss.SearchParametersIVF(nprobe=ivf.nprobe)  # type: ignore[call-arg]
    bitmap = None
    if inside is not None:
        # Selector over slot numbers: bit s set when the row of slot s is inside the window.
        member = np.zeros(next_slot, dtype=bool)
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


def answers(
    ivf: Ivf,
    q: np.ndarray,
    k: int,
    ids: np.ndarray,
    mat: np.ndarray,
    slots: np.ndarray,
    inside: np.ndarray,
    n_in: int,
    next_slot: int,
) -> list[Hits]:
    """The IVF's answer for each row of ``q`` over one window: the rows its lists give, plus the rows
    waiting for the next batch into the IVF, ranked by the exact product. The caller holds the vector
    index's lock (faiss does not allow a search during an add)."""
    n = len(slots)
    found_rows = search(ivf, q, k, slots, inside if n_in < n else None, next_slot)
    tail = int(np.searchsorted(slots, ivf.upto))
    waiting = tail + np.flatnonzero(inside[tail:]) if tail < n else None
    out = []
    for v, found in zip(q, found_rows):
        pos = np.searchsorted(slots, found)
        pos = pos[(pos < n) & (slots[np.minimum(pos, n - 1)] == found)]
        if waiting is not None:
            pos = np.concatenate([pos, waiting])
        out.append(ranked(v, ids, mat, np.unique(pos), k))
    return out
