"""K-Means and Gaussian mixture segmenters: numbering, chunks, warm starts, probabilities."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score
from sklearn.mixture import GaussianMixture

from audience.models.base import relabel_by_size, size_order
from audience.models.kmeans import KMeansSegmenter
from audience.models.mixture import GaussianMixtureSegmenter

SIZES = [900, 500, 250, 100]


@pytest.fixture(scope="module")
def blobs() -> tuple[np.ndarray, np.ndarray]:
    centers = [[0, 0, 0], [8, 0, 0], [0, 8, 0], [0, 0, 8]]
    X, y = make_blobs(n_samples=SIZES, centers=centers, cluster_std=1.0, random_state=3)
    return X, y


def test_relabel_by_size_numbers_the_largest_segment_zero_and_keeps_noise() -> None:
    labels = np.array([3, 3, -1, 0, 5, 5, 5, 0, 3])
    # 3 and 5 both have three rows: the smaller old label comes first.
    assert relabel_by_size(labels).tolist() == [0, 0, -1, 2, 1, 1, 1, 2, 0]
    assert size_order(np.array([1, 1, 0, 2, 2, 2]), 4).tolist() == [2, 1, 0, 3]


def test_kmeans_labels_follow_segment_size(blobs: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = blobs
    model = KMeansSegmenter(n_clusters=4, random_state=0).fit(X)
    assert np.bincount(model.labels_).tolist() == SIZES
    assert adjusted_rand_score(y, model.labels_) == 1.0
    assert model.predict(X).tolist() == model.labels_.tolist()
    # The same partition as scikit-learn's KMeans, whose inertia it reports.
    reference = KMeans(n_clusters=4, n_init=3, random_state=0).fit(X)
    assert adjusted_rand_score(reference.labels_, model.labels_) == 1.0
    assert model.inertia_ == pytest.approx(reference.inertia_)
    assert model.score(X) == pytest.approx(-reference.inertia_)


def test_kmeans_warm_start_converges_to_the_same_centres(
    blobs: tuple[np.ndarray, np.ndarray],
) -> None:
    X, _ = blobs
    cold = KMeansSegmenter(n_clusters=4, random_state=0).fit(X)
    warm = KMeansSegmenter(init=cold.cluster_centers_ + 0.3).fit(X)
    assert np.allclose(warm.cluster_centers_, cold.cluster_centers_)
    assert warm.n_iter_ <= 3


def test_kmeans_partial_fit_learns_from_chunks(blobs: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = blobs
    order = np.random.default_rng(0).permutation(len(X))
    model = KMeansSegmenter(n_clusters=4, random_state=0, batch_size=256)
    for chunk in np.array_split(order, 7):
        for _ in range(3):  # each chunk seen a few times, as a stream re-read would
            model.partial_fit(X[chunk])
    assert model.minibatch_
    assert adjusted_rand_score(y, model.predict(X)) >= 0.95


def test_kmeans_minibatch_path(blobs: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = blobs
    model = KMeansSegmenter(n_clusters=4, algorithm="auto", minibatch_above=100, random_state=0)
    model.fit(X)
    assert model.minibatch_
    assert adjusted_rand_score(y, model.labels_) >= 0.95


def test_kmeans_refuses_bad_parameters(blobs: tuple[np.ndarray, np.ndarray]) -> None:
    with pytest.raises(ValueError, match="n_clusters"):
        KMeansSegmenter(n_clusters=0).fit(blobs[0])
    with pytest.raises(ValueError, match="algorithm"):
        KMeansSegmenter(algorithm="elkan").fit(blobs[0])  # type: ignore[arg-type]


def test_mixture_probabilities_match_labels_and_sklearn(
    blobs: tuple[np.ndarray, np.ndarray],
) -> None:
    X, y = blobs
    model = GaussianMixtureSegmenter(n_clusters=4, random_state=0).fit(X)
    proba = model.predict_proba(X)
    assert np.allclose(proba.sum(axis=1), 1.0)
    assert proba.argmax(axis=1).tolist() == model.labels_.tolist() == model.predict(X).tolist()
    assert np.bincount(model.labels_).tolist() == SIZES
    assert np.allclose(model.weights_, np.array(SIZES) / sum(SIZES), atol=0.01)
    assert adjusted_rand_score(y, model.labels_) == 1.0
    reference = GaussianMixture(
        n_components=4, covariance_type="diag", reg_covar=1e-3, random_state=0
    ).fit(X)
    assert model.bic(X) == pytest.approx(reference.bic(X)) == pytest.approx(model.bic_)
    assert model.aic(X) == pytest.approx(reference.aic(X))


def test_mixture_bic_is_lowest_at_the_true_number_of_blobs(
    blobs: tuple[np.ndarray, np.ndarray],
) -> None:
    X, _ = blobs
    bic = {
        k: GaussianMixtureSegmenter(n_clusters=k, random_state=0).fit(X).bic_ for k in range(2, 8)
    }
    assert min(bic, key=bic.__getitem__) == 4
