"""CSV reader: delimiter and header detection, UTF-8 with or without BOM, gzip, exact lines.

Python's ``csv`` module is used rather than a columnar reader because it reports the line
each record starts on and lets a row with the wrong number of fields be quarantined on
its own instead of failing the whole file.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, TextIO, cast

import numpy as np
import orjson
import pandas as pd

from audience.errors import SourceFileError
from audience.ingest.batch import RawBatch, ReadChunk, Unreadable
from audience.ingest.mapping import SYNONYMS, Kind, normalize_header
from audience.ingest.sources import Format, read_head

_SNIFF_BYTES = 64 * 1024
_DELIMITERS = ",;\t|"
_KNOWN_HEADERS = {syn for fields in SYNONYMS.values() for syns in fields.values() for syn in syns}

_Reader = Any  # the type of csv.reader(...) has no public name

csv.field_size_limit(16 * 1024 * 1024)


class CsvSource:
    """A delimited text file, read record by record in chunks."""

    format: Format = "csv"

    def __init__(self, path: Path, kind: Kind, *, encoding: str = "utf-8") -> None:
        self.path = path
        self.kind = kind
        self.encoding_name = encoding
        # utf-8-sig reads UTF-8 with or without a byte-order mark.
        self.encoding = "utf-8-sig" if encoding.lower().replace("_", "-") == "utf-8" else encoding
        sample = self._sample()
        self.dialect = _sniff_dialect(sample)
        first = next(csv.reader(io.StringIO(sample), self.dialect), [])
        self.has_header = _looks_like_header(first, sample, self.dialect)
        names = first if self.has_header else [f"column_{i + 1}" for i in range(len(first))]
        self._columns = _unique(names)

    @property
    def columns(self) -> list[str]:
        return list(self._columns)

    def chunks(self, chunk_rows: int) -> Iterator[ReadChunk]:
        width = len(self._columns)
        with self._open_binary() as handle:
            reader = csv.reader(self._decoded(handle), self.dialect)
            if self.has_header:
                self._next_record(reader)
            while True:
                chunk = ReadChunk()
                rows: list[list[str]] = []
                lines: list[int] = []
                while len(rows) + len(chunk.unreadable) < chunk_rows:
                    start = reader.line_num + 1
                    record = self._next_record(reader)
                    if record is None:
                        break
                    if not record:
                        continue  # a blank line holds no row
                    if len(record) == width:
                        rows.append(record)
                        lines.append(start)
                    else:
                        chunk.unreadable.append(self._ragged(record, start, width))
                if rows:
                    chunk.batches.append(self._batch(rows, lines))
                if not rows and not chunk.unreadable:
                    return
                yield chunk

    def _batch(self, rows: list[list[str]], lines: list[int]) -> RawBatch:
        columns = list(zip(*rows, strict=True))
        frame = pd.DataFrame(
            {
                name: pd.array(values, dtype="str")
                for name, values in zip(self._columns, columns, strict=True)
            }
        )
        names = self._columns

        def raw(positions: np.ndarray) -> list[str]:
            return [
                orjson.dumps(dict(zip(names, rows[int(p)], strict=True))).decode()
                for p in positions
            ]

        return RawBatch(self.kind, frame, np.asarray(lines, dtype=np.int64), raw)

    def _ragged(self, record: list[str], line: int, width: int) -> Unreadable:
        return Unreadable(
            line=line,
            raw=orjson.dumps(record).decode(),
            reason="malformed_row",
            detail=f"expected {width} fields as in the header, found {len(record)}",
            kind=self.kind,
        )

    def _decoded(self, handle: IO[bytes]) -> Iterator[str]:
        """Lines decoded one at a time, so a decoding error names its exact line."""
        for number, line in enumerate(handle, start=1):
            try:
                yield line.decode(self.encoding)
            except UnicodeDecodeError as exc:
                raise SourceFileError(
                    f"cannot ingest {self.path}: line {number} is not valid {self.encoding_name} "
                    f"text ({exc.reason} at column {exc.start + 1}). If the file was saved by "
                    f"Excel, retry with --encoding cp1252 (or latin-1). Nothing was stored."
                ) from None

    def _next_record(self, reader: _Reader) -> list[str] | None:
        try:
            record: list[str] = next(reader)
            return record
        except StopIteration:
            return None
        except csv.Error as exc:
            raise SourceFileError(
                f"cannot ingest {self.path}: line {reader.line_num} cannot be read as CSV "
                f"({exc}). Nothing was stored."
            ) from None

    def _open_binary(self) -> IO[bytes]:
        if _is_gzip(self.path):
            return cast(IO[bytes], gzip.open(self.path, "rb"))
        return self.path.open("rb")

    def _open(self) -> TextIO:
        if _is_gzip(self.path):
            return gzip.open(self.path, "rt", encoding=self.encoding, newline="")
        return self.path.open("r", encoding=self.encoding, newline="")

    def _sample(self) -> str:
        if b"\x00" in read_head(self.path, _SNIFF_BYTES):
            raise SourceFileError(
                f"cannot ingest {self.path}: it contains NUL bytes, so it is a binary file, not "
                f"CSV. Expected a delimited text file, Parquet or JSON Lines. Nothing was stored."
            )
        try:
            with self._open() as handle:
                sample = handle.read(_SNIFF_BYTES)
        except UnicodeDecodeError as exc:
            raise SourceFileError(
                f"cannot ingest {self.path}: it is not {self.encoding_name} text ({exc.reason} at "
                f"byte {exc.start}). If it is a spreadsheet export, save it as CSV UTF-8 or "
                f"retry with --encoding cp1252. Nothing was stored."
            ) from None
        except (OSError, EOFError) as exc:
            raise SourceFileError(f"cannot read {self.path}: {exc}. Nothing was stored.") from None
        if not sample.strip():
            raise SourceFileError(f"cannot ingest {self.path}: the file is empty.")
        # Cut at the last complete line so the sniffer never sees half a record.
        cut = sample.rfind("\n")
        return sample[: cut + 1] if 0 < cut < len(sample) - 1 else sample


def _sniff_dialect(sample: str) -> type[csv.Dialect]:
    try:
        return csv.Sniffer().sniff(sample, delimiters=_DELIMITERS)
    except csv.Error:
        # One column, or too little text to tell: a plain comma-separated file.
        return csv.excel


def _looks_like_header(first: list[str], sample: str, dialect: type[csv.Dialect]) -> bool:
    if any(normalize_header(cell) in _KNOWN_HEADERS for cell in first):
        return True
    try:
        return csv.Sniffer().has_header(sample)
    except csv.Error:
        return False


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    unique = []
    for name in (n.strip() for n in names):
        count = seen.get(name, 0)
        seen[name] = count + 1
        unique.append(name if count == 0 else f"{name}.{count}")
    return unique


def _is_gzip(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(2) == b"\x1f\x8b"
