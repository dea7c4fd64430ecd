"""The compact key of a stored event id: ``events.id_key``, DuckDB's 64-bit ``hash`` of
``message_id``.

An ingest dedupes its events against the stored ones by this key first (an 8-byte
integer, which a join hashes and compares far faster than the id strings) and compares
the ids themselves only where the keys are equal, so two different ids that share a key
are still two events (:mod:`audience.store.loading`).

DuckDB documents ``hash`` as free to change between its versions (stable functions such
as ``md5_number_lower`` measured ten times slower here). So the workspace stores a
*probe*, the hash of a fixed string, in ``audience_meta``; a DuckDB whose hash of that
string differs recomputes every key, in one transaction, when it opens the workspace
for writing (:func:`refresh_id_keys`).
"""

from __future__ import annotations

import duckdb

from audience.store.results import first_row

PROBE_KEY = "id_key_probe"
"""The ``audience_meta`` key holding the probe."""

_PROBE_TEXT = "audience id key probe 8f0c6f1e-2a4b-4c7d-9e31-5b6a7c8d9e0f"
"""A fixed string, shaped like an event id, whose hash stands for the hash function."""


def id_key_sql(message_id: str) -> str:
    """SQL for the id key of the event whose id is the SQL expression ``message_id``."""
    return f"hash({message_id})"


def probe(con: duckdb.DuckDBPyConnection) -> str:
    """This DuckDB's hash of the probe string, as text (``audience_meta`` holds text)."""
    rows = con.execute("SELECT CAST(hash(?) AS VARCHAR)", [_PROBE_TEXT]).fetchall()
    return str(rows[0][0])


def fill_id_keys(con: duckdb.DuckDBPyConnection) -> None:
    """Compute every stored event's key and record the probe they were computed with.

    The caller owns the transaction (a migration, or :func:`refresh_id_keys`).
    """
    con.execute(f"UPDATE events SET id_key = {id_key_sql('events.message_id')}")
    con.execute("INSERT OR REPLACE INTO audience_meta VALUES (?, ?)", [PROBE_KEY, probe(con)])


def refresh_id_keys(con: duckdb.DuckDBPyConnection) -> bool:
    """Recompute the keys if they were computed by a DuckDB whose ``hash`` differs from
    this one's; returns whether it did. One transaction: the keys all change, or none."""
    row = first_row(con.execute("SELECT value FROM audience_meta WHERE key = ?", [PROBE_KEY]))
    if row is not None and row[0] == probe(con):
        return False
    con.execute("BEGIN TRANSACTION")
    try:
        fill_id_keys(con)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return True
