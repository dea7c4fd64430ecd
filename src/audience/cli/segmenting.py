"""``audience segment`` and ``audience segments``: make a segment tree, then read it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from audience.cli import render
from audience.cli.common import (
    RunOption,
    ShowEmptyOption,
    VerboseOption,
    WorkspaceOption,
    friendly,
    open_workspace,
    out_console,
    parse_as_of,
)
from audience.cli.progress import step_bar
from audience.config import MethodChoice
from audience.errors import ConfigError

if TYPE_CHECKING:
    from audience.segments.summary import TreeReport


@friendly
def segment(
    method: Annotated[
        MethodChoice | None,
        typer.Option(
            help="Clustering method; auto compares models.methods of audience.toml. "
            "Default: models.method.",
            show_default=False,
        ),
    ] = None,
    k: Annotated[
        str | None,
        typer.Option(
            "--k",
            help="Number of segments, or 'auto' to choose it. Default: models.k, else auto.",
            show_default=False,
        ),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Segment as of this day (YYYY-MM-DD: its end, UTC) or ISO instant. Default: now.",
            show_default=False,
        ),
    ] = None,
    flat: Annotated[
        bool,
        typer.Option(
            "--flat",
            help="Cluster every contact together: no suppression, rules or personas.",
        ),
    ] = False,
    verbose: VerboseOption = False,
    show_empty: ShowEmptyOption = False,
    workspace: WorkspaceOption = Path("."),
) -> None:
    r"""Segment contacts: suppression, broad rule segments, clusters inside each, personas.

    The hierarchy is \[segments] in audience.toml; clustering is \[models] (--method and --k
    override it in every broad segment without its own). Every contact's segment (and
    probability, for mixtures) is stored under a new run id with the configuration, the
    candidates considered, the personas and the rules that explain them.
    """
    with open_workspace(workspace, "write") as ws, step_bar() as progress:
        moment = parse_as_of(as_of)
        if flat:
            flat_report = ws.cluster(moment, method=method, k=parse_k(k), progress=progress)
        else:
            report = ws.segment(moment, method=method, k=parse_k(k), progress=progress)
    if flat:
        out_console.print(render.candidates(flat_report.selection, verbose=verbose))
        out_console.print(render.segment_sizes(flat_report))
        return
    print_tree_report(report, verbose=verbose, show_empty=show_empty)


def print_tree_report(report: TreeReport, *, verbose: bool, show_empty: bool) -> None:
    """Each broad segment with the candidates its clusters were chosen from, then the tree,
    the contacts left without a segment and the alerts raised against the previous run."""
    selection = report.selection
    for branch in report.branches.to_dict(orient="records"):
        out_console.print(f"[bold]{branch['branch']}[/]: {branch['note']}")
        if not selection.empty and "branch" in selection:
            table = selection[selection["branch"] == branch["branch"]]
            if not table.empty:
                out_console.print(render.candidates(table, verbose=verbose))
    leaves = report.leaves
    title = (
        f"run {report.run_id}: {int((leaves['size'] > 0).sum())} segments "
        f"(surrogate rules fit {report.fidelity:.0%}; {report.seconds:.1f} s)"
    )
    out_console.print(
        render.segment_tree(report.segments, title, verbose=verbose, show_empty=show_empty)
    )
    if report.unassigned:
        out_console.print(
            f"[yellow]{report.unassigned:,} contacts matched no broad rule[/] and have no "
            "segment (set \\[segments] fallback to keep them)."
        )
    if report.alerts:
        severe = sum(alert.severity == "alert" for alert in report.alerts)
        out_console.print(
            f"[yellow]{len(report.alerts)} alerts[/] against the previous run ({severe} at "
            "severity alert): `audience alerts` lists them, `audience changes` shows why."
        )
    if not verbose:
        out_console.print("[dim]--verbose: every score and reason, each segment's stage and trait")


segments_app = typer.Typer(
    help="The segment tree of a run (default: the newest): list it, show, rename, or ask why.",
    no_args_is_help=False,
    invoke_without_command=True,
)


@segments_app.callback()
@friendly
def segments_list(
    context: typer.Context,
    run: RunOption = None,
    verbose: VerboseOption = False,
    show_empty: ShowEmptyOption = False,
    workspace: WorkspaceOption = Path("."),
) -> None:
    """The segment tree with names and sizes (with --verbose, stages and key traits)."""
    if context.invoked_subcommand is not None:
        return
    with open_workspace(workspace, "read") as ws:
        run_id = ws.run_id(run)
        tree = ws.segments(run_id)
    title = f"run {run_id}"
    out_console.print(render.segment_tree(tree, title, verbose=verbose, show_empty=show_empty))


@segments_app.command("show")
@friendly
def segments_show(
    segment_id: Annotated[str, typer.Argument(help="The segment's id (its path).")],
    run: RunOption = None,
    workspace: WorkspaceOption = Path("."),
) -> None:
    """One segment: persona, traits, messaging, suggested actions, rules and KPIs."""
    with open_workspace(workspace, "read") as ws:
        row = ws.find_segment(segment_id, run)
    out_console.print(render.segment_detail(row.to_dict(), row["definition"]))


@segments_app.command("rename")
@friendly
def segments_rename(
    segment_id: Annotated[str, typer.Argument(help="The segment's id (its path).")],
    name: Annotated[str, typer.Argument(help="The new name.")],
    run: RunOption = None,
    workspace: WorkspaceOption = Path("."),
) -> None:
    """Rename a segment; later runs keep the name for the same segment id."""
    with open_workspace(workspace, "write") as ws:
        ws.rename_segment(segment_id, name, run)
    out_console.print(f"renamed {segment_id} to {name.strip()!r}")


@segments_app.command("why")
@friendly
def segments_why(
    contact_id: Annotated[str, typer.Argument(help="The contact's id.")],
    run: RunOption = None,
    workspace: WorkspaceOption = Path("."),
) -> None:
    """Which segment a contact is in, and the features that put it there."""
    with open_workspace(workspace, "read") as ws:
        segment_id, reasons = ws.why(contact_id, run)
        name = ws.find_segment(segment_id, run)["name"]
    out_console.print(f"{contact_id} is in [bold]{segment_id}[/] ({name})")
    for reason in reasons:
        out_console.print(f"  • {reason}")


def parse_k(text: str | None) -> int | None:
    """``--k``: a whole number of segments >= 2, or ``auto`` (None)."""
    if text is None or text.strip().lower() == "auto":
        return None
    if not text.strip().isdigit() or int(text) < 2:
        raise ConfigError(f"--k {text!r} is not a number of segments (2 or more) or 'auto'.")
    return int(text)
