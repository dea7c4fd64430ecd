"""Ward segmenter: weighted Ward against scipy, two-stage recovery, predict, recut, checks."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.cluster.hierarchy import dendrogram, fcluster, is_valid_linkage, linkage
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score
from sklearn.utils.estimator_checks import parametrize_with_checks

from audience.models.hierarchical import HierarchicalSegmenter, weighted_ward

CENTRES = np.array([[0.0, 0.0, 0.0], [10.0, 0.0, 0.0], [0.0, 10.0, 0.0], [0.0, 0.0, 10.0]])
SIZES = [300, 150, 80, 40]


@pytest.fixture(scope="module")
def blobs() -> tuple[np.ndarray, np.ndarray]:
    X, y = make_blobs(n_samples=SIZES, centers=CENTRES, cluster_std=1.0, random_state=5)
    return X, y


def cut(tree: np.ndarray, k: int) -> np.ndarray:
    return fcluster(tree, k, criterion="maxclust")


def test_weighted_ward_hand_computed_heights() -> None:
    # Unit weights on a line at 0, 1, 10: {0, 1} at height 1, then the Ward distance from
    # {10} to the pair (mean 0.5, size 2) is sqrt(2·2·1/3 · 9.5²) = sqrt(361/3).
    tree = weighted_ward(np.array([[0.0], [1.0], [10.0]]), np.ones(3))
    np.testing.assert_allclose(tree, [[0, 1, 1.0, 2], [2, 3, np.sqrt(361 / 3), 3]])
    # Weights 3 and 1, 4 apart: d² = 2·3·1/(3+1) · 4² = 24; column 3 counts leaves.
    tree = weighted_ward(np.array([[0.0], [4.0]]), np.array([3.0, 1.0]))
    np.testing.assert_allclose(tree, [[0, 1, np.sqrt(24.0), 2]])  # 2 leaves


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_weighted_ward_with_unit_weights_is_scipy_ward(seed: int) -> None:
    X = np.random.default_rng(seed).normal(size=(150, 4))
    ours, reference = weighted_ward(X, np.ones(len(X))), linkage(X, method="ward")
    assert is_valid_linkage(ours)
    assert np.allclose(ours[:, 2], reference[:, 2], rtol=1e-10, atol=1e-12)
    assert ours[:, 3].tolist() == reference[:, 3].tolist()
    for k in (2, 3, 5, 8, 20, 60):
        assert adjusted_rand_score(cut(reference, k), cut(ours, k)) == 1.0


def test_weighted_ward_with_integer_weights_is_ward_on_repeated_points() -> None:
    rng = np.random.default_rng(7)
    points = rng.uniform(0, 20, size=(40, 3))
    weights = rng.integers(1, 6, size=len(points))
    repeated = np.repeat(points, weights, axis=0)
    ours, reference = weighted_ward(points, weights.astype(float)), linkage(repeated, "ward")
    # scipy first merges the copies at height 0; every later merge is one of ours.
    positive = reference[reference[:, 2] > 0]
    assert len(positive) == len(points) - 1
    assert np.allclose(ours[:, 2], positive[:, 2], rtol=1e-10)
    assert is_valid_linkage(ours)  # column 3 counts leaves, so scipy accepts it
    assert ours[-1, 3] == len(points)
    first_copy = np.cumsum(weights) - weights
    for k in (2, 4, 7, 15):
        assert adjusted_rand_score(cut(reference, k)[first_copy], cut(ours, k)) == 1.0


def test_weighted_ward_does_not_depend_on_point_order() -> None:
    rng = np.random.default_rng(3)
    points, weights = rng.normal(size=(80, 5)), rng.uniform(0.5, 30.0, size=80)
    order = rng.permutation(len(points))
    ours, shuffled = weighted_ward(points, weights), weighted_ward(points[order], weights[order])
    assert np.allclose(ours[:, 2], shuffled[:, 2], rtol=1e-10)
    for k in (2, 5, 12):
        assert adjusted_rand_score(cut(ours, k)[order], cut(shuffled, k)) == 1.0


def test_weighted_ward_refuses_bad_weights() -> None:
    with pytest.raises(ValueError, match="positive weights"):
        weighted_ward(np.zeros((3, 2)), np.array([1.0, 0.0, 2.0]))
    with pytest.raises(ValueError, match="shape"):
        weighted_ward(np.zeros((3, 2)), np.ones(2))


def test_exact_path_labels_follow_size_and_predict_reproduces_them(
    blobs: tuple[np.ndarray, np.ndarray],
) -> None:
    X, y = blobs
    model = HierarchicalSegmenter(n_clusters=4).fit(X)
    assert not model.two_stage_
    assert adjusted_rand_score(y, model.labels_) == 1.0
    assert np.bincount(model.labels_).tolist() == SIZES
    assert model.labels_.dtype == np.int64
    assert np.array_equal(model.predict(X), model.labels_)
    # The same partition as scipy's Ward, cut at 4.
    assert adjusted_rand_score(cut(linkage(X, "ward"), 4), model.labels_) == 1.0
    means = [X[model.labels_ == s].mean(axis=0) for s in range(4)]
    assert np.allclose(model.cluster_centers_, means)


def test_predict_puts_new_points_in_their_blob(blobs: tuple[np.ndarray, np.ndarray]) -> None:
    X, _ = blobs
    model = HierarchicalSegmenter(n_clusters=4).fit(X)
    fresh, y_fresh = make_blobs(n_samples=[25] * 4, centers=CENTRES, random_state=11)
    # Blob i is the i-th largest, so it is segment i.
    assert model.predict(fresh).tolist() == y_fresh.tolist()


def test_two_stage_recovers_unequal_blobs() -> None:
    sizes = [25_000, 15_000, 7_000, 3_000]
    X, y = make_blobs(n_samples=sizes, centers=CENTRES, cluster_std=1.5, random_state=2)
    model = HierarchicalSegmenter(n_clusters=4, exact_max=2000, n_micro=200, random_state=0)
    model.fit(X)
    assert model.two_stage_
    assert model.anchors_.shape == (200, 3)
    assert model.anchor_weights_.sum() == len(X)
    assert model.linkage_[-1, 3] == 200
    assert adjusted_rand_score(y, model.labels_) >= 0.95
    assert np.allclose(model.cluster_centers_, CENTRES, atol=0.1)
    assert np.bincount(model.labels_).tolist() == pytest.approx(sizes, rel=0.02)
    assert np.array_equal(model.predict(X), model.labels_)  # labels_ come from predict's pass


@pytest.mark.parametrize(
    "params", [{}, {"exact_max": 100, "n_micro": 60, "random_state": 3}], ids=["exact", "two"]
)
def test_recut_equals_a_fresh_fit(
    blobs: tuple[np.ndarray, np.ndarray], params: dict[str, int]
) -> None:
    X, _ = blobs
    model = HierarchicalSegmenter(n_clusters=4, **params).fit(X)
    for k in (1, 2, 3, 6, 12):
        recut = model.recut(k)
        fresh = HierarchicalSegmenter(n_clusters=k, **params).fit(X)
        assert recut.n_clusters == k
        assert recut.linkage_ is model.linkage_  # shared, not refitted
        assert np.array_equal(recut.labels_, fresh.labels_)
        assert np.allclose(recut.cluster_centers_, fresh.cluster_centers_)
        assert np.array_equal(recut.predict(X[:50]), fresh.predict(X[:50]))
    assert model.n_clusters == 4
    assert np.bincount(model.labels_).tolist() == SIZES  # the original is untouched


@pytest.mark.parametrize("exact_max", [10_000, 100], ids=["exact", "two"])
def test_dendrogram_draws_the_tree(blobs: tuple[np.ndarray, np.ndarray], exact_max: int) -> None:
    X, _ = blobs
    model = HierarchicalSegmenter(n_clusters=4, exact_max=exact_max, n_micro=50, random_state=0)
    tree = model.fit(X).linkage_
    assert is_valid_linkage(tree)
    leaves = dendrogram(tree, no_plot=True)["leaves"]
    assert sorted(leaves) == list(range(len(model.anchors_)))


def test_duplicates_and_tiny_inputs_give_fewer_segments() -> None:
    constant = np.ones((30, 2))
    assert HierarchicalSegmenter(n_clusters=3).fit(constant).n_clusters_ == 1
    two_stage = HierarchicalSegmenter(n_clusters=3, exact_max=5, n_micro=10, random_state=0)
    two_stage.fit(np.repeat([[0.0, 0.0], [5.0, 5.0]], 15, axis=0))
    assert two_stage.n_clusters_ == 2
    assert len(two_stage.anchors_) == 2  # empty micro-clusters dropped
    one = HierarchicalSegmenter(n_clusters=3).fit([[1.0, 2.0]])
    assert one.labels_.tolist() == [0]
    assert one.predict([[9.0, 9.0]]).tolist() == [0]
    assert HierarchicalSegmenter(n_clusters=9).fit(np.eye(4)).n_clusters_ == 4


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"n_clusters": 0}, "n_clusters"),
        ({"exact_max": -1}, "exact_max"),
        ({"n_micro": 2.5}, "n_micro"),
        ({"n_clusters": 10, "n_micro": 5}, "n_micro"),
    ],
)
def test_bad_parameters_are_named(params: dict[str, object], name: str) -> None:
    with pytest.raises(ValueError, match=name):
        HierarchicalSegmenter(**params).fit(np.eye(3))  # type: ignore[arg-type]


@parametrize_with_checks(
    [
        HierarchicalSegmenter(n_clusters=3),
        HierarchicalSegmenter(n_clusters=3, exact_max=10, n_micro=8),
    ]
)
def test_sklearn_compatible(estimator: HierarchicalSegmenter, check: object) -> None:
    check(estimator)  # type: ignore[operator]
