"""Segment profiles: what each segment's contacts look like next to the whole audience.

Input: the feature table (one row per contact, :func:`audience.store.features_table.read_features`)
and each row's segment id, aligned by position. Output: :class:`Profiles`, tidy frames that
the naming, the explanations and the report read.

- Per numeric feature and segment: the mean and median (missing values skipped), the
  population mean (all rows passed), ``lift`` = segment mean / population mean (missing
  when the population mean is 0 or missing) and ``z`` = (segment mean − population mean) /
  population standard deviation (``ddof=0``; missing when that is 0 or missing).
- Per segment and for the population, KPIs per DOMAIN.md, computed from sums rather than as
  means of per-contact rates (a contact with 2 deliveries must not weigh as much as one
  with 200). See :data:`KPI_DEFINITIONS`. A KPI whose denominator is 0 is missing.
- Only what the data holds: a kind of behaviour (:data:`BEHAVIOUR_EVIDENCE`) that no contact
  shows is absent (an orders-only shop has no email or site events), and the lift, z and KPIs
  that describe it are missing, so no name or trait speaks of it. Means and medians stay:
  they are true zeros.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from audience.config import CLUSTER_FEATURES
from audience.errors import ConfigError

RECENT_ORDER_DAYS = 30
"""An order within this many days of ``as_of`` counts towards ``recent_order_share``."""

SILENT_DAYS = 180
"""No human open and no click within this many days (or ever) makes a contact silent: the
``dormant`` engagement tier's default (:attr:`audience.config.FeaturesConfig.dormant_days`)."""

KPI_DEFINITIONS: Mapping[str, str] = {
    "open_rate": "sum(opens_human_unique) / sum(emails_delivered)",
    "open_rate_raw": "sum(opens_human_unique + opens_machine_unique) / sum(emails_delivered)",
    "ctr": "sum(clicks_unique) / sum(emails_delivered)",
    "ctor": "sum(clicks_unique) / sum(opens_human_unique + opens_machine_unique)",
    "recent_order_share": f"share of contacts with recency_days <= {RECENT_ORDER_DAYS}",
    "buyer_share": "share of contacts with order_count > 0",
    "silent_share": (
        f"share of contacts with no human open and no click in the last {SILENT_DAYS} days "
        "(days_since_last_open and days_since_last_click missing or larger)"
    ),
    "revenue_per_contact": "sum(revenue_total) / contacts",
}
"""The KPIs of every segment and of the population, by name.

The "unique openers" and "unique clickers" of DOMAIN.md are, per contact, *campaigns* opened
or clicked (``opens_human_unique`` counts the campaigns a person opened), so the sums count
opened campaigns, the same unit as deliveries. CTOR's denominator adds human and machine
opened campaigns: a campaign opened both ways counts twice, so CTOR is a slight understatement
(the per-contact ``ctor`` feature counts campaigns opened or clicked instead)."""

KPI_COLUMNS = (
    "revenue_total", "order_count", "recency_days", "emails_delivered",
    "opens_human_unique", "opens_machine_unique", "clicks_unique", "days_since_last_open",
    "days_since_last_click",
)  # fmt: skip
"""The feature columns the KPIs need; :func:`profile_segments` refuses a frame without them."""

Behaviour = Literal["orders", "email", "browsing"]

BEHAVIOUR_EVIDENCE: Mapping[Behaviour, tuple[str, ...]] = {
    "orders": ("order_count",),
    "email": ("emails_delivered", "opens_human_unique", "opens_machine_unique", "clicks_unique"),
    "browsing": ("product_views", "cart_adds", "checkouts_started"),
}
"""The features that show the data holds a kind of behaviour: it is present when one of them
is above 0 for some contact. ``visits_*`` are no evidence of browsing: they count order days
too, so an orders-only shop has visits."""

BEHAVIOUR_OF: Mapping[str, Behaviour] = {
    **dict.fromkeys(
        ("recency_days", "order_count", "revenue_total", "revenue_mean",
         "days_between_orders_mean", "recent_order_share", "buyer_share",
         "revenue_per_contact"),
        "orders",
    ),
    **dict.fromkeys(
        ("emails_delivered", "opens_human_unique", "opens_machine_unique", "clicks_unique",
         "open_rate_human", "open_rate_all", "ctr", "ctor", "days_since_last_open",
         "days_since_last_click", "open_rate", "open_rate_raw", "silent_share"),
        "email",
    ),
    **dict.fromkeys(
        ("product_views", "cart_adds", "checkouts_started", "abandoned_carts", "visits_7d",
         "visits_30d", "visits_90d", "top_category_share"),
        "browsing",
    ),
}  # fmt: skip
"""The kind of behaviour each feature and KPI describes (``tenure_days`` describes the
contact and is always present)."""


@dataclass(frozen=True)
class Profiles:
    """Segment profiles, as tidy frames (see the module docstring for the definitions)."""

    segments: pd.DataFrame
    """One row per segment, by size descending (ties by id): ``segment_id``, ``size``,
    ``share`` (of all rows), ``revenue_share`` (of the total ``revenue_total``; missing when
    that is 0) and every KPI of :data:`KPI_DEFINITIONS`."""

    features: pd.DataFrame
    """One row per segment and feature, in the order of ``segments`` then ``columns``:
    ``segment_id``, ``feature``, ``mean``, ``median``, ``population_mean``,
    ``population_std``, ``lift``, ``z`` and ``present`` (the share of the segment's rows with a
    value: ``recency_days``' mean describes only the buyers)."""

    population: Mapping[str, float]
    """The KPIs of all rows together, plus ``size`` and ``revenue_total``."""

    columns: tuple[str, ...]
    """The numeric feature columns profiled, in the order given."""

    behaviours: frozenset[Behaviour]
    """The kinds of behaviour the data holds (see :data:`BEHAVIOUR_EVIDENCE`)."""

    def lift_matrix(self) -> pd.DataFrame:
        """Lift as a feature × segment frame (rows in ``columns`` order, columns in segment
        order), ready for a heatmap."""
        matrix = self.features.pivot(index="feature", columns="segment_id", values="lift")
        return matrix.loc[list(self.columns), list(self.segments["segment_id"])]

    def stats(self, segment_id: str) -> dict[str, dict[str, float]]:
        """Feature → its ``features`` numbers (``mean``, ``median``, ``lift``, ``z``…) for
        one segment; empty for an unknown segment."""
        rows = self.features[self.features["segment_id"] == segment_id]
        names = [c for c in rows.columns if c not in ("segment_id", "feature")]
        return {
            str(feature): {name: float(v) for name, v in zip(names, values, strict=True)}
            for feature, *values in rows[["feature", *names]].itertuples(index=False)
        }

    def kpis(self, segment_id: str) -> dict[str, float]:
        """The ``segments`` row of one segment (size, share, KPIs), as numbers."""
        rows = self.segments[self.segments["segment_id"] == segment_id]
        if rows.empty:
            raise KeyError(f"no segment {segment_id!r} in the profiles")
        return {str(k): float(v) for k, v in rows.drop(columns="segment_id").iloc[0].items()}


def profile_segments(
    features: pd.DataFrame,
    segment_ids: pd.Series | np.ndarray,
    columns: Sequence[str] = CLUSTER_FEATURES,
) -> Profiles:
    """Profile each segment of ``features`` (rows aligned by position with ``segment_ids``).

    Non-numeric columns among ``columns`` are skipped; absent ones are refused, as are
    missing segment ids (give such contacts an explicit id such as ``"unassigned"``).
    """
    ids = _segment_ids(features, segment_ids)
    numeric = _numeric_columns(features, columns)
    present = observed_behaviours(features)
    absent = [name for name, kind in BEHAVIOUR_OF.items() if kind not in present]
    totals = _kpi_totals(features).set_axis(ids, axis=0)
    sums = totals.groupby(level=0, sort=True).sum()
    sizes = sums["contacts"]
    order = sorted(sizes.index, key=lambda s: (-int(sizes[s]), str(s)))
    segments = _segment_table(sums.loc[order], totals.sum())
    segments.loc[:, segments.columns.intersection(absent)] = np.nan
    values = features[list(numeric)].astype("float64").set_axis(ids, axis=0)
    table = _feature_table(values, order)
    table.loc[table["feature"].isin(absent), ["lift", "z"]] = np.nan
    population = {"size": float(len(features)), **_kpis(totals.sum())}
    population.update(dict.fromkeys(population.keys() & set(absent), np.nan))
    population["revenue_total"] = float(totals["revenue_total"].sum())
    return Profiles(segments, table, population, tuple(numeric), present)


def observed_behaviours(features: pd.DataFrame) -> frozenset[Behaviour]:
    """The kinds of behaviour some contact of ``features`` shows (:data:`BEHAVIOUR_EVIDENCE`)."""
    return frozenset(
        kind
        for kind, evidence in BEHAVIOUR_EVIDENCE.items()
        if any(
            column in features and bool((features[column].astype("float64") > 0).any())
            for column in evidence
        )
    )


def _segment_ids(features: pd.DataFrame, segment_ids: pd.Series | np.ndarray) -> pd.Index:
    ids = pd.Index(np.asarray(segment_ids, dtype=object), name="segment_id")
    if len(ids) != len(features):
        raise ConfigError(
            f"segment_ids has {len(ids)} values but features has {len(features)} rows; "
            "pass one segment id per feature row, in the same order"
        )
    missing = int(pd.isna(ids).sum())
    if missing:
        raise ConfigError(
            f"segment_ids has {missing} missing values; give every contact a segment id "
            "(for example 'unassigned') before profiling"
        )
    return pd.Index([str(s) for s in ids], name="segment_id")


def _numeric_columns(features: pd.DataFrame, columns: Sequence[str]) -> list[str]:
    wanted = list(dict.fromkeys([*columns]))
    absent = [c for c in [*wanted, *KPI_COLUMNS] if c not in features.columns]
    if absent:
        raise ConfigError(
            f"features lacks the columns {sorted(set(absent))}; profile a frame from "
            "read_features, or pass columns= naming only columns it has"
        )
    return [c for c in wanted if pd.api.types.is_numeric_dtype(features[c])]


def _kpi_totals(features: pd.DataFrame) -> pd.DataFrame:
    """Per row, the additive quantities every KPI is a ratio of."""
    kpi = features[list(KPI_COLUMNS)].astype("float64")
    frame = pd.DataFrame(
        {
            "contacts": 1.0,
            "revenue_total": kpi["revenue_total"],
            "delivered": kpi["emails_delivered"],
            "opens_human": kpi["opens_human_unique"],
            "opens_all": kpi["opens_human_unique"].fillna(0)
            + kpi["opens_machine_unique"].fillna(0),
            "clicks": kpi["clicks_unique"],
            "recent_buyers": (kpi["recency_days"] <= RECENT_ORDER_DAYS).astype("float64"),
            "buyers": (kpi["order_count"] > 0).astype("float64"),
            "silent": (
                (kpi["days_since_last_open"] > SILENT_DAYS) | kpi["days_since_last_open"].isna()
            )
            & ((kpi["days_since_last_click"] > SILENT_DAYS) | kpi["days_since_last_click"].isna()),
        },
        index=features.index,
    )
    return frame.astype("float64")


def _segment_table(sums: pd.DataFrame, total: pd.Series) -> pd.DataFrame:
    rows = [
        {
            "segment_id": segment,
            "size": int(row["contacts"]),
            "share": float(row["contacts"] / total["contacts"]),
            "revenue_share": _ratio(row["revenue_total"], total["revenue_total"]),
            **_kpis(row),
        }
        for segment, row in sums.iterrows()
    ]
    columns = ["segment_id", "size", "share", "revenue_share", *KPI_DEFINITIONS]
    return pd.DataFrame.from_records(rows, columns=columns).astype({"size": "int64"})


def _kpis(sums: pd.Series) -> dict[str, float]:
    return {
        "open_rate": _ratio(sums["opens_human"], sums["delivered"]),
        "open_rate_raw": _ratio(sums["opens_all"], sums["delivered"]),
        "ctr": _ratio(sums["clicks"], sums["delivered"]),
        "ctor": _ratio(sums["clicks"], sums["opens_all"]),
        "recent_order_share": _ratio(sums["recent_buyers"], sums["contacts"]),
        "buyer_share": _ratio(sums["buyers"], sums["contacts"]),
        "silent_share": _ratio(sums["silent"], sums["contacts"]),
        "revenue_per_contact": _ratio(sums["revenue_total"], sums["contacts"]),
    }


def _feature_table(values: pd.DataFrame, order: Sequence[str]) -> pd.DataFrame:
    groups = values.groupby(level=0, sort=True)
    segments, n_features = list(order), values.shape[1]

    def per_segment(frame: pd.DataFrame) -> np.ndarray:
        return frame.loc[segments].to_numpy(dtype="float64").ravel()

    sizes = np.repeat(groups.size().loc[segments].to_numpy(dtype="float64"), n_features)
    mean = per_segment(groups.mean())
    base = np.tile(values.mean().to_numpy(dtype="float64"), len(segments))
    spread = np.tile(values.std(ddof=0).to_numpy(dtype="float64"), len(segments))
    with np.errstate(divide="ignore", invalid="ignore"):
        lift = np.where(np.isfinite(base) & (base != 0), mean / base, np.nan)
        z = np.where(np.isfinite(spread) & (spread > 0), (mean - base) / spread, np.nan)
    return pd.DataFrame(
        {
            "segment_id": np.repeat(np.asarray(segments, dtype=object), n_features),
            "feature": np.tile(np.asarray(values.columns, dtype=object), len(segments)),
            "mean": mean,
            "median": per_segment(groups.median()),
            "population_mean": base,
            "population_std": spread,
            "lift": lift,
            "z": z,
            "present": per_segment(groups.count()) / sizes,
        }
    )


def _ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator``, missing when the denominator is 0 or missing."""
    if not np.isfinite(denominator) or denominator == 0:
        return float("nan")
    return float(numerator / denominator)
