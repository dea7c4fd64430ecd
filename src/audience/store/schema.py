"""Table definitions and forward-only migrations of the workspace database.

Uniqueness of ``events.message_id`` and ``contacts.contact_id`` is enforced by the loader
(anti-joins at ingest), not by index constraints: a unique index over tens of millions of
event ids would have to sit in memory, and DuckDB's constraint checks refuse a delete and
re-insert of the same key within one transaction, which upserts need.
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb

from audience.errors import SchemaVersionError
from audience.store.event_keys import PREFIX as KEY_PREFIX
from audience.store.event_keys import content_key_sql
from audience.store.id_keys import fill_id_keys
from audience.store.results import first_row

SCHEMA_VERSION = 7

CONTACT_COLUMNS: dict[str, str] = {
    "contact_id": "VARCHAR NOT NULL",
    "email": "VARCHAR",
    "email_hash": "VARCHAR",
    "country": "VARCHAR",
    "signup_at": "TIMESTAMPTZ",
    "consent": "VARCHAR",
    "open_rate": "DOUBLE",
    "click_rate": "DOUBLE",
    "ingest_id": "VARCHAR NOT NULL",
}

EVENT_COLUMNS: dict[str, str] = {
    "message_id": "VARCHAR NOT NULL",
    "contact_id": "VARCHAR",
    "anonymous_id": "VARCHAR",
    "event": "VARCHAR NOT NULL",
    "timestamp": "TIMESTAMPTZ NOT NULL",
    "revenue": "DOUBLE",
    "price": "DOUBLE",
    "quantity": "BIGINT",
    "order_id": "VARCHAR",
    "product_id": "VARCHAR",
    "category": "VARCHAR",
    "campaign_id": "VARCHAR",
    "is_machine_open": "BOOLEAN",
    "bounce_type": "VARCHAR",
    "ingest_id": "VARCHAR NOT NULL",
}

QUARANTINE_COLUMNS: dict[str, str] = {
    "ingest_id": "VARCHAR NOT NULL",
    "source": "VARCHAR NOT NULL",
    "line": "BIGINT",
    "kind": "VARCHAR NOT NULL",
    "reason": "VARCHAR NOT NULL",
    "detail": "VARCHAR NOT NULL",
    "raw": "VARCHAR",
}


def _table(name: str, columns: dict[str, str], extra: str = "") -> str:
    body = ",\n    ".join(f'"{column}" {kind}' for column, kind in columns.items())
    return f"CREATE TABLE {name} (\n    {body}{extra}\n)"


_V1 = [
    "CREATE TABLE audience_meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)",
    _table("contacts", CONTACT_COLUMNS),
    _table("events", EVENT_COLUMNS),
    _table("quarantine", QUARANTINE_COLUMNS),
    """CREATE TABLE ingests (
    ingest_id VARCHAR PRIMARY KEY,
    source VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    format VARCHAR NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    rows_read BIGINT NOT NULL,
    accepted BIGINT NOT NULL,
    quarantined BIGINT NOT NULL,
    duplicates BIGINT NOT NULL,
    report JSON NOT NULL
)""",
    """CREATE TABLE runs (
    run_id VARCHAR PRIMARY KEY,
    created_at TIMESTAMPTZ NOT NULL,
    as_of TIMESTAMPTZ NOT NULL,
    status VARCHAR NOT NULL,
    config JSON NOT NULL,
    metrics JSON
)""",
    """CREATE TABLE segments (
    run_id VARCHAR NOT NULL,
    segment_id VARCHAR NOT NULL,
    parent_id VARCHAR,
    name VARCHAR,
    size BIGINT NOT NULL,
    definition JSON,
    PRIMARY KEY (run_id, segment_id)
)""",
    """CREATE TABLE memberships (
    run_id VARCHAR NOT NULL,
    contact_id VARCHAR NOT NULL,
    segment_id VARCHAR NOT NULL,
    probability DOUBLE
)""",
]

Migration = Callable[[duckdb.DuckDBPyConnection], None]


def _statements(statements: list[str]) -> Migration:
    def apply(con: duckdb.DuckDBPyConnection) -> None:
        for statement in statements:
            con.execute(statement)

    return apply


_V2 = [
    # Names a person gave segments (`audience segments rename`): they outlive the run they
    # were given in, and every later run with the same segment id shows them.
    """CREATE TABLE segment_names (
    segment_id VARCHAR PRIMARY KEY,
    name VARCHAR NOT NULL,
    renamed_at TIMESTAMPTZ NOT NULL
)""",
]

_V3 = [
    # API keys of `audience serve` (`audience keys create`): only a hash of the secret part
    # is kept, so a copy of the database does not give access to the server.
    """CREATE TABLE api_keys (
    key_id VARCHAR PRIMARY KEY,
    name VARCHAR NOT NULL,
    role VARCHAR NOT NULL,
    secret_hash VARCHAR NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    revoked_at TIMESTAMPTZ
)""",
]

_V4 = [
    # A file already ingested is recognised by its content (`audience refresh` skips it).
    "ALTER TABLE ingests ADD COLUMN checksum VARCHAR",
    "ALTER TABLE ingests ADD COLUMN file_size BIGINT",
    # Stable segment ids: one row per segment of a run (kept, new, split) and per segment of
    # the previous run that has no successor (retired, merged); `related` is the segment it
    # kept the id of, split from, or merged into; `matched_by` membership (with the Jaccard
    # index), centroid (with the distance in standard deviations) or id (a fixed segment).
    """CREATE TABLE segment_lineage (
    run_id VARCHAR NOT NULL,
    previous_run_id VARCHAR,
    segment_id VARCHAR NOT NULL,
    status VARCHAR NOT NULL,
    related VARCHAR,
    matched_by VARCHAR,
    jaccard DOUBLE,
    distance DOUBLE
)""",
    # How many contacts moved from each segment of the previous run to each of this one
    # (NULL: not in that run).
    """CREATE TABLE transitions (
    run_id VARCHAR NOT NULL,
    previous_run_id VARCHAR NOT NULL,
    from_segment VARCHAR,
    to_segment VARCHAR,
    contacts BIGINT NOT NULL
)""",
    # Feature drift against the previous run: scope '' is the population, else a segment.
    """CREATE TABLE drift (
    run_id VARCHAR NOT NULL,
    previous_run_id VARCHAR NOT NULL,
    scope VARCHAR NOT NULL,
    feature VARCHAR NOT NULL,
    psi DOUBLE,
    ks DOUBLE,
    status VARCHAR NOT NULL
)""",
    """CREATE TABLE alerts (
    alert_id VARCHAR PRIMARY KEY,
    created_at TIMESTAMPTZ NOT NULL,
    run_id VARCHAR,
    kind VARCHAR NOT NULL,
    severity VARCHAR NOT NULL,
    subject VARCHAR NOT NULL,
    message VARCHAR NOT NULL,
    details JSON
)""",
    # Every attempt to deliver something to an outside endpoint (alert webhooks, later
    # activation webhooks): what was sent (its hash), when, and what came back.
    """CREATE TABLE deliveries (
    delivery_id VARCHAR NOT NULL,
    destination VARCHAR NOT NULL,
    subject VARCHAR NOT NULL,
    attempt INTEGER NOT NULL,
    sent_at TIMESTAMPTZ NOT NULL,
    body_sha256 VARCHAR NOT NULL,
    status_code INTEGER,
    ok BOOLEAN NOT NULL,
    error VARCHAR
)""",
    """CREATE TABLE refreshes (
    refresh_id VARCHAR PRIMARY KEY,
    started_at TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ,
    as_of TIMESTAMPTZ,
    status VARCHAR NOT NULL,
    exit_code INTEGER,
    run_id VARCHAR,
    steps JSON,
    error VARCHAR
)""",
    # How the features at an as_of were computed: what they saw (the ingests committed, the
    # events stored) and with which definitions, so a refresh can start from them and
    # recompute only the contacts that changed since (`features/incremental.py`).
    """CREATE TABLE feature_sets (
    as_of TIMESTAMPTZ NOT NULL,
    computed_at TIMESTAMPTZ NOT NULL,
    method VARCHAR NOT NULL,
    previous_as_of TIMESTAMPTZ,
    definitions VARCHAR NOT NULL,
    config JSON NOT NULL,
    ingests VARCHAR[] NOT NULL,
    events BIGINT NOT NULL,
    contacts BIGINT NOT NULL,
    recomputed BIGINT NOT NULL
)""",
    # Contacts re-assigned between runs (`audience stream`): the change and when it happened.
    """CREATE TABLE membership_changes (
    changed_at TIMESTAMPTZ NOT NULL,
    run_id VARCHAR NOT NULL,
    contact_id VARCHAR NOT NULL,
    from_segment VARCHAR,
    to_segment VARCHAR,
    source VARCHAR NOT NULL
)""",
    # Stream messages already committed (`audience stream`), so that one delivered again
    # after a crash is recognised and not ingested twice; `contact_id`: whom its call touched.
    """CREATE TABLE stream_entries (
    source VARCHAR NOT NULL,
    entry_id VARCHAR NOT NULL,
    ingest_id VARCHAR NOT NULL,
    contact_id VARCHAR,
    committed_at TIMESTAMPTZ NOT NULL
)""",
]

# Events stored without an id get their key again, in the unambiguous encoding of
# `event_keys.py`: a file ingested before recognises its rows as duplicates.
_V5 = [
    "UPDATE events SET message_id = "
    + content_key_sql("events", [c for c in EVENT_COLUMNS if c not in ("message_id", "ingest_id")])
    + f" WHERE message_id LIKE '{KEY_PREFIX}%'"
]

_V6 = [
    # One row per `audience erase` / `DELETE /api/contacts/{id}` (`store/erasing.py`), holding
    # nothing that names the person: who asked (a key's id or "cli"), how many rows went from
    # each table, and keyed hashes (HMAC with the workspace secret) of the request and of each
    # contact id erased, so a repeated request is recognised without keeping the id itself.
    """CREATE TABLE erasures (
    erasure_id VARCHAR PRIMARY KEY,
    erased_at TIMESTAMPTZ NOT NULL,
    requested_by VARCHAR NOT NULL,
    request_hash VARCHAR NOT NULL,
    contact_hashes VARCHAR[] NOT NULL,
    counts JSON NOT NULL,
    models JSON NOT NULL
)""",
]


def _v7(con: duckdb.DuckDBPyConnection) -> None:
    """Every event gets its compact id key (``store/id_keys.py``), which ingests dedupe by.

    NOT NULL: a writer of ``events`` that forgets the key fails at once instead of storing
    an event that no later ingest would recognise. (DuckDB adds a NOT NULL column only with
    a default, and cannot SET NOT NULL after an update in the same transaction: the
    default fills the column for the moment of the update and is dropped after it.)
    """
    con.execute("ALTER TABLE events ADD COLUMN id_key UBIGINT NOT NULL DEFAULT 0")
    fill_id_keys(con)
    con.execute("ALTER TABLE events ALTER COLUMN id_key DROP DEFAULT")


# MIGRATIONS[v] brings a database from version v to v + 1; version 0 is an empty file.
MIGRATIONS: list[Migration] = [
    _statements(_V1),
    _statements(_V2),
    _statements(_V3),
    _statements(_V4),
    _statements(_V5),
    _statements(_V6),
    _v7,
]
assert len(MIGRATIONS) == SCHEMA_VERSION


def current_version(con: duckdb.DuckDBPyConnection) -> int:
    """The schema version recorded in the database, 0 for an empty one."""
    exists = first_row(
        con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'audience_meta'"
        )
    )
    if not exists or exists[0] == 0:
        return 0
    row = first_row(con.execute("SELECT value FROM audience_meta WHERE key = 'schema_version'"))
    return int(row[0]) if row else 0


def migrate(con: duckdb.DuckDBPyConnection, database: str) -> int:
    """Apply pending migrations in one transaction; return the resulting version."""
    version = current_version(con)
    if version > SCHEMA_VERSION:
        raise SchemaVersionError(
            f"{database} has schema version {version}, newer than this Audience understands "
            f"({SCHEMA_VERSION}); upgrade Audience to open it."
        )
    if version == SCHEMA_VERSION:
        return version
    con.execute("BEGIN TRANSACTION")
    try:
        for step in MIGRATIONS[version:]:
            step(con)
        con.execute(
            "INSERT OR REPLACE INTO audience_meta VALUES ('schema_version', ?)",
            [str(SCHEMA_VERSION)],
        )
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return SCHEMA_VERSION
