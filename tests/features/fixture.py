"""A hand-made audience with every feature worked out by hand, shared by the engine tests.

as_of = 2025-06-30 12:00 UTC (day 2025-06-30). Buyers A, C, D for the RFM scores:
recency A 1, D 20, C 181 → R (descending percent rank) C 1, D 3, A 5; orders D 1, C 2, A 3
→ F 1, 3, 5; revenue D 0, C 100, A 180 → M 1, 3, 5; FM = (F+M+1)//2 → D 1, C 3, A 5.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from audience.store.id_keys import id_key_sql
from audience.store.schema import CONTACT_COLUMNS, EVENT_COLUMNS

AS_OF = datetime(2025, 6, 30, 12, 0, tzinfo=UTC)
NAN = float("nan")


def _ts(text: str | None) -> pd.Timestamp | None:
    return None if text is None else pd.Timestamp(text, tz="UTC")


CONTACTS: list[tuple[Any, ...]] = [
    # contact_id, country, signup_at, consent
    ("A", "US", "2024-01-01T00:00:00", "subscribed"),
    ("B", "GB", "2025-06-20T08:00:00", "subscribed"),
    ("C", "DE", "2023-06-30T12:00:00", "unsubscribed"),
    ("D", "FR", None, "cleaned"),
    ("E", "US", "2025-07-05T00:00:00", "subscribed"),  # signs up after as_of: not a row
    ("F", "US", "2022-01-01T00:00:00", "subscribed"),  # no events at all
]

# contact, event, timestamp, revenue, category, campaign, machine, bounce_type
EVENTS: list[tuple[Any, ...]] = [
    ("A", "Order Completed", "2025-06-29T23:30:00", 100.0, "shoes", None, None, None),
    ("A", "Order Completed", "2025-06-29T08:00:00", 50.0, "shoes", None, None, None),
    ("A", "Order Completed", "2025-05-30T10:00:00", 30.0, "hats", None, None, None),
    ("A", "Order Completed", "2025-07-02T10:00:00", 999.0, "hats", None, None, None),  # after as_of
    ("A", "Email Delivered", "2025-06-01T09:00:00", None, None, "cmp1", None, None),
    ("A", "Email Delivered", "2025-06-15T09:00:00", None, None, "cmp2", None, None),
    ("A", "Email Opened", "2025-06-01T09:01:00", None, None, "cmp1", True, None),
    ("A", "Email Opened", "2025-06-02T10:00:00", None, None, "cmp1", False, None),
    ("A", "Email Opened", "2025-06-03T10:00:00", None, None, "cmp1", None, None),
    ("A", "Email Link Clicked", "2025-06-02T10:01:00", None, None, "cmp1", None, None),
    ("A", "Email Link Clicked", "2025-06-16T10:00:00", None, None, "cmp2", None, None),
    ("A", "Product Viewed", "2025-06-29T07:00:00", None, "shoes", None, None, None),
    ("A", "Product Added", "2025-06-29T07:30:00", None, "shoes", None, None, None),
    ("A", "Product Viewed", "2025-05-30T09:00:00", None, "hats", None, None, None),
    ("B", "Email Delivered", "2025-06-25T09:00:00", None, None, "cmp3", None, None),
    ("B", "Email Opened", "2025-06-26T09:00:00", None, None, "cmp3", False, None),
    ("B", "Product Added", "2025-06-28T10:00:00", None, "hats", None, None, None),
    ("B", "Checkout Started", "2025-06-28T10:05:00", 20.0, None, None, None, None),
    (
        "B",
        "Product Added",
        "2025-06-30T09:00:00",
        None,
        "hats",
        None,
        None,
        None,
    ),  # cart still open
    ("C", "Order Completed", "2024-11-30T12:00:00", 60.0, None, None, None, None),
    ("C", "Order Completed", "2024-12-31T23:59:59", 40.0, "shoes", None, None, None),
    ("C", "Email Opened", "2024-12-01T10:00:00", None, None, "cmp0", False, None),
    ("C", "Email Delivered", "2025-06-01T09:00:00", None, None, "cmp1", None, None),
    ("C", "Unsubscribed", "2025-06-01T12:00:00", None, None, "cmp1", None, None),
    ("D", "Email Delivered", "2025-06-01T09:00:00", None, None, "cmp1", None, None),
    ("D", "Email Marked as Spam", "2025-06-02T09:00:00", None, None, "cmp1", None, None),
    ("D", "Email Bounced", "2025-06-15T09:00:00", None, None, "cmp2", None, "soft"),
    ("D", "Email Bounced", "2025-06-20T09:00:00", None, None, "cmp3", None, "Hard"),
    ("D", "Order Completed", "2025-06-10T09:00:00", None, None, None, None, None),
    (
        "Z",
        "Order Completed",
        "2025-06-10T09:00:00",
        5.0,
        "hats",
        None,
        None,
        None,
    ),  # unknown contact
    (None, "Product Viewed", "2025-06-10T09:00:00", None, "hats", None, None, None),  # anonymous
]


def contacts_frame(contacts: list[tuple[Any, ...]] = CONTACTS) -> pd.DataFrame:
    """Contact rows (id, country, signup, consent) as the ``contacts`` table holds them."""
    rows = [
        {
            "contact_id": cid,
            "email": f"{cid.lower()}@example.com",
            "email_hash": None,
            "country": country,
            "signup_at": _ts(signup),
            "consent": consent,
            "open_rate": None,
            "click_rate": None,
            "ingest_id": "fixture",
        }
        for cid, country, signup, consent in contacts
    ]
    return _typed(pd.DataFrame(rows, columns=list(CONTACT_COLUMNS)), CONTACT_COLUMNS)


def events_frame(events: list[tuple[Any, ...]] = EVENTS) -> pd.DataFrame:
    """Event rows (as in :data:`EVENTS`) as the ``events`` table holds them."""
    rows = [
        {
            "message_id": f"m{i}",
            "contact_id": cid,
            "anonymous_id": None if cid else "anon",
            "event": event,
            "timestamp": _ts(ts),
            "revenue": revenue,
            "price": None,
            "quantity": None,
            "order_id": None,
            "product_id": None,
            "category": category,
            "campaign_id": campaign,
            "is_machine_open": machine,
            "bounce_type": bounce,
            "ingest_id": "fixture",
        }
        for i, (cid, event, ts, revenue, category, campaign, machine, bounce) in enumerate(events)
    ]
    return _typed(pd.DataFrame(rows, columns=list(EVENT_COLUMNS)), EVENT_COLUMNS)


def _typed(frame: pd.DataFrame, columns: dict[str, str]) -> pd.DataFrame:
    kinds = {
        "VARCHAR": "str",
        "TIMESTAMPTZ": "datetime64[us, UTC]",
        "DOUBLE": "float64",
        "BIGINT": "Int64",
        "BOOLEAN": "boolean",
    }
    return frame.astype({name: kinds[kind.split()[0]] for name, kind in columns.items()})


_COLUMNS = [
    "recency_days",
    "order_count",
    "revenue_total",
    "revenue_mean",
    "days_between_orders_mean",
    "btyd_frequency",
    "btyd_recency",
    "btyd_T",
    "btyd_monetary_value",
    "emails_delivered",
    "opens_human_unique",
    "opens_machine_unique",
    "clicks_unique",
    "open_rate_human",
    "open_rate_all",
    "ctr",
    "ctor",
    "days_since_last_open",
    "days_since_last_click",
    "is_bounced",
    "is_unsubscribed",
    "is_complained",
    "product_views",
    "cart_adds",
    "checkouts_started",
    "abandoned_carts",
    "visits_7d",
    "visits_30d",
    "visits_90d",
    "top_category",
    "top_category_share",
    "tenure_days",
    "r_score",
    "f_score",
    "m_score",
    "rfm_group",
    "engagement_tier",
    "country",
]

_ROWS = {
    #     rec ord  rev  mean gap  bf br  bT  bm   dl ho hm cl  orh  ora  ctr  ctor dso dsc
    "A": (1, 3, 180.0, 60.0, 15.0, 1, 30.0, 31.0, 150.0, 2, 1, 1, 2, 0.5, 0.5, 1.0, 1.0, 27, 14,
          # bo un co pv ca ch ab v7 v30 v90 top    share  ten  R  F  M  group        tier    cc
          0, 0, 0, 2, 1, 0, 0, 1, 1, 2, "shoes", 4 / 6, 546, 5, 5, 5, "Champions", "high", "US"),
    "B": (NAN, 0, 0.0, NAN, NAN, 0, NAN, NAN, NAN, 1, 1, 0, 0, 1.0, 1.0, 0.0, 0.0, 4, NAN,
          0, 0, 0, 0, 2, 1, 1, 2, 2, 2, "hats", 1.0, 10, NAN, NAN, NAN, "Prospects", "new", "GB"),
    "C": (181, 2, 100.0, 50.0, 31.0, 1, 31.0, 212.0, 40.0, 1, 1, 0, 0, 1.0, 1.0, 0.0, 0.0, 211, NAN,
          0, 1, 0, 0, 0, 0, 0, 0, 0, 0, "shoes", 1.0, 731, 1, 3, 3, "At Risk", "dormant", "DE"),
    "D": (20, 1, 0.0, 0.0, NAN, 0, 0.0, 20.0, 0.0, 1, 0, 0, 0, 0.0, 0.0, 0.0, NAN, NAN, NAN,
          1, 0, 1, 0, 0, 0, 0, 0, 1, 1, None, NAN, NAN, 3, 1, 1, "Promising", "dormant", "FR"),
    "F": (NAN, 0, 0.0, NAN, NAN, 0, NAN, NAN, NAN, 0, 0, 0, 0, NAN, NAN, NAN, NAN, NAN, NAN,
          0, 0, 0, 0, 0, 0, 0, 0, 0, 0, None, NAN, 1276, NAN, NAN, NAN, "Prospects", "dormant",
          "US"),
}  # fmt: skip

EXPECTED = pd.DataFrame.from_dict(_ROWS, orient="index", columns=_COLUMNS)
EXPECTED.index.name = "contact_id"


def insert_rows(con: Any, contacts: pd.DataFrame, events: pd.DataFrame) -> None:
    """Insert ``contacts`` and ``events`` (frames shaped like the fixture's) into a
    workspace's tables directly, as if an ingest had stored them."""
    con.register("_c", contacts)
    con.register("_e", events)
    try:
        con.execute("INSERT INTO contacts SELECT * FROM _c")
        con.execute(f"INSERT INTO events SELECT *, {id_key_sql('message_id')} FROM _e")
    finally:
        con.unregister("_c")
        con.unregister("_e")


def ingested_audience(folder: Path, *, contacts: int, seed: int) -> dict[str, pd.DataFrame]:
    """A generated audience, ingested into a real workspace, as the tables it stored."""
    from audience import Workspace
    from audience.synth import generate

    generated = generate(folder / "data", contacts=contacts, seed=seed, as_of=AS_OF)
    with Workspace.init(folder / "ws") as ws:
        ws.ingest(generated.contacts_path, now=AS_OF)
        ws.ingest(generated.events_path, now=AS_OF)
        con = ws.database.con
        return {
            "contacts": con.execute("SELECT * FROM contacts").df(),
            "events": con.execute("SELECT * FROM events").df(),
        }
