"""Segment profiles on a hand-built audience, every expected number worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from audience.errors import ConfigError
from audience.personas import KPI_DEFINITIONS, profile_segments

NAN = float("nan")
COLUMNS = ("order_count", "revenue_total", "recency_days", "cart_adds")


def six_contacts() -> pd.DataFrame:
    """Segment ``a`` = rows 0, 1, 3; segment ``b`` = rows 2, 4, 5."""
    return pd.DataFrame(
        {
            "contact_id": ["c0", "c1", "c2", "c3", "c4", "c5"],
            "recency_days": [10.0, 40.0, NAN, 5.0, NAN, 300.0],
            "order_count": [2, 1, 0, 4, 0, 1],
            "revenue_total": [100.0, 50.0, 0.0, 200.0, 0.0, 30.0],
            "emails_delivered": [10, 10, 0, 20, 5, 5],
            "opens_human_unique": [5, 2, 0, 10, 0, 1],
            "opens_machine_unique": [1, 0, 0, 2, 0, 0],
            "clicks_unique": [2, 0, 0, 3, 0, 0],
            "days_since_last_open": [3.0, 200.0, NAN, NAN, NAN, NAN],
            "days_since_last_click": [NAN, NAN, NAN, 100.0, NAN, NAN],
            "cart_adds": [0, 0, 0, 0, 0, 0],
            "country": ["DE", "FR", "DE", "US", "GB", "DE"],
        }
    )


SEGMENTS = ["a", "a", "b", "a", "b", "b"]


def feature_row(features: pd.DataFrame, segment: str, feature: str) -> pd.Series:
    rows = features[(features["segment_id"] == segment) & (features["feature"] == feature)]
    assert len(rows) == 1
    return rows.iloc[0]


def test_sizes_shares_and_revenue_share_by_hand() -> None:
    segments = profile_segments(six_contacts(), SEGMENTS, COLUMNS).segments.set_index("segment_id")
    assert segments.loc["a", "size"] == 3
    assert segments.loc["b", "share"] == pytest.approx(0.5)
    assert segments.loc["a", "revenue_share"] == pytest.approx(350 / 380)
    assert segments.loc["b", "revenue_share"] == pytest.approx(30 / 380)
    assert segments.loc["a", "revenue_per_contact"] == pytest.approx(350 / 3)


def test_email_kpis_are_ratios_of_sums() -> None:
    profiles = profile_segments(six_contacts(), SEGMENTS, COLUMNS)
    a = profiles.kpis("a")
    # a: delivered 10+10+20 = 40, human opens 5+2+10 = 17, machine 1+0+2 = 3, clicks 2+0+3 = 5.
    assert a["open_rate"] == pytest.approx(17 / 40)
    assert a["open_rate_raw"] == pytest.approx(20 / 40)
    assert a["ctr"] == pytest.approx(5 / 40)
    assert a["ctor"] == pytest.approx(5 / 20)
    # b: delivered 10, human opens 1, no clicks.
    b = profiles.kpis("b")
    assert (b["open_rate"], b["ctr"], b["ctor"]) == pytest.approx((0.1, 0.0, 0.0))
    # Whole audience: delivered 50, human opens 18, all opens 21, clicks 5. The mean of the
    # per-contact open rates would be different (0.5, 0.2, -, 0.5, 0, 0.2).
    population = profiles.population
    assert population["open_rate"] == pytest.approx(18 / 50)
    assert population["open_rate_raw"] == pytest.approx(21 / 50)
    assert population["ctr"] == pytest.approx(5 / 50)
    assert population["ctor"] == pytest.approx(5 / 21)
    assert population["size"] == 6


def test_buyer_recent_order_and_silent_shares() -> None:
    profiles = profile_segments(six_contacts(), SEGMENTS, COLUMNS)
    a, b = profiles.kpis("a"), profiles.kpis("b")
    assert a["recent_order_share"] == pytest.approx(2 / 3)  # recency 10 and 5, not 40
    assert b["recent_order_share"] == 0
    assert a["buyer_share"] == 1
    assert b["buyer_share"] == pytest.approx(1 / 3)
    # c1 last opened 200 days ago and never clicked; c0 opened 3 days ago, c3 clicked 100.
    assert a["silent_share"] == pytest.approx(1 / 3)
    assert b["silent_share"] == 1
    assert profiles.population["buyer_share"] == pytest.approx(4 / 6)


def test_mean_median_lift_and_z_by_hand() -> None:
    features = profile_segments(six_contacts(), SEGMENTS, COLUMNS).features
    orders = feature_row(features, "a", "order_count")
    assert orders["mean"] == pytest.approx(7 / 3)
    assert orders["median"] == 2
    assert orders["population_mean"] == pytest.approx(8 / 6)
    assert orders["lift"] == pytest.approx((7 / 3) / (8 / 6))
    # Population variance (ddof=0) of 2, 1, 0, 4, 0, 1 around 4/3 is 17/9.
    assert orders["z"] == pytest.approx((7 / 3 - 4 / 3) / math.sqrt(17 / 9))
    assert feature_row(features, "b", "order_count")["lift"] == pytest.approx(0.25)


def test_missing_values_are_skipped_and_counted() -> None:
    features = profile_segments(six_contacts(), SEGMENTS, COLUMNS).features
    recency_b = feature_row(features, "b", "recency_days")
    assert recency_b["mean"] == 300
    assert recency_b["median"] == 300
    assert recency_b["present"] == pytest.approx(1 / 3)
    assert feature_row(features, "a", "recency_days")["mean"] == pytest.approx(55 / 3)


def test_lift_and_z_are_missing_when_the_population_mean_is_zero() -> None:
    carts = feature_row(
        profile_segments(six_contacts(), SEGMENTS, COLUMNS).features, "a", "cart_adds"
    )
    assert carts["mean"] == 0
    assert math.isnan(carts["lift"])
    assert math.isnan(carts["z"])


def test_segments_are_sorted_by_size_then_id() -> None:
    profiles = profile_segments(six_contacts(), ["s", "big", "big", "big", "m", "m"], COLUMNS)
    assert list(profiles.segments["segment_id"]) == ["big", "m", "s"]
    assert list(profiles.features["segment_id"].drop_duplicates()) == ["big", "m", "s"]


def test_lift_matrix_is_feature_by_segment() -> None:
    profiles = profile_segments(six_contacts(), SEGMENTS, COLUMNS)
    matrix = profiles.lift_matrix()
    assert list(matrix.index) == list(COLUMNS)
    assert list(matrix.columns) == ["a", "b"]
    assert matrix.loc["order_count", "b"] == pytest.approx(0.25)


def test_non_numeric_columns_are_skipped() -> None:
    profiles = profile_segments(six_contacts(), SEGMENTS, [*COLUMNS, "country"])
    assert "country" not in profiles.columns
    assert profiles.columns == COLUMNS


def test_row_order_does_not_matter() -> None:
    frame = six_contacts()
    order = np.random.default_rng(0).permutation(len(frame))
    shuffled = profile_segments(frame.iloc[order], np.asarray(SEGMENTS)[order], COLUMNS)
    straight = profile_segments(frame, pd.Series(SEGMENTS, index=frame.index[::-1]), COLUMNS)
    pd.testing.assert_frame_equal(shuffled.segments, straight.segments)
    pd.testing.assert_frame_equal(shuffled.features, straight.features)


def test_every_kpi_is_defined_and_present() -> None:
    profiles = profile_segments(six_contacts(), SEGMENTS, COLUMNS)
    assert set(KPI_DEFINITIONS) <= set(profiles.segments.columns)
    assert set(KPI_DEFINITIONS) <= set(profiles.population)


def test_a_single_row_segment_and_an_all_missing_column() -> None:
    frame = six_contacts().assign(recency_days=NAN)
    profiles = profile_segments(frame, ["one", "rest", "rest", "rest", "rest", "rest"], COLUMNS)
    recency = feature_row(profiles.features, "one", "recency_days")
    assert math.isnan(recency["mean"])
    assert recency["present"] == 0
    assert profiles.kpis("one")["size"] == 1


def test_misaligned_or_missing_segment_ids_are_refused() -> None:
    with pytest.raises(ConfigError, match="5 values but features has 6 rows"):
        profile_segments(six_contacts(), SEGMENTS[:5], COLUMNS)
    with pytest.raises(ConfigError, match="1 missing values"):
        profile_segments(six_contacts(), [*SEGMENTS[:5], None], COLUMNS)
    with pytest.raises(ConfigError, match="nope"):
        profile_segments(six_contacts(), SEGMENTS, ["nope"])
