"""The BTYD summary of Fader, Hardie and Lee, as lifetimes'
``summary_data_from_transaction_data`` computes it.

Orders are grouped into periods (a UTC day, or an ISO week starting on Monday); several
orders in one period count as one purchase whose value is their sum. Per contact:

- ``btyd_frequency``: repeat purchase periods (periods with an order, minus the first);
- ``btyd_recency``: periods from the first purchase period to the last;
- ``btyd_T``: periods from the first purchase period to ``as_of``'s period;
- ``btyd_monetary_value``: mean value of the repeat periods (0 without repeats).

Contacts who never ordered have frequency 0 and the rest missing (lifetimes leaves them
out of the summary altogether).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import ibis
import ibis.expr.types as ir

from audience.features.calendar import period_start, periods_between
from audience.features.rfm import MONEY
from audience.features.scope import as_of_date

Period = Literal["day", "week"]


def btyd_summary(orders: ir.Table, as_of: datetime, period: Period = "day") -> ir.Table:
    """One row per contact with at least one order."""
    dated = orders.mutate(period=period_start(orders.day, period))
    periods = dated.group_by(["contact_id", "period"]).aggregate(value=dated.revenue.sum())
    first = periods.group_by("contact_id").aggregate(first_period=periods.period.min())
    periods = periods.join(first, "contact_id")
    is_first = periods.period == periods.first_period
    summary = periods.group_by("contact_id").aggregate(
        n_periods=periods.count(),
        first_period=periods.first_period.min(),
        last_period=periods.period.max(),
        # Summed as the exact decimals they are (rfm.MONEY), then made a float.
        repeat_value=ibis.ifelse(is_first, ibis.literal(0).cast(MONEY), periods.value)
        .sum()
        .cast("float64"),
    )
    frequency = (summary.n_periods - 1).cast("int64")
    return summary.select(
        "contact_id",
        btyd_frequency=frequency,
        btyd_recency=periods_between(summary.last_period, summary.first_period, period).cast(
            "float64"
        ),
        btyd_T=periods_between(
            period_start(as_of_date(as_of), period), summary.first_period, period
        ).cast("float64"),
        btyd_monetary_value=ibis.ifelse(
            frequency > 0, summary.repeat_value / frequency.cast("float64"), 0.0
        ).cast("float64"),
    )
