"""Rich progress displays for long commands, on stderr, gone when the work is done.

Each one yields the callback the library's long functions take (:mod:`audience.progress`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from audience.cli.common import err


@contextmanager
def count_bar(label: str, total: int) -> Iterator[Callable[[int], None]]:
    columns = (
        SpinnerColumn(),
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err.get(), transient=True) as progress:
        task = progress.add_task(label, total=total)
        yield lambda done: progress.advance(task, done)


@contextmanager
def step_bar() -> Iterator[Callable[[str, int, int], None]]:
    """One progress line for multi-step work: the current step, a bar where it has a size."""
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err.get(), transient=True) as progress:
        task = progress.add_task("starting", total=None)

        def update(step: str, done: int, total: int) -> None:
            progress.update(task, description=step, completed=done, total=total or None)

        yield update


@contextmanager
def spinner(label: str) -> Iterator[None]:
    columns = (SpinnerColumn(), TextColumn(label), TimeElapsedColumn())
    with Progress(*columns, console=err.get(), transient=True) as progress:
        progress.add_task(label, total=None)
        yield


@contextmanager
def row_counter(label: str) -> Iterator[Callable[[int], None]]:
    columns = (
        SpinnerColumn(),
        TextColumn(label),
        TextColumn("{task.completed:,} rows"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err.get(), transient=True) as progress:
        task = progress.add_task(label, total=None)
        yield lambda rows: progress.update(task, completed=rows)


@contextmanager
def status_line(label: str) -> Iterator[Callable[[str], None]]:
    """One live line (a spinner and a text) for work without an end; the callback replaces
    the text."""
    columns = (SpinnerColumn(), TextColumn("{task.description}"))
    with Progress(*columns, console=err.get(), transient=True) as progress:
        task = progress.add_task(label, total=None)
        yield lambda text: progress.update(task, description=text)
