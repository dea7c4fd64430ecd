"""Fast assignment (issue 6) against what it replaces: the rules compiled to numpy against
DuckDB, and the whole assigner against the DuckDB + scikit-learn path, row for row."""

from __future__ import annotations

import pickle
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st

from audience.config import BroadSegment, PreprocessConfig, SegmentsConfig
from audience.errors import RuleError
from audience.features.preprocess import build_preprocessor
from audience.models.kmeans import KMeansSegmenter
from audience.models.mixture import GaussianMixtureSegmenter
from audience.segments.assign import BranchAssigner, SegmentAssigner
from audience.segments.branches import RULE_COLUMNS, RulePlan, branch_case, plan_rules
from audience.segments.rule_eval import RuleProgram, Undecided, Unsupported, duckdb_branches
from audience.segments.rules import parse_rule
from audience.store.model_files import ModelFiles

NAN = np.nan
COUNTRIES = ["US", "us", "FR", "", "É", "ß", "a_b", "a%b", "10", "9", "it's", "Ab\nc"]
DOMAINS = ["gmail.com", "GMAIL.COM", "x.org", "e.example", "ünï.de"]
CONSENTS = ["subscribed", "unsubscribed", "cleaned", "pending", "Subscribed"]


# --- rows ----------------------------------------------------------------------------------


def _column(kind: str, n: int) -> st.SearchStrategy[pd.Series]:
    """One column as callers hand it over: the dtypes of a DuckDB result or of a frame built
    from JSON, with NULLs, NaN, infinities and extremes."""
    floats = st.one_of(
        st.just(NAN),
        st.floats(-1e4, 1e4, allow_nan=False),
        st.sampled_from([0.0, -0.0, 0.5, 1.5, 2.5, -2.5, 400.0, 1e300, np.inf, -np.inf, 0.1]),
    )
    ints = st.one_of(st.integers(-3, 1000), st.sampled_from([0, 1, 2, 2**40, -(2**40), 2**62]))
    stamps = st.one_of(
        st.none(),
        st.datetimes(datetime(2019, 1, 1), datetime(2027, 1, 1)),
        st.sampled_from([datetime(2024, 3, 1), datetime(2024, 2, 29, 22, 0)]),
    )
    if kind == "float":
        return st.lists(floats, min_size=n, max_size=n).map(lambda v: pd.Series(v, dtype=float))
    if kind == "int":
        return st.lists(ints, min_size=n, max_size=n).map(lambda v: pd.Series(v, dtype="int64"))
    if kind == "nullable int":
        values = st.lists(st.one_of(st.none(), ints), min_size=n, max_size=n)
        return values.map(lambda v: pd.Series(v, dtype="Int64"))
    if kind == "signup_at":
        return st.lists(stamps, min_size=n, max_size=n).map(
            lambda v: pd.Series(pd.to_datetime(v).tz_localize("UTC"), dtype="datetime64[us, UTC]")
        )
    levels = {"country": COUNTRIES, "email_domain": DOMAINS, "consent": CONSENTS}[kind]
    nulls = st.sampled_from([None, NAN, pd.NA]) if kind == "consent" else st.none()
    values = st.lists(st.one_of(nulls, st.sampled_from(levels)), min_size=n, max_size=n)
    dtype = object if kind == "consent" else "str"
    return values.map(lambda v: pd.Series(v, dtype=dtype))


@st.composite
def frames(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(1, 8))
    kinds = {
        "revenue_total": "float",
        "open_rate_human": "float",
        "order_count": draw(st.sampled_from(["int", "float"])),
        "tenure_days": draw(st.sampled_from(["int", "nullable int"])),
        "country": "country",
        "email_domain": "email_domain",
        "consent": "consent",
        "signup_at": "signup_at",
    }
    frame = pd.DataFrame({name: draw(_column(kind, n)) for name, kind in kinds.items()})
    # Repeated, the rows take the paths of large inputs too (strings dictionary-encoded by
    # pandas rather than in Python).
    repeat = draw(st.sampled_from([1, 1, 1, 20]))
    return pd.concat([frame] * repeat, ignore_index=True)


# --- rules -----------------------------------------------------------------------------------

NUMBER_COLUMNS = ["revenue_total", "open_rate_human", "order_count", "tenure_days"]
STRING_COLUMNS = ["country", "email_domain", "consent"]
CONSTANTS = ["0", "1", "2", "-3", "400", "1.5", "0.25", "2.675", "1e2", "2.5e-1", "3000000000"]
STAMPS = [
    "'2024-03-01'",
    "'2024-03-01 12:00:00'",
    "'2024-03-01T00:00:00+02'",
    "CAST('2024-03-01' AS DATE)",
    "'2023-12-31 23:59:59.999999'",
]
COMPARE = ["=", "<>", "!=", "<", "<=", ">", ">="]


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def numbers(depth: int = 2) -> st.SearchStrategy[str]:
    leaves = st.one_of(
        st.sampled_from(NUMBER_COLUMNS),
        st.sampled_from(CONSTANTS),
        st.just("NULL"),
        strings(0).map(lambda s: f"length({s})"),
    )
    if depth == 0:
        return leaves
    inner = numbers(depth - 1)
    return st.one_of(
        leaves,
        st.tuples(inner, st.sampled_from(["+", "-", "*", "/", "%"]), inner).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        ),
        inner.map(lambda a: f"-({a})"),
        st.tuples(st.sampled_from(["abs", "round", "floor", "ceil", "ceiling"]), inner).map(
            lambda t: f"{t[0]}({t[1]})"
        ),
        st.tuples(st.sampled_from(["coalesce", "least", "greatest", "nullif"]), inner, inner).map(
            lambda t: f"{t[0]}({t[1]}, {t[2]})"
        ),
        st.tuples(inner, inner, inner).map(lambda t: f"greatest({t[0]}, {t[1]}, {t[2]})"),
        st.tuples(inner, st.sampled_from(["DOUBLE", "BIGINT", "INT"])).map(
            lambda t: f"CAST({t[0]} AS {t[1]})"
        ),
    )


def strings(depth: int = 1) -> st.SearchStrategy[str]:
    leaves = st.one_of(
        st.sampled_from(STRING_COLUMNS),
        st.sampled_from([*COUNTRIES, *CONSENTS[:2], "gmail.com"]).map(_quoted),
        st.just("NULL"),
    )
    if depth == 0:
        return leaves
    inner = strings(depth - 1)
    return st.one_of(
        leaves,
        st.tuples(st.sampled_from(["lower", "upper"]), inner).map(lambda t: f"{t[0]}({t[1]})"),
        st.tuples(st.sampled_from(["coalesce", "nullif", "least"]), inner, inner).map(
            lambda t: f"{t[0]}({t[1]}, {t[2]})"
        ),
        inner.map(lambda s: f"CAST({s} AS VARCHAR)"),
    )


def conditions(depth: int = 2) -> st.SearchStrategy[str]:
    patterns = st.text(alphabet="abgUS%_\\.É", max_size=5).map(_quoted)
    leaves = st.one_of(
        st.tuples(numbers(), st.sampled_from(COMPARE), numbers()).map(" ".join),
        st.tuples(strings(), st.sampled_from(COMPARE), strings()).map(" ".join),
        st.tuples(st.sampled_from(COMPARE), st.sampled_from(STAMPS)).map(
            lambda t: f"signup_at {t[0]} {t[1]}"
        ),
        st.tuples(numbers(1), st.sampled_from(["", "NOT "]), numbers(0), numbers(0)).map(
            lambda t: f"{t[0]} {t[1]}BETWEEN {t[2]} AND {t[3]}"
        ),
        st.tuples(
            numbers(1), st.sampled_from(["", "NOT "]), st.lists(numbers(0), min_size=1, max_size=4)
        ).map(lambda t: f"{t[0]} {t[1]}IN ({', '.join(t[2])})"),
        st.tuples(
            strings(), st.sampled_from(["", "NOT "]), st.lists(strings(0), min_size=1, max_size=4)
        ).map(lambda t: f"{t[0]} {t[1]}IN ({', '.join(t[2])})"),
        st.tuples(
            strings(), st.sampled_from(["LIKE", "NOT LIKE", "ILIKE", "NOT ILIKE"]), patterns
        ).map(" ".join),
        st.tuples(
            st.one_of(numbers(), strings(), st.just("signup_at")),
            st.sampled_from(["IS NULL", "IS NOT NULL"]),
        ).map(" ".join),
        st.sampled_from(["TRUE", "FALSE", "NULL = 1"]),
    )
    if depth == 0:
        return leaves
    inner = conditions(depth - 1)
    return st.one_of(
        leaves,
        st.tuples(inner, st.sampled_from(["AND", "OR"]), inner).map(
            lambda t: f"({t[0]}) {t[1]} ({t[2]})"
        ),
        inner.map(lambda c: f"NOT ({c})"),
        st.tuples(
            inner, st.sampled_from(["IS TRUE", "IS NOT TRUE", "IS FALSE", "IS NOT FALSE"])
        ).map(lambda t: f"({t[0]}) {t[1]}"),
    )


def _plan(rules: list[str], fallback: str | None = "other") -> RulePlan:
    parsed = [parse_rule(text, RULE_COLUMNS) for text in rules]
    suppress = [(f"s{i}", rule) for i, rule in enumerate(parsed[:1])]
    broad = [(BroadSegment(id=f"b{i}", rule=rule.text), rule) for i, rule in enumerate(parsed[1:])]
    return RulePlan(suppress, broad, fallback)


def _compare_with_duckdb(case_sql: str, rows: pd.DataFrame) -> bool:
    """Whether the compiled rules answered; when they do, it must be DuckDB's answer."""
    columns = [c for c in RULE_COLUMNS if f'"{c}"' in case_sql]
    try:
        expected = duckdb_branches(case_sql, rows, columns).tolist()
    except duckdb.Error:
        expected = None
    program = RuleProgram(case_sql, columns)
    assert program.case is not None
    try:
        codes = program.evaluate_compiled(rows)
    except (Unsupported, Undecided):
        return False
    assert expected is not None, f"DuckDB refuses these rows, the compiled rules answered:\n{rows}"
    got = [program.case.outcomes[code] for code in codes]
    assert got == expected, f"{case_sql}\n{rows}"
    return True


@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(rules=st.lists(conditions(), min_size=1, max_size=3), rows=frames())
def test_compiled_rules_give_duckdbs_answer_on_any_rows(
    rules: list[str], rows: pd.DataFrame
) -> None:
    try:
        plan = _plan(rules)
    except RuleError:
        event("rule refused by the checker")
        return
    note(branch_case(plan))
    answered = _compare_with_duckdb(branch_case(plan), rows)
    event("compiled" if answered else "left to DuckDB")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=frames())
def test_the_default_rules_are_compiled_and_give_duckdbs_answer(rows: pd.DataFrame) -> None:
    rows = rows.assign(
        is_unsubscribed=rows["order_count"].astype(float).fillna(0).clip(0, 1).astype("int64"),
        is_bounced=(rows["tenure_days"].fillna(0) % 2).astype("int64"),
        is_complained=0,
    )
    rows["order_count"] = rows["order_count"].astype(float).fillna(0).clip(0, 3).astype("int64")
    assert _compare_with_duckdb(branch_case(plan_rules(SegmentsConfig())), rows)


# Every construct the compiler covers, on rows with the values where SQL engines differ:
# NULL, NaN from arithmetic, ±inf, -0.0, halves, BIGINT extremes, non-ASCII, LIKE's wildcards.
RICH = pd.DataFrame(
    {
        "revenue_total": [NAN, np.inf, -np.inf, 0.0, -0.0, 0.5, 1.5, 2.5, -2.5, 2.675, 1e300,
                          -1e300, 0.1, 3.0, 400.0, np.inf],
        "open_rate_human": [0.25, 2.5, 1.5, -2.5, 0.5, NAN, -0.5, 3.5, 0.0, -0.0, 2.675, 1.25,
                            NAN, 0.15, 399.5, 7.0],
        "order_count": pd.Series([0, 1, 2, 3, -3, 2**40, 5, 0, 1, 2, 7, -1, 3, 4, 400, 2],
                                 dtype="int64"),
        "tenure_days": pd.Series([None, 1, 2, 3, 4, None, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
                                 dtype="Int64"),
        "country": pd.Series(["US", None, "us", "É", "ß", "a_b", "a%b", "", "10", "9", "it's",
                              "A\\b", "US", None, "FR", "Ab\nc"], dtype="str"),
        "consent": pd.Series(["subscribed", None, NAN, pd.NA, "cleaned", "Subscribed", "x", "",
                              "subscribed", None, "a", "b", "c", "d", "e", "f"], dtype=object),
        "signup_at": pd.Series(pd.to_datetime(format="ISO8601", arg=
            ["2024-03-01", None, "2024-02-29 22:00", "2024-03-01 00:00:00.000001",
             "2024-02-29 23:59:59.999999", "2019-01-01", "2026-12-31", "2024-03-01 12:00",
             None, "2024-03-01", "2023-12-31 23:59:59.999999", "2024-01-01", "2025-01-01",
             "2024-02-29 22:00:00", "2024-03-02", "2020-02-29"]).tz_localize("UTC"),
            dtype="datetime64[us, UTC]"),
    }
)  # fmt: skip
CONSTRUCTS = [
    # comparisons of numbers: BIGINT, DOUBLE, DECIMAL and DOUBLE constants, NaN and -0.0
    "order_count >= 2",
    "order_count >= 1.5",
    "order_count = 2.0",
    "order_count < 2.5",
    "order_count <> 0.5",
    "revenue_total > 400",
    "revenue_total <= 2.675",
    "revenue_total = -0.0",
    "revenue_total >= 1e2",
    "order_count > revenue_total",
    "tenure_days <= order_count",
    "revenue_total - revenue_total = open_rate_human * 0",
    "revenue_total - revenue_total > 1e308",
    "revenue_total * 0 < 1",
    "revenue_total - revenue_total <> revenue_total - revenue_total",
    # arithmetic
    "order_count + 1 = 3",
    "order_count - tenure_days < 0",
    "order_count * 2 >= 4",
    "order_count / 2 = 1.5",
    "order_count / 0 > 1",
    "revenue_total / 0 < 0",
    "order_count % 3 = 1",
    "order_count % 3 = -1",
    "order_count % -2 = 1",
    "revenue_total % 2 = 0.5",
    "open_rate_human % -2 = 0.5",
    "-order_count = -2",
    "-revenue_total < 0",
    "revenue_total * 1.5 > 3",
    "revenue_total + 0.25 = 0.75",
    "order_count + 2.5e0 = 4.5",
    # functions
    "abs(revenue_total) = 2.5",
    "abs(order_count) = 3",
    "round(open_rate_human) = 3",
    "round(open_rate_human) = -3",
    "floor(open_rate_human) = -1",
    "ceil(open_rate_human) = -0.0",
    "ceiling(order_count) = 2",
    "floor(revenue_total) = 2",
    "coalesce(revenue_total, 7) = 7",
    "coalesce(tenure_days, order_count) = 0",
    "coalesce(tenure_days, 1) = 1",
    "least(revenue_total, open_rate_human) < 1",
    "greatest(revenue_total, open_rate_human, 3) = 3",
    "greatest(order_count, tenure_days) = 2",
    "least(revenue_total - revenue_total, 1) = 1",
    "nullif(order_count, 0) IS NULL",
    "nullif(revenue_total, 2.5) IS NULL",
    "CAST(open_rate_human AS BIGINT) = 2",
    "CAST(open_rate_human AS BIGINT) = -2",
    "CAST(order_count AS DOUBLE) / 4 = 0.5",
    "CAST(order_count AS BIGINT) = 1",
    "length(country) = 1",
    # strings
    "country = 'US'",
    "country <> 'US'",
    "country < 'a'",
    "country >= 'É'",
    "country > '10'",
    "country = consent",
    "country LIKE 'a_b'",
    "country LIKE '%b'",
    "country LIKE '%'",
    "country LIKE ''",
    "country LIKE 'A\\b'",
    "country LIKE 'Ab_c'",
    "country NOT LIKE 'U%'",
    "coalesce(consent, country, 'none') = 'none'",
    "nullif(country, 'US') IS NULL",
    "least(country, consent) = 'US'",
    "CAST(country AS VARCHAR) = 'US'",
    "country IN ('US', 'FR')",
    "country IN ('US', NULL)",
    "country NOT IN ('US', NULL)",
    "country NOT IN ('US', 'FR')",
    "consent IN (country, 'x')",
    # timestamps
    "signup_at >= '2024-03-01'",
    "signup_at < CAST('2024-03-01' AS DATE)",
    "signup_at = '2024-03-01 12:00:00'",
    "signup_at > '2024-02-29T23:00:00+02'",
    "signup_at BETWEEN '2024-01-01' AND '2024-03-01'",
    "'2024-03-01' > signup_at",
    "signup_at IS NULL",
    # BETWEEN, IN and logic
    "order_count BETWEEN 1 AND 2.5",
    "order_count NOT BETWEEN 1.5 AND 3",
    "revenue_total BETWEEN 0 AND 2.675",
    "open_rate_human BETWEEN order_count AND 3",
    "order_count IN (1, 2.0, 3.5)",
    "order_count IN (1, 2.5e0)",
    "order_count IN (1, NULL)",
    "order_count NOT IN (1, NULL)",
    "revenue_total IN (0.5, 2.5, 400)",
    "tenure_days IN (order_count, 9)",
    "revenue_total IS NOT NULL AND consent IS NULL",
    "NOT (country = 'US') OR revenue_total IS NULL",
    "(revenue_total > 1) IS TRUE",
    "(revenue_total > 1) IS NOT TRUE",
    "(country = 'US') IS FALSE",
    "(country = 'US') IS NOT FALSE",
    "NOT (order_count IN (1, NULL))",
    "TRUE",
    "NULL = 1",
    "consent IS NULL OR consent <> 'subscribed'",
]


# Python and DuckDB fold case alike for ASCII only: these are compiled for ASCII strings.
ASCII_CONSTRUCTS = [
    "lower(country) = 'us'",
    "upper(country) = 'US'",
    "lower(coalesce(consent, country)) = 'subscribed'",
    "length(lower(country)) > 1",
    "country ILIKE 'u%'",
    "country ILIKE 'A\\B'",
    "country NOT ILIKE 'us'",
]
ASCII = RICH.assign(country=RICH["country"].replace({"É": "E", "ß": "ss"}))


@pytest.mark.parametrize("rule", CONSTRUCTS)
def test_every_supported_construct_is_compiled_and_gives_duckdbs_answer(rule: str) -> None:
    case_sql = branch_case(_plan(["revenue_total IS NULL", rule]))
    assert _compare_with_duckdb(case_sql, RICH), "the compiler left it to DuckDB"


@pytest.mark.parametrize("rule", ASCII_CONSTRUCTS)
def test_case_folding_is_compiled_for_ascii_strings(rule: str) -> None:
    case_sql = branch_case(_plan(["revenue_total IS NULL", rule]))
    assert _compare_with_duckdb(case_sql, ASCII), "the compiler left it to DuckDB"
    assert not _compare_with_duckdb(case_sql, RICH), "non-ASCII strings are DuckDB's to fold"


# (rule, contacts of TOY it matches): NULL never matches, NaN is NULL, DECIMALs are exact.
TOY = pd.DataFrame(
    {
        "country": pd.Series(["US", None, "FR", "us"], dtype="str"),
        "order_count": pd.Series([1, 2, 0, 3], dtype="int64"),
        "revenue_total": [2.5, NAN, 0.0, 99.95],
        "consent": pd.Series(["subscribed", None, "cleaned", NAN], dtype=object),
    }
)
TOY_RULES = [
    ("country = 'US'", [0]),
    ("NOT (country = 'US')", [2, 3]),
    ("country IN ('US', NULL)", [0]),
    ("country NOT IN ('US', NULL)", []),
    ("lower(country) = 'us'", [0, 3]),
    ("country ILIKE 'u%'", [0, 3]),
    ("country LIKE '_S'", [0]),
    ("coalesce(country, 'none') = 'none'", [1]),
    ("consent IS NULL OR consent <> 'subscribed'", [1, 2, 3]),
    ("order_count >= 1.5", [1, 3]),
    ("order_count = 2.0", [1]),
    ("order_count BETWEEN 1 AND 2.5", [0, 1]),
    ("order_count % 2 = 1", [0, 3]),
    ("order_count / 2 = 1.5", [3]),
    ("revenue_total IS NULL", [1]),
    ("revenue_total > 1 OR revenue_total IS NULL", [0, 1, 3]),
    ("revenue_total * 2 = 5", [0]),
    ("round(revenue_total) = 100", [3]),
    ("CAST(revenue_total AS BIGINT) = 2", [0]),
    ("greatest(revenue_total, order_count) >= 3", [3]),
    ("least(revenue_total, 1) = 1", [0, 1, 3]),
    ("nullif(order_count, 0) IS NULL", [2]),
    ("length(country) = 2", [0, 2, 3]),
]


@pytest.mark.parametrize(("rule", "matched"), TOY_RULES, ids=[r for r, _ in TOY_RULES])
def test_toy_rules_by_hand(rule: str, matched: list[int]) -> None:
    plan = _plan(["FALSE", rule], fallback=None)
    program = RuleProgram(branch_case(plan), list(TOY.columns))
    codes = program.evaluate_compiled(TOY)
    branches = [program.case.outcomes[code] for code in codes] if program.case else []
    assert [i for i, b in enumerate(branches) if b == "b0"] == matched
    assert _compare_with_duckdb(branch_case(plan), TOY)


@pytest.mark.parametrize(
    ("rule", "rows"),
    [
        # DECIMAL arithmetic is DuckDB's.
        ("order_count * 1.1 > 2", TOY),
        # Rounding to digits: DuckDB rounds the exact binary value.
        ("round(revenue_total, 2) = 2.68", TOY.assign(revenue_total=[2.675, 1.0, 2.0, 3.0])),
        # A cast DuckDB may refuse, and a modulo by zero it reports.
        ("CAST(revenue_total AS BIGINT) > 0", TOY.assign(revenue_total=[np.inf, 1.0, 2.0, 3.0])),
        ("order_count % (order_count - 2) = 0", TOY),
        # Case folding outside ASCII, and columns of types the compiler does not read.
        ("upper(country) = 'SS'", TOY.assign(country=pd.Series(["ß", "a", "b", "c"], dtype="str"))),
        ("order_count = 1", TOY.assign(order_count=[True, False, True, False])),
        ("country = 'a'", TOY.assign(country=pd.Categorical(["a", "b", "a", None]))),
        # numpy's NaT in an object column is the string 'NaT' to DuckDB, NULL to pandas.
        (
            "consent IS NULL",
            pd.concat([TOY.assign(consent=["a", np.datetime64("NaT"), "b", None])] * 20),
        ),
        ("consent IS NULL", TOY.assign(consent=["a", np.datetime64("NaT"), "b", None])),
    ],
)
def test_what_the_compiler_does_not_follow_is_left_to_duckdb(rule: str, rows: pd.DataFrame) -> None:
    plan = _plan(["FALSE", rule])
    case_sql = branch_case(plan)
    columns = [c for c in RULE_COLUMNS if f'"{c}"' in case_sql]
    program = RuleProgram(case_sql, columns)
    with pytest.raises((Unsupported, Undecided)):
        program.evaluate_compiled(rows)
    try:
        expected = duckdb_branches(case_sql, rows, columns).tolist()
    except duckdb.Error as error:
        with pytest.raises(type(error)):
            program.branches(rows)
        return
    codes, outcomes = program.branches(rows)
    assert [outcomes[c] for c in codes] == expected


def test_a_case_the_compiler_cannot_read_is_evaluated_by_duckdb() -> None:
    program = RuleProgram("CASE \"country\" WHEN 'US' THEN 'us' ELSE 'other' END", ["country"])
    assert program.case is None
    codes, outcomes = program.branches(TOY)
    assert [outcomes[c] for c in codes] == ["us", "other", "other", "other"]


def test_rules_without_columns_and_without_rows() -> None:
    program = RuleProgram("'everyone'", [])
    codes, outcomes = program.branches(TOY)
    assert [outcomes[c] for c in codes] == ["everyone"] * 4
    plan = plan_rules(SegmentsConfig())
    program = RuleProgram(branch_case(plan), ["consent", "is_unsubscribed"])
    empty = TOY.iloc[:0].assign(is_unsubscribed=0, is_bounced=0, is_complained=0)
    codes, _ = program.branches(empty)
    assert codes.shape == (0,)


# --- the whole assigner ------------------------------------------------------------------------

FEATURES = (
    "recency_days",
    "order_count",
    "revenue_total",
    "open_rate_human",
    "days_since_last_open",
    "product_views",
    "tenure_days",
    "engagement_tier",
    "country",
)


def contact_rows(n: int, seed: int) -> pd.DataFrame:
    """Feature and contact columns in the dtypes of the feature table."""
    rng = np.random.default_rng(seed)
    orders = np.where(rng.random(n) < 0.5, rng.geometric(0.5, n), 0)
    opened = rng.random(n) < 0.7
    consent = rng.choice(["subscribed", "subscribed", "subscribed", "unsubscribed", None], n)
    return pd.DataFrame(
        {
            "recency_days": np.where(orders > 0, rng.integers(1, 700, n), NAN),
            "order_count": orders.astype("int64"),
            "revenue_total": orders * rng.gamma(2.0, 40.0, n),
            "open_rate_human": np.where(opened, rng.beta(2, 5, n), NAN),
            "days_since_last_open": np.where(opened, rng.integers(0, 400, n), NAN),
            "product_views": rng.poisson(5, n).astype(float),
            "tenure_days": rng.integers(0, 2000, n).astype("int64"),
            "engagement_tier": pd.Series(
                rng.choice(["new", "high", "medium", "low", "dormant"], n), dtype="str"
            ),
            "country": pd.Series(rng.choice(["US", "FR", "DE", "BR", "JP"], n), dtype="str"),
            "is_unsubscribed": (rng.random(n) < 0.05).astype("int64"),
            "is_bounced": (rng.random(n) < 0.03).astype("int64"),
            "is_complained": np.zeros(n, dtype="int64"),
            "consent": pd.Series(consent, dtype="str"),
            "signup_at": pd.Series(
                pd.Timestamp("2024-01-01", tz="UTC")
                + pd.to_timedelta(rng.integers(0, 10**8, n), unit="s"),
                dtype="datetime64[us, UTC]",
            ),
            "email_domain": pd.Series(rng.choice(["gmail.com", "x.org"], n), dtype="str"),
        }
    )


def _branch(name: str, rows: pd.DataFrame, estimator: Any, merge: bool) -> BranchAssigner:
    preprocessor = build_preprocessor(PreprocessConfig())
    matrix = preprocessor.fit_transform(rows[list(FEATURES)].reset_index(drop=True))
    estimator.fit(matrix)
    labels = range(estimator.n_clusters)
    ids = {label: f"{name}/cluster-{min(label, 1) if merge else label}" for label in labels}
    return BranchAssigner(preprocessor, estimator, FEATURES, ids)


@pytest.fixture(scope="module")
def assigner() -> SegmentAssigner:
    segments = SegmentsConfig(
        broad=[
            BroadSegment(id="customers", rule="order_count >= 1"),
            BroadSegment(id="readers", rule="open_rate_human >= 0.2"),
            BroadSegment(id="recent", rule="signup_at >= '2025-06-01' AND country <> 'JP'"),
        ]
    )
    plan = plan_rules(segments)
    rows = contact_rows(3_000, seed=1)
    branch = duckdb_branches(branch_case(plan), rows, [c for c in RULE_COLUMNS if c in rows])
    customers = rows[branch == "customers"]
    readers = rows[branch == "readers"]
    return SegmentAssigner(
        "seg-test",
        branch_case(plan),
        {
            "customers": _branch(
                "customers", customers, KMeansSegmenter(5, random_state=0), merge=False
            ),
            "readers": _branch(
                "readers", readers, GaussianMixtureSegmenter(3, random_state=0), merge=False
            ),
            "recent": _branch(
                "recent", rows[branch == "recent"], KMeansSegmenter(3, random_state=0), merge=True
            ),
        },
    )


def reference_assign(assigner: SegmentAssigner, rows: pd.DataFrame) -> pd.DataFrame:
    """What assign computed before issue 6: DuckDB, the preprocessor, the estimator."""
    branch = duckdb_branches(assigner.case_sql, rows, assigner._rule_columns())
    segment = branch.copy()
    probability = np.full(len(rows), np.nan)
    for name, part in assigner.branches.items():
        at = np.flatnonzero(branch == name)
        if not at.size:
            continue
        matrix = part.preprocessor.transform(rows.iloc[at][list(part.features)])
        labels = np.asarray(part.estimator.predict(matrix))
        segment[at] = [part.segment_ids.get(int(label), "") for label in labels]
        if hasattr(part.estimator, "predict_proba") and len(set(part.segment_ids.values())) == len(
            part.segment_ids
        ):
            proba = part.estimator.predict_proba(matrix)
            probability[at] = proba[np.arange(len(at)), np.maximum(labels, 0)]
    return pd.DataFrame({"segment_id": segment, "probability": probability}, index=rows.index)


def _assert_same(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    assert got["segment_id"].dtype == object
    assert got.index.equals(expected.index)
    assert got["segment_id"].tolist() == expected["segment_id"].tolist()
    np.testing.assert_array_equal(got["probability"].to_numpy(), expected["probability"].to_numpy())


def test_the_fast_assigner_gives_the_old_answer_for_every_row(assigner: SegmentAssigner) -> None:
    rows = contact_rows(5_000, seed=2).set_axis(pd.RangeIndex(10, 5_010))
    rows.loc[rows.index[::50], "country"] = "never-seen"
    rows.loc[rows.index[::70], "revenue_total"] = 1e8
    got = assigner.assign(rows)
    expected = reference_assign(assigner, rows)
    _assert_same(got, expected)
    assert {"customers", "readers", "recent"} <= {s.split("/")[0] for s in got["segment_id"]}
    assert got["probability"].notna().any()


def test_one_row_at_a_time_gives_the_same_answers(assigner: SegmentAssigner) -> None:
    rows = contact_rows(60, seed=3)
    for i in range(len(rows)):
        one = rows.iloc[[i]]
        _assert_same(assigner.assign(one), reference_assign(assigner, one))


def test_rows_the_fast_paths_leave_to_duckdb_and_scikit_learn(assigner: SegmentAssigner) -> None:
    rows = contact_rows(300, seed=4)
    rows["country"] = rows["country"].astype("category")  # an ENUM for DuckDB
    rows["product_views"] = rows["product_views"].astype(object)
    rows.loc[5, "product_views"] = "7"
    _assert_same(assigner.assign(rows), reference_assign(assigner, rows))


def test_an_infinite_feature_is_refused_as_the_preprocessor_refuses_it(
    assigner: SegmentAssigner,
) -> None:
    rows = contact_rows(20, seed=5)
    branch = duckdb_branches(assigner.case_sql, rows, assigner._rule_columns())
    rows.loc[int(np.flatnonzero(branch == "customers")[0]), "revenue_total"] = np.inf
    with pytest.raises(ValueError, match="infinite"):
        assigner.assign(rows)


def test_no_rows_give_an_empty_frame(assigner: SegmentAssigner) -> None:
    got = assigner.assign(contact_rows(5, seed=6).iloc[:0])
    assert got.empty
    assert list(got.columns) == ["segment_id", "probability"]


def test_k_means_labels_equal_the_estimators_even_at_a_tie() -> None:
    centres = np.array([[0.0, 0.0], [2.0, 0.0], [1.0, 5.0]])
    estimator = KMeansSegmenter(3, init=centres, n_init=1, max_iter=1, random_state=0)
    estimator.fit(np.array([[0.0, 0.0], [2.0, 0.0], [1.0, 5.0]]))
    branch = BranchAssigner(None, estimator, (), {0: "a", 1: "b", 2: "c"})  # type: ignore[arg-type]
    rng = np.random.default_rng(7)
    # The last two rows are as far from two (and three) centres.
    matrix = np.vstack([rng.normal(0, 3, size=(2_000, 2)), [[1.0, 0.0], [1.0, 2.4]]])
    expected = estimator.predict(matrix)
    asked: list[np.ndarray] = []
    predict = estimator.predict
    estimator.predict = lambda X: asked.append(X) or predict(X)  # type: ignore[method-assign]
    np.testing.assert_array_equal(branch._predict(matrix), expected)
    assert len(asked) == 1
    np.testing.assert_array_equal(asked[0], matrix[-2:])


def test_a_pickled_assigner_holds_only_its_fields_and_still_assigns(
    assigner: SegmentAssigner, tmp_path: Path
) -> None:
    rows = contact_rows(200, seed=8)
    expected = assigner.assign(rows)  # builds the compiled forms
    files = ModelFiles(tmp_path / "models", b"s" * 32)
    assigner.save(files)
    state = files.load(assigner.run_id).__dict__  # type: ignore[attr-defined]
    assert set(state) == {"run_id", "case_sql", "branches"}
    assert all(
        set(b.__dict__) == {"preprocessor", "estimator", "features", "segment_ids"}
        for b in state["branches"].values()
    )
    loaded = SegmentAssigner.load(files, assigner.run_id)
    _assert_same(loaded.assign(rows), expected)
    assert pickle.loads(pickle.dumps(assigner)).assign(rows).equals(expected)


@pytest.mark.parametrize(
    "rule",
    [
        "NOT ((order_count * 3000000000) IN (NULL))",
        "(order_count * 3000000000) = NULL",
        "NOT ((order_count * 3000000000) IN (NULL, NULL))",
    ],
)
def test_an_operand_of_a_null_comparison_that_overflows_is_left_to_duckdb(rule: str) -> None:
    # RICH holds 2**40 orders: times 3e9 overflows BIGINT. DuckDB still evaluates the operand
    # of a comparison with NULL and reports the overflow; the compiled rules must not answer.
    case_sql = branch_case(_plan([rule]))
    assert not _compare_with_duckdb(case_sql, RICH)
