"""Connections to the workspace database, with the session settings every query relies on."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

import duckdb

from audience.errors import WorkspaceError
from audience.store.schema import migrate


class Database:
    """An open DuckDB workspace database.

    Sessions run in UTC, so that a timestamp renders and truncates to days the same way
    whatever the machine's time zone is, and under a memory limit beyond which DuckDB spills
    to disk.
    """

    def __init__(
        self,
        path: Path,
        *,
        memory_limit: str = "1GB",
        threads: int | None = None,
        read_only: bool = False,
    ) -> None:
        self.path = path
        try:
            self.con = duckdb.connect(str(path), read_only=read_only)
        except duckdb.Error as exc:
            raise WorkspaceError(f"cannot open the workspace database {path}: {exc}") from None
        self.con.execute("SET TimeZone = 'UTC'")
        self.con.execute(f"SET memory_limit = '{_quote(memory_limit)}'")
        self.con.execute("SET preserve_insertion_order = false")
        self.con.execute("SET enable_progress_bar = false")
        if threads is not None:
            self.con.execute(f"SET threads = {int(threads)}")
        if not read_only:
            migrate(self.con, str(path))

    @contextmanager
    def memory_limit(self, limit: str) -> Iterator[None]:
        """Run a block under another DuckDB memory limit, restoring the previous one."""
        row = self.con.execute("SELECT current_setting('memory_limit')").fetchall()
        self.con.execute(f"SET memory_limit = '{_quote(limit)}'")
        try:
            yield
        finally:
            self.con.execute(f"SET memory_limit = '{_quote(str(row[0][0]))}'")

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """Run a block atomically: everything it wrote is kept, or nothing is."""
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield self.con
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _quote(value: str) -> str:
    return value.replace("'", "''")


@contextmanager
def registered(con: duckdb.DuckDBPyConnection, name: str, frame: object) -> Iterator[None]:
    """``frame`` (pandas or Arrow) visible to SQL on ``con`` as the view ``name`` during
    the block, and unregistered after it."""
    con.register(name, frame)
    try:
        yield
    finally:
        con.unregister(name)
