"""`audience refresh`: two generated periods, stable ids, idempotence, exit codes, crashes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from audience import Workspace
from audience.cli import app
from audience.refresh.run import EXIT_ALERTS, EXIT_FAILED, EXIT_OK
from tests.conftest import flat
from tests.models.audiences import AS_OF
from tests.refresh.periods import Periods, persona_swap, split_by_time, yesterdays_workspace
from tests.serve.conftest import copy_workspace

AUDIENCE = str(Path(sys.executable).with_name("audience"))
runner = CliRunner()
ADDED, REMOVED = "window_shopper", "engaged_reader"


def drop(ws: Path, files: list[Path]) -> None:
    inbox = ws / "inbox"
    inbox.mkdir(exist_ok=True)
    for path in files:
        shutil.copy(path, inbox / path.name)


@pytest.fixture(scope="module")
def by_time(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Periods]:
    """3,000 contacts; the last week's events arrive later."""
    folder = tmp_path_factory.mktemp("by-time")
    periods = split_by_time(folder, contacts=3_000, seed=4, as_of=AS_OF, days=7)
    at = AS_OF - timedelta(days=7)
    return yesterdays_workspace(folder / "ws", periods, now=AS_OF, at=at), periods


@pytest.fixture
def ws(by_time: tuple[Path, Periods], tmp_path: Path) -> Path:
    folder = copy_workspace(by_time[0], tmp_path)
    drop(folder, by_time[1].later)
    return folder


def homes(ws: Workspace, run_id: str, truth: pd.DataFrame) -> pd.DataFrame:
    """Each persona's share in each segment of a run."""
    members = ws.database.con.execute(
        "SELECT contact_id, segment_id FROM memberships WHERE run_id = ?", [run_id]
    ).df()
    found = members.merge(truth, on="contact_id")
    return pd.crosstab(found["segment_id"], found["persona"], normalize="columns")


@pytest.mark.slow
def test_planted_personas_keep_their_ids_a_removed_one_is_retired_an_added_one_is_new(
    tmp_path: Path,
) -> None:
    """Issue 12, part 7. Period two brings a new kind of customer (window shoppers) and loses
    one (every engaged reader unsubscribes): a refresh with the model selection keeps the
    other personas' segments (and a rename), retires the readers', and gives the window
    shoppers' new ids."""
    periods = persona_swap(
        tmp_path, contacts=20_000, seed=2, as_of=AS_OF, add=ADDED, remove=REMOVED
    )
    with Workspace.init(tmp_path / "ws") as ws:
        for path in periods.first:
            ws.ingest(path, now=AS_OF)
        before = ws.segment(AS_OF).run_id
        shares_before = homes(ws, before, periods.truth)
        loyal = str(shares_before["loyal_high_value"].idxmax())
        ws.rename_segment(loyal, "VIPs")
        drop(ws.path, periods.later)
        report = ws.refresh(AS_OF, full=True)
        after = str(report.run_id)
        shares_after = homes(ws, after, periods.truth)
        lineage = ws.database.con.execute(
            "SELECT segment_id, status FROM segment_lineage WHERE run_id = ?", [after]
        ).fetchall()
        names = dict(ws.segments(after)[["segment_id", "name"]].itertuples(index=False))
    status = dict(lineage)
    assert report.status == "done"
    kept_personas = [p for p in shares_before.columns if p != REMOVED]
    for persona in kept_personas:
        for segment, share in shares_before[persona].items():
            if share >= 0.3:  # a segment that holds much of the persona
                assert status.get(str(segment)) == "kept", (persona, segment)
                assert shares_after.loc[segment, persona] >= 0.3, (persona, segment)
    assert names[loyal] == "VIPs"
    readers = str(shares_before[REMOVED].idxmax())
    assert status[readers] == "retired"
    assert str(shares_after[REMOVED].idxmax()) == "suppressed/unsubscribed"
    arrivals = [str(s) for s, share in shares_after[ADDED].items() if share >= 0.3]
    assert arrivals
    assert all(status[segment] == "new" for segment in arrivals)
    assert not set(arrivals) & set(shares_before.index)


def test_a_daily_refresh_refits_the_previous_models_and_keeps_every_id(ws: Path) -> None:
    with Workspace(ws) as workspace:
        before = workspace.run_id()
        report = workspace.refresh(AS_OF)
        after = workspace.run_id()
        statuses = workspace.database.con.execute(
            "SELECT DISTINCT status FROM segment_lineage WHERE run_id = ?", [after]
        ).fetchall()
        config = workspace.database.con.execute(
            "SELECT json_extract_string(config, '$.refit_from') FROM runs WHERE run_id = ?",
            [after],
        ).fetchall()
    assert after == report.run_id != before
    segment = next(step for step in report.steps if step.step == "segment")
    assert segment.data["mode"] == "refit", segment.detail
    assert config == [(before,)]
    assert statuses == [("kept",)]
    assert [step.step for step in report.steps] == [
        "scan",
        "ingest",
        "features",
        "segment",
        "alerts",
    ]


@pytest.mark.parametrize(("policy", "mode"), [("never", "refit"), ("always", "select")])
def test_the_reselect_policy_decides_between_refit_and_selection(
    ws: Path, policy: str, mode: str
) -> None:
    config = ws / "audience.toml"
    config.write_text(
        config.read_text().replace('reselect = "drift"', f'reselect = "{policy}"'),
        encoding="utf-8",
    )
    with Workspace(ws) as workspace:
        report = workspace.refresh(AS_OF)
    segment = next(step for step in report.steps if step.step == "segment")
    assert segment.data["mode"] == mode


def test_a_drifted_population_is_segmented_with_a_new_model_selection(ws: Path) -> None:
    # A year later every recency has moved far beyond the previous run's.
    with Workspace(ws) as workspace:
        report = workspace.refresh(AS_OF + timedelta(days=365))
    segment = next(step for step in report.steps if step.step == "segment")
    assert segment.data["mode"] == "select"
    assert "the population drifted" in segment.detail


def test_nothing_new_is_nothing_to_do_and_a_renamed_copy_is_recognised(ws: Path) -> None:
    with Workspace(ws) as workspace:
        workspace.refresh(AS_OF)
        runs = workspace.database.con.execute("SELECT count(*) FROM runs").fetchall()
        shutil.copy(ws / "inbox" / "events-later.parquet", ws / "inbox" / "events-again.parquet")
        again = workspace.refresh()
        runs_after = workspace.database.con.execute("SELECT count(*) FROM runs").fetchall()
    assert again.status == "nothing_to_do"
    assert again.exit_code == EXIT_OK
    assert runs_after == runs
    scan = again.steps[0]
    assert len(scan.data["already_ingested"]) == 2
    assert scan.data["new"] == []


def test_the_command_prints_one_json_line_per_step_and_exits_by_outcome(ws: Path) -> None:
    done = runner.invoke(app, ["refresh", "--as-of", "2026-06-30", "--json", "-w", str(ws)])
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    summary = lines[-1]
    assert [line["step"] for line in lines[:-1]][:2] == ["scan", "ingest"]
    assert summary["exit_code"] == done.exit_code
    assert done.exit_code in (EXIT_OK, EXIT_ALERTS)
    assert (summary["severe_alerts"] > 0) == (done.exit_code == EXIT_ALERTS)
    nothing = runner.invoke(app, ["refresh", "-w", str(ws)])
    assert nothing.exit_code == EXIT_OK
    assert "nothing new since the newest run" in flat(nothing.output)


def test_an_unreadable_drop_file_fails_the_refresh_with_a_paragraph_and_an_alert(
    ws: Path,
) -> None:
    (ws / "inbox" / "events-broken.parquet").write_bytes(b"PAR1 not really parquet")
    result = runner.invoke(app, ["refresh", "-w", str(ws)], env={"COLUMNS": "300"})
    assert result.exit_code == EXIT_FAILED
    assert "events-broken.parquet" in flat(result.stderr)
    assert "Traceback" not in result.output
    with Workspace(ws, access="read") as workspace:
        refreshes = workspace.database.con.execute(
            "SELECT status, exit_code FROM refreshes"
        ).fetchall()
        alerts = workspace.database.con.execute("SELECT kind, severity FROM alerts").fetchall()
    assert refreshes == [("failed", EXIT_FAILED)]
    assert alerts == [("refresh_failed", "alert")]


def test_a_refresh_killed_after_its_run_raises_that_runs_alerts_next_time(ws: Path) -> None:
    with Workspace(ws) as workspace:
        report = workspace.refresh(AS_OF)
        con = workspace.database.con
        # As if the process died between storing the run and raising its alerts.
        con.execute("DELETE FROM alerts")
        con.execute(
            "UPDATE refreshes SET status = 'running', steps = '[]' WHERE refresh_id = ?",
            [report.refresh_id],
        )
        expected = len(report.alerts)
        later = workspace.refresh()
        stored = con.execute("SELECT count(*) FROM alerts").fetchall()[0][0]
        states = dict(con.execute("SELECT refresh_id, status FROM refreshes").fetchall())
    assert later.status == "nothing_to_do"
    assert stored == expected
    assert len(later.alerts) == expected
    assert states[report.refresh_id] == "interrupted"


@pytest.mark.slow
def test_kill_9_during_refresh_loses_nothing_and_doubles_nothing(
    ws: Path, by_time: tuple[Path, Periods], tmp_path: Path
) -> None:
    """Kill the refresh at several moments, run it again to the end: the workspace holds
    exactly what one uninterrupted refresh gives."""
    for delay in (0.5, 1.5, 3.0):
        process = subprocess.Popen(
            [AUDIENCE, "refresh", "--as-of", "2026-06-30", "-w", str(ws)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(delay)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(30)
    finished = subprocess.run(
        [AUDIENCE, "refresh", "--as-of", "2026-06-30", "--json", "-w", str(ws)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert finished.returncode in (EXIT_OK, EXIT_ALERTS), finished.stderr
    clean = copy_workspace(by_time[0], tmp_path / "clean")
    drop(clean, by_time[1].later)
    with Workspace(clean) as reference:
        reference.refresh(AS_OF)
        expected = _contents(reference)
    with Workspace(ws, access="read") as workspace:
        found = _contents(workspace)
        half_runs = workspace.database.con.execute(
            "SELECT count(*) FROM runs r WHERE json_extract_string(config, '$.kind') = 'tree' "
            "AND NOT EXISTS (SELECT 1 FROM memberships m WHERE m.run_id = r.run_id)"
        ).fetchall()
    assert found == expected
    assert half_runs == [(0,)]


def _contents(ws: Workspace) -> dict[str, object]:
    con = ws.database.con
    return {
        "events": con.execute("SELECT count(*), count(DISTINCT message_id) FROM events").fetchall(),
        "contacts": con.execute("SELECT count(*) FROM contacts").fetchall(),
        "quarantine": con.execute("SELECT count(*) FROM quarantine").fetchall(),
        "ingests": con.execute(
            "SELECT regexp_extract(source, '[^/]+$'), count(*) FROM ingests GROUP BY 1 ORDER BY 1"
        ).fetchall(),
    }
