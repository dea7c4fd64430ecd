"""CSV files for people to open, written from a query, safe in a spreadsheet.

Every file Audience writes as CSV goes through :func:`write_csv`: each text cell that
starts like a formula gets the text mark in front and every cell is quoted
(:mod:`audience.cells` says why and what). Columns typed as numbers, booleans, dates or
times are written as DuckDB writes them: their text cannot start a formula, and a
negative number stays a number.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

from audience.cells import neutralised, neutralised_sql
from audience.sql_text import identifier
from audience.store.database import Database

_NOT_TEXT = re.compile(
    r"(U?(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT)|FLOAT|DOUBLE|DECIMAL\(\d+,\d+\)|BOOLEAN"
    r"|DATE|TIME|TIME WITH TIME ZONE|TIMESTAMP(_S|_MS|_NS| WITH TIME ZONE)?)"
)
"""DuckDB types written as numbers, booleans or dates; any other type is written as text."""


def write_csv(
    db: Database,
    source: str,
    path: Path,
    params: Mapping[str, object] | None = None,
    *,
    columns: Sequence[tuple[str, str]] | None = None,
    order_by: str,
    delimiter: str = ",",
    exact: Collection[str] = (),
) -> None:
    """Write the rows of the query ``source`` to ``path``, sorted by its column ``order_by``:
    a header, then every cell quoted and text neutralised.

    ``columns`` are the output columns (header → SQL over ``source``'s columns), by default
    every column of ``source``. Those named in ``exact`` are written as they are: the keys
    a platform matches on, whose rows the caller left out where the key would need the mark.
    """
    values = dict(params or {})
    cells = ", ".join(
        _cell(header, sql, kind, exact=header in exact)
        for header, sql, kind in _typed_columns(db, source, values, columns)
    )
    target = str(path).replace("'", "''")
    path.parent.mkdir(parents=True, exist_ok=True)
    # ORDER BY on the outermost query: the workspace lets DuckDB reorder anything else.
    db.con.execute(
        f"COPY (SELECT {cells} FROM ({source}) AS _rows ORDER BY _rows.{identifier(order_by)}) "
        f"TO '{target}' (FORMAT csv, HEADER, DELIMITER '{delimiter}', FORCE_QUOTE *)",
        values,
    )


def _typed_columns(
    db: Database,
    source: str,
    values: dict[str, object],
    columns: Sequence[tuple[str, str]] | None,
) -> list[tuple[str, str, str]]:
    """Each output column's header, SQL and DuckDB type (by default, ``source``'s own)."""
    if columns is None:
        every = db.con.execute(f"DESCRIBE {source}", values).fetchall()
        columns = [(str(name), identifier(str(name))) for name, *_ in every]
    typed = ", ".join(f"{sql} AS {identifier(header)}" for header, sql in columns)
    described = db.con.execute(f"DESCRIBE SELECT {typed} FROM ({source})", values).fetchall()
    return [
        (header, sql, str(row[1])) for (header, sql), row in zip(columns, described, strict=True)
    ]


def _cell(header: str, sql: str, kind: str, *, exact: bool) -> str:
    """The select expression of one output column, named as the header shows it."""
    value = sql if exact or _NOT_TEXT.fullmatch(kind) else neutralised_sql(f"({sql})::VARCHAR")
    return f"{value} AS {identifier(neutralised(header))}"
