"""Ward hierarchical clustering: exact up to ``exact_max`` rows, two-stage above.

:class:`HierarchicalSegmenter` builds a Ward dendrogram once and cuts it at ``n_clusters``;
:meth:`HierarchicalSegmenter.recut` cuts the same tree at another k without refitting, so a
model-selection sweep over k costs one fit. Labels are numbered by decreasing segment size.

Why two stages, and why ``exact_max`` defaults to 10,000. Exact Ward keeps all pairwise
distances: O(n²) memory and time (scipy took ~5 s at 10,000 × 16, but ~40 s and 3.3 GB
at 20,000 × 16 here; scikit-learn's
``AgglomerativeClustering`` needs ~7 GB at 30,000, see PITFALLS). Above ``exact_max`` rows,
k-means first summarises the data into ``n_micro`` micro-clusters (fitted on a sample, then
every row assigned to its nearest centre), and Ward merges their centres, each weighted by
its number of rows. Ward's criterion, the increase in within-cluster sum of squares,
depends on a group only through its mean and size, so this is Ward on the micro-clusters
themselves. The approximations: no micro-cluster is ever split, and a centre fitted on the
sample stands in for the exact mean of its rows.

Weighted Ward. scipy's ``linkage(method="ward")`` treats every point as one observation, so
:func:`weighted_ward` runs the Lance–Williams recurrence itself, on squared distances:

    d²(i, j)       = 2 nᵢ nⱼ / (nᵢ + nⱼ) · ‖cᵢ − cⱼ‖²
    d²(k, A ∪ B)   = ((n_k + n_A) d²(k, A) + (n_k + n_B) d²(k, B) − n_k d²(A, B))
                     / (n_k + n_A + n_B)

With unit weights the first line is ‖cᵢ − cⱼ‖², and merge heights √d² are scipy's.

Anchors. Prediction assigns a new row the segment of its nearest *anchor*: a training row
(exact path: 1-nearest-neighbour on the training data) or a micro-centroid (two-stage).
"""

from __future__ import annotations

import logging
import warnings
from numbers import Integral
from typing import Any, Self

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage  # type: ignore[import-untyped]
from scipy.spatial.distance import pdist, squareform  # type: ignore[import-untyped]
from sklearn.base import BaseEstimator, ClusterMixin, clone  # type: ignore[import-untyped]
from sklearn.cluster import KMeans  # type: ignore[import-untyped]
from sklearn.exceptions import ConvergenceWarning  # type: ignore[import-untyped]
from sklearn.utils import check_random_state  # type: ignore[import-untyped]
from sklearn.utils.validation import check_is_fitted, validate_data  # type: ignore[import-untyped]

from audience.models.base import Labels, Matrix, inverse, nearest_anchor, size_order

logger = logging.getLogger(__name__)

_ROWS_PER_MICRO = 20
"""Sample rows per micro-cluster for the k-means stage: enough to place the centres (each
summarises ~n/n_micro rows anyway), few enough that 1,000 centres take seconds at 1M rows."""

_LEARNED = ("linkage_", "anchors_", "anchor_weights_", "anchor_index_", "two_stage_")
"""What :meth:`HierarchicalSegmenter.recut` carries over: everything but the cut."""


def weighted_ward(points: Matrix, weights: Matrix) -> Matrix:
    """Ward linkage of weighted points, as a scipy linkage matrix.

    ``points`` (m, d) are group means and ``weights`` (m,) their sizes (positive). Returns Z
    of shape (m − 1, 4) in scipy's format: row s merges clusters ``Z[s, 0] < Z[s, 1]`` (leaves
    are 0..m−1, the cluster made at row s is m + s) at height ``Z[s, 2]`` into a cluster of
    ``Z[s, 3]`` leaves. That column counts leaves, not weight, because scipy's ``fcluster``
    and ``dendrogram`` refuse a count above m; weights enter the heights only. O(m²) memory,
    O(m²) time in practice (m = 2,000 takes a fraction of a second).
    """
    points = np.asarray(points, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    if points.ndim != 2 or weights.shape != (points.shape[0],):
        raise ValueError(
            f"weighted_ward needs points of shape (m, d) and weights of shape (m,), "
            f"got {points.shape} and {weights.shape}"
        )
    if not (np.all(np.isfinite(weights)) and np.all(weights > 0)):
        raise ValueError("weighted_ward needs finite positive weights (drop empty groups first)")
    if points.shape[0] < 2:
        return np.empty((0, 4), dtype=np.float64)
    return _WardMerger(points, weights).run()


class _WardMerger:
    """The state of one weighted-Ward run: a dense matrix of squared Ward distances.

    Live clusters always occupy the first ``n`` slots: a merge keeps the lower slot and
    moves the last live slot into the higher one, so every vector operation works on a
    shrinking prefix (total work ~m²/2). ``row_min``/``row_arg`` cache each row's nearest
    neighbour; Ward is *reducible* (d²(k, A ∪ B) ≥ min(d²(k, A), d²(k, B))), so after a merge
    only the rows whose nearest neighbour was A or B need a fresh scan.
    """

    def __init__(self, points: Matrix, weights: Matrix) -> None:
        m: int = points.shape[0]
        self.m = m
        self.n = m
        self.size = weights.copy()
        self.leaves = np.ones(m, dtype=np.int64)
        self.ids = np.arange(m, dtype=np.int64)
        distances: Matrix = squareform(pdist(points, "sqeuclidean"))
        distances *= 2.0 * np.outer(weights, weights) / np.add.outer(weights, weights)
        np.fill_diagonal(distances, np.inf)  # a cluster is never its own neighbour
        self.d2 = distances
        self.row_arg = distances.argmin(axis=1)
        self.row_min = distances[np.arange(m), self.row_arg]
        self.linkage = np.empty((m - 1, 4), dtype=np.float64)

    def run(self) -> Matrix:
        for step in range(self.m - 1):
            keep, gone = self._closest_pair()
            self._record(step, keep, gone)
            self._merge(keep, gone, step)
            last = self._drop(gone)
            if self.n > 1:
                self._refresh(keep, gone, last)
        return self.linkage

    def _closest_pair(self) -> tuple[int, int]:
        i = int(self.row_min[: self.n].argmin())
        j = int(self.row_arg[i])
        return min(i, j), max(i, j)

    def _record(self, step: int, keep: int, gone: int) -> None:
        a, b = sorted((int(self.ids[keep]), int(self.ids[gone])))
        height = np.sqrt(self.d2[keep, gone])
        # Column 3 counts leaves, not weight: scipy's fcluster and dendrogram reject a
        # cluster "larger" than the number of leaves (is_valid_linkage).
        self.linkage[step] = (a, b, height, self.leaves[keep] + self.leaves[gone])

    def _merge(self, keep: int, gone: int, step: int) -> None:
        """Lance–Williams Ward update of the merged cluster's row and column (in place)."""
        n = self.n
        n_a, n_b, d_ab = self.size[keep], self.size[gone], self.d2[keep, gone]
        d_a, d_b, n_k = self.d2[keep, :n], self.d2[gone, :n], self.size[:n]
        # ((n_k + n_a) d_a + (n_k + n_b) d_b − n_k d_ab) / (n_k + n_a + n_b), regrouped as
        # n_k (d_a + d_b − d_ab) + n_a d_a + n_b d_b to need fewer temporaries.
        new = d_a + d_b
        new -= d_ab
        new *= n_k
        new += n_a * d_a
        new += n_b * d_b
        new /= n_k + (n_a + n_b)
        new[keep] = np.inf
        self.d2[keep, :n] = new
        self.d2[:n, keep] = new
        self.size[keep] = n_a + n_b
        self.leaves[keep] += self.leaves[gone]
        self.ids[keep] = self.m + step

    def _drop(self, gone: int) -> int:
        """Free slot ``gone`` by moving the last live slot into it; return the old last slot."""
        last = self.n - 1
        if gone != last:
            self.d2[gone, : self.n] = self.d2[last, : self.n]
            self.d2[: self.n, gone] = self.d2[last, : self.n]  # symmetric: column = row
            self.d2[gone, gone] = np.inf
            for array in (self.size, self.leaves, self.ids, self.row_min, self.row_arg):
                array[gone] = array[last]
        self.n = last
        return last

    def _refresh(self, keep: int, gone: int, last: int) -> None:
        """Repair the nearest-neighbour cache after merging ``keep`` and ``gone``."""
        n = self.n
        row_arg, row_min = self.row_arg[:n], self.row_min[:n]
        stale = (row_arg == keep) | (row_arg == gone)  # pointed at a cluster that changed
        stale[keep] = True
        row_arg[row_arg == last] = gone  # the moved cluster's new slot
        rows = np.flatnonzero(stale)
        block = self.d2[rows, :n]
        row_arg[rows] = block.argmin(axis=1)
        row_min[rows] = block[np.arange(rows.size), row_arg[rows]]
        # Reducibility says the merged cluster is never nearer than the cached minimum;
        # guard against rounding all the same (one vector comparison).
        merged = self.d2[keep, :n]
        nearer = merged < row_min
        if nearer.any():
            row_min[nearer] = merged[nearer]
            row_arg[nearer] = keep


class HierarchicalSegmenter(ClusterMixin, BaseEstimator):  # type: ignore[misc]
    """Ward agglomerative clustering that scales: exact Ward, or k-means then weighted Ward.

    Parameters
    ----------
    n_clusters : int
        Number of segments to cut the tree into (fewer if the data has fewer distinct rows).
    exact_max : int
        Largest number of rows clustered with exact Ward; above it, two-stage.
    n_micro : int
        Number of k-means micro-clusters in the two-stage path (at least ``n_clusters``).
    random_state : int or None
        Seed of the k-means micro-clustering (the exact path is deterministic).

    Attributes
    ----------
    labels_ : ndarray of shape (n_samples,)
        Segment of each training row; segment 0 is the largest.
    linkage_ : ndarray of shape (n_anchors - 1, 4)
        The Ward tree over the anchors, in scipy's linkage format (heights are Ward
        distances between groups of training rows; column 3 counts anchors, as scipy
        requires — the rows behind them are in ``anchor_weights_``).
    anchors_ : ndarray of shape (n_anchors, n_features)
        Training rows (exact path) or micro-cluster centres (two-stage).
    anchor_weights_ : ndarray of shape (n_anchors,)
        Training rows each anchor stands for (1 on the exact path).
    anchor_index_ : ndarray of shape (n_samples,)
        Anchor of each training row (its row number on the exact path).
    anchor_labels_ : ndarray of shape (n_anchors,)
        Segment of each anchor.
    cluster_centers_ : ndarray of shape (n_clusters_, n_features)
        Weighted mean of each segment's anchors: the mean of its training rows on the exact
        path, close to it on the two-stage one.
    n_clusters_ : int
        Number of segments found.
    two_stage_ : bool
        Whether the k-means micro-clustering was used.
    """

    def __init__(
        self,
        n_clusters: int = 8,
        *,
        exact_max: int = 10_000,
        n_micro: int = 1000,
        random_state: int | None = None,
    ) -> None:
        self.n_clusters = n_clusters
        self.exact_max = exact_max
        self.n_micro = n_micro
        self.random_state = random_state

    def fit(self, X: Any, y: Any = None) -> Self:
        self._check_params()
        X = validate_data(self, X, dtype=np.float64)
        self.two_stage_ = bool(X.shape[0] > self.exact_max)
        if self.two_stage_:
            self._fit_two_stage(X)
        else:
            self._fit_exact(X)
        self._cut()
        return self

    def predict(self, X: Any) -> Labels:
        """Segment of each row's nearest anchor (training row or micro-centre)."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        labels: Labels = self.anchor_labels_[nearest_anchor(X, self.anchors_)[0]]
        return labels

    def recut(self, n_clusters: int) -> HierarchicalSegmenter:
        """A new fitted segmenter cut at ``n_clusters`` from the same tree (no refit).

        The tree and anchors are shared with this one, not copied; neither is ever modified.
        """
        check_is_fitted(self)
        other: HierarchicalSegmenter = clone(self).set_params(n_clusters=n_clusters)
        other._check_params()
        names = (*_LEARNED, "n_features_in_", "feature_names_in_")
        for name in names:
            if hasattr(self, name):
                setattr(other, name, getattr(self, name))
        other._cut()
        return other

    def _check_params(self) -> None:
        problems = [
            _not_int(name, value, minimum)
            for name, value, minimum in (
                ("n_clusters", self.n_clusters, 1),
                ("exact_max", self.exact_max, 0),
                ("n_micro", self.n_micro, 1),
            )
        ]
        message = "; ".join(p for p in problems if p)
        if not message and self.n_micro < self.n_clusters:
            message = (
                f"n_micro ({self.n_micro}) must be at least n_clusters ({self.n_clusters}): "
                "the tree over the micro-clusters cannot be cut into more segments than leaves"
            )
        if message:
            raise ValueError(message)

    def _fit_exact(self, X: Matrix) -> None:
        n = X.shape[0]
        # scipy cannot build a tree over one point; a single leaf needs no merges.
        self.linkage_ = linkage(X, method="ward") if n > 1 else np.empty((0, 4))
        self.anchors_ = X.copy()  # not a view of the caller's array, which may change
        self.anchor_weights_ = np.ones(n, dtype=np.float64)
        self.anchor_index_ = np.arange(n, dtype=np.int64)

    def _fit_two_stage(self, X: Matrix) -> None:
        centres, index = self._micro_clusters(X)
        counts = np.bincount(index, minlength=centres.shape[0])
        # k-means leaves micro-clusters empty when X has fewer distinct rows than n_micro;
        # an empty group has no mean and no Ward weight, so it is dropped.
        used = counts > 0
        if not used.all():
            logger.info(
                "micro-clustering: %d of %d k-means clusters are empty (duplicate rows); dropped",
                int((~used).sum()),
                used.size,
            )
        renumber = np.cumsum(used) - 1
        self.anchors_ = centres[used]
        self.anchor_weights_ = counts[used].astype(np.float64)
        self.anchor_index_ = renumber[index].astype(np.int64)
        self.linkage_ = weighted_ward(self.anchors_, self.anchor_weights_)

    def _micro_clusters(self, X: Matrix) -> tuple[Matrix, Labels]:
        """k-means centres learnt on a sample, and the nearest centre of every row.

        Full k-means was far too slow at 1M × 16 with 1,000 centres (k-means++ seeding
        alone ~2 min, ~3 s per Lloyd pass; MiniBatchKMeans ~2 min), so k-means runs on
        ``_ROWS_PER_MICRO`` rows per centre from random starting rows, and one pass assigns
        all rows. That pass is ``predict`` itself, so predict(X) reproduces labels_.
        """
        rng = check_random_state(self.random_state)
        n_micro = min(self.n_micro, X.shape[0])
        n_sample = min(X.shape[0], _ROWS_PER_MICRO * n_micro)
        rows = np.sort(rng.choice(X.shape[0], n_sample, replace=False))
        model = KMeans(n_clusters=n_micro, init="random", n_init=1, random_state=rng)
        with warnings.catch_warnings():
            # Duplicate rows make k-means warn that it found fewer distinct clusters than
            # asked; _fit_two_stage drops the empty ones and logs it, so nothing is lost.
            warnings.filterwarnings("ignore", "Number of distinct clusters", ConvergenceWarning)
            model.fit(X[rows])
        centres = np.asarray(model.cluster_centers_, dtype=np.float64)
        return centres, nearest_anchor(X, centres)[0]

    def _cut(self) -> None:
        """Cut the tree at ``n_clusters`` and number segments by decreasing row count."""
        raw = _maxclust(self.linkage_, self.n_clusters, self.anchors_.shape[0])
        n_found = int(raw.max()) + 1
        # Ordering anchors by their summed weights numbers segments exactly as
        # relabel_by_size would number labels_, without a pass over the training rows.
        order = size_order(raw, n_found, self.anchor_weights_)
        self.anchor_labels_ = inverse(order)[raw]
        self.labels_ = self.anchor_labels_[self.anchor_index_]
        self.cluster_centers_ = _weighted_means(
            self.anchors_, self.anchor_weights_, self.anchor_labels_, n_found
        )
        self.n_clusters_ = n_found


def _maxclust(tree: Matrix, n_clusters: int, n_leaves: int) -> Labels:
    """Labels 0..k−1 of the leaves when ``tree`` is cut into at most ``n_clusters`` groups."""
    if n_leaves < 2:
        return np.zeros(n_leaves, dtype=np.int64)
    flat = fcluster(tree, min(n_clusters, n_leaves), criterion="maxclust")
    return np.unique(flat, return_inverse=True)[1].astype(np.int64)


def _weighted_means(points: Matrix, weights: Matrix, labels: Labels, n_labels: int) -> Matrix:
    totals = np.zeros((n_labels, points.shape[1]))
    np.add.at(totals, labels, points * weights[:, None])
    means: Matrix = totals / np.bincount(labels, weights=weights, minlength=n_labels)[:, None]
    return means


def _not_int(name: str, value: object, minimum: int) -> str:
    """The complaint about a parameter that must be an integer ≥ ``minimum`` ("" if fine)."""
    if isinstance(value, Integral) and not isinstance(value, bool) and int(value) >= minimum:
        return ""
    return f"{name} must be an integer >= {minimum}, got {value!r}"
