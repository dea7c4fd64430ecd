"""A corpus of hostile input files, each with what ingesting it must do.

Every entry builds its file in a folder and states the outcome: either the whole file is
refused (with words the one-paragraph error must contain), or every row is accounted for
with the exact counts and quarantine reasons below. The counts follow from the bytes each
builder writes; the comment beside each says why.
"""

from __future__ import annotations

import codecs
import gzip
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

TS = "2024-03-05T10:22:11Z"
CONTACTS = "email,country\na@example.com,US\nb@example.com,DE\n"


@dataclass(frozen=True)
class Hostile:
    name: str
    kind: str
    build: Callable[[Path], Path]
    refused: tuple[str, ...] = ()
    """Words the error paragraph must contain; empty when the file is read."""
    read: int = 0
    accepted: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    encoding: str | None = None


def _bytes(name: str, data: bytes) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(data)
        return path

    return build


def _text(name: str, text: str, encoding: str = "utf-8") -> Callable[[Path], Path]:
    return _bytes(name, text.encode(encoding))


def _events(rows: list[str], header: str = "email,event,timestamp") -> str:
    return "\n".join([header, *rows]) + "\n"


def _calls(*calls: str) -> bytes:
    return ("\n".join(calls) + "\n").encode()


def _track(**fields: object) -> str:
    call = {"type": "track", "event": "Email Opened", "userId": "u1", "timestamp": TS}
    call.update(fields)
    return json.dumps(call)


def _raw(**json_texts: str) -> str:
    """A track call written by hand: each value is JSON text as a client might send it."""
    parts = {"type": '"track"', "event": '"x"', "userId": '"u"', "timestamp": f'"{TS}"'}
    parts.update(json_texts)
    return "{" + ", ".join(f'"{key}": {text}' for key, text in parts.items()) + "}"


def _gzipped(name: str, text: str, cut: Callable[[bytes], bytes]) -> Callable[[Path], Path]:
    return _bytes(name, cut(gzip.compress(text.encode())))


def _bad_crc(data: bytes) -> bytes:
    # The trailer's first four bytes are the CRC-32 of the data: flip one bit of it.
    return data[:-8] + bytes([data[-8] ^ 1]) + data[-7:]


def _parquet(name: str, table: pa.Table) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        path = folder / name
        pq.write_table(table, path)
        return path

    return build


def _truncated_parquet(folder: Path) -> Path:
    path = _parquet("full.parquet", _good_events_table())(folder)
    cut = folder / "truncated.parquet"
    cut.write_bytes(path.read_bytes()[:-100])
    path.unlink()
    return cut


def _good_events_table() -> pa.Table:
    return pa.table(
        {"email": ["a@example.com"] * 3, "event": ["Email Opened"] * 3, "timestamp": [TS] * 3}
    )


def _symlink(folder: Path) -> Path:
    target = _text("target.csv", CONTACTS)(folder)
    link = folder / "link.csv"
    link.symlink_to(target)
    return link


def _dangling(folder: Path) -> Path:
    link = folder / "dangling.csv"
    link.symlink_to(folder / "gone.csv")
    return link


def _loop(folder: Path) -> Path:
    (folder / "loop_a.csv").symlink_to(folder / "loop_b.csv")
    (folder / "loop_b.csv").symlink_to(folder / "loop_a.csv")
    return folder / "loop_a.csv"


def _directory(folder: Path) -> Path:
    path = folder / "folder.csv"
    path.mkdir()
    return path


def _fifo(folder: Path) -> Path:
    path = folder / "pipe.csv"
    os.mkfifo(path)
    return path


def _many(count: int, broken_at: int) -> str:
    """``count`` contacts; the one on data row ``broken_at`` opens a quote it never closes."""
    rows = [f"u{i}@example.com,Name {i}" for i in range(count)]
    rows[broken_at - 1] = f'u{broken_at - 1}@example.com,"Name'
    return "Email Address,First Name\n" + "\n".join(rows) + "\n"


def _nul_late() -> str:
    # 3,000 events, ~120 KB: the NUL on row 2,500 lies past the first 64 KB sniffed.
    rows = [f"u{i}@example.com,Email Opened,{TS}" for i in range(3000)]
    rows[2499] = f"u2499@example.com,Email\x00Opened,{TS}"
    return _events(rows)


def _huge_line() -> str:
    rows = [f"u{i}@example.com,Email Opened,{TS}" for i in range(5)]
    rows[2] = "u2@example.com," + "x" * (9 * 1024 * 1024) + f",{TS}"
    return _events(rows)


CORPUS: list[Hostile] = [
    # Encodings: each byte-order mark names its encoding; 2 contacts read in each.
    Hostile(
        "utf8_bom.csv",
        "contacts",
        _bytes("utf8_bom.csv", codecs.BOM_UTF8 + CONTACTS.encode()),
        read=2,
        accepted=2,
    ),
    Hostile(
        "utf16le_bom.csv",
        "contacts",
        _bytes("utf16le_bom.csv", codecs.BOM_UTF16_LE + CONTACTS.encode("utf-16-le")),
        read=2,
        accepted=2,
    ),
    Hostile(
        "utf16be_bom.csv",
        "contacts",
        _bytes("utf16be_bom.csv", codecs.BOM_UTF16_BE + CONTACTS.encode("utf-16-be")),
        read=2,
        accepted=2,
    ),
    Hostile(
        "utf32le_bom.csv",
        "contacts",
        _bytes("utf32le_bom.csv", codecs.BOM_UTF32_LE + CONTACTS.encode("utf-32-le")),
        read=2,
        accepted=2,
    ),
    Hostile(
        "utf16_bom.jsonl",
        "events",
        _bytes(
            "utf16_bom.jsonl",
            codecs.BOM_UTF16_LE
            + _calls(_track(), _track(event="Email Clicked")).decode().encode("utf-16-le"),
        ),
        read=2,
        accepted=2,
    ),
    Hostile(
        "cp1252.csv",
        "contacts",
        _text("cp1252.csv", "email,country\nj@example.com,Curaçao\n", "cp1252"),
        read=1,
        accepted=1,
        encoding="cp1252",
    ),
    Hostile(
        "cp1252_as_utf8.csv",
        "contacts",
        _text("cp1252_as_utf8.csv", "email,country\nj@example.com,Curaçao\n", "cp1252"),
        refused=("line 2", "utf-8", "--encoding cp1252"),
    ),
    Hostile(
        "utf16_no_bom.csv",
        "contacts",
        _text("utf16_no_bom.csv", CONTACTS, "utf-16-le"),
        refused=("NUL bytes", "--encoding utf-16-le"),
    ),
    Hostile(
        "unknown_encoding.csv",
        "contacts",
        _text("unknown_encoding.csv", CONTACTS),
        refused=("not an encoding",),
        encoding="klingon-8",
    ),
    # Line ends: a bare CR ends each of the 2 rows; CRLF too.
    Hostile(
        "cr_only.csv",
        "contacts",
        _text("cr_only.csv", CONTACTS.replace("\n", "\r")),
        read=2,
        accepted=2,
    ),
    Hostile(
        "crlf.csv",
        "contacts",
        _text("crlf.csv", CONTACTS.replace("\n", "\r\n")),
        read=2,
        accepted=2,
    ),
    # NUL bytes past the sniffed head: that line alone is quarantined.
    Hostile(
        "nul_late.csv",
        "events",
        _text("nul_late.csv", _nul_late()),
        read=3000,
        accepted=2999,
        reasons={"nul_byte": 1},
    ),
    Hostile(
        "binary.png",
        "contacts",
        _bytes("binary.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4),
        refused=("binary",),
    ),
    # Ragged rows: one short, one long, of 4.
    Hostile(
        "ragged.csv",
        "contacts",
        _text(
            "ragged.csv",
            "email,country\na@example.com,US\nb@example.com\nc@example.com,DE,extra\nd@example.com,FR\n",
        ),
        read=4,
        accepted=2,
        reasons={"malformed_row": 2},
    ),
    # Unterminated quotes: the opening line is quarantined, the rows after it still read.
    Hostile(
        "unterminated_last.csv",
        "contacts",
        _text(
            "unterminated_last.csv",
            'Email Address,First Name\na@example.com,"Ann\nb@example.com,Bob\nc@example.com,Cy\n',
        ),
        read=3,
        accepted=2,
        reasons={"unterminated_quote": 1},
    ),
    Hostile(
        "unterminated_row10.csv",
        "contacts",
        _text("unterminated_row10.csv", _many(1000, 10)),
        read=1000,
        accepted=999,
        reasons={"unterminated_quote": 1},
    ),
    Hostile(
        "unterminated_first_column.csv",
        "contacts",
        _text(
            "unterminated_first_column.csv", 'email,country\n"a@example.com,US\nb@example.com,DE\n'
        ),
        read=2,
        accepted=1,
        reasons={"unterminated_quote": 1},
    ),
    # A quoted field with a line break is one record over two lines, not a problem.
    Hostile(
        "multiline_field.csv",
        "contacts",
        _text(
            "multiline_field.csv",
            'email,country\na@example.com,"United\nStates"\nb@example.com,DE\n',
        ),
        read=2,
        accepted=2,
    ),
    Hostile(
        "duplicate_headers.csv",
        "contacts",
        _text("duplicate_headers.csv", "email,email,country\na@example.com,x@example.com,US\n"),
        read=1,
        accepted=1,
    ),
    Hostile(
        "huge_line.csv",
        "events",
        _text("huge_line.csv", _huge_line()),
        read=5,
        accepted=4,
        reasons={"line_too_long": 1},
    ),
    Hostile("empty.csv", "contacts", _text("empty.csv", ""), refused=("empty",)),
    Hostile(
        "header_only.csv",
        "contacts",
        _text("header_only.csv", "email,country\n"),
        read=0,
        accepted=0,
    ),
    # Timestamps: BC, the epoch, year 1 and year -1 lie before 1990, 9999 in the future.
    Hostile(
        "absurd_timestamps.csv",
        "events",
        _text(
            "absurd_timestamps.csv",
            _events(
                [
                    f"a@example.com,Email Opened,{ts}"
                    for ts in (
                        "-0044-03-15T00:00:00Z",
                        "1970-01-01T00:00:00Z",
                        "0001-01-01",
                        "9999-12-31T00:00:00Z",
                        "-1",
                        TS,
                    )
                ]
            ),
        ),
        read=6,
        accepted=1,
        reasons={"timestamp_out_of_range": 4, "future_timestamp": 1},
    ),
    # Numbers beyond any real order: 2**63, 1e19, 1e400 (infinite), a revenue of 1e13.
    Hostile(
        "huge_numbers.csv",
        "events",
        _text(
            "huge_numbers.csv",
            _events(
                [
                    f"a@example.com,Order Completed,{TS},{q},{r}"
                    for q, r in (
                        ("9223372036854775808", "1"),
                        ("1e19", "1"),
                        ("1", "1e400"),
                        ("1", "1e13"),
                        ("2", "19.99"),
                        ("-1e19", "1"),
                    )
                ],
                "email,event,timestamp,quantity,revenue",
            ),
        ),
        read=6,
        accepted=1,
        reasons={"number_out_of_range": 4, "negative_amount": 1},
    ),
    # Injection strings are text like any other: stored as written, escaped where shown.
    Hostile(
        "injection.csv",
        "events",
        _text(
            "injection.csv",
            _events(
                [
                    f'a@example.com,"=HYPERLINK(""http://x"",""y"")",{TS}',
                    f"a@example.com,<script>alert(1)</script>,{TS}",
                    f"a@example.com,[bold]markup[/bold],{TS}",
                    f"a@example.com,'; DROP TABLE events; --,{TS}",
                ]
            ),
        ),
        read=4,
        accepted=4,
    ),
    # JSON Lines: each line names its own problem.
    Hostile(
        "hostile.jsonl",
        "events",
        _bytes(
            "hostile.jsonl",
            _calls(
                _track(),
                _raw(type='{"a": 1}'),
                _raw(type='["track"]'),
                _track(userId={"id": 1}),
                _track(messageId=[1, 2]),
                _raw(properties='{"revenue": 1e400}'),
                _raw(properties='{"revenue": NaN}'),
                _raw(properties='{"revenue": -Infinity}'),
                '{"a": ' * 2000 + "1" + "}" * 2000,
                "[1, 2, 3]",
                '{"type": "track", "event": "x", "userId": "u"',
                _raw(event='"\\udfff"'),
                _track(properties={"quantity": 18446744073709551616}),
                _track(timestamp=-1),
            ),
        ),
        read=14,
        accepted=1,
        reasons={
            "unsupported_call": 2,
            "nested_value": 2,
            "number_out_of_range": 2,
            "nonstandard_literal": 2,
            "nesting_too_deep": 1,
            "malformed_json": 3,
            "timestamp_out_of_range": 1,
        },
    ),
    Hostile(
        "huge_line.jsonl",
        "events",
        _bytes(
            "huge_line.jsonl",
            _calls(
                _track(),
                _track(properties={"note": "x" * (9 * 1024 * 1024)}),
                _track(event="Email Clicked"),
            ),
        ),
        read=3,
        accepted=2,
        reasons={"line_too_long": 1},
    ),
    # Archives.
    Hostile(
        "good.csv.gz",
        "contacts",
        _gzipped("good.csv.gz", CONTACTS, lambda data: data),
        read=2,
        accepted=2,
    ),
    Hostile(
        "truncated.csv.gz",
        "events",
        _gzipped(
            "truncated.csv.gz", _nul_late().replace("\x00", ""), lambda data: data[: len(data) // 2]
        ),
        refused=("gzip", "truncated or corrupt"),
    ),
    Hostile(
        "bad_crc.csv.gz",
        "contacts",
        _gzipped("bad_crc.csv.gz", CONTACTS, _bad_crc),
        refused=("gzip", "truncated or corrupt"),
    ),
    Hostile(
        "truncated.jsonl.gz",
        "events",
        _bytes(
            "truncated.jsonl.gz",
            gzip.compress(_calls(*[_track(messageId=f"m{i}") for i in range(2000)]))[:3000],
        ),
        refused=("gzip", "truncated or corrupt"),
    ),
    Hostile(
        "plain_named.csv.gz", "contacts", _text("plain_named.csv.gz", CONTACTS), read=2, accepted=2
    ),
    # Parquet.
    Hostile(
        "corrupt.parquet",
        "events",
        _bytes("corrupt.parquet", b"PAR1" + bytes(range(256)) * 8 + b"PAR1"),
        refused=("not a readable Parquet file",),
    ),
    Hostile("truncated.parquet", "events", _truncated_parquet, refused=("Parquet",)),
    Hostile(
        "wrong_types.parquet",
        "events",
        _parquet(
            "wrong_types.parquet",
            pa.table(
                {
                    "email": ["a@example.com"] * 3,
                    "event": ["Order Completed"] * 3,
                    "timestamp": pa.array([1_700_000_000_000, 2, 3], pa.int64()),
                    "revenue": ["abc", "12.5", "1e400"],
                }
            ),
        ),
        read=3,
        accepted=0,
        reasons={"unparseable_timestamp": 3},
    ),
    Hostile(
        "list_column.parquet",
        "events",
        _parquet(
            "list_column.parquet",
            pa.table(
                {
                    "userId": pa.array([[1, 2]], pa.list_(pa.int64())),
                    "event": ["x"],
                    "timestamp": [TS],
                }
            ),
        ),
        refused=("'userId'", "not one value per row"),
    ),
    # Not files.
    Hostile("symlink", "contacts", _symlink, read=2, accepted=2),
    Hostile("dangling_symlink", "contacts", _dangling, refused=("no such file",)),
    Hostile("symlink_loop", "contacts", _loop, refused=("cannot ingest",)),
    Hostile("directory", "contacts", _directory, refused=("directory",)),
    Hostile("fifo", "contacts", _fifo, refused=("not a regular file",)),
]
