"""Recognising a file's format and opening it as a stream of chunks."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path
from typing import Literal, Protocol

from audience.errors import SourceFileError
from audience.ingest.batch import ReadChunk
from audience.ingest.mapping import Kind

Format = Literal["csv", "parquet", "jsonl"]

_SUFFIXES: dict[str, Format] = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}


class Source(Protocol):
    """An opened file: its format, its columns, and its rows in chunks."""

    path: Path
    format: Format

    @property
    def columns(self) -> list[str]: ...

    def chunks(self, chunk_rows: int) -> Iterator[ReadChunk]: ...


def detect_format(path: Path) -> Format:
    """By extension (``.csv.gz`` counts as ``.csv``), else by the first bytes."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    if suffixes and suffixes[-1] in _SUFFIXES:
        return _SUFFIXES[suffixes[-1]]
    head = read_head(path, 4096)
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
        return "jsonl"
    return "csv"


def read_head(path: Path, size: int) -> bytes:
    """The first ``size`` bytes, decompressed if the file is gzip."""
    with path.open("rb") as handle:
        head = handle.read(size)
    if head.startswith(b"\x1f\x8b"):
        try:
            with gzip.open(path, "rb") as handle:
                return handle.read(size)
        except (OSError, EOFError) as exc:
            raise SourceFileError(
                f"{path} looks gzip-compressed but cannot be read: {exc}. Nothing was stored."
            ) from None
    return head


def open_source(
    path: Path, kind: Kind, *, encoding: str = "utf-8", fmt: Format | None = None
) -> Source:
    """Open ``path`` for reading; raise :class:`SourceFileError` if that is impossible."""
    if not path.exists():
        raise SourceFileError(f"cannot ingest {path}: no such file. Check the path and retry.")
    if not path.is_file():
        raise SourceFileError(f"cannot ingest {path}: it is a directory, not a file.")
    fmt = fmt or detect_format(path)
    # Imported here so that opening one format never pays for another's reader.
    if fmt == "csv":
        from audience.ingest.csv_source import CsvSource

        return CsvSource(path, kind, encoding=encoding)
    if fmt == "parquet":
        from audience.ingest.parquet_source import ParquetSource

        return ParquetSource(path, kind)
    from audience.ingest.jsonl_source import JsonlSource

    return JsonlSource(path, kind, encoding=encoding)


def guess_kind(path: Path, fmt: Format) -> Kind | None:
    """The kind a file's name or format implies: JSON Lines of Segment calls are events."""
    if fmt == "jsonl":
        return "events"
    name = path.name.lower()
    for kind, words in (
        ("orders", ("order",)),
        ("contacts", ("contact", "customer", "member", "subscriber", "audience", "profile")),
        ("events", ("event",)),
    ):
        if any(word in name for word in words):
            return kind  # type: ignore[return-value]
    return None
