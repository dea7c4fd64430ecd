"""The one rule for text a spreadsheet would run (OWASP's CSV Injection page), in Python and
in the SQL every CSV writer uses, which must agree."""

from __future__ import annotations

import duckdb
import pytest
from hypothesis import given
from hypothesis import strategies as st

from audience.cells import FORMULA_STARTS, neutralised, neutralised_sql, starts_like_formula


@pytest.mark.parametrize("first", ["=", "+", "-", "@", "\t", "\r", "\n"])
def test_each_character_owasp_lists_gets_the_text_mark(first: str) -> None:
    assert neutralised(first + "1+2") == "'" + first + "1+2"


@pytest.mark.parametrize("text", ["", "ann", "a=b", " =1+2", "'=1+2", "12.5", "Ünïcode"])
def test_other_text_is_left_as_it_is(text: str) -> None:
    assert neutralised(text) == text


def test_a_negative_number_written_as_text_is_text() -> None:
    """The documented choice: no exception for text that reads as a number."""
    assert neutralised("-12.5") == "'-12.5"


def test_the_mark_is_not_added_twice() -> None:
    once = neutralised("=1+2")
    assert neutralised(once) == once


@given(st.text(alphabet=st.sampled_from([*FORMULA_STARTS, "a", "'", '"', ",", ";", "é", " "])))
def test_the_sql_and_python_rules_agree(text: str) -> None:
    con = duckdb.connect()
    (sql,) = con.execute(f"SELECT {neutralised_sql('$text')}", {"text": text}).fetchall()[0]
    assert sql == neutralised(text)
    assert starts_like_formula(text) == (text[:1] in set(FORMULA_STARTS))


def test_null_stays_null_in_sql() -> None:
    con = duckdb.connect()
    assert con.execute(f"SELECT {neutralised_sql('NULL::VARCHAR')}").fetchall() == [(None,)]
