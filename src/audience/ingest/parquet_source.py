"""Parquet reader: row groups streamed in batches, columns kept in their stored types."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from audience.errors import SourceFileError
from audience.ingest.batch import RawBatch, ReadChunk
from audience.ingest.mapping import Kind
from audience.ingest.sources import Format

# Nested Segment-style columns (properties.revenue) are flattened to their last part.
_NESTED_PREFIXES = ("properties.", "traits.", "context.traits.")


class ParquetSource:
    """A Parquet file; the "line" of a row is its 1-based row number."""

    format: Format = "parquet"

    def __init__(self, path: Path, kind: Kind) -> None:
        self.path = path
        self.kind = kind
        try:
            # Without pre_buffer=False, pyarrow keeps the buffered column chunks of every
            # row group read so far: memory grows with the file instead of staying bounded.
            self._file = pq.ParquetFile(path, pre_buffer=False)
        except (pa.ArrowException, OSError) as exc:
            raise SourceFileError(
                f"cannot ingest {path}: it is not a readable Parquet file ({exc}). "
                f"Expected Parquet, CSV or JSON Lines. Nothing was stored."
            ) from None
        self._flat_names = _flat_names(self._file.schema_arrow)
        self._flat_types = _flat_types(self._file.schema_arrow)

    @property
    def columns(self) -> list[str]:
        return list(self._flat_names)

    def check_mapped(self, renames: Mapping[str, str]) -> None:
        """A list or map column cannot hold a field's one value per row: refuse the file."""
        types = dict(zip(self._flat_names, self._flat_types, strict=True))
        for column, field in renames.items():
            kind = types.get(column)
            if kind is not None and pa.types.is_nested(kind):
                raise SourceFileError(
                    f"cannot ingest {self.path}: column {column!r} (read as {field!r}) holds "
                    f"{kind}, not one value per row. Expected text, a number or a timestamp; "
                    f"map another column with --map, or flatten it before ingesting. "
                    f"Nothing was stored."
                )

    @property
    def nested(self) -> bool:
        """Whether any column is a struct, list or map (its names are then flattened)."""
        return any(pa.types.is_nested(field.type) for field in self._file.schema_arrow)

    def chunks(self, chunk_rows: int) -> Iterator[ReadChunk]:
        for frame, lines in self._frames(chunk_rows):
            yield ReadChunk(batches=[RawBatch(self.kind, frame, lines, _renderer(frame))])

    def rows_at(self, wanted: np.ndarray, chunk_rows: int) -> Iterator[ReadChunk]:
        """Only the rows whose line is in the sorted ``wanted``, each exactly as
        :meth:`chunks` gives it (a chunk's column types depend on all of its rows)."""
        for frame, lines in self._frames(chunk_rows, wanted):
            keep = np.flatnonzero(np.isin(lines, wanted, assume_unique=True))
            if keep.size:
                part = frame.iloc[keep].reset_index(drop=True)
                yield ReadChunk(batches=[RawBatch(self.kind, part, lines[keep], _renderer(part))])

    def _frames(
        self, chunk_rows: int, wanted: np.ndarray | None = None
    ) -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
        offset = 0
        try:
            for record_batch in self._file.iter_batches(batch_size=chunk_rows):
                size = record_batch.num_rows
                lines = np.arange(offset + 1, offset + size + 1, dtype=np.int64)
                offset += size
                if wanted is not None and not _any_between(wanted, lines[0], lines[-1]):
                    continue  # converting a chunk is most of the cost; skip untouched ones
                table = pa.Table.from_batches([record_batch]).flatten()
                yield table.rename_columns(self._flat_names).to_pandas(), lines
        except (pa.ArrowException, OSError) as exc:
            raise SourceFileError(
                f"cannot ingest {self.path}: reading failed near row {offset + 1} ({exc}). "
                f"Nothing was stored."
            ) from None


def _any_between(sorted_values: np.ndarray, low: int, high: int) -> bool:
    start = int(np.searchsorted(sorted_values, low))
    return start < len(sorted_values) and int(sorted_values[start]) <= high


def _flat_names(schema: pa.Schema) -> list[str]:
    names = pa.Table.from_batches([], schema=schema).flatten().column_names
    short = []
    for name in names:
        for prefix in _NESTED_PREFIXES:
            if name.startswith(prefix):
                name = name[len(prefix) :]
                break
        short.append(name)
    return short if len(set(short)) == len(short) else names


def _flat_types(schema: pa.Schema) -> list[pa.DataType]:
    return list(pa.Table.from_batches([], schema=schema).flatten().schema.types)


def _renderer(frame: pd.DataFrame) -> Callable[[np.ndarray], list[str]]:
    def raw(positions: np.ndarray) -> list[str]:
        rows = frame.iloc[positions].astype("object").where(frame.iloc[positions].notna(), None)
        return [orjson.dumps(record, default=str).decode() for record in rows.to_dict("records")]

    return raw
