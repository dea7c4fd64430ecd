"""The ``features`` table: one row per contact and ``as_of``, replaced whole for an ``as_of``.

Its columns follow the feature definitions, not a migration: features are derived data,
so when the definitions change the table is rebuilt rather than migrated.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa

from audience.errors import ConfigError
from audience.store.csv_files import write_csv
from audience.store.database import Database
from audience.store.results import scalar_int

log = logging.getLogger(__name__)
TABLE = "features"


def save_features(db: Database, select_sql: str, as_of: datetime) -> int:
    """Store the rows of ``select_sql`` as the features at ``as_of``, atomically; return rows."""
    with db.transaction() as con:
        con.execute(f"CREATE OR REPLACE TEMP TABLE _new_features AS {select_sql}")
        if _columns(con, TABLE) not in ([], _columns(con, "_new_features")):
            log.warning("feature definitions changed: rebuilding the features table")
            con.execute(f"DROP TABLE {TABLE}")
        con.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} AS SELECT * FROM _new_features LIMIT 0")
        con.execute(f"DELETE FROM {TABLE} WHERE as_of = ?", [as_of])
        rows = scalar_int(con, f"INSERT INTO {TABLE} SELECT * FROM _new_features")
        con.execute("DROP TABLE _new_features")
    return rows


def replace_features(db: Database, select_sql: str, as_of: datetime) -> int:
    """Like :func:`save_features`, for rows already shaped as the stored table's (its
    columns, in order, with its types): inserted straight from the query, with no copy."""
    with db.transaction() as con:
        con.execute(f"DELETE FROM {TABLE} WHERE as_of = ?", [as_of])
        return scalar_int(con, f"INSERT INTO {TABLE} {select_sql}")


def export_features(db: Database, as_of: datetime, path: Path) -> Path:
    """Write the features at ``as_of`` to Parquet or CSV, chosen by the file's extension;
    a CSV is safe to open in a spreadsheet (:func:`write_csv`)."""
    suffix = path.suffix.lower()
    if suffix not in (".parquet", ".csv"):
        raise ConfigError(f"--out {path}: the file must end in .parquet or .csv.")
    rows = f"SELECT * FROM {TABLE} WHERE as_of = $as_of"
    if suffix == ".csv":
        write_csv(db, rows, path, {"as_of": as_of}, order_by="contact_id")
        return path
    target = str(path).replace("'", "''")
    db.con.execute(
        f"COPY ({rows} ORDER BY contact_id) TO '{target}' (FORMAT parquet)", {"as_of": as_of}
    )
    return path


def stored_columns(db: Database) -> list[tuple[str, str]]:
    """The ``features`` table's columns and their DuckDB types, in order (none if absent)."""
    return _columns(db.con, TABLE)


def count_features(db: Database, as_of: datetime) -> int:
    """Rows stored at ``as_of`` (0 when the table does not exist yet)."""
    if not stored_columns(db):
        return 0
    return scalar_int(db.con, f"SELECT count(*) FROM {TABLE} WHERE as_of = ?", [as_of])


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str]]:
    rows = con.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_name = ? ORDER BY ordinal_position",
        [table],
    ).fetchall()
    return [(str(name), str(kind)) for name, kind in rows]


def read_features(db: Database, as_of: datetime, contact_id: str | None = None) -> pd.DataFrame:
    """The stored features at ``as_of``, one row per contact, ordered by ``contact_id``
    (only ``contact_id``'s row when it is given).

    Money is stored as DECIMAL; it is read as float64, since pandas would otherwise hold
    Python ``Decimal`` objects that numeric code treats as text."""
    one = "" if contact_id is None else "AND contact_id = $contact "
    params: dict[str, object] = {"as_of": as_of}
    if contact_id is not None:
        params["contact"] = contact_id
    table = db.con.sql(
        f"SELECT * FROM {TABLE} WHERE as_of = $as_of {one}ORDER BY contact_id", params=params
    ).to_arrow_table()
    frame: pd.DataFrame = decimals_as_floats(table).to_pandas()
    return frame


def decimals_as_floats(table: pa.Table) -> pa.Table:
    """``table`` with its DECIMAL columns as float64."""
    for index, column in enumerate(table.schema):
        if pa.types.is_decimal(column.type):
            table = table.set_column(index, column.name, table.column(index).cast(pa.float64()))
    return table
