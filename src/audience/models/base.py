"""What the segmenters share: the noise label, nearest-anchor assignment, label helpers."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import pairwise_distances_argmin_min  # type: ignore[import-untyped]

NOISE = -1
"""The label of contacts a density method leaves out: the explicit outliers group."""

Matrix = np.ndarray[Any, np.dtype[np.float64]]
Labels = np.ndarray[Any, np.dtype[np.int64]]


def nearest_anchor(X: Matrix, anchors: Matrix) -> tuple[Labels, Matrix]:
    """Index of, and Euclidean distance to, each row's nearest anchor (chunked by sklearn,
    so 1M rows × 2,000 anchors never needs the full distance matrix)."""
    index, distance = pairwise_distances_argmin_min(X, anchors)
    return index.astype(np.int64), distance


def segment_shares(labels: Labels) -> dict[int, float]:
    """Share of rows per label (noise included as -1), in label order."""
    values, counts = np.unique(labels, return_counts=True)
    return {int(v): float(c) / len(labels) for v, c in zip(values, counts, strict=True)}


def relabel_by_size(labels: Labels) -> Labels:
    """Renumber non-noise labels 0..k-1 by decreasing size (ties: smaller old label first);
    noise stays -1. Deterministic numbering makes runs comparable and tests readable."""
    labels = np.asarray(labels, dtype=np.int64)
    present, counts = np.unique(labels[labels != NOISE], return_counts=True)
    order = present[np.lexsort((present, -counts))]
    mapping = np.full(int(present.max()) + 1 if present.size else 1, NOISE, dtype=np.int64)
    mapping[order] = np.arange(order.size)
    return np.where(labels == NOISE, NOISE, mapping[np.maximum(labels, 0)])


def size_order(labels: Labels, n_labels: int, weights: Matrix | None = None) -> Labels:
    """Old labels 0..n_labels-1 sorted by decreasing size (ties: smaller label first):
    ``centers[size_order(...)]`` puts centres in the order :func:`relabel_by_size` numbers them.
    Labels that never occur go last; with ``weights``, size is the total weight."""
    kept = labels != NOISE
    counts = np.bincount(
        labels[kept], weights=None if weights is None else weights[kept], minlength=n_labels
    )
    return np.lexsort((np.arange(n_labels), -counts)).astype(np.int64)


def inverse(order: Labels) -> Labels:
    """``inverse(order)[old] == new`` for a permutation ``order[new] == old``."""
    out = np.empty_like(order)
    out[order] = np.arange(order.size)
    return out
