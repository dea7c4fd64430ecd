"""JSON Lines of Segment-spec calls: ``identify`` → contacts, ``track`` and ``page`` → events.

Each line is parsed on its own, so one broken line is quarantined with its line number
while the rest of the file goes in. Properties (``track``) and traits (``identify``) are
lifted to columns and then mapped like any other header.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd

from audience.errors import quoted
from audience.ingest.batch import RawBatch, ReadChunk, Unreadable
from audience.ingest.mapping import Kind
from audience.ingest.sources import Format
from audience.ingest.text import TooLong, open_lines, sniff_text

_EVENT_CALLS = {"track": None, "page": "Page Viewed", "screen": "Screen Viewed"}
_NESTED = (dict, list)
_LITERALS = ("NaN", "Infinity", "-Infinity", "nan", "inf")


class JsonlSource:
    """A file of one JSON object per line."""

    format: Format = "jsonl"

    def __init__(self, path: Path, kind: Kind, *, encoding: str = "utf-8") -> None:
        self.path = path
        self.kind = kind
        self.text = sniff_text(path, encoding)

    def check_mapped(self, renames: Mapping[str, str]) -> None:
        """Every text cell is one value."""

    @property
    def columns(self) -> list[str]:
        # Keys differ from line to line; required fields are checked row by row instead.
        return []

    def chunks(self, chunk_rows: int) -> Iterator[ReadChunk]:
        return self._chunks(chunk_rows)

    def lines_at(self, wanted: set[int], chunk_rows: int) -> Iterator[ReadChunk]:
        """Only the lines numbered in ``wanted``, each read as :meth:`chunks` reads it."""
        return self._chunks(chunk_rows, wanted)

    def _chunks(self, chunk_rows: int, wanted: set[int] | None = None) -> Iterator[ReadChunk]:
        lines = open_lines(self.text)
        number = 0
        while True:
            chunk = ReadChunk()
            rows: dict[Kind, tuple[list[dict[str, Any]], list[int], list[bytes]]] = {}
            read = 0
            for line in lines:
                number += 1
                if wanted is not None and number not in wanted:
                    continue
                if isinstance(line, TooLong):
                    read += 1
                    chunk.unreadable.append(self._too_long(line, number))
                elif line.strip():
                    read += 1
                    self._route(line, number, rows, chunk)
                if read >= chunk_rows:
                    break
            if read == 0:
                return
            for kind, (records, numbers, raws) in rows.items():
                chunk.batches.append(_batch(kind, records, numbers, raws))
            yield chunk

    def _route(
        self,
        line: bytes,
        number: int,
        rows: dict[Kind, tuple[list[dict[str, Any]], list[int], list[bytes]]],
        chunk: ReadChunk,
    ) -> None:
        try:
            call = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            reason, detail = json_problem(line, exc)
            chunk.unreadable.append(self._bad(line, number, reason, detail))
            return
        if not isinstance(call, dict):
            detail = f"expected a JSON object, got {type(call).__name__}"
            chunk.unreadable.append(self._bad(line, number, "malformed_json", detail))
            return
        kind, record = flatten_call(call, self.kind)
        if kind is None:
            detail = f"call type {_shown(call.get('type'))} is not identify, track or page"
            chunk.unreadable.append(self._bad(line, number, "unsupported_call", detail))
            return
        nested = next((key for key, value in record.items() if isinstance(value, _NESTED)), None)
        if nested is not None:
            got = _shown(record[nested])
            detail = f"{nested!r} must be one value (text or a number), got {got}"
            chunk.unreadable.append(self._bad(line, number, "nested_value", detail))
            return
        records, lines, raws = rows.setdefault(kind, ([], [], []))
        records.append(record)
        lines.append(number)
        raws.append(line)

    def _bad(self, line: bytes, number: int, reason: str, detail: str) -> Unreadable:
        raw = line.decode(self.text.encoding, errors="replace").rstrip("\r\n")
        return Unreadable(line=number, raw=raw, reason=reason, detail=detail, kind=self.kind)

    def _too_long(self, line: TooLong, number: int) -> Unreadable:
        return self._bad(line.head + "…".encode(), number, "line_too_long", line.detail)


def json_problem(line: bytes, exc: orjson.JSONDecodeError) -> tuple[str, str]:
    """The quarantine reason and detail for a line that does not parse as JSON."""
    message = str(exc.msg)
    where = f"at column {exc.colno}"
    if "infinity when parsed" in message:
        return "number_out_of_range", f"the number {where} is too large for a 64-bit float"
    if "depth limit" in message:
        return "nesting_too_deep", f"objects and lists nest deeper than 1,024 levels ({where})"
    rest = line.decode("utf-8", errors="replace")[max(exc.pos - 1, 0) :]
    literal = next((word for word in _LITERALS if rest.lstrip("-:, ").startswith(word)), None)
    if literal is not None:
        return (
            "nonstandard_literal",
            f"{literal} {where} is not a JSON value (write null, or leave the field out)",
        )
    return "malformed_json", f"not JSON: {message} {where}"


def _shown(value: object) -> str:
    """A received JSON value for a message: its kind if it is an object or list."""
    if isinstance(value, _NESTED):
        return "an object" if isinstance(value, dict) else "a list"
    return quoted(value)


def flatten_call(call: dict[str, Any], default_kind: Kind) -> tuple[Kind | None, dict[str, Any]]:
    """One Segment call as a flat record of scalar fields, and the kind it belongs to."""
    call_type = call.get("type")
    if not isinstance(call_type, str | None):
        return None, {}
    if call_type is None:
        call_type = "track" if "event" in call else "identify" if "traits" in call else None
    record: dict[str, Any] = {}
    context = call.get("context")
    context_traits = context.get("traits") if isinstance(context, dict) else None
    if call_type == "identify":
        _lift(record, context_traits)
        _lift(record, call.get("traits"))
        kind: Kind | None = "contacts"
    elif call_type in _EVENT_CALLS:
        if isinstance(context_traits, dict) and "email" in context_traits:
            record["email"] = context_traits["email"]
        properties = call.get("properties")
        _lift(record, properties)
        _lift_products(record, properties)
        record["event"] = _EVENT_CALLS[call_type] or call.get("event")
        kind = "events"
    elif call_type is None and default_kind != "events":
        _lift(record, call)
        kind = default_kind
    else:
        return None, record
    for key in ("messageId", "userId", "anonymousId", "timestamp"):
        if key in call:
            record[key] = call[key]
    if "timestamp" not in record:
        record["timestamp"] = call.get("originalTimestamp") or call.get("receivedAt")
    return kind, record


def _lift(record: dict[str, Any], values: object) -> None:
    if not isinstance(values, dict):
        return
    for key, value in values.items():
        if isinstance(value, dict):
            if key == "address" and "country" in value:
                record.setdefault("country", value["country"])
            continue
        if not isinstance(value, list):
            record[key] = value


def _lift_products(record: dict[str, Any], properties: object) -> None:
    """Segment's ``products[]``: the first product's category, the sum of quantities."""
    if not isinstance(properties, dict) or not isinstance(properties.get("products"), list):
        return
    products = [p for p in properties["products"] if isinstance(p, dict)]
    if products and "category" not in record and products[0].get("category") is not None:
        record["category"] = products[0]["category"]
    quantities = [p.get("quantity") for p in products]
    if (
        "quantity" not in record
        and quantities
        and all(isinstance(q, int | float) for q in quantities)
    ):
        record["quantity"] = sum(quantities)


def _batch(
    kind: Kind, records: list[dict[str, Any]], lines: list[int], raws: list[bytes]
) -> RawBatch:
    # Every column holds the values as the JSON had them (no dtype inferred from the
    # chunk): a value reads the same whichever other rows share its chunk.
    names = dict.fromkeys(key for record in records for key in record)
    frame = pd.DataFrame(
        {name: pd.Series([r.get(name) for r in records], dtype=object) for name in names}
    )

    def raw(positions: np.ndarray) -> list[str]:
        return [raws[int(p)].decode("utf-8", errors="replace").rstrip("\r\n") for p in positions]

    return RawBatch(kind, frame, np.asarray(lines, dtype=np.int64), raw)
