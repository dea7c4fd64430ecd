"""PSI and KS: hand-computed cases, then oracles (pandas binning, scipy's entropy and
ks_2samp) and properties."""

from __future__ import annotations

import math
import random

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import entropy, ks_2samp

from audience.config import DriftConfig
from audience.features.drift import (
    EPSILON,
    categorical_psi,
    drift_status,
    feature_drift,
    ks_statistic,
    psi,
)

ONE_TO_TEN = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]


def test_psi_of_a_hand_computed_shift() -> None:
    # bins=2 cuts at the median of 1..10 (5.5): expected 0.5 | 0.5, actual 0.8 | 0.2.
    expected = 0.3 * math.log(0.8 / 0.5) + (-0.3) * math.log(0.2 / 0.5)
    assert psi(ONE_TO_TEN, [1, 1, 1, 1, 1, 1, 1, 1, 10, 10], bins=2) == pytest.approx(expected)
    assert expected == pytest.approx(0.4158883)


def test_psi_of_identical_samples_is_zero() -> None:
    assert psi(ONE_TO_TEN, ONE_TO_TEN) == 0.0


def test_an_empty_bin_counts_with_a_share_of_epsilon() -> None:
    # Cut at 0.5: expected 0.5 | 0.5, actual 1 | 0, the empty bin floored at 1e-4.
    value = psi([0, 0, 1, 1], [0, 0, 0, 0], bins=2)
    assert value == pytest.approx(0.5 * math.log(2) + (EPSILON - 0.5) * math.log(EPSILON / 0.5))
    assert value == pytest.approx(4.6043185)


def test_missing_values_are_a_bin_of_their_own() -> None:
    # Cut at 2.5: expected 0.5 | 0.5 | missing 0, actual 0.5 | 0 | missing 0.5.
    value = psi([1, 2, 3, 4], [1, 2, np.nan, None], bins=2)
    assert value == pytest.approx(2 * (0.5 - EPSILON) * math.log(0.5 / EPSILON))
    assert psi([1, 2, np.inf, 4], [1, 2, np.nan, 4], bins=2) == 0.0  # ±inf is missing too


def test_repeated_quantile_edges_are_kept_once_and_bins_close_on_the_right() -> None:
    # Quartiles of the counts are 0, 0, 1: bins (-inf, 0], (0, 1], (1, inf) hold 6, 2, 2.
    counts = [0, 0, 0, 0, 0, 0, 1, 1, 2, 5]
    shifted = [0, 0, 0, 1, 1, 1, 1, 2, 2, 2]  # 3, 4, 3
    e, a = np.array([0.6, 0.2, 0.2]), np.array([0.3, 0.4, 0.3])
    assert psi(counts, shifted, bins=4) == pytest.approx(float(np.sum((a - e) * np.log(a / e))))


def test_psi_agrees_with_pandas_binning_and_symmetric_kl_divergence() -> None:
    rng = np.random.default_rng(11)
    before, after = rng.lognormal(3, 1, 5_000), rng.lognormal(3.2, 0.9, 4_000)
    inner = np.unique(np.quantile(before, np.linspace(0, 1, 11)[1:-1]))
    edges = [-np.inf, *inner, np.inf]

    def shares(values: np.ndarray) -> np.ndarray:
        binned = pd.Series(pd.cut(values, edges, right=True))
        return binned.value_counts(sort=False).to_numpy() / len(values)

    e, a = shares(before), shares(after)
    assert min(e.min(), a.min()) > EPSILON  # no share floored: a pure oracle
    assert psi(before, after) == pytest.approx(entropy(a, e) + entropy(e, a), rel=1e-12)


def test_categorical_psi_counts_missing_as_a_level() -> None:
    # Levels (missing), a, b: expected 0 | 0.5 | 0.5, actual 0.25 | 0.75 | 0.
    value = categorical_psi(["a", "a", "b", "b"], ["a", "a", "a", None])
    hand = (
        (0.25 - EPSILON) * math.log(0.25 / EPSILON)
        + 0.25 * math.log(0.75 / 0.5)
        + (EPSILON - 0.5) * math.log(EPSILON / 0.5)
    )
    assert value == pytest.approx(hand)
    assert value == pytest.approx(6.3143403)


def test_ks_statistic_by_hand_and_against_scipy() -> None:
    assert ks_statistic([1, 2, 3, 4], [3, 4, 5, 6]) == pytest.approx(0.5)
    rng = np.random.default_rng(5)
    before, after = rng.normal(0, 1, 3_000), rng.normal(0.2, 1.1, 2_000)
    after[::10] = np.nan  # missing values are left out of KS
    oracle = ks_2samp(before, after[~np.isnan(after)]).statistic
    assert ks_statistic(before, after) == pytest.approx(oracle, abs=1e-15)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ks_statistic_equals_scipy_on_ties_and_unequal_sizes(seed: int) -> None:
    rng = np.random.default_rng(seed)
    before, after = rng.poisson(2.0, 1_000), rng.poisson(2.3, 377)  # many ties
    oracle = ks_2samp(before, after).statistic
    assert ks_statistic(before, after) == pytest.approx(oracle, abs=1e-15)


def test_ks_statistic_is_nan_without_observed_values() -> None:
    assert math.isnan(ks_statistic([1.0, 2.0], [np.nan, np.nan]))


def test_empty_samples_and_too_few_bins_are_refused() -> None:
    with pytest.raises(ValueError, match="values in both samples"):
        psi([], [1.0])
    with pytest.raises(ValueError, match="values in both samples"):
        categorical_psi(["a"], [])
    with pytest.raises(ValueError, match="bins must be at least 2"):
        psi([1.0], [1.0], bins=1)


@pytest.mark.parametrize(
    ("psi_value", "ks_value", "status"),
    [
        (0.0999, 0.1999, "ok"),
        (0.1, 0.0, "watch"),
        (0.2499, None, "watch"),
        (0.25, 0.0, "alert"),
        (0.0, 0.2, "alert"),
        (0.0, math.nan, "ok"),
    ],
)
def test_status_by_the_drift_thresholds(
    psi_value: float, ks_value: float | None, status: str
) -> None:
    assert drift_status(psi_value, ks_value, DriftConfig()) == status


def test_feature_drift_has_one_row_per_feature_and_no_ks_for_categories() -> None:
    before = pd.DataFrame({"n": ONE_TO_TEN, "c": list("aaaaabbbbb")})
    after = pd.DataFrame({"n": [1] * 8 + [10, 10], "c": list("aaaaabbbbb")})
    table = feature_drift(before, after, ["n"], ["c"], DriftConfig(bins=2))
    assert table["feature"].tolist() == ["n", "c"]
    assert table["psi"].tolist() == pytest.approx([0.4158883, 0.0])
    assert table["ks"].iloc[0] == pytest.approx(0.7)  # at 1: 0.1 of before, 0.8 of after
    assert math.isnan(table["ks"].iloc[1])
    assert table["status"].tolist() == ["alert", "ok"]


samples = st.lists(st.one_of(st.floats(-1e6, 1e6), st.none()), min_size=1, max_size=60)


@settings(max_examples=200, deadline=None)
@given(samples, samples, st.integers(2, 12), st.randoms(use_true_random=False))
def test_psi_is_non_negative_zero_on_itself_and_ignores_row_order(
    before: list[float | None], after: list[float | None], bins: int, rng: random.Random
) -> None:
    value = psi(before, after, bins)
    assert value >= 0.0
    assert psi(before, before, bins) == 0.0
    shuffled = list(after)
    rng.shuffle(shuffled)
    assert psi(before, shuffled, bins) == pytest.approx(value, abs=1e-12)
