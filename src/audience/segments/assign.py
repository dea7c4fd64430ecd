"""Assigning contacts to a stored run's segments without refitting anything.

A tree run keeps, next to the database, what assignment needs
(``models/<run_id>.joblib``): the rules as the checked SQL ``CASE`` of
:func:`~audience.segments.branches.branch_case`, and for each clustered branch its fitted
preprocessing, fitted estimator and the map from the estimator's labels to the run's
segment ids. :meth:`SegmentAssigner.assign` takes rows with the feature columns (and
``consent``, ``signup_at``, ``email_domain`` where rules use them): the rules give each row
its branch, then each branch's rows are transformed and predicted.

Nothing here changes an answer, only how fast it comes (on two cores, about a millisecond
for one row and half a second for a million, against ~45 ms and ~2–3 s through DuckDB and
scikit-learn; see issue 6):

* the rules run compiled to numpy (:mod:`audience.segments.rule_eval`), which gives
  DuckDB's answer or hands the rows to DuckDB;
* the preprocessing runs compiled to numpy (:mod:`audience.features.compiled`), which gives
  scikit-learn's numbers or hands the rows to the fitted preprocessor;
* k-means labels come from the nearest centre, computed directly; rows whose two nearest
  centres are within rounding error of each other are labelled by the estimator itself.

The compiled forms are built on first use (the first call takes some milliseconds more:
warm a server up with one row) and never saved, so files written before them load and work
as they did. An assigner may serve several threads at once. The file is a pickle (joblib),
signed with the workspace secret and checked before it is unpickled
(:mod:`audience.store.model_files`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from audience.errors import ConfigError, WorkspaceError
from audience.features.compiled import (
    CompiledPreprocessor,
    PreparedColumns,
    compile_preprocessor,
)
from audience.features.preprocess import Preprocessor
from audience.models.kmeans import KMeansSegmenter
from audience.segments.branches import RULE_COLUMNS
from audience.segments.rule_eval import RuleProgram
from audience.store.model_files import ModelFiles

_TIE = 1e-9
"""Two centres closer than this (relative to the squared norms) are a tie to be settled by
the estimator's own arithmetic, not by ours."""


class _Compiles:
    """Compiled forms are cached on the instance and left out of its pickle."""

    _CACHED: tuple[str, ...] = ()

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in self._CACHED}


@dataclass(frozen=True)
class _Centres:
    centres: np.ndarray
    squared: np.ndarray
    """``‖c‖²`` of each centre."""


def _nearest(matrix: np.ndarray, centres: _Centres) -> tuple[np.ndarray, np.ndarray]:
    """Each row's nearest centre (the first of equals) and how much farther the next is, in
    ``‖x − c‖²`` (the row's own ``‖x‖²`` left out: it does not change the order)."""
    distance = centres.squared[:, None] - 2.0 * (centres.centres @ matrix.T)
    best = distance[0].copy()
    second = np.full_like(best, np.inf)
    labels = np.zeros(len(best), dtype=np.int64)
    for label in range(1, len(distance)):
        candidate = distance[label]
        closer = candidate < best
        second = np.where(closer, best, np.minimum(second, candidate))
        labels[closer] = label
        best = np.minimum(best, candidate)
    return labels, second - best


@dataclass(frozen=True)
class BranchAssigner(_Compiles):
    """One clustered branch: rows → preprocessing → estimator → segment id."""

    preprocessor: Preprocessor
    estimator: Any
    features: tuple[str, ...]
    segment_ids: dict[int, str]
    """The estimator's label → segment id (small clusters already mapped to where they went)."""

    _CACHED = ("_compiled", "_centres", "_lookup")

    def assign(self, rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Segment ids and, for mixtures, each row's probability of its own cluster (else NaN)."""
        return self.assign_at(rows, PreparedColumns(rows), None)

    def assign_at(
        self, rows: pd.DataFrame, columns: PreparedColumns, at: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """As :meth:`assign`, for the rows at positions ``at`` (None: all); ``columns``
        converts each feature column of ``rows`` once for every branch."""
        matrix = None
        if self._compiled is not None:
            matrix = self._compiled.transform_columns(columns, at)
        if matrix is None:
            chosen = rows if at is None else rows.iloc[at]
            matrix = self.preprocessor.transform(chosen[list(self.features)])
        labels = self._predict(matrix)
        ids = self._ids(labels)
        probability = np.full(len(labels), np.nan)
        if hasattr(self.estimator, "predict_proba") and len(set(self.segment_ids.values())) == len(
            self.segment_ids
        ):
            proba = self.estimator.predict_proba(matrix)
            probability = proba[np.arange(len(labels)), np.maximum(labels, 0)]
        return ids, probability

    @cached_property
    def _compiled(self) -> CompiledPreprocessor | None:
        compiled = compile_preprocessor(self.preprocessor)
        if compiled is None or compiled.features_in != tuple(self.features):
            return None
        return compiled

    @cached_property
    def _centres(self) -> _Centres | None:
        """The centres of a k-means estimator, whose labels are the nearest centre."""
        if type(self.estimator) is not KMeansSegmenter:
            return None
        centres = np.ascontiguousarray(self.estimator.cluster_centers_, dtype=np.float64)
        return _Centres(centres, (centres**2).sum(axis=1))

    @cached_property
    def _lookup(self) -> tuple[int, np.ndarray]:
        """Offset and table: ``table[label + offset]`` is the label's id ("" if unmapped)."""
        labels = list(self.segment_ids)
        low, high = min([0, *labels]), max([0, *labels])
        table = np.full(high - low + 1, "", dtype=object)
        for label, segment in self.segment_ids.items():
            table[label - low] = segment
        return -low, table

    def _predict(self, matrix: np.ndarray) -> np.ndarray:
        centres = self._centres
        if (
            centres is None
            or matrix.ndim != 2
            or matrix.shape[1] != centres.centres.shape[1]
            or not np.isfinite(matrix).all()
        ):
            return np.asarray(self.estimator.predict(matrix))
        labels, gap = _nearest(matrix, centres)
        # Near a tie, the last bits of the arithmetic decide: let the estimator's decide.
        scale = np.einsum("ij,ij->i", matrix, matrix) + centres.squared.max() + 1.0
        tied = np.flatnonzero(gap <= _TIE * scale)
        if tied.size:
            labels[tied] = self.estimator.predict(matrix[tied])
        return labels

    def _ids(self, labels: np.ndarray) -> np.ndarray:
        offset, table = self._lookup
        at = labels + offset
        inside = (at >= 0) & (at < len(table))
        ids: np.ndarray = table[np.where(inside, at, 0)]
        return ids if inside.all() else np.where(inside, ids, "")


@dataclass(frozen=True)
class SegmentAssigner(_Compiles):
    """A stored tree run, ready to assign rows to its segments."""

    run_id: str
    case_sql: str
    """The rules: a ``CASE`` giving each row its branch (suppression, broad, fallback)."""
    branches: dict[str, BranchAssigner]

    _CACHED = ("_rules",)

    def assign(self, rows: pd.DataFrame) -> pd.DataFrame:
        """``segment_id`` (None: no segment) and ``probability`` for each row, in order."""
        missing = sorted(c for c in self._rule_columns() if c not in rows.columns)
        if missing:
            raise ConfigError(
                f"cannot assign: the rows lack {', '.join(missing)}, which the rules of run "
                f"{self.run_id} read; give every feature column (and consent, signup_at, "
                "email_domain where the rules use them)."
            )
        codes, outcomes = self._rules.branches(rows)
        segment = np.array(outcomes, dtype=object)[codes]
        probability = np.full(len(rows), np.nan)
        columns = PreparedColumns(rows)
        for code, name in enumerate(outcomes):
            assigner = self.branches.get(name) if name is not None else None
            if assigner is None:
                continue
            at = np.flatnonzero(codes == code)
            if at.size:
                everyone = at.size == len(rows)
                ids, proba = assigner.assign_at(rows, columns, None if everyone else at)
                segment[at] = ids
                probability[at] = proba
        return pd.DataFrame(
            {
                "segment_id": pd.Series(segment, index=rows.index, dtype=object),
                "probability": probability,
            },
            index=rows.index,
        )

    def save(self, files: ModelFiles) -> Path:
        """Write this assigner, signed, as its run's model file."""
        return files.save(self.run_id, self)

    @classmethod
    def load(cls, files: ModelFiles, run_id: str) -> SegmentAssigner:
        """A run's assigner, from a file whose signature was checked before unpickling."""
        loaded = files.load(run_id)
        if not isinstance(loaded, cls):
            raise WorkspaceError(f"{files.path(run_id)} does not hold a segment assigner.")
        return loaded

    @cached_property
    def _rules(self) -> RuleProgram:
        return RuleProgram(self.case_sql, self._rule_columns())

    def _rule_columns(self) -> list[str]:
        return [c for c in RULE_COLUMNS if f'"{c}"' in self.case_sql]
