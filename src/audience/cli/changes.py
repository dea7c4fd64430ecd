"""``audience changes``: what changed in a run since the previous one, as Rich tables.

The segments and report packages are imported where they are used: they pull in
scikit-learn and Plotly, which the other commands should not wait for at start."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import pandas as pd
import typer
from rich.table import Table
from rich.text import Text

from audience.cli.common import WorkspaceOption, friendly, open_workspace, out_console
from audience.config import DriftConfig

if TYPE_CHECKING:
    from audience.segments.changes import RunChanges

NEW, GONE, POPULATION_LABEL = "(new contacts)", "(not in this run)", "population"
STATUS_STYLE = {"alert": "bold red", "watch": "yellow"}
CHANGE_STYLE = {"new": "green", "gone": "red", "0": ""}


@friendly
def changes(
    run: Annotated[
        str | None, typer.Argument(help="A run id (default: the newest segmentation).")
    ] = None,
    top: Annotated[int, typer.Option(min=1, help="How many of the biggest moves to list.")] = 10,
    workspace: WorkspaceOption = Path("."),
) -> None:
    """What changed since the previous run: segment sizes, the biggest moves of contacts
    between segments, and the features that drifted (PSI and KS, judged by the drift
    section of audience.toml)."""
    from audience.segments.identity import read_lineage

    with open_workspace(workspace, "read") as ws:
        run_id = ws.run_id(run)
        found = ws.changes(run_id)
        lineage = read_lineage(ws.database, run_id)
        thresholds = ws.config.drift
    if found is None:
        out_console.print(f"run {run_id} is the first run: nothing to compare")
        return
    print_changes(run_id, found, thresholds, top, lineage)


def print_changes(
    run_id: str,
    found: RunChanges,
    thresholds: DriftConfig,
    top: int,
    lineage: pd.DataFrame | None = None,
) -> None:
    from audience.report.changes_view import changes_summary

    out_console.print(f"[bold]run {run_id}[/] against the previous run {found.previous_run_id}")
    out_console.print(changes_summary(found.transitions))
    if lineage is not None and not lineage.empty:
        out_console.print(lineage_text(lineage))
    out_console.print(size_table(found.sizes))
    out_console.print(moves_table(found.transitions, top))
    out_console.print(drift_table(found.drift, thresholds))


def lineage_text(lineage: pd.DataFrame) -> Text:
    """``9 segments kept their ids; new: a, b; retired: c (merged into d)``: the segments
    whose identity changed, by name, after a count of those that kept it."""
    kept = int((lineage["status"] == "kept").sum())
    text = Text(f"{kept} segments kept their ids")
    for status in ("new", "split", "retired", "merged"):
        rows = lineage[lineage["status"] == status]
        if rows.empty:
            continue
        related = {"split": "from", "merged": "into"}.get(status)
        names = [
            f"{row.segment_id} ({related} {row.related})" if related else str(row.segment_id)
            for row in rows.itertuples()
        ]
        text.append(f"; {status}: ", style="bold")
        text.append(", ".join(names))
    return text


def size_table(sizes: pd.DataFrame) -> Table:
    from audience.report.changes_view import change_text

    table = Table(title="segment sizes", title_justify="left")
    table.add_column("segment", overflow="fold")
    table.add_column("before", justify="right")
    table.add_column("now", justify="right")
    table.add_column("change", justify="right")
    for row in sizes.to_dict(orient="records"):
        change = change_text(row)
        table.add_row(
            str(row["segment_id"]),
            f"{row['previous']:,}",
            f"{row['current']:,}",
            Text(change, style=CHANGE_STYLE.get(change, "bold")),
        )
    return table


def moves_table(transitions: pd.DataFrame, top: int) -> Table | Text:
    from audience.segments.change_summary import moves

    moved = moves(transitions)
    if moved.empty:
        return Text("No contact moved between segments.")
    shown = f"the {top} biggest moves" if len(moved) > top else "moves"
    table = Table(title=f"{shown} between segments", title_justify="left")
    table.add_column("from → to", overflow="fold")
    table.add_column("contacts", justify="right")
    table.add_column("share of from", justify="right")
    columns = ["from_segment", "to_segment", "contacts", "share"]
    for source, target, contacts, share in moved[columns].head(top).itertuples(index=False):
        move = f"{source or NEW}\n→ {target or GONE}"
        table.add_row(move, f"{contacts:,}", f"{share:.1%}")
    return table


def drift_table(drift: pd.DataFrame, thresholds: DriftConfig) -> Table | Text:
    from audience.segments.change_summary import flagged_drift

    if drift.empty:
        return Text("No drift was measured (the previous run's features are not stored).")
    flagged = flagged_drift(drift)
    scopes = drift["scope"].nunique()
    ok = (
        f"{len(drift) - len(flagged):,} of {len(drift):,} tests ok (PSI under "
        f"{thresholds.psi_watch:g}, KS under {thresholds.ks_alert:g}) across the population "
        f"and {scopes - 1} segment{'s' if scopes != 2 else ''}"
    )
    if flagged.empty:
        return Text(f"No feature drifted: {ok}.")
    table = Table(title="feature drift at watch or alert", title_justify="left", caption=ok)
    table.add_column("scope / feature", overflow="fold")
    table.add_column("PSI", justify="right")
    table.add_column("KS", justify="right")
    table.add_column("status")
    for scope, rows in flagged.groupby("scope", sort=False):
        if table.row_count:
            table.add_section()
        table.add_row(Text(str(scope) or POPULATION_LABEL, style="bold"))
        for feature, psi, ks, status in rows[["feature", "psi", "ks", "status"]].itertuples(
            index=False
        ):
            table.add_row(
                f"  {feature}",
                f"{psi:.3f}",
                "—" if math.isnan(ks) else f"{ks:.3f}",
                Text(status, style=STATUS_STYLE.get(status, "")),
            )
    return table
