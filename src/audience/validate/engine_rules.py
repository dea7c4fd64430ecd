"""The row checks as SQL, for the rows that plainly pass them (the engine lane of issue 13.1).

The checks in :mod:`audience.validate.rules` run in pandas, row by row in effect, at about
300k rows a second. Most rows of a real file are plainly valid: an ISO timestamp, a plain
decimal, a trimmed id. For those rows this module writes the same checks as one SQL
predicate, :meth:`EngineChecks.passes`, and the typed values as SQL,
:meth:`EngineChecks.typed`, so that DuckDB checks and stores them at the speed it reads.

The predicate is deliberately narrower than the rules: it is true only where the rules
certainly accept the row *and* the SQL value is certainly the value pandas would store (a
timestamp in one of the ISO shapes both parse alike, a decimal with at most 12 + 6 digits,
text without edge whitespace to strip, an email in plain ASCII). Every other row — a
rejected one, or merely an unusual one — goes through the pandas checks unchanged, which
accept or quarantine it with their exact reasons. So the lane changes speed, never
results: ``tests/store/test_engine_lane.py`` compares the two on random files.

A column whose type the lane does not know (a float id, a DECIMAL amount, a nanosecond
timestamp) makes :func:`engine_checks` return None and the whole file takes the pandas way.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from audience.ingest.mapping import ColumnMapping
from audience.ingest.normalize import TEXT_FIELDS
from audience.sql_text import identifier, string
from audience.validate.email import MAX_LOCAL_PART
from audience.validate.parsing import CONSENT_VALUES
from audience.validate.rules import (
    CONTACT_FIELDS,
    EVENT_FIELDS,
    MAX_AMOUNT,
    MAX_QUANTITY,
    Rules,
)

LaneKind = Literal["contacts", "events"]

# What Python's str.strip() removes: the characters for which str.isspace() is true.
_EDGE_SPACE = (
    r"[\s\x{0b}\x{1c}-\x{1f}\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}"
    r"\x{202f}\x{205f}\x{3000}]"
)
_ISO_TIMESTAMP = (
    r"\d{4}-\d{2}-\d{2}"
    r"([T ]([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,6})?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)?)?"
)
_DECIMAL = r"\d{1,12}(\.\d{1,6})?"
_WHOLE = r"\d{1,9}"
_ATOM = r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
# The WHATWG pattern of validate.parsing without its look-arounds (RE2 has none): no dot at
# either end of the local part and none doubled is ``atom(.atom)*``.
_EMAIL = rf"{_ATOM}(\.{_ATOM})*@{_LABEL}(\.{_LABEL})+"
_EMAIL_ASCII = r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~@-]+"
_TRUE = ("true", "t", "yes", "y", "1")
_FALSE = ("false", "f", "no", "n", "0")
_INTEGERS = frozenset(
    {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT"}
)
_FLOATS = frozenset({"FLOAT", "DOUBLE"})
_TIMESTAMPS = frozenset({"TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "TIMESTAMP_MS", "TIMESTAMP_S"})


class Unsupported(Exception):
    """A column type the lane does not translate: the file takes the pandas way."""


@dataclass(frozen=True)
class Field:
    """One field as SQL: its typed value and when that value is certainly the rules'."""

    value: str
    passes: str
    text: str | None = None
    """The text column whose two ends must not be whitespace (checked for all text columns
    of a row at once, :func:`_no_edge_space`)."""


def _matches(column: str, pattern: str) -> str:
    return f"regexp_full_match({column}, {string(pattern)})"


def _no_edge_space(texts: list[str]) -> str:
    """Neither end of any of the ``texts`` is whitespace that strip() would remove. One
    regular expression over the values joined by U+0001 (not whitespace) costs a third of
    testing each value's ends: a value that holds U+0001 itself may be flagged wrongly,
    and then merely takes the pandas way."""
    joined = "concat_ws(chr(1), " + ", ".join(texts) + ")"
    edge = rf"(^|\x{{01}}){_EDGE_SPACE}|{_EDGE_SPACE}(\x{{01}}|$)"
    return f"NOT regexp_matches({joined}, {string(edge)})"


def _missing(column: str) -> str:
    return f"({column} IS NULL OR {column} = '')"


class _Columns:
    """The file's columns for each field, with their types."""

    def __init__(self, mapping: ColumnMapping, types: Mapping[str, str]) -> None:
        self._source = {name: source for source, name in mapping.renames.items()}
        self._types = types

    def source(self, name: str) -> tuple[str, str] | None:
        """SQL for the column of field ``name`` and its type, or None if it is absent."""
        column = self._source.get(name)
        if column is None:
            return None
        # Text is taken as it is: a value with whitespace at an edge, which Python's strip()
        # would remove, fails the checks below and takes the pandas way (trimming every
        # value in SQL costs more than checking its two ends).
        return identifier(column), self._types[column].upper()


def text_field(column: str, kind: str) -> Field:
    """Trimmed text, empty as missing (:func:`audience.ingest.normalize.as_text`)."""
    if kind == "VARCHAR":
        return Field(f"nullif({column}, '')", "true", text=column)
    if kind in _INTEGERS:
        return Field(f"CAST({column} AS VARCHAR)", "true")
    raise Unsupported(kind)


def timestamp_field(column: str, kind: str, rules: Rules, *, required: bool) -> Field:
    """An ISO 8601 timestamp (UTC when it has no offset) within the accepted span."""
    if kind == "VARCHAR":
        value = f"TRY_CAST({column} AS TIMESTAMPTZ)"
        shape = f"{_matches(column, _ISO_TIMESTAMP)} AND "
    elif kind in _TIMESTAMPS:
        value = f"CAST({column} AS TIMESTAMPTZ)"
        shape = ""
    else:
        raise Unsupported(kind)
    first = string(rules.first.isoformat())
    latest = string(rules.latest.isoformat())
    # NULL (unparsed) is not within: coalesce makes the comparison false.
    within = f"coalesce({value} BETWEEN TIMESTAMPTZ {first} AND TIMESTAMPTZ {latest}, false)"
    passes = f"({shape}{within})"
    if not required:
        passes = f"({_missing(column) if kind == 'VARCHAR' else f'{column} IS NULL'} OR {passes})"
    return Field(value, passes)


def number_field(column: str, kind: str, low: float, high: float) -> Field:
    """A plain number within ``[low, high]``, or missing."""
    if kind == "VARCHAR":
        value = f"TRY_CAST(nullif({column}, '') AS DOUBLE)"
        shape = _matches(column, _DECIMAL)
        return Field(
            value, f"({_missing(column)} OR ({shape} AND {value} BETWEEN {low} AND {high}))"
        )
    if kind in _FLOATS or kind in _INTEGERS:
        value = f"CAST({column} AS DOUBLE)"
        return Field(
            value, f"({column} IS NULL OR (isfinite({value}) AND {value} BETWEEN {low} AND {high}))"
        )
    raise Unsupported(kind)


def quantity_field(column: str, kind: str) -> Field:
    """A whole number from 0 to :data:`MAX_QUANTITY`, or missing."""
    if kind == "VARCHAR":
        value = f"TRY_CAST(nullif({column}, '') AS BIGINT)"
        return Field(value, f"({_missing(column)} OR {_matches(column, _WHOLE)})")
    if kind in _INTEGERS:
        return Field(
            f"CAST({column} AS BIGINT)",
            f"({column} IS NULL OR {column} BETWEEN 0 AND {MAX_QUANTITY})",
        )
    if kind in _FLOATS:
        whole = f"isfinite({column}) AND {column} = round({column})"
        fits = f"{whole} AND {column} BETWEEN 0 AND {MAX_QUANTITY}"
        return Field(f"TRY_CAST({column} AS BIGINT)", f"({column} IS NULL OR ({fits}))")
    raise Unsupported(kind)


def boolean_field(column: str, kind: str) -> Field:
    """true/false, yes/no, 1/0 (any case), or missing."""
    if kind == "BOOLEAN":
        return Field(column, "true")
    if kind in _INTEGERS:
        return Field(f"({column} = 1)", f"({column} IS NULL OR {column} IN (0, 1))")
    if kind == "VARCHAR":
        words = "|".join((*_TRUE, *_FALSE))
        true = ", ".join(string(w) for w in _TRUE)
        value = f"CASE WHEN {column} = '' THEN NULL ELSE lower({column}) IN ({true}) END"
        return Field(value, f"({_missing(column)} OR {_matches(column, f'(?i)({words})')})")
    raise Unsupported(kind)


def consent_field(column: str, kind: str) -> Field:
    """A platform's word for consent, as ours (:data:`CONSENT_VALUES`)."""
    if kind != "VARCHAR":
        raise Unsupported(kind)
    groups: dict[str, list[str]] = {}
    for word, ours in CONSENT_VALUES.items():
        groups.setdefault(ours, []).append(string(word))
    cases = " ".join(
        f"WHEN lower({column}) IN ({', '.join(words)}) THEN {string(ours)}"
        for ours, words in groups.items()
    )
    known = " OR ".join(f"lower({column}) IN ({', '.join(words)})" for words in groups.values())
    passes = f"({_missing(column)} OR ({_matches(column, '[A-Za-z0-9_ ]+')} AND ({known})))"
    return Field(f"CASE {cases} END", passes)


def country_field(column: str, kind: str) -> Field:
    """Text; a two-letter code in upper case."""
    text = text_field(column, kind)
    value = f"CASE WHEN length({text.value}) = 2 THEN upper({text.value}) ELSE {text.value} END"
    ascii_code = f"(length({column}) <> 2 OR {_matches(column, '[A-Za-z]{2}')})"
    return Field(value, f"({text.passes} AND ({column} IS NULL OR {ascii_code}))", text.text)


def hmac_sql(secret: bytes, message: str) -> str:
    """HMAC-SHA256 of ``message`` (SQL text) keyed by ``secret``, as hex (RFC 2104), the
    same digest as :func:`audience.ingest.identity.keyed_hashes`."""
    key = hashlib.sha256(secret).digest() if len(secret) > 64 else secret
    key = key.ljust(64, b"\0")
    inner = bytes(b ^ 0x36 for b in key).hex()
    outer = bytes(b ^ 0x5C for b in key).hex()
    return f"sha256(unhex('{outer}') || unhex(sha256(unhex('{inner}') || encode({message}))))"


@dataclass(frozen=True)
class EngineChecks:
    """The checks of one kind of row over a file's columns, as SQL."""

    kind: LaneKind
    fields: dict[str, Field]

    def typed(self, line: str) -> str:
        """``line`` (from the column ``line``) and the kind's fields, typed as stored, in
        the stored order."""
        order = EVENT_FIELDS if self.kind == "events" else CONTACT_FIELDS
        values = [f"{identifier(line)} AS line"]
        values += [f"{self.fields[name].value} AS {identifier(name)}" for name in order]
        return ", ".join(values)

    @property
    def passes(self) -> str:
        """True where the row certainly passes every check (never NULL)."""
        # One coalesce per field, not one around all: DuckDB then filters field by field,
        # each conjunct only on the rows the ones before it kept.
        kept = [f.passes for f in self.fields.values() if f.passes != "true"]
        texts = [f.text for f in self.fields.values() if f.text is not None]
        if texts:
            kept.append(_no_edge_space(texts))
        return " AND ".join(f"coalesce({passes}, false)" for passes in kept) or "true"


def engine_checks(
    kind: str, mapping: ColumnMapping, types: Mapping[str, str], rules: Rules, secret: bytes
) -> EngineChecks | None:
    """The SQL checks for a file of ``kind`` whose columns have DuckDB ``types``, or None
    if the lane cannot take it (orders, or a column type it does not translate)."""
    if kind not in ("contacts", "events"):
        return None
    try:
        fields = _fields(kind, _Columns(mapping, types), rules, secret)  # type: ignore[arg-type]
    except Unsupported:
        return None
    return EngineChecks(kind, fields)  # type: ignore[arg-type]


_NULL = Field("NULL", "true")


def _fields(kind: LaneKind, columns: _Columns, rules: Rules, secret: bytes) -> dict[str, Field]:
    names = EVENT_FIELDS if kind == "events" else CONTACT_FIELDS
    fields: dict[str, Field] = {}
    for name in names:
        found = columns.source(name)
        if found is None:
            fields[name] = _NULL
            continue
        fields[name] = _field(name, *found, rules)
    _identities(kind, fields, columns, secret)
    return fields


def _field(name: str, column: str, kind: str, rules: Rules) -> Field:
    if name in ("timestamp", "signup_at"):
        return timestamp_field(column, kind, rules, required=name == "timestamp")
    if name in ("revenue", "price"):
        return number_field(column, kind, 0, MAX_AMOUNT)
    if name in ("open_rate", "click_rate"):
        return number_field(column, kind, 0, 1)
    if name == "quantity":
        return quantity_field(column, kind)
    if name == "is_machine_open":
        return boolean_field(column, kind)
    if name == "consent":
        return consent_field(column, kind)
    if name == "country":
        return country_field(column, kind)
    if name in TEXT_FIELDS:
        return text_field(column, kind)
    return _NULL  # email_hash: derived below


def _identities(kind: LaneKind, fields: dict[str, Field], columns: _Columns, secret: bytes) -> None:
    """The email (trimmed, lower case, valid, safe to export), its keyed hash, and the
    contact id derived from it when the file has none (:mod:`audience.ingest.normalize`)."""
    contact = fields["contact_id"]
    # A contact id that is an email is read as the email: the pandas way does that.
    plain_id = f"({contact.value} IS NULL OR strpos({contact.value}, '@') = 0)"
    found = columns.source("email")
    if found is None:
        email = None
        email_ok = "true"
    else:
        column, type_ = found
        if type_ != "VARCHAR":
            raise Unsupported(type_)
        email = f"lower(nullif({column}, ''))"
        email_ok = (
            f"({_missing(column)} OR ({_matches(column, _EMAIL_ASCII)} "
            f"AND {_matches(email, _EMAIL)} AND length({column}) <= 254 "
            f"AND length(split_part({column}, '@', 1)) <= {MAX_LOCAL_PART} "
            f"AND NOT starts_with({column}, '=') AND NOT starts_with({column}, '+') "
            f"AND NOT starts_with({column}, '-')))"
        )
    has_contact = f"{contact.value} IS NOT NULL"
    if kind == "events":
        anonymous = fields["anonymous_id"].value
        somebody = f"({has_contact} OR {anonymous} IS NOT NULL" + (
            f" OR {email} IS NOT NULL)" if email else ")"
        )
        event = fields["event"]
        fields["event"] = Field(
            event.value, f"({event.passes} AND {event.value} IS NOT NULL)", event.text
        )
    else:
        somebody = f"{email} IS NOT NULL" if email else "false"
    keyed = hmac_sql(secret, email) if email else "NULL"
    derived = f"CASE WHEN {has_contact} THEN {contact.value} ELSE 'e_' || left({keyed}, 32) END"
    fields["contact_id"] = Field(
        derived if email else contact.value,
        f"({contact.passes} AND {plain_id} AND {email_ok} AND {somebody})",
        contact.text,
    )
    if kind == "contacts":
        fields["email"] = Field(email or "NULL", "true")
        fields["email_hash"] = Field(keyed, "true")
