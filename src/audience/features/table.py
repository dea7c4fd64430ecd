"""The feature table: every step's columns joined onto the contacts that existed at ``as_of``.

A contact with no events gets defined values: counts and flags 0, rates, recencies and
averages missing (the preprocessing imputes them and adds missing indicators), tier
``new`` or ``dormant``, RFM group ``Prospects``.
"""

from __future__ import annotations

from datetime import datetime

import ibis
import ibis.expr.types as ir

from audience.config import FeaturesConfig
from audience.features.behaviour import VISIT_WINDOWS, behaviour
from audience.features.btyd import btyd_summary
from audience.features.calendar import as_of_literal, days_between, utc_date
from audience.features.engagement import engagement
from audience.features.rfm import orders_of, rfm
from audience.features.scope import (
    as_flag,
    as_of_date,
    contacts_at,
    events_at,
    with_contact_keys,
)
from audience.features.scores import PROSPECTS, rfm_scores

COUNT_COLUMNS = (
    "order_count", "btyd_frequency", "emails_delivered", "opens_human_unique",
    "opens_machine_unique", "clicks_unique", "product_views", "cart_adds",
    "checkouts_started", "abandoned_carts", *(f"visits_{d}d" for d in VISIT_WINDOWS),
)  # fmt: skip
ZERO_MONEY = ("revenue_total",)

FEATURE_COLUMNS = (
    "recency_days", "order_count", "revenue_total", "revenue_mean",
    "days_between_orders_mean", "btyd_frequency", "btyd_recency", "btyd_T",
    "btyd_monetary_value", "emails_delivered", "opens_human_unique", "opens_machine_unique",
    "clicks_unique", "open_rate_human", "open_rate_all", "ctr", "ctor",
    "days_since_last_open", "days_since_last_click", "is_bounced", "is_unsubscribed",
    "is_complained", "product_views", "cart_adds", "checkouts_started", "abandoned_carts",
    *(f"visits_{d}d" for d in VISIT_WINDOWS), "top_category", "top_category_share",
    "tenure_days", "r_score", "f_score", "m_score", "rfm_group", "engagement_tier", "country",
)  # fmt: skip


_EVENT_COLUMNS = (
    "contact_id", "kind", "timestamp", "day", "revenue", "category", "campaign_id",
    "is_machine_open", "hard_bounce",
)  # fmt: skip


def feature_table(
    contacts: ir.Table,
    events: ir.Table,
    as_of: datetime,
    config: FeaturesConfig | None = None,
    *,
    materialize: bool = False,
) -> ir.Table:
    """One row per contact existing at ``as_of``: ``contact_id``, ``as_of`` and the features.

    With ``materialize``, the events in scope are computed once into a temporary table of
    the backend (``Table.cache``) instead of once per feature group; keep the returned
    expression referenced until it has run, since the cache lives as long as it does.
    """
    config = config or FeaturesConfig()
    people = with_contact_keys(contacts_at(contacts, as_of))
    observed = events_at(events, people, as_of).select(*_EVENT_COLUMNS)
    if materialize:
        observed = observed.cache()
    orders = orders_of(observed)
    steps = [
        rfm_scores(rfm(orders, as_of)),
        btyd_summary(orders, as_of, config.btyd_period),
        engagement(observed, as_of),
        behaviour(observed, as_of, config.abandon_hours),
    ]
    # The steps are keyed by the integer contact_key (see events_at); the real id returns here.
    joined = people.select("contact_key", "contact_id", "country", "consent", "signup_at")
    for step in steps:
        step = step.rename(contact_key="contact_id")
        joined = joined.left_join(step, "contact_key").drop("contact_key_right")
    joined = _defaults(joined, as_of)
    return joined.mutate(
        engagement_tier=engagement_tier(joined, config), as_of=as_of_literal(as_of)
    ).select("contact_id", "as_of", *FEATURE_COLUMNS)


def _defaults(t: ir.Table, as_of: datetime) -> ir.Table:
    filled = {name: t[name].fill_null(0).cast("int64") for name in COUNT_COLUMNS}
    filled |= {name: t[name].fill_null(0.0).cast("float64") for name in ZERO_MONEY}
    return t.mutate(
        **filled,
        is_bounced=as_flag(
            t.bounced_event.fill_null(False) | (t.consent == "cleaned").fill_null(False)
        ),
        is_unsubscribed=as_flag(
            t.unsubscribed_event.fill_null(False) | (t.consent == "unsubscribed").fill_null(False)
        ),
        is_complained=t.is_complained.fill_null(0).cast("int64"),
        tenure_days=days_between(as_of_date(as_of), utc_date(t.signup_at)),
        rfm_group=t.rfm_group.fill_null(PROSPECTS),
    )


def engagement_tier(t: ir.Table, config: FeaturesConfig) -> ir.StringValue:
    """new / high / medium / low / dormant, by the rules documented on :class:`FeaturesConfig`."""
    last = ibis.least(
        t.days_since_last_open.fill_null(10**9), t.days_since_last_click.fill_null(10**9)
    )
    recent_click = t.days_since_last_click.fill_null(10**9) < config.high_days
    recent_open = t.days_since_last_open.fill_null(10**9) < config.high_days
    keen_reader = recent_open & (t.open_rate_human.fill_null(0.0) >= config.high_open_rate)
    return ibis.cases(
        (t.tenure_days.notnull() & (t.tenure_days < config.new_days), "new"),
        (last >= config.dormant_days, "dormant"),
        (recent_click | keen_reader, "high"),
        (last < config.medium_days, "medium"),
        else_="low",
    )
