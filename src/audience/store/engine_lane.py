"""The engine lane of an ingest: DuckDB checks and stages the rows that plainly pass.

For a CSV or Parquet file of contacts or events (:func:`audience.ingest.engine_reads.engine_scan`)
whose columns the SQL checks know (:func:`audience.validate.engine_rules.engine_checks`),
one ``INSERT … SELECT`` stages every row that plainly passes, typed and keyed as the pandas
way would stage it (:meth:`Loader.stage_query`). The rows left — rejected or unusual — come
back as the chunks the file's reader yields, for the pandas checks, which accept or
quarantine each with its exact reason. Without a lane (JSON Lines, orders, an unusual
file), :func:`engine_lane` returns None and every row takes the pandas way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from audience.ingest import ColumnMapping, ReadChunk, Source, resolve_columns
from audience.ingest.engine_reads import LINE, EngineScan, engine_scan
from audience.store.loading import Loader, Table
from audience.validate import Rules
from audience.validate.engine_rules import engine_checks


@dataclass
class EngineLane:
    """What the lane did: the rows it staged, and the rest as chunks for the pandas checks."""

    staged: int
    mapping: ColumnMapping
    scan: EngineScan
    table: Table

    def leftovers(self, chunk_rows: int) -> Iterator[ReadChunk]:
        try:
            yield from self.scan.leftovers(Loader.staged_lines(self.table), chunk_rows)
        finally:
            self.scan.close()


def engine_lane(
    loader: Loader,
    source: Source,
    table: Table,
    header: ColumnMapping | None,
    explicit: Mapping[str, str] | None,
    rules: Callable[[ColumnMapping], Rules],
    secret: bytes,
) -> EngineLane | None:
    """Stage the rows of ``source`` that plainly pass into ``table``, or return None
    (nothing staged). ``header`` is the file's mapping (None for JSON Lines, whose keys
    the scan finds)."""
    if source.kind == "orders":
        return None  # orders: few rows, each needing more than SQL's checks
    scan = engine_scan(loader.con, source)
    if scan is None:
        return None
    mapping = header or resolve_columns(list(scan.types), source.kind, explicit, require=False)
    checks = engine_checks(mapping.kind, mapping, scan.types, rules(mapping), secret)
    if checks is None:
        scan.close()
        return None
    passes = f"({scan.plain(mapping)} AND {checks.passes})"
    query = f"SELECT {checks.typed(LINE)} FROM {scan.relation} WHERE {passes}"
    staged = loader.stage_query(table, query, [])
    return EngineLane(staged, mapping, scan, table)
