"""Staging one ingest and committing it atomically.

Accepted rows are staged chunk by chunk in temporary tables (which DuckDB spills to disk),
so a file of any size is held in bounded memory. :meth:`Loader.commit` then resolves
duplicates in one transaction:

- an id seen earlier in the same file, or already stored, with the same content is a
  *duplicate* (counted, not stored again: re-ingesting a file adds nothing);
- the same id with different content is quarantined as ``duplicate_id_conflict`` —
  except for contacts already stored, whose changed attributes are an *update*
  (a newer export; a missing value never erases a stored one).

Events without a ``message_id`` are keyed by their content (:mod:`audience.store.event_keys`).
Staged events carry the compact key of their id (:mod:`audience.store.id_keys`), which the
commit matches against ``events.id_key`` before it compares any id string.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import duckdb
import orjson
import pandas as pd

from audience.ingest.fingerprint import Fingerprint
from audience.store.database import Database
from audience.store.event_keys import content_key_sql
from audience.store.id_keys import id_key_sql
from audience.store.results import scalar_int
from audience.store.schema import CONTACT_COLUMNS, EVENT_COLUMNS, QUARANTINE_COLUMNS
from audience.validate.report import IngestReport

Table = Literal["contacts", "events"]

_CONTACT_FIELDS = [c for c in CONTACT_COLUMNS if c != "ingest_id"]
_EVENT_FIELDS = [c for c in EVENT_COLUMNS if c != "ingest_id"]
_FIELDS: dict[Table, list[str]] = {"contacts": _CONTACT_FIELDS, "events": _EVENT_FIELDS}
_KEYS: dict[Table, str] = {"contacts": "contact_id", "events": "message_id"}
_STAGED_KEY: dict[Table, str] = {"contacts": "", "events": ", id_key UBIGINT"}
"""Beyond a table's fields, ``line`` and ``_h``: the key a staged event is stored with."""
_REJECT_COLUMNS = ["line", "kind", "reason", "detail", "raw"]


@dataclass(frozen=True)
class Committing:
    """An ingest's commit after its rows are stored, before the transaction ends: whatever
    a caller writes with ``con`` is committed, or rolled back, with the ingest."""

    con: duckdb.DuckDBPyConnection
    ingest_id: str

    ACCEPTED_LINES = (
        "SELECT line, contact_id FROM _stage_events "
        "UNION ALL SELECT line, contact_id FROM _stage_contacts"
    )
    """A query of ``line, contact_id`` for every row the checks accepted, stored now or
    already stored (duplicates too): one row per accepted line of the file."""


Within = Callable[[Committing], None]
"""A caller's own writes, made inside an ingest's transaction (see :class:`Committing`)."""


@dataclass(frozen=True)
class LoadResult:
    """What the commit did with the staged rows."""

    inserted: dict[str, int]
    updated: int
    duplicates: int
    conflicts: int
    staged_rejects: int


class Loader:
    """One ingest's staging area on an open :class:`Database`."""

    def __init__(
        self, db: Database, ingest_id: str, source: str, fingerprint: Fingerprint | None = None
    ) -> None:
        self.db = db
        self.con = db.con
        self.ingest_id = ingest_id
        self.source = source
        self.fingerprint = fingerprint
        for table, fields in _FIELDS.items():
            columns = ", ".join(
                f'"{c}" {_loose(CONTACT_COLUMNS | EVENT_COLUMNS, c)}' for c in fields
            )
            self.con.execute(
                f"CREATE OR REPLACE TEMP TABLE _stage_{table} "
                f"(line BIGINT, {columns}, _h UBIGINT{_STAGED_KEY[table]})"
            )
        self.con.execute(
            "CREATE OR REPLACE TEMP TABLE _stage_rejects "
            "(line BIGINT, kind VARCHAR, reason VARCHAR, detail VARCHAR, raw VARCHAR)"
        )

    def stage(self, table: Table, rows: pd.DataFrame) -> None:
        """Append accepted rows (columns ``line`` + the table's fields).

        Each row is keyed as it is staged, so the commit reads the staged rows once:
        ``_h`` hashes its content, and an event without an id gets its stable one.
        """
        if rows.empty:
            return
        select = _staged_values(table, "_incoming")
        self._append(f"_stage_{table}", rows, ["line", *_FIELDS[table]], select)

    def stage_query(self, table: Table, query: str, parameters: list[object]) -> int:
        """Append the accepted rows a query yields (columns ``line`` + the table's fields,
        typed as stored), keyed as :meth:`stage` keys them; returns how many."""
        return scalar_int(
            self.con,
            f"INSERT INTO _stage_{table} SELECT {_staged_values(table, '_q')} FROM ({query}) _q",
            parameters,
        )

    @staticmethod
    def staged_lines(table: Table) -> str:
        """SQL for the lines of the rows staged so far for ``table``."""
        return f"SELECT line FROM _stage_{table}"

    def reject(self, rows: pd.DataFrame) -> None:
        """Append rejected rows (``line, kind, reason, detail, raw``) for the quarantine."""
        if not rows.empty:
            self._append("_stage_rejects", rows, _REJECT_COLUMNS, ", ".join(_REJECT_COLUMNS))

    def commit(
        self,
        started_at: datetime,
        finish: Callable[[LoadResult], IngestReport],
        within: Within | None = None,
    ) -> IngestReport:
        """Resolve duplicates and store everything in one transaction.

        ``finish`` turns the counts into the report; if it raises (the report does not add
        up), the transaction is rolled back and nothing is stored. ``within`` runs last,
        inside the same transaction; if it raises, nothing is stored either.
        """
        try:
            with self.db.transaction() as con:
                rejects = scalar_int(con, "SELECT count(*) FROM _stage_rejects")
                events = _load_events(con, self.ingest_id)
                contacts = _load_contacts(con, self.ingest_id)
                # A row rejected by an earlier ingest of the same file is kept once.
                con.execute(
                    f"INSERT INTO quarantine ({', '.join(QUARANTINE_COLUMNS)}) "
                    "SELECT ?, ?, s.line, s.kind, s.reason, s.detail, s.raw FROM _stage_rejects s "
                    "WHERE NOT EXISTS (SELECT 1 FROM quarantine q WHERE q.source = ? "
                    "AND q.line IS NOT DISTINCT FROM s.line AND q.kind = s.kind "
                    "AND q.reason = s.reason AND q.raw IS NOT DISTINCT FROM s.raw)",
                    [self.ingest_id, self.source, self.source],
                )
                result = LoadResult(
                    inserted={"contacts": contacts.inserted, "events": events.inserted},
                    updated=contacts.updated,
                    duplicates=events.duplicates + contacts.duplicates,
                    conflicts=events.conflicts + contacts.conflicts,
                    staged_rejects=rejects,
                )
                report = finish(result)
                self._record(con, started_at, report)
                if within is not None:
                    within(Committing(con, self.ingest_id))
            return report
        finally:
            self.discard()

    def discard(self) -> None:
        """Drop the staging tables; the workspace tables are untouched."""
        for name in ("_stage_contacts", "_stage_events", "_stage_rejects", *_WORK_TABLES):
            self.con.execute(f"DROP TABLE IF EXISTS {name}")

    def _append(self, table: str, rows: pd.DataFrame, columns: list[str], select: str) -> None:
        self.con.register("_incoming", rows[columns])
        try:
            self.con.execute(f"INSERT INTO {table} SELECT {select} FROM _incoming")
        finally:
            self.con.unregister("_incoming")

    def _record(
        self, con: duckdb.DuckDBPyConnection, started_at: datetime, report: IngestReport
    ) -> None:
        mark = self.fingerprint
        con.execute(
            "INSERT INTO ingests (ingest_id, source, kind, format, started_at, rows_read, "
            "accepted, quarantined, duplicates, report, checksum, file_size) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                self.ingest_id,
                self.source,
                report.kind,
                report.format,
                started_at,
                report.rows_read,
                report.accepted,
                report.quarantined,
                report.duplicates,
                orjson.dumps(report.to_dict()).decode(),
                mark.checksum if mark else None,
                mark.size if mark else None,
            ],
        )


_WORK_TABLES = ("_repeat_hashes", "_repeats", "_stored")


@dataclass(frozen=True)
class _Counts:
    inserted: int = 0
    updated: int = 0
    duplicates: int = 0
    conflicts: int = 0


def _load_events(con: duckdb.DuckDBPyConnection, ingest_id: str) -> _Counts:
    fields = _EVENT_FIELDS
    _find_repeats(con, "_stage_events", "message_id", "id_key")
    # The 8-byte keys are compared first; the id strings only where the keys are equal, so
    # two ids that share a key (a hash collision) stay two events.
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _stored AS "
        f"SELECT k.line, k._h = {_content_hash('e', fields[1:])} AS same "
        "FROM _stage_events k JOIN events e "
        "ON e.id_key = k.id_key AND e.message_id = k.message_id "
        "WHERE k.line NOT IN (SELECT line FROM _repeats)"
    )
    inserted = _insert_new(con, "events", "_stage_events", [*fields, "id_key"], ingest_id)
    conflicts = _stage_conflicts(con, "events", "_stage_events", fields)
    return _Counts(inserted=inserted, duplicates=_duplicates(con), conflicts=conflicts)


def _load_contacts(con: duckdb.DuckDBPyConnection, ingest_id: str) -> _Counts:
    fields = _CONTACT_FIELDS
    attributes = fields[1:]
    _find_repeats(con, "_stage_contacts", "contact_id", "hash(contact_id)")
    # A newer export updates a stored contact; a value it lacks keeps the stored one.
    merged = ", ".join(f'coalesce(k."{c}", c."{c}") AS "{c}"' for c in attributes)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _stored AS "
        f"SELECT m.*, {_content_hash('m', attributes)} = m._stored_h AS same FROM "
        f"(SELECT k.line, k.contact_id, {merged}, {_content_hash('c', attributes)} AS _stored_h "
        " FROM _stage_contacts k JOIN contacts c ON c.contact_id = k.contact_id "
        " WHERE k.line NOT IN (SELECT line FROM _repeats)) m"
    )
    assignments = ", ".join(f'"{c}" = m."{c}"' for c in attributes)
    updated = scalar_int(con, "SELECT count(*) FROM _stored WHERE NOT same")
    con.execute(
        f"UPDATE contacts SET {assignments}, ingest_id = ? FROM _stored m "
        "WHERE contacts.contact_id = m.contact_id AND NOT m.same",
        [ingest_id],
    )
    inserted = _insert_new(con, "contacts", "_stage_contacts", fields, ingest_id)
    conflicts = _stage_conflicts(con, "contacts", "_stage_contacts", fields)
    return _Counts(
        inserted=inserted, updated=updated, duplicates=_duplicates(con), conflicts=conflicts
    )


def _find_repeats(con: duckdb.DuckDBPyConnection, keyed: str, key: str, key_hash: str) -> None:
    """Rows whose id already occurred on an earlier line of the same file.

    Ids are first grouped by their 8-byte hash (``key_hash``, SQL over the staged row),
    which keeps the grouping of tens of millions of ids within the memory limit; strings
    are compared only for the few candidates that share a hash.
    """
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _repeat_hashes AS "
        f"SELECT {key_hash} AS key_hash FROM {keyed} GROUP BY 1 HAVING count(*) > 1"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _repeats AS "
        f"WITH candidates AS (SELECT line, {key}, _h FROM {keyed} "
        f"                    WHERE {key_hash} IN (SELECT key_hash FROM _repeat_hashes)), "
        f"firsts AS (SELECT {key}, min(line) AS first_line FROM candidates "
        f"           GROUP BY {key} HAVING count(*) > 1) "
        f"SELECT c.line, f.first_line, c._h = first._h AS same FROM candidates c "
        f"JOIN firsts f ON c.{key} = f.{key} "
        f"JOIN candidates first ON first.{key} = f.{key} AND first.line = f.first_line "
        "WHERE c.line <> f.first_line"
    )


def _insert_new(
    con: duckdb.DuckDBPyConnection, table: str, keyed: str, fields: list[str], ingest_id: str
) -> int:
    names = ", ".join(f'"{c}"' for c in fields)
    return scalar_int(
        con,
        f"INSERT INTO {table} ({names}, ingest_id) SELECT {names}, ? FROM {keyed} k "
        "WHERE k.line NOT IN (SELECT line FROM _repeats) "
        "AND k.line NOT IN (SELECT line FROM _stored)",
        [ingest_id],
    )


def _stage_conflicts(
    con: duckdb.DuckDBPyConnection, kind: str, keyed: str, fields: list[str]
) -> int:
    """Queue rows whose id was seen with different content for the quarantine."""
    key = fields[0]
    raw = "CAST(json_object(" + ", ".join(f"'{c}', k.\"{c}\"" for c in fields) + ") AS VARCHAR)"
    conflicts = (
        f"SELECT k.line, 'id ''' || k.{key} || ''' is also on line ' || r.first_line || "
        f"' of this file, with different content' AS detail, {raw} AS raw "
        f"FROM {keyed} k JOIN _repeats r ON r.line = k.line WHERE NOT r.same "
    )
    if kind == "events":
        conflicts += (
            f"UNION ALL SELECT k.line, 'id ''' || k.{key} || ''' is already stored, with "
            f"different content' AS detail, {raw} AS raw "
            f"FROM {keyed} k JOIN _stored s ON s.line = k.line WHERE NOT s.same"
        )
    return scalar_int(
        con,
        "INSERT INTO _stage_rejects (line, kind, reason, detail, raw) "
        f"SELECT line, '{kind}', 'duplicate_id_conflict', detail, raw FROM ({conflicts})",
    )


def _duplicates(con: duckdb.DuckDBPyConnection) -> int:
    return scalar_int(con, "SELECT count(*) FROM _repeats WHERE same") + scalar_int(
        con, "SELECT count(*) FROM _stored WHERE same"
    )


def _staged_values(table: Table, alias: str) -> str:
    """The staging table's values for an accepted row ``alias``: its line, its fields (an
    event without an id gets its stable one), the hash of its content and, for an event,
    the key of its id."""
    fields = _FIELDS[table]
    values = [f'{alias}."{c}"' for c in fields]
    key = []
    if table == "events":
        values[0] = f"coalesce({alias}.message_id, {content_key_sql(alias, fields[1:])})"
        key = [id_key_sql(values[0])]
    return ", ".join([f"{alias}.line", *values, _content_hash(alias, fields[1:]), *key])


def _content_hash(alias: str, columns: list[str]) -> str:
    """An 8-byte hash of a row's content, to compare two rows within this transaction.

    DuckDB's ``hash`` may change between versions, so it is never stored (the one hash
    that is, ``events.id_key``, is recomputed when it changes: :mod:`~audience.store.id_keys`).
    """
    return "hash(" + ", ".join(f'{alias}."{c}"' for c in columns) + ")"


def _loose(columns: dict[str, str], name: str) -> str:
    """A column's type without NOT NULL, for staging."""
    return columns[name].replace(" NOT NULL", "")
