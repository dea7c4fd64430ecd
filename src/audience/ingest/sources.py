"""Recognising a file's format and opening it as a stream of chunks."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Literal, Protocol

from audience.errors import SourceFileError
from audience.ingest.batch import ReadChunk
from audience.ingest.mapping import Kind
from audience.ingest.text import bom_of, read_head

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
    kind: Kind

    @property
    def columns(self) -> list[str]: ...

    def chunks(self, chunk_rows: int) -> Iterator[ReadChunk]: ...

    def check_mapped(self, renames: Mapping[str, str]) -> None:
        """Refuse the file if a column mapped to a field (``renames[column] = field``) can
        never hold that field's single values."""


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
    found = bom_of(head)  # UTF-16/32 JSON Lines (UTF-8's mark is stripped above)
    if found is not None and _after(head, *found).lstrip().startswith("{"):
        return "jsonl"
    return "csv"


def open_source(
    path: Path, kind: Kind, *, encoding: str = "utf-8", fmt: Format | None = None
) -> Source:
    """Open ``path`` for reading; raise :class:`SourceFileError` if that is impossible."""
    try:
        exists, is_file, is_dir = path.exists(), path.is_file(), path.is_dir()
    except OSError as exc:  # a symlink loop, a name too long
        raise SourceFileError(f"cannot ingest {path}: {exc.strerror}.") from None
    if not exists:
        raise SourceFileError(f"cannot ingest {path}: no such file. Check the path and retry.")
    if is_dir:
        raise SourceFileError(f"cannot ingest {path}: it is a directory, not a file.")
    if not is_file:
        raise SourceFileError(
            f"cannot ingest {path}: it is not a regular file (a pipe, socket or device); "
            f"save the data to a file and ingest that."
        )
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


def _after(head: bytes, bom: bytes, encoding: str) -> str:
    """The head after its byte-order mark, decoded as the mark says."""
    return head[len(bom) :].decode(encoding, errors="ignore")
