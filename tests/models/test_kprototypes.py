"""K-prototypes: k-means oracle, groups told apart by categories, modes, codes refused."""

from __future__ import annotations

import pickle
from collections.abc import Callable

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score
from sklearn.utils.estimator_checks import parametrize_with_checks

from audience.models.kprototypes import KPrototypesSegmenter

SIZES = [500, 300, 200]


@pytest.fixture(scope="module")
def blobs() -> tuple[np.ndarray, np.ndarray]:
    centers = [[0, 0, 0], [8, 0, 0], [0, 8, 0]]
    X, y = make_blobs(n_samples=SIZES, centers=centers, random_state=0)
    return X, y


@pytest.fixture(scope="module")
def mixed() -> tuple[np.ndarray, np.ndarray]:
    """Three groups whose two numeric columns overlap (means 0.5 apart, std 1) and whose two
    categorical columns (codes 0–2) give the group for 97 % of rows, a random code otherwise.
    Columns: numeric, code, numeric, code."""
    rng = np.random.default_rng(0)
    group = rng.integers(0, 3, size=1500)
    numeric = rng.normal(size=(1500, 2)) + 0.5 * np.eye(3)[group][:, :2]
    codes = [np.where(rng.random(1500) < 0.97, group, rng.integers(0, 3, 1500)) for _ in "ab"]
    X = np.column_stack([numeric[:, 0], codes[0], numeric[:, 1], codes[1]]).astype(float)
    return X, group


def test_without_categories_it_is_kmeans(blobs: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = blobs
    model = KPrototypesSegmenter(n_clusters=3, random_state=0).fit(X)
    reference = KMeans(n_clusters=3, n_init=4, random_state=0).fit(X)
    assert adjusted_rand_score(reference.labels_, model.labels_) == 1.0
    assert adjusted_rand_score(y, model.labels_) == 1.0
    assert model.cost_ == pytest.approx(reference.inertia_)
    assert np.bincount(model.labels_).tolist() == SIZES  # numbered by decreasing size
    assert model.cluster_modes_.shape == (3, 0)
    assert model.predict(X).tolist() == model.labels_.tolist()


def test_hand_computed_cost_and_gamma() -> None:
    # Numeric column 0 (std 1), codes in column 1; two obvious groups.
    X = np.array([[-1.0, 0], [-1.0, 0], [-1.0, 1], [1.0, 2], [1.0, 2], [1.0, 2]])
    model = KPrototypesSegmenter(n_clusters=2, categorical=[1], random_state=0).fit(X)
    assert model.gamma_ == 0.5  # half the mean standard deviation of the numeric columns
    prototypes = np.column_stack([model.cluster_centers_, model.cluster_modes_])
    assert sorted(prototypes.tolist()) == [[-1.0, 0], [1.0, 2]]
    assert model.cost_ == pytest.approx(0.5)  # one mismatch (code 1 in the first group)
    assert model.n_clusters_ == 2


def test_groups_told_apart_by_categories_are_recovered(
    mixed: tuple[np.ndarray, np.ndarray],
) -> None:
    X, group = mixed
    numeric_only = KMeans(n_clusters=3, n_init=4, random_state=0).fit(X[:, [0, 2]])
    assert adjusted_rand_score(group, numeric_only.labels_) < 0.2
    # gamma says what one category mismatch is worth: here categories define the groups.
    model = KPrototypesSegmenter(n_clusters=3, categorical=[1, 3], gamma=3.0, random_state=0)
    model.fit(X)
    assert adjusted_rand_score(group, model.labels_) >= 0.9
    assert model.gamma_ == 3.0
    assert model.cluster_centers_.shape == (3, 2)
    # Each segment's modes are the true majority code of the group it recovered.
    for segment in range(3):
        majority = np.bincount(group[model.labels_ == segment]).argmax()
        assert model.cluster_modes_[segment].tolist() == [majority, majority]


def test_a_noise_category_does_not_break_numeric_blobs(
    blobs: tuple[np.ndarray, np.ndarray],
) -> None:
    X, y = blobs
    noise = np.random.default_rng(1).integers(0, 4, size=len(X))
    model = KPrototypesSegmenter(n_clusters=3, categorical=[3], random_state=0)
    model.fit(np.column_stack([X, noise]))
    assert adjusted_rand_score(y, model.labels_) == 1.0


def test_same_seed_same_segments(mixed: tuple[np.ndarray, np.ndarray]) -> None:
    X, _ = mixed

    def fit() -> KPrototypesSegmenter:
        return KPrototypesSegmenter(n_clusters=4, categorical=[1, 3], random_state=7).fit(X)

    first, second = fit(), fit()
    assert first.labels_.tolist() == second.labels_.tolist()
    assert np.array_equal(first.cluster_centers_, second.cluster_centers_)
    assert first.cost_ == second.cost_


def test_an_empty_cluster_is_reseeded_and_duplicates_leave_fewer_segments() -> None:
    X = np.array([[0.0, 1], [0.0, 1], [0.0, 1], [5.0, 0], [5.0, 0]])
    model = KPrototypesSegmenter(n_clusters=3, categorical=[1], random_state=0).fit(X)
    assert model.n_clusters_ == 2  # only two distinct rows
    assert np.unique(model.labels_).tolist() == [0, 1]
    assert model.cost_ == 0.0


def test_an_unseen_code_mismatches_every_prototype() -> None:
    X = np.array([[0.0, 0], [0.1, 0], [3.0, 1], [3.1, 1]])
    model = KPrototypesSegmenter(n_clusters=2, categorical=[1], random_state=0).fit(X)
    numeric = np.linspace(-1.0, 4.0, 11)
    unseen = model.predict(np.column_stack([numeric, np.full(11, 9.0)]))
    # Code 9 costs gamma against both prototypes: the numeric part alone decides.
    nearest = np.abs(numeric[:, None] - model.cluster_centers_[:, 0]).argmin(axis=1)
    assert unseen.tolist() == nearest.tolist()


@pytest.mark.parametrize(
    ("model", "X", "message"),
    [
        (KPrototypesSegmenter(2, categorical=[5]), np.zeros((4, 3)), r"categorical.*\[5\]"),
        (KPrototypesSegmenter(2, categorical=[-1]), np.zeros((4, 3)), r"categorical.*\[-1\]"),
        (KPrototypesSegmenter(2, categorical=[0, 0]), np.zeros((4, 3)), "twice"),
        (
            KPrototypesSegmenter(2, categorical=[1]),
            np.array([[0, 1], [0, -2], [1, 0], [1, 0]], dtype=float),
            r"non-negative integer codes; got -2\.0 in column 1",
        ),
        (
            KPrototypesSegmenter(2, categorical=[0]),
            np.array([[0.5, 1], [1, 0], [1, 0], [1.5, 0]], dtype=float),
            r"got 0\.5 in column 0 \(2 such values\)",
        ),
        (KPrototypesSegmenter(0), np.zeros((4, 3)), "n_clusters"),
        (KPrototypesSegmenter(5), np.zeros((4, 3)), "n_samples=4 should be >= n_clusters=5"),
        (KPrototypesSegmenter(2, gamma=-1.0), np.zeros((4, 3)), "gamma"),
        (KPrototypesSegmenter(2, n_init=0), np.zeros((4, 3)), "n_init"),
        (KPrototypesSegmenter(2, tol=-1.0), np.zeros((4, 3)), "tol"),
    ],
)
def test_invalid_input_is_refused_with_a_clear_message(
    model: KPrototypesSegmenter, X: np.ndarray, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        model.fit(X)


def test_predict_refuses_bad_codes_too() -> None:
    X = np.array([[0.0, 0], [0.1, 0], [3.0, 1], [3.1, 1]])
    model = KPrototypesSegmenter(n_clusters=2, categorical=[1], random_state=0).fit(X)
    with pytest.raises(ValueError, match="non-negative integer codes"):
        model.predict(np.array([[0.0, 0.5]]))


# These checks feed arbitrary floats (fractional, negative) into column 0, declared
# categorical. Codes must be non-negative integers and others are refused with a ValueError by
# design: rounding would hide mixed-up columns.
# test_categorical_variant_keeps_the_contract_on_valid_codes covers the same ground.
CODES_REASON = "arbitrary floats in categorical column 0: non-integer codes are refused"
CODES_CHECKS = [
    "check_clustering",
    "check_dict_unchanged",
    "check_dont_overwrite_parameters",
    "check_dtype_object",
    "check_estimators_dtypes",
    "check_estimators_fit_returns_self",
    "check_estimators_nan_inf",
    "check_estimators_overwrite_params",
    "check_estimators_pickle",
    "check_f_contiguous_array_estimator",
    "check_fit2d_1feature",
    "check_fit2d_1sample",
    "check_fit2d_predict1d",
    "check_fit_check_is_fitted",
    "check_fit_idempotent",
    "check_fit_score_takes_y",
    "check_methods_sample_order_invariance",
    "check_methods_subset_invariance",
    "check_n_features_in",
    "check_n_features_in_after_fitting",
    "check_non_transformer_estimators_n_iter",
    "check_pipeline_consistency",
    "check_positive_only_tag_during_fit",
    "check_readonly_memmap_input",
]


def _expected_failures(estimator: KPrototypesSegmenter) -> dict[str, str]:
    return dict.fromkeys(CODES_CHECKS, CODES_REASON) if estimator.categorical else {}


@parametrize_with_checks(
    [
        KPrototypesSegmenter(n_clusters=3),
        KPrototypesSegmenter(n_clusters=3, categorical=[0]),
    ],
    expected_failed_checks=_expected_failures,
    xfail_strict=True,
)
def test_sklearn_estimator_contract(estimator: object, check: Callable[[object], None]) -> None:
    check(estimator)


def test_categorical_variant_keeps_the_contract_on_valid_codes(
    mixed: tuple[np.ndarray, np.ndarray],
) -> None:
    """What the excused checks verify, on data with valid codes."""
    X = mixed[0][:300]
    model = KPrototypesSegmenter(n_clusters=3, categorical=[1, 3], random_state=0)
    params = model.get_params()
    fitted = model.fit(X)
    assert fitted is model
    assert model.get_params() == params
    assert model.n_features_in_ == 4
    assert model.n_iter_ >= 1
    labels = model.labels_.copy()
    # Predict is row-wise: order and subsets do not matter; read-only input is fine.
    order = np.random.default_rng(0).permutation(len(X))
    assert model.predict(X[order]).tolist() == labels[order].tolist()
    assert model.predict(X[:7]).tolist() == labels[:7].tolist()
    frozen = X.copy()
    frozen.flags.writeable = False
    assert model.predict(frozen).tolist() == labels.tolist()
    # Idempotent fit, identical clone, pickle round trip.
    assert clone(model).fit(X).labels_.tolist() == labels.tolist()
    assert pickle.loads(pickle.dumps(model)).predict(X).tolist() == labels.tolist()
    with pytest.raises(ValueError, match="features"):
        model.predict(X[:, :3])
    with pytest.raises(ValueError, match="NaN"):
        model.fit(np.where(np.eye(300, 4, dtype=bool), np.nan, X))


def test_sparse_codes_keep_their_values() -> None:
    X = np.array([[0.0, 7e9], [0.1, 7e9], [3.0, 12.0], [3.1, 12.0]])
    model = KPrototypesSegmenter(n_clusters=2, categorical=[1], random_state=0).fit(X)
    assert sorted(model.cluster_modes_[:, 0].tolist()) == [12, 7_000_000_000]
    assert model.predict(X).tolist() == model.labels_.tolist()
