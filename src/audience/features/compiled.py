"""A fitted :class:`~audience.features.preprocess.Preprocessor` applied with plain numpy.

Input: a fitted preprocessor, then rows (a frame, or its columns already converted as the
preprocessor converts them). Output: exactly ``preprocessor.transform(rows)``, the same
float64 numbers, without scikit-learn's validation at every step and the pandas frames
between steps that cost ~40 ms for a single row.

:func:`compile_preprocessor` reads the fitted parameters out of the pipeline (imputer
statistics, the logged columns, clip bounds, Yeo–Johnson lambdas, scaler parameters,
one-hot categories with their infrequent group, the columns the selector kept) and refuses,
returning None, any step or setting it does not reproduce, so callers keep the
scikit-learn path for those. Each step runs the same elementwise numpy operations as
scikit-learn and scipy (:mod:`audience.features.numeric_steps`), on all numeric columns at
once; columns the selector drops are not computed. Since every step is elementwise, a
large input's columns with few distinct values (counts, days) go through the steps once per
distinct value; the others are cut into blocks of rows (they stay in the CPU cache),
processed by a few threads: numpy releases the GIL, and no row depends on another.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer  # type: ignore[import-untyped]
from sklearn.impute import MissingIndicator, SimpleImputer  # type: ignore[import-untyped]
from sklearn.pipeline import Pipeline  # type: ignore[import-untyped]
from sklearn.preprocessing import OneHotEncoder  # type: ignore[import-untyped]

from audience.features.numeric_steps import (
    NotCovered,
    Step,
    imputer_statistics,
    is_nan,
    numeric_steps,
)
from audience.features.preprocess import Preprocessor, _as_float, _as_levels
from audience.features.transformers import DropConstantAndCorrelated, Matrix

_BLOCK_ROWS = 32_768
_DISTINCT_ROWS = 16_384
"""From this many rows on, columns with few distinct values are transformed per value."""
_SAMPLE_ROWS = 2_048
_THREADS = max(1, min(4, os.cpu_count() or 1))
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


@dataclass(frozen=True)
class _Indicator:
    name: str
    out: int
    levels: bool = False
    """Whether the column is categorical (missing: not a string) rather than numeric (NaN)."""


@dataclass(frozen=True)
class _OneHot:
    name: str
    fill: Any
    """What a missing level becomes (the imputer's statistic)."""
    positions: dict[str, int]
    """Level → output position; levels not in it (unknown, or whose column was dropped) → 0."""


@dataclass(frozen=True)
class CompiledPreprocessor:
    """The parameters of a fitted :class:`Preprocessor`, applied without scikit-learn."""

    numeric: tuple[str, ...]
    """The numeric columns the selector keeps, in the pipeline's order."""
    numeric_out: np.ndarray
    """Their positions in the output."""
    steps: tuple[Step, ...]
    indicators: tuple[_Indicator, ...]
    one_hot: tuple[_OneHot, ...]
    width: int
    numeric_inputs: tuple[str, ...]
    """Every numeric column the preprocessor converts (and checks for infinities)."""
    categorical_inputs: tuple[str, ...]
    features_in: tuple[str, ...]
    """The columns the preprocessor was fitted on, in order."""
    _restricted: dict[tuple[int, ...], tuple[Step, ...]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def transform_rows(
        self,
        numbers: Mapping[str, Matrix],
        levels: Mapping[str, np.ndarray],
        n: int,
        at: np.ndarray | None = None,
    ) -> Matrix | None:
        """The preprocessed matrix of ``n`` rows: those at positions ``at`` (None: all ``n``)
        of columns converted as the preprocessor converts them (``numbers``: float64 with
        NaN, ``levels``: strings or NaN). None when the preprocessor must decide: no rows,
        or an infinity among them, which it refuses with its own error."""
        if n == 0:
            return None
        out = np.zeros((n, self.width), dtype=np.float64)
        try:
            if n >= _DISTINCT_ROWS:
                self._numeric_by_column(numbers, at, out)
            else:
                _by_blocks(n, lambda start, stop: self._rows(numbers, at, out, start, stop))
        except _Infinite:
            return None
        for indicator in self.indicators:
            if indicator.levels:
                values = _take(levels[indicator.name], at)
                out[:, indicator.out] = np.asarray(values != values, dtype=bool)
        for encoding in self.one_hot:
            _one_hot(out, _take(levels[encoding.name], at), encoding)
        return out

    def _rows(
        self,
        numbers: Mapping[str, Matrix],
        at: np.ndarray | None,
        out: Matrix,
        start: int,
        stop: int,
    ) -> None:
        rows = slice(start, stop) if at is None else at[start:stop]
        raw = {name: numbers[name][rows] for name in self.numeric_inputs}
        if any(np.isinf(values).any() for values in raw.values()):
            raise _Infinite
        for indicator in self.indicators:
            if not indicator.levels:
                out[start:stop, indicator.out] = np.isnan(raw[indicator.name])
        if not self.numeric:
            return
        block = np.empty((stop - start, len(self.numeric)), dtype=np.float64)
        for j, name in enumerate(self.numeric):
            block[:, j] = raw[name]
        out[start:stop, self.numeric_out] = self._apply(block, self.steps)

    def _numeric_by_column(
        self, numbers: Mapping[str, Matrix], at: np.ndarray | None, out: Matrix
    ) -> None:
        """Many rows: a column with few distinct values (counts, days) goes through the steps
        once per distinct value, which is exact since every step is elementwise; the other
        columns go through them by blocks of rows."""
        raw = {name: _take(numbers[name], at) for name in self.numeric_inputs}
        if any(np.isinf(values).any() for values in raw.values()):
            raise _Infinite
        for indicator in self.indicators:
            if not indicator.levels:
                out[:, indicator.out] = np.isnan(raw[indicator.name])
        many: list[int] = []
        for j, name in enumerate(self.numeric):
            bits = raw[name].view(np.int64)  # equal bits: -0.0 and 0.0 stay apart
            if len(pd.unique(bits[:_SAMPLE_ROWS])) > _SAMPLE_ROWS // 4:
                many.append(j)
                continue
            codes, distinct = pd.factorize(bits)
            values = self._apply(distinct.view(np.float64)[:, None], self._steps_for((j,)))
            out[:, self.numeric_out[j]] = values[codes, 0]
        if many:
            steps, positions = self._steps_for(tuple(many)), self.numeric_out[many]
            block = np.column_stack([raw[self.numeric[j]] for j in many])

            def rows(start: int, stop: int) -> None:
                out[start:stop, positions] = self._apply(block[start:stop], steps)

            _by_blocks(len(block), rows)

    def _steps_for(self, columns: tuple[int, ...]) -> tuple[Step, ...]:
        if columns not in self._restricted:
            chosen = np.asarray(columns, dtype=np.intp)
            steps = (step.restrict(chosen) for step in self.steps)
            self._restricted[columns] = tuple(step for step in steps if step is not None)
        return self._restricted[columns]

    @staticmethod
    def _apply(block: Matrix, steps: tuple[Step, ...]) -> Matrix:
        with np.errstate(all="ignore"):
            for step in steps:
                block = step(block)
        return block

    def transform_columns(self, columns: PreparedColumns, at: np.ndarray | None) -> Matrix | None:
        """As :meth:`transform_rows`, converting the columns first; None as well when a value
        cannot be converted (the preprocessor refuses it with its own error)."""
        try:
            numbers = {name: columns.numbers(name) for name in self.numeric_inputs}
            levels = {name: columns.levels(name) for name in self.categorical_inputs}
        except (ValueError, TypeError):
            return None
        n = len(columns.frame) if at is None else len(at)
        return self.transform_rows(numbers, levels, n, at)

    def transform(self, frame: pd.DataFrame) -> Matrix | None:
        """``preprocessor.transform(frame)``, or None when the preprocessor must decide: the
        frame's columns are not the fitted ones in order, or see :meth:`transform_columns`."""
        if tuple(frame.columns) != self.features_in:
            return None
        return self.transform_columns(PreparedColumns(frame), None)


class _Infinite(Exception):
    pass


def _take(values: np.ndarray, at: np.ndarray | None) -> np.ndarray:
    return values if at is None else values[at]


def compile_preprocessor(preprocessor: Preprocessor) -> CompiledPreprocessor | None:
    """The compiled form of a fitted preprocessor, or None when some step or setting is
    not one this module reproduces exactly."""
    try:
        return _compile(preprocessor)
    except NotCovered:
        return None


def _by_blocks(n: int, work: Callable[[int, int], None]) -> None:
    """``work(start, stop)`` over blocks of rows, on a few threads when there are many."""
    global _pool
    starts = range(0, n, _BLOCK_ROWS)
    if len(starts) < 2 or _THREADS < 2:
        for start in starts:
            work(start, min(start + _BLOCK_ROWS, n))
        return
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(_THREADS, thread_name_prefix="audience-preprocess")
    list(_pool.map(lambda start: work(start, min(start + _BLOCK_ROWS, n)), starts))


def _compile(preprocessor: Preprocessor) -> CompiledPreprocessor:
    pipeline = getattr(preprocessor, "pipeline_", None)
    features_in = getattr(preprocessor, "feature_names_in_", None)
    if features_in is None:
        raise NotCovered
    if not isinstance(pipeline, Pipeline) or type(pipeline) is not Pipeline:
        raise NotCovered
    if [name for name, _ in pipeline.steps] != ["columns", "select"]:
        raise NotCovered
    columns, select = pipeline.steps[0][1], pipeline.steps[1][1]
    if type(columns) is not ColumnTransformer or type(select) is not DropConstantAndCorrelated:
        raise NotCovered
    kept = np.asarray(select.support_, dtype=bool)
    if kept.size != max(part.stop for part in columns.output_indices_.values()):
        raise NotCovered
    out_of = np.cumsum(kept) - 1  # input position of the selector → output position
    numeric: tuple[list[str], list[int], list[Step]] = ([], [], [])
    indicators: list[_Indicator] = []
    one_hot: list[_OneHot] = []
    inputs: dict[str, list[str]] = {"numeric": [], "categorical": []}
    for name, transformer, names in columns.transformers_:
        if name == "remainder" and transformer == "drop":
            continue
        start = columns.output_indices_[name].start
        names = [str(n) for n in names]
        if name == "numeric" and type(transformer) is Pipeline and not inputs["numeric"]:
            inputs["numeric"] = names
            at = [j for j in range(len(names)) if kept[start + j]]
            numeric = (
                [names[j] for j in at],
                [int(out_of[start + j]) for j in at],
                numeric_steps(transformer, len(names), np.asarray(at, dtype=np.intp)),
            )
        elif name == "missing" and type(transformer) is MissingIndicator:
            _check_indicator(transformer, names)
            indicators += [
                _Indicator(n, int(out_of[start + i]))
                for i, n in enumerate(names)
                if kept[start + i]
            ]
        elif name == "categorical" and type(transformer) is Pipeline:
            inputs["categorical"] += names
            one_hot += _categorical(transformer, names, start, kept, out_of)
        else:
            raise NotCovered
    categorical = set(inputs["categorical"])
    indicators = [_Indicator(i.name, i.out, i.name in categorical) for i in indicators]
    return CompiledPreprocessor(
        tuple(numeric[0]),
        np.asarray(numeric[1], dtype=np.intp),
        tuple(numeric[2]),
        tuple(indicators),
        tuple(one_hot),
        int(kept.sum()),
        tuple(inputs["numeric"]),
        tuple(inputs["categorical"]),
        tuple(str(name) for name in features_in),
    )


def _check_indicator(indicator: MissingIndicator, names: Sequence[str]) -> None:
    if (
        indicator.features != "all"
        or not is_nan(indicator.missing_values)
        or indicator.sparse is True
        or list(indicator.features_) != list(range(len(names)))
    ):
        raise NotCovered


def _categorical(
    pipeline: Pipeline, names: Sequence[str], start: int, kept: np.ndarray, out_of: np.ndarray
) -> list[_OneHot]:
    steps = [step for _, step in pipeline.steps]
    if [type(s) for s in steps] != [SimpleImputer, OneHotEncoder]:
        raise NotCovered
    imputer, encoder = steps
    fill = imputer_statistics(imputer, len(names))
    if (
        encoder.handle_unknown != "ignore"
        or encoder.drop_idx_ is not None
        or encoder.sparse_output
        or encoder.dtype is not np.float64
    ):
        raise NotCovered
    encodings = []
    position = start
    for i, name in enumerate(names):
        categories = [str(c) if isinstance(c, str) else c for c in encoder.categories_[i]]
        if not all(isinstance(c, str) for c in categories):
            raise NotCovered
        infrequent = _infrequent(encoder)[i]
        rare = set() if infrequent is None else {str(c) for c in infrequent}
        frequent = [c for c in categories if c not in rare]
        slots = {c: position + j for j, c in enumerate(frequent)}
        slots |= dict.fromkeys(rare, position + len(frequent))
        position += len(frequent) + (1 if rare else 0)
        positions = {c: int(out_of[p]) for c, p in slots.items() if kept[p]}
        encodings.append(_OneHot(name, fill[i], positions))
    if position != start + len(encoder.get_feature_names_out()):
        raise NotCovered
    return encodings


def _infrequent(encoder: OneHotEncoder) -> list[Any]:
    """The infrequent levels of each column (None: none grouped)."""
    try:
        return list(encoder.infrequent_categories_)
    except AttributeError:  # neither max_categories nor min_frequency was set
        return [None] * len(encoder.categories_)


def _one_hot(out: Matrix, levels: np.ndarray, encoding: _OneHot) -> None:
    """Missing levels take the imputer's value; unknown levels stay all zeros."""
    codes, uniques = pd.factorize(levels, use_na_sentinel=True)
    table = [encoding.positions.get(level, -1) for level in uniques]
    table.append(encoding.positions.get(encoding.fill, -1))  # code -1: missing
    positions = np.asarray(table, dtype=np.int64)[codes]
    rows = np.flatnonzero(positions >= 0)
    out[rows, positions[rows]] = 1.0


class PreparedColumns:
    """Columns of a frame converted as the preprocessor converts them (float64 with NaN for
    numbers, strings or NaN for levels), each once, for every compiled preprocessor that
    reads it."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self._numbers: dict[str, Matrix] = {}
        self._levels: dict[str, np.ndarray] = {}

    def numbers(self, name: str) -> Matrix:
        if name not in self._numbers:
            column = self._column(name)
            if column.dtype == np.float64 or column.dtype == np.int64:
                # What _as_float gives for these, without its copy: nothing writes to it.
                values = column.to_numpy()
                self._numbers[name] = values.astype(np.float64, copy=False)
            else:
                self._numbers[name] = _as_float(column)
        return self._numbers[name]

    def levels(self, name: str) -> np.ndarray:
        if name not in self._levels:
            self._levels[name] = _as_levels(self._column(name))
        return self._levels[name]

    def _column(self, name: str) -> pd.Series:
        column = self.frame[name]
        if not isinstance(column, pd.Series):
            raise TypeError(f"several columns are named {name!r}")
        return column
