"""Topics over stories: a scikit-learn style estimator around HDBSCAN on a kNN graph.

One point per story (its L2-normalised centroid). ``fit`` runs:

1. centre the window (subtract its mean, renormalise): sentence embeddings share a common
   direction that makes every pair look alike;
2. smooth over the kNN graph: ``Z <- normalise((1 - a) Z0 + a * mean of graph neighbours' Z)``,
   ``smooth_steps`` rounds on one fixed graph. Headline embeddings carry a weak topic signal under
   a lot of wording noise; averaging with neighbours keeps the signal and cancels the noise, which
   gives HDBSCAN the dense regions it needs. Full dimension: PCA/UMAP reductions lost most of the
   quality in trials;
3. HDBSCAN (``metric="precomputed"``) on the sparse, connected kNN distance graph of the smoothed
   vectors (``graph.py``): 0.3 s at 10k stories, 2 s at 50k, where dense HDBSCAN takes ~50 s at 10k;
4. a noise story whose smoothed vector is close to a topic centroid joins it (``attach_threshold``);
5. a member whose own (centred, unsmoothed) vector is far from its topic centroid goes back to
   noise (``member_threshold``, ``member_relative``): smoothing lends an outlier its neighbours'
   direction, this check takes it back. Noise is never forced into a topic.

Defaults are tuned with ``bench/tune_topics.py`` (masakhanews fra+eng titles, half A; checked on
half B, the whole set, sib200, gnews_fr, seed_ticker): ARI 0.30 / 0.33 / 0.29, NMI 0.45 / 0.49 /
0.43, noise 0.18 / 0.28 / 0.19 on A / B / all, against ARI 0.04-0.15 with ~70 % noise for HDBSCAN
straight on the vectors. Settings that scored higher on A alone fell apart on the other sets.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator, Sequence

import faiss
import numpy as np
from scipy.sparse import csr_matrix
from sklearn.cluster import HDBSCAN
from threadpoolctl import threadpool_limits

from embeddings.base import l2_normalise as unit_rows

from .graph import Neighbours, distance_graph, nearest_neighbours, rerank

__all__ = ["TopicModel", "unit_rows"]


@contextmanager
def _threads(threads: int | None) -> Iterator[None]:
    if threads is None:
        yield
        return
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(threads)
    try:
        # BLAS too: the graph's bridges take one small product per component, and a two-thread
        # BLAS spent up to 40x longer waking its threads than computing them on a busy machine
        # (1,563 products at 50k: 0.6-3.9 s against 0.1 s with one thread).
        with threadpool_limits(limits=threads, user_api="blas"):
            yield
    finally:
        faiss.omp_set_num_threads(before)


def _smooth(Z0: np.ndarray, nb: Neighbours, k: int, steps: int, alpha: float) -> np.ndarray:
    """``steps`` rounds of neighbour averaging on the (symmetrised) kNN graph, anchored to Z0."""
    n = Z0.shape[0]
    if steps <= 0 or alpha <= 0 or k <= 0:
        return Z0
    idx = nb.indices[:, :k]
    rows = np.repeat(np.arange(n), idx.shape[1])
    A = csr_matrix((np.ones(rows.size, dtype=np.float32), (rows, idx.ravel())), shape=(n, n))
    A = A + A.T  # a point is averaged with those it names and those naming it
    degree = np.asarray(A.sum(axis=1)).ravel()
    A = csr_matrix(A.multiply(1.0 / degree[:, None]))
    Z = Z0
    for _ in range(steps):
        Z = unit_rows((1.0 - alpha) * Z0 + alpha * (A @ Z))
    return Z


def _groups(labels: np.ndarray, n_clusters: int) -> list[np.ndarray]:
    """Indices of each label 0..n_clusters-1 (ascending), in one sort rather than a scan per label."""
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], np.arange(n_clusters + 1))
    return [order[bounds[c] : bounds[c + 1]] for c in range(n_clusters)]


def _centroids(Z: np.ndarray, labels: np.ndarray, n_clusters: int) -> np.ndarray:
    member = np.flatnonzero(labels >= 0)
    onehot = csr_matrix(
        (np.ones(member.size, dtype=np.float32), (labels[member], member)), shape=(n_clusters, Z.shape[0])
    )
    return unit_rows(np.asarray(onehot @ Z))


@dataclass
class TopicModel:
    """HDBSCAN topics over story vectors, with online ``predict`` between refits.

    After ``fit``: ``labels_`` (-1 = noise), ``centroids_`` (unit mean of each topic's input
    vectors, one row per label), ``exemplars_`` (indices of each topic's most central members),
    ``clusters_`` (member ids per topic when ``ids`` were given), ``mean_`` (the window mean used
    for centring).
    """

    #: smallest topic, in stories
    min_cluster_size: int = 5
    #: HDBSCAN's density smoothing (neighbours that make a core point)
    min_samples: int = 3
    #: neighbours per story in the HDBSCAN graph
    knn: int = 16
    #: cap on the smoothing neighbourhood; it is also kept at most ``n * smooth_fraction`` (but at
    #: least 3) so that a small window is not averaged into one blob
    smooth_knn: int = 16
    smooth_fraction: float = 0.04
    smooth_steps: int = 4
    smooth_alpha: float = 0.7
    center: bool = True
    cluster_selection_method: str = "eom"
    #: cosine (smoothed space) a noise story needs to its nearest topic centroid to join it;
    #: None keeps HDBSCAN's noise as is
    attach_threshold: float | None = 0.5
    #: a story's own (centred, unsmoothed) cosine to its topic centroid must reach this, or it is
    #: noise: smoothing lends an outlier its neighbours' direction, this takes it back
    member_threshold: float | None = 0.1
    #: ... and at least this fraction of the topic's median member cosine (0 = off)
    member_relative: float = 0.5
    #: where the attach threshold is measured: "smoothed" (tuned) or "original" (centred input)
    attach_space: str = "smoothed"
    n_exemplars: int = 5
    #: brute-force neighbour search up to this many stories, PCA candidates + exact re-rank above
    exact_knn_limit: int = 12_000
    #: candidates kept per story for the smoothed graph when the search is approximate
    candidate_knn: int = 48
    #: faiss and BLAS threads during fit (None: leave their settings). On a shared 2-core machine
    #: 1 is faster than 2 (threads wait on each other when a core is busy) and leaves a core to
    #: the API.
    threads: int | None = 1

    labels_: np.ndarray = field(init=False, repr=False, default_factory=lambda: np.zeros(0, dtype=np.int64))
    centroids_: np.ndarray = field(init=False, repr=False, default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    exemplars_: list[np.ndarray] = field(init=False, repr=False, default_factory=list)
    clusters_: list[set[int]] = field(init=False, repr=False, default_factory=list)
    mean_: np.ndarray | None = field(init=False, repr=False, default=None)

    @property
    def n_topics_(self) -> int:
        return int(self.centroids_.shape[0])

    # --- fitting ----------------------------------------------------------------------------
    def fit(self, X: np.ndarray, ids: Sequence[int] | None = None) -> "TopicModel":
        X = unit_rows(np.atleast_2d(np.asarray(X, dtype=np.float32)))
        n, dim = X.shape
        if ids is not None and len(ids) != n:
            raise ValueError(f"ids has {len(ids)} entries for {n} vectors")
        self.mean_ = X.mean(axis=0) if (self.center and n > 0) else np.zeros(dim, dtype=np.float32)
        labels = np.full(n, -1, dtype=np.int64)
        if n >= max(self.min_cluster_size, 3):
            with _threads(self.threads):
                labels = self._cluster(unit_rows(X - self.mean_))
        self._finish(X, labels, ids)
        return self

    def fit_predict(self, X: np.ndarray, ids: Sequence[int] | None = None) -> np.ndarray:
        return self.fit(X, ids).labels_

    def _cluster(self, Z0: np.ndarray) -> np.ndarray:
        n = Z0.shape[0]
        knn = max(2, min(self.knn, n - 1))
        min_samples = max(1, min(self.min_samples, knn))
        k_smooth = int(min(self.smooth_knn, max(3, round(n * self.smooth_fraction)), n - 1))
        approximate = n > self.exact_knn_limit
        first_k = max(k_smooth, knn, self.candidate_knn if approximate else 0)
        # Above the exact limit the first search also provides the candidates for the second one,
        # so it is asked for candidate_knn neighbours with no further oversampling.
        nb = nearest_neighbours(Z0, first_k, exact_limit=self.exact_knn_limit, oversample=1 if approximate else 3)
        Z = _smooth(Z0, nb, k_smooth, self.smooth_steps, self.smooth_alpha)
        if Z is Z0:
            nb_z = Neighbours(nb.indices[:, :knn], nb.distances[:, :knn])
        elif approximate:
            # Smoothing moves points towards their neighbours, so the new neighbours are mostly
            # among the old candidates: re-rank those rather than search again.
            nb_z = rerank(Z, nb.indices, knn)
        else:
            nb_z = nearest_neighbours(Z, knn, exact_limit=self.exact_knn_limit)
        graph = distance_graph(Z, knn, neighbours=nb_z)
        labels = (
            HDBSCAN(
                min_cluster_size=self.min_cluster_size,
                min_samples=min_samples,
                metric="precomputed",
                cluster_selection_method=self.cluster_selection_method,
                allow_single_cluster=False,
                copy=False,  # the graph is ours and not used afterwards
            )
            .fit(graph)
            .labels_.astype(np.int64)
        )
        if self.attach_threshold is not None and labels.max() >= 0:
            labels = self._attach(Z0 if self.attach_space == "original" else Z, labels)
        if (self.member_threshold is not None or self.member_relative) and labels.max() >= 0:
            labels = self._check_members(Z0, labels)
        return labels

    def _check_members(self, Z0: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """Send back to noise the members whose own vector is far from their topic's centroid:
        below ``member_threshold``, or below ``member_relative`` x the topic's median member."""
        k = int(labels.max()) + 1
        C = _centroids(Z0, labels, k)
        member = np.flatnonzero(labels >= 0)
        own = np.einsum("nd,nd->n", Z0[member], C[labels[member]])
        floor = np.full(k, self.member_threshold if self.member_threshold is not None else -1.0)
        if self.member_relative:
            for c, rows in enumerate(_groups(labels[member], k)):
                if rows.size:
                    floor[c] = max(floor[c], self.member_relative * float(np.median(own[rows])))
        out = labels.copy()
        out[member[own < floor[labels[member]]]] = -1
        return out

    def _attach(self, Z: np.ndarray, labels: np.ndarray) -> np.ndarray:
        C = _centroids(Z, labels, int(labels.max()) + 1)
        noise = np.flatnonzero(labels < 0)
        if noise.size == 0:
            return labels
        sims = Z[noise] @ C.T
        best = sims.argmax(axis=1)
        ok = sims[np.arange(noise.size), best] >= self.attach_threshold
        out = labels.copy()
        out[noise[ok]] = best[ok]
        return out

    def _finish(self, X: np.ndarray, labels: np.ndarray, ids: Sequence[int] | None) -> None:
        # Relabel 0..K-1 by decreasing size so that label order is stable and meaningful.
        present = [int(c) for c in np.unique(labels) if c >= 0]
        present.sort(key=lambda c: (-int((labels == c).sum()), c))
        remap = np.full(int(labels.max()) + 2 if labels.size else 1, -1, dtype=np.int64)
        for new, old in enumerate(present):
            remap[old] = new
        labels = np.where(labels >= 0, remap[labels], -1) if labels.size else labels
        k = len(present)
        self.labels_ = labels
        self.centroids_ = _centroids(X, labels, k) if k else np.zeros((0, X.shape[1]), dtype=np.float32)
        groups = _groups(labels, k)
        self.exemplars_ = []
        for c, members in enumerate(groups):
            sims = X[members] @ self.centroids_[c]
            self.exemplars_.append(members[np.argsort(-sims, kind="stable")[: self.n_exemplars]])
        self.clusters_ = [{int(ids[i]) for i in members} for members in groups] if ids is not None else []
