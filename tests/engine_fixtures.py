"""Real engines for tests: a throwaway PostgreSQL server, a local Spark session, DuckDB.

The fixtures start each engine once per test session and share it: PostgreSQL runs from a
temporary data directory on a free loopback port, Spark in ``local[2]`` mode. ``engine`` is
parametrised over ``ENGINES`` and yields an Ibis backend, so a test that takes it runs once
per engine against the same frames (load them with :func:`audience.store.engines.load_tables`).

PostgreSQL refuses to run as root, so when the tests run as root (as here and in CI) the
server runs as the ``postgres`` user that Debian's package creates, via ``runuser``.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import duckdb
import ibis
import ibis.expr.types as ir
import pytest

from audience.store.engines import duckdb_backend, postgres_backend, spark_backend

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

EngineName = Literal["duckdb", "postgres", "spark"]
ENGINES: tuple[EngineName, ...] = ("duckdb", "postgres", "spark")

_POSTGRES_GLOB = "/usr/lib/postgresql/*/bin"
_SERVER_USER = "postgres"
_DATABASE = "audience"
# Default zone of the engines' processes, and local zone of the tests that set one: a zone
# with daylight saving time, so that any leak of local time shows as a shifted hour or day.
SERVER_TIME_ZONE = "America/New_York"


# --- PostgreSQL ---------------------------------------------------------------------------


def postgres_bin_dir(pattern: str = _POSTGRES_GLOB) -> Path:
    """The newest installed PostgreSQL server's ``bin`` folder; fails the test run if none."""
    candidates = [path.parent for path in Path("/").glob(pattern.lstrip("/") + "/initdb")]
    if not candidates:
        pytest.fail(
            f"PostgreSQL server binaries (initdb, pg_ctl) not found under {pattern}; "
            "`make test` installs them (Debian package `postgresql`), or run "
            "`apt-get install postgresql` yourself.",
            pytrace=False,
        )
    return max(candidates, key=lambda path: int(path.parent.name.split(".")[0]))


def free_loopback_port() -> int:
    """A TCP port nobody listens on at 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _as_server_user(command: list[str]) -> list[str]:
    # Root may not run initdb/pg_ctl; anyone else runs them as themselves.
    if os.geteuid() == 0:
        return ["runuser", "-u", _SERVER_USER, "--", *command]
    return command


def _run(command: list[str], cwd: Path) -> None:
    completed = subprocess.run(
        _as_server_user(command), cwd=cwd, capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        pytest.fail(
            f"`{' '.join(command)}` exited with {completed.returncode}:\n"
            f"{completed.stdout}\n{completed.stderr}",
            pytrace=False,
        )


@contextmanager
def running_postgres() -> Iterator[str]:
    """Start a private PostgreSQL server, yield the URL of an empty database, then stop it."""
    bin_dir = postgres_bin_dir()
    root = Path(tempfile.mkdtemp(prefix="audience-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, user=_SERVER_USER, group=_SERVER_USER)
    data, port = root / "data", free_loopback_port()
    try:
        # fsync off and no sync at init: the data is thrown away, speed is what matters.
        _run(
            [str(bin_dir / "initdb"), "-D", str(data), "-U", _SERVER_USER, "--auth=trust",
             "--no-sync", "--encoding=UTF8", "--locale=C"],
            cwd=root,
        )  # fmt: skip
        # The server's default zone is deliberately not UTC: sessions must set UTC themselves.
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={root} "
            f"-c timezone={SERVER_TIME_ZONE} -c fsync=off -c full_page_writes=off"
        )
        _run(
            [str(bin_dir / "pg_ctl"), "start", "-D", str(data), "-w", "-t", "60",
             "-l", str(root / "server.log"), "-o", options],
            cwd=root,
        )  # fmt: skip
        try:
            base = f"postgresql://{_SERVER_USER}@127.0.0.1:{port}"
            _create_database(f"{base}/postgres", _DATABASE)
            yield f"{base}/{_DATABASE}"
        finally:
            _run([str(bin_dir / "pg_ctl"), "stop", "-D", str(data), "-m", "immediate"], root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _create_database(maintenance_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(maintenance_url, autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{name}"')


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of an empty database on a PostgreSQL server private to this test session."""
    with running_postgres() as url:
        yield url


# --- Spark --------------------------------------------------------------------------------


# Warnings that Spark queries raise from code that is not ours (pyspark 4.0 with pandas 3 and
# Ibis 12): (message regex, category). Ignored only while a test holds a Spark backend.
_FOREIGN_SPARK_WARNINGS: tuple[tuple[str, type[Warning]], ...] = (
    # pyspark's Arrow-to-pandas conversion calls astype(copy=False), deprecated by pandas 3.
    ("The copy keyword is deprecated", DeprecationWarning),
    # Ibis turns every PySpark result into pandas and reads a deprecated pandas option there.
    ("The 'future.infer_string' option is deprecated", DeprecationWarning),
    # pyspark leaves the socket it read Arrow batches from to the garbage collector.
    ("unclosed <socket.socket", ResourceWarning),
)


def _ignore_foreign_spark_warnings(request: pytest.FixtureRequest) -> None:
    """Ignore ``_FOREIGN_SPARK_WARNINGS`` until the requesting test ends."""
    scope = warnings.catch_warnings()
    scope.__enter__()
    request.addfinalizer(lambda: scope.__exit__(None, None, None))
    for message, category in _FOREIGN_SPARK_WARNINGS:
        warnings.filterwarnings("ignore", message=re.escape(message), category=category)


@contextmanager
def local_spark() -> Iterator[SparkSession]:
    """A small local Spark session in UTC whose warehouse lives in a temporary folder."""
    from pyspark.sql import SparkSession

    warehouse = Path(tempfile.mkdtemp(prefix="audience-spark-"))
    session = (
        SparkSession.builder.master("local[2]")
        .appName("audience-tests")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.default.parallelism", "2")
        .config("spark.driver.memory", "1g")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.warehouse.dir", str(warehouse / "warehouse"))
        # The JVM's default zone is deliberately not UTC: only the session setting makes it so.
        .config("spark.driver.extraJavaOptions", f"-Duser.timezone={SERVER_TIME_ZONE}")
        .getOrCreate()
    )
    try:
        yield session
    finally:
        session.stop()
        shutil.rmtree(warehouse, ignore_errors=True)


@pytest.fixture(scope="session")
def spark_session() -> Iterator[SparkSession]:
    """A ``local[2]`` Spark session in UTC, shared by the whole test session."""
    with local_spark() as session:
        yield session


# --- The Python process's local time zone -------------------------------------------------


@contextmanager
def process_time_zone(name: str) -> Iterator[None]:
    """Run the block with the process's local time zone set to ``name`` (POSIX ``TZ``)."""
    previous = os.environ.get("TZ")
    os.environ["TZ"] = name
    time.tzset()
    try:
        yield
    finally:
        if previous is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = previous
        time.tzset()


@pytest.fixture
def new_york_local_time() -> Iterator[None]:
    """The test runs with local time in New York, restored afterwards."""
    with process_time_zone(SERVER_TIME_ZONE):
        assert time.localtime(1_730_615_400).tm_isdst == 0  # 2024-11-03 06:30Z is 01:30 EST
        yield


# --- One backend per engine ---------------------------------------------------------------


def backend_for(name: EngineName, request: pytest.FixtureRequest) -> ibis.BaseBackend:
    """An Ibis backend on engine ``name``; server engines come from the session fixtures."""
    if name == "duckdb":
        con = duckdb.connect(":memory:")
        request.addfinalizer(con.close)
        return duckdb_backend(con)
    if name == "postgres":
        backend = postgres_backend(request.getfixturevalue("postgres_url"))
        request.addfinalizer(backend.disconnect)
        return backend
    _ignore_foreign_spark_warnings(request)
    return spark_backend(request.getfixturevalue("spark_session"))


def rows(table: ir.Table) -> list[dict[str, Any]]:
    """The rows of ``table`` as Python values, every timestamp an aware UTC datetime.

    Ibis types Spark's timestamps as naive (they are instants shown in the session zone,
    UTC), so their values come back naive; other engines return them aware.
    """
    return [
        {name: _as_utc(value) for name, value in row.items()}
        for row in table.to_pyarrow().to_pylist()
    ]


def _as_utc(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> ibis.BaseBackend:
    """An Ibis backend, once per engine in ``ENGINES``."""
    name: EngineName = request.param
    return backend_for(name, request)


__all__ = [
    "ENGINES",
    "SERVER_TIME_ZONE",
    "EngineName",
    "backend_for",
    "engine",
    "new_york_local_time",
    "postgres_url",
    "process_time_zone",
    "rows",
    "spark_session",
]
