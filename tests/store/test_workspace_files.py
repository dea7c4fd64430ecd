"""The workspace's files: secret, schema version, refusal to clobber."""

from __future__ import annotations

import stat
from pathlib import Path

import duckdb
import pytest

from audience import Workspace
from audience.errors import SchemaVersionError, WorkspaceError
from audience.store import SCHEMA_VERSION, Database
from audience.store.secret import SECRET_FILE


def test_init_creates_config_database_and_a_private_secret(tmp_path: Path) -> None:
    with Workspace.init(tmp_path / "ws") as ws:
        assert (ws.path / "audience.toml").is_file()
        assert ws.database_path.is_file()
        mode = stat.S_IMODE((ws.path / SECRET_FILE).stat().st_mode)
        assert mode == 0o600
        assert len(ws.secret) == 32


def test_the_secret_is_not_in_the_database(tmp_path: Path) -> None:
    with Workspace.init(tmp_path / "ws") as ws:
        secret_hex = ws.secret.hex()
        ws.close()
        assert secret_hex.encode() not in ws.database_path.read_bytes()


def test_the_schema_holds_the_design_tables_and_its_version(tmp_path: Path) -> None:
    with Workspace.init(tmp_path / "ws") as ws:
        con = ws.database.con
        tables = {
            r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
        }
        assert {
            "contacts",
            "events",
            "quarantine",
            "runs",
            "segments",
            "memberships",
            "ingests",
        } <= tables
        version = con.execute(
            "SELECT value FROM audience_meta WHERE key = 'schema_version'"
        ).fetchone()
        assert version == (str(SCHEMA_VERSION),)


def test_init_refuses_an_existing_workspace(tmp_path: Path) -> None:
    Workspace.init(tmp_path / "ws").close()
    with pytest.raises(WorkspaceError, match="already an Audience workspace"):
        Workspace.init(tmp_path / "ws")


def test_opening_a_folder_that_is_not_a_workspace_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match="audience init"):
        Workspace(tmp_path)


def test_a_secret_readable_by_others_is_refused(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "ws")
    ws.close()
    (ws.path / SECRET_FILE).chmod(0o644)
    with pytest.raises(WorkspaceError, match="chmod 600"):
        _ = Workspace(ws.path).secret


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.duckdb"
    Database(path).close()
    con = duckdb.connect(str(path))
    con.execute("UPDATE audience_meta SET value = '99' WHERE key = 'schema_version'")
    con.close()
    with pytest.raises(SchemaVersionError, match="upgrade Audience"):
        Database(path)
