"""A segment run is one unit (issue 18.6): killed or failed, it leaves the workspace as it
was, or whole; the next command finds no orphan model file.

The kills are real: ``audience segment`` runs in a subprocess whose stderr is a terminal
(so Rich draws its progress steps), and is sent SIGKILL at moments seen from outside: a
step named on that terminal, a file appearing in ``models/``.
"""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from audience import Workspace
from audience.cli import app
from audience.refresh.alerts import evaluate_run_alerts
from audience.serve.jobs import Jobs
from tests.conftest import flat
from tests.features.fixture import ingested_audience
from tests.models.audiences import AS_OF
from tests.serve.conftest import copy_workspace

pytestmark = pytest.mark.slow

AUDIENCE = str(Path(sys.executable).with_name("audience"))
LATER = AS_OF + timedelta(days=1)
QUICK = ["--method", "kmeans", "--k", "4"]
"""One candidate per branch: these tests are about what is stored, not the selection."""
SEGMENT = ["segment", "--as-of", f"{LATER:%Y-%m-%d}", *QUICK]
runner = CliRunner()
Moment = Callable[[str, Path], bool]
"""Given the terminal's text so far and the models folder: is it time to kill?"""


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1,200 contacts ingested and segmented once at AS_OF; closed, to be copied."""
    folder = tmp_path_factory.mktemp("unit")
    ingested_audience(folder, contacts=1_200, seed=5)
    with Workspace(folder / "ws") as ws:
        ws.segment(AS_OF, method="kmeans", k=4)
    return folder / "ws"


@pytest.fixture
def ws(built: Path, tmp_path: Path) -> Path:
    return copy_workspace(built, tmp_path)


def contents(folder: Path) -> dict[str, object]:
    """Every table's rows (count and a hash of them) and every file but the database's."""
    with Workspace(folder, access="read") as ws:
        con = ws.database.con
        names = con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' ORDER BY 1"
        ).fetchall()
        tables = {
            name: con.execute(f'SELECT count(*), sum(hash(t)) FROM "{name}" t').fetchall()
            for (name,) in names
        }
    return {"tables": tables, "files": files(folder)}


def files(folder: Path) -> list[str]:
    skip = ("audience.duckdb", ".audience")
    return sorted(
        str(path.relative_to(folder))
        for path in folder.rglob("*")
        if path.is_file() and not path.name.startswith(skip)
    )


def models(folder: Path) -> list[str]:
    return sorted(path.name for path in (folder / "models").iterdir())


def kill_segment_when(folder: Path, moment: Moment, timeout: float = 600) -> str:
    """Run ``audience segment`` on a terminal and SIGKILL it at ``moment``; return what the
    terminal showed. Fails if the command ends before the moment comes."""
    leader, follower = pty.openpty()
    env = {**os.environ, "COLUMNS": "200", "TERM": "xterm"}
    process = subprocess.Popen(
        [AUDIENCE, *SEGMENT, "-w", str(folder)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=follower,
        env=env,
    )
    os.close(follower)
    shown = ""
    deadline = time.monotonic() + timeout
    try:
        while not moment(shown, folder / "models"):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"segment ended (exit {process.returncode}) before the moment")
            ready, _, _ = select.select([leader], [], [], 0.002)
            if ready:
                shown += _plain(os.read(leader, 65536))
        process.kill()
        assert process.wait(30) == -9
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(30)
        os.close(leader)
    return shown


def _plain(chunk: bytes) -> str:
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", chunk.decode(errors="replace"))


def features_stored(shown: str, _models: Path) -> bool:
    """The features step is over (the old code had committed the RFM run by then)."""
    return "clustering" in shown


def model_written(_shown: str, folder: Path) -> bool:
    """The run's model is on disk, its run not committed yet."""
    return any(name.endswith(".joblib.tmp") for name in os.listdir(folder))


def run_committed(before: list[str]) -> Moment:
    def moment(_shown: str, folder: Path) -> bool:
        return any(name.endswith(".joblib") and name not in before for name in os.listdir(folder))

    return moment


def cli(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [AUDIENCE, *args, "-w", str(folder)], capture_output=True, text=True, timeout=600
    )


def runs(folder: Path) -> list[tuple[str, int]]:
    """Every run with its memberships."""
    with Workspace(folder, access="read") as ws:
        rows = ws.database.con.execute(
            "SELECT r.run_id, count(m.contact_id) FROM runs r LEFT JOIN memberships m "
            "USING (run_id) GROUP BY r.run_id ORDER BY r.run_id"
        ).fetchall()
    return [(str(run), int(count)) for run, count in rows]


def assert_whole(folder: Path) -> None:
    """Every run has its memberships, every tree run its model, no model lacks its run."""
    with Workspace(folder, access="read") as ws:
        con = ws.database.con
        empty = con.execute(
            "SELECT run_id FROM runs r WHERE NOT EXISTS "
            "(SELECT 1 FROM memberships m WHERE m.run_id = r.run_id)"
        ).fetchall()
        trees = con.execute(
            "SELECT run_id FROM runs WHERE json_extract_string(config, '$.kind') = 'tree'"
        ).fetchall()
    assert empty == []
    assert models(folder) == sorted(f"{run}.joblib" for (run,) in trees)


@pytest.mark.parametrize("moment", ["features stored", "model written"])
def test_a_segment_killed_before_it_commits_leaves_the_workspace_as_it_was(
    ws: Path, moment: str
) -> None:
    before = contents(ws)
    kill_segment_when(ws, features_stored if moment == "features stored" else model_written)
    if moment == "model written":
        assert any(name.endswith(".joblib.tmp") for name in models(ws))
    listed = cli(ws, "segments")  # the next command starts: it tidies
    assert listed.returncode == 0, listed.stderr
    assert contents(ws) == before  # no RFM run, no features at LATER, no model file
    _assert_the_next_commands_work(ws)


def test_a_segment_killed_after_it_commits_keeps_the_run_whole_with_its_alerts(
    ws: Path,
) -> None:
    before_runs, before_models = runs(ws), models(ws)
    kill_segment_when(ws, run_committed(before_models))
    listed = cli(ws, "segments")
    assert listed.returncode == 0, listed.stderr
    after = runs(ws)
    added = [run for run in after if run not in before_runs]
    assert [run_id.split("-")[0] for run_id, _ in added] == ["rfm", "seg"]
    assert all(members == 1_200 for _, members in added)
    assert_whole(ws)
    new_run = added[1][0]
    with Workspace(ws, access="read") as workspace:
        db = workspace.database
        stored = db.con.execute(
            "SELECT kind, subject FROM alerts WHERE run_id = ? ORDER BY ALL", [new_run]
        ).fetchall()
        expected = evaluate_run_alerts(db, workspace.config.alerts, new_run)
    assert stored == sorted((alert.kind, alert.subject) for alert in expected)
    _assert_the_next_commands_work(ws)


def _assert_the_next_commands_work(folder: Path) -> None:
    for args in (["segments"], ["report"], SEGMENT):
        done = cli(folder, *args)
        assert done.returncode == 0, f"{args}: {done.stderr}"
    assert_whole(folder)


def _block_models(folder: Path) -> None:
    """A file where the models folder should be: writing the model fails (even as root,
    whom a read-only folder does not stop)."""
    for path in (folder / "models").iterdir():
        path.unlink()
    (folder / "models").rmdir()
    (folder / "models").write_text("not a folder")


def test_a_model_that_cannot_be_saved_leaves_the_workspace_as_it_was(ws: Path) -> None:
    _block_models(ws)
    before = contents(ws)
    result = runner.invoke(app, [*SEGMENT, "-w", str(ws)], env={"COLUMNS": "200"})
    message = flat(result.output)
    assert result.exit_code != 0
    assert "cannot write the model of run seg-" in message
    assert "Nothing was stored" in message
    assert "Traceback" not in message
    assert contents(ws) == before


def test_a_refresh_whose_model_cannot_be_saved_keeps_only_its_failure(ws: Path) -> None:
    _block_models(ws)
    before = contents(ws)
    result = runner.invoke(
        app, ["refresh", "--force", "--as-of", f"{LATER:%Y-%m-%d}", "-w", str(ws)]
    )
    assert result.exit_code == 1
    after = contents(ws)
    assert after["files"] == before["files"]
    changed = {name for name, rows in after["tables"].items() if rows != before["tables"].get(name)}
    assert changed == {"refreshes", "alerts"}
    with Workspace(ws, access="read") as workspace:
        con = workspace.database.con
        alerts = con.execute("SELECT kind FROM alerts WHERE created_at > ?", [AS_OF]).fetchall()
        refresh = con.execute("SELECT status, run_id, error FROM refreshes").fetchall()
    assert [status for status, _run, _error in refresh] == ["failed"]
    assert refresh[0][1] is None
    assert "nothing after the ingests was kept" in refresh[0][2]
    assert ("refresh_failed",) in alerts


def test_a_background_run_whose_model_cannot_be_saved_stores_nothing(ws: Path) -> None:
    _block_models(ws)
    before = contents(ws)
    jobs = Jobs(ws, on_success=lambda run_id: pytest.fail(f"run {run_id} reported stored"))
    job = jobs.wait(jobs.start(LATER, "kmeans", 4).job_id, timeout=600)
    assert job.status == "failed"
    assert "cannot write the model" in str(job.error)
    assert contents(ws) == before
