"""Calendar helpers give the same, hand-computed answers on DuckDB, PostgreSQL and Spark.

Every engine test runs with the Python process in New York time, against engines whose own
default zone is New York too (see tests/engine_fixtures.py): instants are chosen so that
any local-time leak moves a date.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd
import pytest

from audience.errors import ConfigError
from audience.features.calendar import (
    as_of_literal,
    days_between,
    epoch_seconds,
    hours_between,
    period_start,
    periods_between,
    utc_date,
)
from audience.store.engines import load_tables
from tests.engine_fixtures import ENGINES, backend_for, rows

pytestmark = pytest.mark.usefixtures("new_york_local_time")

Columns = Callable[[ir.Table], dict[str, ir.Value]]


def _utc(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text).replace(tzinfo=UTC)


def computed(
    backend: ibis.BaseBackend, data: dict[str, list[str | None]], columns: Columns
) -> list[dict[str, Any]]:
    """Load ``data`` (instants as ISO text in UTC), return the rows of ``columns`` in order."""
    frame = pd.DataFrame(
        {
            name: pd.Series([_utc(v) for v in values], dtype="datetime64[us, UTC]")
            for name, values in data.items()
        }
    )
    frame.insert(0, "id", range(len(frame)))
    load_tables(backend, {"calendar_cases": frame})
    table = backend.table("calendar_cases")
    return rows(table.select("id", **columns(table)).order_by("id"))


# later, earlier, whole UTC calendar days between them: why the case is there.
DAY_CASES = [
    ("2024-01-02T00:00:01", "2024-01-01T23:59:59", 1),  # two seconds, across midnight
    ("2024-01-01T23:59:59", "2024-01-01T00:00:00", 0),  # almost a day, same date
    ("2024-03-01T00:00:00", "2024-02-28T23:59:59", 2),  # the leap day in between
    ("2024-02-29T12:00:00", "2023-02-28T12:00:00", 366),  # a leap year
    ("2025-01-01T00:00:00", "2024-12-31T23:59:59", 1),  # year end
    ("2024-03-31T22:30:00", "2024-03-31T00:30:00", 0),  # Paris springs forward; Paris days 1
    ("2024-10-27T22:30:00", "2024-10-26T22:30:00", 1),  # Paris falls back; Paris days 0
    ("2024-03-10T03:30:00", "2024-03-09T05:30:00", 1),  # New York springs forward; NY days 0
    ("2024-11-03T06:30:00", "2024-11-03T05:30:00", 0),  # both 01:30 in New York
    ("2024-11-04T04:30:00", "2024-11-03T04:30:00", 1),  # New York falls back; NY days 0
    ("2024-01-01T00:00:00", "2024-01-02T00:00:00", -1),  # earlier after later: negative
    (None, "2024-01-01T00:00:00", None),
    ("2024-01-01T00:00:00", None, None),
]


def test_days_between_counts_utc_calendar_dates(engine: ibis.BaseBackend) -> None:
    later, earlier, expected = zip(*DAY_CASES, strict=True)
    got = computed(
        engine,
        {"later": list(later), "earlier": list(earlier)},
        lambda t: {"days": days_between(utc_date(t.later), utc_date(t.earlier))},
    )
    assert [row["days"] for row in got] == list(expected)


def test_utc_date_is_the_date_in_utc(engine: ibis.BaseBackend) -> None:
    instants = {
        "2024-11-03T04:30:00": date(2024, 11, 3),  # 00:30 EDT on the 3rd in New York
        "2024-03-10T03:30:00": date(2024, 3, 10),  # 22:30 EST on the 9th in New York
        "2024-10-27T22:30:00": date(2024, 10, 27),  # 23:30 CET in Paris, still the 27th
        "2024-12-31T23:59:59.999999": date(2024, 12, 31),
        "2024-02-29T00:00:00": date(2024, 2, 29),
    }
    got = computed(engine, {"at": list(instants)}, lambda t: {"day": utc_date(t.at)})
    assert [row["day"] for row in got] == list(instants.values())


def test_naive_timestamp_delta_disagrees_where_days_between_does_not(
    request: pytest.FixtureRequest,
) -> None:
    # Ibis's delta(unit="day") on timestamps: DuckDB counts the midnights crossed
    # (date_diff), PostgreSQL and Spark count whole 24-hour spans. If an upgrade makes them
    # agree, this fails: update calendar.py's docstring, not the expectation.
    data = {"later": ["2024-01-02T00:00:01"], "earlier": ["2024-01-01T23:59:59"]}

    def both(t: ir.Table) -> dict[str, ir.Value]:
        return {
            "naive": t.later.delta(t.earlier, unit="day"),
            "days": days_between(utc_date(t.later), utc_date(t.earlier)),
        }

    got = {name: computed(backend_for(name, request), data, both)[0] for name in ENGINES}
    assert {name: row["naive"] for name, row in got.items()} == {
        "duckdb": 1,
        "postgres": 0,
        "spark": 0,
    }
    assert {name: row["days"] for name, row in got.items()} == dict.fromkeys(ENGINES, 1)


def test_epoch_seconds_floors_to_the_second(engine: ibis.BaseBackend) -> None:
    # Seconds worked out with calendar.timegm; fractions are floored, also before 1970.
    instants = {
        "1970-01-01T00:00:00": 0,
        "1969-12-31T23:59:59.5": -1,
        "2025-01-01T00:00:00.5": 1_735_689_600,
        "2024-01-01T12:00:00.999999": 1_704_110_400,
        "2024-11-03T06:30:00": 1_730_615_400,
    }
    got = computed(engine, {"at": list(instants)}, lambda t: {"s": epoch_seconds(t.at)})
    assert [row["s"] for row in got] == list(instants.values())


def test_hours_between_measures_elapsed_time(engine: ibis.BaseBackend) -> None:
    cases = [
        ("2024-03-10T08:00:00", "2024-03-10T06:00:00", 2.0),  # New York clocks show 3 hours
        ("2024-01-02T00:00:01", "2024-01-01T23:59:59", 2 / 3600),
        ("2024-01-01T00:00:00", "2024-01-02T00:00:00", -24.0),
        ("2025-01-01T00:00:00.5", "2024-12-31T23:59:59.75", 1 / 3600),  # each floored first
    ]
    later, earlier, expected = zip(*cases, strict=True)
    got = computed(
        engine,
        {"later": list(later), "earlier": list(earlier)},
        lambda t: {"hours": hours_between(t.later, t.earlier)},
    )
    assert [row["hours"] for row in got] == pytest.approx(list(expected), rel=1e-12)


def test_week_starts_on_monday(engine: ibis.BaseBackend) -> None:
    mondays = {
        "2024-02-29T23:00:00": date(2024, 2, 26),  # Thursday of a leap week
        "2024-03-03T12:00:00": date(2024, 2, 26),  # Sunday ends the week
        "2024-03-04T00:00:00": date(2024, 3, 4),  # Monday starts one
        "2021-01-03T00:00:00": date(2020, 12, 28),  # Sunday of ISO week 53 of 2020
        "2025-01-01T00:00:00": date(2024, 12, 30),  # the week spans the year end
    }
    got = computed(
        engine,
        {"at": list(mondays)},
        lambda t: {
            "week": period_start(utc_date(t.at), "week"),
            "day": period_start(utc_date(t.at), "day"),
        },
    )
    assert [row["week"] for row in got] == list(mondays.values())
    assert [row["day"] for row in got] == [date.fromisoformat(text[:10]) for text in mondays]


def _dates() -> list[date]:
    spans = [("2020-12-20", "2021-01-15"), ("2023-12-15", "2025-01-10")]
    return [day.date() for start, end in spans for day in pd.date_range(start, end, freq="D")]


ANCHORS = [date(2024, 1, 3), date(2024, 1, 7), date(2024, 1, 8)]  # Wednesday, Sunday, Monday


def test_weeks_match_pandas_weekly_periods(engine: ibis.BaseBackend) -> None:
    pairs = [(day, anchor) for day in _dates() for anchor in ANCHORS]
    later = [f"{day}T23:59:59" for day, _ in pairs]
    earlier = [f"{anchor}T00:00:00" for _, anchor in pairs]
    got = computed(
        engine,
        {"later": later, "earlier": earlier},
        lambda t: {
            "start": period_start(utc_date(t.later), "week"),
            "weeks": periods_between(utc_date(t.later), utc_date(t.earlier), "week"),
        },
    )
    # pandas' "W" is W-SUN: weeks ending on Sunday, as lifetimes' summaries use them.
    expected = [
        {
            "start": pd.Period(day, freq="W").start_time.date(),
            "weeks": (pd.Period(day, freq="W") - pd.Period(anchor, freq="W")).n,
        }
        for day, anchor in pairs
    ]
    assert [{k: row[k] for k in ("start", "weeks")} for row in got] == expected


def test_periods_between_by_hand(engine: ibis.BaseBackend) -> None:
    cases = [
        # later, earlier, weeks, days
        ("2024-01-07T23:00:00", "2024-01-01T01:00:00", 0, 6),  # Monday to Sunday
        ("2024-01-08T00:00:00", "2024-01-07T23:59:59", 1, 1),  # Sunday night to Monday
        ("2024-01-01T00:00:00", "2024-01-08T00:00:00", -1, -7),
        ("2025-01-01T00:00:00", "2024-01-01T00:00:00", 52, 366),
    ]
    later, earlier, weeks, days = zip(*cases, strict=True)
    got = computed(
        engine,
        {"later": list(later), "earlier": list(earlier)},
        lambda t: {
            "weeks": periods_between(utc_date(t.later), utc_date(t.earlier), "week"),
            "days": periods_between(utc_date(t.later), utc_date(t.earlier), "day"),
        },
    )
    assert [row["weeks"] for row in got] == list(weeks)
    assert [row["days"] for row in got] == list(days)


AS_OF = datetime(2025, 6, 30, 12, 0, 0, 1, tzinfo=UTC)  # one microsecond past noon
AROUND_AS_OF = {
    # instant, kept (at or before as_of), whole days from its date to as_of's date
    "2025-06-30T12:00:00": (True, 0),  # a microsecond before
    "2025-06-30T12:00:00.000001": (True, 0),  # exactly as_of
    "2025-06-30T12:00:00.000002": (False, 0),  # a microsecond after
    "2025-06-30T23:59:59": (False, 0),  # same date, later
    "2025-06-29T23:59:59.999999": (True, 1),
    "2025-07-01T00:00:00": (False, -1),
}


def test_as_of_literal_keeps_events_up_to_and_including_as_of(engine: ibis.BaseBackend) -> None:
    # The same instant written in three zones is one literal.
    moments = {
        "utc": as_of_literal(AS_OF),
        "paris": as_of_literal(AS_OF.astimezone(timezone(timedelta(hours=2)))),
        "new_york": as_of_literal(AS_OF.astimezone(timezone(timedelta(hours=-4)))),
    }
    got = computed(
        engine,
        {"at": list(AROUND_AS_OF)},
        lambda t: {
            **{zone: t.at <= moment for zone, moment in moments.items()},
            "age": days_between(utc_date(moments["utc"]), utc_date(t.at)),
        },
    )
    kept = [expected for expected, _ in AROUND_AS_OF.values()]
    for zone in moments:
        assert [row[zone] for row in got] == kept, zone
    assert [row["age"] for row in got] == [age for _, age in AROUND_AS_OF.values()]


def test_as_of_literal_refuses_a_naive_datetime() -> None:
    with pytest.raises(ConfigError, match="as_of must carry a time zone"):
        as_of_literal(datetime(2025, 6, 30, 12))


def test_period_must_be_day_or_week() -> None:
    day = ibis.literal(date(2024, 1, 1))
    with pytest.raises(ConfigError, match="period must be 'day' or 'week', got 'month'"):
        period_start(day, "month")  # type: ignore[arg-type]
