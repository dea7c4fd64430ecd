"""What a report shows: one run's results as plain pandas, numpy and Python values.

:class:`ReportData` is filled by the caller (the pipeline reads it from the workspace); the
report package only draws it. Its checks run at construction and list every problem at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from audience.errors import AudienceError

REQUIRED_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "ingest": ("source", "kind", "rows_read", "accepted", "quarantined", "duplicates"),
    "quality": ("reason", "rows"),
    "selection": (
        "method",
        "k",
        "silhouette",
        "inertia",
        "bic",
        "calinski_harabasz",
        "davies_bouldin",
        "stability",
        "status",
        "reason",
    ),
    "projection": ("x", "y", "segment"),
    "tree": ("segment_id", "parent_id", "name", "size", "share", "kind"),
    "merges": ("segment_id", "into", "size", "reason"),
    "transitions": ("from_segment", "to_segment", "contacts"),
    "size_changes": ("segment_id", "previous", "current", "change", "relative_change"),
    "drift": ("scope", "feature", "psi", "ks", "status"),
}
"""Columns each table must have; a table with no rows may also have no columns at all."""

PERSONA_KEYS: tuple[str, ...] = ("segment_id", "name", "size", "share")
"""Keys every persona must have; ``stage``, ``traits``, ``messaging``, ``actions`` and
``rules`` are optional (empty when absent)."""


class ReportDataError(AudienceError, ValueError):
    """The data handed to the report is missing columns or has impossible values."""


def _empty() -> pd.DataFrame:
    return pd.DataFrame()


@dataclass(frozen=True, eq=False)
class ReportData:
    """Everything one HTML report shows, for one segmentation run.

    Tables may be empty (``pd.DataFrame()``): their section then says there is nothing to
    show. Shares are fractions in [0, 1]. Any text here may come from users (file names,
    segment names) and is escaped wherever it is shown.
    """

    title: str
    """Heading of the page and the browser tab."""
    run_id: str
    """Identifier of the segmentation run the report describes."""
    as_of: datetime
    """The date the features were computed at."""
    created_at: datetime
    """When the run was made."""
    method: str
    """The chosen clustering method, for example ``"kmeans"``."""
    n_segments: int
    """Number of segments of the chosen model (also colours the dendrogram's cut)."""
    ingest: pd.DataFrame = field(default_factory=_empty)
    """One row per ingest: source, kind, rows_read, accepted, quarantined, duplicates."""
    quality: pd.DataFrame = field(default_factory=_empty)
    """Quarantined rows by reason: reason, rows."""
    features: pd.DataFrame = field(default_factory=_empty)
    """Numeric feature values of (a sample of) contacts, one column per feature."""
    selection: pd.DataFrame = field(default_factory=_empty)
    """The candidates: method, k, silhouette, inertia (NaN if not centroid-based), bic (NaN if
    not a mixture), calinski_harabasz, davies_bouldin, stability (may be NaN), status
    (``"chosen"``, ``"rejected"`` or ``"not chosen"``) and reason."""
    projection: pd.DataFrame = field(default_factory=_empty)
    """A 2-D projection of (a sample of) the clustering matrix: x, y, segment (label text)."""
    dendrogram: np.ndarray[Any, np.dtype[np.floating[Any]]] | None = None
    """A scipy linkage matrix (n − 1 × 4) when the method is hierarchical, else ``None``."""
    lift: pd.DataFrame = field(default_factory=_empty)
    """Lift of each feature (index) in each segment (columns: segment ids); 1 = average."""
    personas: list[dict[str, Any]] = field(default_factory=list)
    """One dict per segment: segment_id, name, size, share, and optionally stage (str),
    traits (list of str), messaging (str), actions (list of str), rules (list of str)."""
    tree: pd.DataFrame = field(default_factory=_empty)
    """The segment tree: segment_id (a path such as ``customers/high-value``), parent_id (a
    segment_id of this table, or None for a root), name, size, share, kind."""
    merges: pd.DataFrame = field(default_factory=_empty)
    """Small segments merged into others: segment_id, into, size, reason."""
    surrogate_fidelity: float | None = None
    """Share of contacts the readable rules assign to the same segment as the model."""
    rules: dict[str, list[str]] = field(default_factory=dict)
    """Readable rules of each segment, by segment id."""
    previous_run_id: str | None = None
    """The run this one is compared with in "What changed" (the previous segment-tree
    run); None for a first run, which has nothing to compare."""
    previous_names: dict[str, str] = field(default_factory=dict)
    """Names of the previous run's segments, by id."""
    transitions: pd.DataFrame = field(default_factory=_empty)
    """Contacts by their segment in the previous run and in this one: from_segment (None:
    not in the previous run), to_segment (None: not in this one), contacts."""
    size_changes: pd.DataFrame = field(default_factory=_empty)
    """Each segment's contacts before and now: segment_id, previous, current, change,
    relative_change (NaN for a new segment)."""
    drift: pd.DataFrame = field(default_factory=_empty)
    """Feature drift: scope (``""``: the contactable population, else a segment id),
    feature, psi, ks (NaN for a categorical feature), status (ok, watch or alert)."""

    def __post_init__(self) -> None:
        problems = [*_table_problems(self), *_value_problems(self)]
        if problems:
            raise ReportDataError(
                "cannot build the report: "
                + "; ".join(problems)
                + ". Fill ReportData as its field docstrings describe."
            )


def is_empty(table: pd.DataFrame) -> bool:
    """True for a table with no rows (with or without columns)."""
    return len(table) == 0


def _table_problems(data: ReportData) -> list[str]:
    problems = []
    for name, required in REQUIRED_COLUMNS.items():
        table = getattr(data, name)
        if not isinstance(table, pd.DataFrame):
            problems.append(f"{name} must be a pandas DataFrame, got {type(table).__name__}")
            continue
        if is_empty(table) and len(table.columns) == 0:
            continue
        missing = [column for column in required if column not in table.columns]
        if missing:
            problems.append(
                f"{name} lacks column(s) {', '.join(repr(c) for c in missing)} "
                f"(has {', '.join(repr(str(c)) for c in table.columns) or 'none'})"
            )
    return problems


def _value_problems(data: ReportData) -> list[str]:
    problems = []
    if data.n_segments < 0:
        problems.append(f"n_segments must be ≥ 0, got {data.n_segments}")
    non_numeric = [
        str(c) for c in data.features.columns if not pd.api.types.is_numeric_dtype(data.features[c])
    ]
    if non_numeric:
        problems.append(f"features must be numeric; not numeric: {', '.join(non_numeric)}")
    if data.dendrogram is not None:
        shape = np.shape(data.dendrogram)
        if len(shape) != 2 or shape[1] != 4 or shape[0] < 1:
            problems.append(f"dendrogram must be a linkage matrix of shape (n − 1, 4), got {shape}")
    fidelity = data.surrogate_fidelity
    if fidelity is not None and not 0.0 <= fidelity <= 1.0:
        problems.append(f"surrogate_fidelity must be a fraction in [0, 1], got {fidelity}")
    for i, persona in enumerate(data.personas):
        missing = [key for key in PERSONA_KEYS if key not in persona]
        if missing:
            problems.append(f"persona {i} lacks key(s) {', '.join(missing)}")
    problems.extend(_tree_problems(data.tree))
    return problems


def _tree_problems(tree: pd.DataFrame) -> list[str]:
    if is_empty(tree) or "parent_id" not in tree.columns or "segment_id" not in tree.columns:
        return []
    ids = tree["segment_id"].astype(str)
    problems = []
    duplicated = sorted(set(ids[ids.duplicated()]))
    if duplicated:
        problems.append(f"tree has duplicate segment_id(s) {', '.join(duplicated)}")
    parents = {str(p) for p in tree["parent_id"] if not is_missing(p)}
    orphans = sorted(parents - set(ids))
    if orphans:
        problems.append(f"tree parent_id(s) {', '.join(orphans)} are not segment_ids of the tree")
    return problems


def is_missing(value: object) -> bool:
    """True for None, NaN and pd.NA: a parent_id of a root, a score not computed."""
    return value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA
