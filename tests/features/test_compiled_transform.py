"""The compiled preprocessing against the fitted scikit-learn pipeline it reads: the same
numbers, bit for bit, for every configuration, and the pipeline itself wherever it must
decide (refused values, steps the compiler does not know)."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.preprocessing import QuantileTransformer

import audience.features.compiled as compiled_module
from audience.features.compiled import PreparedColumns, compile_preprocessor
from audience.features.preprocess import Preprocessor

NAN = np.nan
LEVELS = ["shoes", "bags", "hats", "toys", "pens", "cups"]


def features(n: int, seed: int) -> pd.DataFrame:
    """Numeric columns with missing values, a heavy tail, refunds below zero, a constant
    and a near-duplicate column; categoricals with rare and missing levels."""
    rng = np.random.default_rng(seed)
    orders = rng.geometric(0.4, n).astype(float) - 1
    revenue = orders * rng.gamma(2.0, 40.0, n) - (rng.random(n) < 0.05) * 30.0
    opened = rng.random(n) < 0.7
    tier = rng.choice(["new", "high", "medium", "low", "dormant"], n).astype(object)
    tier[rng.random(n) < 0.1] = None
    # Skewed: the last levels are rare, so max_categories groups them.
    category = rng.choice(LEVELS, n, p=[0.5, 0.3, 0.1, 0.05, 0.03, 0.02]).astype(object)
    return pd.DataFrame(
        {
            "order_count": orders,
            "revenue_total": revenue,
            "revenue_copy": revenue * 1.01 + 0.5,
            "open_rate": np.where(opened, rng.beta(2, 5, n), NAN),
            "days_since_open": np.where(opened, rng.integers(0, 400, n), NAN),
            "tenure_days": rng.integers(0, 2000, n),
            "constant": np.ones(n),
            "balance": rng.normal(0, 50, n),
            "engagement_tier": pd.Series(tier, dtype="str"),
            "top_category": pd.Series(category, dtype="str"),
        }
    )


def unseen(frame: pd.DataFrame) -> pd.DataFrame:
    """New rows: values far outside the fit range, missing where the fit saw none, levels
    never seen, a categorical missing everywhere."""
    out = frame.copy()
    out.loc[::7, "revenue_total"] = 1e9
    out.loc[1::7, "revenue_total"] = -1e7
    out.loc[2::7, "balance"] = NAN
    out.loc[3::7, "tenure_days"] = 10**7
    out.loc[4::7, "top_category"] = "never-seen"
    out.loc[5::7, "engagement_tier"] = "vip"
    out.loc[6::7, "order_count"] = NAN
    return out


CONFIGS = {
    "default": {},
    "robust": {"scaler": "robust"},
    "minmax": {"scaler": "minmax"},
    "no power": {"power_transform": False},
    "mean": {"numeric_impute": "mean"},
    "zero": {"numeric_impute": "zero"},
    "most frequent": {"categorical_impute": "most_frequent"},
    "no indicators": {"add_missing_indicators": False},
    "three levels": {"one_hot_max_categories": 3},
    "keep all": {"drop_constant": False, "correlation_threshold": 1.0},
    "no log": {"log1p": ()},
    "log everything": {"log1p": ("order_count", "revenue_total", "balance", "tenure_days")},
    "exclude": {"exclude": ("open_rate",)},
    "numbers only": {"categorical": ()},
}


def fitted(settings_: dict[str, object], seed: int = 1) -> Preprocessor:
    log1p = ("order_count", "revenue_total", "revenue_copy")
    return Preprocessor(**{"log1p": log1p, **settings_}).fit(features(400, seed))


@pytest.mark.parametrize("settings_", CONFIGS.values(), ids=CONFIGS.keys())
def test_compiled_transform_equals_the_pipeline_bit_for_bit(settings_: dict[str, object]) -> None:
    preprocessor = fitted(settings_)
    compiled = compile_preprocessor(preprocessor)
    assert compiled is not None
    rows = unseen(features(300, seed=2))
    expected = preprocessor.transform(rows)
    got = compiled.transform(rows)
    assert got is not None
    assert got.shape == expected.shape
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("settings_", [CONFIGS["default"], CONFIGS["three levels"]])
def test_one_row_at_a_time_equals_the_pipeline(settings_: dict[str, object]) -> None:
    preprocessor = fitted(settings_)
    compiled = compile_preprocessor(preprocessor)
    assert compiled is not None
    rows = unseen(features(21, seed=3))
    for i in range(len(rows)):
        one = rows.iloc[[i]]
        got = compiled.transform(one)
        assert got is not None
        np.testing.assert_array_equal(got, preprocessor.transform(one))


def test_selected_rows_of_converted_columns_equal_the_pipeline_on_those_rows() -> None:
    preprocessor = fitted({})
    compiled = compile_preprocessor(preprocessor)
    assert compiled is not None
    rows = unseen(features(200, seed=4))
    at = np.array([5, 0, 199, 17, 17, 64])
    got = compiled.transform_columns(PreparedColumns(rows), at)
    assert got is not None
    np.testing.assert_array_equal(got, preprocessor.transform(rows.iloc[at]))


@pytest.mark.parametrize("settings_", CONFIGS.values(), ids=CONFIGS.keys())
def test_many_rows_by_distinct_values_and_blocks_on_threads_give_the_same_numbers(
    settings_: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Thresholds lowered so that 1,000 rows take the paths of a million.
    monkeypatch.setattr(compiled_module, "_BLOCK_ROWS", 64)
    monkeypatch.setattr(compiled_module, "_THREADS", 2)
    monkeypatch.setattr(compiled_module, "_DISTINCT_ROWS", 100)
    monkeypatch.setattr(compiled_module, "_SAMPLE_ROWS", 64)
    preprocessor = fitted(settings_)
    compiled = compile_preprocessor(preprocessor)
    assert compiled is not None
    rows = unseen(features(1_000, seed=5))
    rows.loc[::9, "order_count"] = -0.0  # a count column: transformed per distinct value
    got = compiled.transform(rows)
    assert got is not None
    np.testing.assert_array_equal(got, preprocessor.transform(rows))
    assert np.array_equal(np.signbit(got), np.signbit(preprocessor.transform(rows)))


def test_integer_and_nullable_columns_convert_as_the_pipeline_converts_them() -> None:
    preprocessor = fitted({})
    compiled = compile_preprocessor(preprocessor)
    assert compiled is not None
    rows = features(50, seed=6)
    rows["order_count"] = rows["order_count"].astype("Int64")
    rows.loc[::5, "order_count"] = pd.NA
    rows["days_since_open"] = rows["days_since_open"].astype(object)
    got = compiled.transform(rows)
    assert got is not None
    np.testing.assert_array_equal(got, preprocessor.transform(rows))


def test_an_infinity_is_left_to_the_pipeline_which_refuses_it() -> None:
    preprocessor = fitted({})
    compiled = compile_preprocessor(preprocessor)
    assert compiled is not None
    rows = features(10, seed=7)
    rows.loc[3, "balance"] = np.inf
    assert compiled.transform(rows) is None
    with pytest.raises(ValueError, match="infinite"):
        preprocessor.transform(rows)
    # Only the chosen rows count: the infinity is in row 3.
    assert compiled.transform_columns(PreparedColumns(rows), np.array([0, 1])) is not None


def test_values_that_do_not_convert_are_left_to_the_pipeline() -> None:
    compiled = compile_preprocessor(fitted({}))
    assert compiled is not None
    rows = features(10, seed=8)
    rows["balance"] = rows["balance"].astype(object)
    rows.loc[2, "balance"] = "twelve"
    assert compiled.transform(rows) is None


def test_columns_out_of_order_are_left_to_the_pipeline() -> None:
    compiled = compile_preprocessor(fitted({}))
    assert compiled is not None
    rows = features(10, seed=9)
    assert compiled.transform(rows[list(reversed(rows.columns))]) is None


def test_a_step_the_compiler_does_not_know_is_refused() -> None:
    preprocessor = copy.deepcopy(fitted({}))
    numeric = preprocessor.pipeline_.steps[0][1].transformers_[0][1]
    numeric.steps.append(("quantile", QuantileTransformer(n_quantiles=10).fit(np.zeros((10, 1)))))
    assert compile_preprocessor(preprocessor) is None
    assert compile_preprocessor(Preprocessor()) is None  # not fitted


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    fit_seed=st.integers(0, 2**16),
    values=hnp.arrays(
        np.float64,
        st.tuples(st.integers(1, 12), st.just(3)),
        elements=st.one_of(
            st.just(NAN), st.floats(-1e6, 1e6), st.sampled_from([0.0, -0.0, 1.0, 2.0])
        ),
    ),
    levels=st.lists(st.sampled_from([*LEVELS, "new", None]), min_size=12, max_size=12),
    power=st.booleans(),
)
def test_any_rows_give_the_pipelines_numbers(
    fit_seed: int, values: np.ndarray, levels: list[str | None], power: bool
) -> None:
    preprocessor = fitted({"power_transform": power}, seed=fit_seed)
    compiled = compile_preprocessor(preprocessor)
    assert compiled is not None
    rows = features(len(values), seed=fit_seed + 1)
    for j, name in enumerate(["revenue_total", "balance", "open_rate"]):
        rows[name] = values[:, j]
    rows["top_category"] = pd.Series(levels[: len(values)], dtype="str")
    got = compiled.transform(rows)
    assert got is not None
    np.testing.assert_array_equal(got, preprocessor.transform(rows))
