"""What a newcomer sees at 80 columns (issue 13.6): `audience segment` and `audience demo` fit
the terminal, one line per candidate and two per segment (its name above its id), each
candidate once; `--verbose` brings back every score."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.cells import cell_len
from typer.testing import CliRunner

from audience import Workspace
from audience.cli import app
from tests.conftest import synthetic_workspace
from tests.models.audiences import AS_OF

runner = CliRunner()
DAY = f"{AS_OF:%Y-%m-%d}"


def run_at_80(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env={"COLUMNS": "80"})
    return result.exit_code, result.output


def tables(output: str, title: str) -> list[list[str]]:
    """The body lines of every table whose title line starts with ``title``."""
    lines = output.splitlines()
    found: list[list[str]] = []
    for start, line in enumerate(lines):
        if not line.startswith(title) or start + 1 >= len(lines):
            continue
        if not lines[start + 1].startswith("┏"):
            continue
        end = next(i for i in range(start, len(lines)) if lines[i].startswith("└"))
        body = start + next(i for i, text in enumerate(lines[start:end]) if text.startswith("┡"))
        found.append(lines[body + 1 : end])
    return found


def first_cell(line: str) -> str:
    return line.split("│")[1].strip()


@pytest.fixture(scope="module")
def segmented(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A workspace segmented by the CLI at 80 columns, and what the command printed."""
    ws = synthetic_workspace(tmp_path_factory.mktemp("width"), contacts=3_000, seed=5, as_of=AS_OF)
    code, output = run_at_80("segment", "--as-of", DAY, "--workspace", str(ws))
    assert code == 0, output
    return ws, output


def stored_run(ws: Path) -> tuple[list[dict[str, object]], list[int]]:
    """The newest tree run's candidates (every branch) and its segments' sizes."""
    with Workspace(ws) as workspace:
        [(metrics,)] = workspace.database.con.execute(
            "SELECT metrics FROM runs WHERE run_id LIKE 'seg-%' ORDER BY run_id DESC LIMIT 1"
        ).fetchall()
        sizes = [int(size) for size in workspace.segments()["size"]]
    branches = json.loads(metrics)["branches"]
    return [row for entry in branches.values() for row in entry.get("selection") or []], sizes


def test_segment_output_fits_80_columns(segmented: tuple[Path, str]) -> None:
    _, output = segmented
    too_wide = [line for line in output.splitlines() if cell_len(line) > 80]
    assert too_wide == []


def test_one_line_per_candidate_with_method_k_silhouette_and_verdict(
    segmented: tuple[Path, str],
) -> None:
    ws, output = segmented
    candidates, _ = stored_run(ws)
    shown = tables(output, "candidates")
    assert len(shown) >= 2  # customers and prospects are clustered
    assert sum(len(body) for body in shown) == len(candidates)
    assert all(first_cell(line) for body in shown for line in body)  # no continuation line
    assert "┃ method ┃ k ┃ silhouette ┃ verdict ┃" in " ".join(output.split())
    assert "stability" not in output


def test_each_candidate_appears_once_in_its_table(segmented: tuple[Path, str]) -> None:
    _, output = segmented
    for body in tables(output, "candidates"):
        method_and_k = [tuple(cell.strip() for cell in line.split("│")[1:3]) for line in body]
        assert len(method_and_k) == len(set(method_and_k))


def test_two_lines_per_segment_with_contacts_and_a_count_of_the_empty(
    segmented: tuple[Path, str],
) -> None:
    ws, output = segmented
    _, sizes = stored_run(ws)
    [tree] = tables(output, "run seg-")
    assert len(tree) == 2 * sum(size > 0 for size in sizes)
    empty = sum(size == 0 for size in sizes)
    assert empty > 0  # the fixture's run has an empty `other` or suppression reason
    assert f"{empty} empty segments not shown (--show-empty)" in output


@pytest.mark.slow
def test_verbose_brings_back_every_score_and_reason(segmented: tuple[Path, str]) -> None:
    ws, _ = segmented
    result = runner.invoke(
        app, ["segment", "--as-of", DAY, "--verbose", "-w", str(ws)], env={"COLUMNS": "250"}
    )
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "┃ method ┃ k ┃ smallest ┃ silhouette ┃ DB ┃ BIC ┃ stability ┃ elbow ┃" in text
    assert "┃ segment ┃ name ┃ contacts ┃ share ┃ stage ┃ key trait ┃" in text
    assert "< best" in text  # the reasons of the verdicts


@pytest.mark.slow
def test_demo_fits_80_columns(tmp_path: Path) -> None:
    code, output = run_at_80("demo", str(tmp_path / "demo"), "--contacts", "1000")
    assert code == 0, output
    assert [line for line in output.splitlines() if cell_len(line) > 80] == []
    candidates = tables(output, "candidates")
    assert candidates
    assert all(first_cell(line) for body in candidates for line in body)
    [tree] = tables(output, "run seg-")
    assert len(tree) % 2 == 0
