"""How far a feature's distribution moved between two samples (the previous run's contacts,
``expected``, and this run's, ``actual``).

Population stability index (PSI)
    ``Σ (a_i − e_i) · ln(a_i / e_i)`` over bins, where ``e_i`` and ``a_i`` are the shares of
    each sample in bin ``i``. It is the symmetric Kullback–Leibler divergence of the two
    binned distributions. Numeric bins are cut at the quantiles of ``expected`` (``bins``
    equal shares; repeated edges, common in counts, are kept once), each bin closed on the
    right, the outer ones open-ended: ``(−∞, q₁], (q₁, q₂], …, (q_last, ∞)``. Categorical
    features have one bin per level seen in either sample.
Kolmogorov–Smirnov statistic
    The largest distance between the two empirical distribution functions (the statistic
    of :func:`scipy.stats.ks_2samp`); numeric features only.

Empty bins: a share of 0 would make ``ln`` infinite, so every share is floored at
:data:`EPSILON` (``1e-4``) before the sum (the shares are not renormalised).

Missing values (``None``, ``NaN`` and, for numbers, ``±∞``) are counted, not dropped: in PSI
they are one more bin (a feature going missing more often is drift; a bin empty in both
samples adds nothing). KS compares the observed values only, and is ``NaN`` when either
sample has none.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from audience.config import DriftConfig

EPSILON = 1e-4
"""The smallest share a bin counts with (an empty bin would make PSI infinite)."""
MISSING = "(missing)"
"""The level missing categorical values are counted under."""

Status = Literal["ok", "watch", "alert"]
FloatArray = np.ndarray[Any, np.dtype[np.float64]]
Numbers = Sequence[float | None] | pd.Series | np.ndarray[Any, Any]
"""Values of a numeric feature; None, NaN and ±inf are missing."""
Levels = Sequence[object] | pd.Series
"""Values of a categorical feature; None and NaN are missing."""


def psi(expected: Numbers, actual: Numbers, bins: int = 10) -> float:
    """PSI of a numeric feature over quantile bins of ``expected`` (see the module docstring).

    Raises ``ValueError`` when either sample is empty or ``bins`` < 2."""
    if bins < 2:
        raise ValueError(f"bins must be at least 2, got {bins}")
    before, after = _numbers(expected), _numbers(actual)
    _non_empty(before, after)
    observed = before[np.isfinite(before)]
    edges = (
        np.unique(np.quantile(observed, np.linspace(0, 1, bins + 1)[1:-1]))
        if observed.size
        else np.array([])
    )
    return _index(_numeric_shares(before, edges), _numeric_shares(after, edges))


def categorical_psi(expected: Levels, actual: Levels) -> float:
    """PSI over the levels of a categorical feature, missing values as one more level."""
    before, after = _levels(expected), _levels(actual)
    _non_empty(before, after)
    levels = sorted(set(before.unique()) | set(after.unique()))
    return _index(_level_shares(before, levels), _level_shares(after, levels))


def ks_statistic(expected: Numbers, actual: Numbers) -> float:
    """The two-sample Kolmogorov–Smirnov statistic of the observed (finite) values; ``NaN``
    when either sample has none.

    Computed as :func:`scipy.stats.ks_2samp` computes it (both empirical distribution
    functions at every observed value), without the p-value that function always works
    out too: that took three quarters of its time."""
    before, after = _numbers(expected), _numbers(actual)
    before, after = np.sort(before[np.isfinite(before)]), np.sort(after[np.isfinite(after)])
    if before.size == 0 or after.size == 0:
        return float("nan")
    values = np.concatenate([before, after])
    below_before = np.searchsorted(before, values, side="right") / before.size
    below_after = np.searchsorted(after, values, side="right") / after.size
    return float(np.max(np.abs(below_before - below_after)))


def drift_status(psi_value: float, ks_value: float | None, config: DriftConfig) -> Status:
    """``alert`` at ``psi_alert`` or ``ks_alert``, ``watch`` at ``psi_watch``, else ``ok``
    (a missing value never raises the status)."""
    ks = float("nan") if ks_value is None else ks_value
    if psi_value >= config.psi_alert or ks >= config.ks_alert:
        return "alert"
    if psi_value >= config.psi_watch:
        return "watch"
    return "ok"


def feature_drift(
    expected: pd.DataFrame,
    actual: pd.DataFrame,
    numeric: Sequence[str],
    categorical: Sequence[str],
    config: DriftConfig,
) -> pd.DataFrame:
    """One row per feature (``numeric`` then ``categorical``): feature, psi, ks (``NaN`` for
    categorical features), status."""
    rows = []
    for name in numeric:
        value = psi(expected[name], actual[name], config.bins)
        ks = ks_statistic(expected[name], actual[name])
        rows.append((name, value, ks, drift_status(value, ks, config)))
    for name in categorical:
        value = categorical_psi(expected[name], actual[name])
        rows.append((name, value, float("nan"), drift_status(value, None, config)))
    return pd.DataFrame(rows, columns=["feature", "psi", "ks", "status"])


def _numbers(values: Numbers) -> FloatArray:
    return pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(
        dtype=np.float64, na_value=np.nan
    )


def _levels(values: Levels) -> pd.Series:
    series = pd.Series(values, dtype=object)
    return series.where(series.notna(), MISSING).astype(str)


def _non_empty(before: pd.Series | FloatArray, after: pd.Series | FloatArray) -> None:
    if len(before) == 0 or len(after) == 0:
        raise ValueError(
            f"drift needs values in both samples, got {len(before)} expected "
            f"and {len(after)} actual"
        )


def _numeric_shares(values: FloatArray, edges: FloatArray) -> FloatArray:
    """Shares in ``(−∞, e₀], (e₀, e₁], …, (e_last, ∞)``, then the missing bin."""
    finite = np.isfinite(values)
    # side="left" counts the edges strictly below a value: a value equal to an edge falls
    # in the bin that edge closes.
    counts = np.bincount(
        np.searchsorted(edges, values[finite], side="left"), minlength=edges.size + 1
    )
    return np.append(counts, np.count_nonzero(~finite)) / values.size


def _level_shares(values: pd.Series, levels: list[str]) -> FloatArray:
    counts = values.value_counts().reindex(levels, fill_value=0)
    return counts.to_numpy(dtype=np.float64) / len(values)


def _index(expected: FloatArray, actual: FloatArray) -> float:
    e, a = np.maximum(expected, EPSILON), np.maximum(actual, EPSILON)
    return float(np.sum((a - e) * np.log(a / e)))
