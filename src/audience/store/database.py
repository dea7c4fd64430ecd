"""Connections to the workspace database, with the session settings every query relies on."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import duckdb

from audience.errors import WorkspaceError
from audience.store.id_keys import refresh_id_keys
from audience.store.schema import migrate

logger = logging.getLogger(__name__)


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
        self._unit: _Unit | None = None
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
            if refresh_id_keys(self.con):
                logger.info("recomputed the event id keys of %s for this DuckDB's hash", path)

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
        """Run a block atomically: everything it wrote is kept, or nothing is.

        A transaction opened inside another joins it: only the outermost commits, so
        steps that are atomic on their own (the features, a run) become one unit when a
        caller wraps them (a segment run, a refresh). A failure inside an inner block
        rolls the whole unit back, even if the caller catches it.
        """
        if self._unit is not None:
            yield from self._joined(self._unit)
            return
        unit = self._unit = _Unit()
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield self.con
            if unit.failed:
                raise RuntimeError("a step inside this transaction failed; it was rolled back")
            self.con.execute("COMMIT")
        except BaseException:
            self._unit = None
            self._roll_back(unit)
            raise
        self._unit = None
        for publish in unit.on_commit:
            publish()

    def _joined(self, unit: _Unit) -> Iterator[duckdb.DuckDBPyConnection]:
        try:
            yield self.con
        except BaseException:
            unit.failed = True
            raise

    def _roll_back(self, unit: _Unit) -> None:
        try:
            self.con.execute("ROLLBACK")
        except duckdb.TransactionException:
            pass  # a failed COMMIT has rolled back already
        finally:
            for discard in unit.on_rollback:
                discard()

    def on_outcome(self, *, commit: Callable[[], None], rollback: Callable[[], None]) -> None:
        """What to do with files that belong to the open transaction's writes: ``commit``
        runs after the outermost commit, ``rollback`` if it rolls back instead."""
        if self._unit is None:
            raise RuntimeError("on_outcome needs an open transaction")
        self._unit.on_commit.append(commit)
        self._unit.on_rollback.append(rollback)

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


@dataclass
class _Unit:
    """The outermost open transaction: whether an inner block failed, and what to do with
    its files once it is decided."""

    failed: bool = False
    on_commit: list[Callable[[], None]] = field(default_factory=list)
    on_rollback: list[Callable[[], None]] = field(default_factory=list)


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
