"""Files read by DuckDB itself, with each row's line number (the engine lane of issue 13.1).

:func:`engine_scan` gives a CSV or Parquet file as a relation DuckDB can check in SQL
(:mod:`audience.validate.engine_rules`), with the column :data:`LINE` holding the number the
file's own reader would give the row, and reads back the rows the SQL checks left, as the
same :class:`ReadChunk` the file's reader yields, for the pandas checks.

A file is given to the engine only where its numbering is certain; anything else returns
None and the file is read by its own reader:

- Parquet: a flat schema (no struct, list or map column); a row's line is
  ``file_row_number + 1``, as :class:`ParquetSource` numbers it.
- CSV: UTF-8 without a byte-order mark, not compressed, double quotes as the file's reader
  sniffed them. DuckDB reads it into a temporary table in file order, and the scan is kept
  only if every record is one physical line (no value holds a line break and the file has
  exactly one line per record and header), so that record ``n`` is on line ``n + 1``. A
  file DuckDB refuses (a ragged row, a stray quote, a line over its limit) goes to the
  reader that quarantines such rows one by one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import duckdb
import numpy as np

from audience.ingest.batch import ReadChunk
from audience.ingest.csv_source import CsvSource
from audience.ingest.jsonl_source import JsonlSource
from audience.ingest.mapping import ColumnMapping
from audience.ingest.parquet_source import ParquetSource
from audience.ingest.sources import Source
from audience.ingest.text import TextFile
from audience.sql_text import identifier, string

LINE = "__audience_line"
"""The column of a scan that holds each row's line number."""

ROWS_TABLE = "_engine_rows"
LEFT_TABLE = "_engine_left"
_BLOCK = 64 << 20


class EngineScan(Protocol):
    relation: str
    """SQL for a relation of :data:`LINE` and the file's columns (as the file names them)."""
    types: dict[str, str]
    """Each column's DuckDB type, in the file's order."""

    def plain(self, mapping: ColumnMapping) -> str:
        """SQL true where the file's own reader would give the row as the relation has it
        (for JSON Lines: a plain ``track`` call whose values are scalars of the expected
        JSON types); the other rows are left to that reader."""
        ...

    def leftovers(self, taken: str, chunk_rows: int) -> Iterator[ReadChunk]:
        """The rows whose line is not in ``taken`` (SQL for a relation of one column, the
        lines staged), in chunks, as the file's reader would give them."""
        ...

    def close(self) -> None: ...


def engine_scan(con: duckdb.DuckDBPyConnection, source: Source) -> EngineScan | None:
    """The file as a relation DuckDB reads, or None if its line numbers would not be certain."""
    if isinstance(source, ParquetSource):
        return _parquet_scan(con, source)
    if isinstance(source, CsvSource):
        return _csv_scan(con, source)
    if isinstance(source, JsonlSource):
        from audience.ingest.engine_jsonl import jsonl_scan

        return jsonl_scan(con, source)
    return None


@dataclass
class Scan:
    con: duckdb.DuckDBPyConnection
    relation: str
    types: dict[str, str]

    def plain(self, mapping: ColumnMapping) -> str:
        return "true"


@dataclass
class _ParquetScan(Scan):
    source: ParquetSource

    def leftovers(self, taken: str, chunk_rows: int) -> Iterator[ReadChunk]:
        lines = self.con.execute(left_lines(self.relation, taken)).fetchnumpy()[LINE]
        if len(lines) == 0:
            return iter(())
        return self.source.rows_at(np.asarray(lines, dtype=np.int64), chunk_rows)

    def close(self) -> None:
        """Nothing to release: the relation is the file."""


def _parquet_scan(con: duckdb.DuckDBPyConnection, source: ParquetSource) -> EngineScan | None:
    if source.nested or LINE in source.columns:
        return None
    relation = (
        f"(SELECT file_row_number + 1 AS {LINE}, * EXCLUDE (file_row_number) "
        f"FROM read_parquet({string(str(source.path))}, file_row_number = true))"
    )
    try:
        described = con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()
    except duckdb.Error:
        return None  # the Parquet reader names what is wrong with the file
    types = {str(row[0]): str(row[1]) for row in described if row[0] != LINE}
    if list(types) != source.columns:
        return None
    return _ParquetScan(con, relation, types, source)


@dataclass
class _CsvScan(Scan):
    source: CsvSource

    def leftovers(self, taken: str, chunk_rows: int) -> Iterator[ReadChunk]:
        names = ", ".join(identifier(name) for name in self.source.columns)
        # Numbered apart first: the pandas checks use the connection between two pages,
        # which would end a result still being fetched.
        self.con.execute(
            f"CREATE OR REPLACE TEMP TABLE {LEFT_TABLE} AS SELECT row_number() OVER "
            f"(ORDER BY {LINE}) AS _n, {LINE}, {names} FROM {self.relation} "
            f"WHERE {LINE} NOT IN ({taken})"
        )
        done = 0
        while True:
            batch = self.con.execute(
                f"SELECT {LINE}, {names} FROM {LEFT_TABLE} WHERE _n > ? AND _n <= ? ORDER BY _n",
                [done, done + chunk_rows],
            ).fetchall()
            if not batch:
                return
            done += len(batch)
            lines = [int(row[0]) for row in batch]
            # Python's csv reader gives an empty field as "", DuckDB's as NULL.
            rows = [["" if value is None else value for value in row[1:]] for row in batch]
            yield ReadChunk(batches=[self.source.batch(rows, lines)])

    def close(self) -> None:
        self.con.execute(f"DROP TABLE IF EXISTS {LEFT_TABLE}")
        self.con.execute(f"DROP TABLE IF EXISTS {ROWS_TABLE}")


def _csv_scan(con: duckdb.DuckDBPyConnection, source: CsvSource) -> EngineScan | None:
    if not _plain_csv(source) or LINE in source.columns:
        return None
    layout = file_layout(source.path)
    # Without doubled quotes the sniffer cannot tell whether "" escapes a quote; DuckDB
    # reads it as one, so such a file is the csv module's to read.
    if layout is None or (layout.doubled_quotes and not source.dialect.doublequote):
        return None
    columns = ", ".join(f"{string(name)}: 'VARCHAR'" for name in source.columns)
    delimiter = source.dialect.delimiter
    read = (
        f"read_csv({string(str(source.path))}, columns = {{{columns}}}, "
        f"header = {str(source.has_header).lower()}, delim = {string(delimiter)}, "
        "quote = '\"', escape = '\"', strict_mode = true, auto_detect = false, "
        "null_padding = false, compression = 'none')"
    )
    if not numbered_rows(con, ROWS_TABLE, read, int(source.has_header)):
        return None
    scan = _CsvScan(con, ROWS_TABLE, dict.fromkeys(source.columns, "VARCHAR"), source)
    if not _one_line_per_record(con, source, layout.lines):
        scan.close()
        return None
    return scan


def left_lines(relation: str, taken: str) -> str:
    """SQL for the lines of ``relation`` not in ``taken``, in order: an anti-join on the
    line numbers, which reads no other column (the checks are not evaluated again)."""
    return f"SELECT {LINE} FROM {relation} WHERE {LINE} NOT IN ({taken}) ORDER BY 1"


def numbered_rows(con: duckdb.DuckDBPyConnection, table: str, read: str, skipped: int) -> bool:
    """Read ``read`` (a table function over a text file) into the temporary ``table``, each
    row numbered in file order after ``skipped`` lines; False (and no table) if DuckDB
    refuses the file."""
    try:
        # File order is kept while the rows are numbered (the workspace allows reordering).
        con.execute("SET preserve_insertion_order = true")
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {table} AS "
            f"SELECT row_number() OVER () + {skipped} AS {LINE}, * FROM {read}"
        )
    except duckdb.Error:
        con.execute(f"DROP TABLE IF EXISTS {table}")
        return False
    finally:
        con.execute("SET preserve_insertion_order = false")
    return True


def plain_text(text: TextFile) -> bool:
    """Whether DuckDB reads the file's bytes as its own reader reads its lines: UTF-8,
    without a byte-order mark, not compressed."""
    return (
        text.encoding.lower().replace("_", "-") in ("utf-8", "utf8")
        and not text.recoded
        and not text.bom
        and not _gzipped(text.path)
    )


def _plain_csv(source: CsvSource) -> bool:
    dialect = source.dialect
    return (
        plain_text(source.text)
        and dialect.quotechar == '"'
        and dialect.escapechar is None
        and not dialect.skipinitialspace
        and len(dialect.delimiter) == 1
    )


def _gzipped(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(2) == b"\x1f\x8b"


@dataclass(frozen=True)
class Layout:
    lines: int
    """Physical lines (a last line without an end counts)."""
    doubled_quotes: bool
    """Whether ``""`` occurs anywhere."""


def file_layout(path: Path, *, separator: str | None = None) -> Layout | None:
    """The file's lines, or None if any line ends in a lone CR (which the two readers might
    split differently) or holds a NUL byte (or ``separator``)."""
    lines = 0
    doubled = False
    last = b""
    with path.open("rb") as handle:
        while block := handle.read(_BLOCK):
            if block.count(b"\r") != block.count(b"\r\n") + (block.endswith(b"\r")):
                return None
            if last == b"\r" and not block.startswith(b"\n"):
                return None
            if b"\0" in block:
                return None  # the csv module's reader quarantines a line with NUL bytes
            if separator is not None and separator.encode() in block:
                return None
            doubled = doubled or b'""' in block or (last == b'"' and block.startswith(b'"'))
            lines += block.count(b"\n")
            last = block[-1:]
    if last == b"\r":
        return None
    return Layout(lines + (1 if last not in (b"", b"\n") else 0), doubled)


def _one_line_per_record(con: duckdb.DuckDBPyConnection, source: CsvSource, physical: int) -> bool:
    breaks = " OR ".join(
        f"strpos({identifier(name)}, chr(10)) > 0 OR strpos({identifier(name)}, chr(13)) > 0"
        for name in source.columns
    )
    row = con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE {breaks}) FROM {ROWS_TABLE}"
    ).fetchone()
    assert row is not None
    records, broken = int(row[0]), int(row[1])
    return broken == 0 and records + int(source.has_header) == physical
