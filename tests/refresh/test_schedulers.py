"""The scheduler examples in examples/ run the real command: cron, systemd, Airflow.

Each example names the workspace /srv/shop and Audience in /opt/audience/.venv; the tests put
a real workspace and this Audience in their place and run the command exactly as written
(Airflow itself is not installed here: the DAG file is parsed and its task's command run).
"""

from __future__ import annotations

import ast
import configparser
import json
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from audience.refresh.run import EXIT_ALERTS, EXIT_OK
from tests.models.audiences import AS_OF
from tests.refresh.periods import split_by_time, yesterdays_workspace
from tests.serve.conftest import copy_workspace

EXAMPLES = Path(__file__).parents[2] / "examples"
AUDIENCE = str(Path(sys.executable).with_name("audience"))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    folder = tmp_path_factory.mktemp("scheduled")
    periods = split_by_time(folder, contacts=1_500, seed=9, as_of=AS_OF, days=7)
    at = AS_OF - timedelta(days=7)
    return yesterdays_workspace(folder / "ws", periods, now=AS_OF, at=at), periods.later


@pytest.fixture
def shop(built: tuple[Path, list[Path]], tmp_path: Path) -> Path:
    folder = copy_workspace(built[0], tmp_path)
    (folder / "inbox").mkdir()
    for path in built[1]:
        shutil.copy(path, folder / "inbox" / path.name)
    return folder


def as_here(command: str, shop: Path) -> str:
    return command.replace("/opt/audience/.venv/bin/audience", AUDIENCE).replace(
        "/srv/shop", str(shop)
    )


def run(command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", command], capture_output=True, text=True, timeout=300, check=False
    )


def json_steps(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_the_cron_lines_run_the_refresh_and_log_json(shop: Path) -> None:
    lines = [
        line
        for line in (EXAMPLES / "cron" / "audience-refresh.cron").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert len(lines) == 2
    for line in lines:
        schedule, command = line.split(maxsplit=5)[:5], line.split(maxsplit=5)[5]
        assert len(schedule) == 5
        done = run(as_here(command, shop))
        assert done.returncode in (EXIT_OK, EXIT_ALERTS), done.stderr
    log = json_steps((shop / "refresh.log").read_text())
    summaries = [line for line in log if "exit_code" in line]
    assert [s["status"] for s in summaries] == ["done", "done"]  # the Sunday one is --full
    assert any(line.get("why") == "model selection: asked for" for line in log)


def test_the_systemd_service_runs_the_refresh_and_accepts_its_alert_status(shop: Path) -> None:
    service = configparser.ConfigParser(strict=False, interpolation=None)
    service.read(EXAMPLES / "systemd" / "audience-refresh.service")
    timer = configparser.ConfigParser(strict=False, interpolation=None)
    timer.read(EXAMPLES / "systemd" / "audience-refresh.timer")
    assert service["Service"]["Type"] == "oneshot"
    accepted = {EXIT_OK, *map(int, service["Service"]["SuccessExitStatus"].split())}
    assert EXIT_ALERTS in accepted
    assert timer["Timer"]["OnCalendar"]
    assert timer["Install"]["WantedBy"] == "timers.target"
    done = run(as_here(service["Service"]["ExecStart"], shop))
    assert done.returncode in accepted, done.stderr
    assert json_steps(done.stdout)[-1]["status"] == "done"


def test_the_airflow_dag_parses_and_its_task_runs_the_refresh(shop: Path) -> None:
    source = (EXAMPLES / "airflow" / "audience_refresh.py").read_text()
    tree = ast.parse(source)
    imported = {
        f"{node.module}.{alias.name}"
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module
        for alias in node.names
    }
    assert "airflow.sdk.DAG" in imported
    assert "airflow.providers.standard.operators.bash.BashOperator" in imported
    constants = {
        node.targets[0].id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        and isinstance(node.targets[0], ast.Name)
        and isinstance(node.value, ast.Constant)
    }
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "BashOperator"
    ]
    assert len(calls) == 1
    template = next(k.value for k in calls[0].keywords if k.arg == "bash_command")
    assert isinstance(template, ast.JoinedStr)  # the f-string over the two constants
    command = "".join(
        str(part.value) if isinstance(part, ast.Constant) else constants[part.value.id]  # type: ignore[attr-defined]
        for part in template.values
    )
    done = run(as_here(command, shop))
    assert done.returncode == 0, done.stderr  # 3 (alerts) counts as success
    assert json_steps(done.stdout)[-1]["status"] == "done"
