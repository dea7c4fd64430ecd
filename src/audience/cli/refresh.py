"""``audience refresh``: what a scheduler runs (cron, a systemd timer, an Airflow task)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import orjson
import typer
from rich.table import Table

from audience.cli.common import (
    WorkspaceOption,
    err,
    friendly,
    open_workspace,
    out_console,
    parse_as_of,
)
from audience.cli.progress import status_line

if TYPE_CHECKING:
    from audience.refresh.run import RefreshReport, Step

EXIT_MEANINGS = {0: "nothing to do, or done", 1: "failed", 3: "done, with alerts"}


@friendly
def refresh(
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Features as of this day (YYYY-MM-DD: its end, UTC) or instant. Default: now.",
            show_default=False,
        ),
    ] = None,
    full: Annotated[
        bool,
        typer.Option(
            "--full", help="Run the whole model selection (a new run even if nothing is new)."
        ),
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Segment again even when nothing is new.")
    ] = False,
    json_lines: Annotated[
        bool, typer.Option("--json", help="One JSON line per step on stdout (for logs).")
    ] = False,
    workspace: WorkspaceOption = Path("."),
) -> None:
    """Ingest new files from the drop folders, then segment again with stable ids and
    raise alerts, or do nothing when nothing is new. Files already ingested (same
    checksum) are skipped, so running it twice changes nothing.

    Exit status: 0 nothing to do or done, 1 failed, 3 done with alerts.
    """
    with open_workspace(workspace, "write") as ws:
        if json_lines:
            report = ws.refresh(parse_as_of(as_of), full=full, force=force, on_step=_json_line)
        else:
            with status_line("refreshing") as show:
                report = ws.refresh(
                    parse_as_of(as_of),
                    full=full,
                    force=force,
                    on_step=lambda step: show(f"{step.step}: {step.detail}"),
                )
    if json_lines:
        _json_summary(report)
    else:
        _print_summary(report)
    raise typer.Exit(report.exit_code)


def _json_line(step: Step) -> None:
    out_console.print(orjson.dumps(step.to_dict()).decode(), markup=False, soft_wrap=True)


def _json_summary(report: RefreshReport) -> None:
    summary = {
        "refresh": report.refresh_id,
        "status": report.status,
        "exit_code": report.exit_code,
        "run_id": report.run_id,
        "alerts": len(report.alerts),
        "severe_alerts": sum(alert.severity == "alert" for alert in report.alerts),
    }
    out_console.print(orjson.dumps(summary).decode(), markup=False, soft_wrap=True)


def _print_summary(report: RefreshReport) -> None:
    table = Table(
        "step", "", "what", "s", title=f"refresh {report.refresh_id}", title_justify="left"
    )
    for step in report.steps:
        mark = {"done": "[green]✓[/]", "skipped": "[dim]–[/]", "failed": "[red]✗[/]"}[step.status]
        table.add_row(step.step, mark, step.detail, f"{step.seconds:.1f}")
    out_console.print(table)
    if report.status == "nothing_to_do":
        out_console.print("nothing new since the newest run: no new run (exit 0)")
    elif report.run_id:
        severe = sum(alert.severity == "alert" for alert in report.alerts)
        out_console.print(
            f"new run {report.run_id}; {len(report.alerts)} alerts ({severe} at severity "
            f"alert){': `audience alerts` lists them' if report.alerts else ''}"
        )
    if report.exit_code:
        err.print(f"exit {report.exit_code}: {EXIT_MEANINGS[report.exit_code]}")
