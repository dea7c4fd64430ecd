"""The ``audience`` command through Typer's CliRunner: output, exit codes, no tracebacks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from audience.cli import app
from tests.conftest import flat, write

runner = CliRunner()


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    # Wide enough that a long temporary path is never wrapped inside a word.
    result = runner.invoke(app, list(args), env={"COLUMNS": "400", **(env or {})})
    return result.exit_code, flat(result.output)


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    code, _ = run("init", str(tmp_path / "ws"))
    assert code == 0
    return tmp_path / "ws"


def test_help_lists_the_commands() -> None:
    code, output = run("--help")
    assert code == 0
    for command in ("init", "ingest", "generate", "demo", "profile", "quarantine"):
        assert command in output


def test_init_twice_is_one_clear_paragraph_and_exit_1(ws: Path) -> None:
    code, output = run("init", str(ws))
    assert code == 1
    assert "already an Audience workspace" in output
    assert "Traceback" not in output


def test_ingest_prints_a_report_that_adds_up(ws: Path, tmp_path: Path) -> None:
    path = write(tmp_path / "contacts.csv", "Email,Country\na@b.co,US\nbad@,DE\na@b.co,US\n")
    code, output = run("ingest", str(path), "--workspace", str(ws))
    assert code == 0
    assert "rows read 3" in output
    assert "accepted 1" in output
    assert "quarantined 1" in output
    assert "invalid_email 1" in output
    assert "duplicates 1" in output


def test_the_workspace_comes_from_the_environment(ws: Path, tmp_path: Path) -> None:
    path = write(tmp_path / "contacts.csv", "Email\na@b.co\n")
    code, output = run("ingest", str(path), env={"AUDIENCE_WORKSPACE": str(ws)})
    assert code == 0, output
    assert "accepted 1" in output


def test_a_missing_file_is_one_paragraph_exit_1_and_no_traceback(ws: Path) -> None:
    code, output = run("ingest", "nope.csv", "--kind", "contacts", "--workspace", str(ws))
    assert code == 1
    assert "no such file" in output
    assert "Traceback" not in output


def test_a_missing_column_names_file_found_and_expected_columns(ws: Path, tmp_path: Path) -> None:
    path = write(tmp_path / "people.csv", "Name,Phone\nAnn,1\n")
    code, output = run("ingest", str(path), "--kind", "contacts", "--workspace", str(ws))
    assert code == 1
    assert "people.csv" in output
    assert "'email' not found" in output
    assert "Columns found: 'Name', 'Phone'" in output
    assert "--map" in output


def test_map_option_maps_a_column(ws: Path, tmp_path: Path) -> None:
    path = write(tmp_path / "people.csv", "Work Mail\na@b.co\n")
    code, output = run(
        "ingest",
        str(path),
        "--kind",
        "contacts",
        "--map",
        "Work Mail=email",
        "--workspace",
        str(ws),
    )
    assert code == 0, output
    assert "Work Mail → email" in output


def test_a_bad_config_key_is_named(ws: Path, tmp_path: Path) -> None:
    (ws / "audience.toml").write_text("[ingest]\nchunk_size = 5\n", encoding="utf-8")
    code, output = run("profile", "--workspace", str(ws))
    assert code == 1
    assert "unknown key 'ingest.chunk_size'" in output


def test_profile_and_quarantine_show_what_is_stored(ws: Path, tmp_path: Path) -> None:
    path = write(
        tmp_path / "events.csv",
        "messageId,userId,event,timestamp\n"
        "m1,C1,Email Opened,2025-01-01T00:00:00Z\nm2,C1,Email Opened,someday\n",
    )
    assert run("ingest", str(path), "--workspace", str(ws))[0] == 0
    code, output = run("profile", "--workspace", str(ws))
    assert code == 0
    assert "events 1" in output
    assert "Email Opened 1 100.0%" in output
    code, output = run("quarantine", "--workspace", str(ws))
    assert code == 0
    assert "events.csv 3 unparseable_timestamp" in output


def test_generate_writes_the_three_files(tmp_path: Path) -> None:
    out = tmp_path / "gen"
    code, output = run(
        "generate", str(out), "--contacts", "200", "--seed", "3", "--as-of", "2025-06-01"
    )
    assert code == 0, output
    assert {p.name for p in out.iterdir()} == {"contacts.csv", "events.parquet", "truth.csv"}


def test_generate_refuses_a_bad_dirty_rate(tmp_path: Path) -> None:
    code, output = run("generate", str(tmp_path / "g"), "--contacts", "10", "--dirty", "2")
    assert code == 1
    assert "dirty" in output
    assert "Traceback" not in output


@pytest.mark.slow
def test_demo_builds_a_workspace_and_prints_reports_and_profile(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    code, output = run(
        "demo", str(folder), "--contacts", "2000", "--seed", "1", env={"COLUMNS": "250"}
    )
    assert code == 0, output
    assert output.count("rows read") == 2
    assert "data profile" in output
    assert "Order Completed" in output
    assert "candidates" in output
    assert "suppressed/unsubscribed" in output
    assert "customers/" in output  # clusters inside customers, named after their personas
    reports = list((folder / "reports").glob("seg-*.html"))
    assert len(reports) == 1
    assert f"report: {reports[0]}" in output
    assert (folder / "audience.duckdb").is_file()
    code, output = run("demo", str(folder))
    assert code == 1
    assert "not empty" in output
    assert os.path.isdir(folder)


def test_generate_refuses_a_future_as_of(tmp_path: Path) -> None:
    code, output = run("generate", str(tmp_path / "g"), "--contacts", "10", "--as-of", "2999-01-01")
    assert code == 1
    assert "is in the future" in output
    assert not (tmp_path / "g").exists()
