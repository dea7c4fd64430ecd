"""Reading DuckDB results safely."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import duckdb


def first_row(result: duckdb.DuckDBPyConnection) -> tuple[Any, ...] | None:
    """The first row of a result, read to the end.

    DuckDB 2 refuses other work on a connection (``register`` among it) while a result is
    only partly fetched, which ``fetchone`` leaves it.
    """
    rows = result.fetchall()
    return tuple(rows[0]) if rows else None


def scalar_int(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    params: list[Any] | Mapping[str, Any] | None = None,
) -> int:
    """The integer in the first column of the first row (0 when there is no row)."""
    row = first_row(con.execute(sql, params or []))
    return int(row[0]) if row else 0
