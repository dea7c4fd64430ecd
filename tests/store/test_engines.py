"""Backends on DuckDB, PostgreSQL and Spark: UTC sessions, typed round trips, clear errors."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import TYPE_CHECKING

import duckdb
import ibis
import pandas as pd
import pytest

from audience.errors import WorkspaceError
from audience.features.calendar import epoch_seconds
from audience.store.engines import (
    duckdb_backend,
    load_tables,
    postgres_backend,
    spark_backend,
)
from tests.engine_fixtures import (
    SERVER_TIME_ZONE,
    backend_for,
    free_loopback_port,
    postgres_bin_dir,
    rows,
)

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# Instants chosen where a leak of New York local time would show: 05:30Z and 06:30Z on
# 2024-11-03 are both 01:30 on a New York wall clock (the hour repeats), 07:30Z on
# 2024-03-10 is just after the skipped hour, and one value carries microseconds.
INSTANTS = [
    _utc("2024-11-03T05:30:00"),
    _utc("2024-11-03T06:30:00"),
    _utc("2024-03-10T07:30:00"),
    _utc("2024-02-29T23:59:59.123456"),
    None,
]
# The same instants in seconds since the epoch, worked out once with calendar.timegm.
EPOCH_SECONDS = [1_730_611_800, 1_730_615_400, 1_710_055_800, 1_709_251_199, None]


def typed_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": pd.array([0, 1, 2, 3, 4], dtype="Int64"),
            "at": pd.Series(INSTANTS, dtype="datetime64[us, UTC]"),
            "quantity": pd.array([1, None, 2**40, -3, None], dtype="Int64"),
            "is_machine_open": pd.array([True, None, False, True, None], dtype="boolean"),
            "revenue": [1.5, None, 2.25, -0.5, None],
            "category": pd.array(["shoes", None, "hats", "é ✓", None], dtype="str"),
        }
    )


def test_load_tables_round_trips_every_workspace_type(
    engine: ibis.BaseBackend, new_york_local_time: None
) -> None:
    load_tables(engine, {"typed": typed_frame()})
    table = engine.table("typed")

    kinds = {name: str(dtype).split("(")[0] for name, dtype in table.schema().items()}
    assert kinds == {
        "id": "int64",
        "at": "timestamp",
        "quantity": "int64",
        "is_machine_open": "boolean",
        "revenue": "float64",
        "category": "string",
    }
    # TIMESTAMPTZ on DuckDB and PostgreSQL; Ibis types Spark's TIMESTAMP (an instant shown
    # in the session zone) as naive, whatever the column holds.
    assert table.schema()["at"].timezone == (None if engine.name == "pyspark" else "UTC")
    got = rows(table.order_by("id"))
    assert [row["at"] for row in got] == INSTANTS
    assert [row["quantity"] for row in got] == [1, None, 2**40, -3, None]
    assert [row["is_machine_open"] for row in got] == [True, None, False, True, None]
    assert [row["revenue"] for row in got] == [1.5, None, 2.25, -0.5, None]
    assert [row["category"] for row in got] == ["shoes", None, "hats", "é ✓", None]


def test_loaded_timestamps_are_the_instants_inside_the_engine(
    engine: ibis.BaseBackend, new_york_local_time: None
) -> None:
    # Reading back could undo a shift made while writing; the engine's own epoch cannot.
    load_tables(engine, {"typed": typed_frame()})
    table = engine.table("typed")
    got = rows(table.select("id", seconds=epoch_seconds(table.at)).order_by("id"))
    assert [row["seconds"] for row in got] == EPOCH_SECONDS


def test_load_tables_replaces_an_existing_table(engine: ibis.BaseBackend) -> None:
    load_tables(engine, {"replaced": typed_frame()})
    load_tables(engine, {"replaced": typed_frame().head(2)})
    assert len(rows(engine.table("replaced"))) == 2


def test_load_tables_accepts_any_aware_time_zone_as_the_same_instant() -> None:
    backend = duckdb_backend(duckdb.connect(":memory:"))
    paris = pd.Series(INSTANTS[:2], dtype="datetime64[us, UTC]").dt.tz_convert("Europe/Paris")
    load_tables(backend, {"paris": pd.DataFrame({"at": paris})})
    assert [row["at"] for row in rows(backend.table("paris").order_by("at"))] == INSTANTS[:2]


def test_load_tables_reports_every_column_without_a_workspace_type() -> None:
    backend = duckdb_backend(duckdb.connect(":memory:"))
    frame = pd.DataFrame(
        {
            "naive": pd.to_datetime(["2024-01-01T00:00:00"]),
            "untyped": pd.Series([None], dtype="object"),
            "fine": [1.0],
        }
    )
    with pytest.raises(WorkspaceError) as raised:
        load_tables(backend, {"bad": frame})
    message = str(raised.value)
    assert "'naive'" in message
    assert "'untyped'" in message
    assert "'fine'" not in message
    assert "tz_localize('UTC')" in message


def test_workspace_tables_keep_their_declared_types_where_dtypes_lost_them() -> None:
    # What DuckDB's .df() gives for events: an all-null VARCHAR comes back as object, a
    # BIGINT with nulls as float64.
    backend = duckdb_backend(duckdb.connect(":memory:"))
    frame = pd.DataFrame(
        {
            "message_id": ["m1", "m2"],
            "anonymous_id": pd.Series([None, None], dtype="object"),
            "quantity": [2.0, float("nan")],
            "extra": [0.5, 1.5],  # not a workspace column: typed from its dtype
        }
    )
    load_tables(backend, {"events": frame})
    schema = backend.table("events").schema()
    assert {name: str(dtype) for name, dtype in schema.items()} == {
        "message_id": "string",
        "anonymous_id": "string",
        "quantity": "int64",
        "extra": "float64",
    }
    assert rows(backend.table("events").order_by("message_id"))[1]["quantity"] is None


def test_duckdb_backend_puts_the_callers_connection_in_utc() -> None:
    con = duckdb.connect(":memory:")
    con.execute(f"SET TimeZone = '{SERVER_TIME_ZONE}'")
    duckdb_backend(con)
    assert con.execute("SELECT current_setting('TimeZone')").fetchall() == [("UTC",)]


def test_postgres_session_is_utc_though_the_server_default_is_not(postgres_url: str) -> None:
    import psycopg

    with psycopg.connect(postgres_url) as plain:
        assert plain.execute("SHOW TimeZone").fetchall() == [(SERVER_TIME_ZONE,)]
    backend = postgres_backend(postgres_url)
    try:
        cursor = backend.raw_sql("SHOW TimeZone")
        assert cursor.fetchall() == [("UTC",)]
        cursor.close()
    finally:
        backend.disconnect()


def test_postgres_backend_names_the_server_it_cannot_reach() -> None:
    url = f"postgresql://audience:secret@127.0.0.1:{free_loopback_port()}/audience"
    with pytest.raises(WorkspaceError) as raised:
        postgres_backend(url)
    message = str(raised.value)
    assert "cannot connect to PostgreSQL at postgresql://audience:***@127.0.0.1:" in message
    assert "secret" not in message
    assert "check that the server is running" in message


def test_spark_backend_sets_the_session_time_zone_to_utc(spark_session: SparkSession) -> None:
    spark_session.conf.set("spark.sql.session.timeZone", SERVER_TIME_ZONE)
    spark_backend(spark_session)
    assert spark_session.conf.get("spark.sql.session.timeZone") == "UTC"


def test_spark_backend_refuses_a_stopped_session() -> None:
    # What a SparkSession looks like once stopped: its context has dropped the Java side.
    stopped = SimpleNamespace(sparkContext=SimpleNamespace(_jsc=None))
    with pytest.raises(WorkspaceError, match="Spark session has been stopped"):
        spark_backend(stopped)


def test_a_missing_driver_names_the_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # makes `import psycopg` fail
    with pytest.raises(WorkspaceError, match=r"pip install 'audience\[postgres\]'"):
        postgres_backend("postgresql://audience@127.0.0.1:5432/audience")


def test_backend_for_gives_each_engine_its_own_kind_of_backend(
    request: pytest.FixtureRequest,
) -> None:
    names = {name: backend_for(name, request).name for name in ("duckdb", "postgres", "spark")}
    assert names == {"duckdb": "duckdb", "postgres": "postgres", "spark": "pyspark"}


def test_missing_postgres_binaries_fail_the_run_and_say_how_to_install_them() -> None:
    with pytest.raises(pytest.fail.Exception, match=r"`make test` installs them"):
        postgres_bin_dir("/nonexistent/postgresql/*/bin")
    assert (postgres_bin_dir() / "pg_ctl").exists()
