"""Explanations of segments: readable rules that approximate them, and why one contact is in one.

- :func:`surrogate_rules` fits a shallow decision tree that predicts each contact's segment
  from the raw feature columns (real units: days, orders, money) and reads each leaf as a
  conjunction such as ``recency_days <= 30 and order_count >= 5``. scikit-learn (>= 1.3)
  trees route missing values themselves; a bound a missing value passes is written
  ``(or missing)``. ``fidelity`` says how often the tree agrees with the segments: the rules
  describe the segments only as well as that.
- :func:`why` ranks the features by how much a contact's deviation from the audience agrees
  with its segment's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.tree import DecisionTreeClassifier, export_text  # type: ignore[import-untyped]

from audience.config import CLUSTER_FEATURES
from audience.errors import ConfigError
from audience.personas.profiles import Profiles

MAX_FIT_ROWS = 200_000
"""The tree is fitted on a seeded sample of at most this many rows (fidelity uses all)."""
RULES_PER_SEGMENT = 3
LEAF_SHARE = 0.01
"""Smallest leaf, as a share of the rows fitted: rules then cover at least 1% of contacts."""


@dataclass(frozen=True)
class Condition:
    """``lower < feature <= upper`` (either bound may be absent), and whether a missing value
    passes. The bounds are the tree's own thresholds, so :meth:`mask` selects exactly the
    rows the tree sends this way."""

    feature: str
    lower: float | None
    upper: float | None
    or_missing: bool
    integer: bool
    """The feature holds whole numbers: bounds are written as whole numbers (``>= 5``)."""

    def mask(self, frame: pd.DataFrame) -> np.ndarray:
        """The rows of ``frame`` that satisfy the condition."""
        # The tree compares float32 values with its float64 thresholds: do the same.
        values = frame[self.feature].to_numpy(dtype="float64").astype("float32")
        keep = np.ones(len(values), dtype=bool)
        with np.errstate(invalid="ignore"):
            if self.lower is not None:
                keep &= values > self.lower
            if self.upper is not None:
                keep &= values <= self.upper
        missing = np.isnan(values)
        selected: np.ndarray = (keep & ~missing) | (missing & self.or_missing)
        return selected

    @property
    def text(self) -> str:
        """``order_count >= 5``, ``31 <= recency_days <= 90``, ``ctr > 0.05 (or missing)``."""
        f, lower, upper = self.feature, self.lower, self.upper
        if lower is not None and math.isinf(lower):  # "> inf": only a missing value passes
            return f"{f} is missing"
        if upper is not None and math.isinf(upper):  # "<= inf": any known value
            upper = None
        if lower is None and upper is None:
            return f"{f} has any value" if self.or_missing else f"{f} is known"
        if self.integer:  # x > 4.5 is x >= 5, x <= 4.5 is x <= 4
            lower = None if lower is None else math.floor(lower) + 1
            upper = None if upper is None else math.floor(upper)
            low_op = "<="
        else:
            low_op = "<"
        if lower is not None and upper is not None:
            body = (
                f"{f} == {_number(lower)}"
                if self.integer and lower == upper
                else f"{_number(lower)} {low_op} {f} <= {_number(upper)}"
            )
        elif lower is not None:
            body = f"{f} {'>=' if self.integer else '>'} {_number(lower)}"
        elif upper is not None:
            body = f"{f} <= {_number(upper)}"
        return f"{body} (or missing)" if self.or_missing else body


@dataclass(frozen=True)
class Rule:
    """One leaf of the surrogate tree whose majority is ``segment_id``."""

    segment_id: str
    conditions: tuple[Condition, ...]
    """One per feature on the path, its bounds merged into the tightest."""
    coverage: float
    """Share of the segment's rows that fall in this leaf."""
    precision: float
    """Share of the leaf's rows that belong to the segment."""
    rows: int
    """Rows in the leaf."""
    leaf: int
    """The leaf's node id in ``Surrogate.tree`` (``tree.apply`` gives each row's)."""

    @property
    def text(self) -> str:
        """The readable conjunction, e.g. ``recency_days <= 30 and order_count >= 5``."""
        return " and ".join(c.text for c in self.conditions) or "every contact"

    def mask(self, frame: pd.DataFrame) -> np.ndarray:
        """The rows of ``frame`` the rule selects (all conditions hold)."""
        keep = np.ones(len(frame), dtype=bool)
        for condition in self.conditions:
            keep &= condition.mask(frame)
        return keep

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Surrogate:
    """A decision tree imitating a segmentation, and the rules read from it."""

    fidelity: float
    """Share of all rows given whose tree prediction is their actual segment."""
    recall: Mapping[str, float]
    """Per segment: share of its rows the tree predicts as that segment."""
    rules: Mapping[str, tuple[Rule, ...]]
    """Per segment: up to 3 rules, by decreasing coverage (none when no leaf's majority
    is the segment)."""
    tree_text: str
    """``sklearn.tree.export_text`` of the tree, for debugging."""
    tree: DecisionTreeClassifier
    columns: tuple[str, ...]


def surrogate_rules(
    features: pd.DataFrame,
    segment_ids: pd.Series | np.ndarray,
    columns: Sequence[str] = CLUSTER_FEATURES,
    max_depth: int = 4,
    random_state: int = 0,
) -> Surrogate:
    """Fit a decision tree (depth ``max_depth``, leaves of at least 1% of the rows fitted)
    predicting ``segment_ids`` (aligned by position) from the raw ``columns`` of ``features``
    on a seeded sample of at most 200,000 rows, and read rules from its leaves."""
    X, y = _inputs(features, segment_ids, columns, max_depth)
    sample = _sample(len(X), random_state)
    tree = DecisionTreeClassifier(
        max_depth=max_depth,
        min_samples_leaf=max(1, round(LEAF_SHARE * len(sample))),
        random_state=random_state,
    ).fit(X.iloc[sample], y[sample])
    predicted = tree.predict(X)
    recall = {str(s): float(np.mean(predicted[y == s] == s)) for s in pd.unique(pd.Series(y))}
    return Surrogate(
        fidelity=float(np.mean(predicted == y)),
        recall=dict(sorted(recall.items())),
        rules=_rules(tree, X, y),
        tree_text=export_text(tree, feature_names=list(X.columns)),
        tree=tree,
        columns=tuple(X.columns),
    )


def _inputs(
    features: pd.DataFrame,
    segment_ids: pd.Series | np.ndarray,
    columns: Sequence[str],
    max_depth: int,
) -> tuple[pd.DataFrame, np.ndarray]:
    y = np.asarray(segment_ids, dtype=object)
    if len(y) != len(features) or len(y) == 0:
        raise ConfigError(
            f"segment_ids has {len(y)} values and features {len(features)} rows; pass one "
            "segment id per feature row (at least one row), in the same order"
        )
    if pd.isna(y).any() or max_depth < 1:
        raise ConfigError(
            f"got {int(pd.isna(y).sum())} missing segment ids and max_depth={max_depth}; "
            "give every row a segment id and a max_depth of at least 1"
        )
    absent = [c for c in columns if c not in features.columns]
    if absent:
        raise ConfigError(f"features lacks the columns {absent}; pass columns= it has")
    numeric = [c for c in dict.fromkeys(columns) if pd.api.types.is_numeric_dtype(features[c])]
    X = features[numeric].astype("float64").reset_index(drop=True)
    return X, np.array([str(s) for s in y], dtype=object)


def _sample(n: int, random_state: int) -> np.ndarray:
    if n <= MAX_FIT_ROWS:
        return np.arange(n)
    rng = np.random.default_rng(random_state)
    return np.sort(rng.choice(n, size=MAX_FIT_ROWS, replace=False))


def _rules(
    tree: DecisionTreeClassifier, X: pd.DataFrame, y: np.ndarray
) -> dict[str, tuple[Rule, ...]]:
    leaves = tree.apply(X)
    sizes = pd.Series(y).value_counts()
    integer = {c: _is_integer(X[c]) for c in X.columns}
    has_missing = {c: bool(X[c].isna().any()) for c in X.columns}
    found: dict[str, list[Rule]] = {}
    for leaf, path in _paths(tree):
        segment = str(tree.classes_[int(np.argmax(tree.tree_.value[leaf][0]))])
        in_leaf = leaves == leaf
        hits = int(np.sum(y[in_leaf] == segment))
        conditions = _merge(path, X.columns, integer, has_missing)
        rows = int(in_leaf.sum())
        coverage = hits / int(sizes[segment])
        rule = Rule(segment, conditions, coverage, _share(hits, rows), rows, leaf)
        found.setdefault(segment, []).append(rule)
    return {
        s: tuple(sorted(found[s], key=lambda r: (-r.coverage, r.text))[:RULES_PER_SEGMENT])
        for s in sorted(found)
    }


_Step = tuple[int, bool, float, bool]
"""(feature index, went left, threshold, missing values go this way)."""


def _paths(tree: DecisionTreeClassifier) -> list[tuple[int, list[_Step]]]:
    """Every leaf with the steps from the root to it, depth first."""
    t = tree.tree_
    out: list[tuple[int, list[_Step]]] = []
    stack: list[tuple[int, list[_Step]]] = [(0, [])]
    while stack:
        node, path = stack.pop()
        if t.children_left[node] == -1:
            out.append((node, path))
            continue
        feature, threshold = int(t.feature[node]), float(t.threshold[node])
        left = bool(t.missing_go_to_left[node])
        stack.append((int(t.children_right[node]), [*path, (feature, False, threshold, not left)]))
        stack.append((int(t.children_left[node]), [*path, (feature, True, threshold, left)]))
    return out


def _merge(
    path: list[_Step],
    columns: pd.Index,
    integer: Mapping[str, bool],
    has_missing: Mapping[str, bool],
) -> tuple[Condition, ...]:
    bounds: dict[str, tuple[float | None, float | None, bool]] = {}
    for index, went_left, threshold, missing_here in path:
        name = str(columns[index])
        lower, upper, or_missing = bounds.get(name, (None, None, True))
        if went_left:
            upper = threshold if upper is None else min(upper, threshold)
        else:
            lower = threshold if lower is None else max(lower, threshold)
        bounds[name] = (lower, upper, or_missing and missing_here)
    return tuple(
        Condition(name, lo, hi, or_missing and has_missing[name], integer[name])
        for name, (lo, hi, or_missing) in bounds.items()
    )


def _is_integer(values: pd.Series) -> bool:
    known = values.dropna().to_numpy()
    return bool(np.all(known == np.round(known)))


def _share(part: int, whole: int) -> float:
    return part / whole if whole else float("nan")


def _number(value: float) -> str:
    """A threshold as a person would write it: 5, 1234, 12.5, 0.0235."""
    if value == round(value):
        return f"{value:.0f}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}".rstrip("0").rstrip(".")
    return f"{value:.3g}"


# --- Why is this contact in its segment? -------------------------------------------------------

_NEVER = {
    "recency_days": "never ordered",
    "days_since_last_open": "never opened",
    "days_since_last_click": "never clicked",
}
"""Features whose missing value means "never", phrased so."""
_RATES = frozenset({"open_rate_human", "open_rate_all", "ctr", "ctor"})


@dataclass(frozen=True)
class Reason:
    """One feature that pulls a contact into its segment."""

    feature: str
    value: float
    """The contact's value; ``nan`` for "never" (see :data:`_NEVER`)."""
    segment_mean: float
    population_mean: float
    score: float
    """Agreement: contact z-score × segment z-score (both against the audience), or for a
    "never" value the share of the segment that also never did it."""
    text: str


def why(contact: pd.Series, segment_id: str, profiles: Profiles, top: int = 3) -> list[Reason]:
    """The ``top`` features that pull ``contact`` (a feature row) into ``segment_id``.

    A feature pulls when the contact deviates from the audience in the direction its segment
    does: the score is the product of the two z-scores (audience mean and standard
    deviation), so it is large when both deviate far. Only positive scores are reasons, so
    fewer than ``top`` may come back. A missing value is skipped, except where it means
    "never" (never opened, clicked or ordered): that is a reason when most of the segment
    never did it either, scored by that share.
    """
    rows = profiles.features[profiles.features["segment_id"] == segment_id]
    if rows.empty:
        raise ConfigError(
            f"segment {segment_id!r} is not in the profiles; profiles have "
            f"{sorted(profiles.segments['segment_id'])}"
        )
    reasons = [
        reason
        for _, row in rows.iterrows()
        if str(row["feature"]) in contact.index
        and (reason := _reason(row, _as_float(contact[str(row["feature"])]))) is not None
    ]
    reasons.sort(key=lambda r: (-r.score, r.feature))
    return reasons[:top]


def _reason(row: pd.Series, value: float) -> Reason | None:
    feature = str(row["feature"])
    mean, base, spread = float(row["mean"]), float(row["population_mean"]), row["population_std"]
    if math.isnan(value):
        if feature not in _NEVER or not float(row["present"]) < 0.5:
            return None
        never = 1.0 - float(row["present"])
        text = f"{_NEVER[feature]} (like {never:.0%} of the segment)"
        return Reason(feature, value, mean, base, never, text)
    if not (np.isfinite(spread) and spread > 0 and np.isfinite(mean)):
        return None
    score = (value - base) / spread * ((mean - base) / spread)
    if not score > 0:
        return None
    text = (
        f"{feature} {_show(feature, value)} (segment average {_show(feature, mean)}, "
        f"audience {_show(feature, base)})"
    )
    return Reason(feature, value, mean, base, float(score), text)


def _as_float(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return float("nan")


def _show(feature: str, value: float) -> str:
    if feature in _RATES:
        return f"{value:.0%}"
    if value == round(value):
        return f"{value:.0f}"
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2g}"
