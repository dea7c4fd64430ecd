"""Site behaviour: what each contact looked at, put in a cart, and left there.

- ``product_views``, ``cart_adds``, ``checkouts_started``: event counts.
- ``abandoned_carts``: a cart is the cart adds and checkouts of one contact on one UTC
  day; it is abandoned when no order follows between its first event and
  ``abandon_hours`` after its last, and that window has closed by ``as_of``.
- ``visits_7d`` / ``visits_30d`` / ``visits_90d``: UTC days with a site event (page or
  product view, cart add, checkout, order) in the last 7 / 30 / 90 days, ``as_of``'s day
  included.
- ``top_category``: the category of most product views, cart adds and orders (ties: the
  first alphabetically); ``top_category_share``: its share of those events.
"""

from __future__ import annotations

from datetime import datetime

import ibis
import ibis.expr.types as ir

from audience.features.calendar import as_of_literal, days_between, epoch_seconds
from audience.features.scope import (
    CART_EVENTS,
    ORDER,
    SITE_EVENTS,
    as_flag,
    as_of_date,
    is_event,
)

_CATEGORY_EVENTS = ("Product Viewed", "Product Added", ORDER)
VISIT_WINDOWS = (7, 30, 90)


def behaviour(events: ir.Table, as_of: datetime, abandon_hours: float) -> ir.Table:
    """One row per contact with any site event."""
    site = events.filter(is_event(events, *SITE_EVENTS))
    counts = site.group_by("contact_id").aggregate(
        product_views=is_event(site, "Product Viewed").sum().cast("int64"),
        cart_adds=is_event(site, "Product Added").sum().cast("int64"),
        checkouts_started=is_event(site, "Checkout Started").sum().cast("int64"),
    )
    # One row per contact and day first: counting days is then a plain sum.
    days = site.select("contact_id", "day").distinct()
    age = days_between(as_of_date(as_of), days.day)
    visits = days.group_by("contact_id").aggregate(
        **{f"visits_{window}d": as_flag(age < window).sum() for window in VISIT_WINDOWS}
    )
    counts = counts.join(visits, "contact_id")
    carts = abandoned_carts(events, as_of, abandon_hours)
    categories = top_categories(events)
    joined = counts.left_join(carts, "contact_id").left_join(categories, "contact_id")
    return joined.select(
        "contact_id",
        "product_views",
        "cart_adds",
        "checkouts_started",
        abandoned_carts=joined.abandoned_carts.fill_null(0).cast("int64"),
        **{f"visits_{days}d": f"visits_{days}d" for days in VISIT_WINDOWS},
        top_category=joined.top_category,
        top_category_share=joined.top_category_share,
    )


def abandoned_carts(events: ir.Table, as_of: datetime, abandon_hours: float) -> ir.Table:
    """Abandoned carts per contact (contacts without any are absent)."""
    window = round(abandon_hours * 3600)
    cart_events = events.filter(is_event(events, *CART_EVENTS))
    carts = cart_events.group_by(["contact_id", "day"]).aggregate(
        opened=epoch_seconds(cart_events.timestamp.min()),
        closes=epoch_seconds(cart_events.timestamp.max()) + window,
    )
    as_of_seconds = epoch_seconds(as_of_literal(as_of))
    carts = carts.filter(carts.closes <= as_of_seconds)
    orders = events.filter(is_event(events, ORDER))
    orders = orders.select(order_contact=orders.contact_id, at=epoch_seconds(orders.timestamp))
    abandoned = carts.anti_join(
        orders,
        [
            carts.contact_id == orders.order_contact,
            orders.at >= carts.opened,
            orders.at <= carts.closes,
        ],
    )
    return abandoned.group_by("contact_id").aggregate(abandoned_carts=abandoned.count())


def top_categories(events: ir.Table) -> ir.Table:
    """Each contact's most frequent category and its share."""
    tagged = events.filter(is_event(events, *_CATEGORY_EVENTS) & events.category.notnull())
    per_category = tagged.group_by(["contact_id", "category"]).aggregate(n=tagged.count())
    ranked = per_category.mutate(
        rank=ibis.row_number().over(
            group_by=per_category.contact_id,
            order_by=[per_category.n.desc(), per_category.category.asc()],
        ),
        total=per_category.n.sum().over(group_by=per_category.contact_id),
    )
    top = ranked.filter(ranked.rank == 0)
    return top.select(
        "contact_id",
        top_category=top.category,
        top_category_share=top.n.cast("float64") / top.total.cast("float64"),
    )
