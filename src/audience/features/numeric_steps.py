"""The numeric steps of a fitted :class:`~audience.features.preprocess.Preprocessor` as numpy
functions over a block of rows (one column per numeric feature), for
:mod:`audience.features.compiled`.

Each step performs the elementwise operations of the scikit-learn (or scipy) code it
replaces, in the same order, so every number comes out bit for bit the same; a step this
module does not reproduce raises :class:`NotCovered`. A step can be restricted to some of
the columns (:meth:`Step.restrict`): every step treats each column on its own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.impute import SimpleImputer  # type: ignore[import-untyped]
from sklearn.pipeline import Pipeline  # type: ignore[import-untyped]
from sklearn.preprocessing import (  # type: ignore[import-untyped]
    MinMaxScaler,
    PowerTransformer,
    RobustScaler,
    StandardScaler,
)

from audience.features.transformers import ClipToFitRange, Matrix, SignedLog1p

_EPS = np.finfo(np.float64).eps


class NotCovered(Exception):
    """A fitted step or setting the compiled preprocessing does not reproduce."""


class Step:
    """One fitted numeric step, applied to a block of rows of every kept numeric column."""

    def __call__(self, X: Matrix) -> Matrix:
        raise NotImplementedError

    def restrict(self, columns: np.ndarray) -> Step | None:
        """The step for only these of the columns (None: it leaves them as they are)."""
        return type(self)(*(None if v is None else v[columns] for v in vars(self).values()))


@dataclass(frozen=True)
class _Impute(Step):
    fill: Matrix

    def __call__(self, X: Matrix) -> Matrix:
        return np.where(np.isnan(X), self.fill, X)


@dataclass(frozen=True)
class _SignedLog1p(Step):
    columns: np.ndarray

    def __call__(self, X: Matrix) -> Matrix:
        part = X[:, self.columns]  # as SignedLog1p.transform
        magnitude = np.log1p(np.abs(part))
        X[:, self.columns] = np.copysign(magnitude, part, out=magnitude)
        return X

    def restrict(self, columns: np.ndarray) -> Step | None:
        logged = np.flatnonzero(np.isin(columns, self.columns))
        return _SignedLog1p(logged) if logged.size else None


@dataclass(frozen=True)
class _Clip(Step):
    low: Matrix
    high: Matrix

    def __call__(self, X: Matrix) -> Matrix:
        return np.clip(X, self.low, self.high)


@dataclass(frozen=True)
class _YeoJohnson(Step):
    """scipy's ``_yeojohnson_transform``, the same operations on every element."""

    lambdas: Matrix

    def __call__(self, X: Matrix) -> Matrix:
        lmbda = self.lambdas
        positive = np.expm1(lmbda * np.log1p(X)) / lmbda
        flat = np.abs(lmbda) < _EPS
        if flat.any():
            positive = np.where(flat, np.log1p(X), positive)
        at_zero_or_above = X >= 0
        if at_zero_or_above.all():
            return positive
        negative = -np.expm1((2 - lmbda) * np.log1p(-X)) / (2 - lmbda)
        square = ~(np.abs(lmbda - 2) > _EPS)
        if square.any():
            negative = np.where(square, -np.log1p(-X), negative)
        return np.where(at_zero_or_above, positive, negative)


@dataclass(frozen=True)
class _ShiftScale(Step):
    """``(X - shift) / scale``, either part optional (standard and robust scalers)."""

    shift: Matrix | None
    scale: Matrix | None

    def __call__(self, X: Matrix) -> Matrix:
        if self.shift is not None:
            X = X - self.shift
        if self.scale is not None:
            X = X / self.scale
        return X


@dataclass(frozen=True)
class _ScaleShift(Step):
    """``X * scale + shift`` (the min-max scaler)."""

    scale: Matrix
    shift: Matrix

    def __call__(self, X: Matrix) -> Matrix:
        return X * self.scale + self.shift


def numeric_steps(pipeline: Pipeline, width: int, at: np.ndarray) -> list[Step]:
    """The pipeline's steps restricted to the columns at positions ``at``."""
    steps = [_numeric_step(step, width, at) for _, step in pipeline.steps]
    return [step for step in steps if step is not None]


def _numeric_step(step: Any, width: int, at: np.ndarray) -> Step | None:
    kind = type(step)
    if kind is SimpleImputer:
        statistics = imputer_statistics(step, width)
        return _Impute(np.asarray(statistics, dtype=np.float64)[at])
    if kind is SignedLog1p:
        logged = np.isin(at, np.asarray(step.columns_))
        return _SignedLog1p(np.flatnonzero(logged)) if logged.any() else None
    if kind is ClipToFitRange:
        return _Clip(_per_column(step.data_min_, width, at), _per_column(step.data_max_, width, at))
    if kind is PowerTransformer and step.method == "yeo-johnson" and not step.standardize:
        return _YeoJohnson(_per_column(step.lambdas_, width, at))
    if kind is StandardScaler:
        mean = _per_column(step.mean_, width, at) if step.with_mean else None
        scale = _per_column(step.scale_, width, at) if step.with_std else None
        return _ShiftScale(mean, scale)
    if kind is RobustScaler:
        center = _per_column(step.center_, width, at) if step.with_centering else None
        scale = _per_column(step.scale_, width, at) if step.with_scaling else None
        return _ShiftScale(center, scale)
    if kind is MinMaxScaler and not step.clip:
        return _ScaleShift(_per_column(step.scale_, width, at), _per_column(step.min_, width, at))
    raise NotCovered


def _per_column(values: Any, width: int, at: np.ndarray) -> Matrix:
    array: Matrix = np.asarray(values, dtype=np.float64)
    if array.shape != (width,):
        raise NotCovered
    chosen: Matrix = array[at]
    return chosen


def imputer_statistics(imputer: SimpleImputer, width: int) -> np.ndarray:
    statistics = np.asarray(imputer.statistics_)
    if (
        imputer.add_indicator
        or imputer.keep_empty_features
        or not is_nan(imputer.missing_values)
        or statistics.shape != (width,)
    ):
        raise NotCovered
    if statistics.dtype.kind == "f" and np.isnan(statistics).any():
        raise NotCovered  # scikit-learn drops such columns, with a warning
    return statistics


def is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)
