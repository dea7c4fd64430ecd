"""K-Means: k-means++ with Lloyd iterations, and a mini-batch path for large or chunked data.

:class:`KMeansSegmenter` wraps scikit-learn's ``KMeans`` and ``MiniBatchKMeans`` so that every
segmenter in Audience looks the same: ``n_clusters``, labels numbered by decreasing segment
size (segment 0 is the largest, whatever the seed), ``cluster_centers_`` in that order.

* ``algorithm="lloyd"`` — full-batch k-means, best of ``n_init`` k-means++ starts;
* ``algorithm="minibatch"`` — ``MiniBatchKMeans``; ``"auto"`` picks it above
  ``minibatch_above`` rows. Measure before choosing it for speed: on 1M × 16 rows on two cores
  full-batch Lloyd was as fast (see PITFALLS), so the default threshold is high;
* :meth:`KMeansSegmenter.partial_fit` — data that arrives in chunks (a file read by row
  group, an event stream): each call updates the centres with one mini-batch step.

``init`` may be an array of starting centres: model selection fits on a sample and then
warm-starts the full fit from the sample's centres, which converges in a few iterations.
"""

from __future__ import annotations

from numbers import Integral
from typing import Any, Literal, Self

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin  # type: ignore[import-untyped]
from sklearn.cluster import KMeans, MiniBatchKMeans  # type: ignore[import-untyped]
from sklearn.utils.validation import check_is_fitted, validate_data  # type: ignore[import-untyped]

from audience.models.base import Labels, Matrix, inverse, nearest_anchor, size_order

Algorithm = Literal["auto", "lloyd", "minibatch"]


class KMeansSegmenter(ClusterMixin, TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """K-Means with k-means++ seeding; labels ordered by decreasing segment size.

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
    labels_ : ndarray of shape (n_samples,)
        Segment of each training row (for :meth:`partial_fit`, of the last chunk).
    inertia_ : float
        Sum of squared distances of the training rows to their centre.
    n_iter_ : int
    minibatch_ : bool
        Whether the mini-batch algorithm was used.
    """

    def __init__(
        self,
        n_clusters: int = 8,
        *,
        init: str | Matrix = "k-means++",
        n_init: int = 3,
        max_iter: int = 300,
        tol: float = 1e-4,
        algorithm: Algorithm = "auto",
        minibatch_above: int = 5_000_000,
        batch_size: int = 4096,
        random_state: int | np.random.RandomState | None = None,
    ) -> None:
        self.n_clusters = n_clusters
        self.init = init
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.algorithm = algorithm
        self.minibatch_above = minibatch_above
        self.batch_size = batch_size
        self.random_state = random_state

    def fit(self, X: Any, y: Any = None, sample_weight: Any = None) -> Self:
        self._check_params()
        X = validate_data(self, X, dtype=np.float64)
        minibatch = self.algorithm == "minibatch" or (
            self.algorithm == "auto" and X.shape[0] > self.minibatch_above
        )
        model = self._minibatch(X.shape[0]) if minibatch else self._lloyd(X.shape[0])
        model.fit(X, sample_weight=sample_weight)
        self.minibatch_ = minibatch
        self._adopt(model, X, sample_weight)
        return self

    def partial_fit(self, X: Any, y: Any = None, sample_weight: Any = None) -> Self:
        """Update the centres with one chunk (mini-batch k-means); the first call starts it."""
        first = not hasattr(self, "_stream")
        if first:
            self._check_params()
        X = validate_data(self, X, dtype=np.float64, reset=first)
        if first:
            self._stream = self._minibatch(None)
        self._stream.partial_fit(X, sample_weight=sample_weight)
        self.minibatch_ = True
        self._adopt(self._stream, X, sample_weight)
        return self

    def predict(self, X: Any) -> Labels:
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return nearest_anchor(X, self.cluster_centers_)[0]

    def transform(self, X: Any) -> Matrix:
        """Euclidean distance of each row to each centre (as scikit-learn's ``KMeans``)."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        squared = (
            (X**2).sum(axis=1)[:, None]
            - 2 * X @ self.cluster_centers_.T
            + (self.cluster_centers_**2).sum(axis=1)[None, :]
        )
        distances: Matrix = np.sqrt(np.maximum(squared, 0.0))
        return distances

    def score(self, X: Any, y: Any = None) -> float:
        """Opposite of the inertia of ``X`` (higher is better, as scikit-learn's ``KMeans``)."""
        distances = self.transform(X)
        return -float((distances.min(axis=1) ** 2).sum())

    def _check_params(self) -> None:
        if not isinstance(self.n_clusters, Integral) or self.n_clusters < 1:
            raise ValueError(f"n_clusters must be a positive integer, got {self.n_clusters!r}")
        if self.algorithm not in ("auto", "lloyd", "minibatch"):
            raise ValueError(
                f"algorithm must be 'auto', 'lloyd' or 'minibatch', got {self.algorithm!r}"
            )

    def _n_clusters(self, n_samples: int | None) -> int:
        if isinstance(self.init, np.ndarray):
            return int(self.init.shape[0])
        return int(self.n_clusters) if n_samples is None else min(self.n_clusters, n_samples)

    def _lloyd(self, n_samples: int) -> KMeans:
        warm = isinstance(self.init, np.ndarray)
        return KMeans(
            n_clusters=self._n_clusters(n_samples),
            init=self.init,
            n_init=1 if warm else self.n_init,
            max_iter=self.max_iter,
            tol=self.tol,
            random_state=self.random_state,
        )

    def _minibatch(self, n_samples: int | None) -> MiniBatchKMeans:
        warm = isinstance(self.init, np.ndarray)
        return MiniBatchKMeans(
            n_clusters=self._n_clusters(n_samples),
            init=self.init,
            n_init=1 if warm else self.n_init,
            max_iter=self.max_iter,
            tol=self.tol,
            batch_size=self.batch_size,
            random_state=self.random_state,
        )

    def _adopt(self, model: KMeans | MiniBatchKMeans, X: Matrix, sample_weight: Any) -> None:
        """Take the fitted centres, numbered by decreasing size of their segment in ``X``."""
        raw = model.predict(X) if not hasattr(model, "labels_") else model.labels_
        raw = np.asarray(raw, dtype=np.int64)
        weights = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        order = size_order(raw, model.cluster_centers_.shape[0], weights)
        self.cluster_centers_ = np.asarray(model.cluster_centers_, dtype=np.float64)[order]
        self.labels_ = inverse(order)[raw]
        self.inertia_ = float(model.inertia_) if hasattr(model, "inertia_") else np.nan
        self.n_iter_ = int(getattr(model, "n_iter_", 0))
        self.n_clusters_ = int(self.cluster_centers_.shape[0])
