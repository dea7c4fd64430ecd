"""Readers: formats, dialects, encodings and exact line numbers."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from audience.errors import SourceFileError
from audience.ingest import ReadChunk, detect_format, open_source


def read_all(path: Path, kind: str = "contacts", chunk_rows: int = 1000) -> list[ReadChunk]:
    return list(open_source(path, kind).chunks(chunk_rows))  # type: ignore[arg-type]


def rows_of(chunks: list[ReadChunk]) -> pd.DataFrame:
    return pd.concat([b.frame for c in chunks for b in c.batches], ignore_index=True)


def lines_of(chunks: list[ReadChunk]) -> list[int]:
    return [int(x) for c in chunks for b in c.batches for x in b.lines]


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_csv_delimiter_is_detected(tmp_path: Path, delimiter: str) -> None:
    text = delimiter.join(["Email", "Country"]) + "\n" + delimiter.join(["a@b.co", "US"]) + "\n"
    path = tmp_path / "c.csv"
    path.write_text(text, encoding="utf-8")
    source = open_source(path, "contacts")
    assert source.columns == ["Email", "Country"]
    assert rows_of(list(source.chunks(10))).iloc[0].tolist() == ["a@b.co", "US"]


def test_utf8_bom_is_not_part_of_the_first_header(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_bytes("\ufeffEmail,Name\nä@b.co,Zoë\n".encode())
    source = open_source(path, "contacts")
    assert source.columns == ["Email", "Name"]
    assert rows_of(list(source.chunks(10)))["Name"].iloc[0] == "Zoë"


def test_gzip_csv_reads_like_plain(tmp_path: Path) -> None:
    path = tmp_path / "c.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write("Email\na@b.co\nc@d.co\n")
    assert detect_format(path) == "csv"
    assert rows_of(read_all(path))["Email"].tolist() == ["a@b.co", "c@d.co"]


def test_headerless_csv_gets_positional_names(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("a@b.co,12\nc@d.co,14\ne@f.co,16\n", encoding="utf-8")
    source = open_source(path, "contacts")
    assert source.columns == ["column_1", "column_2"]
    assert lines_of(list(source.chunks(10))) == [1, 2, 3]


def test_line_numbers_count_quoted_newlines_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text('Email,Note\na@b.co,"two\nlines"\n\nc@d.co,x\n', encoding="utf-8")
    chunks = read_all(path)
    assert lines_of(chunks) == [2, 5]
    assert rows_of(chunks)["Note"].tolist() == ["two\nlines", "x"]


def test_a_row_with_the_wrong_field_count_is_unreadable_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("Email,Country\na@b.co,US\nc@d.co,DE,extra\ne@f.co,FR\n", encoding="utf-8")
    chunks = read_all(path)
    [bad] = [u for c in chunks for u in c.unreadable]
    assert (bad.line, bad.reason) == (3, "malformed_row")
    assert "expected 2 fields" in bad.detail
    assert lines_of(chunks) == [2, 4]


def test_chunks_bound_the_rows_held_at_once(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("Email\n" + "".join(f"u{i}@x.co\n" for i in range(25)), encoding="utf-8")
    chunks = read_all(path, chunk_rows=10)
    assert [c.rows for c in chunks] == [10, 10, 5]
    assert lines_of(chunks) == list(range(2, 27))


def test_a_raw_row_renders_as_the_file_had_it(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("Email,Country\na@b.co,US\n", encoding="utf-8")
    [batch] = read_all(path)[0].batches
    assert batch.raw(np.array([0])) == ['{"Email":"a@b.co","Country":"US"}']


def test_text_in_another_encoding_is_refused_with_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_bytes("Email,Name\na@b.co,Zo\xeb\n".encode("latin-1"))
    with pytest.raises(SourceFileError, match="--encoding cp1252"):
        read_all(path)


def test_a_binary_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "image.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(SourceFileError, match="binary file"):
        open_source(path, "contacts")


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SourceFileError, match="no such file"):
        open_source(tmp_path / "nope.csv", "contacts")


def test_jsonl_routes_segment_calls_by_type(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    path.write_text(
        '{"type":"identify","userId":"C1","traits":{"email":"a@b.co","address":{"country":"US"}}}\n'
        '{"type":"track","messageId":"m1","userId":"C1","event":"Order Completed",'
        '"timestamp":"2025-01-01T00:00:00Z","properties":{"total":12.5,'
        '"products":[{"category":"shoes","quantity":2},{"category":"hats","quantity":1}]}}\n'
        '{"type":"page","messageId":"m2","userId":"C1","timestamp":"2025-01-01T00:00:00Z"}\n'
        '{"type":"alias","userId":"C1"}\n'
        '{"type":"track", "event": \n',
        encoding="utf-8",
    )
    [chunk] = read_all(path, kind="events")
    batches = {b.kind: b for b in chunk.batches}
    contacts = batches["contacts"].frame.iloc[0]
    assert (contacts["userId"], contacts["email"], contacts["country"]) == ("C1", "a@b.co", "US")
    events = batches["events"].frame
    assert events["event"].tolist() == ["Order Completed", "Page Viewed"]
    assert (events["total"].iloc[0], events["category"].iloc[0], events["quantity"].iloc[0]) == (
        12.5,
        "shoes",
        3,
    )
    assert batches["events"].lines.tolist() == [2, 3]
    assert [(u.line, u.reason) for u in chunk.unreadable] == [
        (4, "unsupported_call"),
        (5, "malformed_json"),
    ]


def test_parquet_keeps_types_and_flattens_nested_properties(tmp_path: Path) -> None:
    path = tmp_path / "e.parquet"
    table = pa.table(
        {
            "message_id": ["m1", "m2"],
            "timestamp": pa.array([0, 1], type=pa.timestamp("ms", tz="UTC")),
            "properties": [{"revenue": 1.5}, {"revenue": None}],
        }
    )
    pq.write_table(table, path)
    source = open_source(path, "events")
    assert source.columns == ["message_id", "timestamp", "revenue"]
    frame = rows_of(list(source.chunks(10)))
    assert frame["revenue"].iloc[0] == 1.5
    assert isinstance(frame["timestamp"].dtype, pd.DatetimeTZDtype)


def test_something_that_is_not_parquet_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "e.parquet"
    path.write_text("Email\na@b.co\n", encoding="utf-8")
    with pytest.raises(SourceFileError, match="not a readable Parquet file"):
        open_source(path, "events")


def test_gzip_jsonl_reads_like_plain(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write(
            '{"type":"track","messageId":"m1","userId":"C1","event":"Email Opened",'
            '"timestamp":"2025-01-01T00:00:00Z"}\n\n{"broken\n'
        )
    assert detect_format(path) == "jsonl"
    [chunk] = read_all(path, kind="events")
    assert chunk.batches[0].frame["messageId"].tolist() == ["m1"]
    assert [(u.line, u.reason) for u in chunk.unreadable] == [(3, "malformed_json")]
