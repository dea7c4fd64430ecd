"""Density segmenters: planted blobs in background noise, the eps knee, subsampling, predict."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score, pairwise_distances
from sklearn.neighbors import NearestNeighbors
from sklearn.utils.estimator_checks import parametrize_with_checks

from audience.models.base import NOISE
from audience.models.density import DBSCANSegmenter, HDBSCANSegmenter, knee_eps

CENTERS = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
SIZES = [600, 400, 300]
N_BACKGROUND = 150

Segmenter = DBSCANSegmenter | HDBSCANSegmenter


@pytest.fixture(scope="module")
def audience() -> tuple[np.ndarray, np.ndarray]:
    """Three blobs (std 0.8) and uniform background noise over the square around them
    (truth -1)."""
    X, y = make_blobs(n_samples=SIZES, centers=CENTERS, cluster_std=0.8, random_state=0)
    background = np.random.default_rng(0).uniform(-6, 16, size=(N_BACKGROUND, 2))
    return np.vstack([X, background]), np.r_[y, np.full(N_BACKGROUND, NOISE)]


def _blob_ari(truth: np.ndarray, labels: np.ndarray) -> float:
    """ARI on the blob points the model put in a segment."""
    kept = (truth != NOISE) & (labels != NOISE)
    return float(adjusted_rand_score(truth[kept], labels[kept]))


@pytest.mark.parametrize("model", [DBSCANSegmenter(), HDBSCANSegmenter()], ids=type)
def test_blobs_are_recovered_and_background_is_noise(
    audience: tuple[np.ndarray, np.ndarray], model: Segmenter
) -> None:
    X, truth = audience
    model.fit(X)
    labels = model.labels_
    assert labels.dtype == np.int64
    assert model.n_clusters_ == 3
    assert _blob_ari(truth, labels) >= 0.9
    assert np.mean(labels[truth != NOISE] == NOISE) < 0.05  # blob points kept
    # Most background points away from the blobs (> 5 std from every centre) are left out;
    # HDBSCAN keeps a few small clumps of background as fringes of the blobs.
    away = (truth == NOISE) & (pairwise_distances(X, CENTERS).min(axis=1) > 4.0)
    assert np.mean(labels[away] == NOISE) > 0.7
    assert model.noise_share_ == pytest.approx(np.mean(labels == NOISE))
    # Numbered by decreasing size: the 600-point blob is segment 0.
    assert np.bincount(labels[labels != NOISE]).tolist() == sorted(
        np.bincount(labels[labels != NOISE]), reverse=True
    )
    assert model.fit_sample_size_ == len(X)


def test_eps_knee_lies_between_the_within_and_between_blob_scales(
    audience: tuple[np.ndarray, np.ndarray],
) -> None:
    X, truth = audience
    blobs = X[truth != NOISE]
    k_distance = NearestNeighbors(n_neighbors=10).fit(X).kneighbors(blobs)[0][:, -1]
    within = float(np.median(k_distance))
    first, other = X[truth == 0], X[(truth != NOISE) & (truth != 0)]
    between = float(pairwise_distances(first, other).min())
    eps = knee_eps(X, min_samples=10)
    assert within < eps < between
    assert DBSCANSegmenter().fit(X).eps_ == eps


def test_a_flat_k_distance_curve_falls_back_to_the_quantile() -> None:
    angle = np.linspace(0, 2 * np.pi, 60, endpoint=False)
    ring = np.column_stack([np.cos(angle), np.sin(angle)])
    # Every point's 5th neighbour (itself included) is 2 steps along the ring: no knee.
    two_steps = 2 * np.sin(2 * np.pi / 60)
    assert knee_eps(ring, min_samples=5) == pytest.approx(two_steps)


def test_given_eps_is_used() -> None:
    X, _ = make_blobs(n_samples=60, centers=2, random_state=0)
    assert DBSCANSegmenter(eps=0.7, min_samples=3).fit(X).eps_ == 0.7


@pytest.mark.parametrize("model", [DBSCANSegmenter, HDBSCANSegmenter], ids=lambda c: c.__name__)
def test_subsampled_fit_labels_every_row_like_the_full_fit(
    audience: tuple[np.ndarray, np.ndarray], model: type[Segmenter]
) -> None:
    X, truth = audience
    full = model(random_state=0).fit(X)
    sampled = model(max_fit_samples=500, random_state=0).fit(X)
    assert sampled.fit_sample_size_ == 500
    assert sampled.labels_.shape == (len(X),)
    assert _blob_ari(truth, sampled.labels_) >= 0.9
    both = (full.labels_ != NOISE) & (sampled.labels_ != NOISE)
    assert np.mean(both[truth != NOISE]) > 0.9
    assert adjusted_rand_score(full.labels_[both], sampled.labels_[both]) >= 0.9
    again = model(max_fit_samples=500, random_state=0).fit(X)
    assert again.labels_.tolist() == sampled.labels_.tolist()


@pytest.mark.parametrize("model", [DBSCANSegmenter(), HDBSCANSegmenter()], ids=type)
def test_predict_far_point_is_noise_and_centre_joins_its_blob(
    audience: tuple[np.ndarray, np.ndarray], model: Segmenter
) -> None:
    X, truth = audience
    model.fit(X)
    predicted = model.predict(np.vstack([[100.0, 100.0], CENTERS]))
    assert predicted[0] == NOISE
    for blob, label in enumerate(predicted[1:]):
        members = model.labels_[truth == blob]
        assert label == np.bincount(members[members != NOISE]).argmax()


@pytest.mark.parametrize("model", [DBSCANSegmenter(), HDBSCANSegmenter()], ids=type)
def test_predict_on_training_rows_agrees_for_core_points(
    audience: tuple[np.ndarray, np.ndarray], model: Segmenter
) -> None:
    X, _ = audience
    model.fit(X)
    assert model.predict(model.core_points_).tolist() == model.core_labels_.tolist()
    assert len(model.core_points_) > 0.5 * len(X)
    # Every row predict puts in a segment is within a core point's radius of that segment.
    predicted = model.predict(X)
    agree = predicted == model.labels_
    assert np.mean(agree) > 0.95


def test_no_dense_region_means_everything_is_noise() -> None:
    X = np.random.default_rng(0).uniform(size=(30, 2))
    model = DBSCANSegmenter(eps=1e-3, min_samples=5).fit(X)
    assert model.n_clusters_ == 0
    assert model.noise_share_ == 1.0
    assert model.predict(X[:3]).tolist() == [NOISE] * 3


@pytest.mark.parametrize(
    ("model", "parameter"),
    [
        (DBSCANSegmenter(eps=0.0), "eps"),
        (DBSCANSegmenter(eps=-1.0), "eps"),
        (DBSCANSegmenter(min_samples=0), "min_samples"),
        (DBSCANSegmenter(max_fit_samples=1), "max_fit_samples"),
        (HDBSCANSegmenter(min_cluster_size=1), "min_cluster_size"),
        (HDBSCANSegmenter(min_samples=2.5), "min_samples"),  # type: ignore[arg-type]
    ],
)
def test_bad_parameters_are_named(model: Segmenter, parameter: str) -> None:
    with pytest.raises(ValueError, match=parameter):
        model.fit(np.zeros((20, 2)))


@parametrize_with_checks(
    [
        DBSCANSegmenter(),
        DBSCANSegmenter(eps=0.5, min_samples=3),
        HDBSCANSegmenter(),
        HDBSCANSegmenter(min_cluster_size=4, min_samples=2),
        HDBSCANSegmenter(max_fit_samples=20, random_state=0),
    ]
)
def test_sklearn_estimator_contract(estimator: object, check: Callable[[object], None]) -> None:
    check(estimator)
