"""``audience segment --flat``: one clustering of every contact stored, the candidates shown,
clear errors. (The segment tree is tested in ``tests/test_segments_cli.py``.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from audience import Workspace
from audience.cli import app
from audience.synth import generate
from tests.conftest import flat
from tests.models.audiences import AS_OF

runner = CliRunner()
DAY = f"{AS_OF:%Y-%m-%d}"
CONTACTS = 3_000


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env={"COLUMNS": "200"})
    return result.exit_code, flat(result.output)


@pytest.fixture(scope="module")
def audience(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("segment")
    generated = generate(folder / "data", contacts=CONTACTS, seed=4, as_of=AS_OF)
    with Workspace.init(folder / "ws") as ws:
        ws.ingest(generated.contacts_path, now=AS_OF)
        ws.ingest(generated.events_path, now=AS_OF)
    return folder / "ws"


@pytest.fixture
def ws(audience: Path, tmp_path: Path) -> Path:
    """A private copy of the ingested workspace, so each test starts from the same state."""
    copy = tmp_path / "ws"
    copy.mkdir()
    for item in audience.iterdir():
        (copy / item.name).write_bytes(item.read_bytes())
    (copy / ".audience-secret").chmod(0o600)
    return copy


def cluster_runs(ws: Path) -> list[tuple[object, ...]]:
    with Workspace(ws) as workspace:
        con = workspace.database.con
        return con.execute(
            "SELECT r.run_id, count(m.contact_id), count(m.probability) FROM runs r "
            "LEFT JOIN memberships m USING (run_id) WHERE r.run_id LIKE 'seg-%' "
            "GROUP BY r.run_id ORDER BY r.run_id"
        ).fetchall()


def test_segment_stores_every_contact_and_the_selection_table(ws: Path) -> None:
    code, output = run("segment", "--flat", "--as-of", DAY, "--workspace", str(ws))
    assert code == 0, output
    assert "candidates" in output
    assert "chosen" in output
    assert "cluster-01" in output
    runs = cluster_runs(ws)
    assert len(runs) == 1
    run_id, members, probabilities = runs[0]
    assert members == CONTACTS
    with Workspace(ws) as workspace:
        con = workspace.database.con
        config, metrics = con.execute(
            "SELECT config, metrics FROM runs WHERE run_id = ?", [run_id]
        ).fetchall()[0]
        sizes = con.execute(
            "SELECT sum(size), count(*) FROM segments WHERE run_id = ?", [run_id]
        ).fetchall()[0]
    config, metrics = json.loads(config), json.loads(metrics)
    assert config["method"] == "auto"
    assert config["models"]["methods"] == ["kmeans", "gmm"]
    selection = metrics["selection"]
    assert len(selection) == 2 * 11  # kmeans and gmm, k = 2..12
    assert [row["status"] for row in selection].count("chosen") == 1
    assert sizes == (CONTACTS, metrics["n_segments"])
    assert f"run {run_id}" in output
    if metrics["method"] == "kmeans":
        assert probabilities == 0


def test_mixture_with_fixed_k_stores_probabilities(ws: Path) -> None:
    code, output = run(
        "segment", "--flat", "--method", "gmm", "--k", "3", "--as-of", DAY, "--workspace", str(ws)
    )
    assert code == 0, output
    [(run_id, members, probabilities)] = cluster_runs(ws)
    assert members == probabilities == CONTACTS
    with Workspace(ws) as workspace:
        row = workspace.database.con.execute(
            "SELECT count(DISTINCT segment_id), min(probability), max(probability) "
            "FROM memberships WHERE run_id = ?",
            [run_id],
        ).fetchall()[0]
    assert row[0] == 3
    assert 0 < row[1] <= row[2] <= 1


def test_two_runs_get_two_ids(ws: Path) -> None:
    for _ in range(2):
        code, output = run(
            "segment", "--flat", "--method", "kmeans", "--k", "4", "--as-of", DAY,
            "--workspace", str(ws),
        )  # fmt: skip
        assert code == 0, output
    runs = cluster_runs(ws)
    assert len(runs) == 2
    assert all(members == CONTACTS for _, members, _ in runs)


@pytest.mark.parametrize("k", ["1", "seven", "-3"])
def test_bad_k_is_a_clear_error(ws: Path, k: str) -> None:
    code, output = run("segment", "--flat", "--k", k, "--as-of", DAY, "--workspace", str(ws))
    assert code != 0
    assert "Traceback" not in output
    assert cluster_runs(ws) == []


def test_unknown_method_is_refused(ws: Path) -> None:
    code, output = run("segment", "--method", "spectral", "--workspace", str(ws))
    assert code == 2
    assert "spectral" in output
    assert cluster_runs(ws) == []


def test_guards_that_nothing_passes_store_nothing_and_explain(ws: Path) -> None:
    config = ws / "audience.toml"
    text = config.read_text().replace("min_stability = 0.75", "min_stability = 1.0")
    text = text.replace("k_min = 2", "k_min = 9")
    config.write_text(text)
    code, output = run(
        "segment", "--flat", "--method", "kmeans", "--as-of", DAY, "--workspace", str(ws)
    )
    assert code == 1
    assert "No segmentation passed the guards" in output
    assert "unstable" in output
    assert "Traceback" not in output
    assert cluster_runs(ws) == []


def test_bad_models_config_names_the_key(ws: Path) -> None:
    config = ws / "audience.toml"
    config.write_text(
        config.read_text().replace('methods = ["kmeans", "gmm"]', 'methods = ["kmeans", "som"]')
    )
    code, output = run("segment", "--workspace", str(ws))
    assert code == 1
    assert "models.methods" in output


@pytest.mark.slow
@pytest.mark.parametrize("method", ["hierarchical", "dbscan", "hdbscan", "kprototypes"])
def test_every_method_runs_end_to_end(ws: Path, method: str) -> None:
    code, output = run(
        "segment", "--flat", "--method", method, "--as-of", DAY, "--workspace", str(ws)
    )
    assert "Traceback" not in output
    if code == 1 and method in ("dbscan", "hdbscan"):
        # On 18 behaviour columns density methods find one blob or mostly noise; the
        # guards refuse that, and must say why.
        assert "No segmentation passed the guards" in output
        assert cluster_runs(ws) == []
        return
    assert code == 0, output
    [(run_id, members, _)] = cluster_runs(ws)
    assert members == CONTACTS
    with Workspace(ws) as workspace:
        metrics = workspace.database.con.execute(
            "SELECT metrics FROM runs WHERE run_id = ?", [run_id]
        ).fetchall()[0][0]
    assert json.loads(metrics)["method"] == method


def test_help_names_the_config_keys() -> None:
    code, output = run("segment", "--help")
    assert code == 0
    assert "models.methods" in output
    assert "models.k," in output
