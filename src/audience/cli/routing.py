"""Which command line can run in a host, and for which workspace.

A command works on a workspace when it has a ``--workspace`` option; hosts (``serve``) and
help requests never go to a host. The workspace is the last ``--workspace``/``-w`` given, else
``AUDIENCE_WORKSPACE``, else the current folder, as the command itself would resolve it. The
command line sent to the host carries the resolved folder explicitly, so the host never
depends on the caller's environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from typer.core import TyperGroup, TyperOption

NEVER_HOSTED = frozenset({"serve"})
"""Commands that host a workspace themselves (``stream`` hosts one only when none is hosted)."""


@dataclass(frozen=True)
class Route:
    folder: Path
    """The workspace folder, resolved."""
    argv: list[str]
    """The command line to send, with ``--workspace=<folder>`` after the command's name."""


def hosted_route(app: TyperGroup, argv: list[str], cwd: Path) -> Route | None:
    """Where ``argv`` would run if a host held its workspace; None for commands that do not
    work on a workspace, help, and command lines that do not parse (they fail locally)."""
    if "--help" in argv:
        return None
    path, command, at = _walk(app, argv)
    if command is None or not path or path[0] in NEVER_HOSTED:
        return None
    if not any(param.name == "workspace" for param in command.params):
        return None
    folder = Path(_workspace_value(argv) or os.environ.get("AUDIENCE_WORKSPACE") or ".")
    folder = (cwd / folder.expanduser()).resolve()
    return Route(folder, [*argv[:at], f"--workspace={folder}", *argv[at:]])


def _walk(app: TyperGroup, argv: list[str]) -> tuple[list[str], Any, int]:
    """The command names at the head of ``argv`` (group options and their values skipped),
    the command they name (None when a name is unknown), and the index just after them."""
    path: list[str] = []
    command: Any = app
    index = end = 0
    while index < len(argv) and isinstance(command, TyperGroup):
        token = argv[index]
        if token.startswith("-"):
            index += 2 if _takes_value(command, token) else 1
            continue
        found = command.commands.get(token)
        if found is None:
            # A group invoked without a subcommand takes this as an argument of its own.
            return path, command if path else None, end
        path.append(token)
        command, index = found, index + 1
        end = index
    return path, command if path else None, end


def _takes_value(command: TyperGroup, token: str) -> bool:
    if "=" in token:
        return False
    for param in command.params:
        if isinstance(param, TyperOption) and token in (*param.opts, *param.secondary_opts):
            return not param.is_flag and not param.count
    return False


def _workspace_value(argv: list[str]) -> str | None:
    value = None
    for index, token in enumerate(argv):
        if token in ("--workspace", "-w") and index + 1 < len(argv):
            value = argv[index + 1]
        elif token.startswith("--workspace="):
            value = token.split("=", 1)[1]
        elif token.startswith("-w") and len(token) > 2:
            value = token[2:]
    return value
