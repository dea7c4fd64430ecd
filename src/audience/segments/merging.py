"""Minimum segment size: clusters under a share of their branch join their nearest neighbour.

"Nearest" is Ward's criterion on the cluster centres, the same linkage that builds a
hierarchical tree: merging clusters ``a`` and ``b`` costs ``n_a n_b / (n_a + n_b)`` times
the squared distance between their centres, the increase in within-cluster variance. The
smallest cluster under the threshold goes first, into the neighbour that costs least; the
merged centre is the size-weighted mean; repeat until none is under the threshold or one
cluster is left. Outliers (label -1) are an explicit group and are never merged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from audience.models.base import NOISE, Labels, Matrix, relabel_by_size


@dataclass(frozen=True)
class Merge:
    """Cluster ``label`` (``size`` contacts, ``share`` of the branch) joined ``into``."""

    label: int
    into: int
    size: int
    share: float


def merge_small_clusters(labels: Labels, X: Matrix, min_share: float) -> tuple[Labels, list[Merge]]:
    """Merge clusters under ``min_share`` of the rows; return new labels (0.. by size) and merges.

    ``Merge`` records use the labels given, so they can be shown against the fit's output.
    """
    labels = np.asarray(labels)
    total = labels.size
    clustered = labels != NOISE
    present, counts = np.unique(labels[clustered], return_counts=True)
    sizes = {int(v): int(n) for v, n in zip(present, counts, strict=True)}
    centres = {v: X[labels == v].mean(axis=0) for v in sizes}
    owner = {v: v for v in sizes}  # original label → the label it now belongs to
    merges: list[Merge] = []
    while len(sizes) > 1:
        small = min(sizes, key=lambda v: (sizes[v], v))
        if sizes[small] >= min_share * total:
            break
        into = min(
            (v for v in sizes if v != small),
            key=lambda v: (_ward_cost(sizes[small], sizes[v], centres[small], centres[v]), v),
        )
        merges.append(Merge(small, into, sizes[small], sizes[small] / total))
        weight = sizes[small] + sizes[into]
        centres[into] = (sizes[small] * centres[small] + sizes[into] * centres[into]) / weight
        sizes[into] = weight
        del sizes[small], centres[small]
        owner = {v: (into if o == small else o) for v, o in owner.items()}
    merged = labels.copy()
    for original, now in owner.items():
        merged[labels == original] = now
    return relabel_by_size(merged), merges


def _ward_cost(n_a: int, n_b: int, a: Matrix, b: Matrix) -> float:
    return float(n_a * n_b / (n_a + n_b) * np.sum((a - b) ** 2))
