"""The feature definitions written again in plain pandas, as a data scientist would.

It shares no code with :mod:`audience.features`: it is the oracle the Ibis definitions are
tested against, and the baseline ``bench/features.py`` measures them against.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

SITE = ["Page Viewed", "Product Viewed", "Product Added", "Checkout Started", "Order Completed"]
RFM_GROUPS = [
    ("Champions", 4, 5, 4, 5), ("Loyal", 3, 5, 4, 5), ("Potential Loyalist", 4, 5, 2, 3),
    ("New Customers", 4, 5, 1, 1), ("Need Attention", 3, 3, 3, 3), ("Promising", 3, 3, 1, 2),
    ("Can't Lose Them", 1, 2, 5, 5), ("At Risk", 1, 2, 3, 4), ("About to Sleep", 2, 2, 1, 2),
    ("Hibernating", 1, 1, 2, 2), ("Lost", 1, 1, 1, 1),
]  # fmt: skip


def features(
    contacts: pd.DataFrame,
    events: pd.DataFrame,
    as_of: datetime,
    *,
    period: str = "day",
    abandon_hours: float = 24.0,
    tiers: tuple[int, int, float, int, int] = (30, 30, 0.3, 90, 180),
) -> pd.DataFrame:
    as_of_ts = pd.Timestamp(as_of).tz_convert("UTC")
    today = as_of_ts.normalize()
    people = contacts[contacts.signup_at.isna() | (contacts.signup_at <= as_of_ts)]
    out = people.set_index("contact_id")[["country", "consent", "signup_at"]].copy()
    ev = events[events.contact_id.isin(people.contact_id) & (events.timestamp <= as_of_ts)].copy()
    ev["day"] = ev.timestamp.dt.tz_convert("UTC").dt.normalize()
    orders = ev[ev.event == "Order Completed"].assign(revenue=lambda o: o.revenue.fillna(0.0))

    g = orders.groupby("contact_id")
    rfm = pd.DataFrame(
        {
            "order_count": g.size(),
            "revenue_total": g.revenue.sum(),
            "first": g.day.min(),
            "last": g.day.max(),
        }
    )
    rfm["recency_days"] = (today - rfm["last"]).dt.days
    rfm["revenue_mean"] = rfm.revenue_total / rfm.order_count
    span = (rfm["last"] - rfm["first"]).dt.days
    rfm["days_between_orders_mean"] = np.where(
        rfm.order_count >= 2, span / (rfm.order_count - 1).clip(lower=1), np.nan
    )
    rfm = rfm.join(_btyd(orders, today, period)).join(_scores(rfm))
    out = out.join(rfm.drop(columns=["first", "last"]))
    out = out.join(_engagement(ev, today)).join(_behaviour(ev, as_of_ts, today, abandon_hours))

    for col in [
        "order_count",
        "btyd_frequency",
        "emails_delivered",
        "opens_human_unique",
        "opens_machine_unique",
        "clicks_unique",
        "product_views",
        "cart_adds",
        "checkouts_started",
        "abandoned_carts",
        "visits_7d",
        "visits_30d",
        "visits_90d",
    ]:
        out[col] = out[col].fillna(0).astype("int64")
    out["revenue_total"] = out["revenue_total"].fillna(0.0)
    out["is_bounced"] = (
        out.pop("bounced").fillna(False).astype(bool) | (out.consent == "cleaned")
    ).astype("int64")
    out["is_unsubscribed"] = (
        out.pop("unsubscribed").fillna(False).astype(bool) | (out.consent == "unsubscribed")
    ).astype("int64")
    out["is_complained"] = out["is_complained"].fillna(0).astype("int64")
    out["tenure_days"] = (today - out.signup_at.dt.normalize()).dt.days
    out["rfm_group"] = out["rfm_group"].fillna("Prospects")
    out["engagement_tier"] = _tiers(out, *tiers)
    return out.drop(columns=["consent", "signup_at"])


def _btyd(orders: pd.DataFrame, today: pd.Timestamp, period: str) -> pd.DataFrame:
    days = orders.day.dt.tz_localize(None)
    if period == "week":
        starts = days - pd.to_timedelta(days.dt.weekday, unit="D")
        step, now = 7, today.tz_localize(None) - pd.Timedelta(days=today.weekday())
    else:
        starts, step, now = days, 1, today.tz_localize(None)
    per = orders.assign(p=starts).groupby(["contact_id", "p"]).revenue.sum().reset_index()
    first = per.groupby("contact_id").p.transform("min")
    g = per.groupby("contact_id")
    freq = g.size() - 1
    repeat = per[per.p != first].groupby("contact_id").revenue.mean()
    return pd.DataFrame(
        {
            "btyd_frequency": freq,
            "btyd_recency": ((g.p.max() - g.p.min()).dt.days // step).astype(float),
            "btyd_T": ((now - g.p.min()).dt.days // step).astype(float),
            "btyd_monetary_value": repeat.reindex(freq.index).fillna(0.0),
        }
    )


def _scores(rfm: pd.DataFrame) -> pd.DataFrame:
    def score(values: pd.Series, ascending: bool) -> pd.Series:
        rank = values.rank(method="min", ascending=ascending)
        pct = (rank - 1) / max(len(values) - 1, 1)
        return np.minimum(np.floor(pct * 5).astype(int) + 1, 5)

    r = score(rfm.recency_days, ascending=False)
    f = score(rfm.order_count, ascending=True)
    m = score(rfm.revenue_total, ascending=True)
    fm = (f + m + 1) // 2
    group = pd.Series("Lost", index=rfm.index)
    for name, rlo, rhi, flo, fhi in reversed(RFM_GROUPS):
        group[(r >= rlo) & (r <= rhi) & (fm >= flo) & (fm <= fhi)] = name
    return pd.DataFrame({"r_score": r, "f_score": f, "m_score": m, "rfm_group": group})


def _engagement(ev: pd.DataFrame, today: pd.Timestamp) -> pd.DataFrame:
    email = ev[ev.event.str.startswith("Email") | (ev.event == "Unsubscribed")]
    opened = email[email.event == "Email Opened"]
    machine = opened.is_machine_open.fillna(False).astype(bool)
    clicked = email[email.event == "Email Link Clicked"]
    delivered = (email.event == "Email Delivered").groupby(email.contact_id).sum()
    out = pd.DataFrame({"emails_delivered": delivered})
    out["opens_human_unique"] = opened[~machine].groupby("contact_id").campaign_id.nunique()
    out["opens_machine_unique"] = opened[machine].groupby("contact_id").campaign_id.nunique()
    out["clicks_unique"] = clicked.groupby("contact_id").campaign_id.nunique()
    any_open = opened.groupby("contact_id").campaign_id.nunique()
    engaged = pd.concat([opened, clicked]).groupby("contact_id").campaign_id.nunique()
    out = out.fillna(
        dict.fromkeys(["opens_human_unique", "opens_machine_unique", "clicks_unique"], 0)
    )
    d = out.emails_delivered.where(out.emails_delivered > 0)
    out["open_rate_human"] = (out.opens_human_unique / d).clip(upper=1)
    out["open_rate_all"] = (any_open.reindex(out.index).fillna(0) / d).clip(upper=1)
    out["ctr"] = (out.clicks_unique / d).clip(upper=1)
    out["ctor"] = (out.clicks_unique / engaged.reindex(out.index).where(lambda x: x > 0)).clip(
        upper=1
    )
    out["days_since_last_open"] = (today - opened[~machine].groupby("contact_id").day.max()).dt.days
    out["days_since_last_click"] = (today - clicked.groupby("contact_id").day.max()).dt.days
    bounce = email[
        (email.event == "Email Bounced") & (email.bounce_type.fillna("hard").str.lower() == "hard")
    ]
    out["bounced"] = out.index.isin(bounce.contact_id)
    out["unsubscribed"] = out.index.isin(email[email.event == "Unsubscribed"].contact_id)
    out["is_complained"] = out.index.isin(
        email[email.event == "Email Marked as Spam"].contact_id
    ).astype(int)
    return out


def _behaviour(
    ev: pd.DataFrame, as_of: pd.Timestamp, today: pd.Timestamp, hours: float
) -> pd.DataFrame:
    site = ev[ev.event.isin(SITE)]
    by_contact = site.contact_id
    out = pd.DataFrame(
        {
            "product_views": (site.event == "Product Viewed").groupby(by_contact).sum(),
            "cart_adds": (site.event == "Product Added").groupby(by_contact).sum(),
            "checkouts_started": (site.event == "Checkout Started").groupby(by_contact).sum(),
        }
    )
    age = (today - site.day).dt.days
    for days in (7, 30, 90):
        out[f"visits_{days}d"] = site[age < days].groupby("contact_id").day.nunique()
    carts = ev[ev.event.isin(["Product Added", "Checkout Started"])].groupby(["contact_id", "day"])
    carts = carts.timestamp.agg(["min", "max"]).reset_index()
    carts["closes"] = carts["max"] + pd.Timedelta(seconds=round(hours * 3600))
    carts = carts[carts.closes <= as_of]
    orders = ev[ev.event == "Order Completed"][["contact_id", "timestamp"]]
    pairs = carts.merge(orders, on="contact_id", how="left")
    pairs["hit"] = (pairs.timestamp >= pairs["min"]) & (pairs.timestamp <= pairs.closes)
    bought = pairs.groupby(["contact_id", "day"]).hit.any()
    out["abandoned_carts"] = (~bought).groupby("contact_id").sum()
    cats = ev[
        ev.event.isin(["Product Viewed", "Product Added", "Order Completed"]) & ev.category.notna()
    ]
    counts = cats.groupby(["contact_id", "category"]).size().rename("n").reset_index()
    counts = counts.sort_values(["contact_id", "n", "category"], ascending=[True, False, True])
    top = counts.groupby("contact_id").head(1).set_index("contact_id")
    out["top_category"] = top.category
    out["top_category_share"] = top.n / counts.groupby("contact_id").n.sum()
    return out


def _tiers(
    f: pd.DataFrame, new: int, high: int, rate: float, medium: int, dormant: int
) -> pd.Series:
    big = 10**9
    last = np.minimum(f.days_since_last_open.fillna(big), f.days_since_last_click.fillna(big))
    keen = (f.days_since_last_open.fillna(big) < high) & (f.open_rate_human.fillna(0) >= rate)
    tier = np.select(
        [
            f.tenure_days.notna() & (f.tenure_days < new),
            last >= dormant,
            (f.days_since_last_click.fillna(big) < high) | keen,
            last < medium,
        ],
        ["new", "dormant", "high", "medium"],
        default="low",
    )
    return pd.Series(tier, index=f.index)
