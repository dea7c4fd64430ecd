"""Who may use a workspace's database, across processes and, inside a host, across threads.

DuckDB lets one process open a database file for writing, and a process that writes it keeps
every other process out, readers included. Audience therefore coordinates itself:

- **Between processes**, a lock file beside the database (``.audience.lock``, ``flock``):
  commands that only read take it shared (several at once, each opening DuckDB read-only),
  commands that write take it exclusive. A command that finds the workspace busy waits (up to
  ``store.lock_timeout_seconds``), saying who holds it, then gives up with one paragraph.
  The kernel drops the lock when its process dies, so a crash never leaves it held.
- **Inside a host** (``audience serve``, ``audience stream``: long-running processes that hold
  the exclusive lock and serve the other commands, see :mod:`audience.cli.host`), the
  process's own :class:`HostLease` replaces the file lock: readers share the host's DuckDB
  instance freely and writers take turns on :attr:`HostLease.writer`.

The writer's identity (pid, command, since) is written into the lock file, so a waiting
command can say whom it waits for.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from audience.errors import WorkspaceBusyError

log = logging.getLogger(__name__)

LOCK_FILE = ".audience.lock"
Access = Literal["read", "write"]

Waiting = Callable[[str], None]
"""Called once, with a sentence saying whom it waits for, when a lock is not free at once."""

waiting_notice: ContextVar[Waiting | None] = ContextVar("waiting_notice", default=None)
"""Where "waiting for …" goes: the CLI sets it to print on stderr; else it is only logged."""

command_label: ContextVar[str | None] = ContextVar("command_label", default=None)
"""What the current command is, when it is not this process's own command line (a host sets
it for each command it runs for another process)."""

_POLL_SECONDS = 0.1


@dataclass
class HostLease:
    """This process holds a workspace for others (a host): its writers take turns here."""

    folder: Path
    writer: threading.Lock = field(default_factory=threading.Lock)
    writing: str = ""
    """What the current writer is (for "waiting for …" messages)."""
    turns: int = 0
    """How many writes have finished: the host refreshes what it caches when this moves."""


_leases: dict[Path, HostLease] = {}
_leases_lock = threading.Lock()


def lease_of(folder: Path) -> HostLease | None:
    """The lease this process holds on ``folder``, if it is a host for it."""
    with _leases_lock:
        return _leases.get(folder)


@contextlib.contextmanager
def hosting(folder: Path) -> Iterator[HostLease]:
    """Register this process as the host of ``folder`` (it must hold the exclusive lock)."""
    lease = HostLease(folder)
    with _leases_lock:
        _leases[folder] = lease
    try:
        yield lease
    finally:
        with _leases_lock:
            _leases.pop(folder, None)


def current_command() -> str:
    """What the current command is, shortened for messages (``audience segment``)."""
    label = command_label.get()
    if label:
        return label
    name = Path(sys.argv[0]).name if sys.argv else "python"
    return describe(name, sys.argv[1:])


def describe(program: str, argv: list[str]) -> str:
    """``audience segments show`` for ``audience segments show ID -w shop``: the program and
    the first two words of its command line, up to its first option."""
    words: list[str] = []
    for word in argv[:2]:
        if word.startswith("-"):
            break
        words.append(word)
    return " ".join([program, *words])


@dataclass
class _Held:
    """The lock file as this process holds it, shared by its workspace objects."""

    fd: int
    access: Access
    users: int = 1


_held: dict[Path, _Held] = {}
_held_lock = threading.Lock()


class WorkspaceLock:
    """The inter-process lock of one workspace folder (see the module docstring).

    Within one process the lock is shared: a second workspace object on the same folder
    counts as another user of the lock the process already holds (a ``flock`` is held per
    open file, so taking it again on a new file would wait for ourselves). Its
    :attr:`access` is then the process's: ``write`` if the process writes, even when this
    user only reads, because one process opens a DuckDB file in one mode only.
    """

    def __init__(self, folder: Path, *, timeout: float, what: str | None = None) -> None:
        self.folder = folder
        self.path = folder / LOCK_FILE
        self.timeout = timeout
        self.what = what or current_command()
        self.access: Access | None = None

    def acquire(self, access: Access) -> WorkspaceLock:
        """Take the lock shared (``read``) or exclusive (``write``), waiting up to ``timeout``."""
        if self.access is not None:
            raise RuntimeError("the workspace lock is already held by this object")
        with _held_lock:
            held = _held.get(self.folder)
            if held is not None and (held.access == "write" or access == "read"):
                held.users += 1
                self.access = held.access
                return self
        if held is not None:
            raise WorkspaceBusyError(
                f"this process reads {self.folder} and cannot also write it; close the "
                "workspace it reads first."
            )
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        flag = fcntl.LOCK_SH if access == "read" else fcntl.LOCK_EX
        try:
            _wait_for(lambda: _try_flock(fd, flag), self.timeout, lambda: _holder(fd))
        except BaseException:
            os.close(fd)
            raise
        if access == "write":
            _write_holder(fd, self.what)
        with _held_lock:
            _held[self.folder] = _Held(fd, access)
        self.access = access
        return self

    def release(self) -> None:
        if self.access is None:
            return
        self.access = None
        with _held_lock:
            held = _held[self.folder]
            held.users -= 1
            if held.users:
                return
            del _held[self.folder]
        try:
            if held.access == "write":
                os.ftruncate(held.fd, 0)  # so that later readers are not taken for this writer
            fcntl.flock(held.fd, fcntl.LOCK_UN)
        finally:
            os.close(held.fd)

    @property
    def held(self) -> bool:
        return self.access is not None

    def __enter__(self) -> WorkspaceLock:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()


def _holder(fd: int) -> str:
    """Who holds the lock, as far as the lock file says."""
    try:
        info = json.loads(os.pread(fd, 4096, 0).decode("utf-8") or "{}")
    except (OSError, ValueError):
        info = {}
    if not info.get("pid") or not _alive(int(info["pid"])):
        return "other Audience commands are reading it"
    return f"`{info.get('command', 'audience')}` (PID {info['pid']}, since {info.get('since')})"


def take_turn(lease: HostLease, what: str, timeout: float) -> None:
    """Wait for this host's writer lock (a writer at a time inside the host)."""

    def holder() -> str:
        return f"`{lease.writing or 'another command'}` is writing it in this server"

    _wait_for(lambda: lease.writer.acquire(blocking=False), timeout, holder)
    lease.writing = what


def end_turn(lease: HostLease) -> None:
    lease.writing = ""
    lease.turns += 1
    lease.writer.release()


@contextlib.contextmanager
def writer_turn(folder: Path, what: str, timeout: float) -> Iterator[None]:
    """Hold this host's writer turn for a block (nothing to take when no host holds
    ``folder``: then the process has the workspace to itself)."""
    lease = lease_of(folder)
    if lease is None:
        yield
        return
    take_turn(lease, what, timeout)
    try:
        yield
    finally:
        end_turn(lease)


def _try_flock(fd: int, flag: int) -> bool:
    try:
        fcntl.flock(fd, flag | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _wait_for(attempt: Callable[[], bool], timeout: float, holder: Callable[[], str]) -> None:
    """Retry ``attempt`` until it succeeds or ``timeout`` seconds have passed."""
    if attempt():
        return
    who = holder()
    notice = f"waiting for the workspace: {who} (up to {timeout:g} s)"
    log.info(notice)
    tell = waiting_notice.get()
    if tell is not None:
        tell(notice)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(_POLL_SECONDS)
        if attempt():
            return
    raise WorkspaceBusyError(
        f"the workspace is in use: {who}. This command waited {timeout:g} s and changed "
        "nothing. Run it again when that has finished, or raise store.lock_timeout_seconds "
        "in audience.toml to wait longer."
    )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _write_holder(fd: int, what: str) -> None:
    since = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    body = json.dumps({"pid": os.getpid(), "command": what, "since": since}).encode("utf-8")
    os.ftruncate(fd, 0)
    os.pwrite(fd, body, 0)
