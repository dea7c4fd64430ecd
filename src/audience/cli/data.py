"""``audience init``, ``ingest``, ``profile``, ``quarantine`` and ``features``: the data in
a workspace."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from audience.cli import render
from audience.cli.common import WorkspaceOption, friendly, open_workspace, out_console, parse_as_of
from audience.cli.invocation import invocation_path
from audience.cli.progress import row_counter, spinner
from audience.ingest import Kind, parse_explicit
from audience.store.known_files import AlreadyIngested
from audience.workspace import Workspace


@friendly
def init(
    folder: Annotated[Path, typer.Argument(help="Folder to make a workspace of.")] = Path("."),
) -> None:
    """Create a workspace: audience.toml, audience.duckdb and the hashing secret."""
    with Workspace.init(folder) as ws:
        out_console.print(f"[green]created workspace[/] {ws.path}")
        out_console.print(f"  config   {ws.path / 'audience.toml'}")
        out_console.print(f"  database {ws.database_path}")
        out_console.print(
            "  secret   .audience-secret (keys the email hashes; back it up, keep it private)"
        )


@friendly
def ingest(
    file: Annotated[Path, typer.Argument(help="CSV (optionally .gz), Parquet, or JSON Lines.")],
    kind: Annotated[
        Kind | None,
        typer.Option(
            help="What the rows are. Default: from the file name, or events for JSON Lines."
        ),
    ] = None,
    mapping: Annotated[
        list[str] | None,
        typer.Option("--map", help="Map a column: --map 'Order Amount=revenue'. Repeatable."),
    ] = None,
    encoding: Annotated[
        str,
        typer.Option(
            help="Text encoding of CSV/JSON files without a byte-order mark, e.g. cp1252 for "
            "an Excel CSV (UTF-8, UTF-16 and UTF-32 with a mark are detected)."
        ),
    ] = "utf-8",
    again: Annotated[
        bool,
        typer.Option(
            "--again",
            help="Read the file even if the same bytes were ingested before (they are "
            "recognised by checksum and skipped otherwise).",
        ),
    ] = False,
    workspace: WorkspaceOption = Path("."),
) -> None:
    """Read a file, check every row, store the good ones and quarantine the rest."""
    explicit = parse_explicit(mapping or [])
    source = invocation_path(file)
    with (
        open_workspace(workspace, "write") as ws,
        row_counter(f"reading {file.name}") as progress,
    ):
        report = ws.ingest(
            source, kind, mapping=explicit, encoding=encoding, progress=progress, again=again
        )
    if isinstance(report, AlreadyIngested):
        out_console.print(render.already_ingested(report))
        return
    out_console.print(render.ingest_report(report))


@friendly
def features(
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Compute as of this day (YYYY-MM-DD: its end, UTC) or ISO instant; "
            "later events are ignored. Default: now.",
            show_default=False,
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Also write the features to a .parquet or .csv file.")
    ] = None,
    workspace: WorkspaceOption = Path("."),
) -> None:
    """Compute every contact's features (RFM, engagement, behaviour) and store them."""
    target = invocation_path(out) if out is not None else None
    with open_workspace(workspace, "write") as ws, spinner("computing features"):
        report = ws.features(parse_as_of(as_of), out=target)
    out_console.print(render.feature_summary(report))


@friendly
def profile(workspace: WorkspaceOption = Path(".")) -> None:
    """Show what the workspace holds: contacts, events by type, dates, quarantine."""
    with open_workspace(workspace, "read") as ws:
        out_console.print(render.data_profile(ws.profile()))


@friendly
def quarantine(
    reason: Annotated[str | None, typer.Option(help="Only rows rejected for this reason.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="How many rows to show.")] = 20,
    workspace: WorkspaceOption = Path("."),
) -> None:
    """List rejected rows with their file, line and reason."""
    with open_workspace(workspace, "read") as ws:
        sql = "SELECT source, line, reason, detail FROM quarantine"
        params: list[object] = []
        if reason:
            sql += " WHERE reason = ?"
            params.append(reason)
        rows = ws.database.con.execute(
            sql + " ORDER BY source, line LIMIT ?", [*params, limit]
        ).fetchall()
    table = Table("file", "line", "reason", "detail", title=f"quarantine (first {limit})")
    for source, line, why, detail in rows:
        # File names and details quote the file's own text: shown as text, never as markup.
        table.add_row(Text(Path(source).name), str(line), why, Text(detail))
    out_console.print(table)
