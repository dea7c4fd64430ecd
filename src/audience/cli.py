"""The ``audience`` command: a thin layer over :mod:`audience.pipeline` and :class:`Workspace`.

A user mistake prints one paragraph and exits 1, never a traceback.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from audience import console as render
from audience.cli_common import WorkspaceOption, err, friendly, out_console
from audience.cli_service import keys_app, serve
from audience.errors import ConfigError
from audience.ingest import Kind, parse_explicit
from audience.workspace import Workspace

if TYPE_CHECKING:
    from audience.segments.summary import TreeReport

app = typer.Typer(
    name="audience",
    help="Segment an email audience with clustering models.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
)


@app.command()
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


@app.command()
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
    encoding: Annotated[str, typer.Option(help="Text encoding of CSV/JSON files.")] = "utf-8",
    workspace: WorkspaceOption = Path("."),
) -> None:
    """Read a file, check every row, store the good ones and quarantine the rest."""
    explicit = parse_explicit(mapping or [])
    with Workspace(workspace) as ws, _counting(f"reading {file.name}") as progress:
        report = ws.ingest(file, kind, mapping=explicit, encoding=encoding, progress=progress)
    out_console.print(render.ingest_report(report))


@app.command()
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
    with Workspace(workspace) as ws, _spinner("computing features"):
        report = ws.features(parse_as_of(as_of), out=out)
    out_console.print(render.feature_summary(report))


MethodChoice = Literal["auto", "kmeans", "gmm", "hierarchical", "dbscan", "hdbscan", "kprototypes"]


@app.command()
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
    workspace: WorkspaceOption = Path("."),
) -> None:
    """Segment contacts: suppression, broad rule segments, clusters inside each, personas.

    The hierarchy is [segments] in audience.toml; clustering is [models] (--method and --k
    override it in every broad segment without its own). Every contact's segment (and
    probability, for mixtures) is stored under a new run id with the configuration, the
    candidates considered, the personas and the rules that explain them.
    """
    with Workspace(workspace) as ws, _steps() as progress:
        moment = parse_as_of(as_of)
        if flat:
            flat_report = ws.cluster(moment, method=method, k=parse_k(k), progress=progress)
        else:
            report = ws.segment(moment, method=method, k=parse_k(k), progress=progress)
    if flat:
        out_console.print(render.candidates(flat_report.selection))
        out_console.print(render.segment_sizes(flat_report))
        return
    _print_tree_report(report)


def _print_tree_report(report: TreeReport) -> None:
    for branch in report.branches.to_dict(orient="records"):
        chosen = report.selection
        if not chosen.empty and "branch" in chosen:
            table = chosen[chosen["branch"] == branch["branch"]]
            if not table.empty:
                out_console.print(f"[bold]{branch['branch']}[/]: {branch['note']}")
                out_console.print(render.candidates(table))
                continue
        out_console.print(f"[bold]{branch['branch']}[/]: {branch['note']}")
    title = (
        f"run {report.run_id}: {len(report.leaves)} segments "
        f"(surrogate rules fit {report.fidelity:.0%}; {report.seconds:.1f} s)"
    )
    out_console.print(render.segment_tree(report.segments, title))
    if report.unassigned:
        out_console.print(
            f"[yellow]{report.unassigned:,} contacts matched no broad rule[/] and have no "
            "segment (set [segments] fallback to keep them)."
        )


segments_app = typer.Typer(
    help="The segment tree of a run (default: the newest): list it, show, rename, or ask why.",
    no_args_is_help=False,
    invoke_without_command=True,
)
app.add_typer(segments_app, name="segments")
app.add_typer(keys_app, name="keys")
app.command()(serve)

RunOption = Annotated[
    str | None,
    typer.Option("--run", help="A run id (default: the newest segmentation).", show_default=False),
]


@segments_app.callback()
@friendly
def segments_list(
    context: typer.Context, run: RunOption = None, workspace: WorkspaceOption = Path(".")
) -> None:
    """The segment tree with names, sizes, stages and key traits."""
    if context.invoked_subcommand is not None:
        return
    with Workspace(workspace) as ws:
        run_id = ws.run_id(run)
        tree = ws.segments(run_id)
    out_console.print(render.segment_tree(tree, f"run {run_id}"))


@segments_app.command("show")
@friendly
def segments_show(
    segment_id: Annotated[str, typer.Argument(help="The segment's id (its path).")],
    run: RunOption = None,
    workspace: WorkspaceOption = Path("."),
) -> None:
    """One segment: persona, traits, messaging, suggested actions, rules and KPIs."""
    with Workspace(workspace) as ws:
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
    with Workspace(workspace) as ws:
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
    with Workspace(workspace) as ws:
        segment_id, reasons = ws.why(contact_id, run)
        name = ws.find_segment(segment_id, run)["name"]
    out_console.print(f"{contact_id} is in [bold]{segment_id}[/] ({name})")
    for reason in reasons:
        out_console.print(f"  • {reason}")


PlatformChoice = Literal["mailchimp", "klaviyo", "hubspot", "braze", "sendgrid", "brevo"]


@app.command()
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
    with Workspace(workspace) as ws:
        name = segment.replace("/", "__") + (f"-{platform}" if platform else "")
        target = out or ws.path / "exports" / f"{name}.{file_format}"
        result = ws.export(segment, target, platform=platform, run_id=run)
    out_console.print(f"[green]wrote[/] {result.rows:,} contacts to {result.path}")
    if result.suppressed_now:
        out_console.print(f"  left out {result.suppressed_now:,} suppressed contacts")
    if result.without_email:
        out_console.print(f"  left out {result.without_email:,} contacts without an email")


@app.command()
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
    with Workspace(workspace) as ws, _spinner("writing the report"):
        path = ws.report(run, out)
    out_console.print(f"[green]report[/]: {path}")


def parse_k(text: str | None) -> int | None:
    """``--k``: a whole number of segments >= 2, or ``auto`` (None)."""
    if text is None or text.strip().lower() == "auto":
        return None
    if not text.strip().isdigit() or int(text) < 2:
        raise ConfigError(f"--k {text!r} is not a number of segments (2 or more) or 'auto'.")
    return int(text)


@app.command()
@friendly
def profile(workspace: WorkspaceOption = Path(".")) -> None:
    """Show what the workspace holds: contacts, events by type, dates, quarantine."""
    with Workspace(workspace) as ws:
        out_console.print(render.data_profile(ws.profile()))


@app.command()
@friendly
def quarantine(
    reason: Annotated[str | None, typer.Option(help="Only rows rejected for this reason.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="How many rows to show.")] = 20,
    workspace: WorkspaceOption = Path("."),
) -> None:
    """List rejected rows with their file, line and reason."""
    with Workspace(workspace) as ws:
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
        table.add_row(Path(source).name, str(line), why, detail)
    out_console.print(table)


@app.command()
@friendly
def generate(
    out_dir: Annotated[
        Path, typer.Argument(help="Folder to write contacts.csv, events and truth.csv.")
    ],
    contacts: Annotated[int, typer.Option(min=1, help="Number of contacts.")] = 20_000,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same files.")] = 0,
    events_format: Annotated[
        Literal["parquet", "jsonl"], typer.Option("--format", help="Events file format.")
    ] = "parquet",
    dirty: Annotated[
        float, typer.Option(help="Share of extra bad rows to inject, e.g. 0.01.")
    ] = 0.0,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Last day of the data (YYYY-MM-DD: its end, UTC); default: now.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Write a synthetic store audience with planted personas (truth.csv)."""
    from audience.synth import generate as generate_audience

    with _bar("generating contacts", contacts) as advance:
        result = generate_audience(
            out_dir,
            contacts=contacts,
            seed=seed,
            as_of=_generation_as_of(as_of),
            events_format=events_format,
            dirty=dirty,
            progress=advance,
        )
    out_console.print(
        f"[green]wrote[/] {result.contact_rows:,} contact rows, {result.event_rows:,} event rows "
        f"({result.n_contacts:,} contacts, {result.n_events:,} clean events) to {out_dir}"
    )
    for path in (result.contacts_path, result.events_path, result.truth_path):
        out_console.print(f"  {path}")


@app.command()
@friendly
def demo(
    folder: Annotated[Path, typer.Argument(help="Folder for the demo workspace.")] = Path(
        "demo-workspace"
    ),
    contacts: Annotated[int, typer.Option(min=100, help="Number of contacts.")] = 20_000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
    dirty: Annotated[float, typer.Option(help="Share of bad rows injected.")] = 0.01,
) -> None:
    """Generate a synthetic audience into a fresh workspace and run the whole pipeline on it:
    ingest, features, the segment tree with personas, and the HTML report."""
    from audience.demo import DemoSteps

    now = datetime.now(UTC).replace(microsecond=0)
    steps = DemoSteps.start(folder, contacts=contacts, seed=seed, dirty=dirty, now=now)
    with _bar("generating audience", contacts) as advance:
        generated = steps.generate(advance)
    out_console.print(
        f"[green]generated[/] {generated.n_contacts:,} contacts and {generated.n_events:,} events"
    )
    for path in (generated.contacts_path, generated.events_path):
        with _counting(f"ingesting {path.name}") as progress:
            report = steps.ingest(path, progress)
        out_console.print(render.ingest_report(report))
    out_console.print(render.data_profile(steps.profile()))
    with _spinner("computing features"):
        features_report = steps.features()
    out_console.print(render.feature_summary(features_report))
    with _steps() as progress:
        segmentation = steps.segment(progress)
    _print_tree_report(segmentation)
    with _spinner("writing the report"):
        report_path = steps.report(segmentation.run_id)
    steps.close()
    out_console.print(f"workspace: {steps.workspace.path}")
    out_console.print(f"[green]report[/]: {report_path}")
    out_console.print(
        f"serve it: audience keys create --role admin -w {steps.workspace.path}, then "
        f"audience serve -w {steps.workspace.path}"
    )


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


def _generation_as_of(text: str | None) -> datetime:
    """The generator's ``as_of``: like ``--as-of`` elsewhere, but never a future day."""
    moment = parse_as_of(text)
    if moment is None:
        return datetime.now(UTC).replace(microsecond=0)
    if moment.date() > date.today():
        raise ConfigError(f"--as-of {text} is in the future; pick today or a past day.")
    return moment


@contextmanager
def _bar(label: str, total: int) -> Iterator[Callable[[int], None]]:
    columns = (
        SpinnerColumn(),
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task(label, total=total)
        yield lambda done: progress.advance(task, done)


@contextmanager
def _steps() -> Iterator[Callable[[str, int, int], None]]:
    """One progress line for multi-step work: the current step, a bar where it has a size."""
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task("starting", total=None)

        def update(step: str, done: int, total: int) -> None:
            progress.update(task, description=step, completed=done, total=total or None)

        yield update


@contextmanager
def _spinner(label: str) -> Iterator[None]:
    columns = (SpinnerColumn(), TextColumn(label), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True) as progress:
        progress.add_task(label, total=None)
        yield


@contextmanager
def _counting(label: str) -> Iterator[Callable[[int], None]]:
    columns = (
        SpinnerColumn(),
        TextColumn(label),
        TextColumn("{task.completed:,} rows"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task(label, total=None)
        yield lambda rows: progress.update(task, completed=rows)


if __name__ == "__main__":  # pragma: no cover
    app()
