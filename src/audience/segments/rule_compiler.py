"""The compiler of :mod:`audience.segments.rule_eval`: a checked rule's syntax tree, typed
as DuckDB types it for the given column types, turned into numpy evaluators.

Input: a condition of the ``CASE`` (a sqlglot tree) and the kind of each column it reads.
Output: an :class:`Expr` whose ``run`` evaluates it over the columns' values
(:mod:`audience.segments.rule_values`). Typing follows DuckDB's implicit casts: BIGINT and
DOUBLE compare as DOUBLE, BIGINT and DECIMAL constants exactly, a string literal takes the
type of the timestamp it is compared with; constant sub-expressions are evaluated by DuckDB
itself, once, on this thread's connection. Anything else raises :class:`Unsupported`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any, Literal

import duckdb
import numpy as np
from sqlglot import exp

from audience.segments import rule_values as sv
from audience.segments.rule_values import Kind, Op, Value

ExprKind = Kind | Literal["dec", "temporal"]
"""A DECIMAL or a DATE/TIMESTAMP constant exists only until it is cast to its partner's type."""
Env = Mapping[str, Value]


class Unsupported(Exception):
    """The compiler does not model this rule over these column types: DuckDB evaluates it."""


@dataclass(frozen=True)
class Expr:
    kind: ExprKind
    run: Callable[[Env], Value]
    constant: Any = None
    """For a constant: its value as DuckDB returned it (int, Decimal, float, str, ...)."""
    sql: str | None = None
    """For a constant: its SQL, to have DuckDB cast it."""
    literal: bool = False
    """A string literal, which DuckDB casts to the type of what it is compared with."""
    type_name: str = ""
    """For a constant: its DuckDB type."""


_COMPARISONS: dict[type[exp.Expr], Op] = {
    exp.EQ: "eq",
    exp.NEQ: "neq",
    exp.LT: "lt",
    exp.LTE: "lte",
    exp.GT: "gt",
    exp.GTE: "gte",
}
_ARITHMETIC: dict[type[exp.Expr], str] = {
    exp.Add: "+",
    exp.Sub: "-",
    exp.Mul: "*",
    exp.Div: "/",
    exp.Mod: "%",
}
_CONSTANT_KINDS: dict[str, ExprKind] = {
    '"NULL"': "null",
    "INTEGER": "int",
    "BIGINT": "int",
    "DOUBLE": "float",
    "VARCHAR": "str",
    "BOOLEAN": "bool",
    "DATE": "temporal",
    "TIMESTAMP": "temporal",
    "TIMESTAMP WITH TIME ZONE": "temporal",
}
_NULL_RESULTS: dict[type[exp.Expr], Kind] = {
    exp.Length: "int",
    exp.Lower: "str",
    exp.Upper: "str",
    exp.Abs: "int",
    exp.Ceil: "float",
    exp.Floor: "float",
}
_MAX_DECIMAL_SCALE = 18
"""Beyond this scale, DuckDB's DECIMAL of a BIGINT may overflow: DuckDB decides."""


_CONNECTION: list[duckdb.DuckDBPyConnection] = []
_CONNECTION_LOCK = threading.Lock()


@contextmanager
def connection() -> Iterator[duckdb.DuckDBPyConnection]:
    """The process's in-memory DuckDB connection, for constants and for rules the compiler
    leaves to DuckDB; one user at a time. (A connection kept per thread lived on in the
    server's daemon worker threads, and an interpreter exiting under one aborted.)"""
    with _CONNECTION_LOCK:
        if not _CONNECTION:
            _CONNECTION.append(duckdb.connect())
        yield _CONNECTION[0]


def _fold(sql: str) -> tuple[str, Any]:
    """DuckDB's type and value of a constant expression."""
    try:
        with connection() as con:
            rows = con.execute(f"SELECT typeof(({sql})), ({sql})").fetchall()
    except duckdb.Error as error:
        raise Unsupported(f"constant {sql}: {error}") from error
    return str(rows[0][0]), rows[0][1]


class Compiler:
    """Types each node as DuckDB would for the given column kinds, and builds its evaluator."""

    def __init__(self, kinds: Mapping[str, Kind]) -> None:
        self.kinds = kinds

    def condition(self, node: exp.Expr) -> Expr:
        compiled = self.compile(node)
        if compiled.kind == "null":
            return _null("bool")
        if compiled.kind != "bool":
            raise Unsupported(f"a condition of kind {compiled.kind}")
        return compiled

    def compile(self, node: exp.Expr) -> Expr:
        if isinstance(node, exp.Paren):
            return self.compile(node.this)
        if node.find(exp.Column) is None:
            return _constant(node)
        if type(node) is exp.Column:
            kind = self.kinds.get(node.name)
            if kind is None:
                raise Unsupported(f"column {node.name!r} has no type")
            return Expr(kind, _column_reader(node.name))
        handler = _HANDLERS.get(type(node))
        if handler is None:
            raise Unsupported(f"{type(node).__name__} is not compiled")
        return handler(self, node)

    # Logic

    def logic(self, node: exp.Expr) -> Expr:
        if isinstance(node, exp.Not):
            inner = self.condition(node.this)
            return Expr("bool", lambda env: sv.not_(inner.run(env)))
        left, right = self.condition(node.this), self.condition(node.expression)
        combine = sv.and_ if isinstance(node, exp.And) else sv.or_
        return Expr("bool", lambda env: combine(left.run(env), right.run(env)))

    def is_(self, node: exp.Expr) -> Expr:
        inner, test = self.compile(node.this), node.expression
        if isinstance(test, exp.Null):
            result = Expr("bool", lambda env: Value(np.asarray(inner.run(env).null), sv.NO))
        elif isinstance(test, exp.Boolean) and inner.kind in ("bool", "null"):
            inner = inner if inner.kind == "bool" else _null("bool")
            want = bool(test.this)
            result = Expr("bool", lambda env: sv.is_true(inner.run(env), want))
        else:
            raise Unsupported(f"IS {test.sql()}")
        return _negated(result) if node.args.get("negate") else result

    # Comparisons

    def comparison(self, node: exp.Expr) -> Expr:
        left, right = self.compile(node.this), self.compile(node.expression)
        common = _comparison_kind([left, right])
        return _compare(_COMPARISONS[type(node)], left, right, common)

    def between(self, node: exp.Expr) -> Expr:
        if node.args.get("symmetric"):
            raise Unsupported("BETWEEN SYMMETRIC")
        x, low, high = (self.compile(node.args[k]) for k in ("this", "low", "high"))
        common = _comparison_kind([x, low, high])
        above, below = _compare("lte", low, x, common), _compare("lte", x, high, common)
        return Expr("bool", lambda env: sv.and_(above.run(env), below.run(env)))

    def in_(self, node: exp.Expr) -> Expr:
        x = self.compile(node.this)
        items = [self.compile(item) for item in node.expressions]
        common = _comparison_kind([x, *items])
        constants = [i for i in items if i.sql is not None]
        if common == "str" and len(constants) == len(items) and x.kind == "str":
            members = frozenset(i.constant for i in items if not _always_null(i))
            any_null = any(_always_null(i) for i in items)
            return Expr("bool", lambda env: sv.string_in(x.run(env), members, any_null))
        tests = [_compare("eq", x, item, common) for item in items]
        return Expr("bool", lambda env: sv.any_of([test.run(env) for test in tests]))

    def like(self, node: exp.Expr) -> Expr:
        x, pattern = self.compile(node.this), self.compile(node.expression)
        fold_case = isinstance(node, exp.ILike)
        if _always_null(pattern) or x.kind == "null":
            result = _null_after(x, pattern)
        elif x.kind != "str" or pattern.kind != "str" or pattern.sql is None:
            raise Unsupported("LIKE needs a string and a constant pattern")
        elif fold_case and not str(pattern.constant).isascii():
            raise Unsupported("ILIKE with a non-ASCII pattern")
        else:
            regex = sv.like_pattern(str(pattern.constant), fold_case=fold_case)
            result = Expr("bool", lambda env: sv.like(x.run(env), regex, fold_case=fold_case))
        return _negated(result) if node.args.get("negate") else result

    # Arithmetic and functions

    def arithmetic(self, node: exp.Expr) -> Expr:
        if isinstance(node, exp.Div) and (node.args.get("typed") or node.args.get("safe")):
            raise Unsupported("typed or safe division")
        op = _ARITHMETIC[type(node)]
        left, right = self.compile(node.this), self.compile(node.expression)
        kind = _value_kind([left, right])
        result_kind: Kind = "float" if op == "/" and kind != "null" else kind
        if kind == "null" or kind not in ("int", "float"):
            if kind != "null":
                raise Unsupported(f"arithmetic on {kind}")
            return _null("float" if op == "/" else _numeric_or_null([left, right]))
        a, b = _cast(left, kind), _cast(right, kind)
        return Expr(result_kind, lambda env: sv.arithmetic(op, a.run(env), b.run(env), kind))

    def negative(self, node: exp.Expr) -> Expr:
        inner = self.compile(node.this)
        if inner.kind not in ("int", "float"):
            raise Unsupported(f"- on {inner.kind}")
        kind = inner.kind
        return Expr(kind, lambda env: sv.negate(inner.run(env), kind))

    def function(self, node: exp.Expr) -> Expr:
        extra = {k for k, v in node.args.items() if v and k not in ("this", "expressions")}
        if isinstance(node, exp.Round) and extra <= {"decimals"}:
            return self._round(node)
        if isinstance(node, exp.Greatest | exp.Least) and extra <= {"ignore_nulls"}:
            return self._extreme(node, greatest=isinstance(node, exp.Greatest))
        if isinstance(node, exp.Nullif):
            return self._nullif(node)
        if extra:
            raise Unsupported(f"{type(node).__name__} with {sorted(extra)}")
        if isinstance(node, exp.Coalesce):
            values = [self.compile(a) for a in [node.this, *node.expressions]]
            kind = _value_kind(values)
            cast = [_cast(v, kind) for v in values if v.kind != "null"] or [_null(kind)]
            return Expr(kind, lambda env: sv.coalesce([c.run(env) for c in cast], kind))
        return self._unary(node, self.compile(node.this))

    def _unary(self, node: exp.Expr, inner: Expr) -> Expr:
        kind = inner.kind
        if kind == "null":
            return _null(_NULL_RESULTS[type(node)])
        if isinstance(node, exp.Lower | exp.Upper) and kind == "str":
            method = str.lower if isinstance(node, exp.Lower) else str.upper
            return Expr("str", lambda env: sv.map_strings(inner.run(env), method))
        if isinstance(node, exp.Length) and kind == "str":
            return Expr("int", lambda env: sv.length(inner.run(env)))
        if isinstance(node, exp.Abs) and kind in ("int", "float"):
            return Expr(kind, lambda env: sv.absolute(inner.run(env), kind))
        if isinstance(node, exp.Ceil | exp.Floor) and kind in ("int", "float"):
            function = np.ceil if isinstance(node, exp.Ceil) else np.floor
            return Expr("float", lambda env: _apply(function, sv.to_float(inner.run(env))))
        raise Unsupported(f"{type(node).__name__} of {kind}")

    def _round(self, node: exp.Expr) -> Expr:
        inner = self.compile(node.this)
        if node.args.get("decimals") is not None or inner.kind != "float":
            raise Unsupported("round to digits, or of something not DOUBLE")
        return Expr("float", lambda env: sv.round_half_away(inner.run(env)))

    def _extreme(self, node: exp.Expr, *, greatest: bool) -> Expr:
        values = [self.compile(a) for a in [node.this, *node.expressions]]
        kind = _value_kind(values)
        cast = [_cast(v, kind) for v in values if v.kind != "null"] or [_null(kind)]
        return Expr(
            kind, lambda env: sv.extreme([c.run(env) for c in cast], kind, greatest=greatest)
        )

    def _nullif(self, node: exp.Expr) -> Expr:
        a, b = self.compile(node.this), self.compile(node.expression)
        kind = _value_kind([a, b])
        if a.kind != kind or kind not in ("int", "float", "str"):
            raise Unsupported(f"nullif of {a.kind} and {b.kind}")
        other = _cast(b, kind)
        return Expr(kind, lambda env: sv.nullif(a.run(env), other.run(env), kind))

    def cast(self, node: exp.Expr) -> Expr:
        inner, to = self.compile(node.this), node.args["to"]
        extra = {k for k, v in node.args.items() if v and k not in ("this", "to", "_type")}
        target = to.this if isinstance(to, exp.DataType) else None
        if extra or (isinstance(to, exp.DataType) and to.expressions):
            raise Unsupported(f"CAST with {sorted(extra)}")
        kind = inner.kind
        if target == exp.DataType.Type.DOUBLE and kind in ("int", "float", "null"):
            return _cast(inner, "float")
        if target == exp.DataType.Type.BIGINT and kind in ("int", "float", "null"):
            if kind == "null":
                return _null("int")
            return Expr("int", lambda env: sv.to_bigint(inner.run(env), kind))
        if target in (exp.DataType.Type.VARCHAR, exp.DataType.Type.TEXT) and kind == "str":
            return inner
        raise Unsupported(f"CAST of {kind} to {to.sql()}")


def _column_reader(name: str) -> Callable[[Env], Value]:
    return lambda env: env[name]


_HANDLERS: dict[type[exp.Expr], Callable[[Compiler, Any], Expr]] = {
    exp.And: Compiler.logic,
    exp.Or: Compiler.logic,
    exp.Not: Compiler.logic,
    exp.Is: Compiler.is_,
    exp.Between: Compiler.between,
    exp.In: Compiler.in_,
    exp.Like: Compiler.like,
    exp.ILike: Compiler.like,
    exp.Neg: Compiler.negative,
    exp.Cast: Compiler.cast,
    **dict.fromkeys(_COMPARISONS, Compiler.comparison),
    **dict.fromkeys(_ARITHMETIC, Compiler.arithmetic),
    **dict.fromkeys(
        (exp.Abs, exp.Ceil, exp.Floor, exp.Round, exp.Coalesce, exp.Greatest, exp.Least),
        Compiler.function,
    ),
    **dict.fromkeys((exp.Length, exp.Lower, exp.Upper, exp.Nullif), Compiler.function),
}


def _apply(function: Callable[[Any], Any], value: Value) -> Value:
    return Value(function(value.data), value.null)


def _negated(expr: Expr) -> Expr:
    return Expr("bool", lambda env: sv.not_(expr.run(env)))


def _null_after(*operands: Expr) -> Expr:
    """A NULL comparison whose operands are still evaluated: DuckDB evaluates them (``x * 3e9
    IN (NULL)`` overflows in DuckDB), so an operand that would be its error must raise
    :class:`~audience.segments.rule_values.Undecided` here too."""
    live = [operand for operand in operands if operand.sql is None]
    if not live:
        return _null("bool")
    null = _null("bool")

    def run(env: Any) -> sv.Value:
        for operand in live:
            operand.run(env)
        return null.run(env)

    return Expr("bool", run)


def _null(kind: Kind) -> Expr:
    value = sv.constant(kind, None)
    return Expr(kind, lambda env: value, constant=None, sql="NULL")


def _always_null(expr: Expr) -> bool:
    """A NULL of any type: a NULL literal, or a constant that is NULL (``lower(NULL)``)."""
    return expr.kind == "null" or (expr.sql is not None and expr.constant is None)


def _numeric_or_null(exprs: Sequence[Expr]) -> Kind:
    kinds = {e.kind for e in exprs} - {"null"}
    if kinds <= {"int"}:
        return "int"
    if kinds <= {"int", "float", "dec"}:
        return "float"
    raise Unsupported(f"arithmetic on {sorted(kinds)}")


def _constant(node: exp.Expr) -> Expr:
    """A sub-expression without columns, evaluated by DuckDB."""
    sql = node.sql(dialect="duckdb")
    type_name, value = _fold(sql)
    bare = node
    while isinstance(bare, exp.Paren):
        bare = bare.this
    literal = isinstance(bare, exp.Literal) and bare.is_string
    kind: ExprKind | None = _CONSTANT_KINDS.get(type_name)
    if type_name.startswith("DECIMAL("):
        scale = int(type_name.rstrip(")").split(",")[1])
        if scale > _MAX_DECIMAL_SCALE:
            raise Unsupported(f"constant {sql} of type {type_name}")
        kind = "dec"
    if kind is None:
        raise Unsupported(f"constant {sql} of type {type_name}")
    if kind == "dec" or kind == "temporal":
        return Expr(kind, _unusable, value, sql, literal, type_name)
    held = sv.constant(kind, value)
    return Expr(kind, lambda env: held, value, sql, literal, type_name)


def _unusable(env: Env) -> Value:
    raise Unsupported("a constant used without a type")


def _comparison_kind(exprs: Sequence[Expr]) -> ExprKind:
    """The type DuckDB compares these in ("dec": integers against a DECIMAL, exactly)."""
    kinds = {e.kind for e in exprs} - {"null"}
    if not kinds:
        return "null"
    if kinds <= {"int", "float", "dec"}:
        return "float" if "float" in kinds else "dec" if "dec" in kinds else "int"
    if kinds == {"str"}:
        return "str"
    for stamp in ("tstz", "ts"):
        casts = [e for e in exprs if e.kind in ("str", "temporal")]
        constant = all(e.sql is not None and (e.literal or e.kind != "str") for e in casts)
        if kinds <= {stamp, "str", "temporal"} and constant:
            return stamp
    raise Unsupported(f"comparison of {sorted(kinds)}")


def _value_kind(exprs: Sequence[Expr]) -> Kind:
    """The type of arithmetic or of coalesce/least/greatest over these."""
    kinds = {e.kind for e in exprs} - {"null"}
    if not kinds:
        return "null"
    if kinds <= {"int"}:
        return "int"
    if "float" in kinds and kinds <= {"int", "float", "dec"}:
        return "float"
    if kinds == {"str"}:
        return "str"
    raise Unsupported(f"values of {sorted(kinds)}")


def _compare(op: Op, left: Expr, right: Expr, common: ExprKind) -> Expr:
    if common == "null" or _always_null(left) or _always_null(right):
        return _null_after(left, right)
    if common == "dec":
        return _compare_exact(op, left, right)
    kind: Kind = common  # type: ignore[assignment]
    a, b = _cast(left, kind), _cast(right, kind)
    return Expr("bool", lambda env: sv.compare(op, a.run(env), b.run(env), kind))


def _compare_exact(op: Op, left: Expr, right: Expr) -> Expr:
    """Integers against DECIMAL constants, compared exactly as DuckDB's DECIMAL does."""
    if left.sql is not None and right.sql is not None:
        result = sv.constant("bool", _rational_compare(op, left.constant, right.constant))
        return Expr("bool", lambda env: result)
    if right.sql is not None:
        column, bound, op_ = left, Fraction(Decimal(right.constant)), op
    elif left.sql is not None:
        column, bound, op_ = right, Fraction(Decimal(left.constant)), sv.FLIPPED[op]
    else:
        return Expr("bool", lambda env: sv.compare(op, left.run(env), right.run(env), "int"))
    return Expr("bool", lambda env: sv.compare_exact(op_, column.run(env), bound))


def _rational_compare(op: Op, a: Any, b: Any) -> bool:
    x, y = Fraction(Decimal(a)), Fraction(Decimal(b))
    return {"eq": x == y, "neq": x != y, "lt": x < y, "lte": x <= y, "gt": x > y}.get(op, x >= y)


def _cast(expr: Expr, kind: Kind) -> Expr:
    """``expr`` as ``kind``, cast as DuckDB casts it implicitly."""
    if expr.kind == kind:
        return expr
    if expr.kind == "null":
        return _null(kind)
    if expr.sql is not None:  # a constant: DuckDB casts it
        return _cast_constant(expr, kind)
    if expr.kind == "int" and kind == "float":
        return Expr("float", lambda env: sv.to_float(expr.run(env)))
    raise Unsupported(f"{expr.kind} as {kind}")


def _cast_constant(expr: Expr, kind: Kind) -> Expr:
    sql = expr.sql
    if kind == "float" and expr.kind in ("int", "dec"):
        _, value = _fold(f"CAST(({sql}) AS DOUBLE)")
    elif kind in ("tstz", "ts") and expr.kind in ("str", "temporal"):
        target = "TIMESTAMPTZ" if kind == "tstz" else "TIMESTAMP"
        if kind == "ts" and expr.type_name == "TIMESTAMP WITH TIME ZONE":
            raise Unsupported("TIMESTAMP column against a TIMESTAMPTZ constant")
        _, value = _fold(f"epoch_us(CAST(({sql}) AS {target}))")
    else:
        raise Unsupported(f"constant {sql} as {kind}")
    held = sv.constant(kind, value)
    return Expr(kind, lambda env: held, constant=value, sql=sql)
