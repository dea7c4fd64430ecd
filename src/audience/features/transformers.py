"""Custom scikit-learn transformers used by :mod:`audience.features.preprocess`.

All follow the scikit-learn estimator contract (``__init__`` only stores its arguments,
``fit`` validates and sets attributes ending in ``_``, ``transform`` checks it is fitted)
and pass ``parametrize_with_checks``. Output is always float64.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Self

import numpy as np
from numpy.typing import NDArray
from sklearn.base import (  # type: ignore[import-untyped]
    BaseEstimator,
    OneToOneFeatureMixin,
    TransformerMixin,
)
from sklearn.feature_selection import SelectorMixin  # type: ignore[import-untyped]
from sklearn.utils.validation import (  # type: ignore[import-untyped]
    check_is_fitted,
    validate_data,
)

Matrix = NDArray[np.float64]


class SignedLog1p(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """``sign(x) * log1p(|x|)`` on the chosen columns, the others passed through.

    Equal to ``log1p`` for the non-negative counts and money it is meant for; the sign
    keeps a refund-driven negative total finite instead of turning it into NaN.
    Missing values stay missing.

    Parameters
    ----------
    columns : sequence of int or None
        Positions of the columns to transform; ``None`` transforms every column.
    """

    def __init__(self, columns: Sequence[int] | None = None) -> None:
        self.columns = columns

    def fit(self, X: Any, y: Any = None) -> Self:
        X = validate_data(self, X, dtype=np.float64, ensure_all_finite="allow-nan")
        width = X.shape[1]
        positions = np.arange(width) if self.columns is None else np.asarray(self.columns, int)
        outside = positions[(positions < 0) | (positions >= width)]
        if outside.size:
            raise ValueError(
                f"SignedLog1p columns must be positions in 0..{width - 1}, "
                f"got {outside.tolist()}; pass positions of the input's columns."
            )
        self.columns_ = positions.reshape(-1)
        return self

    def transform(self, X: Any) -> Matrix:
        check_is_fitted(self)
        X = validate_data(
            self, X, dtype=np.float64, ensure_all_finite="allow-nan", copy=True, reset=False
        )
        part = X[:, self.columns_]
        magnitude = np.log1p(np.abs(part))
        X[:, self.columns_] = np.copysign(magnitude, part, out=magnitude)
        return X  # type: ignore[no-any-return]

    def inverse_transform(self, X: Any) -> Matrix:
        """Back to the original units, e.g. to read cluster centres."""
        check_is_fitted(self)
        X = validate_data(
            self, X, dtype=np.float64, ensure_all_finite="allow-nan", copy=True, reset=False
        )
        part = X[:, self.columns_]
        X[:, self.columns_] = np.sign(part) * np.expm1(np.abs(part))
        return X  # type: ignore[no-any-return]

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags


class ClipToFitRange(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Clip each column to the ``[min, max]`` it had at fit; missing values stay missing.

    Yeo–Johnson with a strong lambda, fitted on a narrow column, overflows on a value far
    outside that column's range; clipping keeps new rows within what the lambda saw.
    A column entirely missing at fit is left unbounded.
    """

    def fit(self, X: Any, y: Any = None) -> Self:
        X = validate_data(self, X, dtype=np.float64, ensure_all_finite="allow-nan")
        # fmin/fmax skip NaN without the "All-NaN slice" warning of nanmin/nanmax.
        low, high = np.fmin.reduce(X, axis=0), np.fmax.reduce(X, axis=0)
        self.data_min_ = np.where(np.isnan(low), -np.inf, low)
        self.data_max_ = np.where(np.isnan(high), np.inf, high)
        return self

    def transform(self, X: Any) -> Matrix:
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, ensure_all_finite="allow-nan", reset=False)
        clipped: Matrix = np.clip(X, self.data_min_, self.data_max_)
        return clipped

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags


class DropConstantAndCorrelated(SelectorMixin, BaseEstimator):  # type: ignore[misc]
    """Drop constant columns, then one of each pair correlated above ``threshold``.

    Columns are visited in order; a column is dropped when its absolute Pearson
    correlation with an earlier *kept* column exceeds ``threshold``, so the first of
    each near-duplicate pair survives. Why each column went is in ``dropped_``, naming
    the kept column it is most correlated with.

    Parameters
    ----------
    drop_constant : bool
        Drop columns with a single value at fit (they carry no information).
    threshold : float
        Drop a column when ``|r|`` with an earlier kept column is greater than this;
        ``1.0`` keeps every non-constant column.

    Attributes
    ----------
    support_ : ndarray of bool, shape (n_features_in_,)
        Which input columns are kept.
    dropped_ : dict[str, str]
        Dropped column name → reason, e.g. ``{"b": "|r| = 0.97 with a", "c": "constant"}``.
    """

    def __init__(self, drop_constant: bool = True, threshold: float = 0.95) -> None:
        self.drop_constant = drop_constant
        self.threshold = threshold

    def fit(self, X: Any, y: Any = None) -> Self:
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {self.threshold!r}.")
        X = validate_data(self, X, dtype=np.float64)
        names = getattr(self, "feature_names_in_", [f"x{i}" for i in range(X.shape[1])])
        constant = np.ptp(X, axis=0) == 0
        keep = ~constant if self.drop_constant else np.ones(X.shape[1], dtype=bool)
        self.dropped_ = {str(names[j]): "constant" for j in np.flatnonzero(~keep)}
        corr = _abs_correlation(X)
        kept: list[int] = []
        for j in np.flatnonzero(keep):
            r = corr[kept, j]
            if not kept or r.max() <= self.threshold:
                kept.append(int(j))
                continue
            # Name the strongest kept partner: the column that best stands in for this one.
            partner = kept[int(r.argmax())]
            keep[j] = False
            self.dropped_[str(names[j])] = f"|r| = {r.max():.2f} with {names[partner]}"
        self.support_ = keep
        return self

    def transform(self, X: Any) -> Matrix:
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return X[:, self.support_]  # type: ignore[no-any-return]

    def _get_support_mask(self) -> NDArray[np.bool_]:
        check_is_fitted(self)
        return self.support_


def _abs_correlation(X: Matrix) -> Matrix:
    """|Pearson r| between columns; 0 for a constant column (``np.corrcoef`` would warn)."""
    centred = X - X.mean(axis=0)
    norms = np.sqrt((centred**2).sum(axis=0))
    unit = centred / np.where(norms > 0, norms, 1.0)
    correlation: Matrix = np.clip(np.abs(unit.T @ unit), 0.0, 1.0)
    return correlation
