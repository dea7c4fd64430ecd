"""CSV reader: delimiter and header detection, any encoding with a BOM, gzip, exact lines.

Python's ``csv`` module is used rather than a columnar reader because it reports the line
each record starts on and lets a row with the wrong number of fields be quarantined on
its own instead of failing the whole file.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np
import orjson
import pandas as pd

from audience.errors import SourceFileError
from audience.ingest.batch import RawBatch, ReadChunk, Unreadable
from audience.ingest.csv_records import BadLine, LineFeed, records
from audience.ingest.mapping import SYNONYMS, Kind, normalize_header
from audience.ingest.sources import Format
from audience.ingest.text import TooLong, open_lines, sniff_text

_SNIFF_BYTES = 64 * 1024
_DELIMITERS = ",;\t|"
_KNOWN_HEADERS = {syn for fields in SYNONYMS.values() for syns in fields.values() for syn in syns}


class CsvSource:
    """A delimited text file, read record by record in chunks."""

    format: Format = "csv"

    def __init__(self, path: Path, kind: Kind, *, encoding: str = "utf-8") -> None:
        self.path = path
        self.kind = kind
        self.text = sniff_text(path, encoding)
        sample = self._sample()
        self.dialect = _sniff_dialect(sample)
        first = self._header_record(sample)
        self.has_header = _looks_like_header(first, sample, self.dialect)
        names = first if self.has_header else [f"column_{i + 1}" for i in range(len(first))]
        self._columns = _unique(names)

    def check_mapped(self, renames: Mapping[str, str]) -> None:
        """Every text cell is one value."""

    @property
    def columns(self) -> list[str]:
        return list(self._columns)

    def chunks(self, chunk_rows: int) -> Iterator[ReadChunk]:
        width = len(self._columns)
        feed = LineFeed(self.path, self.text.encoding, open_lines(self.text))
        found = records(feed, self.dialect)
        if self.has_header:
            next(found, None)
        while True:
            chunk = ReadChunk()
            rows: list[list[str]] = []
            lines: list[int] = []
            for start, record in found:
                if len(record) == width:
                    rows.append(record)
                    lines.append(start)
                else:
                    chunk.unreadable.append(self._ragged(record, start, width))
                if len(rows) + len(chunk.unreadable) + len(feed.bad) >= chunk_rows:
                    break
            chunk.unreadable.extend(self._bad(bad) for bad in feed.bad)
            feed.bad.clear()
            if rows:
                chunk.batches.append(self.batch(rows, lines))
            if not rows and not chunk.unreadable:
                return
            yield chunk

    def batch(self, rows: list[list[str]], lines: list[int]) -> RawBatch:
        """Records of the header's width (and their lines) as a batch of text columns."""
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

    def _bad(self, bad: BadLine) -> Unreadable:
        return Unreadable(bad.line, bad.raw, bad.reason, bad.detail, self.kind)

    def _header_record(self, sample: str) -> list[str]:
        try:
            # newline="": lines end at CR, LF or CRLF, as the file has them.
            return next(csv.reader(io.StringIO(sample, newline=""), self.dialect), [])
        except csv.Error as exc:
            raise SourceFileError(
                f"cannot ingest {self.path}: its first line cannot be read as CSV ({exc}). "
                f"Nothing was stored."
            ) from None

    def _sample(self) -> str:
        """The first lines (up to 64 KiB) as text, to sniff the dialect and the header."""
        head: list[bytes] = []
        size = 0
        for line in open_lines(self.text):
            if isinstance(line, TooLong):
                if not head:
                    raise SourceFileError(
                        f"cannot ingest {self.path}: its first line is {line.size:,} bytes long, "
                        f"so it is not a delimited text file with a header. Expected CSV, "
                        f"Parquet or JSON Lines. Nothing was stored."
                    )
                break
            head.append(line)
            size += len(line)
            if size >= _SNIFF_BYTES:
                break
        raw = b"".join(head)
        if b"\x00" in raw:
            raise SourceFileError(
                f"cannot ingest {self.path}: it contains NUL bytes, so it is a binary file, not "
                f"{self.text.declared} text. Expected a delimited text file, Parquet or JSON "
                f"Lines; a UTF-16 file without a byte-order mark needs --encoding utf-16-le (or "
                f"utf-16-be). Nothing was stored."
            )
        try:
            sample = raw.decode(self.text.encoding)
        except UnicodeDecodeError as exc:
            number = raw[: exc.start].count(b"\n") + 1
            raise SourceFileError(
                f"cannot ingest {self.path}: line {number} is not {self.text.declared} text "
                f"({exc.reason}). If it is a spreadsheet export, save it as CSV UTF-8 or "
                f"retry with --encoding cp1252. Nothing was stored."
            ) from None
        if not sample.strip():
            raise SourceFileError(f"cannot ingest {self.path}: the file is empty.")
        return sample


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
