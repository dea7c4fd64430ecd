"""``audience stream``: consume events from Redis Streams (or Kafka) into the workspace."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer

from audience.cli.common import WorkspaceOption, err, friendly, open_workspace, out_console
from audience.cli.invocation import invocation_path, stop_on_signals
from audience.cli.progress import status_line
from audience.config import StreamConfig
from audience.store.locking import lease_of, writer_turn
from audience.workspace import Workspace

if TYPE_CHECKING:
    from audience.refresh.stream import BatchReport, StreamReport


@friendly
def stream(
    source: Annotated[
        str | None,
        typer.Option(
            help="redis://host:port/db or kafka://host:port (default: \\[stream] source)."
        ),
    ] = None,
    stream_key: Annotated[
        str | None,
        typer.Option(
            "--stream", help="The Redis stream key or Kafka topic (default: \\[stream] stream)."
        ),
    ] = None,
    group: Annotated[
        str | None, typer.Option(help="The consumer group (default: \\[stream] group).")
    ] = None,
    consumer: Annotated[
        str | None,
        typer.Option(help="This consumer's name in the group (default: the host name)."),
    ] = None,
    max_batches: Annotated[
        int | None,
        typer.Option("--max-batches", min=1, help="Stop after this many batches."),
    ] = None,
    until_idle: Annotated[
        bool,
        typer.Option("--until-idle", help="Stop when a read finds no message (for schedulers)."),
    ] = False,
    json_lines: Annotated[
        bool, typer.Option("--json", help="One JSON line per batch on stdout.")
    ] = False,
    workspace: WorkspaceOption = Path("."),
) -> None:
    """Consume events from a stream in micro-batches: each is checked and stored like a
    file, its contacts are re-assigned to segments at once, then it is acknowledged.
    Ctrl+C (or SIGTERM) stops after the current batch."""
    # Imported here: the features' expressions (Ibis) are for this command only.
    from audience.refresh.sources import open_source
    from audience.refresh.stream import consume

    folder = invocation_path(workspace).expanduser().resolve()
    # "read": inside the host, each batch takes the writers' turn instead (see writing=).
    with _hosting(folder), open_workspace(folder, "read") as ws:
        settings = _settings(ws.config.stream, source, stream_key, group, consumer)
        timeout = ws.config.store.lock_timeout_seconds
        name = settings.consumer or socket.gethostname()
        opened = open_source(settings, consumer=name)
        if not json_lines:
            err.print(f"consuming {opened.name} as {name} in group {settings.group}; Ctrl+C stops")
        try:
            with stop_on_signals() as stop, _display(json_lines) as shown:
                report = consume(
                    _with_stream(ws, settings),
                    opened,
                    max_batches=max_batches,
                    stop=stop.is_set,
                    progress=shown,
                    until_idle=until_idle,
                    writing=lambda: writer_turn(folder, "audience stream", timeout),
                )
        finally:
            opened.close()
    _finish(report, json_lines)


@contextmanager
def _hosting(folder: Path) -> Iterator[None]:
    """A stream runs for days: unless a server already hosts the workspace (then this runs
    inside it), the stream hosts it, so that other commands go on meanwhile."""
    if lease_of(folder) is not None:
        yield
        return
    from audience.cli.app import as_group
    from audience.cli.host import Host, run_in_process
    from audience.config import CONFIG_FILE, load_config

    timeout = load_config(folder / CONFIG_FILE).store.lock_timeout_seconds
    with Host(folder, run=run_in_process(as_group()), lock_timeout=timeout, what="audience stream"):
        yield


def _settings(
    config: StreamConfig,
    source: str | None,
    stream_key: str | None,
    group: str | None,
    consumer: str | None,
) -> StreamConfig:
    given = {"source": source, "stream": stream_key, "group": group, "consumer": consumer}
    overrides = {key: value for key, value in given.items() if value is not None}
    return StreamConfig.model_validate({**config.model_dump(), **overrides})


def _with_stream(ws: Workspace, settings: StreamConfig) -> Workspace:
    ws.config = ws.config.model_copy(update={"stream": settings})
    return ws


@contextmanager
def _display(json_lines: bool) -> Iterator[Callable[[BatchReport], None]]:
    from audience.refresh.stream import StreamReport

    totals = StreamReport()
    if json_lines:

        def emit(batch: BatchReport) -> None:
            totals.add(batch)
            line = orjson.dumps({"batch": totals.batches, **batch.to_dict()}).decode()
            _print_line(line)

        yield emit
        return
    with status_line("waiting for messages") as update:

        def show(batch: BatchReport) -> None:
            totals.add(batch)
            update(status_text(totals, err.width - 3))

        yield show


def status_text(totals: StreamReport, width: int = 78) -> str:
    """``12 batches, 12,000 msgs, 11,500 ok, 400 quarantined, 100 dup, 3,210 re-assigned``;
    messages and duplicates are left out when that is wider than ``width``."""
    counts = [
        (totals.batches, "batches"),
        (totals.messages, "msgs"),
        (totals.accepted, "ok"),
        (totals.quarantined, "quarantined"),
        (totals.duplicates, "dup"),
        (totals.reassigned, "re-assigned"),
    ]
    text = ", ".join(f"{n:,} {label}" for n, label in counts)
    if len(text) > width:
        text = ", ".join(f"{n:,} {label}" for n, label in counts if label not in ("msgs", "dup"))
    return text


def _finish(report: StreamReport, json_lines: bool) -> None:
    if json_lines:
        summary: dict[str, Any] = {"summary": True, **report.to_dict()}
        _print_line(orjson.dumps(summary).decode())
        return
    changed = f"{report.changed:,} segment changes recorded"
    runs = ", ".join(report.run_ids) or "no segmentation yet: nobody re-assigned"
    out_console.print(f"{status_text(report)}\n{changed} (run {runs})")


def _print_line(line: str) -> None:
    """One JSON line on the command's stdout, never wrapped or styled."""
    out_console.print(line, markup=False, highlight=False, soft_wrap=True)
