"""The segment tree from the CLI: `segment`, `segments [show|rename]`, `export`, `report`."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from typer.testing import CliRunner

from audience import Workspace
from audience.cli import app
from tests.conftest import flat, synthetic_workspace
from tests.models.audiences import AS_OF

runner = CliRunner()
DAY = f"{AS_OF:%Y-%m-%d}"


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env={"COLUMNS": "200"})
    return result.exit_code, flat(result.output)


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ws = synthetic_workspace(
        tmp_path_factory.mktemp("segments"), contacts=3_000, seed=5, as_of=AS_OF
    )
    code, output = run("segment", "--as-of", DAY, "--workspace", str(ws))
    assert code == 0, output
    assert "candidates" in output
    assert "suppressed" in output
    return ws


def leaves(ws: Path, *, empty: bool = False) -> list[str]:
    """The run's leaf segments with contacts (``empty``: those without)."""
    with Workspace(ws) as workspace:
        tree = workspace.segments()
    parents = set(tree["parent_id"].dropna())
    return [
        s
        for s, size in zip(tree["segment_id"], tree["size"], strict=True)
        if s not in parents and (size == 0) == empty
    ]


def test_segments_lists_the_tree_with_names_and_sizes(ws: Path) -> None:
    code, output = run("segments", "--workspace", str(ws))
    assert code == 0, output
    for segment in ("suppressed", "customers", "prospects", *leaves(ws)):
        assert segment in output
    assert "Customers" in output
    assert "%" in output  # sizes come with their shares


def test_segments_without_contacts_are_counted_not_listed(ws: Path) -> None:
    empty = leaves(ws, empty=True)
    assert empty, "the fixture's run has empty segments (other, a suppression reason)"
    code, output = run("segments", "--workspace", str(ws))
    assert code == 0, output
    assert not [segment for segment in empty if f" {segment} " in f" {output} "]
    assert f"{len(empty)} empty segments not shown (--show-empty)" in output
    code, output = run("segments", "--show-empty", "--workspace", str(ws))
    assert code == 0, output
    assert all(f" {segment} " in f" {output} " for segment in empty)
    assert "not shown" not in output


def test_segments_verbose_adds_stage_and_key_trait(ws: Path) -> None:
    code, output = run("segments", "--workspace", str(ws))
    assert "stage" not in output
    code, output = run("segments", "--verbose", "--workspace", str(ws))
    assert code == 0, output
    assert "stage key trait" in output
    assert "consideration" in output or "awareness" in output


def test_show_gives_persona_and_rules(ws: Path) -> None:
    cluster = next(s for s in leaves(ws) if s.startswith("customers/"))
    code, output = run("segments", "show", cluster, "--workspace", str(ws))
    assert code == 0, output
    assert "stage:" in output
    assert "messaging:" in output
    assert "contacts" in output
    assert "features (strongest first)" in output
    assert "order_count" in output


def test_unknown_segment_is_one_paragraph_with_a_suggestion(ws: Path) -> None:
    code, output = run("segments", "show", "custmers", "--workspace", str(ws))
    assert code == 1
    assert "'custmers' is not in this run" in output
    assert "Did you mean 'customers'?" in output
    assert "Traceback" not in output


def test_rename_shows_in_the_list(ws: Path) -> None:
    cluster = next(s for s in leaves(ws) if s.startswith("prospects/") or s == "prospects")
    code, output = run("segments", "rename", cluster, "Window shoppers we love", "-w", str(ws))
    assert code == 0, output
    code, output = run("segments", "--workspace", str(ws))
    assert "Window shoppers we love" in output


def test_export_for_a_platform_leaves_out_suppressed(ws: Path, tmp_path: Path) -> None:
    out = tmp_path / "customers.csv"
    code, output = run(
        "export", "--segment", "customers", "--platform", "hubspot", "--out", str(out),
        "--workspace", str(ws),
    )  # fmt: skip
    assert code == 0, output
    with out.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows
    assert list(rows[0]) == ["Email", "audience_segment"]
    with Workspace(ws) as workspace:
        suppressed = {
            email
            for (email,) in workspace.database.con.execute(
                "SELECT c.email FROM memberships m JOIN contacts c USING (contact_id) "
                "WHERE m.segment_id LIKE 'suppressed/%'"
            ).fetchall()
        }
    assert not {row["Email"] for row in rows} & suppressed
    assert f"wrote {len(rows):,} contacts" in output


def test_export_of_a_suppressed_segment_is_refused(ws: Path, tmp_path: Path) -> None:
    code, output = run(
        "export", "--segment", "suppressed/unsubscribed", "--out", str(tmp_path / "x.csv"),
        "--workspace", str(ws),
    )  # fmt: skip
    assert code == 1
    assert "cannot be exported" in output
    assert not (tmp_path / "x.csv").exists()


def test_report_writes_one_offline_html_file(ws: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    code, output = run("report", "--out", str(out), "--workspace", str(ws))
    assert code == 0, output
    html = out.read_text(encoding="utf-8")
    assert html.count("<script") >= 2  # Plotly embedded, then the figures
    assert 'src="http' not in html
    assert "fig-lift" in html


def test_report_without_any_run_says_what_to_do(tmp_path: Path) -> None:
    Workspace.init(tmp_path / "empty").close()
    code, output = run("report", "--workspace", str(tmp_path / "empty"))
    assert code == 1
    assert "audience segment" in output


def test_why_names_the_segment_and_the_features_that_put_a_contact_there(ws: Path) -> None:
    with Workspace(ws) as workspace:
        members = workspace.database.con.execute(
            "SELECT contact_id, segment_id FROM memberships m JOIN runs r USING (run_id) "
            "WHERE json_extract_string(r.config, '$.kind') = 'tree' ORDER BY contact_id"
        ).fetchall()
    clustered = next(c for c, s in members if s.startswith("customers/"))
    code, output = run("segments", "why", clustered, "--workspace", str(ws))
    assert code == 0, output
    assert f"{clustered} is in customers/" in output
    assert "average" in output or "never" in output  # reasons compare with the segment
    suppressed = next(c for c, s in members if s.startswith("suppressed/"))
    code, output = run("segments", "why", suppressed, "--workspace", str(ws))
    assert code == 0, output
    assert "suppression rule" in output
    code, output = run("segments", "why", "nobody", "--workspace", str(ws))
    assert code == 1
    assert "'nobody' has no segment" in output
