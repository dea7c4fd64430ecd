"""A fitted segmenter refitted on new rows from where it ended: a refresh without reselection.

``audience refresh`` does not always run the model selection again (``[refresh] reselect``).
When it does not, each branch keeps the previous run's preprocessing (so the new rows are in
the same units as its centres) and its method and number of segments: k-means and the
Gaussian mixture start from the previous centres and converge in a few iterations, where the
selection would sweep every (method, k) and measure stability by refitting. The refit is
scored on a sample as a candidate of the selection is, so quality alerts still see its
silhouette.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone  # type: ignore[import-untyped]

from audience.models.base import Matrix
from audience.models.kmeans import KMeansSegmenter
from audience.models.mixture import GaussianMixtureSegmenter
from audience.models.scores import PairwiseSample
from audience.models.selection import SELECTION_COLUMNS, score_candidate

_STARTS = {KMeansSegmenter: ("kmeans", "init"), GaussianMixtureSegmenter: ("gmm", "means_init")}
"""The estimators that start from given centres: their method, the parameter taking them."""


def can_refit_warm(estimator: Any) -> bool:
    """Whether ``estimator`` can start again from its centres (k-means, mixtures)."""
    return type(estimator) in _STARTS and hasattr(estimator, "cluster_centers_")


def refit_warm(
    estimator: Any,
    matrix: Matrix,
    *,
    previous_run: str,
    sample_size: int,
    silhouette_sample: int,
    random_state: int | None,
) -> tuple[Any, pd.DataFrame]:
    """``estimator`` refitted on ``matrix`` from its own centres, and a one-row selection
    table with its scores on a seeded sample (status ``chosen``)."""
    method, parameter = _STARTS[type(estimator)]
    start = {parameter: np.asarray(estimator.cluster_centers_, dtype=np.float64)}
    refitted = clone(estimator).set_params(**start).fit(matrix)
    rng = np.random.default_rng(random_state)
    rows = np.arange(matrix.shape[0])
    if rows.size > sample_size:
        rows = np.sort(rng.choice(rows.size, size=sample_size, replace=False))
    sampled = _Labelled(np.asarray(refitted.labels_)[rows], getattr(refitted, "bic_", None))
    pairs = PairwiseSample(rows.size, silhouette_sample, rng)
    candidate = score_candidate(method, sampled.n_segments, sampled, matrix[rows], pairs)
    candidate.status = "chosen"
    candidate.reason = f"refit from run {previous_run}'s centres (no reselection)"
    table = pd.DataFrame([candidate.row()], columns=list(SELECTION_COLUMNS))
    return refitted, table


class _Labelled:
    """The refit's labels of the sampled rows, scored as a candidate's."""

    def __init__(self, labels: np.ndarray, bic: float | None) -> None:
        self.labels_ = labels
        self.n_segments = int(np.unique(labels[labels >= 0]).size)
        if bic is not None:
            self.bic_ = bic
