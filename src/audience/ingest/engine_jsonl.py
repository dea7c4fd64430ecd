"""JSON Lines of Segment ``track`` calls read by DuckDB, for the engine lane (issue 13.1).

DuckDB reads the calls' top-level keys as JSON values into a temporary table in file order
(:func:`audience.ingest.engine_reads.numbered_rows`); the scan is kept only if every line
of the file is one call (no blank line, none DuckDB refuses: a duplicate key, a NaN, a line
over the 8 MB limit). Each key of the calls' ``properties`` becomes a column, as
:func:`audience.ingest.jsonl_source.flatten_call` lifts it.

:meth:`JsonlScan.plain` keeps to the lane only the calls the file's reader would flatten to
exactly those columns: ``"type": "track"``, a timestamp of its own, no
``context.traits.email``, no ``products`` list or ``address`` object, and every value a
scalar of the JSON type its field expects (text as a string; a number or boolean as such
or as a string). Every other line is read again by :class:`JsonlSource`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import duckdb

from audience.ingest.batch import ReadChunk
from audience.ingest.engine_reads import (
    LINE,
    ROWS_TABLE,
    Scan,
    file_layout,
    left_lines,
    numbered_rows,
    plain_text,
)
from audience.ingest.jsonl_source import JsonlSource
from audience.ingest.mapping import SYNONYMS, ColumnMapping, normalize_header
from audience.ingest.normalize import TEXT_FIELDS
from audience.ingest.text import MAX_LINE_BYTES
from audience.sql_text import identifier, string

_TOP = ("messageId", "userId", "anonymousId", "event", "timestamp")
_OWN = ("type", "timestamp", "properties", "context")
"""The call's own values that :meth:`JsonlScan.plain` looks at."""
_CALL = tuple(dict.fromkeys((*_TOP, *_OWN)))
"""Every key of a call read into the table."""
_LIFTED_ELSEWHERE = ("products", "address")
_NUMBERS = ("revenue", "price", "quantity")
_SCALAR_TYPES = "('VARCHAR', 'BIGINT', 'UBIGINT', 'DOUBLE', 'BOOLEAN', 'NULL')"
_LINES = "_engine_lines"
# What DuckDB's JSON reader accepts and orjson refuses, where a value starts (after a colon,
# comma or bracket: inside a string such text is harmless and only sends the line the slow
# way): NaN and infinities, numbers too large for a float or an integer, trailing commas,
# and escaped lone surrogates.
_NOT_ORJSON = r"(?i)[:,\[]\s*-?(nan|inf|\d{19}|\d+(\.\d+)?e[+-]?\d{3})|,\s*[}\]]|\\u[d][89ab]"
_SEPARATOR = "\x01"  # never in a line kept: each line is then one field


@dataclass
class JsonlScan(Scan):
    source: JsonlSource
    keys: dict[str, str]
    """Each column, and the relation's column of the JSON value it comes from."""

    def plain(self, mapping: ColumnMapping) -> str:
        checks = [
            "_call_type IS NOT NULL AND json_type(_call_type) = 'VARCHAR'",
            "_call_type ->> '$' = 'track'",
            "json_type(_call_timestamp) = 'VARCHAR'",
            "(_call_context IS NULL OR json_extract(_call_context, '$.traits.email') IS NULL)",
            "(_call_properties IS NULL OR json_type(_call_properties) = 'OBJECT')",
        ]
        for name in _LIFTED_ELSEWHERE:
            checks.append(f"json_extract(_call_properties, {string(_path(name))}) IS NULL")
        for column, alias in self.keys.items():
            checks.append(_expected(alias, mapping.renames.get(column)))
        return "(" + " AND ".join(checks) + ")"

    def leftovers(self, taken: str, chunk_rows: int) -> Iterator[ReadChunk]:
        lines = self.con.execute(left_lines(self.relation, taken)).fetchnumpy()[LINE]
        if len(lines) == 0:
            return iter(())
        return self.source.lines_at({int(line) for line in lines}, chunk_rows)

    def close(self) -> None:
        self.con.execute(f"DROP TABLE IF EXISTS {ROWS_TABLE}")


def _path(key: str) -> str:
    return '$."' + key + '"'


def _expected(value: str, field: str | None) -> str:
    """True where ``value`` (a JSON value) is one the field reads as the file's reader does."""
    kind = f"json_type({value})"
    if field is None:
        return f"coalesce({kind} IN {_SCALAR_TYPES}, true)"  # ignored, but nested is skipped
    if field in TEXT_FIELDS or field == "timestamp":
        return f"coalesce({kind} IN ('VARCHAR', 'NULL'), true)"
    if field in _NUMBERS:
        return f"coalesce({kind} IN ('VARCHAR', 'BIGINT', 'UBIGINT', 'DOUBLE', 'NULL'), true)"
    return f"coalesce({kind} IN ('VARCHAR', 'BOOLEAN', 'NULL'), true)"


def jsonl_scan(con: duckdb.DuckDBPyConnection, source: JsonlSource) -> JsonlScan | None:
    """The file's calls as a relation with one column per key, or None (see above)."""
    if source.kind != "events" or not plain_text(source.text):
        return None
    layout = file_layout(source.path, separator=_SEPARATOR)
    if layout is None:
        return None
    # Every physical line (a blank one too) as one text value, numbered from 1.
    lines = (
        f"read_csv({string(str(source.path))}, delim = {string(_SEPARATOR)}, quote = '', "
        "escape = '', header = false, columns = {'j': 'VARCHAR'}, auto_detect = false, "
        f"strict_mode = false, max_line_size = {MAX_LINE_BYTES}, compression = 'none')"
    )
    if not numbered_rows(con, _LINES, lines, 0):
        return None
    try:
        count = con.execute(f"SELECT count(*) FROM {_LINES}").fetchone()
        if count is None or int(count[0]) != layout.lines:
            return None
        _parse_calls(con)
        return _keyed_scan(con, source)
    finally:
        con.execute(f"DROP TABLE IF EXISTS {_LINES}")


def _parse_calls(con: duckdb.DuckDBPyConnection) -> None:
    """Each line's call (its keys as JSON values) where it is JSON the file's reader reads
    the same way (orjson: no NaN, no number too large, no trailing comma, no lone surrogate,
    no duplicate key, nesting within its limit); NULL for the others."""
    struct = "{" + ", ".join(f'"{name}": "JSON"' for name in _CALL) + "}"
    strict = (
        "json_valid(j) AND NOT regexp_matches(j, "
        + string(_NOT_ORJSON)
        + ") AND (length(j) < 1000 "
        "OR length(j) - length(regexp_replace(j, '[\\[{]', '', 'g')) < 1000)"
    )
    unique = (
        "len(json_keys(j)) = len(list_distinct(json_keys(j))) AND "
        "coalesce(len(json_keys(j, '$.properties')) "
        "= len(list_distinct(json_keys(j, '$.properties'))), true)"
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {ROWS_TABLE} AS SELECT {LINE}, c.* FROM ("
        f"SELECT {LINE}, CASE WHEN {strict} AND json_type(j) = 'OBJECT' AND {unique} "
        f"THEN json_transform(j, {string(struct)}) END AS c FROM {_LINES})"
    )


def _keyed_scan(con: duckdb.DuckDBPyConnection, source: JsonlSource) -> JsonlScan | None:
    found = con.execute(
        f"SELECT DISTINCT unnest(json_keys(properties)) FROM {ROWS_TABLE} "
        "WHERE json_type(properties) = 'OBJECT'"
    ).fetchall()
    properties = sorted(str(row[0]) for row in found)
    if any('"' in key or "\\" in key for key in properties) or _contested(properties):
        return None
    # Each column's JSON value (under a name no key can have) and its text. A call's own
    # key is a column only if some call has it (with a value: a key always null is rare).
    counts = ", ".join(f"count({identifier(name)})" for name in _TOP)
    present = con.execute(f"SELECT {counts} FROM {ROWS_TABLE}").fetchone() or ()
    raw = {name: identifier(name) for name, n in zip(_TOP, present, strict=True) if n}
    for key in properties:
        if key not in _LIFTED_ELSEWHERE:
            raw[key] = f"json_extract(properties, {string(_path(key))})"
    if not raw:
        return None  # no call at all: the file's reader says what the file holds
    aliases = {name: f"_json_{i}" for i, name in enumerate(raw)}
    values = ", ".join(
        f"{raw[name]} AS {alias}, {raw[name]} ->> '$' AS {identifier(name)}"
        for name, alias in aliases.items()
    )
    call = ", ".join(
        f"{name} AS _call_{name}" for name in ("type", "timestamp", "properties", "context")
    )
    relation = f"(SELECT {LINE}, {values}, {call} FROM {ROWS_TABLE})"
    return JsonlScan(con, relation, dict.fromkeys(raw, "VARCHAR"), source, aliases)


def _contested(properties: list[str]) -> bool:
    """Whether two keys could be read as one field, or a property as a call's own key: the
    file's reader then maps each chunk by the keys it happens to hold."""
    seen: dict[str, str] = {}
    for key in (*_TOP, *properties):
        normal = normalize_header(key)
        if normal in seen:
            return True
        seen[normal] = key
    fields: dict[str, str] = {}
    for key in seen.values():
        for name, synonyms in SYNONYMS["events"].items():
            if normalize_header(key) in synonyms:
                if name in fields:
                    return True
                fields[name] = key
    return False
