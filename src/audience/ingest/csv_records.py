"""A CSV file's records with exact line numbers, and the lines no record can be made of.

Python's ``csv`` reader is fed physical lines by :class:`LineFeed`, which knows which lines
each record spans. That is what makes three hostile cases safe:

- **An unterminated quote.** A quote that never closes swallows every later line into
  one field; left alone, those rows would be neither stored nor quarantined. A quoted
  field that runs to the end of the file or past :data:`MAX_RECORD_LINES` lines or
  :data:`~audience.ingest.text.MAX_LINE_BYTES` bytes is cut: the line it opens on is
  quarantined (``unterminated_quote``) and the lines after it are read again as records.
- **A line too long**, or one with **NUL bytes**, is quarantined on its own and reading
  goes on (``line_too_long``, ``nul_byte``).
- **Decoding errors** name their exact line.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from audience.errors import SourceFileError
from audience.ingest.text import MAX_LINE_BYTES, TooLong

MAX_RECORD_LINES = 1_000
"""The most physical lines one record (a quoted field with line breaks) may span."""

# Fed after the last line: inside an open quote it lands in the field, which shows the
# quote ran to the end of the file; otherwise it is a record of its own, the end. Two
# Unicode noncharacters, which no text interchanged in the wild is allowed to hold.
_END = "\ufdd0\ufdd1 end of file \ufdd1\ufdd0"
_GAP = "\n"  # what a quarantined line is replaced with: a blank line, which holds no row


@dataclass(frozen=True)
class BadLine:
    """A physical line quarantined before it reached the CSV reader, or a cut record."""

    line: int
    raw: str
    reason: str
    detail: str


@dataclass
class LineFeed:
    """Physical lines, decoded, for ``csv.reader``; remembers the current record's lines."""

    path: Path
    encoding: str
    lines: Iterator[bytes | TooLong]
    bad: list[BadLine] = field(default_factory=list)
    record: list[tuple[int, str]] = field(default_factory=list)
    cut: bool = False
    _pushed: list[tuple[int, str]] = field(default_factory=list)
    _number: int = 0
    _ended: bool = False
    _record_bytes: int = 0

    def __iter__(self) -> LineFeed:
        return self

    def __next__(self) -> str:
        if len(self.record) >= MAX_RECORD_LINES or self._record_bytes > MAX_LINE_BYTES:
            # Ends the record in progress: the reader hands back what it has so far.
            self.cut = True
            raise StopIteration
        number, text = self._pushed.pop() if self._pushed else self._read()
        self.record.append((number, text))
        self._record_bytes += len(text)
        return text

    def begin(self) -> None:
        """Start a new record."""
        self.record = []
        self.cut = False
        self._record_bytes = 0

    @property
    def start(self) -> int:
        return self.record[0][0] if self.record else self._number + 1

    def runaway(self, fields: list[str]) -> bool:
        """Whether the record just read is a quote that never closed (see module docs)."""
        return self.cut or bool(fields and _END in fields[-1])

    def at_end(self, fields: list[str]) -> bool:
        return fields == [_END]

    def quarantine_opening_line(self) -> None:
        """Quarantine the line a runaway quote opens on; read the lines after it again."""
        (number, text), rest = self.record[0], self.record[1:]
        reach = (
            "past the end of the file"
            if self._ended and not self.cut
            else (f"for more than {MAX_RECORD_LINES:,} lines or {MAX_LINE_BYTES:,} bytes")
        )
        detail = (
            f"a quoted field opens on this line and runs {reach} without its closing "
            f'quote; the lines after it are read as rows of their own (to keep a " inside a '
            f'quoted field, write it twice: "")'
        )
        self.bad.append(BadLine(number, text.rstrip("\r\n"), "unterminated_quote", detail))
        self._pushed.extend(reversed(rest))
        self.begin()

    def _read(self) -> tuple[int, str]:
        while True:
            if self._ended:
                raise StopIteration
            line = next(self.lines, None)
            if line is None:
                self._ended = True
                return self._number + 1, _END
            self._number += 1
            if isinstance(line, TooLong):
                self._too_long(line)
                return self._number, _GAP
            text = self._decode(line)
            if "\x00" in text:
                detail = "the line holds NUL bytes (0x00), which no text field may contain"
                self.bad.append(BadLine(self._number, _printable(text), "nul_byte", detail))
                return self._number, _GAP
            return self._number, text

    def _too_long(self, line: TooLong) -> None:
        head = _printable(line.head.decode(self.encoding, errors="replace")) + "…"
        self.bad.append(BadLine(self._number, head, "line_too_long", line.detail))

    def _decode(self, line: bytes) -> str:
        try:
            return line.decode(self.encoding)
        except UnicodeDecodeError as exc:
            raise SourceFileError(
                f"cannot ingest {self.path}: line {self._number} is not valid {self.encoding} "
                f"text ({exc.reason} at column {exc.start + 1}). If the file was saved by "
                f"Excel, retry with --encoding cp1252 (or latin-1). Nothing was stored."
            ) from None


def records(feed: LineFeed, dialect: type[csv.Dialect]) -> Iterator[tuple[int, list[str]]]:
    """Each record with the line it starts on; blank lines are skipped, runaway quotes cut.

    Lines quarantined on the way are appended to ``feed.bad`` as they are met.
    """
    reader = csv.reader(feed, dialect)
    while True:
        feed.begin()
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise SourceFileError(
                f"cannot ingest {feed.path}: line {feed.start} cannot be read as CSV "
                f"({exc}). Nothing was stored."
            ) from None
        if feed.at_end(fields):
            return
        if feed.runaway(fields):
            feed.quarantine_opening_line()
            continue
        if fields:
            yield feed.start, fields


def _printable(text: str) -> str:
    return text.replace("\x00", "\\0").rstrip("\r\n")[:1000]


csv.field_size_limit(2 * MAX_LINE_BYTES)
