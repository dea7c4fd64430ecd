"""``refresh_features`` on hand-made audiences: the hand-computed values, the email
tallies read back from a stored row, and every reason to compute everything instead."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest

from audience import Workspace
from audience.config import FeaturesConfig
from audience.features.compute import compute_features
from audience.features.incremental import refresh_features
from audience.features.scope import EMAIL_EVENTS, SITE_EVENTS
from audience.features.summary import FeatureReport
from audience.features.table import FEATURE_COLUMNS
from audience.features.touched import (
    CONTACT_COLUMNS,
    EMAIL_COLUMNS,
    RANKED_COLUMNS,
    SITE_COLUMNS,
    VISIT_COLUMNS,
)
from audience.store.features_table import read_features
from audience.store.id_keys import id_key_sql
from tests.features.fixture import AS_OF, EXPECTED, contacts_frame, events_frame, insert_rows
from tests.features.test_definitions import compute

CONFIG = FeaturesConfig()


@pytest.fixture
def filled(workspace: Workspace) -> Workspace:
    insert_rows(workspace.database.con, contacts_frame(), events_frame())
    return workspace


def refreshed(ws: Workspace, days: int, config: FeaturesConfig = CONFIG) -> FeatureReport:
    """Features computed ``days`` before ``AS_OF``, then refreshed at ``AS_OF``."""
    before = AS_OF - timedelta(days=days)
    compute_features(ws.database, config, before, created_at=before)
    return refresh_features(ws.database, config, AS_OF, previous_as_of=before, created_at=AS_OF)


def features_at_as_of(ws: Workspace) -> pd.DataFrame:
    return read_features(ws.database, AS_OF).set_index("contact_id")[list(EXPECTED.columns)]


def assert_equal_frames(got: pd.DataFrame, want: pd.DataFrame) -> None:
    assert list(got.index) == list(want.index)
    for column in want.columns:
        a, b = got[column], want[column]
        if pd.api.types.is_numeric_dtype(b):
            # Hand-written fractions such as 4 / 6 are the engine's to the last bit.
            same = np.isclose(a.astype(float), b.astype(float), rtol=1e-15, atol=0, equal_nan=True)
        else:
            same = ((a == b) | (a.isna() & b.isna())).to_numpy(dtype=bool)
        assert same.all(), f"{column}: got {a[~same].tolist()}, expected {b[~same].tolist()}"


@pytest.mark.parametrize("days", [1, 2, 8, 100])
def test_a_refresh_gives_the_hand_computed_features(filled: Workspace, days: int) -> None:
    """From a day (A's late orders, B's open cart), two (B's cart abandoned since), eight
    (visits leaving the 7-day window) or a hundred days back (B signs up in between)."""
    report = refreshed(filled, days)
    assert report.refresh is not None
    assert report.refresh.incremental, report.refresh.fallback
    assert_equal_frames(features_at_as_of(filled), EXPECTED)


# Person and proxy opened different campaigns, one of them never delivered (its delivery
# predates the data): 2 campaigns opened, 1 delivered, the stored open rate capped at 1.
_CAPPED: list[tuple[Any, ...]] = [
    ("Delivered", "2025-06-01T09:00:00", "cmp1", None),
    ("Opened", "2025-06-01T10:00:00", "cmp1", False),
    ("Opened", "2025-06-02T09:00:00", "cmp0", True),
]


def _email(contact: str, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    names = {
        "Delivered": "Email Delivered",
        "Opened": "Email Opened",
        "Clicked": "Email Link Clicked",
    }
    return [
        (contact, names[kind], ts, None, None, campaign, machine, None)
        for kind, ts, campaign, machine in rows
    ]


def test_capped_open_rates_are_computed_again_when_the_new_events_need_the_count(
    workspace: Workspace,
) -> None:
    """G: a new delivery without an open needs the true count of campaigns opened (2, so
    the rate stays 1; the lower bound 1 would give 0.5). H: its first click needs it too
    for the click-to-open rate (1 of 3 campaigns engaged; the bound would give 1 of 2)."""
    later = [("Delivered", "2025-06-25T09:00:00", "cmp2", None)]
    clicked = [*later, ("Opened", "2025-06-25T09:01:00", "cmp2", True)]
    clicked.append(("Clicked", "2025-06-25T10:00:00", "cmp2", None))
    contacts = [(c, "US", "2024-01-01T00:00:00", "subscribed") for c in ("G", "H")]
    events = _email("G", _CAPPED + later) + _email("H", _CAPPED + clicked)
    insert_rows(workspace.database.con, contacts_frame(contacts), events_frame(events))
    refreshed(workspace, 10)
    rows = read_features(workspace.database, AS_OF).set_index("contact_id")
    assert rows.loc["G", "open_rate_all"] == 1.0
    assert rows.loc["H", "ctor"] == pytest.approx(1 / 3, rel=1e-15)
    compute_features(workspace.database, CONFIG, AS_OF, created_at=AS_OF)
    full = read_features(workspace.database, AS_OF).set_index("contact_id")
    assert_equal_frames(rows[list(EXPECTED.columns)], full[list(EXPECTED.columns)])


def test_an_as_of_not_after_the_previous_one_computes_everything(
    filled: Workspace, caplog: pytest.LogCaptureFixture
) -> None:
    compute_features(filled.database, CONFIG, AS_OF, created_at=AS_OF)
    with caplog.at_level(logging.INFO, logger="audience.features.incremental"):
        report = refresh_features(
            filled.database, CONFIG, AS_OF, previous_as_of=AS_OF, created_at=AS_OF
        )
    assert report.refresh is not None
    assert not report.refresh.incremental
    assert "is not after previous_as_of" in str(report.refresh.fallback)
    assert "computing every contact, because as_of" in caplog.text
    assert_equal_frames(features_at_as_of(filled), EXPECTED)


def _spoil(sql: str) -> Callable[[Workspace], None]:
    return lambda ws: ws.database.con.execute(sql, [AS_OF - timedelta(days=3)])


_EXTRA_EVENT = (
    "INSERT INTO events SELECT 'extra', 'A', NULL, 'Email Delivered', ?, NULL, NULL, NULL, "
    "NULL, NULL, NULL, 'cmp9', NULL, NULL, 'nobody', " + id_key_sql("'extra'")
)


@pytest.mark.parametrize(
    ("spoil", "reason"),
    [
        pytest.param(_spoil("DELETE FROM features WHERE as_of = ?"), "no features are stored",
                     id="nothing stored"),
        pytest.param(_spoil("DELETE FROM feature_sets WHERE as_of = ?"), "there is no record",
                     id="no record"),
        pytest.param(_spoil("UPDATE feature_sets SET definitions = 'older' WHERE as_of = ?"),
                     "definitions changed", id="definitions changed"),
        pytest.param(_spoil("DELETE FROM features WHERE contact_id = 'A' AND as_of = ?"),
                     "changed after they were recorded", id="rows deleted"),
        pytest.param(_spoil("DELETE FROM events WHERE message_id = 'm4' AND timestamp < ?"),
                     "events changed outside ingests", id="events deleted"),
        pytest.param(_spoil(_EXTRA_EVENT), "events changed outside ingests", id="events added"),
    ],
)  # fmt: skip
def test_features_that_cannot_be_carried_forward_are_computed_again(
    filled: Workspace, spoil: Callable[[Workspace], None], reason: str
) -> None:
    before = AS_OF - timedelta(days=3)
    compute_features(filled.database, CONFIG, before, created_at=before)
    spoil(filled)
    report = refresh_features(
        filled.database, CONFIG, AS_OF, previous_as_of=before, created_at=AS_OF
    )
    assert report.refresh is not None
    assert not report.refresh.incremental
    assert reason in str(report.refresh.fallback)
    rows = features_at_as_of(filled)
    compute_features(filled.database, CONFIG, AS_OF, created_at=AS_OF)
    assert_equal_frames(rows, features_at_as_of(filled))


def test_another_features_config_computes_everything(filled: Workspace) -> None:
    before = AS_OF - timedelta(days=3)
    compute_features(filled.database, CONFIG, before, created_at=before)
    shorter = FeaturesConfig(abandon_hours=12, memory_limit="2GB")
    report = refresh_features(
        filled.database, shorter, AS_OF, previous_as_of=before, created_at=AS_OF
    )
    assert report.refresh is not None
    assert report.refresh.fallback == (
        "the features config differs from theirs (abandon_hours 24.0 → 12.0)"
    )


def test_the_memory_limit_is_not_part_of_the_definitions(filled: Workspace) -> None:
    before = AS_OF - timedelta(days=3)
    compute_features(filled.database, CONFIG, before, created_at=before)
    report = refresh_features(
        filled.database,
        FeaturesConfig(memory_limit="2GB"),
        AS_OF,
        previous_as_of=before,
        created_at=AS_OF,
    )
    assert report.refresh is not None
    assert report.refresh.incremental


def test_every_feature_has_one_source() -> None:
    groups = [EMAIL_COLUMNS, SITE_COLUMNS, CONTACT_COLUMNS, RANKED_COLUMNS]
    every = [column for group in groups for column in group]
    assert sorted(every) == sorted(FEATURE_COLUMNS)
    assert set(VISIT_COLUMNS) <= set(SITE_COLUMNS)


@pytest.mark.parametrize(
    ("kinds", "columns"),
    [(EMAIL_EVENTS, EMAIL_COLUMNS), (SITE_EVENTS, SITE_COLUMNS + CONTACT_COLUMNS)],
)
def test_a_kind_of_features_reads_its_kind_of_events_alone(
    kinds: tuple[str, ...], columns: tuple[str, ...]
) -> None:
    """What a refresh relies on to compute only the kind of features that changed."""
    events = events_frame()
    alone = compute(contacts_frame(), events[events.event.isin(kinds)])
    assert_equal_frames(alone[list(columns)], EXPECTED[list(columns)])


def test_visits_read_the_last_90_days_of_site_events_alone() -> None:
    events = events_frame()
    recent = events[events.timestamp >= AS_OF.replace(hour=0) - timedelta(days=89)]
    alone = compute(contacts_frame(), recent)
    assert_equal_frames(alone[list(VISIT_COLUMNS)], EXPECTED[list(VISIT_COLUMNS)])
