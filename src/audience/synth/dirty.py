"""Realistic bad rows, injected on top of the clean data when ``dirty`` > 0.

Each bad row is derived from a real row of the same chunk (a copy with one thing broken), so
it looks like what exports really contain. Kinds take turns in one global sequence per file, so
every kind gets an almost equal share, and the number of bad rows in a file is
``round(dirty * clean rows)``. Bad contacts get their own ids (``X0000001``) except duplicates,
which repeat a real row exactly; bad events get fresh message ids except duplicates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from audience.synth.columns import AnyColumn, Column, flat, set_column
from audience.synth.events import EVENT_NAMES, EventKind, message_ids
from audience.synth.fixedwidth import DAY_MS, format_numbers, format_timestamps

CONTACT_DIRTY_KINDS: tuple[str, ...] = (
    "invalid_email",
    "missing_email",
    "future_signup",
    "unparseable_signup",
    "duplicate",
)
EVENT_DIRTY_KINDS: tuple[str, ...] = (
    "negative_revenue",
    "negative_quantity",
    "unparseable_timestamp",
    "future_timestamp",
    "missing_user_id",
    "missing_event",
    "duplicate",
)
MALFORMED_JSON = "malformed_json"
"""JSONL only: a line cut short."""

_BAD_SIGNUPS = ("31/31/2024", "yesterday", "2024-13-45", "not a date", "00/00/0000")
_BAD_TIMESTAMPS = ("yesterday", "2025-13-45T10:00:00Z", "31/31/2024 10:00", "not a timestamp")
_FRESH_MESSAGE_NUMBERS = 2**62
"""Bad events number their message ids from here; clean events stay far below."""


def event_dirty_kinds(events_format: Literal["parquet", "jsonl"]) -> tuple[str, ...]:
    return (*EVENT_DIRTY_KINDS, MALFORMED_JSON) if events_format == "jsonl" else EVENT_DIRTY_KINDS


def round_half_up(value: float) -> int:
    return math.floor(value + 0.5)


@dataclass(frozen=True)
class DirtyPlan:
    """The bad rows of one chunk: a slice of the file's global sequence of bad rows."""

    first: int
    """Global number (from 0) of the chunk's first bad row."""
    count: int
    kinds: tuple[str, ...]

    @classmethod
    def for_chunk(
        cls, share: float, rows_before: int, rows_after: int, first: int, kinds: tuple[str, ...]
    ) -> DirtyPlan:
        """Rounding the running total keeps the file total at round(share * rows)."""
        count = round_half_up(share * rows_after) - round_half_up(share * rows_before)
        return cls(first=first, count=count, kinds=kinds)

    def numbers_by_kind(self) -> dict[str, np.ndarray]:
        """Global numbers of the bad rows of each kind (kinds take turns)."""
        numbers = np.arange(self.first, self.first + self.count)
        turn = numbers % len(self.kinds)
        return {kind: numbers[turn == code] for code, kind in enumerate(self.kinds)}

    def counts(self) -> dict[str, int]:
        return {kind: len(numbers) for kind, numbers in self.numbers_by_kind().items()}


@dataclass(frozen=True)
class DirtyEvents:
    rows: pa.Table
    """Bad rows that are still well-formed records."""
    malformed: pa.Table
    """JSONL only: rows whose line is to be cut short, at ``keep_fraction`` of its length."""
    keep_fraction: np.ndarray


def dirty_contacts(
    rng: np.random.Generator, clean: pa.Table, plan: DirtyPlan, as_of_ms: int, id_digits: int
) -> pa.Table:
    """Bad contact rows for a chunk, in the layout of ``clean``, in random order."""
    parts = []
    for kind, numbers in plan.numbers_by_kind().items():
        if len(numbers) == 0:
            continue
        rows = clean.take(rng.integers(0, len(clean), len(numbers)))
        if kind != "duplicate":
            rows = set_column(
                rows, "Customer ID", format_numbers(numbers + 1, prefix="X", digits=id_digits)
            )
        parts.append(_break_contacts(rng, rows, kind, as_of_ms))
    return _shuffled(rng, parts, clean.schema)


def _break_contacts(rng: np.random.Generator, rows: pa.Table, kind: str, as_of_ms: int) -> pa.Table:
    count = len(rows)
    if kind == "invalid_email":
        return set_column(rows, "Email Address", _invalid_emails(rng, rows["Email Address"]))
    if kind == "missing_email":
        return set_column(rows, "Email Address", pa.repeat(pa.scalar(""), count))
    if kind == "future_signup":
        future = format_timestamps(_years_after(rng, as_of_ms, count), milliseconds=False)
        return set_column(rows, "Signup Date", future)
    if kind == "unparseable_signup":
        return set_column(rows, "Signup Date", _one_of(rng, _BAD_SIGNUPS, count))
    return rows  # duplicate: an exact copy


def _invalid_emails(rng: np.random.Generator, email: AnyColumn) -> Column:
    """john.doe@ , jane.smith.gmail.com , jane smith@x.com , x@@y.com — typos seen in forms."""
    variants = (
        pc.replace_substring_regex(email, r"@.*$", "@"),
        pc.replace_substring(email, "@", "."),
        pc.replace_substring_regex(email, r"^(\s*[A-Za-z]+)[._]?", r"\1 ", max_replacements=1),
        pc.replace_substring(email, "@", "@@"),
    )
    choice = rng.integers(0, len(variants), len(email))
    broken = variants[0]
    for code, variant in enumerate(variants[1:], start=1):
        broken = pc.if_else(pa.array(choice == code), variant, broken)
    return flat(broken)


def dirty_events(
    rng: np.random.Generator, clean: pa.Table, plan: DirtyPlan, as_of_ms: int, id_key: int
) -> DirtyEvents:
    """Bad event rows for a chunk, in the layout of ``clean``, in random order."""
    parts = []
    malformed = clean.schema.empty_table()
    for kind, numbers in plan.numbers_by_kind().items():
        if len(numbers) == 0:
            continue
        rows = _event_sources(rng, clean, kind, len(numbers))
        if kind != "duplicate":
            fresh = message_ids(
                numbers.astype(np.uint64) + np.uint64(_FRESH_MESSAGE_NUMBERS), id_key
            )
            rows = set_column(rows, "message_id", fresh)
        if kind == MALFORMED_JSON:
            malformed = rows
        else:
            parts.append(_break_events(rng, rows, kind, as_of_ms))
    return DirtyEvents(
        rows=_shuffled(rng, parts, clean.schema),
        malformed=malformed,
        keep_fraction=rng.uniform(0.2, 0.9, len(malformed)),
    )


def _event_sources(rng: np.random.Generator, clean: pa.Table, kind: str, count: int) -> pa.Table:
    """Rows to break: orders for revenue, cart lines or orders for quantity, else any event."""
    wanted = {
        "negative_revenue": (EventKind.ORDER_COMPLETED,),
        "negative_quantity": (EventKind.PRODUCT_ADDED, EventKind.ORDER_COMPLETED),
    }.get(kind)
    candidates = np.arange(len(clean))
    if wanted is not None:
        names = pa.array([EVENT_NAMES[code] for code in wanted])
        matching = np.flatnonzero(pc.is_in(clean["event"], value_set=names).to_numpy())
        # A tiny chunk may have no order at all; then an order is made from another event.
        if len(matching) > 0:
            candidates = matching
    rows = clean.take(rng.choice(candidates, count))
    if wanted is not None:
        rows = set_column(rows, "event", _keep_or(rows["event"], wanted))
    return rows


def _keep_or(event: AnyColumn, wanted: tuple[EventKind, ...]) -> Column:
    names = pa.array([EVENT_NAMES[code] for code in wanted])
    is_wanted = pc.is_in(event, value_set=names)
    return flat(pc.if_else(is_wanted, event, pa.scalar(EVENT_NAMES[wanted[0]])))


def _break_events(rng: np.random.Generator, rows: pa.Table, kind: str, as_of_ms: int) -> pa.Table:
    count = len(rows)
    if kind == "negative_revenue":
        revenue = flat(rows["revenue"]).to_numpy(zero_copy_only=False)
        revenue = np.where(np.isnan(revenue), rng.uniform(5.0, 200.0, count).round(2), revenue)
        return set_column(rows, "revenue", pa.array(-np.abs(revenue)))
    if kind == "negative_quantity":
        quantity = flat(rows["quantity"]).to_numpy(zero_copy_only=False)  # null -> nan
        quantity = np.where(np.isnan(quantity), 1, quantity).astype(np.int64)
        return set_column(rows, "quantity", pa.array(-np.abs(quantity)))
    if kind == "unparseable_timestamp":
        return set_column(rows, "timestamp", _one_of(rng, _BAD_TIMESTAMPS, count))
    if kind == "future_timestamp":
        future = format_timestamps(_years_after(rng, as_of_ms, count), milliseconds=True)
        return set_column(rows, "timestamp", future)
    if kind == "missing_user_id":
        return set_column(rows, "user_id", pa.nulls(count, pa.string()))
    if kind == "missing_event":
        return set_column(rows, "event", pa.repeat(pa.scalar(""), count))
    return rows  # duplicate: an exact copy, message id included


def _years_after(rng: np.random.Generator, as_of_ms: int, count: int) -> np.ndarray:
    """Times one to three years after ``as_of`` (clock skew, wrong century settings)."""
    return as_of_ms + (rng.uniform(365.0, 3 * 365.0, count) * DAY_MS).astype(np.int64)


def _one_of(rng: np.random.Generator, values: tuple[str, ...], count: int) -> Column:
    return pa.array(values).take(rng.integers(0, len(values), count))


def _shuffled(rng: np.random.Generator, parts: list[pa.Table], schema: pa.Schema) -> pa.Table:
    table = pa.concat_tables([schema.empty_table(), *parts])
    return table.take(rng.permutation(len(table)))
