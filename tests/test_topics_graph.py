"""kNN search and the connected distance graph HDBSCAN runs on."""

from __future__ import annotations

import numpy as np
from scipy.sparse import csgraph

from app.topics.graph import MIN_DISTANCE, distance_graph, nearest_neighbours, rerank


def _unit(X: np.ndarray) -> np.ndarray:
    return (X / np.linalg.norm(X, axis=1, keepdims=True)).astype(np.float32)


def _blobs(n_per: int, centres: int, dim: int = 32, spread: float = 0.15, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    C = _unit(rng.standard_normal((centres, dim)))
    y = np.repeat(np.arange(centres), n_per)
    X = C[y] + spread * rng.standard_normal((len(y), dim)) / np.sqrt(dim)
    return _unit(X), y


def test_exact_neighbours_match_brute_force_and_exclude_self() -> None:
    X = _unit(np.random.default_rng(1).standard_normal((200, 16)))
    nb = nearest_neighbours(X, 5)
    S = X @ X.T
    np.fill_diagonal(S, -np.inf)
    expected = np.argsort(-S, axis=1)[:, :5]
    assert nb.indices.shape == (200, 5)
    assert (nb.indices != np.arange(200)[:, None]).all()
    assert np.mean([set(a) == set(b) for a, b in zip(nb.indices, expected)]) > 0.99
    assert np.all(np.diff(nb.distances, axis=1) >= -1e-6)  # nearest first


def test_duplicates_keep_a_positive_distance() -> None:
    X = _unit(np.random.default_rng(2).standard_normal((20, 8)))
    X = np.vstack([X, X[:5]])  # exact repeats
    nb = nearest_neighbours(X, 3)
    assert nb.distances.min() >= MIN_DISTANCE
    assert (nb.indices != np.arange(len(X))[:, None]).all()


def test_approximate_search_recalls_most_true_neighbours() -> None:
    X, _ = _blobs(300, 10, dim=64, spread=0.6)
    exact = nearest_neighbours(X, 16)
    approx = nearest_neighbours(X, 16, exact_limit=0, pca_dim=48, oversample=3)
    recall = np.mean([len(set(a) & set(b)) / 16 for a, b in zip(approx.indices, exact.indices)])
    assert recall > 0.8


def test_rerank_orders_candidates_by_true_cosine_and_skips_self_and_repeats() -> None:
    X = _unit(np.random.default_rng(3).standard_normal((10, 4)))
    candidates = np.array([[0, 3, 3, 5, 7, 9]] * 10)
    nb = rerank(X, candidates, 3)
    for i, row in enumerate(nb.indices):
        assert i not in row.tolist()
        assert len(set(row.tolist())) == 3
        sims = X[i] @ X[row].T
        assert np.all(np.diff(sims) <= 1e-6)


def test_graph_is_symmetric_connected_and_keeps_k_neighbours() -> None:
    # Three far-apart blobs: a kNN graph alone would be three components.
    X, _ = _blobs(40, 3, dim=16, spread=0.05)
    G = distance_graph(X, 8)
    assert csgraph.connected_components(G, directed=False)[0] == 1
    assert abs(G - G.T).max() < 1e-12
    assert np.diff(G.indptr).min() >= 8
    assert G.data.min() >= MIN_DISTANCE
    # Bridges carry true cosine distances, not a made-up constant.
    coo = G.tocoo()
    true = 1.0 - np.sum(X[coo.row] * X[coo.col], axis=1)
    assert np.allclose(coo.data, np.clip(true, MIN_DISTANCE, 2.0), atol=1e-5)


def test_graph_connects_many_small_components() -> None:
    X, _ = _blobs(4, 30, dim=24, spread=0.01, seed=5)  # 30 islands of 4 points, k=3 stays inside
    G = distance_graph(X, 3)
    assert csgraph.connected_components(G, directed=False)[0] == 1
