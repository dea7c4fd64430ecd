"""Every hostile file through the real ``audience ingest``: no traceback, every row
accounted for (rows read = accepted + quarantined + duplicates, with the exact reasons),
a refused file leaves the workspace as it was, and later commands still work."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from audience import Workspace
from audience.cli import app
from tests.conftest import flat, table_contents
from tests.ingest.hostile_corpus import CORPUS, Hostile

runner = CliRunner()


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env={"COLUMNS": "400"})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, flat(result.output)


def test_the_corpus_is_large_and_every_name_is_unique() -> None:
    assert len(CORPUS) >= 30
    assert len({case.name for case in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize("case", CORPUS, ids=lambda case: case.name)
def test_a_hostile_file_is_accounted_for_or_refused(case: Hostile, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    assert _run("init", str(ws))[0] == 0
    _seed(ws, tmp_path)
    before = _contents(ws)
    path = case.build(tmp_path)
    args = ["ingest", str(path), "--kind", case.kind, "--workspace", str(ws)]
    code, output = _run(*args, *(["--encoding", case.encoding] if case.encoding else []))
    assert "Traceback" not in output
    if case.refused:
        assert code == 1, output
        for words in case.refused:
            assert words in output, output
        assert _contents(ws) == before
    else:
        assert code == 0, output
        _assert_accounted(ws, case)
    for later in (["profile"], ["quarantine"], ["features"]):
        code, output = _run(*later, "--workspace", str(ws))
        assert code == 0, f"{later}: {output}"


def _assert_accounted(ws: Path, case: Hostile) -> None:
    with Workspace(ws) as workspace:
        row = workspace.database.con.execute(
            "SELECT rows_read, accepted, quarantined, duplicates, report FROM ingests "
            "ORDER BY started_at DESC LIMIT 1"
        ).fetchone()
    assert row is not None
    rows_read, accepted, quarantined, duplicates, report = row
    assert rows_read == accepted + quarantined + duplicates
    assert (rows_read, accepted) == (case.read, case.accepted)
    assert json.loads(report)["quarantine_reasons"] == case.reasons


def _seed(ws: Path, folder: Path) -> None:
    """A workspace with something in it, so "unchanged" is a claim about real rows."""
    seed = folder / "seed_contacts.csv"
    seed.write_text("email,country\nseed@example.com,US\n", encoding="utf-8")
    assert _run("ingest", str(seed), "--kind", "contacts", "--workspace", str(ws))[0] == 0


def _contents(ws: Path) -> dict[str, list[tuple[object, ...]]]:
    with Workspace(ws) as workspace:
        return table_contents(workspace)
