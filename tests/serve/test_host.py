"""One workspace, many processes: a real `audience serve` and real CLI processes side by side.

Issue 12: with the server running, every other command on the workspace used to fail with
DuckDB's raw lock message. Here each runs while the server serves, writers run one at a time,
and the server assigns with a new run's model as soon as the command that stored it returns.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from audience import Workspace
from audience.cli.host import HOST_FILE
from audience.store.keys import create_key
from audience.store.locking import LOCK_FILE
from audience.synth import generate
from tests.conftest import flat
from tests.models.audiences import AS_OF
from tests.serve.conftest import copy_workspace
from tests.serve.processes import start_serve

pytestmark = pytest.mark.slow
AUDIENCE = str(Path(sys.executable).with_name("audience"))


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    base: str
    key: str
    folder: Path

    def get(self, path: str) -> object:
        request = urllib.request.Request(self.base + path, headers={"X-API-Key": self.key})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)

    def assign(self) -> dict[str, object]:
        request = urllib.request.Request(
            self.base + "/api/assign",
            data=b'{"features": {"order_count": 3, "revenue_total": 250.0}}',
            headers={"X-API-Key": self.key, "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            answer: dict[str, object] = json.load(response)
        return answer


def cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> tuple[int, str]:
    """A real `audience` process; its exit status and its stdout + stderr."""
    done = subprocess.run(
        [AUDIENCE, *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env={**os.environ, "COLUMNS": "120", **(env or {})},
    )
    return done.returncode, done.stdout + done.stderr


@pytest.fixture
def server(built_workspace: Path, tmp_path: Path) -> Iterator[Server]:
    folder = copy_workspace(built_workspace, tmp_path)
    with Workspace(folder) as ws:
        _key, key = create_key(ws.database, "admin", "tests", AS_OF)
    process, port = start_serve(folder)
    served = Server(process, f"http://127.0.0.1:{port}", key, folder)
    yield served
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=60)


@pytest.fixture(scope="module")
def more_events(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Another generated audience's events: new contacts' events for a later ingest."""
    folder = tmp_path_factory.mktemp("more")
    return generate(folder, contacts=300, seed=11, as_of=AS_OF).events_path


def test_every_command_works_while_the_server_runs(
    server: Server, tmp_path: Path, more_events: Path
) -> None:
    ws = str(server.folder)
    run = str(server.get("/api/runs")[0]["run_id"])  # type: ignore[index]
    members = server.get("/api/segments/customers/members?limit=1")
    contact = str(members["members"][0]["contact_id"])  # type: ignore[index]
    reading = {
        "segments": ["segments", "-w", ws],
        "show": ["segments", "show", "customers", "-w", ws],
        "why": ["segments", "why", contact, "-w", ws],
        "export": ["export", "--segment", "customers", "--out", "out.csv", "-w", ws],
        "report": ["report", "--out", "report.html", "-w", ws],
        "keys": ["keys", "list", "-w", ws],
        "profile": ["profile", "-w", ws],
        "quarantine": ["quarantine", "-w", ws],
    }
    for name, args in reading.items():
        code, output = cli(*args, cwd=tmp_path)
        assert code == 0, f"{name}: {output}"
        assert "Traceback" not in output
    assert run in cli("segments", "-w", ws)[1]
    # Relative paths mean what they meant where the command was typed.
    with (tmp_path / "out.csv").open(newline="") as exported:
        assert next(csv.reader(exported))[:2] == ["contact_id", "email"]
    assert "<html" in (tmp_path / "report.html").read_text()[:200].lower()
    writing = {
        "keys create": ["keys", "create", "--role", "read", "-w", ws],
        "ingest": ["ingest", str(more_events), "-w", ws],
        "features": ["features", "-w", ws],
        "segment": ["segment", "-w", ws],
        "refresh": ["refresh", "--force", "-w", ws],
    }
    for name, args in writing.items():
        code, output = cli(*args, cwd=tmp_path)
        allowed = (0, 3) if name == "refresh" else (0,)  # 3: a refresh done, with alerts
        assert code in allowed, f"{name}: {output}"
    # Read again (a known file is otherwise skipped): every row a duplicate.
    assert "rows read" in cli("ingest", str(more_events), "--again", "-w", ws)[1]
    assert server.process.poll() is None


def test_the_server_assigns_with_a_new_run_as_soon_as_it_is_stored(server: Server) -> None:
    before = server.assign()["run_id"]
    code, output = cli("segment", "-w", str(server.folder))
    assert code == 0, output
    newest = str(server.get("/api/runs")[0]["run_id"])  # type: ignore[index]
    assert newest != before
    assert newest in flat(output)
    assert server.assign()["run_id"] == newest  # the very next request, no restart


def test_erase_runs_inside_the_server_which_then_serves_without_the_contact(
    server: Server,
) -> None:
    members = server.get("/api/segments/customers/members?limit=1")
    contact = str(members["members"][0]["contact_id"])  # type: ignore[index]
    run = str(server.get("/api/runs")[0]["run_id"])  # type: ignore[index]
    code, output = cli("erase", "--contact", contact, "-w", str(server.folder))
    assert code == 0, output
    assert "memberships" in flat(output)
    with pytest.raises(urllib.error.HTTPError) as gone:
        server.get(f"/api/contacts/{contact}")
    gone.value.close()  # the error holds the response open
    assert gone.value.code == 404
    assert server.assign()["run_id"] == run  # the rewritten, re-signed model, loaded again
    code, output = cli("erase", "--contact", contact, "-w", str(server.folder))
    assert code == 1
    assert "already erased" in flat(output)


def test_two_writers_at_once_run_one_after_the_other(server: Server, more_events: Path) -> None:
    ws = str(server.folder)
    runs_before = len(server.get("/api/runs"))  # type: ignore[arg-type]
    with ThreadPoolExecutor(2) as pool:
        segmenting = pool.submit(cli, "segment", "-w", ws)
        ingesting = pool.submit(cli, "ingest", str(more_events), "-w", ws)
        results = [segmenting.result(), ingesting.result()]
    for code, output in results:
        assert code == 0, output
    runs = server.get("/api/runs")
    assert len(runs) > runs_before  # type: ignore[arg-type]
    code, output = cli("profile", "-w", ws)
    assert code == 0, output


def test_a_mistake_run_in_the_server_is_one_paragraph(server: Server) -> None:
    code, output = cli("segments", "show", "nope", "-w", str(server.folder))
    assert code == 1
    assert "Segment 'nope' is not in this run" in flat(output)
    assert "Traceback" not in output
    code, output = cli("segments", "--help")  # help never needs the server
    assert code == 0
    assert "segment tree" in output


def test_a_killed_server_leaves_nothing_that_blocks_the_next_command(server: Server) -> None:
    server.process.kill()
    server.process.communicate(timeout=30)
    assert (server.folder / HOST_FILE).exists()  # it had no chance to clean up
    code, output = cli("segments", "-w", str(server.folder))
    assert code == 0, output
    assert "Traceback" not in output


def test_without_a_server_a_reader_waits_for_a_writer(server: Server) -> None:
    server.process.send_signal(signal.SIGINT)
    server.process.communicate(timeout=60)
    assert not (server.folder / HOST_FILE).exists()
    ws = str(server.folder)
    with ThreadPoolExecutor(2) as pool:
        segmenting = pool.submit(cli, "segment", "-w", ws)
        deadline = time.monotonic() + 60
        while "audience segment" not in (server.folder / LOCK_FILE).read_text():
            assert time.monotonic() < deadline, "the segmentation never took the workspace"
            time.sleep(0.05)
        code, output = cli("segments", "-w", ws)
        assert segmenting.result()[0] == 0
    assert code == 0, output
    assert "waiting for the workspace: `audience segment`" in flat(output)
