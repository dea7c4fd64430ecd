"""What every ``audience`` command shares: the consoles, ``--workspace`` and error handling."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, ParamSpec, TypeVar

import typer
from rich.console import Console

from audience import console as render
from audience.errors import AudienceError

out_console = Console()
err = Console(stderr=True)

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
            render.error(err, str(exc))
            raise typer.Exit(1) from None

    return run
