"""write_csv: what a spreadsheet opens from a query is text where it was text.

Hand-written rows, read back with Python's csv module and as the raw bytes a spreadsheet
sees (OWASP's CSV Injection page gives the expected escaping of its two examples).
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from audience.store.csv_files import write_csv
from audience.store.database import Database

ROWS = """
SELECT * FROM (VALUES
    (1, '=1+2";=1+2', -12.5, '-12.5', DATE '2024-03-05', 'ann@example.com'),
    (2, '=1+2''" ;,=1+2', 3.0, 'plain', NULL, '=1+2@example.com'),
    (3, chr(9) || 'tab', -1.0, chr(13) || 'cr', NULL, '@x'),
    (4, chr(10) || 'lf', 0.0, '+1', NULL, NULL),
    (5, 'a=b', 1.0, '@SUM(A1)', NULL, 'bob@example.com')
) AS t(n, name, amount, code, day, email)
"""


@pytest.fixture
def db(tmp_path: Path) -> Database:
    return Database(tmp_path / "audience.duckdb")


def _read(path: Path, delimiter: str = ",") -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter=delimiter))


def test_text_starting_like_a_formula_gets_the_mark_and_the_rest_is_kept(
    db: Database, tmp_path: Path
) -> None:
    path = tmp_path / "out.csv"
    write_csv(db, ROWS, path, order_by="n")
    rows = _read(path)
    assert [row["name"] for row in rows] == [
        "'=1+2\";=1+2",
        "'=1+2'\" ;,=1+2",
        "'\ttab",
        "'\nlf",
        "a=b",
    ]
    assert [row["code"] for row in rows] == ["'-12.5", "plain", "'\rcr", "'+1", "'@SUM(A1)"]


def test_numbers_and_dates_are_written_as_they_are(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    write_csv(db, ROWS, path, order_by="n")
    rows = _read(path)
    assert [row["amount"] for row in rows] == ["-12.5", "3.0", "-1.0", "0.0", "1.0"]
    assert [row["day"] for row in rows] == ["2024-03-05", "", "", "", ""]


def test_every_cell_is_quoted_as_owasp_escapes_its_examples(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    write_csv(db, ROWS, path, columns=[("name", "name")], order_by="n")
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[:3] == ['"name"', '"\'=1+2"";=1+2"', '"\'=1+2\'"" ;,=1+2"']


def test_exact_columns_are_written_as_they_are(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    columns = [("n", "n"), ("Email", "email")]
    write_csv(db, ROWS, path, columns=columns, order_by="n", exact={"Email"})
    assert [row["Email"] for row in _read(path)] == [
        "ann@example.com",
        "=1+2@example.com",
        "@x",
        "",
        "bob@example.com",
    ]


def test_a_header_starting_like_a_formula_gets_the_mark_too(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    write_csv(db, ROWS, path, columns=[("=HEADER", "n"), ("-x", "name")], order_by="n")
    assert list(_read(path)[0]) == ["'=HEADER", "'-x"]


def test_rows_follow_order_by_and_the_delimiter(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    write_csv(
        db, ROWS, path, columns=[("n", "n"), ("code", "code")], order_by="code", delimiter=";"
    )
    codes = [row["code"] for row in _read(path, delimiter=";")]
    assert codes == ["'\rcr", "'+1", "'-12.5", "'@SUM(A1)", "plain"]
