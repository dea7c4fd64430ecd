"""``audience erase``: a person removed from the workspace (see README, "Privacy")."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from audience.cli.common import WorkspaceOption, friendly, open_workspace, out_console
from audience.store.erasing import ErasureResult


@friendly
def erase(
    contact: Annotated[
        str | None, typer.Option("--contact", help="The contact id to erase.", show_default=False)
    ] = None,
    email: Annotated[
        str | None,
        typer.Option(
            "--email",
            help="Erase every contact with this email (matched trimmed, lower-cased).",
            show_default=False,
        ),
    ] = None,
    workspace: WorkspaceOption = Path("."),
) -> None:
    """Remove a person from every table and from the model files of the runs they were in;
    the erasure log keeps when and how many rows, never who."""
    with open_workspace(workspace, "write") as ws:
        result = ws.erase(contact_id=contact, email=email, requested_by="cli")
    out_console.print(_summary(result))


def _summary(result: ErasureResult) -> Table:
    table = Table("table", "rows removed", title=f"erased ({result.erasure_id})")
    for name, count in sorted(result.counts.items()):
        table.add_row(name, f"{count:,}")
    for run, what in sorted(result.models.items()):
        table.add_row(f"models/{run}.joblib", what)
    if "removed" in result.models.values():
        table.caption = (
            "A removed model kept training rows: that run cannot assign new contacts until "
            "`audience segment` runs again."
        )
    return table
