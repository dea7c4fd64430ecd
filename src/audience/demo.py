"""The demo: the pipeline's steps, run on a synthetic audience in a fresh workspace.

Each step is a method so the CLI can show progress between them: generate, ingest,
features, the segment tree (suppression, rules, clusters, personas), the HTML report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from audience.errors import WorkspaceError
from audience.features.summary import FeatureReport
from audience.pipeline import StepProgress
from audience.segments.summary import TreeReport
from audience.store.profile import DataProfile
from audience.synth import GenerateResult, generate
from audience.validate import IngestReport
from audience.workspace import Workspace


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

    def generate(self, progress: Callable[[int], None] | None = None) -> GenerateResult:
        return generate(
            self.data_dir,
            contacts=self.contacts,
            seed=self.seed,
            as_of=self.now,
            dirty=self.dirty,
            progress=progress,
        )

    def ingest(self, path: Path, progress: Callable[[int], None] | None = None) -> IngestReport:
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
