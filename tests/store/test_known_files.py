"""A file already ingested is recognised by its bytes and not read again (issue 13.1),
unless asked ``again``; ``audience ingest`` says so in one line."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from audience import Workspace
from audience.cli import app
from audience.store.known_files import AlreadyIngested
from tests.conftest import NOW, flat, table_contents, write

EVENTS = (
    "message_id,email,event,timestamp\n"
    "m1,a@example.com,Email Opened,2025-01-01T00:00:00Z\n"
    "m2,not-an-email,Email Opened,2025-01-01T00:00:00Z\n"
    "m1,a@example.com,Email Opened,2025-01-01T00:00:00Z\n"
    "m3,b@example.com,Email Opened,2025-01-02T00:00:00Z\n"
)


def _ingests(ws: Workspace) -> int:
    return int(ws.database.con.execute("SELECT count(*) FROM ingests").fetchall()[0][0])


def test_the_same_bytes_under_another_name_are_not_read_and_nothing_is_recorded(
    workspace: Workspace, tmp_path: Path
) -> None:
    first = workspace.ingest(write(tmp_path / "events.csv", EVENTS), "events", now=NOW)
    before = table_contents(workspace)
    rows_seen: list[int] = []
    copy = write(tmp_path / "copy-of-events.csv", EVENTS)
    report = workspace.ingest(copy, "events", now=NOW, progress=rows_seen.append)
    assert isinstance(report, AlreadyIngested)
    assert report.skipped_as == report.ingest_id == first.ingest_id
    assert report.source == str(copy)
    assert rows_seen == []
    assert table_contents(workspace) == before
    # The earlier ingest's quarantine again; every other row a duplicate of what it stored.
    assert (first.rows_read, first.accepted, first.quarantined, first.duplicates) == (4, 2, 1, 1)
    assert (report.rows_read, report.accepted, report.quarantined, report.duplicates) == (
        4,
        0,
        1,
        3,
    )
    assert report.quarantine_reasons == first.quarantine_reasons
    assert report.ingested_at == NOW


def test_again_reads_every_row_and_records_the_ingest(workspace: Workspace, tmp_path: Path) -> None:
    path = write(tmp_path / "events.csv", EVENTS)
    workspace.ingest(path, "events", now=NOW)
    rows_seen: list[int] = []
    report = workspace.ingest(path, "events", now=NOW, again=True, progress=rows_seen.append)
    assert not isinstance(report, AlreadyIngested)
    assert rows_seen[-1] == 4
    assert (report.accepted, report.quarantined, report.duplicates) == (0, 1, 3)
    assert _ingests(workspace) == 2


def test_the_same_bytes_as_another_kind_are_read(workspace: Workspace, tmp_path: Path) -> None:
    rows = "m1,a@example.com,Order Completed,2025-01-01T00:00:00Z,12.5\n"
    path = write(tmp_path / "orders.csv", "message_id,email,event,timestamp,revenue\n" + rows)
    workspace.ingest(path, "events", now=NOW)
    report = workspace.ingest(path, "orders", now=NOW)
    assert not isinstance(report, AlreadyIngested)
    assert report.rows_read == 1
    assert _ingests(workspace) == 2


def test_the_cli_says_in_one_line_that_there_is_nothing_to_do(tmp_path: Path) -> None:
    runner = CliRunner()
    ws = tmp_path / "ws"
    path = write(tmp_path / "events.csv", EVENTS)

    def ingest(*extra: str) -> tuple[int, str]:
        args = ["ingest", str(path), "--kind", "events", "--workspace", str(ws), *extra]
        result = runner.invoke(app, args, env={"COLUMNS": "400"})
        return result.exit_code, flat(result.output)

    assert runner.invoke(app, ["init", str(ws)]).exit_code == 0
    assert ingest()[0] == 0
    with Workspace(ws) as opened:
        (ingest_id, started_at), *_ = opened.database.con.execute(
            "SELECT ingest_id, started_at FROM ingests"
        ).fetchall()
    code, output = ingest()
    assert code == 0
    assert output == (
        f"{path}: already ingested on {started_at.date().isoformat()} as {ingest_id} "
        "(same bytes): nothing to do; --again reads it anyway"
    )
    code, output = ingest("--again")
    assert code == 0
    assert "rows read 4" in output
    assert "duplicates 3" in output
