"""The rules of a stored run evaluated in memory: its branch ``CASE``, compiled to numpy.

Input: the ``CASE`` of :func:`~audience.segments.branches.branch_case`, as a run stores it,
and rows in a DataFrame. Output: each row's branch, as a code into
:attr:`RuleProgram.outcomes` (the branch names, None for "no branch").

Invariant: the answer is DuckDB's, the engine the rules were written for and that made the
run. The compiler covers the whitelist of :mod:`audience.segments.rules` over BIGINT,
DOUBLE, VARCHAR and timestamp columns, with SQL's three-valued logic (a WHEN whose
condition is NULL does not match) and DuckDB's typing: an integer compared with a DECIMAL
constant compares exactly, a DOUBLE with one compares as DOUBLE, NaN equals NaN and sorts
above every number. Constant sub-expressions (``1.5``, ``'2024-01-01'`` cast to a timestamp)
are evaluated by DuckDB itself, once. Whatever the compiler does not model (a column of
another type, DECIMAL arithmetic, a cast it does not know) or data it does not follow
(:class:`~audience.segments.rule_values.Undecided`) goes to DuckDB, as every call did
before, on one connection kept per thread.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import sqlglot
from sqlglot import exp

from audience.segments import rule_values as sv
from audience.segments.rule_compiler import Compiler, Env, Unsupported, connection
from audience.segments.rule_values import Kind, Undecided, Value

__all__ = ["RuleProgram", "Undecided", "Unsupported", "duckdb_branches", "load_column"]

logger = logging.getLogger(__name__)

_FEW_ROWS = 64
"""Below this many rows, strings are encoded in Python: pd.factorize costs ~60 µs at least."""


@dataclass(frozen=True)
class _Case:
    whens: list[tuple[exp.Expr, int]]
    """Each WHEN's condition and the code of its branch."""
    default: int
    outcomes: tuple[str | None, ...]
    columns: tuple[str, ...]


class RuleProgram:
    """A run's ``CASE``, compiled once per set of column types met.

    ``columns`` are the columns handed to DuckDB when it evaluates the rules.
    """

    def __init__(self, case_sql: str, columns: Sequence[str]) -> None:
        self.case_sql = case_sql
        self.columns = list(columns)
        self.case = _parse_case(case_sql)
        self._programs: dict[tuple[Kind, ...], _Compiled | None] = {}

    def branches(self, rows: pd.DataFrame) -> tuple[np.ndarray, tuple[str | None, ...]]:
        """Each row's outcome code (int64) and the outcomes the codes index."""
        if self.case is not None:
            try:
                return self.evaluate_compiled(rows), self.case.outcomes
            except (Unsupported, Undecided) as reason:
                logger.debug("rules evaluated by DuckDB: %s", reason)
        names = duckdb_branches(self.case_sql, rows, self.columns)
        outcomes = self.case.outcomes if self.case else tuple(dict.fromkeys(names.tolist()))
        return _codes(names, outcomes), outcomes

    def evaluate_compiled(self, rows: pd.DataFrame) -> np.ndarray:
        """Each row's outcome code by the compiled rules alone.

        Raises:
            Unsupported, Undecided: DuckDB must evaluate these rows.
        """
        case = self.case
        if case is None:
            raise Unsupported("a CASE the compiler does not read")
        if any(name not in rows.columns for name in case.columns):
            raise Unsupported("a column the rules read is missing")
        loaded = {name: load_column(rows[name]) for name in case.columns}
        signature = tuple(kind for kind, _ in loaded.values())
        if signature not in self._programs:
            kinds = dict(zip(case.columns, signature, strict=True))
            try:
                self._programs[signature] = _Compiled(case, kinds)
            except Unsupported:
                self._programs[signature] = None
                raise
        program = self._programs[signature]
        if program is None:
            raise Unsupported(f"rules over column types {signature}")
        return program.evaluate({name: value for name, (_, value) in loaded.items()}, len(rows))


class _Compiled:
    def __init__(self, case: _Case, kinds: Mapping[str, Kind]) -> None:
        compiler = Compiler(kinds)
        self.conditions = [(compiler.condition(node), code) for node, code in case.whens]
        self.default = case.default

    def evaluate(self, env: Env, n: int) -> np.ndarray:
        codes = np.full(n, self.default, dtype=np.int64)
        open_ = np.ones(n, dtype=bool)
        with np.errstate(all="ignore"):
            for condition, code in self.conditions:
                hit = np.broadcast_to(condition.run(env).data, (n,)) & open_
                codes[hit] = code
                open_ &= ~hit
                if not open_.any():  # the later rules change nothing
                    break
        return codes


def _parse_case(case_sql: str) -> _Case | None:
    """Read ``CASE WHEN <rule> THEN '<branch>' ... ELSE '<branch>' | NULL END`` (or a bare
    default); None for anything else, which DuckDB then evaluates."""
    try:
        tree = sqlglot.parse_one(case_sql, dialect="duckdb")
    except sqlglot.errors.SqlglotError:
        return None
    if isinstance(tree, exp.Case):
        if tree.this is not None:
            return None
        whens, default = list(tree.args.get("ifs") or []), tree.args.get("default")
    else:
        whens, default = [], tree
    try:
        names = [_branch_name(when.args.get("true")) for when in whens]
        default_name = _branch_name(default if default is not None else exp.Null())
    except Unsupported:
        return None
    outcomes = list(dict.fromkeys([*names, default_name]))
    columns = tuple(sorted({column.name for column in tree.find_all(exp.Column)}))
    return _Case(
        whens=[(when.this, outcomes.index(name)) for when, name in zip(whens, names, strict=True)],
        default=outcomes.index(default_name),
        outcomes=tuple(outcomes),
        columns=columns,
    )


def _branch_name(node: exp.Expr | None) -> str | None:
    if isinstance(node, exp.Null):
        return None
    if isinstance(node, exp.Literal) and node.is_string:
        return str(node.this)
    raise Unsupported("a branch that is not a string constant")


def _codes(names: np.ndarray, outcomes: tuple[str | None, ...]) -> np.ndarray:
    """Branch names → codes into ``outcomes``."""
    index = {name: code for code, name in enumerate(outcomes)}
    keys, uniques = pd.factorize(pd.Series(names, dtype=object), use_na_sentinel=False)
    table = np.array([index[None if pd.isna(u) else u] for u in uniques], dtype=np.int64)
    return table[keys]


# Columns ---------------------------------------------------------------------------------


def load_column(column: pd.Series) -> tuple[Kind, Value]:
    """A column as DuckDB reads it from pandas: its kind and values (NaN in a DOUBLE column
    and None/NaN in a string column are NULL)."""
    if not isinstance(column, pd.Series):
        raise Unsupported("several columns of one name")
    dtype = column.dtype
    if dtype == np.float64:
        floats = column.to_numpy()
        return "float", Value(floats, np.isnan(floats))
    if dtype == np.int64:
        return "int", Value(column.to_numpy(), sv.NO)
    if isinstance(dtype, pd.Int64Dtype):
        null = column.isna().to_numpy()
        return "int", Value(column.to_numpy(dtype=np.int64, na_value=0), null)
    if isinstance(dtype, pd.StringDtype) or dtype == np.dtype(object):
        return _load_strings(column)
    if isinstance(dtype, pd.DatetimeTZDtype) or dtype == np.dtype("datetime64[us]"):
        return _load_timestamps(column)
    raise Unsupported(f"column {column.name!r} of type {dtype}")


def _load_strings(column: pd.Series) -> tuple[Kind, Value]:
    """Dictionary-encoded strings. In an object column DuckDB reads None, NaN, pd.NA and
    pd.NaT as NULL, and refuses or converts anything else that is not a string."""
    if len(column) <= _FEW_ROWS:  # pd.factorize costs ~60 µs even for one value
        codes, strings, others = _encode(column.tolist())
    else:
        found, uniques = pd.factorize(column, use_na_sentinel=True)
        codes, strings = np.asarray(found, dtype=np.int64), np.asarray(uniques, dtype=object)
        others = any(type(s) is not str for s in strings)
        if column.dtype == np.dtype(object) and not others and (codes < 0).any():
            others = any(not _is_null(v) for v in column.to_numpy()[codes < 0])
    if column.dtype == np.dtype(object):
        if others:
            raise Unsupported(f"column {column.name!r} holds values other than strings")
        if not len(strings):
            return "null", sv.constant("null", None)
    return "str", Value(codes, codes < 0, strings)


def _encode(values: list[Any]) -> tuple[np.ndarray, np.ndarray, bool]:
    """Codes, distinct strings, and whether some value is neither a string nor NULL."""
    index: dict[str, int] = {}
    codes = np.empty(len(values), dtype=np.int64)
    others = False
    for i, value in enumerate(values):
        if type(value) is str:
            codes[i] = index.setdefault(value, len(index))
        else:
            codes[i] = -1
            others = others or not _is_null(value)
    return codes, np.array(list(index), dtype=object), others


def _is_null(value: Any) -> bool:
    return (
        value is None
        or value is pd.NA
        or value is pd.NaT
        or (isinstance(value, float) and value != value)
    )


def _load_timestamps(column: pd.Series) -> tuple[Kind, Value]:
    """Epoch microseconds, DuckDB's resolution. (DuckDB reads a column without time zone
    in its own unit, TIMESTAMP_S, _MS or _NS, unless it is in microseconds.)"""
    array = column.array
    unit = str(array.unit)
    ticks = np.asarray(array.asi8, dtype=np.int64)
    null = column.isna().to_numpy()
    per_micro = {"s": -1_000_000, "ms": -1_000, "us": 1, "ns": 1_000}.get(unit)
    if per_micro is None:
        raise Unsupported(f"timestamps in {unit}")
    if per_micro < 0:
        micros = np.where(null, 0, ticks) * -per_micro
    elif per_micro > 1:
        if np.any((ticks % per_micro != 0) & ~null):
            raise Undecided("timestamps finer than a microsecond: DuckDB truncates them")
        micros = np.where(null, 0, ticks) // per_micro
    else:
        micros = ticks
    kind: Kind = "tstz" if isinstance(column.dtype, pd.DatetimeTZDtype) else "ts"
    return kind, Value(micros, null)


# DuckDB --------------------------------------------------------------------------------------


def duckdb_branches(case_sql: str, rows: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    """Each row's branch name (None: no branch), by DuckDB."""
    # The row number keeps a frame registrable when the rules read no column at all.
    frame = rows[list(columns)].reset_index(drop=True)
    with connection() as con:
        con.register("_rows", frame.assign(_row=np.arange(len(rows))))
        try:
            sql = f"SELECT {case_sql} AS branch FROM _rows ORDER BY _row"
            branch: pd.Series = con.sql(sql).df()["branch"]
        finally:
            con.unregister("_rows")
    names: np.ndarray = branch.astype(object).where(branch.notna(), None).to_numpy()
    return names
