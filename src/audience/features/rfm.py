"""Recency, frequency, monetary value: what each contact bought, and when.

Definitions (``orders`` are ``Order Completed`` events up to ``as_of``):

- ``recency_days``: whole days from the last order's UTC date to ``as_of``'s; missing
  for a contact who never ordered.
- ``order_count``: orders; ``revenue_total``: their revenue (a missing revenue counts 0),
  added exactly to the millionth (see :data:`MONEY`).
- ``revenue_mean``: revenue per order; missing without orders.
- ``days_between_orders_mean``: mean gap between consecutive orders in days, which is
  (last − first) / (orders − 1); missing with fewer than two orders.
"""

from __future__ import annotations

from datetime import datetime

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from audience.features.calendar import days_between
from audience.features.scope import ORDER, as_of_date, is_event

MONEY = dt.Decimal(18, 6)
"""Revenue is added as an exact decimal (rounded to the millionth, far below a cent): a sum
of floats depends on the order an engine adds them in, which DuckDB does not fix, so two
runs over the same orders differed in the last bits (and RFM scores, which rank the
totals, could split a tie differently)."""


def orders_of(events: ir.Table) -> ir.Table:
    """Order events, with revenue defaulting to 0, as :data:`MONEY`."""
    orders = events.filter(is_event(events, ORDER))
    return orders.mutate(revenue=orders.revenue.fill_null(0.0).cast(MONEY))


def rfm(orders: ir.Table, as_of: datetime) -> ir.Table:
    """One row per contact with at least one order."""
    per_contact = orders.group_by("contact_id").aggregate(
        order_count=orders.count(),
        revenue_total=orders.revenue.sum().cast("float64"),
        first_day=orders.day.min(),
        last_day=orders.day.max(),
    )
    span = days_between(per_contact.last_day, per_contact.first_day)
    repeat_gaps = (per_contact.order_count - 1).cast("float64")
    return per_contact.select(
        "contact_id",
        recency_days=days_between(as_of_date(as_of), per_contact.last_day),
        order_count=per_contact.order_count.cast("int64"),
        revenue_total=per_contact.revenue_total,
        revenue_mean=per_contact.revenue_total / per_contact.order_count.cast("float64"),
        days_between_orders_mean=ibis.ifelse(
            per_contact.order_count >= 2, span.cast("float64") / repeat_gaps, ibis.null()
        ).cast("float64"),
    )
