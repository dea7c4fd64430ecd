"""What changed, end to end: a generated audience ingested and segmented, more events
ingested, segmented again; the changes stored with the second run and shown by
`audience changes`, the API, the report and the dashboard."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from audience import Workspace
from audience.cli import app
from audience.config import CATEGORICAL, CLUSTER_FEATURES
from audience.report import render_report, report_figures
from audience.report.from_run import run_report_data
from audience.serve import create_app
from audience.serve.schemas import RunChanges
from audience.store.keys import create_key
from audience.synth import generate
from tests.conftest import flat
from tests.models.audiences import AS_OF
from tests.report.browser import DRAWN, needs_chromium, open_offline
from tests.serve.dashboard_fixtures import SCRIPT_ESCAPED, SCRIPT_NAME, signed_in

pytestmark = pytest.mark.slow

FIRST_AS_OF = AS_OF - timedelta(days=60)
runner = CliRunner()


@dataclass(frozen=True)
class TwoRuns:
    path: Path
    first: str
    second: str
    alerts: tuple[tuple[str, str], ...]
    """(kind, subject) of the alerts the second run reported."""


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> TwoRuns:
    """2,000 contacts; the events up to FIRST_AS_OF, a run; the rest of them, a run."""
    folder = tmp_path_factory.mktemp("changes")
    data = generate(folder / "data", contacts=2_000, seed=5, as_of=AS_OF)
    events = pd.read_parquet(data.events_path)
    when = pd.to_datetime(events["timestamp"], utc=True, format="ISO8601")
    events[when <= FIRST_AS_OF].to_parquet(folder / "early.parquet")
    events[when > FIRST_AS_OF].to_parquet(folder / "late.parquet")
    with Workspace.init(folder / "ws") as ws:
        ws.ingest(data.contacts_path, now=AS_OF)
        ws.ingest(folder / "early.parquet", kind="events", now=AS_OF)
        first = ws.segment(FIRST_AS_OF).run_id
        ws.ingest(folder / "late.parquet", kind="events", now=AS_OF)
        report = ws.segment(AS_OF)
    alerts = tuple((alert.kind, alert.subject) for alert in report.alerts)
    return TwoRuns(folder / "ws", first, report.run_id, alerts)


def members(ws: Workspace, run_id: str) -> pd.Series:
    rows = ws.database.con.execute(
        "SELECT contact_id, segment_id FROM memberships WHERE run_id = ?", [run_id]
    ).fetchall()
    return pd.Series(dict(rows))


def test_a_run_raises_its_alerts_against_the_previous_one(two_runs: TwoRuns) -> None:
    """Issue 12: every tree run (not only a refresh's) evaluates and stores its alerts."""
    with Workspace(two_runs.path, access="read") as ws:
        stored = ws.database.con.execute(
            "SELECT kind, subject, run_id FROM alerts ORDER BY kind, subject"
        ).fetchall()
    assert two_runs.alerts  # 60 days of events move segments and features
    assert sorted(two_runs.alerts) == [(kind, subject) for kind, subject, _run in stored]
    assert {run for _kind, _subject, run in stored} == {two_runs.second}


def test_the_first_run_stores_no_changes(two_runs: TwoRuns) -> None:
    with Workspace(two_runs.path) as ws:
        assert ws.changes(two_runs.first) is None
        stored = ws.database.con.execute(
            "SELECT count(*) FROM transitions WHERE run_id = ?", [two_runs.first]
        ).fetchall()
    assert stored == [(0,)]


def test_the_second_run_stores_transitions_that_add_up(two_runs: TwoRuns) -> None:
    with Workspace(two_runs.path) as ws:
        changes = ws.changes(two_runs.second)
        before, after = members(ws, two_runs.first), members(ws, two_runs.second)
    assert changes is not None
    assert changes.previous_run_id == two_runs.first
    assert changes.transitions["contacts"].sum() == len(set(before.index) | set(after.index))
    new = changes.transitions[changes.transitions["from_segment"].isna()]["contacts"].sum()
    assert new == len(set(after.index) - set(before.index)) > 0  # signed up in between
    sizes = changes.sizes.set_index("segment_id")
    assert sizes["current"][sizes["current"] > 0].to_dict() == after.value_counts().to_dict()
    assert sizes["previous"][sizes["previous"] > 0].to_dict() == before.value_counts().to_dict()


def test_drift_covers_the_population_and_large_segments(two_runs: TwoRuns) -> None:
    with Workspace(two_runs.path) as ws:
        changes = ws.changes(two_runs.second)
    assert changes is not None
    drift = changes.drift
    population = drift[drift["scope"] == ""]
    assert set(population["feature"]) == set(CLUSTER_FEATURES) | set(CATEGORICAL)
    assert population["psi"].notna().all()
    segments = set(drift["scope"]) - {""}
    assert segments
    assert not any(s.startswith("suppressed") for s in segments)
    sizes = changes.sizes.set_index("segment_id")
    assert (sizes.loc[sorted(segments), ["previous", "current"]] >= 200).all().all()
    assert set(drift["status"]) <= {"ok", "watch", "alert"}


def cli(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_changes_command_prints_tables_within_80_columns(two_runs: TwoRuns) -> None:
    code, output = cli("changes", "--workspace", str(two_runs.path))
    assert code == 0, output
    assert f"run {two_runs.second} against the previous run {two_runs.first}" in output
    for title in ("segment sizes", "between segments", "tests ok"):
        assert title in output
    with Workspace(two_runs.path, access="read") as ws:
        kept = ws.database.con.execute(
            "SELECT count(*) FROM segment_lineage WHERE run_id = ? AND status = 'kept'",
            [two_runs.second],
        ).fetchall()[0][0]
    assert kept > 0
    assert f"{kept} segments kept their ids" in flat(output)
    assert max(len(line) for line in output.splitlines()) <= 80


def test_changes_command_on_the_first_run_has_nothing_to_compare(two_runs: TwoRuns) -> None:
    code, output = cli("changes", two_runs.first, "--workspace", str(two_runs.path))
    assert code == 0, output
    assert output.strip() == f"run {two_runs.first} is the first run: nothing to compare"


def test_changes_command_on_an_unknown_run_is_one_paragraph(two_runs: TwoRuns) -> None:
    code, output = cli("changes", "seg-nope", "--workspace", str(two_runs.path))
    assert code == 1
    assert "run 'seg-nope' does not exist" in " ".join(output.split())
    assert "Traceback" not in output


@pytest.fixture(scope="module")
def api(
    two_runs: TwoRuns, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TestClient, str, Workspace]]:
    """A server on a copy of the workspace, with a read key; a segment named <script>."""
    copy = tmp_path_factory.mktemp("served") / "ws"
    shutil.copytree(two_runs.path, copy)
    ws = Workspace(copy)
    _key, read = create_key(ws.database, "read", "changes tests", datetime.now(UTC))
    changes = ws.changes(two_runs.second)
    assert changes is not None
    kept = changes.sizes.query("previous > 0 and current > 0")["segment_id"].iloc[0]
    ws.rename_segment(str(kept), SCRIPT_NAME, two_runs.second)
    with TestClient(create_app(ws)) as client:
        yield client, read, ws
    ws.close()


def test_api_gives_a_run_changes(api: tuple[TestClient, str, Workspace], two_runs: TwoRuns) -> None:
    client, read, ws = api
    answer = client.get(f"/api/runs/{two_runs.second}/changes", headers={"X-API-Key": read})
    assert answer.status_code == 200, answer.text
    body = RunChanges.model_validate(answer.json())
    stored = ws.changes(two_runs.second)
    assert stored is not None
    assert body.previous_run_id == two_runs.first
    assert sum(t.contacts for t in body.transitions) == stored.transitions["contacts"].sum()
    assert any(t.from_segment is None for t in body.transitions)
    assert [s.segment_id for s in body.sizes] == stored.sizes["segment_id"].tolist()
    assert all(d.ks is None for d in body.drift if d.feature in CATEGORICAL)
    assert body.drift[0].scope == ""


def test_api_on_a_first_run_and_on_an_unknown_one(
    api: tuple[TestClient, str, Workspace], two_runs: TwoRuns
) -> None:
    client, read, _ws = api
    first = client.get(f"/api/runs/{two_runs.first}/changes", headers={"X-API-Key": read})
    assert first.status_code == 200
    assert first.json() == {
        "run_id": two_runs.first,
        "previous_run_id": None,
        "transitions": [],
        "sizes": [],
        "drift": [],
    }
    unknown = client.get("/api/runs/seg-nope/changes", headers={"X-API-Key": read})
    assert unknown.status_code == 404
    assert "seg-nope" in unknown.json()["detail"]
    assert client.get(f"/api/runs/{two_runs.first}/changes").status_code == 401


def test_dashboard_overview_draws_what_changed(api: tuple[TestClient, str, Workspace]) -> None:
    client, read, _ws = api
    page = signed_in(client.app, read).get("/").text  # type: ignore[arg-type]
    assert "What changed" in page
    assert 'id="fig-changes"' in page
    assert SCRIPT_NAME not in page
    assert SCRIPT_ESCAPED in page


def test_report_has_what_changed_with_names_escaped(
    api: tuple[TestClient, str, Workspace], two_runs: TwoRuns
) -> None:
    _client, _read, ws = api
    data = run_report_data(ws.database, ws.config, two_runs.second)
    assert data.previous_run_id == two_runs.first
    figures = report_figures(data)
    assert "fig-changes" in figures
    html = render_report(data)
    assert "What changed" in html
    assert SCRIPT_NAME not in html
    labels = list(figures["fig-changes"].data[0].node.label)
    assert SCRIPT_ESCAPED in labels


@needs_chromium
def test_report_sankey_is_drawn_in_a_browser(
    api: tuple[TestClient, str, Workspace], two_runs: TwoRuns, tmp_path: Path
) -> None:
    _client, _read, ws = api
    path = ws.report(two_runs.second, tmp_path / "report.html")
    figures = list(report_figures(run_report_data(ws.database, ws.config, two_runs.second)))
    with open_offline(path, figures) as seen:
        drawn = {chart["id"]: chart for chart in seen.page.evaluate(DRAWN)}
        names = seen.page.locator("#fig-changes .node-label", has_text=SCRIPT_NAME).count()
    assert seen.errors == []
    assert seen.dialogs == []
    assert drawn["fig-changes"]["svg"] > 0
    assert names == 2  # the renamed segment, in both runs
