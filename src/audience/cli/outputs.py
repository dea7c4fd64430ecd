"""``audience export`` and ``audience report``: files for platforms and for people."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from audience.cli.common import RunOption, WorkspaceOption, friendly, open_workspace, out_console
from audience.cli.invocation import invocation_path
from audience.cli.progress import spinner

PlatformChoice = Literal["mailchimp", "klaviyo", "hubspot", "braze", "sendgrid", "brevo"]


@friendly
def export(
    segment: Annotated[
        str, typer.Option("--segment", help="The segment to export (with everything under it).")
    ],
    platform: Annotated[
        PlatformChoice | None,
        typer.Option(help="Write the columns this platform's CSV import expects."),
    ] = None,
    file_format: Annotated[Literal["csv"], typer.Option("--format", help="File format.")] = "csv",
    out: Annotated[
        Path | None,
        typer.Option(help="Output file. Default: exports/<segment>[-<platform>].csv."),
    ] = None,
    run: RunOption = None,
    workspace: WorkspaceOption = Path("."),
) -> None:
    """Write a segment's members for an email platform. Suppressed contacts never are."""
    with open_workspace(workspace, "read") as ws:
        name = segment.replace("/", "__") + (f"-{platform}" if platform else "")
        target = invocation_path(out) if out else ws.path / "exports" / f"{name}.{file_format}"
        result = ws.export(segment, target, platform=platform, run_id=run)
    out_console.print(f"[green]wrote[/] {result.rows:,} contacts to {result.path}")
    if result.suppressed_now:
        out_console.print(f"  left out {result.suppressed_now:,} suppressed contacts")
    if result.without_email:
        out_console.print(f"  left out {result.without_email:,} contacts without an email")
    if result.formula_keys:
        out_console.print(
            f"  left out {result.formula_keys:,} contacts whose email address (or Braze "
            "external id) starts like a spreadsheet formula (=, +, -, @): the platform needs it "
            "exactly, so it can be neither written as it is nor changed",
            markup=False,
        )


@friendly
def report(
    run: Annotated[
        str | None, typer.Argument(help="A run id (default: the newest segmentation).")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Output file. Default: reports/<run>.html.")
    ] = None,
    workspace: WorkspaceOption = Path("."),
) -> None:
    """Write one self-contained HTML report of a run; it opens offline in any browser."""
    target = invocation_path(out) if out is not None else None
    with open_workspace(workspace, "read") as ws, spinner("writing the report"):
        path = ws.report(run, target)
    out_console.print(f"[green]report[/]: {path}")
