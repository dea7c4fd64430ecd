"""Segment ``track`` calls as JSON lines, built column-wise with Arrow string kernels.

Serialising 50 million events through Python dicts would take minutes; instead every line is
concatenated from whole columns, and a null property drops out because its ``"key":value``
fragment is null and the join skips nulls. Values need no JSON escaping: every string the
generator writes (ids, event names, ISO timestamps, URLs, categories, and the bad values of
:mod:`audience.synth.dirty`) is ASCII without quotes, backslashes or control characters.
"""

from __future__ import annotations

from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from audience.synth.columns import AnyColumn, Column, buffer_of, concat, string_layout
from audience.synth.events import EVENT_SCHEMA

_STRING_PROPERTIES = (
    "campaign_id",
    "link_url",
    "bounce_type",
    "product_id",
    "category",
    "order_id",
)
_PROPERTIES = tuple(field.name for field in EVENT_SCHEMA)[4:]

_LINES_PER_SLICE = 200_000
"""Lines are built this many at a time, so the text of a whole chunk is never in memory."""


def write_json_lines(table: pa.Table, sink: BinaryIO) -> None:
    """Write one line per row of ``table`` (which has ``EVENT_SCHEMA``)."""
    for start in range(0, len(table), _LINES_PER_SLICE):
        write_lines(json_lines(table.slice(start, _LINES_PER_SLICE)), sink)


def json_lines(table: pa.Table) -> Column:
    """``{"type":"track","messageId":...,"properties":{...}}`` and a newline, per row."""
    properties = concat(
        *(_property(table, name) for name in _PROPERTIES), separator=",", skip_nulls=True
    )
    members = concat(
        '"type":"track"',
        _string_member("messageId", table["message_id"]),
        _string_member("userId", table["user_id"]),
        _string_member("event", table["event"]),
        _string_member("timestamp", table["timestamp"]),
        concat('"properties":{', properties, "}"),
        separator=",",
        skip_nulls=True,
    )
    return concat("{", members, "}\n")


def cut_lines(lines: Column, keep_fraction: np.ndarray) -> pa.StringArray:
    """Each line cut to a fraction of its length (always losing its closing brace) + newline."""
    offsets, data = string_layout(lines)
    lengths = np.diff(offsets) - 1  # without the newline
    kept = np.minimum((lengths * keep_fraction).astype(np.int64), lengths - 1)
    # Gather the kept characters of every line straight from the character buffer.
    new_offsets = np.concatenate(([0], np.cumsum(kept + 1))).astype(np.int32)
    source = np.repeat(offsets[:-1] - new_offsets[:-1], kept + 1) + np.arange(new_offsets[-1])
    characters = np.frombuffer(memoryview(data), dtype=np.uint8)[source]
    characters[new_offsets[1:] - 1] = ord("\n")
    return pa.StringArray.from_buffers(len(lines), buffer_of(new_offsets), buffer_of(characters))


def write_lines(lines: Column, sink: BinaryIO) -> None:
    """Write the characters of the lines (each ends in a newline) as one block."""
    if len(lines) == 0:
        return
    offsets, data = string_layout(lines)
    sink.write(memoryview(data)[int(offsets[0]) : int(offsets[-1])])


def _property(table: pa.Table, name: str) -> Column:
    column = table[name]
    if name in _STRING_PROPERTIES:
        return _string_member(name, column)
    # Numbers and booleans: Arrow prints doubles shortest-round-trip and bools as true/false.
    return concat(f'"{name}":', pc.cast(column, pa.string()))


def _string_member(key: str, column: AnyColumn) -> Column:
    return concat(f'"{key}":"', column, '"')
