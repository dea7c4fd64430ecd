"""From the feature table to the clustering matrix."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from audience.config import CLUSTER_FEATURES, ModelsConfig, PreprocessConfig
from audience.errors import SegmentationError
from audience.features.preprocess import build_preprocessor
from audience.models.inputs import clustering_input


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 5_000
    data = {name: rng.gamma(2.0, 10.0, n) for name in CLUSTER_FEATURES}
    data["recency_days"] = np.where(rng.random(n) < 0.3, np.nan, data["recency_days"])
    data["top_category"] = rng.choice(["shoes", "bags", None], n)
    data["engagement_tier"] = rng.choice(["high", "low", "dormant"], n)
    return pd.DataFrame({"contact_id": [f"c{i}" for i in range(n)], **data})


def test_preprocessing_is_fitted_on_a_sample_and_applied_to_all(frame: pd.DataFrame) -> None:
    models = ModelsConfig(preprocess_sample=1_000, random_state=3)
    made = clustering_input(frame, models, PreprocessConfig(), "kmeans")
    columns = list(CLUSTER_FEATURES)
    sample = frame[columns].sample(n=1_000, random_state=3)
    expected = build_preprocessor(PreprocessConfig()).fit(sample).transform(frame[columns])
    assert made.matrix.shape == (len(frame), expected.shape[1])
    np.testing.assert_array_equal(made.matrix, expected)
    assert made.categorical == []
    assert "missingindicator_recency_days" in made.columns


def test_matrix_of_many_contacts_is_exactly_the_preprocessors_transform() -> None:
    # Above 16,384 rows the compiled transform goes through each distinct value of a count
    # column once: the numbers must still be scikit-learn's, bit for bit.
    rng = np.random.default_rng(1)
    n = 20_000
    data = {name: rng.poisson(3.0, n).astype(float) for name in CLUSTER_FEATURES}
    data["revenue_total"] = rng.gamma(2.0, 40.0, n)
    data["recency_days"] = np.where(rng.random(n) < 0.3, np.nan, data["recency_days"])
    big = pd.DataFrame({"contact_id": [f"c{i}" for i in range(n)], **data})
    models = ModelsConfig(preprocess_sample=5_000)
    made = clustering_input(big, models, PreprocessConfig(), "kmeans")
    columns = list(CLUSTER_FEATURES)
    sample = big[columns].sample(n=5_000, random_state=models.random_state)
    expected = build_preprocessor(PreprocessConfig()).fit(sample).transform(big[columns])
    np.testing.assert_array_equal(made.matrix, expected)


def test_kprototypes_gets_category_codes_at_the_end(frame: pd.DataFrame) -> None:
    made = clustering_input(frame, ModelsConfig(), PreprocessConfig(), "kprototypes")
    assert made.columns[-2:] == ["top_category", "engagement_tier"]
    assert made.categorical == [len(made.columns) - 2, len(made.columns) - 1]
    assert made.levels["top_category"] == ["bags", "missing", "shoes"]
    codes = made.matrix[:, -2].astype(int)
    decoded = np.array(made.levels["top_category"])[codes]
    assert (decoded == frame["top_category"].fillna("missing").to_numpy()).all()


def test_unknown_feature_is_named(frame: pd.DataFrame) -> None:
    models = ModelsConfig(features=["recency_days", "lifetime_value"])
    with pytest.raises(SegmentationError, match="lifetime_value"):
        clustering_input(frame, models, PreprocessConfig(), "kmeans")


def test_no_contacts_is_a_clear_error(frame: pd.DataFrame) -> None:
    with pytest.raises(SegmentationError, match="no contacts"):
        clustering_input(frame.iloc[:0], ModelsConfig(), PreprocessConfig(), "kmeans")
