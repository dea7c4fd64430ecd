"""Text a spreadsheet would run as a formula, and how Audience keeps it text (CSV injection).

Excel, LibreOffice Calc and Google Sheets read a cell that starts with ``=``, ``+``, ``-``,
``@``, a tab, a carriage return or a line feed as a formula: a segment renamed
``=HYPERLINK("http://…","x")`` becomes a live link in an export opened in one. OWASP's CSV
Injection page (owasp.org/www-community/attacks/CSV_Injection) lists these characters and
the remedy followed in every file Audience writes for people to open: such a cell gets a
single quote in front (a spreadsheet then shows it as text, hiding the quote), and every
cell is wrapped in double quotes with inner double quotes doubled, so that no value can
close its cell and start a new one with a formula.

The choice about ``-``: a column typed as a number is written as a number, untouched
(``-12.5`` there is a number, not a formula). A *text* cell that starts with ``-`` gets the
quote even when it reads as a number: it is text in the store, so it stays text in the
spreadsheet, and an exception for "plain numbers" is where such guards have been bypassed.

A key column (the email address a platform matches on, Braze's external id) must stay the
exact value, so a file leaves out a row whose key starts like a formula rather than change
it; ingest quarantines such email addresses (``formula_email``), so only rows stored before
that check can meet this.

One owner for the rule: the ingest check (:mod:`audience.validate`) and the CSV writer
(:mod:`audience.store.csv_files`) both use these names.
"""

from __future__ import annotations

FORMULA_STARTS = "=+-@\t\r\n"
"""The first characters that make a spreadsheet read a cell as a formula (OWASP)."""

FORMULA_PATTERN = r"^[=+\-@\t\r\n]"
"""The same characters as a regular expression that Python's ``re`` and DuckDB's RE2 read
alike (it holds no single quote, so it can sit in a SQL string literal)."""

TEXT_MARK = "'"
"""What goes in front of such a cell: a spreadsheet takes it as "this cell is text"."""


def starts_like_formula(text: str) -> bool:
    return text[:1] != "" and text[0] in FORMULA_STARTS


def neutralised(text: str) -> str:
    """``text`` as a spreadsheet shows it without running it: the mark in front if needed."""
    return TEXT_MARK + text if starts_like_formula(text) else text


def starts_like_formula_sql(expression: str) -> str:
    """SQL (DuckDB) that is true where the text ``expression`` starts like a formula."""
    return f"regexp_matches({expression}, '{FORMULA_PATTERN}')"


def neutralised_sql(expression: str) -> str:
    """SQL (DuckDB) for :func:`neutralised` of the text ``expression``; NULL stays NULL."""
    mark = TEXT_MARK.replace("'", "''")
    return (
        f"CASE WHEN {starts_like_formula_sql(expression)} "
        f"THEN '{mark}' || {expression} ELSE {expression} END"
    )
