"""K-prototypes: k-means for mixed numeric and categorical contacts (Huang 1998).

A prototype is a numeric centre plus one category per categorical column (its mode). The
cost of a contact against a prototype is

    squared Euclidean distance on the numeric columns + gamma × (categorical mismatches)

and Lloyd's algorithm runs unchanged: assign each contact to its cheapest prototype, then
move each prototype to its members' numeric mean and per-column modal category; the cost
never increases. Seeding is k-means++ on the same cost (a first prototype drawn at random,
each next one drawn with probability proportional to a contact's cost to the nearest
prototype so far); a prototype left without members is reseeded at the contact that costs
most; the best of ``n_init`` seeded runs (lowest total cost) wins. Iterations stop when no
contact changes segment or the total cost falls by less than ``tol`` × the cost.

``gamma`` weighs one categorical mismatch against squared numeric distance. Its default is
Huang's: half the mean standard deviation of the numeric columns (0.5 on standardised
columns), so categories matter without drowning the numeric features. With no numeric
columns gamma only scales the cost and is 1.

Input is one float matrix: columns listed in ``categorical`` hold category codes
(non-negative integers stored as floats: label-encode before), the others numeric values,
already scaled. Codes that are not non-negative integers are refused with a ValueError, not
rounded: a fractional "code" means the columns were mixed up. A code never seen at fit
simply mismatches every prototype at predict. With ``categorical=()`` this is k-means.

Why our own: the ``kmodes`` package (the usual K-prototypes) runs its assignment step as a
Python loop over rows, far too slow at a million contacts, and has not been maintained since
2022. Vectorised with numpy (an n × k cost matrix per chunk of rows; modes by ``bincount``)
it is short, and 1M contacts fit in seconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from numbers import Integral, Real
from typing import Any, Self

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin  # type: ignore[import-untyped]
from sklearn.utils import check_random_state  # type: ignore[import-untyped]
from sklearn.utils.validation import check_is_fitted, validate_data  # type: ignore[import-untyped]
from threadpoolctl import ThreadpoolController  # type: ignore[import-untyped]

from audience.models.base import Labels, Matrix, inverse, size_order

CHUNK_ROWS = 65_536
"""Rows per block of the cost matrix: bounds memory at 1M rows (65,536 × k floats)."""


@dataclass(frozen=True)
class _Data:
    """X split into its numeric part and its integer category codes."""

    numeric: Matrix
    codes: Labels
    """Columns in the order of ``categorical``."""
    squared_norms: Matrix
    """Squared Euclidean norm of each numeric row, computed once for all the cost matrices."""

    def __len__(self) -> int:
        return int(self.numeric.shape[0])


@dataclass(frozen=True)
class _Prototypes:
    centers: Matrix
    """Numeric part, shape (k, n_numeric)."""
    modes: Labels
    """Categorical part, shape (k, n_categorical)."""


@dataclass(frozen=True)
class _Run:
    prototypes: _Prototypes
    labels: Labels
    cost: float
    n_iter: int


class KPrototypesSegmenter(ClusterMixin, BaseEstimator):  # type: ignore[misc]
    """K-prototypes on mixed numeric + categorical columns; k-means when none is categorical.

    Parameters
    ----------
    n_clusters : int
    categorical : sequence of int
        Indices of the columns that hold category codes (non-negative integers).
    gamma : float or None
        Cost of one categorical mismatch; ``None`` is half the mean standard deviation of
        the numeric columns (Huang).
    n_init : int
        Seeded runs; the one of lowest total cost is kept.
    max_iter : int
    tol : float
        Stop when the total cost falls by less than ``tol`` × the cost.
    random_state : int, RandomState or None

    Attributes
    ----------
    labels_ : ndarray of shape (n_samples,)
        Segment of each training row, numbered by decreasing segment size.
    cluster_centers_ : ndarray of shape (n_clusters, n_numeric)
        Numeric part of the prototypes, in segment order.
    cluster_modes_ : ndarray of shape (n_clusters, n_categorical)
        Modal category code per categorical column, in segment order.
    cost_ : float
        Total cost of the training rows against their prototype.
    n_iter_ : int
        Lloyd iterations of the kept run.
    n_clusters_ : int
        Segments with at least one training row (below ``n_clusters`` only when X has fewer
        distinct rows).
    gamma_ : float
        The gamma used.
    """

    def __init__(
        self,
        n_clusters: int = 8,
        *,
        categorical: Sequence[int] = (),
        gamma: float | None = None,
        n_init: int = 4,
        max_iter: int = 100,
        tol: float = 1e-4,
        random_state: int | np.random.RandomState | None = None,
    ) -> None:
        self.n_clusters = n_clusters
        self.categorical = categorical
        self.gamma = gamma
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state

    def fit(self, X: Any, y: Any = None) -> Self:
        self._check_params()
        X = validate_data(self, X, dtype=np.float64)
        if X.shape[0] < self.n_clusters:
            raise ValueError(
                f"n_samples={X.shape[0]} should be >= n_clusters={self.n_clusters}; "
                "lower n_clusters"
            )
        self._categorical_ = self._check_categorical(X.shape[1])
        data = self._split(X)
        self.gamma_ = self._gamma(data)
        dense, levels = _dense_codes(data)
        rng = check_random_state(self.random_state)
        with _single_threaded_blas():
            runs = [self._run(dense, rng) for _ in range(self.n_init)]
        self._adopt(min(runs, key=lambda run: run.cost), levels)
        return self

    def predict(self, X: Any) -> Labels:
        """Segment of each row: the prototype of lowest cost."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        prototypes = _Prototypes(self.cluster_centers_, self.cluster_modes_)
        with _single_threaded_blas():
            return assign(self._split(X), prototypes, self.gamma_)[0]

    def _run(self, data: _Data, rng: np.random.RandomState) -> _Run:
        """Seed, then Lloyd iterations until no label changes or the cost stops falling."""
        prototypes = seed(data, int(self.n_clusters), self.gamma_, rng)
        labels, costs = assign(data, prototypes, self.gamma_)
        n_iter, done = 0, False
        while not done and n_iter < self.max_iter:
            prototypes = update(data, labels, costs, prototypes)
            new_labels, new_costs = assign(data, prototypes, self.gamma_)
            done = np.array_equal(new_labels, labels) or (
                costs.sum() - new_costs.sum() <= self.tol * costs.sum()
            )
            labels, costs, n_iter = new_labels, new_costs, n_iter + 1
        return _Run(prototypes, labels, float(costs.sum()), n_iter)

    def _adopt(self, run: _Run, levels: list[Labels]) -> None:
        """Take the kept run, prototypes numbered by decreasing segment size and modes
        translated back from dense codes."""
        order = size_order(run.labels, int(self.n_clusters))
        self.cluster_centers_ = run.prototypes.centers[order]
        modes = run.prototypes.modes[order]
        self.cluster_modes_ = np.empty_like(modes)
        for j, codes in enumerate(levels):
            self.cluster_modes_[:, j] = codes[modes[:, j]]
        self.labels_ = inverse(order)[run.labels]
        self.cost_ = run.cost
        self.n_iter_ = run.n_iter
        self.n_clusters_ = int(np.unique(run.labels).size)

    def _gamma(self, data: _Data) -> float:
        if self.gamma is not None:
            return float(self.gamma)
        if data.numeric.shape[1] == 0:
            return 1.0
        return 0.5 * float(data.numeric.std(axis=0).mean())

    def _split(self, X: Matrix) -> _Data:
        # np.take copies into C order; X[:, mask] gave an F-ordered copy, 20x slower to scan.
        numeric = np.take(X, np.setdiff1d(np.arange(X.shape[1]), self._categorical_), axis=1)
        codes = _codes(np.take(X, self._categorical_, axis=1), self._categorical_)
        return _Data(numeric, codes, np.einsum("ij,ij->i", numeric, numeric))

    def _check_categorical(self, n_features: int) -> Labels:
        indices = list(self.categorical)
        bad = [i for i in indices if not isinstance(i, Integral) or not 0 <= i < n_features]
        if bad:
            raise ValueError(
                f"categorical must list column indices in [0, {n_features}), got {bad} "
                f"for X with {n_features} columns"
            )
        if len(set(indices)) != len(indices):
            raise ValueError(f"categorical lists a column twice: {indices}")
        return np.asarray(indices, dtype=np.int64)

    def _check_params(self) -> None:
        _require_int("n_clusters", self.n_clusters, minimum=1)
        _require_int("n_init", self.n_init, minimum=1)
        _require_int("max_iter", self.max_iter, minimum=1)
        if isinstance(self.categorical, str | bytes) or not isinstance(self.categorical, Sequence):
            raise ValueError(
                f"categorical must be a sequence of column indices, got {self.categorical!r}"
            )
        if self.gamma is not None and not _is_number(self.gamma, minimum=0.0):
            raise ValueError(f"gamma must be a number >= 0 or None, got {self.gamma!r}")
        if not _is_number(self.tol, minimum=0.0):
            raise ValueError(f"tol must be a number >= 0, got {self.tol!r}")


def assign(data: _Data, prototypes: _Prototypes, gamma: float) -> tuple[Labels, Matrix]:
    """Cheapest prototype of each row and its cost, in blocks of :data:`CHUNK_ROWS` rows."""
    labels = np.empty(len(data), dtype=np.int64)
    costs = np.empty(len(data))
    for start in range(0, len(data), CHUNK_ROWS):
        block = slice(start, start + CHUNK_ROWS)
        cost = _cost_matrix(
            _Data(data.numeric[block], data.codes[block], data.squared_norms[block]),
            prototypes,
            gamma,
        )
        labels[block] = cost.argmin(axis=1)
        costs[block] = cost[np.arange(cost.shape[0]), labels[block]]
    return labels, costs


def _cost_matrix(block: _Data, prototypes: _Prototypes, gamma: float) -> Matrix:
    """(rows × k) squared Euclidean distance + gamma × categorical mismatches."""
    centers = prototypes.centers
    cost: Matrix = block.numeric @ (-2.0 * centers.T)
    cost += block.squared_norms[:, None]
    cost += np.einsum("ij,ij->i", centers, centers)[None, :]
    np.maximum(cost, 0.0, out=cost)
    for j in range(block.codes.shape[1]):
        cost += gamma * (block.codes[:, j, None] != prototypes.modes[None, :, j])
    return cost


def seed(data: _Data, k: int, gamma: float, rng: np.random.RandomState) -> _Prototypes:
    """k-means++ on the mixed cost: rows drawn with probability ∝ cost to the nearest so far."""
    chosen = [int(rng.randint(len(data)))]
    nearest = _cost_to(data, chosen[0], gamma)
    for _ in range(1, k):
        total = nearest.sum()
        row = rng.choice(len(data), p=nearest / total) if total > 0 else rng.randint(len(data))
        chosen.append(int(row))
        np.minimum(nearest, _cost_to(data, int(row), gamma), out=nearest)
    return _Prototypes(data.numeric[chosen].copy(), data.codes[chosen].copy())


def _cost_to(data: _Data, row: int, gamma: float) -> Matrix:
    prototype = _Prototypes(data.numeric[row : row + 1], data.codes[row : row + 1])
    return assign(data, prototype, gamma)[1]


def update(data: _Data, labels: Labels, costs: Matrix, prototypes: _Prototypes) -> _Prototypes:
    """Members' numeric means and modal categories; an empty prototype moves to the row of
    highest cost (the next empty one to the next highest, and so on)."""
    k = prototypes.centers.shape[0]
    counts = np.bincount(labels, minlength=k)
    centers = prototypes.centers.copy()
    filled = counts > 0
    for j in range(data.numeric.shape[1]):
        sums = np.bincount(labels, weights=data.numeric[:, j], minlength=k)
        centers[filled, j] = sums[filled] / counts[filled]
    modes = prototypes.modes.copy()
    for j in range(data.codes.shape[1]):
        modes[:, j] = _modes(labels, data.codes[:, j], k)
    empty = np.flatnonzero(~filled)
    if empty.size:
        farthest = np.argsort(costs)[::-1][: empty.size]
        centers[empty] = data.numeric[farthest]
        modes[empty] = data.codes[farthest]
    return _Prototypes(centers, modes)


def _modes(labels: Labels, codes: Labels, k: int) -> Labels:
    """Most frequent code per cluster (ties: the smallest code), from one joint bincount."""
    levels = int(codes.max()) + 1
    counts = np.bincount(labels * levels + codes, minlength=k * levels).reshape(k, levels)
    modes: Labels = counts.argmax(axis=1).astype(np.int64)
    return modes


def _dense_codes(data: _Data) -> tuple[_Data, list[Labels]]:
    """Codes renumbered 0..L-1 per column for the fit (so mode counting needs k × L counters
    even when codes are sparse, like 10-digit ids), and each column's original codes."""
    dense = np.empty_like(data.codes)
    levels = []
    for j in range(data.codes.shape[1]):
        values, dense[:, j] = np.unique(data.codes[:, j], return_inverse=True)
        levels.append(values)
    return _Data(data.numeric, dense, data.squared_norms), levels


def _codes(values: Matrix, columns: Labels) -> Labels:
    """Category codes as int64; every value must be a non-negative integer."""
    bad = (values < 0) | (values != np.floor(values))
    if bad.any():
        problems = [
            f"{float(values[bad[:, c], c][0])!r} in column {columns[c]} "
            f"({int(bad[:, c].sum())} such values)"
            for c in np.flatnonzero(bad.any(axis=0))
        ]
        raise ValueError(
            "categorical columns must hold non-negative integer codes; got "
            + ", ".join(problems)
            + ". Label-encode categories (0, 1, 2, ...) before fitting."
        )
    return values.astype(np.int64)


@cache
def _threadpools() -> ThreadpoolController:
    return ThreadpoolController()


def _single_threaded_blas() -> Any:
    """One BLAS thread for the (rows × n_numeric) @ (n_numeric × k) products: the matrices
    are too thin for threads to pay, and multi-threaded OpenBLAS was 20 times slower on two
    busy cores. scikit-learn's KMeans limits BLAS the same way in its Lloyd loop."""
    return _threadpools().limit(limits=1, user_api="blas")


def _is_number(value: object, *, minimum: float) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool) and float(value) >= minimum


def _require_int(name: str, value: object, *, minimum: int) -> None:
    if not isinstance(value, Integral) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
