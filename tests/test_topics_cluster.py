"""TopicModel on synthetic data: topics found, outliers left as noise, predict between refits."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from app.topics.cluster import TopicModel
from app.topics.online import OnlineAssigner


def _unit(X: np.ndarray) -> np.ndarray:
    return (X / np.linalg.norm(X, axis=1, keepdims=True)).astype(np.float32)


def _topics(sizes: list[int], dim: int = 48, spread: float = 0.5, n_noise: int = 0, seed: int = 0):
    rng = np.random.default_rng(seed)
    C = _unit(rng.standard_normal((len(sizes), dim)))
    y = np.repeat(np.arange(len(sizes)), sizes)
    X = _unit(C[y] + spread * rng.standard_normal((len(y), dim)) / np.sqrt(dim) * 3)
    if n_noise:
        X = np.vstack([X, _unit(rng.standard_normal((n_noise, dim)))])
        y = np.concatenate([y, -np.ones(n_noise, dtype=int)])
    return X, y, C


def test_finds_the_topics_and_leaves_outliers_unassigned() -> None:
    # 256 dimensions: random directions are nearly orthogonal to every topic, as in 512-d embeddings.
    X, y, _ = _topics([60, 50, 40, 30], dim=256, n_noise=10)
    model = TopicModel().fit(X)
    labels = model.labels_
    topical = y >= 0
    assert model.n_topics_ == 4
    assert adjusted_rand_score(y[topical], labels[topical]) > 0.9
    # Random directions are unlike every topic: most stay noise rather than being forced in.
    assert np.mean(labels[~topical] == -1) >= 0.8


def test_labels_are_ordered_by_size_and_centroids_are_unit_means() -> None:
    X, _, _ = _topics([20, 60, 40])
    model = TopicModel().fit(X)
    sizes = [int((model.labels_ == c).sum()) for c in range(model.n_topics_)]
    assert sizes == sorted(sizes, reverse=True)
    assert np.allclose(np.linalg.norm(model.centroids_, axis=1), 1.0, atol=1e-5)
    for c in range(model.n_topics_):
        mean = X[model.labels_ == c].mean(axis=0)
        assert float(model.centroids_[c] @ (mean / np.linalg.norm(mean))) > 0.999
        ex = model.exemplars_[c]
        assert 0 < len(ex) <= model.n_exemplars and np.all(model.labels_[ex] == c)


def test_ids_give_member_sets() -> None:
    X, _, _ = _topics([30, 30])
    ids = [1000 + i for i in range(len(X))]
    model = TopicModel().fit(X, ids)
    assert len(model.clusters_) == model.n_topics_
    for c, members in enumerate(model.clusters_):
        assert members == {ids[i] for i in np.flatnonzero(model.labels_ == c)}
    with pytest.raises(ValueError):
        TopicModel().fit(X, ids[:-1])


def test_online_assignment_places_new_stories_of_a_topic_and_rejects_strangers() -> None:
    X, y, C = _topics([50, 50, 50], seed=3)
    model = TopicModel().fit(X)
    rng = np.random.default_rng(9)
    # New stories drawn around topic 0's centre, and unrelated random vectors.
    fresh = _unit(C[[0] * 10] + 0.5 * rng.standard_normal((10, X.shape[1])) / np.sqrt(X.shape[1]) * 3)
    strangers = _unit(rng.standard_normal((10, X.shape[1])))
    label_of_topic0 = np.bincount(model.labels_[(y == 0) & (model.labels_ >= 0)]).argmax()
    ids = [100 + c for c in range(model.n_topics_)]
    # centred on the window mean (as the fit sees them) and raw (the stored centroids, as the service)
    for assigner in (OnlineAssigner.from_model(model, ids), OnlineAssigner(ids, model.centroids_)):
        got = assigner.assign(fresh)
        assert sum(g == ids[label_of_topic0] for g in got) >= 7
    centred = OnlineAssigner.from_model(model, ids)
    assert np.mean([g is None for g in centred.assign(strangers)]) >= 0.9
    # A threshold above any cosine assigns nothing.
    assert OnlineAssigner.from_model(model, ids, threshold=1.01).assign(fresh) == [None] * 10


def test_small_and_degenerate_inputs() -> None:
    assert TopicModel().fit(np.zeros((0, 8), dtype=np.float32)).labels_.shape == (0,)
    one = TopicModel().fit(np.ones((1, 8), dtype=np.float32))
    assert one.labels_.tolist() == [-1] and one.n_topics_ == 0
    assert OnlineAssigner.from_model(one, []).assign(np.ones((2, 8))) == [None, None]
    few = TopicModel(min_cluster_size=5).fit(_unit(np.random.default_rng(0).standard_normal((4, 8))))
    assert (few.labels_ == -1).all()
    # Many exact duplicates: zero distances must not break the graph or HDBSCAN.
    X, _, _ = _topics([30, 30], seed=4)
    dup = np.vstack([X, X[:10], X[:10]])
    model = TopicModel().fit(dup)
    assert model.labels_.shape == (len(dup),)


def test_fit_is_deterministic() -> None:
    X, _, _ = _topics([40, 35, 30], seed=7)
    a = TopicModel().fit(X).labels_
    b = TopicModel().fit(X).labels_
    assert np.array_equal(a, b)
