"""What every ``audience`` command shares: the consoles, ``--workspace``, ``--run``,
``--as-of``, opening the workspace, and error handling."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, ParamSpec, TypeVar

import typer

from audience.cli import render
from audience.cli.invocation import CurrentConsole, invocation_path
from audience.errors import AudienceError, ConfigError
from audience.store.locking import Access, waiting_notice
from audience.workspace import Workspace

out_console = CurrentConsole("out")
"""The running command's stdout (its caller's, when a host runs it)."""
err = CurrentConsole("err")
"""The running command's stderr: progress, warnings and errors."""

P = ParamSpec("P")
R = TypeVar("R")

WorkspaceOption = Annotated[
    Path,
    typer.Option(
        "--workspace",
        "-w",
        envvar="AUDIENCE_WORKSPACE",
        help="The workspace folder (default: the current folder, or AUDIENCE_WORKSPACE).",
        show_default=False,
    ),
]


def friendly(command: Callable[P, R]) -> Callable[P, R]:
    """Turn an :class:`AudienceError` into one paragraph on stderr and exit status 1."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except AudienceError as exc:
            render.error(err.get(), str(exc))
            raise typer.Exit(1) from None

    return run


def open_workspace(folder: Path, access: Access) -> Workspace:
    """The ``--workspace`` folder (relative to the caller's working folder), for reading or
    writing; while another command holds it, a line on stderr says whom this one waits for."""
    waiting_notice.set(lambda notice: err.print(f"[yellow]{notice}[/]"))
    return Workspace(invocation_path(folder), access=access)


RunOption = Annotated[
    str | None,
    typer.Option("--run", help="A run id (default: the newest segmentation).", show_default=False),
]

VerboseOption = Annotated[
    bool,
    typer.Option(
        "--verbose",
        "-v",
        help="Every score and reason of the candidates; the stage and key trait of each "
        "segment (wider than 80 columns).",
    ),
]
ShowEmptyOption = Annotated[
    bool,
    typer.Option("--show-empty", help="List the segments without contacts too."),
]


def parse_as_of(text: str | None) -> datetime | None:
    """``YYYY-MM-DD`` means the end of that day in UTC; an ISO instant is taken as given."""
    if text is None:
        return None
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime.combine(day, datetime.max.time(), tzinfo=UTC)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(
            f"--as-of {text!r} is not a date (YYYY-MM-DD) or an ISO 8601 instant "
            f"(2025-06-01T12:00:00Z)."
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
