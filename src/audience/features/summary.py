"""A per-feature summary (missing share, mean, median, 99th percentile), computed in the engine."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import ibis
import ibis.expr.types as ir


@dataclass(frozen=True)
class FeatureStat:
    """One feature's summary; ``top`` is the most frequent value of a categorical feature."""

    feature: str
    missing: float
    mean: float | None = None
    p50: float | None = None
    p99: float | None = None
    distinct: int | None = None
    top: str | None = None


def summarize(features: ir.Table, columns: tuple[str, ...]) -> list[FeatureStat]:
    """Summarise ``columns`` of a feature table in one aggregate query (plus one per category)."""
    numeric = [c for c in columns if features[c].type().is_numeric()]
    metrics: dict[str, ir.Scalar] = {"_rows": features.count()}
    for c in columns:
        metrics[f"{c}__n"] = features[c].count()
    for c in numeric:
        value = features[c].cast("float64")
        metrics[f"{c}__mean"] = value.mean()
        # Both quantiles in one call: the engine sorts the column once for the two.
        metrics[f"{c}__quantiles"] = value.quantile([0.5, 0.99])
    row = features.aggregate(**metrics).to_pyarrow().to_pylist()[0]
    rows = max(int(row["_rows"]), 1)
    stats = []
    for c in columns:
        missing = 1 - int(row[f"{c}__n"]) / rows
        if c in numeric:
            stats.append(
                FeatureStat(
                    c, missing, _num(row[f"{c}__mean"]), *_quantiles(row[f"{c}__quantiles"])
                )
            )
        else:
            stats.append(_categorical(features, c, missing))
    return stats


def _categorical(features: ir.Table, column: str, missing: float) -> FeatureStat:
    counts = features[column].value_counts()
    ordered = counts.order_by([ibis.desc(counts[f"{column}_count"]), counts[column]])
    top = ordered.filter(ordered[column].notnull()).limit(1).to_pyarrow().to_pylist()
    distinct = int(features[column].nunique().to_pyarrow().as_py())
    return FeatureStat(column, missing, distinct=distinct, top=str(top[0][column]) if top else None)


def _quantiles(values: list[object] | None) -> tuple[float | None, float | None]:
    """The median and 99th percentile (both missing when the column has no value)."""
    median, p99 = values if values is not None else (None, None)
    return _num(median), _num(p99)


def _num(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


@dataclass(frozen=True)
class FeatureRefresh:
    """How a refresh (:func:`audience.features.incremental.refresh_features`) went about it."""

    previous_as_of: datetime
    incremental: bool
    """False when everything was computed again (``fallback`` says why)."""
    fallback: str | None
    recomputed: int
    """Contacts whose features were computed from their events (in part or whole)."""
    carried: int
    """Contacts whose features were carried forward from ``previous_as_of`` alone."""


@dataclass(frozen=True)
class FeatureReport:
    """The outcome of computing features: how many contacts, each feature's summary."""

    as_of: datetime
    contacts: int
    stats: list[FeatureStat]
    seconds: float
    out: Path | None = None
    refresh: FeatureRefresh | None = None
    """Set by a refresh: what it carried forward and what it computed again."""
