"""Segment rules: SQL conditions written by marketers, checked before they reach the engine.

Input: the text a user wrote (``country = 'US' AND order_count >= 2``) and the names of the
columns it may read. Output: a :class:`Rule` whose ``sql`` is re-rendered for DuckDB from
the checked syntax tree, never copied from the text, with every column double-quoted and
spelled as the known column is. The engine uses it as ``WHERE <sql>`` or
``CASE WHEN <sql> THEN ...``.

Invariant: a rule is one boolean condition over one contact's columns. The check is a
whitelist of syntax nodes and functions, so whatever sqlglot learns to parse tomorrow is
refused until someone allows it here. Statements, several statements, comments,
subqueries, parameters, aggregates and window functions, other functions, qualified or
unknown columns and ``*`` are refused with a :class:`~audience.errors.RuleError` that
names where the rule came from, quotes it, and says what was expected.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlglot import exp
from sqlglot.dialects.duckdb import DuckDB
from sqlglot.errors import ErrorLevel, ParseError, TokenError
from sqlglot.tokenizer_core import Token, TokenType

from audience.errors import RuleError

_DIALECT = DuckDB()
_EXAMPLE = "country = 'US' AND order_count >= 2"
_EXPECTED = f"A rule is one condition over a contact's columns, e.g. {_EXAMPLE}."
_MAX_LISTED_COLUMNS = 12

_FUNCTIONS: frozenset[type[exp.Func]] = frozenset(
    {
        exp.Abs,
        exp.Ceil,
        exp.Coalesce,
        exp.Floor,
        exp.Greatest,
        exp.Least,
        exp.Length,
        exp.Lower,
        exp.Nullif,
        exp.Round,
        exp.Upper,
    }
)
ALLOWED_FUNCTIONS: frozenset[str] = frozenset(
    function.sql_names()[0].lower() for function in _FUNCTIONS
)
"""Functions a rule may call (aliases sqlglot maps onto them, such as ``ceiling``, pass too)."""

# Nodes whose value is a boolean: what a rule, or each side of its AND/OR/NOT, must be.
_PREDICATES: frozenset[type[exp.Expr]] = frozenset(
    {
        exp.EQ,
        exp.NEQ,
        exp.GT,
        exp.GTE,
        exp.LT,
        exp.LTE,
        exp.Is,
        exp.In,
        exp.Between,
        exp.Like,
        exp.ILike,
    }
)
_CONDITIONS = _PREDICATES | {exp.Boolean}
_CONNECTIVES: frozenset[type[exp.Expr]] = frozenset({exp.And, exp.Or, exp.Not, exp.Paren})
_VALUES: frozenset[type[exp.Expr]] = frozenset(
    {exp.Literal, exp.Null, exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod, exp.Neg, exp.Cast}
)
# Exact types, not isinstance: a subclass (TRY_CAST is a Cast) is a different construct.
# Column and DataType are allowed too, after the checks in _refusal.
_ALLOWED_NODES = _CONDITIONS | _CONNECTIVES | _VALUES | _FUNCTIONS
_CAST_TYPES = frozenset(
    {
        exp.DataType.Type.INT,
        exp.DataType.Type.BIGINT,
        exp.DataType.Type.DOUBLE,
        exp.DataType.Type.VARCHAR,
        exp.DataType.Type.TEXT,  # what VARCHAR and STRING parse to
        exp.DataType.Type.DATE,
        exp.DataType.Type.BOOLEAN,
    }
)
# Tokens that start a statement, refused before parsing: the parser would otherwise log a
# warning for the ones it falls back to parsing as a raw command (CALL, VACUUM, ...).
_STATEMENT_TOKENS = (
    frozenset(DuckDB.parser_class.STATEMENT_PARSERS)
    | DuckDB.tokenizer_class.COMMANDS
    | {TokenType.SELECT, TokenType.WITH, TokenType.FROM, TokenType.VALUES, TokenType.SUMMARIZE}
) - {TokenType.SEMICOLON}
# After such a keyword, an operator means the user named a column like a keyword: `desc > 1`.
_OPERATORS = frozenset({"=", "==", "<>", "!=", "<", "<=", ">", ">=", "IS", "IN", "LIKE", "ILIKE"})


@dataclass(frozen=True)
class Rule:
    """A checked segment rule."""

    text: str
    """What the user wrote."""
    sql: str
    """The condition re-rendered for DuckDB, every column double-quoted: ``"country" = 'US'``."""
    columns: tuple[str, ...]
    """The known columns it reads, in their known spelling, sorted and unique."""


def parse_rule(text: str, columns: Iterable[str], *, where: str = "rule") -> Rule:
    """Check ``text`` as a condition over ``columns`` and render it for DuckDB.

    Column names match case-insensitively and take the known spelling. ``where`` names the
    rule's origin (``segments.broad[1].rule``, ``--where``) and starts every error message.

    Raises:
        RuleError: the text is not one safe boolean expression over known columns.
    """
    tokens = _tokenize(text, where)
    _refuse_tokens(tokens, text, where)
    tree = _parse(tokens, text, where)
    checker = _Checker(columns)
    checker.visit(tree)
    if checker.reasons:
        raise _refused(where, text, checker.reasons, checker.hints)
    if not _is_condition(tree):
        raise _refused(
            where,
            text,
            ["it computes a value but does not test it"],
            ["A rule must be a condition, e.g. order_count >= 2; join conditions with AND/OR."],
        )
    sql = tree.sql(dialect=_DIALECT)
    return Rule(text=text, sql=sql, columns=tuple(sorted(checker.used)))


def _refused(where: str, text: str, reasons: Sequence[str], hints: Sequence[str] = ()) -> RuleError:
    expected = " ".join(dict.fromkeys(hints)) or _EXPECTED
    return RuleError(
        f'{where}: cannot use rule "{text}": {"; ".join(dict.fromkeys(reasons))}. {expected}'
    )


def _tokenize(text: str, where: str) -> list[Token]:
    try:
        return _DIALECT.tokenize(text)
    except TokenError as error:
        # The tokenizer wraps the real cause, "Missing ' from 1:4", in a generic message.
        unclosed = re.search(r"Missing (.+) from \d+:(\d+)", str(error.__cause__))
        reason = (
            f"the quote {unclosed[1]} opened at character {int(unclosed[2]) + 1} is never closed"
            if unclosed
            else "it contains text that cannot be read as SQL"
        )
        raise _refused(where, text, [reason]) from error


def _refuse_tokens(tokens: Sequence[Token], text: str, where: str) -> None:
    """Refuse what is visible in the tokens alone; string contents are single tokens here,
    so a ';' or '--' inside quotes is not mistaken for one outside."""
    if not tokens:
        raise _refused(where, text, ["it is empty"])
    reasons = []
    if any(token.token_type is TokenType.SEMICOLON for token in tokens):
        reasons.append("';' is not allowed outside quotes (a rule is one condition)")
    if any(token.comments for token in tokens):
        reasons.append("comments (-- or /* */) are not allowed")
    if tokens[0].token_type in _STATEMENT_TOKENS:
        keyword = tokens[0].text
        reasons.append(f"it is a SQL statement ({keyword.upper()}), not a condition")
        hints = [_EXPECTED]
        if len(tokens) > 1 and tokens[1].text.upper() in _OPERATORS:  # `comment = 'x'`
            hints.append(f'A column named like a SQL keyword needs double quotes: "{keyword}".')
        raise _refused(where, text, reasons, hints)
    if reasons:
        raise _refused(where, text, reasons)


def _parse(tokens: list[Token], text: str, where: str) -> exp.Expr:
    try:
        statements = _DIALECT.parser().parse(tokens, text)
    except ParseError as error:
        raise _refused(where, text, [_syntax_error(error)]) from error
    if len(statements) != 1 or statements[0] is None:
        raise _refused(where, text, ["it must be exactly one condition"])
    return statements[0]


def _syntax_error(error: ParseError) -> str:
    """Rephrase sqlglot's first parse error; its descriptions name parser internals."""
    details = error.errors[0] if error.errors else {}
    description = str(details.get("description") or error)
    near = details.get("highlight") or ""
    if description.startswith("Expecting "):
        what = f"expected '{description.removeprefix('Expecting ')}'"
    elif description.startswith("Required keyword"):
        what = f"a value is missing next to '{near}'"
    elif description.startswith("Invalid expression / Unexpected token"):
        what = f"unexpected '{near}'"
    else:
        what = description
    line, column = details.get("line"), details.get("col")
    if line is None or column is None:
        return f"syntax error: {what}"
    at = f"column {column}" if line == 1 else f"line {line}, column {column}"
    return f"syntax error at {at}: {what}"


class _Checker:
    """Walks a parsed rule: collects every refused node, resolves and quotes columns."""

    def __init__(self, known: Iterable[str]) -> None:
        self.known = sorted(set(known))
        self.by_folded_name: dict[str, str] = {}
        for name in self.known:
            self.by_folded_name.setdefault(name.casefold(), name)
        self.reasons: list[str] = []
        self.hints: list[str] = []
        self.used: set[str] = set()

    def visit(self, node: exp.Expr) -> None:
        refusal = _refusal(node)
        if refusal is not None:
            reason, hint = refusal
            self.reasons.append(reason)
            self.hints.append(hint)
            return  # what lies inside a refused node is not worth reporting too
        if isinstance(node, exp.Column):
            self._resolve(node)
            return
        for child in node.iter_expressions():
            self.visit(child)

    def _resolve(self, column: exp.Column) -> None:
        name = column.name
        known = name if name in self.known else self.by_folded_name.get(name.casefold())
        if known is None:
            self.reasons.append(f"unknown column '{name}' ({self._suggestion(name)})")
            self.hints.append(f"Known columns: {_listing(self.known)}.")
            return
        column.set("this", exp.to_identifier(known, quoted=True))
        self.used.add(known)

    def _suggestion(self, name: str) -> str:
        close = difflib.get_close_matches(name.casefold(), self.by_folded_name, n=1)
        if close:
            return f"did you mean '{self.by_folded_name[close[0]]}'?"
        as_string = name.replace("'", "''")
        return f"did you mean to quote a string: '{as_string}'?"


def _listing(names: Sequence[str]) -> str:
    if not names:
        return "(none)"
    shown = ", ".join(names[:_MAX_LISTED_COLUMNS])
    hidden = len(names) - _MAX_LISTED_COLUMNS
    return f"{shown} and {hidden} more" if hidden > 0 else shown


def _refusal(node: exp.Expr) -> tuple[str, str] | None:
    """Why ``node`` may not appear in a rule, and what to write instead; None if it may."""
    if type(node) is exp.Column:
        return _column_refusal(node)
    if type(node) is exp.DataType:
        return _cast_type_refusal(node)
    kind = type(node)
    if kind is exp.In and node.args.get("query"):
        return "subqueries are not allowed", _EXPECTED
    if kind is exp.In and (
        node.args.get("unnest") or node.args.get("field") or not node.expressions
    ):
        return "IN needs a list of values in parentheses", "Write IN ('shoes', 'bags')."
    if kind in _PREDICATES and any(type(part) in _PREDICATES for part in node.iter_expressions()):
        # sqlglot parses `a < b < c` and `a LIKE b LIKE c`; DuckDB refuses them, but only
        # when the segment is evaluated, and may group other chains differently.
        chained = "conditions cannot be chained (a < b < c)"
        return chained, "Join them with AND (a < b AND b < c), or add parentheses."
    if kind is exp.Is and type(node.expression) not in (exp.Null, exp.Boolean):
        return "IS must be followed by NULL or TRUE/FALSE", "Use = to compare with a value."
    if kind in _ALLOWED_NODES:
        return None
    return _named_refusal(node)


def _named_refusal(node: exp.Expr) -> tuple[str, str]:
    if isinstance(node, exp.Query | exp.Exists):
        return "subqueries are not allowed", _EXPECTED
    if isinstance(node, exp.Window):
        return "window functions (OVER) are not allowed", _EXPECTED
    if isinstance(node, exp.Placeholder | exp.Parameter | exp.SessionParameter):
        return "parameters ($1, ?, :name) are not allowed", "Write the value itself."
    if isinstance(node, exp.Star):
        return "* is not allowed", "Name the columns."
    if isinstance(node, exp.Dot):
        return "qualified names (a.b) are not allowed", "Write the column name alone."
    if isinstance(node, exp.Func):
        name = node.name if isinstance(node, exp.Anonymous) else node.sql_name()
        allowed = f"Allowed functions: {', '.join(sorted(ALLOWED_FUNCTIONS))}."
        if isinstance(node, exp.AggFunc):
            return (
                f"aggregate function {name.lower()} is not allowed (a rule sees one contact)",
                allowed,
            )
        return f"function {name.lower()} is not allowed", allowed
    rendered = node.sql(dialect=_DIALECT, unsupported_level=ErrorLevel.IGNORE)
    return f"{type(node).__name__} ({_shortened(rendered)}) is not allowed", _EXPECTED


def _column_refusal(column: exp.Column) -> tuple[str, str] | None:
    if isinstance(column.this, exp.Star):
        return "* is not allowed", "Name the columns."
    if column.table or column.db or column.catalog:
        qualified = column.sql(dialect=_DIALECT)
        return f"qualified column {qualified} is not allowed", f"Write {column.name} alone."
    if not isinstance(column.this, exp.Identifier):
        return f"{column.sql(dialect=_DIALECT)} is not a column name", _EXPECTED
    return None


def _cast_type_refusal(data_type: exp.DataType) -> tuple[str, str] | None:
    allowed = "Cast only to INT, BIGINT, DOUBLE, VARCHAR, DATE or BOOLEAN."
    if type(data_type.parent) is not exp.Cast:
        return f"the type {data_type.sql(dialect=_DIALECT)} is not allowed here", allowed
    if data_type.this not in _CAST_TYPES or data_type.expressions:
        return f"CAST to {data_type.sql(dialect=_DIALECT)} is not allowed", allowed
    return None


def _is_condition(node: exp.Expr) -> bool:
    if isinstance(node, exp.Paren | exp.Not):
        return _is_condition(node.this)
    if isinstance(node, exp.And | exp.Or):
        return _is_condition(node.this) and _is_condition(node.expression)
    return type(node) in _CONDITIONS


def _shortened(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
