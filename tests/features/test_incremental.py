"""``refresh_features`` against ``compute_features``, its oracle: the same rows, run and summary.

A generated audience is cut in two periods at ``D1``: the workspace ingests the first,
computes the features at ``D1``, ingests the rest and refreshes them at ``D2``; the full
compute at ``D2`` on the same tables is the expected answer, every column equal. Only the
summary's means and quantiles are compared to 1e-12 relative: DuckDB averages floats in no
fixed order.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

import pandas as pd
import pytest

from audience import Workspace
from audience.config import FeaturesConfig
from audience.features.compute import compute_features
from audience.features.incremental import refresh_features
from audience.features.summary import FeatureRefresh, FeatureReport, FeatureStat
from audience.store.features_table import count_features, read_features
from audience.synth import GenerateResult, generate
from tests.features.periods import split_events

# The data run to a Thursday; the refreshes stop on Tuesday evening, after a newsletter
# went out (Tuesdays and Fridays), so later events must be ignored.
DATA_END = datetime(2026, 3, 5, 12, 0, tzinfo=UTC)
D2 = datetime(2026, 3, 3, 20, 0, tzinfo=UTC)
DAY_BEFORE = D2 - timedelta(days=1)


@pytest.fixture(scope="module")
def audience(tmp_path_factory: pytest.TempPathFactory) -> GenerateResult:
    return generate(tmp_path_factory.mktemp("audience"), contacts=2500, seed=7, as_of=DATA_END)


@dataclass(frozen=True)
class Stored:
    """What a features step left at an as_of."""

    report: FeatureReport
    rows: pd.DataFrame
    run: list[tuple[str, str]]
    """The RFM baseline run's memberships, sorted."""


def stored(ws: Workspace, report: FeatureReport) -> Stored:
    db = ws.database
    run = db.con.execute(
        "SELECT contact_id, segment_id FROM memberships m JOIN runs r USING (run_id) "
        "WHERE r.as_of = ? AND run_id LIKE 'rfm-%' ORDER BY 1",
        [report.as_of],
    ).fetchall()
    return Stored(report, read_features(db, report.as_of), [tuple(row) for row in run])


def refreshed_and_full(
    ws: Workspace, d1: datetime, d2: datetime, config: FeaturesConfig
) -> tuple[Stored, Stored]:
    """The refresh at ``d2`` from ``d1``, then the full compute at ``d2`` (same tables)."""
    db = ws.database
    refresh = refresh_features(db, config, d2, previous_as_of=d1, created_at=d2)
    assert count_features(db, d1) > 0  # the table was not rebuilt: the types matched
    first = stored(ws, refresh)
    full = compute_features(db, config, d2, created_at=d2)
    return first, stored(ws, full)


def assert_same_features(got: pd.DataFrame, want: pd.DataFrame) -> None:
    assert list(got.contact_id) == list(want.contact_id)
    assert list(got.columns) == list(want.columns)
    assert list(got.dtypes) == list(want.dtypes)
    for column in want.columns:
        a, b = got[column], want[column]
        same = ((a == b) | (a.isna() & b.isna())).to_numpy(dtype=bool)
        differing = want.contact_id[~same].tolist()[:5]
        assert same.all(), (
            f"{column} differs for {differing}: {a[~same][:5].tolist()} vs {b[~same][:5].tolist()}"
        )


def assert_same_summary(got: list[FeatureStat], want: list[FeatureStat]) -> None:
    for a, b in zip(got, want, strict=True):
        assert (a.feature, a.missing, a.distinct, a.top) == (
            b.feature,
            b.missing,
            b.distinct,
            b.top,
        )
        for name in ("mean", "p50", "p99"):
            x, y = getattr(a, name), getattr(b, name)
            assert x == y or x == pytest.approx(y, rel=1e-12), (a.feature, name, x, y)


def carried_forward(stored: Stored) -> FeatureRefresh:
    """How the refresh went, which must have carried features forward."""
    outcome = stored.report.refresh
    assert outcome is not None
    assert outcome.incremental, outcome.fallback
    assert outcome.fallback is None
    return outcome


def assert_same(refresh: Stored, full: Stored) -> None:
    assert_same_features(refresh.rows, full.rows)
    assert refresh.run == full.run
    assert refresh.report.contacts == full.report.contacts
    assert_same_summary(refresh.report.stats, full.report.stats)


def contacts_of(audience: GenerateResult) -> pd.DataFrame:
    """The generated contacts file, every cell as written."""
    return pd.read_csv(audience.contacts_path, dtype=str, keep_default_na=False)


class Periods(Protocol):
    def __call__(
        self,
        d1: datetime,
        config: FeaturesConfig,
        *,
        late_per_mille: int = 0,
        first_contacts: Path | None = None,
        later_contacts: Path | None = None,
    ) -> Workspace: ...


@pytest.fixture
def periods(tmp_path: Path, audience: GenerateResult) -> Iterator[Periods]:
    """Workspaces with the first period ingested, its features computed at ``d1``, and
    then the rest ingested (the events after ``d1``, and any held back as late)."""
    opened: list[Workspace] = []

    def at(
        d1: datetime,
        config: FeaturesConfig,
        *,
        late_per_mille: int = 0,
        first_contacts: Path | None = None,
        later_contacts: Path | None = None,
    ) -> Workspace:
        first, second = split_events(
            audience.events_path, d1, tmp_path / "cut", late_per_mille=late_per_mille
        )
        ws = Workspace.init(tmp_path / f"ws{len(opened)}")
        opened.append(ws)
        # Ingested "at d1", the contacts file loses those who sign up later (quarantined as
        # in the future); ingested again later, it brings them, as a newer export would.
        ws.ingest(first_contacts or audience.contacts_path, now=d1)
        ws.ingest(first, kind="events", now=d1)
        compute_features(ws.database, config, d1, created_at=d1)
        ws.ingest(second, kind="events", now=DATA_END)
        ws.ingest(later_contacts or audience.contacts_path, now=DATA_END)
        return ws

    yield at
    for ws in opened:
        ws.close()


@pytest.mark.parametrize("days", [1, 8, pytest.param(40, marks=pytest.mark.slow)])
def test_a_refresh_stores_what_a_full_compute_would(periods: Periods, days: int) -> None:
    config = FeaturesConfig()
    d1 = D2 - timedelta(days=days)
    ws = periods(d1, config)
    refresh, full = refreshed_and_full(ws, d1, D2, config)
    assert_same(refresh, full)
    outcome = carried_forward(refresh)
    assert outcome.recomputed + outcome.carried == full.report.contacts


def test_a_newsletter_day_needs_few_contacts_computed_from_their_history(
    periods: Periods,
) -> None:
    """The day's send touches most contacts; their email features follow from their rows."""
    config = FeaturesConfig()
    d1 = DAY_BEFORE
    ws = periods(d1, config)
    sent = ws.database.con.execute(
        "SELECT count(DISTINCT contact_id) FROM events WHERE event = 'Email Delivered' "
        "AND timestamp > ? AND timestamp <= ?",
        [d1, D2],
    ).fetchall()[0][0]
    refresh, full = refreshed_and_full(ws, d1, D2, config)
    assert_same(refresh, full)
    assert sent > full.report.contacts / 10
    assert carried_forward(refresh).recomputed < sent / 2


def test_refreshes_from_refreshes_stay_equal_to_a_full_compute(periods: Periods) -> None:
    """Three daily refreshes in a row, each from the last one's features."""
    config = FeaturesConfig()
    days = [D2 - timedelta(days=n) for n in (3, 2, 1)]
    ws = periods(days[0], config)
    for previous, as_of in itertools.pairwise(days):
        report = refresh_features(
            ws.database, config, as_of, previous_as_of=previous, created_at=as_of
        )
        assert report.refresh is not None
        assert report.refresh.incremental
    refresh, full = refreshed_and_full(ws, days[-1], D2, config)
    assert_same(refresh, full)
    carried_forward(refresh)


def test_late_events_are_counted(periods: Periods) -> None:
    """2 % of the events up to d1 arrive only with the next period's file."""
    config = FeaturesConfig()
    d1 = DAY_BEFORE
    ws = periods(d1, config, late_per_mille=20)
    refresh, full = refreshed_and_full(ws, d1, D2, config)
    assert_same(refresh, full)
    carried_forward(refresh)


def test_changed_new_and_dropped_contacts_are_computed_again(
    periods: Periods, audience: GenerateResult, tmp_path: Path
) -> None:
    config = FeaturesConfig()
    changed = contacts_of(audience)
    old = changed[changed["Signup Date"] < "2025-06-01"].index
    changed.loc[old[0], "Email Consent"] = "unsubscribed"
    changed.loc[old[1], "Email Consent"] = "cleaned"
    changed.loc[old[2], "Country"] = "FR" if changed.loc[old[2], "Country"] != "FR" else "DE"
    changed.loc[old[3], "Signup Date"] = "2026-03-04T00:00:00Z"  # now after D2
    new = changed.loc[[old[4]]].assign(
        **{"Customer ID": "C0999999", "Email Address": "new.one@example.com"},
        **{"Signup Date": "2026-03-03T09:00:00Z"},
    )
    path = tmp_path / "contacts-later.csv"
    pd.concat([changed, new]).to_csv(path, index=False)
    ws = periods(DAY_BEFORE, config, later_contacts=path)
    refresh, full = refreshed_and_full(ws, DAY_BEFORE, D2, config)
    assert_same(refresh, full)
    rows = refresh.rows.set_index("contact_id")
    ids = changed["Customer ID"]
    assert rows.loc[ids[old[0]], "is_unsubscribed"] == 1
    assert rows.loc[ids[old[1]], "is_bounced"] == 1
    assert rows.loc[ids[old[2]], "country"] == changed.loc[old[2], "Country"]
    assert ids[old[3]] not in rows.index
    assert rows.loc["C0999999", "tenure_days"] == 0


def test_a_contact_arriving_after_its_events_is_computed_from_them(
    periods: Periods, audience: GenerateResult, tmp_path: Path
) -> None:
    """Its events were stored at d1 but left out (no contact row); the row comes later."""
    config = FeaturesConfig()
    contacts = contacts_of(audience)
    first = tmp_path / "contacts-first.csv"
    contacts.iloc[1:].to_csv(first, index=False)
    ws = periods(DAY_BEFORE, config, first_contacts=first)
    refresh, full = refreshed_and_full(ws, DAY_BEFORE, D2, config)
    assert_same(refresh, full)
    late = refresh.rows.set_index("contact_id").loc[contacts["Customer ID"][0]]
    assert late.emails_delivered > 0


def test_week_periods_move_with_the_weeks(periods: Periods) -> None:
    config = FeaturesConfig(btyd_period="week")
    d1 = D2 - timedelta(days=8)
    ws = periods(d1, config)
    refresh, full = refreshed_and_full(ws, d1, D2, config)
    assert_same(refresh, full)
    carried_forward(refresh)
