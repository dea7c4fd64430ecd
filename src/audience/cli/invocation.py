"""The context one command runs in: its consoles, its working folder, its stop signal.

A command normally runs alone in its process, on the process's stdout, stderr and working
folder. Inside a host (:mod:`audience.cli.host`) several commands run at once in threads, each
for another process: each then sees that process's terminal (through its own consoles), its
working folder (relative paths on its command line mean what they meant there) and a stop
signal set when that process goes away. Context variables carry all three, so the commands
themselves are written once.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from rich.console import Console


@dataclass(eq=False)
class Invocation:
    """Where one command's output goes and what it may read as its own."""

    out: Console
    err: Console
    cwd: Path
    stop: threading.Event = field(default_factory=threading.Event)


_current: ContextVar[Invocation | None] = ContextVar("invocation", default=None)
_process: dict[str | None, Invocation] = {}


def current() -> Invocation:
    """The running command's invocation (the process's own, outside a host).

    The process's consoles are made again when ``COLUMNS`` changes: Rich reads it once, when
    a console is made, and a caller (a test runner, a wrapper script) may set it later."""
    found = _current.get()
    if found is not None:
        return found
    columns = os.environ.get("COLUMNS")
    own = _process.get(columns)
    if own is None:
        _process.clear()
        own = _process[columns] = Invocation(Console(), Console(stderr=True), Path.cwd())
    own.cwd = Path.cwd()
    return own


@contextmanager
def running(invocation: Invocation) -> Iterator[Invocation]:
    """Run a block as ``invocation`` (in a host's worker thread)."""
    token = _current.set(invocation)
    try:
        yield invocation
    finally:
        _current.reset(token)


class CurrentConsole:
    """A console that writes wherever the running command's output goes.

    Printing through it resolves the invocation at each call. Give Rich objects that keep a
    console (progress bars, which refresh from a thread of their own) :meth:`get` instead.
    """

    def __init__(self, stream: str) -> None:
        self._stream = stream

    def get(self) -> Console:
        console: Console = getattr(current(), self._stream)
        return console

    def __getattr__(self, name: str) -> Any:
        return getattr(self.get(), name)


def invocation_path(path: Path) -> Path:
    """``path`` as the command's caller meant it: relative to the caller's working folder."""
    path = path.expanduser()
    return path if path.is_absolute() else current().cwd / path


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """The running command's stop signal, also set by Ctrl+C and SIGTERM in its own process
    (a second one stops at once).

    Long-running commands (``audience stream``) check it between units of work, so that they
    stop cleanly after the current one.
    """
    stop = current().stop
    if threading.current_thread() is not threading.main_thread() or _current.get() is not None:
        yield stop  # inside a host: the caller going away sets it
        return

    def handle(_signum: int, _frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt  # asked twice: stop now
        stop.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def terminal_size() -> tuple[int, bool]:
    """The width of this process's terminal and whether stdout is one."""
    try:
        width = os.get_terminal_size().columns
        return width, True
    except OSError:
        return 80, False
