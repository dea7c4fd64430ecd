"""The report of a real run (generate → ingest → segment → report), opened in Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from audience import Workspace
from audience.config import CONFIG_FILE, DEFAULT_CONFIG_TOML
from audience.report import report_figures
from audience.report.from_run import run_report_data
from audience.synth import generate
from tests.models.audiences import AS_OF
from tests.report.browser import DRAWN, Loaded, needs_chromium, open_offline

pytestmark = [pytest.mark.slow, needs_chromium]

# Customers clustered hierarchically (so the dendrogram is drawn), prospects by default.
CONFIG = DEFAULT_CONFIG_TOML.replace(
    'name = "Customers"\n', 'name = "Customers"\nmethod = "hierarchical"\n'
)


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Loaded, Path]]:
    folder = tmp_path_factory.mktemp("pipeline-report")
    data = generate(folder / "data", contacts=3_000, seed=2, as_of=AS_OF)
    Workspace.init(folder / "ws").close()
    (folder / "ws" / CONFIG_FILE).write_text(CONFIG, encoding="utf-8")
    with Workspace(folder / "ws") as ws:
        ws.ingest(data.contacts_path, now=AS_OF)
        ws.ingest(data.events_path, now=AS_OF)
        run = ws.segment(AS_OF)
        path = ws.report(run.run_id)
        figures = list(report_figures(run_report_data(ws.database, ws.config, run.run_id)))
    with open_offline(path, figures) as seen:
        yield seen, path


def test_real_report_loads_offline_and_draws_every_chart(loaded: tuple[Loaded, Path]) -> None:
    seen, path = loaded
    assert seen.errors == []
    assert seen.blocked == []
    drawn = seen.page.evaluate(DRAWN)
    assert [chart["id"] for chart in drawn] == seen.figures
    assert {"fig-tree", "fig-lift", "fig-projection", "fig-elbow", "fig-silhouette",
            "fig-dendrogram", "fig-features"} <= set(seen.figures)  # fmt: skip
    assert all(chart["svg"] > 0 and chart["traces"] > 0 for chart in drawn), drawn
    assert path.name.startswith("seg-")


def test_real_report_shows_the_personas_and_rules(loaded: tuple[Loaded, Path]) -> None:
    seen, _path = loaded
    text = seen.page.inner_text("body")
    assert "Suppressed" in text
    assert "Customers" in text
    assert "Dormant" in text or "Engaged readers" in text  # prospects' personas
    assert "fidelity" in text.lower()
    assert "This is the first run: nothing to compare." in text
