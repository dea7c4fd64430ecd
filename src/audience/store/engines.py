"""Ibis backends on the engines the feature definitions run on: DuckDB, PostgreSQL, Spark.

Contract: every backend returned here runs its session in UTC, so that a ``TIMESTAMPTZ``
value renders, truncates to a date and compares the same way on each engine whatever the
machine's local time zone is. :func:`load_tables` writes pandas frames to any of them with
the workspace's column types (UTC timestamps, nullable ``BIGINT`` and ``BOOLEAN``,
``DOUBLE``, ``VARCHAR``) and reads back the same values.

PostgreSQL (psycopg) and Spark (pyspark) are optional extras, imported only when used. An
engine that cannot be reached raises :class:`~audience.errors.WorkspaceError`.
"""

from __future__ import annotations

import importlib
import uuid
from collections.abc import Mapping
from types import ModuleType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import ibis
import pandas as pd
import pyarrow as pa

from audience.errors import WorkspaceError
from audience.store.schema import CONTACT_COLUMNS, EVENT_COLUMNS

if TYPE_CHECKING:
    import duckdb
    from pyspark.sql import SparkSession

# The workspace's column types, as each engine spells them (see store/schema.py).
_SQL_TYPES: dict[str, dict[str, str]] = {
    "duckdb": {
        "timestamp": "TIMESTAMPTZ",
        "int64": "BIGINT",
        "boolean": "BOOLEAN",
        "float64": "DOUBLE",
        "string": "VARCHAR",
    },
    "postgres": {
        "timestamp": "TIMESTAMPTZ",
        "int64": "BIGINT",
        "boolean": "BOOLEAN",
        "float64": "DOUBLE PRECISION",
        "string": "TEXT",
    },
    # Spark's TIMESTAMP is an instant rendered in the session time zone (TIMESTAMP_LTZ).
    "pyspark": {
        "timestamp": "TIMESTAMP",
        "int64": "BIGINT",
        "boolean": "BOOLEAN",
        "float64": "DOUBLE",
        "string": "STRING",
    },
}
# Frames named after a workspace table take its declared types, which their dtypes may
# have lost: an all-null column read back as object, a BIGINT with nulls read as float64.
_DECLARED: dict[str, dict[str, str]] = {"contacts": CONTACT_COLUMNS, "events": EVENT_COLUMNS}
# Columns the workspace keeps for itself, not data: events.id_key is the ingest's dedupe key
# (an unsigned 64-bit integer that no other engine's BIGINT holds), so a frame read with
# ``SELECT *`` loads without it.
_INTERNAL: dict[str, tuple[str, ...]] = {"events": ("id_key",)}
_KIND_OF_SQL = {
    "TIMESTAMPTZ": "timestamp",
    "BIGINT": "int64",
    "BOOLEAN": "boolean",
    "DOUBLE": "float64",
    "VARCHAR": "string",
}
_ARROW_TYPES: dict[str, pa.DataType] = {
    "timestamp": pa.timestamp("us", tz="UTC"),
    "int64": pa.int64(),
    "boolean": pa.bool_(),
    "float64": pa.float64(),
    "string": pa.string(),
}


def duckdb_backend(con: duckdb.DuckDBPyConnection) -> ibis.BaseBackend:
    """An Ibis backend on an open DuckDB connection; its session time zone becomes UTC.

    The connection stays the caller's: closing the backend does not close it.
    """
    backend: ibis.BaseBackend = ibis.duckdb.from_connection(con)
    return backend


def postgres_backend(url: str) -> ibis.BaseBackend:
    """An Ibis backend on the PostgreSQL database at ``url``, with the session in UTC.

    ``url`` is a libpq URL such as ``postgresql://user@127.0.0.1:5432/db``. Raises
    :class:`WorkspaceError` if the server cannot be reached or refuses the login.
    """
    psycopg = _optional("psycopg", "postgres")
    try:
        # TimeZone as a startup option: the session is in UTC from its first statement.
        con = psycopg.connect(url, autocommit=True, connect_timeout=10, options="-c TimeZone=UTC")
    except psycopg.Error as exc:
        raise WorkspaceError(
            f"cannot connect to PostgreSQL at {_without_password(url)} ({_first_line(exc)}); "
            "check that the server is running and that the URL's host, port, user and "
            "database are right."
        ) from None
    backend: ibis.BaseBackend = ibis.postgres.from_connection(con)
    return backend


def spark_backend(session: SparkSession) -> ibis.BaseBackend:
    """An Ibis backend on a running Spark session, with the session in UTC.

    Sets on ``session``: ``spark.sql.session.timeZone=UTC`` (Spark renders timestamps and
    truncates them to dates in that zone), and Arrow without fallback for results brought
    into Python (the non-Arrow path reads timestamps through the process's local time
    zone). Raises :class:`WorkspaceError` if the session has been stopped.
    """
    if session.sparkContext._jsc is None:  # a stopped session has dropped its Java side
        raise WorkspaceError(
            "the Spark session has been stopped; start a new one with "
            "SparkSession.builder.getOrCreate() and pass that to Audience."
        )
    session.conf.set("spark.sql.session.timeZone", "UTC")
    # Without Arrow, pyspark turns each timestamp into a naive datetime in the process's local
    # time zone (datetime.fromtimestamp), which shifts instants in the hour that repeats when
    # daylight saving time ends. Arrow converts in the session time zone instead; with the
    # fallback off, a column Arrow cannot carry fails loudly rather than shifting silently.
    session.conf.set("spark.sql.execution.arrow.pyspark.enabled", "true")
    session.conf.set("spark.sql.execution.arrow.pyspark.fallback.enabled", "false")
    backend: ibis.BaseBackend = ibis.pyspark.connect(session)
    return backend


def load_tables(backend: ibis.BaseBackend, frames: Mapping[str, pd.DataFrame]) -> None:
    """Create or replace one table per frame on ``backend``, keeping the workspace types.

    Columns must be tz-aware timestamps (``datetime64[..., UTC]``), integers (nullable
    ``Int64`` included), booleans (nullable ``boolean`` included), floats or strings; they
    become ``TIMESTAMPTZ``, ``BIGINT``, ``BOOLEAN``, ``DOUBLE`` and ``VARCHAR``. A frame
    named ``contacts`` or ``events`` gets the workspace's declared type for each of its
    columns (see :mod:`audience.store.schema`) and loads without the workspace's own
    ``events.id_key``. The index is not stored. On Spark the
    tables are temporary views of the session. Meant for frames that fit in memory.
    """
    loaders = {"duckdb": _load_duckdb, "postgres": _load_postgres, "pyspark": _load_spark}
    if backend.name not in loaders:
        raise WorkspaceError(
            f"cannot load tables into a {backend.name!r} backend; Audience loads into "
            f"{', '.join(sorted(loaders))}."
        )
    for name, frame in frames.items():
        frame = frame.drop(columns=[c for c in _INTERNAL.get(name, ()) if c in frame.columns])
        try:
            kinds = _column_kinds(name, frame)
            table = _to_arrow(frame, kinds)
        except pa.ArrowException as exc:  # e.g. an object column mixing strings and numbers
            raise WorkspaceError(f"cannot load table {name!r}: {exc}.") from None
        loaders[backend.name](backend, name, table, kinds)


def _column_kinds(name: str, frame: pd.DataFrame) -> dict[str, str]:
    """Each column's workspace kind (a key of ``_ARROW_TYPES``); every misfit reported."""
    declared = {
        column: _KIND_OF_SQL[sql.split()[0]] for column, sql in _DECLARED.get(name, {}).items()
    }
    kinds, misfits = {}, []
    for field in pa.Schema.from_pandas(frame, preserve_index=False):
        kind = None if _is_naive_timestamp(field.type) else declared.get(field.name)
        kind = kind or _kind_of(field.type)
        if kind is None:
            misfits.append(f"{field.name!r} ({field.type})")
        else:
            kinds[field.name] = kind
    if misfits:
        raise WorkspaceError(
            f"cannot load table {name!r}: column(s) {', '.join(misfits)} have no workspace "
            "type; expected tz-aware timestamps, integers, booleans, floats or strings "
            "(localize naive timestamps with .dt.tz_localize('UTC'), and give all-null "
            "columns a dtype)."
        )
    return kinds


def _is_naive_timestamp(arrow_type: pa.DataType) -> bool:
    # A naive timestamp names no instant: refused even where the column is declared.
    return pa.types.is_timestamp(arrow_type) and arrow_type.tz is None


def _kind_of(arrow_type: pa.DataType) -> str | None:
    # Any tz-aware timestamp names one instant, stored in UTC.
    if pa.types.is_timestamp(arrow_type):
        return None if _is_naive_timestamp(arrow_type) else "timestamp"
    if pa.types.is_integer(arrow_type):
        return "int64"
    if pa.types.is_boolean(arrow_type):
        return "boolean"
    if pa.types.is_floating(arrow_type):
        return "float64"
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return "string"
    return None


def _to_arrow(frame: pd.DataFrame, kinds: Mapping[str, str]) -> pa.Table:
    schema = pa.schema([(column, _ARROW_TYPES[kind]) for column, kind in kinds.items()])
    return pa.Table.from_pandas(frame, schema=schema, preserve_index=False)


def _column_list(backend: ibis.BaseBackend, kinds: Mapping[str, str]) -> str:
    types = _SQL_TYPES[backend.name]
    return ", ".join(
        f"{_quote(column, backend.name)} {types[kind]}" for column, kind in kinds.items()
    )


def _load_duckdb(
    backend: ibis.BaseBackend, name: str, table: pa.Table, kinds: Mapping[str, str]
) -> None:
    con = _driver(backend).con
    staging = f"_audience_load_{uuid.uuid4().hex}"
    casts = ", ".join(
        f"CAST({_quote(c)} AS {_SQL_TYPES['duckdb'][k]}) AS {_quote(c)}" for c, k in kinds.items()
    )
    con.register(staging, table)
    try:
        # One statement: the old table is replaced atomically, inside or outside a transaction.
        con.execute(f"CREATE OR REPLACE TABLE {_quote(name)} AS SELECT {casts} FROM {staging}")
    finally:
        con.unregister(staging)


def _load_postgres(
    backend: ibis.BaseBackend, name: str, table: pa.Table, kinds: Mapping[str, str]
) -> None:
    con = _driver(backend).con
    columns = ", ".join(_quote(column) for column in kinds)
    # COPY with Python values: psycopg sends tz-aware datetimes with their offset, so the
    # client's local time zone plays no part.
    with con.transaction(), con.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {_quote(name)}")
        cursor.execute(f"CREATE TABLE {_quote(name)} ({_column_list(backend, kinds)})")
        with cursor.copy(f"COPY {_quote(name)} ({columns}) FROM STDIN") as copy:
            for row in zip(*(column.to_pylist() for column in table.columns), strict=True):
                copy.write_row(row)


def _load_spark(
    backend: ibis.BaseBackend, name: str, table: pa.Table, kinds: Mapping[str, str]
) -> None:
    session = _driver(backend)._session
    version = importlib.import_module("pyspark").__version__
    if int(version.split(".")[0]) < 4:
        raise WorkspaceError(
            f"loading tables into Spark needs pyspark 4.0 or newer, found {version}; "
            "upgrade with pip install 'pyspark>=4,<4.1'."
        )
    # From Arrow, whose UTC instants reach Spark as they are. Python rows would be exact
    # too, but each query over their view runs Python worker processes (~1 s more a query);
    # pandas without Arrow goes through the process's local time zone.
    frame = session.createDataFrame(table, schema=_column_list(backend, kinds))
    frame.createOrReplaceTempView(name)


def _driver(backend: ibis.BaseBackend) -> Any:
    # The engine-specific backend class, whose driver handle (.con, ._session) we use.
    return backend


def _quote(identifier: str, engine: str = "duckdb") -> str:
    mark = "`" if engine == "pyspark" else '"'
    return mark + identifier.replace(mark, mark * 2) + mark


def _optional(module: str, extra: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError:
        raise WorkspaceError(
            f"{module} is not installed; install Audience with the {extra!r} extra: "
            f"pip install 'audience[{extra}]'."
        ) from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@")).geturl()
