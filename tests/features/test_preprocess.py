"""The preprocessing estimator against hand-computed values, an oracle and its contract."""

from __future__ import annotations

import math
import pickle
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from sklearn.base import clone
from sklearn.preprocessing import PowerTransformer, StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from audience.features.preprocess import (
    HEAVY_TAILED,
    PreprocessConfig,
    Preprocessor,
    build_preprocessor,
)
from audience.features.transformers import (
    ClipToFitRange,
    DropConstantAndCorrelated,
    SignedLog1p,
)

NAN = np.nan
TIERS = ["new", "high", "medium", "low", "dormant"]


def audience_frame(n: int = 300, seed: int = 7) -> pd.DataFrame:
    """Every feature column with plausible values; buyers and openers are a minority."""
    rng = np.random.default_rng(seed)
    buyer = rng.random(n) < 0.4
    emailed = rng.random(n) < 0.8
    orders = np.where(buyer, rng.geometric(0.5, n), 0).astype(float)
    revenue = orders * rng.gamma(2.0, 40.0, n)
    delivered = np.where(emailed, rng.poisson(30, n), 0).astype(float)
    opens = np.floor(delivered * rng.beta(2, 5, n))
    clicks = np.floor(opens * rng.beta(1, 6, n))

    def when(mask: np.ndarray, values: np.ndarray) -> np.ndarray:
        return np.where(mask, values, NAN)

    frame = {
        "recency_days": when(buyer, rng.integers(1, 700, n)),
        "order_count": orders,
        "revenue_total": revenue,
        "revenue_mean": when(buyer, revenue / np.maximum(orders, 1)),
        "days_between_orders_mean": when(orders > 1, rng.gamma(2, 30, n)),
        "btyd_frequency": np.maximum(orders - 1, 0),
        "btyd_recency": when(buyer, rng.integers(0, 500, n)),
        "btyd_T": when(buyer, rng.integers(100, 900, n)),
        "btyd_monetary_value": when(orders > 1, rng.gamma(2, 40, n)),
        "emails_delivered": delivered,
        "opens_human_unique": opens,
        "opens_machine_unique": np.floor(opens * 0.3),
        "clicks_unique": clicks,
        "open_rate_human": when(delivered > 0, opens / np.maximum(delivered, 1)),
        "open_rate_all": when(delivered > 0, 1.3 * opens / np.maximum(delivered, 1)),
        "ctr": when(delivered > 0, clicks / np.maximum(delivered, 1)),
        "ctor": when(opens > 0, clicks / np.maximum(opens, 1)),
        "days_since_last_open": when(opens > 0, rng.integers(0, 400, n)),
        "days_since_last_click": when(clicks > 0, rng.integers(0, 400, n)),
        "is_bounced": (rng.random(n) < 0.03).astype(float),
        "is_unsubscribed": (rng.random(n) < 0.1).astype(float),
        "is_complained": np.zeros(n),
        "product_views": rng.poisson(5, n).astype(float),
        "cart_adds": rng.poisson(1, n).astype(float),
        "checkouts_started": rng.poisson(0.5, n).astype(float),
        "abandoned_carts": rng.poisson(0.3, n).astype(float),
        "visits_7d": rng.poisson(0.5, n).astype(float),
        "visits_30d": rng.poisson(2, n).astype(float),
        "visits_90d": rng.poisson(6, n).astype(float),
        "top_category": pd.Series(
            np.where(buyer, rng.choice(["shoes", "bags", "hats"], n), None), dtype="str"
        ),
        "top_category_share": when(buyer, rng.uniform(0.3, 1, n)),
        "tenure_days": rng.integers(0, 2000, n).astype(float),
        "r_score": rng.integers(1, 6, n).astype(float),
        "f_score": rng.integers(1, 6, n).astype(float),
        "m_score": rng.integers(1, 6, n).astype(float),
        "rfm_group": pd.Series(rng.choice(["Champions", "Loyal", "Prospects"], n), dtype="str"),
        "engagement_tier": pd.Series(rng.choice(TIERS, n), dtype="str"),
        "country": pd.Series(rng.choice([f"C{i}" for i in range(30)], n), dtype="str"),
    }
    index = pd.Index([f"c{i}" for i in range(n)], name="contact_id")
    return pd.DataFrame({k: np.asarray(v) for k, v in frame.items()}, index=index)


def plain(**overrides: object) -> Preprocessor:
    """No Yeo–Johnson, min-max scaling, nothing dropped: outputs a person can compute."""
    settings_ = {
        "power_transform": False,
        "scaler": "minmax",
        "drop_constant": False,
        "correlation_threshold": 1.0,
        **overrides,
    }
    return Preprocessor(**settings_)


# --- hand-computed cases -------------------------------------------------------------------


def test_imputes_median_then_logs_then_scales_by_hand() -> None:
    frame = pd.DataFrame(
        {"order_count": [0.0, 1.0, 3.0, NAN], "recency_days": [10.0, NAN, 40.0, 20.0]}
    )
    out = plain().set_output(transform="pandas").fit_transform(frame)
    # order_count: median 1 fills the gap → [0, 1, 3, 1]; log1p → [0, ln 2, ln 4, ln 2];
    # min-max over [0, ln 4] → [0, 0.5, 1, 0.5].
    # recency_days (not logged): median 20 → [10, 20, 40, 20] → [0, 1/3, 1, 1/3].
    expected = pd.DataFrame(
        {
            "order_count": [0.0, 0.5, 1.0, 0.5],
            "recency_days": [0.0, 1 / 3, 1.0, 1 / 3],
            "missingindicator_order_count": [0.0, 0.0, 0.0, 1.0],
            "missingindicator_recency_days": [0.0, 1.0, 0.0, 0.0],
        }
    )
    pd.testing.assert_frame_equal(out, expected)


def test_zero_imputation_fills_zero_before_the_log() -> None:
    frame = pd.DataFrame({"order_count": [NAN, 1.0, math.e - 1]})
    out = plain(numeric_impute="zero", scaler="standard", add_missing_indicators=False)
    # [0, 1, e−1] → log1p [0, ln 2, 1] → standardised with the population std.
    logged = np.array([0.0, math.log(2), 1.0])
    expected = (logged - logged.mean()) / logged.std()
    np.testing.assert_allclose(out.fit_transform(frame)[:, 0], expected)


def test_signed_log1p_is_log1p_for_positives_and_keeps_the_sign() -> None:
    X = np.array([[-(math.e - 1), 0.0, NAN], [math.e**2 - 1, 5.0, 1.0]])
    out = SignedLog1p(columns=[0, 2]).fit_transform(X)
    expected = np.array([[-1.0, 0.0, NAN], [2.0, 5.0, math.log(2)]])
    np.testing.assert_allclose(out, expected)
    np.testing.assert_allclose(SignedLog1p([0, 2]).fit(X).inverse_transform(out), X)


def test_clip_to_fit_range_by_hand() -> None:
    fit = np.array([[0.0, NAN], [2.0, NAN], [1.0, NAN]])
    out = ClipToFitRange().fit(fit).transform(np.array([[-5.0, 7.0], [NAN, -7.0], [1.5, 0.0]]))
    # Column 0 was within [0, 2] at fit; column 1 was all missing, so it is not bounded.
    np.testing.assert_array_equal(out, [[0.0, 7.0], [NAN, -7.0], [1.5, 0.0]])


def test_value_far_outside_a_narrow_fit_range_stays_finite() -> None:
    # Found by hypothesis: Yeo–Johnson's lambda for [1, 0.9375, 0.9375] is extreme, and
    # applied to -864455 it overflowed to inf before new rows were clipped to the fit range.
    model = build_preprocessor().fit(pd.DataFrame({"tenure_days": [1.0, 0.9375, 0.9375]}))
    out = model.transform(pd.DataFrame({"tenure_days": [-864455.0]}))
    assert np.isfinite(out).all()


def test_correlated_column_is_dropped_keeping_the_first_with_its_r() -> None:
    # a = [0, 1, 2, 3], b = [0, 1, 2, 4]: r = 6.5 / √(5 · 8.75) = 0.9827.
    frame = pd.DataFrame({"a": [0.0, 1, 2, 3], "b": [0.0, 1, 2, 4], "c": [1.0, 0, 0, 1]})
    selector = DropConstantAndCorrelated(threshold=0.95).fit(frame)
    assert selector.dropped_ == {"b": "|r| = 0.98 with a"}
    assert list(selector.get_feature_names_out()) == ["a", "c"]
    swapped = DropConstantAndCorrelated(threshold=0.95).fit(frame[["b", "a", "c"]])
    assert swapped.dropped_ == {"a": "|r| = 0.98 with b"}
    assert DropConstantAndCorrelated(threshold=0.99).fit(frame).dropped_ == {}


def test_column_correlated_only_with_a_dropped_column_is_kept() -> None:
    # b is near a (r = 0.983, dropped); c is near b (r = 0.958) but not a (r = 0.916).
    frame = pd.DataFrame(
        {
            "a": [0.0, 1, 2, 3, 4, 5],
            "b": [0.0, 1, 2, 3, 5, 5],
            "c": [0.0, 2, 2, 3, 5, 4],
        }
    )
    selector = DropConstantAndCorrelated(threshold=0.95).fit(frame)
    assert list(selector.dropped_) == ["b"]
    assert list(selector.get_feature_names_out()) == ["a", "c"]


def test_revenue_mean_is_dropped_as_a_near_duplicate_of_revenue_total() -> None:
    frame = audience_frame()[["revenue_total", "revenue_mean", "tenure_days"]].fillna(0)
    frame["revenue_mean"] = frame["revenue_total"] * 1.01 + 1
    model = build_preprocessor().fit(frame)
    assert model.dropped_["revenue_mean"] == "|r| = 1.00 with revenue_total"
    assert "revenue_total" in model.get_feature_names_out()


def test_constant_columns_are_dropped_with_the_reason() -> None:
    model = build_preprocessor().fit(audience_frame())
    assert model.dropped_["is_complained"] == "constant"
    assert "is_complained" not in model.get_feature_names_out()
    kept = plain(drop_constant=False).fit(audience_frame())
    assert "is_complained" in kept.get_feature_names_out()


# --- columns, names and categories ---------------------------------------------------------


def test_missing_indicators_only_for_columns_missing_at_fit() -> None:
    frame = pd.DataFrame({"ctr": [0.1, NAN, 0.3, 0.2], "tenure_days": [1.0, 5, 9, 30]})
    model = plain().fit(frame)
    names = list(model.get_feature_names_out())
    assert names == ["ctr", "tenure_days", "missingindicator_ctr"]
    # tenure_days missing only at transform: imputed, and no new column appears.
    later = pd.DataFrame({"ctr": [0.2, 0.2], "tenure_days": [NAN, 5.0]})
    out = model.transform(later)
    assert out.shape == (2, 3)
    assert np.isfinite(out).all()


def test_one_hot_names_and_rare_levels_grouped() -> None:
    model = build_preprocessor().fit(audience_frame())
    names = list(model.get_feature_names_out())
    assert {f"engagement_tier_{tier}" for tier in TIERS} <= set(names)
    # No top category exactly when no orders: the level duplicates an earlier column.
    assert model.dropped_["top_category_missing"].startswith("|r| = ")
    countries = [name for name in names if name.startswith("country_")]
    assert len(countries) <= 12
    assert "country_infrequent_sklearn" in countries
    assert not any("__" in name for name in names)


def test_unknown_category_at_transform_is_all_zeros() -> None:
    frame = pd.DataFrame(
        {"engagement_tier": ["high", "low", "high", "new"], "tenure_days": [1.0, 2, 3, 4]}
    )
    model = plain().set_output(transform="pandas").fit(frame)
    seen = model.transform(frame).filter(like="engagement_tier_")
    assert seen.to_dict("list") == {
        "engagement_tier_high": [1.0, 0.0, 1.0, 0.0],
        "engagement_tier_low": [0.0, 1.0, 0.0, 0.0],
        "engagement_tier_new": [0.0, 0.0, 0.0, 1.0],
    }
    unseen = pd.DataFrame({"engagement_tier": ["platinum"], "tenure_days": [2.0]})
    out = model.transform(unseen)
    assert (out.filter(like="engagement_tier_") == 0).all(axis=None)


def test_missing_category_is_its_own_level_or_the_commonest_with_an_indicator() -> None:
    frame = pd.DataFrame(
        {"engagement_tier": ["high", None, "high", "new"], "tenure_days": [1.0, 2, 3, 4]}
    )
    constant = plain().set_output(transform="pandas").fit_transform(frame)
    assert constant["engagement_tier_missing"].tolist() == [0.0, 1.0, 0.0, 0.0]
    frequent = plain(categorical_impute="most_frequent").set_output(transform="pandas")
    out = frequent.fit_transform(frame)
    assert out["engagement_tier_high"].tolist() == [1.0, 1.0, 1.0, 0.0]
    assert out["missingindicator_engagement_tier"].tolist() == [0.0, 1.0, 0.0, 0.0]


def test_names_match_width_and_pandas_output_keeps_the_index() -> None:
    frame = audience_frame()
    array = build_preprocessor().fit(frame).transform(frame)
    model = build_preprocessor().set_output(transform="pandas").fit(frame)
    out = model.transform(frame)
    assert array.dtype == np.float64
    assert len(model.get_feature_names_out()) == array.shape[1] == out.shape[1]
    assert list(out.columns) == list(model.get_feature_names_out())
    assert out.index.equals(frame.index)
    np.testing.assert_allclose(out.to_numpy(), array)


def test_transform_in_blocks_equals_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    frame = audience_frame(n=301)
    model = build_preprocessor().fit(frame)
    whole = model.transform(frame)
    monkeypatch.setattr("audience.features.preprocess._BLOCK_ROWS", 40)  # 8 blocks, 21 rows last
    np.testing.assert_array_equal(model.transform(frame), whole)
    framed = build_preprocessor().set_output(transform="pandas").fit(frame).transform(frame)
    assert framed.index.equals(frame.index)
    np.testing.assert_array_equal(framed.to_numpy(), whole)


def test_unusable_columns_are_dropped_with_reasons() -> None:
    frame = pd.DataFrame(
        {
            "tenure_days": [1.0, 2, 3, 4],
            "as_of": pd.Timestamp("2025-01-01"),
            "email": ["a", "b", "c", "d"],
            "all_missing": NAN,
            "revenue_total": [5.0, 1, 2, 3],
        }
    )
    model = Preprocessor(exclude=["revenue_total"]).fit(frame)
    assert list(model.get_feature_names_out()) == ["tenure_days"]
    assert model.dropped_["revenue_total"] == "excluded in config"
    assert model.dropped_["all_missing"] == "all values missing at fit"
    assert "not numeric and not listed as categorical" in model.dropped_["as_of"]
    assert "not numeric and not listed as categorical" in model.dropped_["email"]


def test_nullable_and_boolean_columns_are_numbers() -> None:
    frame = pd.DataFrame(
        {
            "order_count": pd.array([1, None, 3, 4], dtype="Int64"),
            "is_bounced": pd.array([True, False, None, False], dtype="boolean"),
        }
    )
    out = plain().fit_transform(frame)
    assert out.shape == (4, 4)
    assert np.isfinite(out).all()


# --- awkward data: no warnings, no NaN ----------------------------------------------------


def test_frame_full_of_missing_values_gives_finite_output_without_warnings() -> None:
    frame = audience_frame(n=50)
    frame["days_since_last_click"] = NAN
    frame["btyd_monetary_value"] = [7.0] + [NAN] * 49  # a single known value
    frame["top_category"] = pd.Series([None] * 50, dtype="str", index=frame.index)
    model = build_preprocessor().fit(frame)  # warnings are errors in this project
    out = model.transform(frame)
    assert np.isfinite(out).all()
    assert model.dropped_["days_since_last_click"] == "all values missing at fit"
    assert model.dropped_["top_category"] == "all values missing at fit"
    assert model.dropped_["btyd_monetary_value"] == "constant"
    assert "missingindicator_btyd_monetary_value" in model.get_feature_names_out()


def test_infinite_values_are_refused_naming_the_column() -> None:
    frame = pd.DataFrame({"ctr": [0.1, np.inf, 0.2], "tenure_days": [1.0, 2, 3]})
    with pytest.raises(ValueError, match=r"\['ctr'\] contain infinite values"):
        build_preprocessor().fit(frame)


def test_no_usable_column_is_an_error_listing_the_reasons() -> None:
    with pytest.raises(ValueError, match=r"no usable feature columns.*all values missing"):
        build_preprocessor().fit(pd.DataFrame({"ctr": [NAN, NAN]}))


# --- the oracle: the same steps written out with scikit-learn ------------------------------


def test_numeric_block_matches_sklearn_steps_written_out() -> None:
    frame = audience_frame()
    columns = ["order_count", "tenure_days"]
    model = build_preprocessor(PreprocessConfig(correlation_threshold=1.0)).fit(frame[columns])
    values = frame[columns].to_numpy().copy()
    values[:, 0] = np.log1p(values[:, 0])
    expected = StandardScaler().fit_transform(
        PowerTransformer(standardize=False).fit_transform(values)
    )
    np.testing.assert_allclose(model.transform(frame[columns]), expected, atol=1e-12)


# --- estimator contract ------------------------------------------------------------------


def test_clone_gives_an_unfitted_copy_with_the_same_params() -> None:
    model = build_preprocessor(PreprocessConfig(scaler="robust")).fit(audience_frame())
    copy = clone(model)
    assert copy.get_params() == model.get_params()
    assert not hasattr(copy, "pipeline_")


def test_pickled_fitted_preprocessor_transforms_the_same() -> None:
    frame = audience_frame()
    model = build_preprocessor().fit(frame)
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.transform(frame), model.transform(frame))
    assert restored.dropped_ == model.dropped_


def test_config_fields_are_the_estimator_params() -> None:
    config = PreprocessConfig()
    assert set(type(config).model_fields) == set(Preprocessor().get_params())
    assert config.log1p == list(HEAVY_TAILED)
    assert build_preprocessor(config).get_params() == config.model_dump()


def test_bad_estimator_params_name_the_param() -> None:
    with pytest.raises(ValueError, match="scaler must be one of"):
        Preprocessor(scaler="zscore").fit(audience_frame(20))
    with pytest.raises(ValueError, match="one_hot_max_categories must be an integer"):
        Preprocessor(one_hot_max_categories=1).fit(audience_frame(20))


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"scalar": "standard"}, "scalar"),
        ({"scaler": "zscore"}, "scaler"),
        ({"one_hot_max_categories": "twelve"}, "one_hot_max_categories"),
        ({"log1p": "revenue_total"}, "log1p"),
        ({"correlation_threshold": 1.5}, "correlation_threshold"),
    ],
)
def test_config_errors_name_the_key(data: dict[str, object], key: str) -> None:
    with pytest.raises(ValidationError) as raised:
        PreprocessConfig.model_validate(data)
    assert [error["loc"][0] for error in raised.value.errors()] == [key]


@parametrize_with_checks(
    [
        SignedLog1p(),
        SignedLog1p(columns=[0]),
        ClipToFitRange(),
        DropConstantAndCorrelated(),
        DropConstantAndCorrelated(drop_constant=False, threshold=0.5),
        Preprocessor(),
    ]
)
def test_sklearn_estimator_contract(estimator: object, check: Callable[[object], None]) -> None:
    check(estimator)


# --- property: rows in = rows out, always finite -------------------------------------------

Row = tuple[float | None, float | None, float | None, str | None]
maybe_count = st.one_of(st.none(), st.integers(0, 50).map(float))
maybe_money = st.one_of(st.none(), st.floats(0, 1e5, allow_nan=False))
maybe_rate = st.one_of(st.none(), st.floats(0, 1, allow_nan=False))
maybe_tier = st.one_of(st.none(), st.sampled_from(TIERS))
row = st.tuples(maybe_count, maybe_money, maybe_rate, maybe_tier)


def _frame(rows: list[Row]) -> pd.DataFrame:
    count, money, rate, tier = zip(*rows, strict=True)
    return pd.DataFrame(
        {
            "order_count": pd.Series(count, dtype="float64"),
            "revenue_total": pd.Series(money, dtype="float64"),
            "ctr": pd.Series(rate, dtype="float64"),
            "engagement_tier": pd.Series(tier, dtype="str"),
        }
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    fit_rows=st.lists(row, min_size=1, max_size=30),
    new_rows=st.lists(row, min_size=1, max_size=10),
)
def test_transform_keeps_rows_and_is_finite(fit_rows: list[Row], new_rows: list[Row]) -> None:
    fit_frame, new_frame = _frame(fit_rows), _frame(new_rows)
    if fit_frame.isna().all(axis=None):
        with pytest.raises(ValueError, match="no usable feature columns"):
            build_preprocessor().fit(fit_frame)
        return
    model = build_preprocessor().fit(fit_frame)
    out = model.transform(new_frame)
    assert out.shape == (len(new_frame), len(model.get_feature_names_out()))
    assert np.isfinite(out).all()
