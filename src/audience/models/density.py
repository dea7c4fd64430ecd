"""Density segmenters: DBSCAN and HDBSCAN, with an explicit outliers group and ``predict``.

A density method calls a segment any region where contacts are packed more tightly than
around them, whatever its shape, and leaves the contacts in sparse regions out: they get
the label ``-1`` (:data:`~audience.models.base.NOISE`), an explicit "outliers" group rather
than a segment they were forced into. Both classes wrap scikit-learn (``DBSCAN``,
``HDBSCAN``) and add what the pipeline needs:

* **an eps heuristic** (:class:`DBSCANSegmenter` with ``eps=None``): the knee of the sorted
  k-distance curve (Ester et al. 1996; knee by Kneedle, the ``kneed`` package). A contact's
  k-distance is the distance to its ``min_samples``-th nearest neighbour, counting itself
  as DBSCAN does, so a contact is a core point exactly when its k-distance is at most eps.
  Inside segments the curve is flat; it shoots up at the outliers; the knee separates the
  two: the point farthest below the chord (see :func:`_knee`). When Kneedle finds no
  knee, eps is the 90th percentile of the k-distances (at most ~10 % of the fit sample is
  then left out as noise by the core test).
* **a size for segments** (:class:`HDBSCANSegmenter` with ``min_cluster_size=None``):
  ``max(5, 1 % of the fit sample)``, so that 1M contacts do not come back as thousands of
  micro-segments of five people.
* **subsampling**: both algorithms cost far more than linear time and memory, so above
  ``max_fit_samples`` rows they fit on a seeded random sample and the other rows are
  labelled by :meth:`predict`. ``labels_`` covers every training row either way. Counts
  then refer to the sample: a given ``eps`` means "``min_samples`` *sample* points within
  eps" and a given ``min_cluster_size`` counts sample points, while the eps heuristic and
  the relative ``min_cluster_size`` default adapt to the sample by construction.
* **predict** for new contacts (neither scikit-learn class has one): the label of the
  nearest *anchor* of the fit sample when the new point lies within that anchor's radius,
  else noise. For DBSCAN the anchors are the core samples and the radius is ``eps_``, i.e.
  the rule by which DBSCAN itself attaches border points. For HDBSCAN the anchors are the
  clustered (non-noise) fit points and the radius is each anchor's core distance (its
  distance to its ``min_samples``-th neighbour), the scale at which HDBSCAN saw it as dense;
  scikit-learn's HDBSCAN does not keep core distances, so they are recomputed.

Labels are numbered by decreasing segment size (:func:`~audience.models.base.relabel_by_size`),
noise stays ``-1``.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any, Self

import numpy as np
from kneed import KneeLocator  # type: ignore[import-untyped]
from sklearn.base import BaseEstimator, ClusterMixin  # type: ignore[import-untyped]
from sklearn.cluster import DBSCAN, HDBSCAN  # type: ignore[import-untyped]
from sklearn.neighbors import NearestNeighbors  # type: ignore[import-untyped]
from sklearn.utils import check_random_state  # type: ignore[import-untyped]
from sklearn.utils.validation import check_is_fitted, validate_data  # type: ignore[import-untyped]

from audience.models.base import NOISE, Labels, Matrix, nearest_anchor, relabel_by_size

logger = logging.getLogger(__name__)

FALLBACK_EPS_QUANTILE = 0.9
"""Quantile of the k-distances used as eps when the k-distance curve has no knee."""

KNEE_CURVE_POINTS = 1000
"""The sorted k-distance curve is read at this many evenly spaced ranks before Kneedle
(whose search is a Python loop): same shape, bounded cost at 50,000 fit rows."""

FLAT = 1e-9
"""A k-distance curve that rises by less than this fraction of its top has no knee."""

MIN_EPS = 1e-12
"""Floor for the eps heuristic: DBSCAN needs eps > 0, and k-distances are 0 on duplicates."""


@dataclass(frozen=True)
class _Anchors:
    """What one density fit on the sample leaves for :meth:`predict`."""

    raw_labels: Labels
    """Label of every sample row, in the algorithm's own numbering (noise -1)."""
    index: Labels
    """Rows of the sample that anchor new points (core or clustered points)."""
    radius: Matrix
    """Radius of each anchor: a new point farther than this from it is noise."""


class _DensitySegmenter(ClusterMixin, BaseEstimator):  # type: ignore[misc]
    """Fit on a sample, label the rest by nearest anchor; subclasses run the algorithm."""

    max_fit_samples: int
    random_state: int | np.random.RandomState | None

    def fit(self, X: Any, y: Any = None) -> Self:
        self._check_params()
        X = validate_data(self, X, dtype=np.float64, ensure_min_samples=2)
        sample = self._sample_rows(X.shape[0])
        anchors = self._cluster(X[sample])
        anchor_rows = sample[anchors.index]
        self.core_points_ = X[anchor_rows]
        self.core_radius_ = anchors.radius
        self.labels_ = relabel_by_size(self._label_rows(X, sample, anchors))
        self.core_labels_ = self.labels_[anchor_rows]
        self.n_clusters_ = int(np.unique(self.labels_[self.labels_ != NOISE]).size)
        self.noise_share_ = float(np.mean(self.labels_ == NOISE))
        self.fit_sample_size_ = int(sample.size)
        return self

    def predict(self, X: Any) -> Labels:
        """Label of the nearest anchor when within its radius, else ``-1`` (noise)."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return attach(X, self.core_points_, self.core_radius_, self.core_labels_)

    def _sample_rows(self, n_samples: int) -> Labels:
        """Sorted row numbers of the fit sample: every row unless above ``max_fit_samples``."""
        if n_samples <= self.max_fit_samples:
            return np.arange(n_samples, dtype=np.int64)
        rng = check_random_state(self.random_state)
        chosen = rng.choice(n_samples, size=self.max_fit_samples, replace=False)
        return np.sort(chosen).astype(np.int64)

    def _label_rows(self, X: Matrix, sample: Labels, anchors: _Anchors) -> Labels:
        """Every row's label in the algorithm's numbering: its own for the sample rows,
        the nearest anchor's (within radius) for the others."""
        raw = np.full(X.shape[0], NOISE, dtype=np.int64)
        raw[sample] = anchors.raw_labels
        rest = np.setdiff1d(np.arange(X.shape[0]), sample, assume_unique=True)
        raw_anchor_labels = anchors.raw_labels[anchors.index]
        raw[rest] = attach(X[rest], self.core_points_, self.core_radius_, raw_anchor_labels)
        return raw

    def _check_params(self) -> None:
        _require_int("max_fit_samples", self.max_fit_samples, minimum=2)

    def _cluster(self, X: Matrix) -> _Anchors:
        """Run the algorithm on the fit sample; set the attributes particular to it."""
        raise NotImplementedError


class DBSCANSegmenter(_DensitySegmenter):
    """DBSCAN with an eps heuristic, subsampling above ``max_fit_samples`` rows, and predict.

    Parameters
    ----------
    eps : float or None
        Neighbourhood radius; ``None`` picks the knee of the k-distance curve (see module).
    min_samples : int
        Points (the point itself included) within eps that make a core point.
    max_fit_samples : int
        Above this many rows, fit on a random sample of this size and predict the rest.
    random_state : int, RandomState or None
        Seeds the fit sample.

    Attributes
    ----------
    labels_ : ndarray of shape (n_samples,)
        Segment of every training row, ``-1`` for noise.
    n_clusters_ : int
        Segments found (noise not counted).
    noise_share_ : float
        Share of training rows labelled ``-1``.
    eps_ : float
        The eps used (given or chosen by the heuristic).
    fit_sample_size_ : int
        Rows DBSCAN itself ran on.
    core_points_ : ndarray of shape (n_core, n_features)
        Core samples of the fit sample; :meth:`predict` attaches points within ``eps_``.
    core_labels_ : ndarray of shape (n_core,)
    core_radius_ : ndarray of shape (n_core,)
        ``eps_`` for every core sample.
    """

    def __init__(
        self,
        eps: float | None = None,
        *,
        min_samples: int = 10,
        max_fit_samples: int = 50_000,
        random_state: int | np.random.RandomState | None = None,
    ) -> None:
        self.eps = eps
        self.min_samples = min_samples
        self.max_fit_samples = max_fit_samples
        self.random_state = random_state

    def _check_params(self) -> None:
        super()._check_params()
        _require_int("min_samples", self.min_samples, minimum=1)
        if self.eps is not None and (
            not isinstance(self.eps, Real) or isinstance(self.eps, bool) or not self.eps > 0
        ):
            raise ValueError(f"eps must be a positive number or None, got {self.eps!r}")

    def _cluster(self, X: Matrix) -> _Anchors:
        eps = float(self.eps) if self.eps is not None else knee_eps(X, int(self.min_samples))
        model = DBSCAN(eps=eps, min_samples=self.min_samples).fit(X)
        self.eps_ = eps
        core = np.asarray(model.core_sample_indices_, dtype=np.int64)
        return _Anchors(
            raw_labels=np.asarray(model.labels_, dtype=np.int64),
            index=core,
            radius=np.full(core.size, eps),
        )


class HDBSCANSegmenter(_DensitySegmenter):
    """HDBSCAN with a size default relative to the data, subsampling, and predict.

    Parameters
    ----------
    min_cluster_size : int or None
        Smallest segment; ``None`` means ``max(5, 1 % of the fit sample)``.
    min_samples : int or None
        Neighbours (the point itself included) that define a point's core distance;
        ``None`` means ``min_cluster_size``, as in scikit-learn. Capped at the fit sample size.
    max_fit_samples : int
        Above this many rows, fit on a random sample of this size and predict the rest.
    random_state : int, RandomState or None
        Seeds the fit sample.

    Attributes
    ----------
    labels_ : ndarray of shape (n_samples,)
        Segment of every training row, ``-1`` for noise.
    n_clusters_ : int
        Segments found (noise not counted).
    noise_share_ : float
        Share of training rows labelled ``-1``.
    min_cluster_size_, min_samples_ : int
        The values used.
    fit_sample_size_ : int
        Rows HDBSCAN itself ran on.
    core_points_ : ndarray of shape (n_clustered, n_features)
        Clustered (non-noise) points of the fit sample.
    core_labels_ : ndarray of shape (n_clustered,)
    core_radius_ : ndarray of shape (n_clustered,)
        Core distance of each clustered point in the fit sample.
    """

    def __init__(
        self,
        min_cluster_size: int | None = None,
        *,
        min_samples: int | None = None,
        max_fit_samples: int = 50_000,
        random_state: int | np.random.RandomState | None = None,
    ) -> None:
        self.min_cluster_size = min_cluster_size
        self.min_samples = min_samples
        self.max_fit_samples = max_fit_samples
        self.random_state = random_state

    def _check_params(self) -> None:
        super()._check_params()
        if self.min_cluster_size is not None:
            _require_int("min_cluster_size", self.min_cluster_size, minimum=2)
        if self.min_samples is not None:
            _require_int("min_samples", self.min_samples, minimum=1)

    def _cluster(self, X: Matrix) -> _Anchors:
        n = X.shape[0]
        size = self.min_cluster_size
        self.min_cluster_size_ = int(size) if size is not None else max(5, int(np.ceil(0.01 * n)))
        wanted = self.min_samples if self.min_samples is not None else self.min_cluster_size_
        self.min_samples_ = min(int(wanted), n)
        model = HDBSCAN(
            min_cluster_size=self.min_cluster_size_, min_samples=self.min_samples_, copy=True
        ).fit(X)
        raw = np.asarray(model.labels_, dtype=np.int64)
        clustered = np.flatnonzero(raw != NOISE).astype(np.int64)
        return _Anchors(raw, clustered, core_distances(X, clustered, self.min_samples_))


def attach(X: Matrix, anchors: Matrix, radius: Matrix, labels: Labels) -> Labels:
    """Label of each row's nearest anchor when within that anchor's radius, else noise."""
    if anchors.shape[0] == 0 or X.shape[0] == 0:
        return np.full(X.shape[0], NOISE, dtype=np.int64)
    index, distance = nearest_anchor(X, anchors)
    attached: Labels = np.where(distance <= radius[index], labels[index], NOISE).astype(np.int64)
    return attached


def knee_eps(X: Matrix, min_samples: int) -> float:
    """eps at the knee of the sorted k-distances (k = ``min_samples``, self included);
    the 90th percentile when the curve has no knee. Never below :data:`MIN_EPS`."""
    k = min(min_samples, X.shape[0])
    distances = NearestNeighbors(n_neighbors=k).fit(X).kneighbors(X)[0][:, -1]
    curve = np.quantile(distances, np.linspace(0.0, 1.0, min(KNEE_CURVE_POINTS, distances.size)))
    knee = _knee(curve)
    if knee is None:
        knee = float(np.quantile(distances, FALLBACK_EPS_QUANTILE))
        logger.info("k-distance curve has no knee; eps = 90th percentile = %.4g", knee)
    return max(knee, MIN_EPS)


def _knee(curve: Matrix) -> float | None:
    """Knee of an increasing convex curve by Kneedle, or None when there is none.

    Kneedle normalises the curve to the unit square and measures how far it lies below the
    chord (its "difference curve"); the knee is the maximum of that curve. ``kneed``'s own
    offline answer is the *first* local maximum followed by a drop, which on the noisy tail
    of outliers is a wiggle in the tail (eps 3–5 times too large in our tests); we take the
    global maximum of the same difference curve, and keep ``kneed``'s verdict only for
    "no knee at all".
    """
    if curve.size < 3 or curve[-1] - curve[0] <= FLAT * curve[-1]:
        return None
    with warnings.catch_warnings():
        # Some kneed versions warn "No knee/elbow found"; None is our answer to that.
        warnings.simplefilter("ignore", UserWarning)
        locator = KneeLocator(np.arange(curve.size), curve, curve="convex", direction="increasing")
    if locator.knee is None:
        return None
    # For an increasing convex curve kneed reverses the x axis: point i is curve[-(i + 1)].
    return float(curve[-(int(np.argmax(locator.y_difference)) + 1)])


def core_distances(X: Matrix, rows: Labels, min_samples: int) -> Matrix:
    """Distance of ``X[rows]`` to their ``min_samples``-th neighbour in ``X`` (self included)."""
    if rows.size == 0:
        return np.empty(0)
    nn = NearestNeighbors(n_neighbors=min(min_samples, X.shape[0])).fit(X)
    distances: Matrix = nn.kneighbors(X[rows])[0][:, -1]
    return distances


def _require_int(name: str, value: object, *, minimum: int) -> None:
    if not isinstance(value, Integral) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
