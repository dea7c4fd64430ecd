"""What a segmentation run tells the person who ran it: the candidates, the choice, the sizes."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from audience.models.base import NOISE
from audience.models.inputs import ClusteringInput
from audience.models.selection import AutoSegmenter


@dataclass(frozen=True)
class SegmentationReport:
    """A fitted segmentation, before and after it is stored (``run_id`` set by :meth:`stored`)."""

    method: str
    n_segments: int
    requested_method: str
    requested_k: int | None
    selection: pd.DataFrame
    sizes: pd.DataFrame
    """One row per segment label (-1 = outliers): ``label``, ``size``, ``share``."""
    columns: list[str]
    dropped: dict[str, str]
    centers: np.ndarray
    """Mean preprocessed row per segment label 0..k-1."""
    probabilities: np.ndarray | None
    """Each contact's probability of its own segment (mixtures only)."""
    run_id: str | None = None
    as_of: datetime | None = None
    seconds: float = math.nan

    def stored(self, run_id: str, as_of: datetime, seconds: float) -> SegmentationReport:
        return replace(self, run_id=run_id, as_of=as_of, seconds=seconds)

    def metrics(self) -> dict[str, Any]:
        """What ``runs.metrics`` keeps: the choice, the whole selection table, the columns."""
        table = self.selection.astype(object).where(self.selection.notna(), None)
        return {
            "method": self.method,
            "n_segments": self.n_segments,
            "selection": table.to_dict(orient="records"),
            "columns": self.columns,
            "dropped_columns": self.dropped,
            "sizes": dict(
                zip(self.sizes["label"].tolist(), self.sizes["size"].tolist(), strict=True)
            ),
        }

    def definitions(self) -> dict[int, dict[str, Any]]:
        """Per label, what ``segments.definition`` keeps: method, label, centre by column."""
        out: dict[int, dict[str, Any]] = {
            label: {
                "method": self.method,
                "label": label,
                "center": {c: round(float(v), 6) for c, v in zip(self.columns, row, strict=True)},
            }
            for label, row in enumerate(self.centers)
        }
        out[NOISE] = {"method": self.method, "label": NOISE, "outliers": True}
        return out


def describe_run(
    segmenter: AutoSegmenter,
    inputs: ClusteringInput,
    requested_method: str,
    requested_k: int | None,
) -> SegmentationReport:
    """Summarise a fitted :class:`AutoSegmenter` for display and storage."""
    return describe_fit(
        segmenter.estimator_,
        segmenter.method_,
        segmenter.selection_,
        inputs,
        requested_method,
        requested_k,
    )


def describe_fit(
    estimator: Any,
    method: str,
    selection: pd.DataFrame,
    inputs: ClusteringInput,
    requested_method: str,
    requested_k: int | None,
) -> SegmentationReport:
    """Summarise an estimator fitted on ``inputs.matrix`` (its ``labels_`` label the rows)."""
    labels = np.asarray(estimator.labels_, dtype=np.int64)
    n_segments = int(np.unique(labels[labels != NOISE]).size)
    values, counts = np.unique(labels, return_counts=True)
    sizes = pd.DataFrame({"label": values, "size": counts, "share": counts / labels.size})
    kept = labels != NOISE
    centers = np.zeros((n_segments, inputs.matrix.shape[1]))
    np.add.at(centers, labels[kept], inputs.matrix[kept])
    centers /= np.maximum(np.bincount(labels[kept], minlength=n_segments), 1)[:, None]
    probabilities = None
    if hasattr(estimator, "predict_proba"):
        proba = estimator.predict_proba(inputs.matrix)
        probabilities = proba[np.arange(labels.size), np.maximum(labels, 0)]
    return SegmentationReport(
        method=method,
        n_segments=n_segments,
        requested_method=requested_method,
        requested_k=requested_k,
        selection=selection,
        sizes=sizes,
        columns=inputs.columns,
        dropped=dict(inputs.preprocessor.dropped_),
        centers=centers,
        probabilities=probabilities,
    )
