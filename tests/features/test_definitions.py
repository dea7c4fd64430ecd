"""The feature definitions on DuckDB against hand-computed values and two oracles."""

from __future__ import annotations

import warnings
from datetime import datetime, timedelta

import duckdb
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audience.config import FeaturesConfig
from audience.features.table import FEATURE_COLUMNS, feature_table
from audience.store.engines import duckdb_backend
from tests.features.fixture import (
    AS_OF,
    EXPECTED,
    contacts_frame,
    events_frame,
    ingested_audience,
)
from tests.features.pandas_reference import features as reference_features


def compute(
    contacts: pd.DataFrame,
    events: pd.DataFrame,
    as_of: datetime = AS_OF,
    config: FeaturesConfig | None = None,
) -> pd.DataFrame:
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    con.register("_contacts", contacts)
    con.register("_events", events)
    con.execute("CREATE TABLE contacts AS SELECT * FROM _contacts")
    con.execute("CREATE TABLE events AS SELECT * FROM _events")
    backend = duckdb_backend(con)
    table = feature_table(backend.table("contacts"), backend.table("events"), as_of, config)
    result = table.to_pyarrow().to_pandas().set_index("contact_id").sort_index()
    con.close()
    return result


def assert_same(actual: pd.DataFrame, expected: pd.DataFrame) -> None:
    assert list(actual.index) == list(expected.index)
    for column in expected.columns:
        got, want = actual[column], expected[column]
        if pd.api.types.is_numeric_dtype(want) or pd.api.types.is_numeric_dtype(got):
            same = np.isclose(
                got.astype(float), want.astype(float), rtol=1e-9, atol=1e-12, equal_nan=True
            )
        else:
            same = (got == want).fillna(False).to_numpy() | (got.isna() & want.isna()).to_numpy()
        assert same.all(), f"{column}: got {list(got[~same])}, expected {list(want[~same])}"


def test_every_feature_matches_the_hand_computed_values() -> None:
    features = compute(contacts_frame(), events_frame())
    assert tuple(features.columns) == ("as_of", *FEATURE_COLUMNS)
    assert_same(features[list(EXPECTED.columns)], EXPECTED)


def test_the_pandas_oracle_matches_the_hand_computed_values() -> None:
    oracle = reference_features(contacts_frame(), events_frame(), AS_OF).sort_index()
    assert_same(oracle[list(EXPECTED.columns)], EXPECTED)


def test_a_contact_who_signed_up_after_as_of_is_not_a_row() -> None:
    assert "E" not in compute(contacts_frame(), events_frame()).index


def test_weekly_btyd_periods_start_on_monday() -> None:
    features = compute(contacts_frame(), events_frame(), config=FeaturesConfig(btyd_period="week"))
    # A ordered on Fri 2025-05-30 (week of Mon 05-26) and Sun 2025-06-29 (week of Mon 06-23);
    # as_of is Mon 06-30: recency (06-23 − 05-26) = 4 weeks, T (06-30 − 05-26) = 5 weeks.
    row = features.loc["A"]
    assert (row.btyd_frequency, row.btyd_recency, row.btyd_T, row.btyd_monetary_value) == (
        1,
        4.0,
        5.0,
        150.0,
    )


def test_a_shorter_abandon_window_abandons_more_carts() -> None:
    features = compute(contacts_frame(), events_frame(), config=FeaturesConfig(abandon_hours=0.05))
    # A's cart (07:30) now closes at 07:33, before the 08:00 order; B's 06-30 09:00 cart
    # closes at 09:03, before as_of.
    assert features.loc["A", "abandoned_carts"] == 1
    assert features.loc["B", "abandoned_carts"] == 2


def test_revenue_adds_up_exactly_in_any_order() -> None:
    """As floats, 0.1 + 0.2 + 0.3 is 0.6000000000000001 and 0.3 + 0.2 + 0.1 is 0.6: totals
    (and the RFM ranks over them) would depend on the order the engine adds in."""
    contacts = [(c, "US", "2024-01-01T00:00:00", "subscribed") for c in ("X", "Y")]
    orders = [
        (contact, "Order Completed", f"2025-06-0{day}T10:00:00", revenue, None, None, None, None)
        for contact, revenues in (("X", (0.1, 0.2, 0.3)), ("Y", (0.3, 0.2, 0.1)))
        for day, revenue in enumerate(revenues, start=1)
    ]
    features = compute(contacts_frame(contacts), events_frame(orders))
    assert features.revenue_total.tolist() == [0.6, 0.6]
    assert features.btyd_monetary_value.tolist() == [0.25, 0.15]
    assert features.m_score.tolist() == [1, 1]  # a tie: both score as the lowest


def _later_events(draw_offsets: list[int]) -> pd.DataFrame:
    events = events_frame()
    extra = events.sample(n=len(draw_offsets), replace=True, random_state=0).copy()
    extra["timestamp"] = [AS_OF + timedelta(seconds=1 + s) for s in draw_offsets]
    extra["message_id"] = [f"late{i}" for i in range(len(extra))]
    extra["timestamp"] = extra["timestamp"].astype("datetime64[us, UTC]")
    return pd.concat([events, extra], ignore_index=True)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(min_value=0, max_value=400 * 86400), min_size=1, max_size=20))
def test_events_after_as_of_change_nothing(offsets: list[int]) -> None:
    assert_same(
        compute(contacts_frame(), _later_events(offsets)), compute(contacts_frame(), events_frame())
    )


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.randoms(use_true_random=False))
def test_row_order_changes_nothing(rng: object) -> None:
    events = events_frame()
    order = list(range(len(events)))
    rng.shuffle(order)  # type: ignore[attr-defined]
    shuffled = events.iloc[order].reset_index(drop=True)
    assert_same(compute(contacts_frame(), shuffled), compute(contacts_frame(), events_frame()))


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A 1,500-contact synthetic audience, ingested into a real workspace."""
    tables = ingested_audience(tmp_path_factory.mktemp("generated"), contacts=1500, seed=11)
    return tables["contacts"], tables["events"]


@pytest.mark.parametrize("as_of", [AS_OF, AS_OF - timedelta(days=97, hours=5)])
def test_every_feature_matches_the_pandas_oracle_on_a_generated_audience(
    generated: tuple[pd.DataFrame, pd.DataFrame], as_of: datetime
) -> None:
    contacts, events = generated
    ours = compute(contacts, events, as_of)
    oracle = reference_features(contacts, events, as_of).sort_index()
    assert len(ours) > 1000
    assert_same(ours[list(oracle.columns)], oracle)


@pytest.mark.parametrize(("period", "freq"), [("day", "D"), ("week", "W")])
def test_btyd_summary_matches_lifetimes(
    generated: tuple[pd.DataFrame, pd.DataFrame], period: str, freq: str
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lifetimes' own deprecation warnings, on import only
        from lifetimes.utils import summary_data_from_transaction_data
    contacts, events = generated
    orders = events[(events.event == "Order Completed") & (events.timestamp <= AS_OF)].copy()
    orders["date"] = orders.timestamp.dt.tz_convert("UTC").dt.tz_localize(None)
    orders["revenue"] = orders.revenue.fillna(0.0)
    expected = summary_data_from_transaction_data(
        orders,
        "contact_id",
        "date",
        monetary_value_col="revenue",
        observation_period_end=AS_OF.replace(tzinfo=None),
        freq=freq,
    )
    ours = compute(contacts, events, config=FeaturesConfig(btyd_period=period))  # type: ignore[arg-type]
    ours = ours.loc[expected.index]
    assert len(expected) > 300
    np.testing.assert_array_equal(ours.btyd_frequency, expected.frequency)
    np.testing.assert_array_equal(ours.btyd_recency, expected.recency)
    np.testing.assert_array_equal(ours.btyd_T, expected["T"])
    np.testing.assert_allclose(ours.btyd_monetary_value, expected.monetary_value, rtol=1e-9)


def test_a_workspace_without_events_gets_defined_values() -> None:
    features = compute(contacts_frame(), events_frame().iloc[0:0])
    assert (features.order_count == 0).all()
    assert (features.rfm_group == "Prospects").all()
    assert features.engagement_tier.isin(["new", "dormant"]).all()
    assert features.as_of.iloc[0] == pd.Timestamp(AS_OF)
