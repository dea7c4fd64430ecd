"""Overlapping files dedupe through ``events.id_key`` (issue 13.1): exact counts, a hash
collision is still two events, a schema-6 workspace gets its keys, a DuckDB whose hash
differs recomputes them."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from audience import Workspace
from audience.store.id_keys import PROBE_KEY, id_key_sql
from tests.conftest import NOW, write

HEADER = "message_id,email,event,timestamp\n"


def _events(path: Path, ids: range, prefix: str = "m") -> Path:
    rows = "".join(
        f"{prefix}{i},u{i % 7}@example.com,Email Opened,2025-01-01T00:{i % 60:02d}:00Z\n"
        for i in ids
    )
    return write(path, HEADER + rows)


def _keys_are_right(con: duckdb.DuckDBPyConnection) -> bool:
    wrong = con.execute(
        f"SELECT count(*) FROM events WHERE id_key <> {id_key_sql('message_id')}"
    ).fetchall()
    return bool(wrong[0][0] == 0)


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    return int(con.execute(sql).fetchall()[0][0])


def test_overlapping_files_store_each_event_once(workspace: Workspace, tmp_path: Path) -> None:
    first = workspace.ingest(_events(tmp_path / "a.csv", range(100)), "events", now=NOW)
    second = workspace.ingest(_events(tmp_path / "b.csv", range(60, 130)), "events", now=NOW)
    assert (first.accepted, first.duplicates) == (100, 0)
    assert (second.rows_read, second.accepted, second.duplicates) == (70, 30, 40)
    con = workspace.database.con
    assert _count(con, "SELECT count(DISTINCT message_id) FROM events") == 130
    assert _count(con, "SELECT count(*) FROM events") == 130
    assert _keys_are_right(con)


def test_an_id_that_shares_a_stored_key_is_still_a_new_event(
    workspace: Workspace, tmp_path: Path
) -> None:
    workspace.ingest(_events(tmp_path / "a.csv", range(1)), "events", now=NOW)
    con = workspace.database.con
    # Forge the collision: the stored m0 now has the key the new id "x5" will have.
    con.execute(f"UPDATE events SET id_key = {id_key_sql(repr('x5'))} WHERE message_id = 'm0'")
    report = workspace.ingest(_events(tmp_path / "b.csv", range(5, 6), "x"), "events", now=NOW)
    assert (report.accepted, report.duplicates, report.quarantined) == (1, 0, 0)
    assert sorted(con.execute("SELECT message_id FROM events").fetchall()) == [("m0",), ("x5",)]


def test_a_schema_6_workspace_gets_its_keys_and_then_dedupes(tmp_path: Path) -> None:
    path = _events(tmp_path / "a.csv", range(50))
    with Workspace.init(tmp_path / "ws") as ws:
        ws.ingest(path, "events", now=NOW)
        # Back to what version 6 stored: no key column, no probe.
        con = ws.database.con
        con.execute("ALTER TABLE events DROP COLUMN id_key")
        con.execute(f"DELETE FROM audience_meta WHERE key = '{PROBE_KEY}'")
        con.execute("UPDATE audience_meta SET value = '6' WHERE key = 'schema_version'")
    with Workspace(tmp_path / "ws") as ws:
        con = ws.database.con
        assert _keys_are_right(con)
        overlapping = ws.ingest(_events(tmp_path / "b.csv", range(40, 55)), "events", now=NOW)
        assert (overlapping.accepted, overlapping.duplicates) == (5, 10)
        assert _count(con, "SELECT count(*) FROM events") == 55


def test_a_duckdb_whose_hash_differs_recomputes_every_key(tmp_path: Path) -> None:
    path = _events(tmp_path / "a.csv", range(20))
    with Workspace.init(tmp_path / "ws") as ws:
        ws.ingest(path, "events", now=NOW)
        stored_probe = ws.database.con.execute(
            "SELECT value FROM audience_meta WHERE key = ?", [PROBE_KEY]
        ).fetchall()
        # As an older DuckDB would have left them: other keys, another probe.
        ws.database.con.execute("UPDATE events SET id_key = id_key + 1")
        ws.database.con.execute(
            "UPDATE audience_meta SET value = 'another hash' WHERE key = ?", [PROBE_KEY]
        )
    with Workspace(tmp_path / "ws") as ws:
        con = ws.database.con
        assert _keys_are_right(con)
        probe = con.execute("SELECT value FROM audience_meta WHERE key = ?", [PROBE_KEY])
        assert probe.fetchall() == stored_probe
        again = ws.ingest(_events(tmp_path / "b.csv", range(21)), "events", now=NOW)
        assert (again.accepted, again.duplicates) == (1, 20)


def test_a_writer_that_forgets_the_key_is_refused(workspace: Workspace) -> None:
    with pytest.raises(duckdb.ConstraintException, match="id_key"):
        workspace.database.con.execute(
            "INSERT INTO events (message_id, event, timestamp, ingest_id) "
            "VALUES ('m1', 'Email Opened', TIMESTAMPTZ '2025-01-01 00:00:00+00', 'by hand')"
        )
