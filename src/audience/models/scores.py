"""Scores for comparing clusterings of the same rows, each cheap enough for a k sweep.

* :func:`silhouette_on_sample` — the exact mean silhouette, but on a fixed sample of at most a
  few thousand rows (exact silhouette is O(n²): 50k rows take ~19 s, 1M would take hours).
  :class:`PairwiseSample` computes the sample's distance matrix once, so scoring 30 candidate
  clusterings costs 30 cheap passes over it, not 30 distance computations.
* :func:`simplified_silhouette` — the centroid silhouette (distance to the own centre vs the
  nearest other centre): O(n·k), for any n.
* :func:`within_sum_of_squares` — inertia from labels alone, so every method gets an elbow.
* :func:`stability` — adjusted Rand index between a clustering and refits on subsamples.
* :func:`knee` — the Kneedle knee (Satopää et al. 2011) of a decreasing convex curve, via
  the ``kneed`` package.

Noise rows (label -1) are left out of every score; the share of noise is guarded separately.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from kneed import KneeLocator  # type: ignore[import-untyped]
from sklearn.metrics import (  # type: ignore[import-untyped]
    adjusted_rand_score,
    calinski_harabasz_score,
    davies_bouldin_score,
    pairwise_distances,
)

from audience.models.base import NOISE, Labels, Matrix


class PairwiseSample:
    """A fixed sample of rows with its distance matrix, for repeated silhouettes."""

    def __init__(self, n_rows: int, size: int, rng: np.random.Generator) -> None:
        self.index = np.sort(rng.choice(n_rows, size=min(size, n_rows), replace=False))
        self._distances: Matrix | None = None

    def distances(self, X: Matrix) -> Matrix:
        if self._distances is None:
            self._distances = pairwise_distances(X[self.index])
        return self._distances

    def silhouette(self, X: Matrix, labels: Labels) -> float:
        """Mean silhouette of the sampled non-noise rows; NaN with fewer than 2 segments."""
        return self.silhouettes(X, [labels])[0]

    def silhouettes(self, X: Matrix, labelings: Sequence[Labels]) -> list[float]:
        """:meth:`silhouette` of each labelling of the rows of ``X``.

        The labellings without noise on the sample share one matrix product (distances ×
        all their one-hot labels side by side): the distance matrix is read once for all of
        them, not once per candidate, which is what a sweep of 20-odd candidates spent most
        of its scoring time on (128 MB read per product at 4,000 rows)."""
        scores = [math.nan] * len(labelings)
        whole: list[tuple[int, Labels]] = []
        for position, labels in enumerate(labelings):
            sampled = labels[self.index]
            kept = sampled != NOISE
            segments = np.unique(sampled[kept]).size
            if segments < 2 or kept.sum() <= segments:
                continue
            if kept.all():
                whole.append((position, sampled))
            else:
                distances = self.distances(X)[np.ix_(kept, kept)]
                scores[position] = mean_silhouette(distances, sampled[kept])
        if whole:
            batch = mean_silhouettes(self.distances(X), [labels for _, labels in whole])
            for (position, _), score in zip(whole, batch, strict=True):
                scores[position] = score
        return scores


def mean_silhouette(distances: Matrix, labels: Labels) -> float:
    """Mean silhouette (Rousseeuw 1987) from a square distance matrix, as scikit-learn's
    ``silhouette_score(metric="precomputed")`` computes it, but with one matrix product
    (distances × one-hot labels) instead of its per-chunk validation and reductions:
    ~10x faster on the 4,000-row matrix scored for every candidate.

    a(i) = mean distance to the other members of its segment, b(i) = smallest mean distance
    to another segment, s(i) = (b − a) / max(a, b), and s(i) = 0 in a segment of one.
    """
    return mean_silhouettes(distances, [labels])[0]


def mean_silhouettes(distances: Matrix, labelings: Sequence[Labels]) -> list[float]:
    """:func:`mean_silhouette` of each labelling of the same rows, with one matrix product."""
    codings = [np.unique(labels, return_inverse=True)[1] for labels in labelings]
    widths = [int(codes.max()) + 1 for codes in codings]
    offsets = np.cumsum([0, *widths])
    one_hot = np.zeros((distances.shape[0], int(offsets[-1])))
    rows = np.arange(distances.shape[0])
    for codes, offset in zip(codings, offsets, strict=False):
        one_hot[rows, offset + codes] = 1.0
    sums = distances @ one_hot
    return [
        _silhouette_from_sums(sums[:, start:end], one_hot[:, start:end].sum(axis=0), codes)
        for codes, start, end in zip(codings, offsets[:-1], offsets[1:], strict=True)
    ]


def _silhouette_from_sums(sums: Matrix, sizes: Matrix, codes: Labels) -> float:
    """The mean silhouette from each row's summed distance to each segment (``sums``)."""
    rows = np.arange(codes.size)
    own_size = sizes[codes]
    a = sums[rows, codes] / np.maximum(own_size - 1, 1)
    means = sums / sizes
    means[rows, codes] = np.inf
    b = means.min(axis=1)
    scores = np.where(own_size > 1, (b - a) / np.maximum(np.maximum(a, b), 1e-300), 0.0)
    return float(scores.mean())


def simplified_silhouette(X: Matrix, labels: Labels, centers: Matrix) -> float:
    """Mean of (b − a) / max(a, b) with a = distance to the own centre and b = to the nearest
    other centre (Hruschka et al. 2004); noise rows are skipped."""
    kept = labels != NOISE
    if centers.shape[0] < 2 or not kept.any():
        return float("nan")
    rows, own = X[kept], labels[kept]
    squared = (
        (rows**2).sum(axis=1)[:, None] - 2 * rows @ centers.T + (centers**2).sum(axis=1)[None, :]
    )
    distances = np.sqrt(np.maximum(squared, 0.0))
    a = distances[np.arange(own.size), own]
    distances[np.arange(own.size), own] = np.inf
    b = distances.min(axis=1)
    denominator = np.maximum(np.maximum(a, b), 1e-12)
    return float(np.mean((b - a) / denominator))


def centers_of(X: Matrix, labels: Labels) -> Matrix:
    """Mean row of each segment 0..max(labels) (noise left out)."""
    kept = labels != NOISE
    k = int(labels[kept].max()) + 1 if kept.any() else 0
    sums = np.zeros((k, X.shape[1]))
    np.add.at(sums, labels[kept], X[kept])
    counts = np.bincount(labels[kept], minlength=k)
    return sums / np.maximum(counts, 1)[:, None]


def within_sum_of_squares(X: Matrix, labels: Labels) -> float:
    """Sum of squared distances of non-noise rows to their segment's mean (the inertia)."""
    kept = labels != NOISE
    centers = centers_of(X, labels)
    return float(((X[kept] - centers[labels[kept]]) ** 2).sum())


def separation_scores(X: Matrix, labels: Labels) -> tuple[float, float]:
    """Calinski–Harabasz (higher is better) and Davies–Bouldin (lower is better), noise
    left out; NaN when fewer than 2 segments."""
    kept = labels != NOISE
    k = np.unique(labels[kept]).size
    if k < 2 or k >= kept.sum():
        return float("nan"), float("nan")
    return (
        float(calinski_harabasz_score(X[kept], labels[kept])),
        float(davies_bouldin_score(X[kept], labels[kept])),
    )


def stability(
    X: Matrix,
    labels: Labels,
    refit_predict: Callable[[Matrix], Labels],
    *,
    n_subsamples: int,
    fraction: float,
    rng: np.random.Generator,
) -> float:
    """Mean adjusted Rand index between ``labels`` and the labels given to the same rows by
    models refitted on random subsamples (``fraction`` of the rows, without replacement).

    A partition that reflects real structure comes back when the data is perturbed; one
    that splits a blob arbitrarily does not (Ben-Hur et al. 2002; Lange et al. 2004).
    """
    scores = []
    for _ in range(n_subsamples):
        subsample = rng.choice(X.shape[0], size=max(2, int(fraction * X.shape[0])), replace=False)
        scores.append(adjusted_rand_score(labels, refit_predict(X[subsample])))
    return float(np.mean(scores))


def knee(ks: Sequence[int], values: Sequence[float]) -> int | None:
    """The knee of a decreasing curve (inertia or BIC over k) by Kneedle; None if it has none."""
    finite = [(k, v) for k, v in zip(ks, values, strict=True) if np.isfinite(v)]
    if len(finite) < 3:
        return None
    xs, ys = zip(*finite, strict=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # kneed warns "No knee/elbow found": we return None
        found: Any = KneeLocator(list(xs), list(ys), curve="convex", direction="decreasing").knee
    return None if found is None else int(found)
