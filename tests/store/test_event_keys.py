"""Events without an id: keyed unambiguously by content; older keys re-keyed by schema v5;
a full disk while ingesting leaves the workspace as it was."""

from __future__ import annotations

from pathlib import Path

import pytest

from audience import Workspace
from audience.errors import StorageFullError
from audience.store.schema import MIGRATIONS
from tests.conftest import NOW, table_contents, write

HEADER = "email,event,timestamp,category\n"


def test_a_literal_backslash_n_is_not_a_missing_field(workspace: Workspace, tmp_path: Path) -> None:
    event = "a@example.com,Viewed,2025-01-01T00:00:00Z,"
    rows = f"{event}\\N\n{event}\n"
    report = workspace.ingest(write(tmp_path / "events.csv", HEADER + rows), "events", now=NOW)
    assert (report.accepted, report.quarantined) == (2, 0)
    keys = workspace.database.con.execute("SELECT DISTINCT message_id FROM events").fetchall()
    assert len(keys) == 2
    assert all(key.startswith("h:") for (key,) in keys)


def test_version_4_keys_are_rewritten_so_a_file_ingested_before_is_a_duplicate(
    tmp_path: Path,
) -> None:
    path = write(tmp_path / "events.csv", HEADER + "a@example.com,Viewed,2025-01-01T00:00:00Z,\n")
    with Workspace.init(tmp_path / "ws") as ws:
        ws.ingest(path, "events", now=NOW)
        con = ws.database.con
        (key,) = con.execute("SELECT message_id FROM events").fetchone()  # type: ignore[misc]
        # As version 4 keyed it: the fields joined with chr(31), NULL as \N.
        con.execute("UPDATE events SET message_id = 'h:' || md5('version 4 key')")
        MIGRATIONS[4](con)  # the step from version 4 to 5
        assert con.execute("SELECT message_id FROM events").fetchall() == [(key,)]
        again = ws.ingest(path, "events", now=NOW)
    assert (again.accepted, again.duplicates) == (0, 1)


def test_a_full_disk_while_ingesting_is_one_paragraph_and_stores_nothing(tmp_path: Path) -> None:
    ws_path = tmp_path / "ws"
    Workspace.init(ws_path).close()
    toml = ws_path / "audience.toml"
    toml.write_text(toml.read_text().replace('memory_limit = "512MB"', 'memory_limit = "4MB"'))
    rows = "".join(
        f"u{i}@example.com,Email Opened,2025-01-01T00:00:{i % 60:02d}Z,c{i:040d}\n"
        for i in range(200_000)
    )
    path = write(tmp_path / "events.csv", HEADER + rows)
    with Workspace(ws_path) as ws:
        before = table_contents(ws)
        # DuckDB's own limit on spilled data stands in for a disk that fills up.
        ws.database.con.execute("SET max_temp_directory_size = '1MB'")
        with pytest.raises(StorageFullError, match=r"ran out of room.*Nothing was stored"):
            ws.ingest(path, "events", now=NOW)
        ws.database.con.execute("RESET max_temp_directory_size")
        assert table_contents(ws) == before
        assert ws.ingest(
            write(tmp_path / "small.csv", HEADER + rows[:200]), "events", now=NOW
        ).accepted
