"""Fast string columns of fixed width, assembled from numpy byte tables.

Formatting tens of millions of timestamps or ids one by one (or with Arrow's ``strftime``, about
1.7 s per million) would dominate the generator's run time. Every string built here has a fixed
width, so a column is one contiguous byte buffer with arithmetic offsets; the bytes are gathered
from small precomputed tables (one row per day, per second of the day, per millisecond, per byte).
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pyarrow as pa

from audience.synth.columns import buffer_of

DAY_MS = 86_400_000
_INT32_MAX = 2**31 - 1


def strings_from_records(records: np.ndarray) -> pa.StringArray:
    """An Arrow string column over a numpy array of fixed-size ASCII records (no copy)."""
    count = len(records)
    width = records.dtype.itemsize
    if width * count > _INT32_MAX:
        raise ValueError(f"{count} strings of width {width} exceed an Arrow string column")
    offsets = np.arange(0, width * (count + 1), width, dtype=np.int32)
    return pa.StringArray.from_buffers(count, buffer_of(offsets), buffer_of(records))


def _ascii_table(texts: list[str]) -> np.ndarray:
    width = len(texts[0])
    return np.array([text.encode("ascii") for text in texts], dtype=f"S{width}").view(f"V{width}")


@cache
def _clock_table() -> np.ndarray:
    """'HH:MM:SS' for every second of a day."""
    return _ascii_table([f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86_400)])


@cache
def _millis_table() -> np.ndarray:
    """'.mmmZ' for every millisecond of a second."""
    return _ascii_table([f".{ms:03d}Z" for ms in range(1000)])


def _date_table(first_day: int, last_day: int) -> np.ndarray:
    """'YYYY-MM-DDT' for every day from first_day to last_day (days since 1970-01-01)."""
    days = np.arange(first_day, last_day + 1).astype("datetime64[D]")
    return _ascii_table([f"{day}T" for day in np.datetime_as_string(days)])


def format_timestamps(epoch_ms: np.ndarray, *, milliseconds: bool) -> pa.StringArray:
    """ISO 8601 UTC strings: '2025-06-01T12:00:00.123Z', or '2025-06-01T12:00:00Z' without ms."""
    count = len(epoch_ms)
    tail = ("millis", "V5") if milliseconds else ("zulu", "V1")
    records = np.empty(count, dtype=[("date", "V11"), ("clock", "V8"), tail])
    if count == 0:
        return strings_from_records(records)
    days, ms_of_day = np.divmod(epoch_ms, DAY_MS)
    first_day = int(days.min())
    records["date"] = _date_table(first_day, int(days.max()))[days - first_day]
    seconds, millis = np.divmod(ms_of_day, 1000)
    records["clock"] = _clock_table()[seconds]
    if milliseconds:
        records["millis"] = _millis_table()[millis]
    else:
        records["zulu"] = np.frombuffer(b"Z", dtype="V1")[0]
    return strings_from_records(records)


def format_numbers(numbers: np.ndarray, *, prefix: str, digits: int) -> pa.StringArray:
    """Zero-padded decimal ids such as 'C0000042' (numbers must fit in ``digits``)."""
    count = len(numbers)
    width = len(prefix) + digits
    matrix = np.empty((count, width), dtype=np.uint8)
    matrix[:, : len(prefix)] = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    remaining = numbers.astype(np.int64)
    for column in range(width - 1, len(prefix) - 1, -1):
        remaining, digit = np.divmod(remaining, 10)
        matrix[:, column] = digit + ord("0")
    return strings_from_records(matrix.view(f"V{width}").reshape(count))


@cache
def _hex_pairs() -> np.ndarray:
    return _ascii_table([f"{byte:02x}" for byte in range(256)])


def format_hex64(values: np.ndarray) -> pa.StringArray:
    """16 lower-case hex digits per unsigned 64-bit value."""
    big_endian = values.astype(">u8").view(np.uint8).reshape(len(values), 8)
    pairs = _hex_pairs()[big_endian]
    return strings_from_records(pairs.view("V16").reshape(len(values)))
