"""Bridging a kNN graph of many components stays cheap (the topic target: refit of 50k stories under 60 s).

Joining components used to take one exhaustive search per component whose points all had their
probe neighbours inside it: 282 s of a 320 s refit at 50k. These tests build the kNN lists
directly (no search) and count the bridging's work rather than time it (its time is the
benchmarks' business): the similarity rows computed against all n points, and the rounds.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.sparse import csgraph

from app.topics import graph
from app.topics.graph import MIN_DISTANCE, Neighbours, distance_graph


def _clumps(n_clumps: int, size: int, dim: int, seed: int) -> tuple[np.ndarray, Neighbours]:
    """Tight clumps of ``size`` points and kNN lists that never leave a clump: one component each."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_clumps, dim)).astype(np.float32)
    X = np.repeat(centres, size, axis=0) + 0.05 * rng.standard_normal((n_clumps * size, dim)).astype(np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    k = 8
    base = np.repeat(np.arange(n_clumps) * size, size)[:, None]
    offset = (np.arange(n_clumps * size) % size)[:, None]
    indices = base + (offset + np.arange(1, k + 1)) % size  # the next k points of the same clump
    sims = np.einsum("nd,nkd->nk", X, X[indices])
    distances = np.clip(1.0 - sims, MIN_DISTANCE, 2.0).astype(np.float32)
    return X, Neighbours(indices.astype(np.int64), distances)


@pytest.mark.slow
def test_many_components_larger_than_any_probe_are_bridged_quickly(monkeypatch) -> None:
    # 400 components of 100 points: the old code searched each one against a copy of all 40k.
    X, nb = _clumps(400, 100, 128, seed=0)
    rounds: list[int] = []  # per round: rows of similarities computed against all n points

    exact, centroid, bridges = graph._exact_bridges, graph._centroid_bridges, graph._bridges

    def counted_bridges(*args, **kwargs):
        rounds.append(0)
        return bridges(*args, **kwargs)

    def counted_exact(X, comp, queries, block):
        rounds[-1] += queries.size  # one row per query point
        return exact(X, comp, queries, block)

    def counted_centroid(X, comp, groups, skip, extra, block):
        rounds[-1] += sum(1 for c, g in enumerate(groups) if c != skip and g.size)  # one per component
        return centroid(X, comp, groups, skip, extra, block)

    monkeypatch.setattr(graph, "_bridges", counted_bridges)
    monkeypatch.setattr(graph, "_exact_bridges", counted_exact)
    monkeypatch.setattr(graph, "_centroid_bridges", counted_centroid)
    G = distance_graph(X, 8, neighbours=nb)
    assert csgraph.connected_components(G, directed=False)[0] == 1
    coo = G.tocoo()
    true = 1.0 - np.sum(X[coo.row] * X[coo.col], axis=1)
    assert np.allclose(coo.data, np.clip(true, MIN_DISTANCE, 2.0), atol=1e-5)
    # Borůvka: the components at least halve each round; each round costs a row per component but
    # the largest, not one per point (~1 s on a busy 2-core machine; per point, minutes)
    assert 1 <= len(rounds) <= math.ceil(math.log2(400)), rounds
    assert sum(rounds) <= 2 * 400, rounds


def test_bridges_per_component_not_per_point() -> None:
    # Few bridges: one per component per round, not one per point.
    X, nb = _clumps(300, 40, 64, seed=1)
    G = distance_graph(X, 8, neighbours=nb)
    knn_edges = {(min(a, b), max(a, b)) for a, row in enumerate(nb.indices) for b in row}
    coo = G.tocoo()
    edges = {(a, b) for a, b in zip(coo.row.tolist(), coo.col.tolist()) if a < b}
    assert 299 <= len(edges - knn_edges) < 2 * 300
