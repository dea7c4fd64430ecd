"""Assigning contacts to a stored run's segments without refitting anything.

A tree run keeps, next to the database, what assignment needs
(``models/<run_id>.joblib``): the rules as the checked SQL ``CASE`` of
:func:`~audience.segments.branches.branch_case`, and for each clustered branch its fitted
preprocessing, fitted estimator and the map from the estimator's labels to the run's
segment ids. :meth:`SegmentAssigner.assign` takes rows with the feature columns (and
``consent``, ``signup_at``, ``email_domain`` where rules use them): the rules run in an
in-memory DuckDB over the rows, then each branch's rows are transformed and predicted.

The file is a pickle (joblib): load only files this workspace wrote.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import joblib  # type: ignore[import-untyped]
import numpy as np
import pandas as pd

from audience.errors import ConfigError
from audience.features.preprocess import Preprocessor
from audience.segments.branches import RULE_COLUMNS


@dataclass(frozen=True)
class BranchAssigner:
    """One clustered branch: rows → preprocessing → estimator → segment id."""

    preprocessor: Preprocessor
    estimator: Any
    features: tuple[str, ...]
    segment_ids: dict[int, str]
    """The estimator's label → segment id (small clusters already mapped to where they went)."""

    def assign(self, rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Segment ids and, for mixtures, each row's probability of its own cluster (else NaN)."""
        matrix = self.preprocessor.transform(rows[list(self.features)])
        labels = np.asarray(self.estimator.predict(matrix))
        lookup = np.vectorize(lambda label: self.segment_ids.get(int(label), ""), otypes=[object])
        ids = lookup(labels)
        probability = np.full(len(rows), np.nan)
        if hasattr(self.estimator, "predict_proba") and len(set(self.segment_ids.values())) == len(
            self.segment_ids
        ):
            proba = self.estimator.predict_proba(matrix)
            probability = proba[np.arange(len(rows)), np.maximum(labels, 0)]
        return ids, probability


@dataclass(frozen=True)
class SegmentAssigner:
    """A stored tree run, ready to assign rows to its segments."""

    run_id: str
    case_sql: str
    """The rules: a ``CASE`` giving each row its branch (suppression, broad, fallback)."""
    branches: dict[str, BranchAssigner]

    def assign(self, rows: pd.DataFrame) -> pd.DataFrame:
        """``segment_id`` (None: no segment) and ``probability`` for each row, in order."""
        missing = sorted({*self._rule_columns()} - set(rows.columns))
        if missing:
            raise ConfigError(
                f"cannot assign: the rows lack {', '.join(missing)}, which the rules of run "
                f"{self.run_id} read; give every feature column (and consent, signup_at, "
                "email_domain where the rules use them)."
            )
        branch = self._branches(rows)
        segment = branch.astype(object).copy()
        probability = np.full(len(rows), np.nan)
        for name, assigner in self.branches.items():
            at = np.flatnonzero((branch == name).to_numpy())
            if at.size:
                ids, proba = assigner.assign(rows.iloc[at])
                segment.iloc[at] = ids
                probability[at] = proba
        return pd.DataFrame(
            {"segment_id": segment.where(segment.notna(), None), "probability": probability},
            index=rows.index,
        )

    def save(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        joblib.dump(self, path)
        return path

    @classmethod
    def load(cls, path: Path) -> SegmentAssigner:
        if not path.is_file():
            raise ConfigError(
                f"{path} does not exist: the run was made before runs kept their models, or "
                "the file was removed. Run `audience segment` again."
            )
        loaded = joblib.load(path)
        if not isinstance(loaded, cls):
            raise ConfigError(f"{path} does not hold a segment assigner.")
        return loaded

    def _rule_columns(self) -> list[str]:
        return [c for c in RULE_COLUMNS if f'"{c}"' in self.case_sql]

    def _branches(self, rows: pd.DataFrame) -> pd.Series:
        con = duckdb.connect()
        try:
            # The row number keeps a frame registrable when the rules read no column at all.
            columns = rows[self._rule_columns()].reset_index(drop=True)
            con.register("_rows", columns.assign(_row=np.arange(len(rows))))
            sql = f"SELECT {self.case_sql} AS branch FROM _rows ORDER BY _row"
            branch: pd.Series = con.sql(sql).df()["branch"]
        finally:
            con.close()
        return branch.set_axis(rows.index)
