"""Segment rules: what passes, what DuckDB makes of it, and how everything else is refused."""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audience.errors import RuleError
from audience.segments.rules import ALLOWED_FUNCTIONS, Rule, parse_rule

WHERE = "segments.broad[1].rule"

CONTACT_COLUMNS = (
    "contact_id",
    "country",
    "order_count",
    "recency_days",
    "top_category",
    "email",
    "days_since_last_open",
    "open_rate_human",
    "revenue_total",
    "is_unsubscribed",
)
KNOWN = CONTACT_COLUMNS[1:]
CONTACTS = [
    (1, "US", 3, 10, "shoes", "a@gmail.com", 5, 0.30, 300.0, 0),
    (2, "US", 1, 45, "bags", "b@yahoo.com", None, None, 40.0, 0),
    (3, "FR", 2, 0, "hats", "c@gmail.com", 200, 0.01, None, 1),
    (4, "DE", 0, 30, "shoes", "d--x@example.org", 12, 0.10, 60.0, 0),
    (5, "US", 2, 31, None, None, 3, 0.04, 120.0, 1),
]
ALL_IDS = {1, 2, 3, 4, 5}

# (rule, columns it reads, contact_ids it selects in CONTACTS, worked out by hand)
VALID_RULES = [
    ("country = 'US' AND order_count >= 2", ("country", "order_count"), {1, 5}),
    ("recency_days BETWEEN 0 AND 30", ("recency_days",), {1, 3, 4}),
    ("top_category IN ('shoes', 'bags')", ("top_category",), {1, 2, 4}),
    ("email LIKE '%@gmail.com'", ("email",), {1, 3}),
    (
        "days_since_last_open IS NULL OR open_rate_human < 0.05",
        ("days_since_last_open", "open_rate_human"),
        {2, 3, 5},
    ),
    # 300/3, 40/1, 0/2, 60/max(0,1), 120/2
    (
        "coalesce(revenue_total, 0) / greatest(order_count, 1) > 50",
        ("order_count", "revenue_total"),
        {1, 4, 5},
    ),
    ("NOT (is_unsubscribed = 1)", ("is_unsubscribed",), {1, 2, 4}),
    ("Country = 'US'", ("country",), {1, 2, 5}),
    ('"order_count" >= 2', ("order_count",), {1, 3, 5}),
    ("country NOT IN ('US', 'FR')", ("country",), {4}),
    ("email NOT LIKE '%@gmail.com'", ("email",), {2, 4}),  # a missing email matches neither
    ("email ILIKE '%GMAIL%'", ("email",), {1, 3}),
    ("recency_days NOT BETWEEN 0 AND 30", ("recency_days",), {2, 5}),
    (
        "days_since_last_open IS NOT NULL AND recency_days <> 0",
        ("days_since_last_open", "recency_days"),
        {1, 4, 5},
    ),
    ("CAST(order_count AS DOUBLE) / 2 >= 1", ("order_count",), {1, 3, 5}),
    ("order_count::VARCHAR = '2'", ("order_count",), {3, 5}),
    ("round(open_rate_human, 1) = 0.3", ("open_rate_human",), {1}),
    ("abs(recency_days - 30) <= 1", ("recency_days",), {4, 5}),
    ("nullif(top_category, 'hats') IS NULL", ("top_category",), {3, 5}),
    (
        "least(order_count, 2) = 2 AND upper(top_category) = 'SHOES'",
        ("order_count", "top_category"),
        {1},
    ),
    # floor(3.0), floor(1.0) and floor(0.4); ceil(10/7), ceil(45/7), ceil(0/7), ceil(31/7)
    (
        "floor(open_rate_human * 10) = 1 OR ceiling(recency_days / 7) = 5",
        ("open_rate_human", "recency_days"),
        {4, 5},
    ),
    ("order_count % 2 = 1 AND -recency_days < 0", ("order_count", "recency_days"), {1, 2}),
    ("length(email) > 15 OR lower(country) = 'fr'", ("country", "email"), {3, 4}),
    (
        "(country = 'US' OR country = 'FR') AND NOT is_unsubscribed = 1",
        ("country", "is_unsubscribed"),
        {1, 2},
    ),
    ("DATE '2024-01-01' < DATE '2024-06-01' AND country = 'FR'", ("country",), {3}),
    ("TRUE", (), ALL_IDS),
    ("FALSE", (), set()),
    # ';' and '--' inside a string are text, not statement separators or comments.
    ("email LIKE '%--%'", ("email",), {4}),
    ("country = 'a;b'", ("country",), set()),
    ("country = 'x''; DROP TABLE contacts; --'", ("country",), set()),
]


@pytest.fixture(scope="module")
def contacts() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect(":memory:")
    connection.execute(
        "CREATE TABLE contacts (contact_id INTEGER, country VARCHAR, order_count INTEGER, "
        "recency_days INTEGER, top_category VARCHAR, email VARCHAR, days_since_last_open "
        "INTEGER, open_rate_human DOUBLE, revenue_total DOUBLE, is_unsubscribed INTEGER)"
    )
    connection.executemany(f"INSERT INTO contacts VALUES ({', '.join('?' * 10)})", CONTACTS)
    yield connection
    connection.close()


def selected(connection: duckdb.DuckDBPyConnection, condition: str) -> set[int]:
    rows = connection.execute(f"SELECT contact_id FROM contacts WHERE {condition}").fetchall()
    return {contact_id for (contact_id,) in rows}


def refusal(text: str, columns: tuple[str, ...] = KNOWN) -> str:
    with pytest.raises(RuleError) as caught:
        parse_rule(text, columns, where=WHERE)
    message = str(caught.value)
    assert message.startswith(f"{WHERE}: "), message
    assert f'"{text}"' in message, message
    return message


@pytest.mark.parametrize(("text", "columns", "ids"), VALID_RULES)
def test_valid_rule_reads_the_columns_it_names(
    text: str, columns: tuple[str, ...], ids: set[int]
) -> None:
    rule = parse_rule(text, KNOWN, where=WHERE)
    assert rule.text == text
    assert rule.columns == columns


@pytest.mark.parametrize(("text", "columns", "ids"), VALID_RULES)
def test_valid_rule_selects_the_hand_computed_contacts_in_duckdb(
    contacts: duckdb.DuckDBPyConnection, text: str, columns: tuple[str, ...], ids: set[int]
) -> None:
    rule = parse_rule(text, KNOWN, where=WHERE)
    assert selected(contacts, rule.sql) == ids
    cases = contacts.execute(
        f"SELECT contact_id FROM contacts WHERE CASE WHEN {rule.sql} THEN TRUE ELSE FALSE END"
    ).fetchall()
    assert {contact_id for (contact_id,) in cases} == ids
    assert contacts.execute("SELECT count(*) FROM contacts").fetchone() == (len(CONTACTS),)


def test_rule_sql_is_rendered_from_the_tree_with_every_column_quoted() -> None:
    rule = parse_rule("country='US'  and  ORDER_COUNT>=2", KNOWN)
    assert rule.sql == '"country" = \'US\' AND "order_count" >= 2'
    assert parse_rule("ceiling(x) > 1", ["x"]).sql == 'CEIL("x") > 1'


def test_columns_match_case_insensitively_and_take_the_known_spelling() -> None:
    rule = parse_rule("country = 'US' AND \"ORDER_COUNT\" >= 2", ["Country", "Order_Count"])
    assert rule.columns == ("Country", "Order_Count")
    assert rule.sql == '"Country" = \'US\' AND "Order_Count" >= 2'


def test_an_exact_spelling_wins_over_a_case_insensitive_match() -> None:
    assert parse_rule("Score > 1", ["score", "Score"]).columns == ("Score",)


def test_the_same_column_twice_is_listed_once() -> None:
    assert parse_rule("country = 'US' OR COUNTRY = 'FR'", KNOWN).columns == ("country",)


def test_unknown_column_suggests_the_nearest_known_one() -> None:
    message = refusal("contry = 'US'")
    assert "unknown column 'contry' (did you mean 'country'?)" in message
    assert "Known columns: country, days_since_last_open, email," in message


@pytest.mark.parametrize("text", ["country = US", 'country = "US"'])
def test_unknown_bare_word_suggests_quoting_a_string(text: str) -> None:
    assert "unknown column 'US' (did you mean to quote a string: 'US'?)" in refusal(text)


def test_every_unknown_column_is_reported_at_once() -> None:
    message = refusal("contry = 'US' AND xyz > 1 AND read_csv('f') IS NULL")
    assert "'contry'" in message
    assert "'xyz'" in message
    assert "function read_csv is not allowed" in message


def test_known_columns_listing_is_capped() -> None:
    columns = tuple(f"feature_{number:02d}" for number in range(30))
    message = refusal("zzz > 1", columns)
    assert "feature_11 and 18 more." in message
    assert "feature_12" not in message


def test_where_defaults_to_rule() -> None:
    with pytest.raises(RuleError, match=r'^rule: cannot use rule "x > 1": unknown column'):
        parse_rule("x > 1", [])


def test_syntax_error_names_the_column_and_what_was_expected() -> None:
    assert "syntax error at column 15: expected ')'" in refusal("(country = 'US'")
    assert "syntax error at line 2, column 5" in refusal("country = 'US'\nAND (")


def test_unclosed_quote_names_where_it_opened() -> None:
    assert "the quote ' opened at character 11 is never closed" in refusal("country = 'US")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("1=1; DROP TABLE contacts", "';' is not allowed outside quotes"),
        ("country = 'US'; DELETE FROM contacts", "';' is not allowed outside quotes"),
        ("country = 'US';", "';' is not allowed outside quotes"),
        ("DROP TABLE contacts", "it is a SQL statement (DROP), not a condition"),
        ("SELECT * FROM contacts", "it is a SQL statement (SELECT)"),
        ("DELETE FROM contacts", "it is a SQL statement (DELETE)"),
        ("UPDATE contacts SET country = 'x'", "it is a SQL statement (UPDATE)"),
        ("INSERT INTO contacts VALUES (1)", "it is a SQL statement (INSERT)"),
        ("CREATE TABLE t (a INT)", "it is a SQL statement (CREATE)"),
        ("ATTACH 'other.db'", "it is a SQL statement (ATTACH)"),
        ("COPY contacts TO 'out.csv'", "it is a SQL statement (COPY)"),
        ("PRAGMA version", "it is a SQL statement (PRAGMA)"),
        ("SET threads = 1", "it is a SQL statement (SET)"),
        ("CALL dbgen(sf = 1)", "it is a SQL statement (CALL)"),
        ("WITH a AS (SELECT 1) SELECT * FROM a", "it is a SQL statement (WITH)"),
        ("comment = 'x'", 'needs double quotes: "comment"'),
        ("country IN (SELECT country FROM contacts)", "subqueries are not allowed"),
        ("EXISTS (SELECT 1)", "subqueries are not allowed"),
        ("order_count > (SELECT 1)", "subqueries are not allowed"),
        ("country = 'US' -- comment", "comments (-- or /* */) are not allowed"),
        ("country = 'US' /* c */", "comments (-- or /* */) are not allowed"),
        ("/**/ country = 'US'", "comments (-- or /* */) are not allowed"),
        ("read_csv('x') IS NULL", "function read_csv is not allowed. Allowed functions: abs,"),
        ("getenv('HOME') = 'x'", "function getenv is not allowed"),
        ("TRY_CAST(order_count AS INT) = 1", "function try_cast is not allowed"),
        ("sum(order_count) > 1", "aggregate function sum is not allowed"),
        ("count(*) > 1", "aggregate function count is not allowed"),
        ("row_number() OVER () > 1", "window functions (OVER) are not allowed"),
        ("contacts.country = 'US'", "qualified column contacts.country is not allowed"),
        ("main.contacts.country = 'US'", "qualified column main.contacts.country"),
        ("* = 1", "* is not allowed"),
        ("contacts.* IS NULL", "* is not allowed"),
        ("order_count + 1", "it computes a value but does not test it"),
        ("country = 'US' AND order_count", "it computes a value but does not test it"),
        ("NOT order_count", "it computes a value but does not test it"),
        ("", "it is empty"),
        ("   \n ", "it is empty"),
        ("(country = 'US'", "expected ')'"),
        ("country = 'US')", "unexpected ')'"),
        ("country = 'US' AND", "a value is missing next to 'AND'"),
        ("$1 = 1", "parameters ($1, ?, :name) are not allowed"),
        ("? = 1", "parameters ($1, ?, :name) are not allowed"),
        (":name = 1", "parameters ($1, ?, :name) are not allowed"),
        ("CAST(order_count AS FLOAT) = 1", "CAST to REAL is not allowed"),
        ("CAST(order_count AS INT[]) = 1", "CAST to INT[] is not allowed"),
        ("order_count IS 1", "IS must be followed by NULL or TRUE/FALSE"),
        ("country IN ()", "IN needs a list of values in parentheses"),
        ("order_count IN 1", "IN needs a list of values in parentheses"),
        ("order_count = 1 IS NULL", "conditions cannot be chained"),
        ("order_count = order_count = order_count", "conditions cannot be chained"),
        ("email LIKE email LIKE email", "conditions cannot be chained"),
        ("CASE WHEN order_count > 1 THEN 1 END = 1", "function case is not allowed"),
        ("country[1] = 'U'", "Bracket (country[1]) is not allowed"),
        ("country || 'x' = 'USx'", "DPipe"),
        ("email ~ 'gmail'", "function regexp_full_match is not allowed"),
    ],
)
def test_refused_rule_says_why(text: str, reason: str) -> None:
    assert reason in refusal(text)


def test_refusing_injections_leaves_the_table_intact(
    contacts: duckdb.DuckDBPyConnection,
) -> None:
    attempts = [
        "1=1; DROP TABLE contacts",
        "country = 'US'; DELETE FROM contacts",
        "DROP TABLE contacts",
        "country = '' OR 1=1) ; DROP TABLE contacts; --",
    ]
    for attempt in attempts:
        with pytest.raises(RuleError):
            parse_rule(attempt, KNOWN, where=WHERE)
    # The same text pasted into the query, as an unchecked rule would be, drops the table:
    # this is what the refusals above protect against.
    scratch = duckdb.connect(":memory:")
    scratch.execute("CREATE TABLE contacts AS SELECT 1 AS country")
    scratch.execute(f"SELECT * FROM contacts WHERE {attempts[0]}")
    assert scratch.execute("SELECT count(*) FROM duckdb_tables()").fetchone() == (0,)
    assert contacts.execute("SELECT count(*) FROM contacts").fetchone() == (len(CONTACTS),)


def test_allowed_functions_are_the_documented_ones() -> None:
    documented = {"lower", "upper", "length", "coalesce", "abs", "round", "floor", "ceil"}
    documented |= {"least", "greatest", "nullif"}
    assert documented == ALLOWED_FUNCTIONS


def test_rule_is_immutable() -> None:
    rule = parse_rule("country = 'US'", KNOWN)
    with pytest.raises(AttributeError):
        rule.sql = "TRUE"  # type: ignore[misc]
    assert rule == Rule(text="country = 'US'", sql="\"country\" = 'US'", columns=("country",))


# --- properties --------------------------------------------------------------------------

# A piece of generated rule text with the known columns it reads.
Piece = tuple[str, frozenset[str]]


def _column(names: list[str]) -> st.SearchStrategy[Piece]:
    # Users type any case, and may double-quote: every spelling maps to the known name.
    return st.sampled_from(names).flatmap(
        lambda name: st.sampled_from([name, name.upper(), name.title(), f'"{name}"']).map(
            lambda spelled: (spelled, frozenset({name}))
        )
    )


def _constant(texts: st.SearchStrategy[str]) -> st.SearchStrategy[Piece]:
    return texts.map(lambda text: (text, frozenset()))


def _call(template: str, *parts: st.SearchStrategy[Piece]) -> st.SearchStrategy[Piece]:
    def fill(*pieces: Piece) -> Piece:
        columns = frozenset().union(*(used for _, used in pieces))
        return template.format(*(text for text, _ in pieces)), columns

    return st.tuples(*parts).map(lambda pieces: fill(*pieces))


_strings = _constant(
    st.sampled_from(["US", "FR", "shoes", "%gmail%", "a;b", "--", "O'Brien", "", "%"]).map(
        lambda value: "'" + value.replace("'", "''") + "'"
    )
)
_numbers = _constant(
    st.integers(-50, 400).map(str) | st.floats(-5, 5).map(lambda value: f"{value:.2f}")
)
_text_values = st.recursive(
    _column(["country", "email", "top_category"]) | _strings,
    lambda inner: st.one_of(
        _call("lower({})", inner),
        _call("upper({})", inner),
        _call("coalesce({}, {})", inner, _strings),
        _call("nullif({}, {})", inner, _strings),
    ),
    max_leaves=3,
)
_number_values = st.recursive(
    _column(["order_count", "recency_days", "open_rate_human", "revenue_total"]) | _numbers,
    lambda inner: st.one_of(
        *(_call("{} " + operator + " {}", inner, inner) for operator in "+-*/%"),
        _call("- {}", inner),  # the space keeps `- -1` from reading as a `--` comment
        _call("({})", inner),
        _call("abs({})", inner),
        _call("round({}, 1)", inner),
        _call("floor({})", inner),
        _call("ceil({})", inner),
        _call("greatest({}, {})", inner, inner),
        _call("least({}, {})", inner, inner),
        _call("coalesce({}, {})", inner, _numbers),
        _call("length({})", _text_values),
        _call("CAST({} AS DOUBLE)", inner),
    ),
    max_leaves=4,
)
_comparison = st.sampled_from(["=", "<>", "!=", "<", "<=", ">", ">="])
_tests = st.one_of(
    st.tuples(_number_values, _comparison, _number_values).map(
        lambda triple: (f"{triple[0][0]} {triple[1]} {triple[2][0]}", triple[0][1] | triple[2][1])
    ),
    _call("{} = {}", _text_values, _text_values),
    _call("{} LIKE {}", _text_values, _strings),
    _call("{} NOT ILIKE {}", _text_values, _strings),
    _call("{} BETWEEN {} AND {}", _number_values, _numbers, _numbers),
    _call("{} IS NULL", _number_values),
    _call("{} IS NOT NULL", _text_values),
    _call("{} NOT IN ({}, {})", _text_values, _strings, _strings),
    _constant(st.sampled_from(["TRUE", "FALSE"])),
)
_conditions = st.recursive(
    _tests,
    lambda inner: st.one_of(
        _call("{} AND {}", inner, inner),
        _call("{} OR {}", inner, inner),
        _call("NOT {}", inner),
        _call("({})", inner),
    ),
    max_leaves=4,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_conditions)
def test_accepted_rule_means_in_duckdb_what_its_text_means(
    contacts: duckdb.DuckDBPyConnection, piece: Piece
) -> None:
    text, columns = piece
    rule = parse_rule(text, KNOWN, where=WHERE)
    assert rule.columns == tuple(sorted(columns))
    assert parse_rule(rule.sql, KNOWN) == Rule(rule.sql, rule.sql, rule.columns)
    try:
        expected = selected(contacts, text)
    except duckdb.Error as error:  # e.g. integer overflow: the rendered rule fails the same way
        with pytest.raises(type(error)):
            selected(contacts, rule.sql)
    else:
        assert selected(contacts, rule.sql) == expected


_fragments = st.sampled_from(
    [
        *("country", "Order_Count", '"email"', "contacts", "x"),
        *("=", "<>", ">=", "+", "-", "/", "*", "%", "||", "::", ".", ",", "(", ")", "[", "]"),
        *("'US'", "'a;b'", "'--'", "'", '"', "1", "2.5", "NULL", "TRUE"),
        *("AND", "OR", "NOT", "IN", "IS", "BETWEEN", "LIKE", "CAST", "AS", "INT", "DATE"),
        *("SELECT", "FROM", "DROP", "EXISTS", "CASE", "WHEN", "THEN", "END", "OVER"),
        *("lower", "coalesce", "sum", "read_csv", "$1", "?", ":x", "@", ";", "--", "/*", "*/"),
        *("\n", "->", "~", "E'x'", "$$", "{", "}", "=>", "INTERVAL", "ESCAPE", "ARRAY"),
    ]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_fragments, max_size=10).map(" ".join) | st.text(max_size=30))
def test_any_text_gives_a_rule_or_a_rule_error(text: str) -> None:
    columns = ["country", "order_count", "email"]
    outcome: Rule | RuleError
    try:
        outcome = parse_rule(text, columns, where=WHERE)
    except RuleError as error:  # anything else (a sqlglot error, a crash) fails the test
        outcome = error
    if isinstance(outcome, RuleError):
        assert str(outcome).startswith(f'{WHERE}: cannot use rule "{text}"')
    else:
        assert parse_rule(outcome.sql, columns).sql == outcome.sql
