"""Erasing a person from the workspace database (``audience erase``, ``DELETE /api/contacts``).

Every table of the database is accounted for: a table with a ``contact_id`` column loses
that person's rows (contacts, events, memberships, features at every ``as_of``, membership
changes, stream entries, and any such table added later), the quarantine loses the rejected
rows whose raw text or detail holds the person's contact id or email as a whole token, and
every other table is listed in :data:`KEPT` with the reason it holds nothing personal. A
table that is none of these stops the erasure before anything is deleted
(:class:`~audience.errors.WorkspaceError`): keeping a person's rows because a table was
added without thinking of erasure would be worse than refusing.

Everything happens in one transaction, with the ``erasures`` log entry: the person is gone
from every table and the log says so, or nothing changed. ``before_commit`` runs inside it,
last: the caller's seam for work that must succeed with it (the model files; see
:mod:`audience.segments.erasing`).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import duckdb
import orjson

from audience.errors import ConfigError, NotFoundError, WorkspaceError
from audience.store.database import Database
from audience.store.results import scalar_int

QUARANTINE = "quarantine"
LOG = "erasures"

KEPT: dict[str, str] = {
    "audience_meta": "the schema version, nothing about people",
    "ingests": "one row per file: its name, counts of rows and quarantine reasons, the column "
    "mapping; no row's values",
    "runs": "a run's config and model-selection metrics: aggregates over every contact",
    "segments": "each segment's definition, size and profile (means, medians, lifts): "
    "aggregates over its members, kept as the record of what the run found",
    "segment_names": "names people gave segments",
    "api_keys": "API keys (hashes of their secrets), not contacts",
    "segment_lineage": "which segment of a run continues which of the previous run",
    "transitions": "how many contacts moved between two runs' segments: counts",
    "drift": "PSI and KS statistics of features between runs: aggregates",
    "alerts": "alerts about segments, drift and model quality: their subjects are segments, "
    "features and runs, never a contact",
    "deliveries": "webhook attempts: destination, status and a SHA-256 of the body, never the "
    "body (alert payloads, which name no contact)",
    "refreshes": "each refresh's steps and counts",
    "feature_sets": "what a feature computation saw: ingest ids and row counts",
    LOG: "the erasure log itself: keyed hashes and counts, no id or email in clear",
}
"""Tables that hold no personal data, each with the reason."""

_PURPOSE = b"audience erasure log v1"
# Token boundaries for the quarantine match: an id or email counts only as a whole value,
# so erasing C0001 leaves C00012's rejected rows alone.
_NOT_TOKEN = r"[^a-z0-9_.@+\-]"


@dataclass(frozen=True)
class ErasureRequest:
    """Whom to erase: exactly one of a contact id or an email address."""

    contact_id: str | None = None
    email: str | None = None

    def __post_init__(self) -> None:
        given = [v for v in (self.contact_id, self.email) if v is not None and v.strip()]
        if len(given) != 1:
            raise ConfigError(
                "say whom to erase with exactly one of --contact ID or --email ADDRESS "
                f"(got {'both' if len(given) == 2 else 'neither'}); nothing was erased."
            )

    @property
    def described(self) -> str:
        """What was asked for, normalised (an email trimmed and lower-cased)."""
        if self.email is not None:
            return f"email:{self.email.strip().lower()}"
        return f"contact:{(self.contact_id or '').strip()}"


@dataclass(frozen=True)
class ErasureResult:
    """What one erasure removed (ids and emails are not kept, even here)."""

    erasure_id: str
    """The log row's id, ``erasure-<hex>``."""
    erased_at: datetime
    """When, as the log records it."""
    contacts: int
    """How many contact ids were erased (an email can belong to several)."""
    counts: dict[str, int]
    """Rows deleted per table."""
    models: dict[str, str] = field(default_factory=dict)
    """Each model file touched: run id → ``rewritten`` or ``removed``."""


@dataclass(frozen=True)
class Person:
    """The person as the database knows them, read before anything is deleted."""

    contact_ids: tuple[str, ...]
    emails: tuple[str, ...]
    runs: tuple[str, ...]
    """The runs with a membership of theirs (their model files may hold their rows)."""


def log_key(secret: bytes) -> bytes:
    """The key of the log's hashes, derived from the workspace secret: keyed rather than
    plain, so a copy of the database cannot confirm a guess of who was erased; one purpose
    per key, since the secret also keys the email hashes."""
    return hmac.new(secret, _PURPOSE, hashlib.sha256).digest()


def _hash(key: bytes, text: str) -> str:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()


def find_person(db: Database, request: ErasureRequest, secret: bytes) -> Person:
    """The contact ids, emails and runs of the person asked for; NotFoundError naming a
    previous erasure of the same request when there was one."""
    con = db.con
    if request.email is not None:
        email = request.email.strip().lower()
        digest = hmac.new(secret, email.encode("utf-8"), hashlib.sha256).hexdigest()
        rows = con.execute(
            "SELECT contact_id FROM contacts WHERE lower(trim(email)) = ? OR email_hash = ?",
            [email, digest],
        ).fetchall()
    else:
        wanted = (request.contact_id or "").strip()
        rows = [(wanted,)] if _known_anywhere(con, wanted) else []
    ids = tuple(sorted({str(r[0]) for r in rows}))
    if not ids:
        raise NotFoundError(_not_found(con, request, secret))
    emails = con.execute(
        "SELECT DISTINCT lower(trim(email)) FROM contacts WHERE contact_id IN "
        "(SELECT unnest(?)) AND email IS NOT NULL",
        [list(ids)],
    ).fetchall()
    asked = [request.email.strip().lower()] if request.email else []
    runs = con.execute(
        "SELECT DISTINCT run_id FROM memberships WHERE contact_id IN (SELECT unnest(?)) "
        "ORDER BY run_id",
        [list(ids)],
    ).fetchall()
    return Person(
        ids, tuple(sorted({str(e[0]) for e in emails} | set(asked))), tuple(r[0] for r in runs)
    )


def _known_anywhere(con: duckdb.DuckDBPyConnection, contact_id: str) -> bool:
    """Whether any table with a ``contact_id`` holds this id (events may name a contact
    whose row never arrived)."""
    return any(
        con.execute(f'SELECT 1 FROM "{t}" WHERE contact_id = ? LIMIT 1', [contact_id]).fetchall()
        for t in contact_tables(con)
    )


def _not_found(con: duckdb.DuckDBPyConnection, request: ErasureRequest, secret: bytes) -> str:
    what = request.described.replace(":", " ", 1)
    previous = con.execute(
        f"SELECT max(erased_at) FROM {LOG} WHERE request_hash = ?",
        [_hash(log_key(secret), request.described)],
    ).fetchall()
    if previous and previous[0][0] is not None:
        return (
            f"no {what} in this workspace: it was already erased on "
            f"{previous[0][0]:%Y-%m-%d %H:%M} UTC. Nothing was changed."
        )
    return (
        f"no {what} in this workspace: no contact, event or membership has it. Check the "
        "spelling (an email is matched trimmed and lower-cased); nothing was changed."
    )


def tables(con: duckdb.DuckDBPyConnection) -> dict[str, set[str]]:
    """Every table of the workspace database with its columns."""
    rows = con.execute(
        "SELECT c.table_name, c.column_name FROM information_schema.columns c "
        "JOIN information_schema.tables t USING (table_catalog, table_schema, table_name) "
        "WHERE t.table_schema = 'main' AND t.table_type = 'BASE TABLE' "
        "AND t.table_catalog = current_database()"
    ).fetchall()
    found: dict[str, set[str]] = {}
    for table, column in rows:
        found.setdefault(str(table), set()).add(str(column))
    return found


def contact_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The tables whose rows belong to a contact (they have a ``contact_id`` column)."""
    return sorted(t for t, cols in tables(con).items() if "contact_id" in cols)


def unaccounted(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Tables erasure does not know how to treat: neither a contact's rows, nor the
    quarantine, nor listed in :data:`KEPT`."""
    return sorted(
        t
        for t, cols in tables(con).items()
        if "contact_id" not in cols and t != QUARANTINE and t not in KEPT
    )


def erase_person(
    db: Database,
    person: Person,
    secret: bytes,
    *,
    request: ErasureRequest,
    requested_by: str,
    now: datetime,
    before_commit: Callable[[duckdb.DuckDBPyConnection], dict[str, str]] | None = None,
) -> ErasureResult:
    """Delete ``person`` from every table and log it, in one transaction (module docstring).
    ``before_commit`` runs last inside it and returns what it did to model files."""
    unknown = unaccounted(db.con)
    if unknown:
        raise WorkspaceError(
            f"cannot erase: the table(s) {', '.join(unknown)} are not known to the erasure "
            "(no contact_id column, and not listed as holding nothing personal). Nothing was "
            "erased; upgrade Audience, or report this as a bug."
        )
    key = log_key(secret)
    erasure_id = f"erasure-{uuid.uuid4().hex[:12]}"
    models: dict[str, str] = {}
    with db.transaction() as con:
        counts = {t: _delete_rows(con, t, person.contact_ids) for t in contact_tables(con)}
        counts[QUARANTINE] = _delete_quarantine(con, person)
        if before_commit is not None:
            models = before_commit(con)
        con.execute(
            f"INSERT INTO {LOG} VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                erasure_id,
                now,
                requested_by,
                _hash(key, request.described),
                [_hash(key, f"contact:{c}") for c in person.contact_ids],
                orjson.dumps(counts).decode(),
                orjson.dumps(models).decode(),
            ],
        )
    return ErasureResult(erasure_id, now, len(person.contact_ids), counts, models)


def _delete_rows(con: duckdb.DuckDBPyConnection, table: str, ids: tuple[str, ...]) -> int:
    return scalar_int(
        con, f'DELETE FROM "{table}" WHERE contact_id IN (SELECT unnest(?))', [list(ids)]
    )


def _delete_quarantine(con: duckdb.DuckDBPyConnection, person: Person) -> int:
    """Rejected rows naming the person: their id or email as a whole value in the raw text
    (the row as read: JSON of its fields, or the line itself) or in the detail."""
    tokens = [t.lower() for t in (*person.contact_ids, *person.emails) if t]
    if not tokens:
        return 0
    pattern = "|".join(f"(^|{_NOT_TOKEN}){re.escape(t)}($|{_NOT_TOKEN})" for t in tokens)
    return scalar_int(
        con,
        f"DELETE FROM {QUARANTINE} WHERE regexp_matches(lower(coalesce(raw, '')), $p) "
        "OR regexp_matches(lower(detail), $p)",
        {"p": pattern},
    )


def erasure_log(db: Database) -> list[dict[str, object]]:
    """The erasure log, newest first (no personal data is in it)."""
    rows = db.con.execute(
        f"SELECT erasure_id, erased_at, requested_by, counts, models FROM {LOG} "
        "ORDER BY erased_at DESC"
    ).fetchall()
    return [
        {
            "erasure_id": r[0],
            "erased_at": r[1],
            "requested_by": r[2],
            "counts": orjson.loads(r[3]),
            "models": orjson.loads(r[4]),
        }
        for r in rows
    ]
