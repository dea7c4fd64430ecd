"""The workspace lock between processes (real flock, real second processes) and within one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from audience import Workspace
from audience.errors import WorkspaceBusyError
from audience.store.locking import LOCK_FILE, WorkspaceLock, hosting, take_turn, waiting_notice

HOLD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from audience.store.locking import WorkspaceLock
    lock = WorkspaceLock(Path(sys.argv[1]), timeout=30, what="audience segment")
    lock.acquire(sys.argv[2])
    print("held", flush=True)
    time.sleep(float(sys.argv[3]))
    lock.release()
    """
)


def hold(folder: Path, access: str, seconds: float) -> subprocess.Popen[str]:
    """Another process holding the workspace lock for ``seconds``."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(folder), access, str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "held"
    holder.stdout.close()  # nothing more is read from it
    return holder


@pytest.fixture
def folder(workspace: Workspace) -> Path:
    workspace.close()
    return workspace.path


def test_a_writer_waits_for_another_processs_writer_then_gets_the_lock(folder: Path) -> None:
    holder = hold(folder, "write", 1.5)
    notices: list[str] = []
    waiting_notice.set(notices.append)
    started = time.monotonic()
    lock = WorkspaceLock(folder, timeout=30).acquire("write")
    waited = time.monotonic() - started
    lock.release()
    holder.wait(10)
    assert waited >= 1.0
    assert len(notices) == 1
    assert f"PID {holder.pid}" in notices[0]
    assert "audience segment" in notices[0]


def test_readers_in_two_processes_share_the_lock(folder: Path) -> None:
    holder = hold(folder, "read", 3)
    started = time.monotonic()
    lock = WorkspaceLock(folder, timeout=30).acquire("read")
    assert time.monotonic() - started < 1.0
    lock.release()
    holder.kill()
    holder.wait(10)


def test_a_writer_that_cannot_wait_long_enough_says_who_holds_the_workspace(folder: Path) -> None:
    holder = hold(folder, "write", 5)
    try:
        with pytest.raises(WorkspaceBusyError) as busy:
            WorkspaceLock(folder, timeout=0.3).acquire("read")
    finally:
        holder.kill()
        holder.wait(10)
    message = str(busy.value)
    assert f"PID {holder.pid}" in message
    assert "store.lock_timeout_seconds" in message
    assert "changed nothing" in message


def test_a_killed_holder_frees_the_workspace_at_once(folder: Path) -> None:
    holder = hold(folder, "write", 60)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(10)
    started = time.monotonic()
    WorkspaceLock(folder, timeout=5).acquire("write").release()
    assert time.monotonic() - started < 1.0


def test_after_a_writer_leaves_readers_are_not_taken_for_it(folder: Path) -> None:
    hold(folder, "write", 0).wait(10)
    assert (folder / LOCK_FILE).read_text() == ""
    reader = hold(folder, "read", 5)
    try:
        with pytest.raises(WorkspaceBusyError) as busy:
            WorkspaceLock(folder, timeout=0.2).acquire("write")
    finally:
        reader.kill()
        reader.wait(10)
    assert "other Audience commands are reading it" in str(busy.value)


def test_workspaces_in_one_process_share_its_lock(folder: Path) -> None:
    with Workspace(folder) as writer:
        writer.database.con.execute("CREATE TABLE probe AS SELECT 1 AS x")
        with Workspace(folder, access="read") as reader:
            # One process opens a DuckDB file in one mode: the reader shares the writer's.
            assert reader.database.con.execute("SELECT x FROM probe").fetchall() == [(1,)]
    with Workspace(folder, access="read") as reader:
        assert reader.database.con.execute("SELECT x FROM probe").fetchall() == [(1,)]
        with pytest.raises(WorkspaceBusyError, match="cannot also write"):
            Workspace(folder).database  # noqa: B018 (opening is the point)


def test_readers_open_the_database_read_only(folder: Path) -> None:
    with (
        Workspace(folder, access="read") as reader,
        pytest.raises(duckdb.InvalidInputException, match="read-only"),
    ):
        reader.database.con.execute("CREATE TABLE nope (x INT)")


def test_inside_a_host_writers_take_turns(folder: Path) -> None:
    with WorkspaceLock(folder, timeout=1).acquire("write") as _held, hosting(folder) as lease:
        first = Workspace(folder)
        first.database  # noqa: B018 (its turn starts when it opens)
        assert lease.writing
        with pytest.raises(WorkspaceBusyError, match="is writing it in this server"):
            take_turn(lease, "audience ingest", timeout=0.2)
        reader = Workspace(folder, access="read")
        assert reader.database.con.execute("SELECT 1").fetchall() == [(1,)]  # never waits
        first.close()
        assert lease.turns == 1
        second = Workspace(folder)
        second.database  # noqa: B018
        second.close()
        reader.close()
        assert lease.turns == 2
