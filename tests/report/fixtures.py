"""A hand-built ReportData: three segments under a small tree, seeded random values."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from scipy.cluster.hierarchy import linkage

from audience.report import ReportData
from audience.segments.changes import segment_sizes

HOSTILE = "<script>alert(1)</script>"
HOSTILE_LINK = '<a href="https://evil.example/x">click</a>'
SEGMENTS = {  # id → (name, size, centre of its projection blob)
    "customers/high-value": ("High-value frequent", 60, (2.5, 1.0)),
    "customers/occasional": ("Occasional buyers", 80, (-1.5, 0.5)),
    "prospects/engaged": ("Engaged prospects", 50, (0.0, -2.5)),
}
TOTAL = 200  # 190 in segments, 10 suppressed


def report_data(*, hierarchical: bool = False, seed: int = 7) -> ReportData:
    """A realistic report: k-means chosen, or Ward (with its linkage) when hierarchical."""
    rng = np.random.default_rng(seed)
    method = "ward" if hierarchical else "kmeans"
    return ReportData(
        title="Audience segments",
        run_id="run-2025-06-01-0001",
        as_of=datetime(2025, 6, 1, tzinfo=UTC),
        created_at=datetime(2025, 6, 1, 12, 30, tzinfo=UTC),
        method=method,
        n_segments=3,
        ingest=ingest(),
        quality=pd.DataFrame({"reason": ["invalid_email", "future_date"], "rows": [7, 2]}),
        features=features(rng),
        selection=selection(method),
        projection=projection(rng),
        dendrogram=linkage(rng.normal(size=(40, 2)), method="ward") if hierarchical else None,
        lift=lift(),
        personas=personas(),
        tree=tree(),
        merges=pd.DataFrame(
            {
                "segment_id": ["customers/lapsed-vip"],
                "into": ["customers/high-value"],
                "size": [3],
                "reason": ["smaller than 2 % of the audience"],
            }
        ),
        surrogate_fidelity=0.934,
        rules={
            "customers/high-value": ["orders_365d >= 4 and monetary_365d > 310.5"],
            "customers/occasional": ["orders_365d >= 1 and orders_365d < 4"],
            "prospects/engaged": ["orders_365d == 0 and open_rate_90d > 0.35"],
        },
        previous_run_id="run-2025-05-01-0001",
        previous_names=PREVIOUS_NAMES,
        transitions=transitions(),
        size_changes=segment_sizes(transitions()),
        drift=drift(),
    )


def hostile(data: ReportData, name: str = HOSTILE) -> ReportData:
    """The same report with the first segment named ``name`` everywhere a name is shown."""
    first = next(iter(SEGMENTS))
    old = SEGMENTS[first][0]
    personas = [{**p, "name": name} if p["segment_id"] == first else p for p in data.personas]
    tree = data.tree.assign(name=data.tree["name"].replace(old, name))
    projection = data.projection.assign(segment=data.projection["segment"].replace(old, name))
    before = {**data.previous_names, first: name}
    return dataclasses.replace(
        data, personas=personas, tree=tree, projection=projection, previous_names=before
    )


def ingest() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "source": ["contacts.csv", "orders.parquet"],
            "kind": ["contacts", "orders"],
            "rows_read": [212, 1_530],
            "accepted": [200, 1_521],
            "quarantined": [7, 2],
            "duplicates": [5, 7],
        }
    )


def features(rng: np.random.Generator) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "recency_days": rng.uniform(0, 365, TOTAL),
            "orders_365d": rng.poisson(2.0, TOTAL),
            "monetary_365d": rng.lognormal(4.0, 1.2, TOTAL),  # heavy right tail
            "open_rate_90d": rng.beta(2, 5, TOTAL),
        }
    )


def selection(chosen_method: str) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    for method in ("kmeans", "gmm", "ward"):
        for k in range(2, 7):
            rows.append(
                {
                    "method": method,
                    "k": k,
                    "silhouette": 0.52 - 0.05 * abs(k - 3) - (0.02 if method != "kmeans" else 0),
                    "inertia": 900.0 / k**1.3 if method == "kmeans" else np.nan,
                    "bic": 5_000.0 - 400 * min(k, 3) + 60 * k if method == "gmm" else np.nan,
                    "calinski_harabasz": 310.0 - 20 * abs(k - 3),
                    "davies_bouldin": 0.7 + 0.1 * abs(k - 3),
                    "stability": 0.9 if k == 3 else np.nan,
                    "status": "chosen" if (method, k) == (chosen_method, 3) else "not chosen",
                    "reason": "best silhouette" if (method, k) == (chosen_method, 3) else "",
                }
            )
    table = pd.DataFrame(rows)
    too_small = table["k"] == 6
    table.loc[too_small, "status"] = "rejected"
    table.loc[too_small, "reason"] = "smallest segment under 2 % of the audience"
    return table


def projection(rng: np.random.Generator) -> pd.DataFrame:
    parts = []
    sizes = [size for _, size, _ in SEGMENTS.values()]
    scale = TOTAL / sum(sizes)
    counts = [round(size * scale) for size in sizes]
    counts[-1] = TOTAL - sum(counts[:-1])
    for (name, _, centre), n in zip(SEGMENTS.values(), counts, strict=True):
        xy = rng.normal(loc=centre, scale=0.6, size=(n, 2))
        parts.append(pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1], "segment": name}))
    return pd.concat(parts, ignore_index=True)


def lift() -> pd.DataFrame:
    return pd.DataFrame(
        [[0.4, 1.3, 1.6], [2.8, 0.9, 0.0], [3.1, 0.6, 0.05], [1.2, 0.8, 1.4]],
        index=["recency_days", "orders_365d", "monetary_365d", "open_rate_90d"],
        columns=list(SEGMENTS),
    )


def personas() -> list[dict[str, Any]]:
    stages = {"customers/high-value": "loyal", "customers/occasional": "active"}
    return [
        {
            "segment_id": segment_id,
            "name": name,
            "size": size,
            "share": size / TOTAL,
            "stage": stages.get(segment_id, "prospect"),
            "traits": [f"{name.split()[0].lower()} behaviour", "opens most campaigns"],
            "messaging": f"Speak to {name.lower()} about what they already like.",
            "actions": ["early access", "loyalty points"],
            "rules": [f"segment == '{segment_id}'"],
        }
        for segment_id, (name, size, _) in SEGMENTS.items()
    ]


def tree() -> pd.DataFrame:
    rows = [
        ("customers", None, "Customers", 140, "rule"),
        ("customers/high-value", "customers", "High-value frequent", 60, "cluster"),
        ("customers/occasional", "customers", "Occasional buyers", 80, "cluster"),
        ("prospects", None, "Prospects", 50, "rule"),
        ("prospects/engaged", "prospects", "Engaged prospects", 50, "cluster"),
        ("suppressed", None, "Suppressed (unsubscribed)", 10, "suppressed"),
    ]
    table = pd.DataFrame(rows, columns=["segment_id", "parent_id", "name", "size", "kind"])
    return table.assign(share=table["size"] / TOTAL)


PREVIOUS_NAMES = {
    "customers/high-value": "High-value frequent",
    "customers/occasional": "Occasional buyers",
    "customers/lapsed-vip": "Lapsed VIPs",
    "prospects/engaged": "Engaged prospects",
    "suppressed": "Suppressed (unsubscribed)",
}
"""The previous run: lapsed-vip has gone since (its contacts moved to customers)."""
MOVES = [  # from (None: new contact), to (None: not in this run), contacts
    ("customers/high-value", "customers/high-value", 50),
    ("customers/high-value", "customers/occasional", 5),
    ("customers/occasional", "customers/occasional", 62),
    ("customers/occasional", "customers/high-value", 6),
    ("customers/occasional", None, 2),
    ("customers/lapsed-vip", "customers/high-value", 4),
    ("customers/lapsed-vip", "customers/occasional", 8),
    ("prospects/engaged", "prospects/engaged", 45),
    ("prospects/engaged", "customers/occasional", 3),
    ("prospects/engaged", "suppressed", 2),
    ("prospects/engaged", None, 8),
    ("suppressed", "suppressed", 8),
    (None, "prospects/engaged", 5),
    (None, "customers/occasional", 2),
]
"""Sums to this run's sizes: high-value 60, occasional 80, engaged 50, suppressed 10."""


def transitions() -> pd.DataFrame:
    return pd.DataFrame(MOVES, columns=["from_segment", "to_segment", "contacts"])


def drift() -> pd.DataFrame:
    rows = [
        ("", "orders_365d", 0.02, 0.03, "ok"),
        ("", "recency_days", 0.14, 0.08, "watch"),
        ("", "top_category", 0.01, np.nan, "ok"),
        ("customers/high-value", "recency_days", 0.31, 0.22, "alert"),
        ("customers/high-value", "orders_365d", 0.04, 0.05, "ok"),
        ("customers/occasional", "orders_365d", 0.05, 0.06, "ok"),
    ]
    return pd.DataFrame(rows, columns=["scope", "feature", "psi", "ks", "status"])
