"""The scores the selection uses, against their definitions and scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs
from sklearn.metrics import silhouette_score

from audience.models.scores import (
    PairwiseSample,
    centers_of,
    knee,
    mean_silhouette,
    separation_scores,
    simplified_silhouette,
    stability,
    within_sum_of_squares,
)


def test_simplified_silhouette_by_hand() -> None:
    # Centres at 0 and 10 on a line; a point at 2 has a = 2, b = 8 → (8 - 2) / 8 = 0.75.
    X = np.array([[2.0], [-2.0], [10.0]])
    labels = np.array([0, 0, 1])
    centers = np.array([[0.0], [10.0]])
    # point 2: a=2,b=8 → .75; point -2: a=2,b=12 → 10/12; point 10: a=0,b=10 → 1.
    expected = np.mean([0.75, 10 / 12, 1.0])
    assert simplified_silhouette(X, labels, centers) == pytest.approx(expected)


def test_sampled_silhouette_is_sklearns_on_the_sample() -> None:
    X, _ = make_blobs(n_samples=3000, centers=4, random_state=0)
    labels = KMeans(4, n_init=1, random_state=0).fit_predict(X)
    pairs = PairwiseSample(len(X), 500, np.random.default_rng(0))
    assert pairs.index.size == 500
    expected = silhouette_score(X[pairs.index], labels[pairs.index])
    assert pairs.silhouette(X, labels) == pytest.approx(expected)
    # Noise rows are left out; a single segment has no silhouette.
    noisy = labels.copy()
    noisy[:100] = -1
    kept = noisy[pairs.index] != -1
    assert pairs.silhouette(X, noisy) == pytest.approx(
        silhouette_score(X[pairs.index][kept], noisy[pairs.index][kept])
    )
    assert np.isnan(pairs.silhouette(X, np.zeros(len(X), dtype=np.int64)))


def test_inertia_from_labels_is_kmeans_inertia() -> None:
    X, _ = make_blobs(n_samples=1000, centers=3, random_state=1)
    model = KMeans(3, n_init=1, random_state=0).fit(X)
    labels = model.labels_.astype(np.int64)
    by_hand = sum(((X[labels == j] - X[labels == j].mean(axis=0)) ** 2).sum() for j in range(3))
    assert within_sum_of_squares(X, labels) == pytest.approx(by_hand)
    # scikit-learn's centres are those before its last label update: equal to 1e-4.
    assert within_sum_of_squares(X, labels) == pytest.approx(model.inertia_, rel=1e-4)
    assert np.allclose(centers_of(X, labels), model.cluster_centers_, atol=1e-2)


def test_separation_scores_need_two_segments() -> None:
    X, y = make_blobs(n_samples=300, centers=3, random_state=2)
    ch, db = separation_scores(X, y.astype(np.int64))
    assert ch > 100
    assert 0 < db < 1
    assert all(np.isnan(separation_scores(X, np.zeros(300, dtype=np.int64))))


def test_knee_of_an_elbow_curve() -> None:
    ks = list(range(2, 13))
    inertia = [1000, 600, 300, 120, 110, 101, 93, 86, 80, 75, 71]  # elbow at k = 5
    assert knee(ks, inertia) == 5
    assert knee(ks, [10.0] * len(ks)) is None
    assert knee([2, 3], [5.0, 1.0]) is None


def test_stability_tells_structure_from_an_arbitrary_split() -> None:
    rng = np.random.default_rng(0)
    X, _ = make_blobs(n_samples=2000, centers=3, cluster_std=0.5, random_state=0)
    good = KMeans(3, n_init=1, random_state=0).fit(X)
    refit = lambda rows: KMeans(3, n_init=1).fit(rows).predict(X)  # noqa: E731
    assert stability(X, good.labels_, refit, n_subsamples=3, fraction=0.5, rng=rng) > 0.95
    # Six segments on three blobs split each blob arbitrarily: refits disagree.
    uniform = rng.uniform(size=(2000, 2))
    split = KMeans(6, n_init=1, random_state=0).fit(uniform)
    refit6 = lambda rows: KMeans(6, n_init=1).fit(rows).predict(uniform)  # noqa: E731
    score = stability(uniform, split.labels_, refit6, n_subsamples=3, fraction=0.5, rng=rng)
    assert score < 0.9


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mean_silhouette_equals_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(400, 3))
    labels = rng.integers(0, 5, 400)
    labels[:1] = 7  # a segment of one scores 0, as in scikit-learn
    distances = np.sqrt(((X[:, None, :] - X[None, :, :]) ** 2).sum(axis=2))
    expected = silhouette_score(distances, labels, metric="precomputed")
    assert mean_silhouette(distances, labels) == pytest.approx(expected)
