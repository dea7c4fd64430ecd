"""One workspace, many processes: a long-running process hosts the workspace for the others.

DuckDB lets one process write a database file, and while it does no other process may even
read it. ``audience serve`` (and ``audience stream``) run for days, so instead of locking every
other command out they *host* the workspace: they hold its exclusive lock, and every other
``audience`` command on that workspace hands itself to them over a Unix socket and runs there,
in a thread of its own, with its output streamed back to the caller's terminal. Inside the host
all commands share one DuckDB instance: readers run beside everything (each sees the last
commit), writers take turns (:class:`audience.store.locking.HostLease`), and after each write
the host's ``on_change`` runs (the server loads the newest run's model) before the caller hears
that its command has finished.

The socket is the workspace's ``.audience-host.sock`` (or one in the temporary folder when that
path is too long for a socket), mode 0600; ``.audience-host.json`` (0600) names it and holds a
token the caller must send, so only someone who can read the workspace folder can run commands
in the host. The protocol is JSON lines: the caller sends one request (``argv``, ``cwd``,
terminal width and whether it is a terminal, the token), the host answers with
``{"out": text}``/``{"err": text}`` frames and a final ``{"exit": code}``. When the caller goes
away, the command's stop signal is set (:func:`audience.cli.invocation.stop_on_signals`).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import io
import json
import logging
import os
import secrets
import socket
import socketserver
import sys
import tempfile
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, cast

import typer
from rich.console import Console
from typer.core import TyperGroup

from audience.cli.invocation import Invocation, running
from audience.store.locking import (
    WorkspaceLock,
    command_label,
    describe,
    hosting,
    waiting_notice,
)

log = logging.getLogger(__name__)

HOST_FILE = ".audience-host.json"
SOCKET_FILE = ".audience-host.sock"
_MAX_SOCKET_PATH = 100  # sun_path holds 108 bytes on Linux, fewer elsewhere


def socket_path(folder: Path) -> Path:
    """Where the host of ``folder`` listens: in the folder when the path fits a socket."""
    inside = folder / SOCKET_FILE
    if len(os.fsencode(inside)) <= _MAX_SOCKET_PATH:
        return inside
    digest = hashlib.sha256(os.fsencode(folder)).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"audience-{digest}.sock"


class Host:
    """Host ``folder`` for as long as the ``with`` block runs (see the module docstring).

    ``run(argv)`` runs one command line in the calling thread and returns its exit status;
    ``on_change()`` is called after any command that wrote to the workspace.
    """

    def __init__(
        self,
        folder: Path,
        *,
        run: Callable[[list[str]], int],
        lock_timeout: float,
        what: str,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.folder = folder
        self.run = run
        self.on_change = on_change or (lambda: None)
        self.lock = WorkspaceLock(folder, timeout=lock_timeout, what=what)
        self.token = secrets.token_urlsafe(32)
        self.socket = socket_path(folder)
        self._server: socketserver.ThreadingUnixStreamServer | None = None
        self._thread: threading.Thread | None = None
        self._running: set[Invocation] = set()
        self._running_lock = threading.Lock()
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> Host:
        self.lock.acquire("write")
        self._stack.callback(self.lock.release)
        try:
            self.lease = self._stack.enter_context(hosting(self.folder))
            self._listen()
            _write_private(
                self.folder / HOST_FILE,
                {
                    "pid": os.getpid(),
                    "socket": str(self.socket),
                    "token": self.token,
                    "command": self.lock.what,
                    "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
                },
            )
            self._stack.callback((self.folder / HOST_FILE).unlink, missing_ok=True)
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stack.close()

    def _listen(self) -> None:
        self.socket.unlink(missing_ok=True)  # left by a host that was killed
        host = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                host._serve(self.connection, cast(IO[bytes], self.rfile))

        previous = os.umask(0o177)  # the socket is created 0600
        try:
            server = socketserver.ThreadingUnixStreamServer(str(self.socket), Handler)
        finally:
            os.umask(previous)
        # Not daemon threads: closing the server waits for the commands still running.
        server.daemon_threads = False
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="audience-host")
        self._thread.daemon = True
        self._thread.start()
        self._stack.callback(self._stop_listening)

    def _stop_listening(self) -> None:
        """Accept no more commands, ask the running ones to stop, and wait for them."""
        if self._server is not None:
            self._server.shutdown()
            with self._running_lock:
                for invocation in self._running:
                    invocation.stop.set()
            self._server.server_close()
        self.socket.unlink(missing_ok=True)

    def _serve(self, connection: socket.socket, reader: IO[bytes]) -> None:
        frames = _Frames(connection)
        try:
            request = json.loads(reader.readline() or b"{}")
        except ValueError:
            return
        if not hmac.compare_digest(str(request.get("token", "")), self.token):
            frames.send({"err": "refused: wrong host token\n"})
            frames.send({"exit": 2})
            return
        argv = [str(arg) for arg in request.get("argv", [])]
        invocation = _invocation(frames, request)
        watcher = threading.Thread(target=_watch_caller, args=(reader, invocation), daemon=True)
        watcher.start()
        turns = self.lease.turns
        with self._running_lock:
            self._running.add(invocation)
        try:
            with running(invocation):
                command_label.set(describe("audience", argv))
                waiting_notice.set(lambda notice: invocation.err.print(f"[yellow]{notice}[/]"))
                code = self.run(argv)
        finally:
            with self._running_lock:
                self._running.discard(invocation)
        if self.lease.turns != turns:
            try:
                self.on_change()
            except Exception:  # the command succeeded; the host's own refresh is its problem
                log.exception("refreshing the host after a write failed")
        frames.send({"exit": code})


def _invocation(frames: _Frames, request: dict[str, Any]) -> Invocation:
    width = int(request.get("width") or 80)
    tty = bool(request.get("tty"))

    def console(stream: str) -> Console:
        return Console(
            file=cast(IO[str], _FrameFile(frames, stream)),
            width=width,
            force_terminal=tty,
            force_interactive=tty,
            color_system="standard" if tty else None,
            highlight=False,
        )

    return Invocation(console("out"), console("err"), Path(str(request.get("cwd") or "/")))


class _FrameFile(io.TextIOBase):
    """A text file whose writes become frames of one stream (for a Rich console)."""

    def __init__(self, frames: _Frames, stream: str) -> None:
        self.frames = frames
        self.stream = stream

    def write(self, text: str) -> int:
        if text:
            self.frames.send({self.stream: text})
        return len(text)

    def isatty(self) -> bool:
        return False


def _watch_caller(reader: IO[bytes], invocation: Invocation) -> None:
    """The caller sends nothing after its request; end of stream means it went away."""
    with contextlib.suppress(OSError, ValueError):
        reader.read()
    invocation.stop.set()


class _Frames:
    """JSON-line frames to the caller; thread-safe (progress bars refresh from a thread)."""

    def __init__(self, connection: socket.socket) -> None:
        self.connection = connection
        self.lock = threading.Lock()
        self.gone = False

    def send(self, frame: dict[str, Any]) -> None:
        data = json.dumps(frame).encode("utf-8") + b"\n"
        with self.lock:
            if self.gone:
                return
            try:
                self.connection.sendall(data)
            except OSError:
                self.gone = True  # the caller left; the command still finishes


def run_in_process(app: TyperGroup) -> Callable[[list[str]], int]:
    """A host's ``run``: the command line parsed and run by ``app``; its exit status.

    The caller parsed the same command line before sending it, so usage errors are rare here
    (the workspace changed under it); they are shown like any other error."""

    def run(argv: list[str]) -> int:
        from audience.cli.common import err

        try:
            status = app.main(args=argv, prog_name="audience", standalone_mode=False)
        except typer.TyperException as mistake:
            err.print(mistake.format_message(), markup=False, highlight=False)
            return int(mistake.exit_code)
        except typer.Abort:
            return 1
        except Exception:
            log.exception("a command run for another process failed: audience %s", argv)
            err.print("[red]internal error[/]: the server logged the details.")
            return 1
        # A command's own `raise typer.Exit(n)` comes back as n; a finished one as None.
        return status if isinstance(status, int) else 0

    return run


# -- the caller's side ---------------------------------------------------------------------


def find_host(folder: Path) -> dict[str, Any] | None:
    """The host of ``folder`` if one is registered (it may have died: connecting tells)."""
    path = folder / HOST_FILE
    try:
        info: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return info if info.get("socket") and info.get("token") else None


def delegate(folder: Path, argv: list[str], *, width: int, tty: bool) -> int | None:
    """Run ``argv`` in the host of ``folder``; its exit status, or None when no host answers
    (then the caller runs the command itself)."""
    host = find_host(folder)
    if host is None:
        return None
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connection.connect(str(host["socket"]))
    except OSError:
        connection.close()
        return None  # a host killed without cleaning up: its lock died with it
    with connection:
        request = {
            "token": host["token"],
            "argv": argv,
            "cwd": str(Path.cwd()),
            "width": width,
            "tty": tty,
        }
        connection.sendall(json.dumps(request).encode("utf-8") + b"\n")
        return _relay(connection)


def _relay(connection: socket.socket) -> int:
    streams = {"out": _stdout(), "err": _stderr()}
    with connection.makefile("rb") as frames:
        for line in frames:
            frame = json.loads(line)
            if "exit" in frame:
                return int(frame["exit"])
            for name, text in frame.items():
                stream = streams.get(name)
                if stream is not None:
                    stream.write(text)
                    stream.flush()
    # The host went away mid-command (stopped or killed): the command may not have finished.
    _stderr().write("audience: the server hosting this workspace stopped during the command.\n")
    return 1


def _stdout() -> IO[str]:
    return sys.stdout  # looked up at each call: tests swap it


def _stderr() -> IO[str]:
    return sys.stderr


def _write_private(path: Path, data: dict[str, Any]) -> None:
    """Write ``path`` readable by its owner only, replacing it atomically."""
    partial = path.with_name(path.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle)
    os.replace(partial, path)
