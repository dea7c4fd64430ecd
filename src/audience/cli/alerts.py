"""``audience alerts``: the alerts raised by runs and refreshes, newest first."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.table import Table
from rich.text import Text

from audience.cli.common import WorkspaceOption, friendly, open_workspace, out_console
from audience.store.alerts import StoredAlert, list_alerts

SEVERITY_STYLE = {"alert": "bold red", "watch": "yellow"}
DELIVERY_STYLE = {"delivered": "green", "failed": "red", "none": "dim"}


@friendly
def alerts(
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="How many to show.")] = 20,
    run: Annotated[
        str | None,
        typer.Option("--run", help="Only this run's alerts (default: all).", show_default=False),
    ] = None,
    workspace: WorkspaceOption = Path("."),
) -> None:
    r"""Alerts: drift, size and quality changes, new and retired segments, failed refreshes.

    Each is stored, logged and sent to the [\[alerts.webhooks]] of audience.toml; the last
    column says whether the webhooks got it (`none` when no webhook is configured).
    """
    with open_workspace(workspace, "read") as ws:
        run_id = ws.run_id(run) if run is not None else None
        found = list_alerts(ws.database, limit=limit, run_id=run_id)
    if not found:
        where = f" for run {run_id}" if run_id else ""
        out_console.print(f"no alerts{where} yet")
        return
    out_console.print(alert_table(found))


def alert_table(found: Sequence[StoredAlert]) -> Table:
    """One row per alert: when; severity over kind; subject over message; delivery. The
    message wraps, so the table fits 80 columns. Stored text is shown as text, never read
    as Rich markup (a segment's name may hold brackets)."""
    table = Table(box=box.SIMPLE_HEAD, title="alerts (newest first)", title_justify="left")
    table.add_column("when", no_wrap=True)
    table.add_column("alert", min_width=8)
    table.add_column("subject: message", ratio=1, overflow="fold")
    table.add_column("delivery", min_width=9)
    for alert in found:
        state = alert.delivery.label
        table.add_row(
            f"{alert.created_at:%Y-%m-%d}\n{alert.created_at:%H:%M}",
            Text.assemble(
                (alert.severity, SEVERITY_STYLE.get(alert.severity, "")),
                "\n",
                alert.kind.replace("_", " "),
            ),
            Text.assemble((alert.subject, "bold"), "\n", alert.message),
            Text(state, style=DELIVERY_STYLE.get(state, "yellow")),
        )
    return table
