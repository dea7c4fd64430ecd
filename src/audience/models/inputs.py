"""From the feature table to the matrix a segmenter is fitted on.

The preprocessing is fitted on a seeded sample of at most ``[models] preprocess_sample``
contacts and then transforms every contact (a sample pins medians, Yeo–Johnson lambdas and
scales as well as all rows do, at a twentieth of the time on a million). Every method but
k-prototypes gets the :class:`~audience.features.preprocess.Preprocessor`
output of ``[models] features``. K-prototypes compares its categorical columns by matching,
so they are left out of the preprocessing and appended as integer codes (a missing value is
its own level, as in one-hot preprocessing).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from audience.config import ModelsConfig, PreprocessConfig
from audience.errors import SegmentationError
from audience.features.compiled import compile_preprocessor
from audience.features.preprocess import Preprocessor, build_preprocessor
from audience.models.base import Matrix


@dataclass(frozen=True)
class ClusteringInput:
    """The matrix, its column names, and how it was made."""

    matrix: Matrix
    columns: list[str]
    preprocessor: Preprocessor
    categorical: list[int]
    """Positions of the k-prototypes category-code columns (empty for other methods)."""
    levels: dict[str, list[str]]
    """Each category-code column's levels, code i = levels[i]."""


def clustering_input(
    frame: pd.DataFrame, models: ModelsConfig, preprocess: PreprocessConfig, method: str
) -> ClusteringInput:
    """Preprocess ``frame`` (one row per contact) for ``method``."""
    missing = [c for c in models.features if c not in frame.columns]
    if missing:
        raise SegmentationError(
            f"models.features lists {', '.join(missing)}, which the feature table does not "
            f"have; known columns: {', '.join(c for c in frame.columns if c != 'as_of')}."
        )
    if frame.empty:
        raise SegmentationError("There are no contacts to segment: ingest contacts first.")
    categorical = list(models.kprototypes.categorical) if method == "kprototypes" else []
    numeric = [c for c in models.features if c not in categorical]
    preprocessor = build_preprocessor(preprocess)
    fit_rows = frame[numeric]
    if len(fit_rows) > models.preprocess_sample:
        fit_rows = fit_rows.sample(n=models.preprocess_sample, random_state=models.random_state)
    preprocessor.fit(fit_rows)
    matrix = transformed(preprocessor, frame[numeric])
    columns = [str(name) for name in preprocessor.get_feature_names_out()]
    levels: dict[str, list[str]] = {}
    if categorical:
        codes = []
        for column in categorical:
            if column not in frame.columns:
                raise SegmentationError(
                    f"models.kprototypes.categorical lists {column!r}, which the feature "
                    "table does not have."
                )
            values = pd.Categorical(frame[column].astype("string").fillna("missing"))
            levels[column] = [str(level) for level in values.categories]
            codes.append(values.codes.astype(np.float64))
        matrix = np.column_stack([matrix, *codes])
        columns += categorical
    positions = list(range(len(columns) - len(categorical), len(columns)))
    return ClusteringInput(matrix, columns, preprocessor, positions, levels)


def transformed(preprocessor: Preprocessor, rows: pd.DataFrame) -> Matrix:
    """``preprocessor.transform(rows)``, through its compiled form where that covers the
    fitted pipeline: the same float64 numbers without scikit-learn's per-step validation
    and frames (200k contacts: 0.68 -> 0.11 s on one thread)."""
    compiled = compile_preprocessor(preprocessor)
    matrix = None if compiled is None else compiled.transform(rows)
    if matrix is None:
        matrix = preprocessor.transform(rows)
    return np.asarray(matrix, dtype=np.float64)
