"""What every ``audience`` command shares: the consoles, ``--workspace``, ``--run``,
``--as-of`` and error handling."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, ParamSpec, TypeVar

import typer
from rich.console import Console

from audience.cli import render
from audience.errors import AudienceError, ConfigError

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


RunOption = Annotated[
    str | None,
    typer.Option("--run", help="A run id (default: the newest segmentation).", show_default=False),
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
