"""AutoSegmenter: the guarded selection rule on data with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.datasets import load_iris, load_wine, make_blobs
from sklearn.metrics import adjusted_rand_score, silhouette_score
from sklearn.preprocessing import StandardScaler

from audience.errors import SegmentationError
from audience.models.selection import SELECTION_COLUMNS, AutoSegmenter


def silhouette_max_k(X: np.ndarray) -> tuple[int, np.ndarray]:
    """The naive rule: KMeans for k = 2..12, keep the best silhouette."""
    fits = {k: KMeans(k, random_state=0).fit_predict(X) for k in range(2, 13)}
    k = max(fits, key=lambda k: silhouette_score(X, fits[k]))
    return k, fits[k]


@pytest.fixture(scope="module")
def unequal_blobs() -> tuple[np.ndarray, np.ndarray]:
    """Four blobs of unequal sizes and spreads: the small tight one is easy to merge away."""
    return make_blobs(
        n_samples=[3000, 1500, 600, 300],
        centers=[[0, 0], [6, 0], [0, 6], [6, 6]],
        cluster_std=[1.0, 0.7, 0.5, 0.3],
        random_state=0,
    )


def test_unequal_blobs_recovered_where_silhouette_max_merges(
    unequal_blobs: tuple[np.ndarray, np.ndarray],
) -> None:
    X, y = unequal_blobs
    model = AutoSegmenter(random_state=0).fit(X)
    assert model.n_segments_ == 4
    assert adjusted_rand_score(y, model.labels_) >= 0.95
    _, naive_labels = silhouette_max_k(X)
    assert adjusted_rand_score(y, model.labels_) > adjusted_rand_score(y, naive_labels)


def test_wine_finds_its_three_cultivars() -> None:
    X, y = load_wine(return_X_y=True)
    model = AutoSegmenter(random_state=0).fit(StandardScaler().fit_transform(X))
    assert model.n_segments_ == 3
    assert adjusted_rand_score(y, model.labels_) >= 0.85


def test_iris_within_one_of_its_three_species() -> None:
    # Versicolor and virginica overlap: two segments is a defensible answer, one is not.
    X, y = load_iris(return_X_y=True)
    model = AutoSegmenter(random_state=0).fit(StandardScaler().fit_transform(X))
    assert model.n_segments_ in (2, 3)
    assert adjusted_rand_score(y, model.labels_) >= 0.55


def test_selection_table_explains_every_candidate(
    unequal_blobs: tuple[np.ndarray, np.ndarray],
) -> None:
    X, _ = unequal_blobs
    model = AutoSegmenter(methods=("kmeans", "gmm"), k_range=(2, 6), random_state=0).fit(X)
    table = model.selection_
    assert list(table.columns) == list(SELECTION_COLUMNS)
    assert len(table) == 2 * 5
    assert table["status"].tolist().count("chosen") == 1
    assert set(table["status"]) <= {"chosen", "not chosen", "rejected"}
    assert table["reason"].str.len().gt(0).all()
    chosen = table[table["status"] == "chosen"].iloc[0]
    assert (chosen["method"], chosen["n_segments"]) == (model.method_, model.n_segments_)
    assert table.loc[table["method"] == "gmm", "bic"].notna().all()
    assert table.loc[table["method"] == "kmeans", "bic"].isna().all()


def test_tiny_segments_are_rejected_with_the_reason() -> None:
    X, _ = make_blobs(
        n_samples=[2000, 2000, 10], centers=[[0, 0], [10, 0], [5, 20]], random_state=0
    )
    model = AutoSegmenter(methods=("kmeans",), min_segment_share=0.01, random_state=0).fit(X)
    table = model.selection_.set_index("k")
    assert table.loc[3, "status"] == "rejected"
    assert "a segment of 0.2% < 1.0%" in table.loc[3, "reason"]
    assert model.n_segments_ == 2


def test_unstable_candidates_are_rejected() -> None:
    rng = np.random.default_rng(0)
    uniform = rng.uniform(size=(3000, 2))
    with pytest.raises(SegmentationError, match="unstable") as raised:
        AutoSegmenter(methods=("kmeans",), k_range=(5, 7), min_stability=0.99).fit(uniform)
    assert "models.min_stability" in str(raised.value)


def test_fixed_choice_can_override_guards_but_says_so() -> None:
    X, _ = make_blobs(
        n_samples=[2000, 2000, 10], centers=[[0, 0], [10, 0], [5, 20]], random_state=0
    )
    model = AutoSegmenter(methods=("kmeans",), k_range=(3, 3), enforce_guards=False).fit(X)
    assert model.n_segments_ == 3
    reason = model.selection_.iloc[0]["reason"]
    assert reason.startswith("as requested, despite: a segment of 0.2%")


def test_same_seed_same_answer(unequal_blobs: tuple[np.ndarray, np.ndarray]) -> None:
    X, _ = unequal_blobs
    first = AutoSegmenter(random_state=7, sample_size=2000).fit(X)
    second = AutoSegmenter(random_state=7, sample_size=2000).fit(X)
    assert first.labels_.tolist() == second.labels_.tolist()
    assert first.selection_.equals(second.selection_)


def test_sampled_sweep_then_full_fit(unequal_blobs: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = unequal_blobs
    model = AutoSegmenter(sample_size=1000, silhouette_sample=500, random_state=0).fit(X)
    assert model.labels_.shape == (len(X),)
    assert model.predict(X).tolist() == model.labels_.tolist()
    assert adjusted_rand_score(y, model.labels_) >= 0.95


def test_predict_proba_only_when_a_mixture_is_chosen(
    unequal_blobs: tuple[np.ndarray, np.ndarray],
) -> None:
    X, _ = unequal_blobs
    kmeans = AutoSegmenter(methods=("kmeans",), k_range=(4, 4)).fit(X)
    assert not hasattr(kmeans, "predict_proba")
    mixture = AutoSegmenter(methods=("gmm",), k_range=(4, 4)).fit(X)
    proba = mixture.predict_proba(X[:50])
    assert proba.shape == (50, 4)
    assert proba.argmax(axis=1).tolist() == mixture.predict(X[:50]).tolist()


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"methods": ("kmeans", "spectral")}, "methods"),
        ({"k_range": (1, 5)}, "k_range"),
        ({"k_range": (6, 5)}, "k_range"),
        ({"min_segment_share": 1.5}, "min_segment_share"),
        ({"min_stability": 2}, "min_stability"),
    ],
)
def test_bad_parameters_name_themselves(params: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        AutoSegmenter(**params).fit(np.random.default_rng(0).normal(size=(50, 2)))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def blobs_in_noise() -> tuple[np.ndarray, np.ndarray]:
    """Three dense blobs and 5% uniform background (truth -1)."""
    rng = np.random.default_rng(1)
    X, y = make_blobs(
        n_samples=[800, 600, 400], centers=[[0, 0], [8, 0], [4, 8]], cluster_std=0.6, random_state=1
    )
    background = rng.uniform(-6, 14, size=(95, 2))
    return np.vstack([X, background]), np.concatenate([y, np.full(95, -1)])


@pytest.mark.parametrize("method", ["dbscan", "hdbscan"])
def test_density_candidates_report_noise(
    blobs_in_noise: tuple[np.ndarray, np.ndarray], method: str
) -> None:
    X, y = blobs_in_noise
    model = AutoSegmenter(methods=(method,), random_state=0).fit(X)
    row = model.selection_.iloc[0]
    assert len(model.selection_) == 1
    assert row["k"] is None
    assert model.n_segments_ == 3
    assert 0 < row["noise_share"] < 0.2
    assert (model.labels_ == -1).any()
    clustered = y != -1
    assert adjusted_rand_score(y[clustered], model.labels_[clustered]) >= 0.95


def test_too_much_noise_is_rejected(blobs_in_noise: tuple[np.ndarray, np.ndarray]) -> None:
    X, _ = blobs_in_noise
    model = AutoSegmenter(methods=("kmeans", "dbscan"), max_noise_share=0.01, random_state=0).fit(X)
    dbscan = model.selection_[model.selection_["method"] == "dbscan"].iloc[0]
    assert dbscan["status"] == "rejected"
    assert dbscan["reason"].startswith("noise ")
    assert model.method_ == "kmeans"


def test_hierarchical_sweep_cuts_one_tree(unequal_blobs: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = unequal_blobs
    model = AutoSegmenter(methods=("hierarchical",), random_state=0).fit(X)
    assert model.method_ == "hierarchical"
    assert model.n_segments_ == 4
    assert adjusted_rand_score(y, model.labels_) >= 0.95
    assert model.estimator_.linkage_.shape == (len(X) - 1, 4)


def test_kprototypes_with_a_category_column() -> None:
    rng = np.random.default_rng(0)
    X, y = make_blobs(n_samples=[500, 500, 500], centers=[[0, 0], [6, 0], [3, 6]], random_state=2)
    category = np.where(rng.random(1500) < 0.9, y, rng.integers(0, 3, 1500)).astype(float)
    data = np.column_stack([X, category])
    params = {"kprototypes": {"categorical": [2], "gamma": 1.0}}
    model = AutoSegmenter(methods=("kprototypes",), method_params=params, random_state=0).fit(data)
    assert model.n_segments_ == 3
    assert adjusted_rand_score(y, model.labels_) >= 0.95
