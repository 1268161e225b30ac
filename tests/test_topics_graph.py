"""kNN search and the connected distance graph HDBSCAN runs on."""

from __future__ import annotations

import numpy as np
from scipy.sparse import csgraph, csr_matrix

from app.topics.graph import MIN_DISTANCE, _top_columns, distance_graph, nearest_neighbours, rerank


def _unit(X: np.ndarray) -> np.ndarray:
    return (X / np.linalg.norm(X, axis=1, keepdims=True)).astype(np.float32)


def _blobs(
    n_per: int, centres: int, dim: int = 32, spread: float = 0.15, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
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


def _check_connected_with_true_distances(X: np.ndarray, G) -> None:
    assert csgraph.connected_components(G, directed=False)[0] == 1
    assert abs(G - G.T).max() < 1e-12
    coo = G.tocoo()
    true = 1.0 - np.sum(X[coo.row].astype(np.float64) * X[coo.col], axis=1)
    assert np.allclose(coo.data, np.clip(true, MIN_DISTANCE, 2.0), atol=1e-5)


def test_bridges_through_centroids_connect_many_small_components() -> None:
    # exact_pairs=0 forces the path large windows take.
    X, _ = _blobs(4, 60, dim=24, spread=0.01, seed=6)
    G = distance_graph(X, 3, exact_pairs=0)
    _check_connected_with_true_distances(X, G)


def test_bridges_connect_a_few_large_components() -> None:
    # Components far larger than ``extra``: the nearest points to a centroid are its own members.
    X, _ = _blobs(300, 4, dim=16, spread=0.05, seed=7)
    for exact_pairs in (0, 10**9):
        G = distance_graph(X, 5, exact_pairs=exact_pairs, extra=4)
        _check_connected_with_true_distances(X, G)


def test_bridges_connect_components_of_duplicates() -> None:
    # Groups of identical points larger than k: their neighbours are copies, so each group (or
    # part of one) is a component of its own, and a search near it returns ties.
    rng = np.random.default_rng(8)
    base = _unit(rng.standard_normal((12, 16)))
    X = np.repeat(base, 25, axis=0)
    X = np.vstack([X, base[:3]])  # a few more copies, far down the index
    for exact_pairs in (0, 10**9):
        G = distance_graph(X, 4, exact_pairs=exact_pairs, extra=2)
        _check_connected_with_true_distances(X, G)


def test_exact_bridges_are_the_shortest_edges_between_components() -> None:
    X, _ = _blobs(30, 5, dim=16, spread=0.05, seed=9)
    nb = nearest_neighbours(X, 5)
    knn = csr_matrix(
        (np.ones(nb.indices.size), (np.repeat(np.arange(len(X)), 5), nb.indices.ravel())), shape=(len(X),) * 2
    )
    n_comp, comp = csgraph.connected_components(knn, directed=False)
    assert n_comp == 5
    G = distance_graph(X, 5, neighbours=nb, exact_pairs=10**9)
    D = 1.0 - X.astype(np.float64) @ X.T
    coo = G.tocoo()
    between = comp[coo.row] != comp[coo.col]
    # Each component but the largest gets its own shortest edge out.
    bridge = {(min(a, b), max(a, b)) for a, b in zip(coo.row[between], coo.col[between])}
    largest = np.bincount(comp).argmax()
    for a in range(n_comp):
        if a == largest:
            continue
        inside, outside = np.flatnonzero(comp == a), np.flatnonzero(comp != a)
        sub = D[np.ix_(inside, outside)]
        i, j = np.nonzero(np.isclose(sub, sub.min(), atol=1e-6))
        assert any((min(p, q), max(p, q)) in bridge for p, q in zip(inside[i], outside[j]))


def test_centroid_bridges_find_the_shortest_edge_between_two_blobs() -> None:
    X, y = _blobs(50, 2, dim=16, spread=0.05, seed=10)
    G = distance_graph(X, 5, exact_pairs=0)
    coo = G.tocoo()
    between = y[coo.row] != y[coo.col]
    D = 1.0 - X.astype(np.float64) @ X.T
    assert np.isclose(coo.data[between].min(), D[np.ix_(y == 0, y == 1)].min(), atol=1e-5)


def test_top_columns_match_a_full_partition() -> None:
    rng = np.random.default_rng(11)
    for n, m in ((10, 3), (1000, 5), (5003, 32), (70_001, 7)):
        S = rng.standard_normal((4, n)).astype(np.float32)
        S[0, : n // 2] = -np.inf
        S[1] = np.round(S[1])  # many ties
        got = np.sort(np.take_along_axis(S, _top_columns(S, m), axis=1), axis=1)
        want = np.sort(S, axis=1)[:, -m:]
        assert np.array_equal(got, want)
