"""SQL values over many rows as numpy arrays, with DuckDB's semantics: the operations that
:mod:`audience.segments.rule_eval` compiles rules into.

A :class:`Value` is one expression evaluated over n rows: ``data`` holds the values (anything
at NULL positions) and ``null`` marks the NULLs; either may be 0-d, standing for the same
value on every row. Booleans are normalised: ``data`` is False where ``null`` is True.
Strings are dictionary-encoded: ``data`` holds codes into ``strings`` (-1 at NULLs), so
string functions, LIKE and comparisons with a constant run once per distinct string.

Each operation is called only with the kinds the compiler checked, already cast to their
common type. Where the data would take DuckDB somewhere these functions do not follow (an
integer overflow or a modulo by zero DuckDB reports as an error, a non-ASCII string under
``lower``/``upper``/``ILIKE``, whose Unicode rules differ from Python's), they raise
:class:`Undecided` and the caller asks DuckDB instead.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

Kind = Literal["int", "float", "str", "bool", "tstz", "ts", "null"]
"""BIGINT, DOUBLE, VARCHAR, BOOLEAN, TIMESTAMPTZ and TIMESTAMP (as epoch microseconds), and
a NULL of no type (DuckDB's type of a NULL literal or an all-None object column)."""
Op = Literal["eq", "neq", "lt", "lte", "gt", "gte"]

NO = np.bool_(False)
YES = np.bool_(True)
_INT_LIMIT = 2.0**62
"""Integer results are checked against this, in floating point: beyond it DuckDB may report
an overflow, so DuckDB decides."""

_COMPARE: dict[Op, Callable[[Any, Any], Any]] = {
    "eq": operator.eq,
    "neq": operator.ne,
    "lt": operator.lt,
    "lte": operator.le,
    "gt": operator.gt,
    "gte": operator.ge,
}
FLIPPED: dict[Op, Op] = {
    "eq": "eq",
    "neq": "neq",
    "lt": "gt",
    "lte": "gte",
    "gt": "lt",
    "gte": "lte",
}


class Undecided(Exception):
    """These rows take DuckDB where the compiled rules do not follow it; DuckDB must decide."""


@dataclass(frozen=True, slots=True)
class Value:
    data: Any
    null: Any
    strings: Any = None
    """For strings: the distinct strings ``data`` codes into (object array)."""


def constant(kind: Kind, value: Any) -> Value:
    """The same value (None: NULL) on every row."""
    if kind in ("str", "null"):
        strings = [] if value is None else [value]
        code = np.asarray(-1 if value is None else 0, dtype=np.int64)
        return Value(code, np.bool_(value is None), np.array(strings, object))
    dtype = {"float": np.float64, "bool": np.bool_}.get(kind, np.int64)
    if value is None:
        return Value(np.zeros((), dtype), YES)
    return Value(np.asarray(value, dtype=dtype), NO)


def truth(data: Any, null: Any) -> Value:
    return Value(data & ~null, null)


def and_(a: Value, b: Value) -> Value:
    true = a.data & b.data
    false = (~a.data & ~a.null) | (~b.data & ~b.null)
    return Value(true, ~(true | false))


def or_(a: Value, b: Value) -> Value:
    true = a.data | b.data
    false = (~a.data & ~a.null) & (~b.data & ~b.null)
    return Value(true, ~(true | false))


def not_(a: Value) -> Value:
    return Value(~a.data & ~a.null, a.null)


def is_true(a: Value, want: bool) -> Value:
    """``a IS TRUE`` / ``a IS FALSE``: never NULL."""
    return Value(a.data if want else ~a.data & ~a.null, NO)


# Comparisons -----------------------------------------------------------------------------


def compare(op: Op, a: Value, b: Value, kind: Kind) -> Value:
    """``a <op> b`` for two values of the same ``kind``."""
    null = a.null | b.null
    if kind == "str":
        return truth(_compare_strings(op, a, b), null)
    if kind == "float":
        return truth(_compare_floats(op, a.data, b.data), null)
    return truth(_COMPARE[op](a.data, b.data), null)


def compare_exact(op: Op, a: Value, bound: Any) -> Value:
    """``a <op> bound`` for integers ``a`` and an exact rational constant (a DECIMAL)."""
    if bound.denominator == 1:
        return _compare_to_int(op, a, int(bound))
    floor = bound.numerator // bound.denominator
    if op in ("eq", "neq"):
        return truth(np.broadcast_to(op == "neq", np.shape(a.data)), a.null)
    # For an integer x and a non-integer r: x < r ⇔ x ≤ floor(r), x > r ⇔ x > floor(r).
    equivalent: Op = "lte" if op in ("lt", "lte") else "gt"
    return _compare_to_int(equivalent, a, floor)


def _compare_to_int(op: Op, a: Value, bound: int) -> Value:
    low, high = np.iinfo(np.int64).min, np.iinfo(np.int64).max
    if low <= bound <= high:
        return truth(_COMPARE[op](a.data, np.int64(bound)), a.null)
    # Beyond the range of BIGINT every value lies on the same side of the bound.
    above = bound > high
    result = {"eq": False, "neq": True, "lt": above, "lte": above, "gt": not above}
    return truth(np.broadcast_to(result.get(op, not above), np.shape(a.data)), a.null)


def _compare_floats(op: Op, x: Any, y: Any) -> Any:
    x_nan, y_nan = np.isnan(x), np.isnan(y)
    if not (x_nan.any() or y_nan.any()):
        return _COMPARE[op](x, y)
    # DuckDB orders NaN above every number and holds NaN equal to NaN.
    equal = (x_nan & y_nan) | (x == y)
    less = (~x_nan & y_nan) | (x < y)
    greater = (x_nan & ~y_nan) | (x > y)
    by_op = {"eq": equal, "neq": ~equal, "lt": less, "lte": less | equal, "gt": greater}
    return by_op.get(op, greater | equal)


def _compare_strings(op: Op, a: Value, b: Value) -> Any:
    """Strings compare by code point, as DuckDB compares UTF-8 bytes."""
    if np.ndim(b.data) == 0 and b.data >= 0:  # one string for every row
        other: str = b.strings[b.data]
        return per_string(a, lambda s: _COMPARE[op](s, other), False)
    if np.ndim(a.data) == 0 and a.data >= 0:
        return _compare_strings(FLIPPED[op], b, a)
    with np.errstate(all="ignore"):
        return np.asarray(_COMPARE[op](materialize(a), materialize(b)), dtype=bool)


def per_string(a: Value, function: Callable[[str], Any], at_null: Any) -> Any:
    """``function`` of each row's string, computed once per distinct string."""
    table = np.array([*map(function, a.strings), at_null])
    return table[a.data]


def materialize(a: Value) -> Any:
    """The strings themselves (object array; "" at NULLs)."""
    return np.append(a.strings, "")[a.data]


def any_of(values: Sequence[Value]) -> Value:
    """OR of ``values``: ``x IN (a, b)`` is ``x = a OR x = b`` (TRUE if any comparison is,
    else NULL if any is NULL, else FALSE)."""
    result = values[0]
    for value in values[1:]:
        result = or_(result, value)
    return result


def string_in(a: Value, members: frozenset[str], any_null: bool) -> Value:
    """``a IN (...)`` for a list of string constants (``any_null``: the list holds a NULL)."""
    found = per_string(a, members.__contains__, False)
    null = a.null | (~found if any_null else NO)
    return truth(found, null)


# LIKE -------------------------------------------------------------------------------------


def like_pattern(pattern: str, *, fold_case: bool) -> re.Pattern[str]:
    """DuckDB's LIKE: ``%`` any run of characters, ``_`` one character, no escape character."""
    parts = ("." if c == "_" else ".*" if c == "%" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.DOTALL | (re.IGNORECASE if fold_case else 0))


def like(a: Value, pattern: re.Pattern[str], *, fold_case: bool) -> Value:
    if fold_case:
        # Python's and DuckDB's case folding agree on ASCII only.
        _require_ascii(a.strings)
    return truth(per_string(a, lambda s: pattern.fullmatch(s) is not None, False), a.null)


# Strings -----------------------------------------------------------------------------------


def map_strings(a: Value, function: Callable[[str], str]) -> Value:
    """``lower``/``upper``: DuckDB and Python agree on ASCII strings only."""
    _require_ascii(a.strings)
    return Value(a.data, a.null, np.array([function(s) for s in a.strings], dtype=object))


def length(a: Value) -> Value:
    """Characters (code points) of each string, as BIGINT."""
    return Value(per_string(a, len, 0).astype(np.int64), a.null)


def _require_ascii(strings: Any) -> None:
    if not all(s.isascii() for s in strings):
        raise Undecided("non-ASCII strings: DuckDB's case rules decide")


# Numbers -------------------------------------------------------------------------------------


def to_float(a: Value) -> Value:
    return Value(np.asarray(a.data, dtype=np.float64), a.null)


def arithmetic(op: str, a: Value, b: Value, kind: Kind) -> Value:
    """``a <op> b`` for + - * / % on two values of ``kind`` (int or float); ``/`` is float."""
    null = a.null | b.null
    x, y = a.data, b.data
    with np.errstate(all="ignore"):
        if kind == "float" or op == "/":
            x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
            result = np.fmod(x, y) if op == "%" else _ARITHMETIC[op](x, y)
            return Value(result, null)
        if op == "%":
            if np.any((y == 0) & ~null):
                raise Undecided("integer modulo by zero: DuckDB reports an error")
            return Value(np.fmod(x, np.where(y == 0, 1, y)), null)
        _check_int_range(_ARITHMETIC[op](x.astype(np.float64), y.astype(np.float64)), null)
        return Value(_ARITHMETIC[op](x, y), null)


_ARITHMETIC: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
}


def negate(a: Value, kind: Kind) -> Value:
    if kind == "int":
        _check_int_range(np.asarray(a.data, np.float64), a.null)
    return Value(-a.data, a.null)


def absolute(a: Value, kind: Kind) -> Value:
    if kind == "int":
        _check_int_range(np.asarray(a.data, np.float64), a.null)
    return Value(np.abs(a.data), a.null)


def round_half_away(a: Value) -> Value:
    """DuckDB's ``round`` of a DOUBLE: C's ``round`` (halves away from zero), the input back
    when the result is not finite. (With a number of digits DuckDB rounds the exact binary
    value, which this does not follow.)"""
    with np.errstate(all="ignore"):
        return Value(_finite_or(_round(a.data), a.data), a.null)


def _round(x: Any) -> Any:
    whole = np.trunc(x)
    return np.where(np.abs(x - whole) >= 0.5, whole + np.sign(x), whole)


def _finite_or(result: Any, otherwise: Any) -> Any:
    return np.where(np.isfinite(result), result, otherwise)


def to_bigint(a: Value, kind: Kind) -> Value:
    """``CAST(a AS BIGINT)``: a DOUBLE rounds half to even; DuckDB refuses one out of range."""
    if kind == "int":
        return a
    with np.errstate(all="ignore"):
        rounded = np.rint(a.data)
        if np.any(~(np.abs(rounded) < 2.0**63) & ~a.null):
            raise Undecided("DOUBLE out of BIGINT's range: DuckDB reports an error")
        return Value(np.where(a.null, 0.0, rounded).astype(np.int64), a.null)


def _check_int_range(approximate: Any, null: Any) -> None:
    if np.any((np.abs(approximate) > _INT_LIMIT) & ~null):
        raise Undecided("integer result near BIGINT's limit: DuckDB decides")


# Functions over several values ----------------------------------------------------------------


def coalesce(values: Sequence[Value], kind: Kind) -> Value:
    """The first value that is not NULL."""
    result = values[0]
    for value in values[1:]:
        result = pick(result, value, result.null & ~value.null, kind)
    return result


def extreme(values: Sequence[Value], kind: Kind, *, greatest: bool) -> Value:
    """``least``/``greatest``: NULLs are skipped, NULL only when every value is NULL."""
    op: Op = "gt" if greatest else "lt"
    result = values[0]
    for value in values[1:]:
        better = compare(op, value, result, kind).data
        result = pick(result, value, (result.null & ~value.null) | better, kind)
    return result


def nullif(a: Value, b: Value, kind: Kind) -> Value:
    equal = compare("eq", a, b, kind).data
    return Value(a.data, a.null | equal, a.strings)


def pick(a: Value, b: Value, take_b: Any, kind: Kind) -> Value:
    """``b`` where ``take_b``, else ``a``."""
    null = np.where(take_b, b.null, a.null)
    if kind == "str":
        codes = np.where(take_b, np.where(b.data < 0, -1, b.data + len(a.strings)), a.data)
        codes = np.where(null, -1, codes)
        return Value(codes, null, np.concatenate([a.strings, b.strings]))
    data = np.where(take_b, b.data, a.data)
    return Value(data & ~null if kind == "bool" else data, null)
