"""Text files as physical lines: gzip, byte-order marks, UTF-16/32, line limits, CR-only ends.

Both text readers (CSV and JSON Lines) read a file through :func:`open_lines`, so that
every way a text file can be hostile is handled once:

- a gzip member that is truncated or fails its CRC, found while reading, is refused with
  one paragraph naming the file and the line it reached (not Python's ``EOFError``);
- a byte-order mark names the encoding (UTF-8, UTF-16 or UTF-32, either byte order), and
  UTF-16/32 text is recoded to UTF-8 as it is read, so the readers only ever split UTF-8
  (or another ASCII-compatible code page given with ``--encoding``) on ``\\n``;
- a line longer than the limit is never held in memory: it comes out as :class:`TooLong`
  (its number and length) for the reader to quarantine, and reading goes on after it;
- a file whose lines end with a bare CR (classic Mac OS, some exports) is split on CR.
"""

from __future__ import annotations

import codecs
import gzip
import io
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, cast

from audience.errors import ConfigError, SourceFileError

MAX_LINE_BYTES = 8 * 1024 * 1024
"""The longest physical line a text file may have; a longer one is quarantined."""

# Longest first: UTF-32-LE's mark begins with UTF-16-LE's.
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_WIDE = ("utf-16", "utf-32")
_BLOCK = 1 << 16
_READ_ERRORS = (OSError, EOFError, zlib.error)


@dataclass(frozen=True)
class TooLong:
    """A physical line over :data:`MAX_LINE_BYTES`: skipped, to be quarantined."""

    number: int
    size: int
    head: bytes
    """Its first bytes, for the quarantine's raw text."""

    @property
    def detail(self) -> str:
        """Why the line is quarantined, for people."""
        return (
            f"the line is {self.size:,} bytes long; the longest a line may be is "
            f"{MAX_LINE_BYTES:,} bytes"
        )


@dataclass(frozen=True)
class TextFile:
    """How a text file is to be read: the encoding its lines come out in, and its BOM."""

    path: Path
    encoding: str
    """The encoding the lines are given in (UTF-8 once UTF-16/32 is recoded)."""
    declared: str
    """The file's own encoding, as named to people."""
    bom: bytes

    @property
    def recoded(self) -> bool:
        """Whether the file is UTF-16/32, recoded to UTF-8 as it is read."""
        return _normal(self.declared).startswith(_WIDE)


def sniff_text(path: Path, encoding: str) -> TextFile:
    """The file's encoding: its byte-order mark wins over ``encoding`` (the default UTF-8)."""
    if not _known(encoding):
        raise ConfigError(
            f"--encoding {encoding!r} is not an encoding Audience knows. Expected a codec name "
            f"such as utf-8, cp1252, latin-1, utf-16 or shift_jis."
        )
    found = bom_of(read_head(path, 4))
    bom, declared = found if found is not None else (b"", encoding)
    wide = _normal(declared).startswith(_WIDE)
    return TextFile(path, "utf-8" if wide else declared, declared, bom)


def bom_of(head: bytes) -> tuple[bytes, str] | None:
    """The byte-order mark ``head`` starts with, and the encoding it names."""
    return next(((bom, name) for bom, name in _BOMS if head.startswith(bom)), None)


def read_head(path: Path, size: int) -> bytes:
    """The first ``size`` bytes, decompressed if the file is gzip."""
    with path.open("rb") as handle:
        head = handle.read(size)
    if not is_gzip_bytes(head):
        return head
    try:
        with gzip.open(path, "rb") as handle:
            return handle.read(size)
    except _READ_ERRORS as exc:
        raise corrupt_gzip(path, exc, None) from None


def open_lines(text: TextFile, *, limit: int = MAX_LINE_BYTES) -> Iterator[bytes | TooLong]:
    """The file's physical lines (each with its line end), in ``text.encoding``, numbered
    from 1 by position; a line over ``limit`` bytes is given as :class:`TooLong`."""
    number = 0
    try:
        with _open_binary(text) as handle:
            end = b"\r" if _cr_only(handle) else b"\n"
            for line in _split(handle, end, limit):
                number += 1
                if isinstance(line, TooLong):
                    yield TooLong(number, line.size, line.head)
                else:
                    yield line
    except _READ_ERRORS as exc:
        raise corrupt_gzip(text.path, exc, number + 1) from None
    except UnicodeDecodeError as exc:
        raise SourceFileError(
            f"cannot ingest {text.path}: near line {number + 1} it is not valid {text.declared} "
            f"text ({exc.reason}). Expected text in the encoding its byte-order mark or "
            f"--encoding names. Nothing was stored."
        ) from None


def corrupt_gzip(path: Path, exc: BaseException, line: int | None) -> SourceFileError:
    """The paragraph for a gzip file whose data ends early or fails its checks."""
    where = f" near line {line}" if line else ""
    return SourceFileError(
        f"cannot ingest {path}: its gzip data is truncated or corrupt{where} "
        f"({exc or 'the compressed data ended early'}). Expected a complete gzip file: "
        f"compress it again, or copy it again if the transfer was cut. Nothing was stored."
    )


def is_gzip_bytes(head: bytes) -> bool:
    return head.startswith(b"\x1f\x8b")


def _open_binary(text: TextFile) -> IO[bytes]:
    """The file's bytes after its byte-order mark (UTF-8 if it is recoded)."""
    with text.path.open("rb") as probe:
        compressed = is_gzip_bytes(probe.read(2))
    # Closed by the caller's ``with``, through the wrappers around it.
    raw = cast(IO[bytes], gzip.open(text.path, "rb")) if compressed else text.path.open("rb")  # noqa: SIM115
    if not text.recoded:
        raw.read(len(text.bom))
        return raw
    # A mark found names its byte order (-le/-be), whose codec keeps it as a character;
    # a utf-16/utf-32 given with --encoding reads its own mark.
    wrapper = io.TextIOWrapper(raw, encoding=text.declared, errors="strict", newline="")
    if text.bom:
        wrapper.read(1)
    return io.BufferedReader(_Utf8Recoded(wrapper), _BLOCK)


def _cr_only(handle: IO[bytes]) -> bool:
    """Whether the first block has CR line ends and no LF at all."""
    peek = cast(io.BufferedReader, handle).peek(_BLOCK) if hasattr(handle, "peek") else b""
    block = peek[:_BLOCK]
    return b"\r" in block and b"\n" not in block


def _split(handle: IO[bytes], end: bytes, limit: int) -> Iterator[bytes | TooLong]:
    if end == b"\n":
        while line := handle.readline(limit + 1):
            if len(line) > limit and not line.endswith(b"\n"):
                yield _skip_rest(handle, line)
            else:
                yield line
        return
    pending = b""
    while block := handle.read(_BLOCK):
        pending += block
        *lines, pending = pending.split(end)
        for line in lines:
            yield line + end if len(line) < limit else TooLong(0, len(line), line[:200])
        if len(pending) > limit:
            yield TooLong(0, len(pending), pending[:200])
            pending = b""
    if pending:
        yield pending


def _skip_rest(handle: IO[bytes], start: bytes) -> TooLong:
    size = len(start)
    while piece := handle.readline(_BLOCK):
        size += len(piece)
        if piece.endswith(b"\n"):
            break
    return TooLong(0, size, start[:200])


class _Utf8Recoded(io.RawIOBase):
    """A binary stream of UTF-8 read from a text stream (UTF-16/32 recoded on the fly)."""

    def __init__(self, text: io.TextIOWrapper) -> None:
        self._text = text
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._pending:
            piece = self._text.read(_BLOCK)
            if not piece:
                return 0
            self._pending = piece.encode("utf-8")
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size

    def close(self) -> None:
        self._text.close()
        super().close()


def _normal(encoding: str) -> str:
    return codecs.lookup(encoding).name if _known(encoding) else encoding.lower()


def _known(encoding: str) -> bool:
    try:
        codecs.lookup(encoding)
    except LookupError:
        return False
    return True
