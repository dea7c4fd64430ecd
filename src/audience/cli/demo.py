"""``audience generate`` and ``audience demo``: a synthetic audience, and the whole
pipeline run on one in a fresh workspace.

:class:`DemoSteps` is the demo as steps, so the command can show progress between them:
generate, ingest, features, the segment tree (suppression, rules, clusters, personas), the
HTML report.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from audience.cli import render
from audience.cli.common import (
    ShowEmptyOption,
    VerboseOption,
    friendly,
    out_console,
    parse_as_of,
)
from audience.cli.progress import count_bar, row_counter, spinner, step_bar
from audience.cli.segmenting import print_tree_report
from audience.errors import ConfigError, WorkspaceError
from audience.progress import RowProgress, StepProgress
from audience.segments.summary import TreeReport
from audience.store.profile import DataProfile
from audience.synth import GenerateResult
from audience.synth import generate as generate_audience
from audience.validate import IngestReport
from audience.workspace import Workspace

if TYPE_CHECKING:
    # Only named in annotations: importing it at run time would import Ibis (~0.3 s) in
    # every command, init and ingest too, which never compute features.
    from audience.features.summary import FeatureReport


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
    with count_bar("generating contacts", contacts) as advance:
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


@friendly
def demo(
    folder: Annotated[Path, typer.Argument(help="Folder for the demo workspace.")] = Path(
        "demo-workspace"
    ),
    contacts: Annotated[int, typer.Option(min=100, help="Number of contacts.")] = 20_000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
    dirty: Annotated[float, typer.Option(help="Share of bad rows injected.")] = 0.01,
    verbose: VerboseOption = False,
    show_empty: ShowEmptyOption = False,
) -> None:
    """Generate a synthetic audience into a fresh workspace and run the whole pipeline on it:
    ingest, features, the segment tree with personas, and the HTML report."""
    now = datetime.now(UTC).replace(microsecond=0)
    steps = DemoSteps.start(folder, contacts=contacts, seed=seed, dirty=dirty, now=now)
    with count_bar("generating audience", contacts) as advance:
        generated = steps.generate(advance)
    out_console.print(
        f"[green]generated[/] {generated.n_contacts:,} contacts and {generated.n_events:,} events"
    )
    for path in (generated.contacts_path, generated.events_path):
        with row_counter(f"ingesting {path.name}") as progress:
            report = steps.ingest(path, progress)
        out_console.print(render.ingest_report(report))
    out_console.print(render.data_profile(steps.profile()))
    with spinner("computing features"):
        features_report = steps.features()
    out_console.print(render.feature_summary(features_report))
    with step_bar() as progress:
        segmentation = steps.segment(progress)
    print_tree_report(segmentation, verbose=verbose, show_empty=show_empty)
    with spinner("writing the report"):
        report_path = steps.report(segmentation.run_id)
    steps.close()
    out_console.print(f"workspace: {steps.workspace.path}")
    out_console.print(f"[green]report[/]: {report_path}")
    out_console.print(
        f"serve it: audience keys create --role admin -w {steps.workspace.path}, then "
        f"audience serve -w {steps.workspace.path}"
    )


def _generation_as_of(text: str | None) -> datetime:
    """The generator's ``as_of``: like ``--as-of`` elsewhere, but never a future day."""
    moment = parse_as_of(text)
    if moment is None:
        return datetime.now(UTC).replace(microsecond=0)
    if moment.date() > date.today():
        raise ConfigError(f"--as-of {text} is in the future; pick today or a past day.")
    return moment


@dataclass
class DemoSteps:
    """A demo run: a new workspace at ``workspace.path``, data generated under ``data/``."""

    workspace: Workspace
    contacts: int
    seed: int
    dirty: float
    now: datetime

    @classmethod
    def start(
        cls, folder: Path, *, contacts: int, seed: int, dirty: float, now: datetime
    ) -> DemoSteps:
        """Create the workspace; refuse a folder that already holds anything."""
        if folder.exists() and any(folder.iterdir()):
            raise WorkspaceError(
                f"{folder} is not empty; the demo builds a fresh workspace. Pick a new folder "
                f"or remove this one."
            )
        return cls(Workspace.init(folder), contacts, seed, dirty, now)

    @property
    def data_dir(self) -> Path:
        return self.workspace.path / "data"

    def generate(self, progress: RowProgress | None = None) -> GenerateResult:
        return generate_audience(
            self.data_dir,
            contacts=self.contacts,
            seed=self.seed,
            as_of=self.now,
            dirty=self.dirty,
            progress=progress,
        )

    def ingest(self, path: Path, progress: RowProgress | None = None) -> IngestReport:
        return self.workspace.ingest(path, now=self.now, progress=progress)

    def profile(self) -> DataProfile:
        return self.workspace.profile()

    def features(self) -> FeatureReport:
        return self.workspace.features(self.now)

    def segment(self, progress: StepProgress | None = None) -> TreeReport:
        return self.workspace.segment(self.now, progress=progress)

    def report(self, run_id: str) -> Path:
        return self.workspace.report(run_id)

    def close(self) -> None:
        self.workspace.close()
