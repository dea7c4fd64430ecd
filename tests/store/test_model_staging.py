"""One unit per run (issue 18.6): nested transactions join the outermost, a run's model file
is renamed into place only when its run commits, and what a killed run left is tidied."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from audience import Workspace
from audience.errors import WorkspaceError
from audience.store.database import Database
from audience.store.model_files import ModelFiles, model_path, stage_model, tidy_models

AT = datetime(2026, 6, 30, tzinfo=UTC)


@pytest.fixture
def db(tmp_path: Path) -> Database:
    return Database(tmp_path / "audience.duckdb")


def add_run(db: Database, run_id: str) -> None:
    db.con.execute("INSERT INTO runs VALUES (?, ?, ?, 'complete', '{}', NULL)", [run_id, AT, AT])


def run_ids(db: Database) -> list[str]:
    return [str(row[0]) for row in db.con.execute("SELECT run_id FROM runs").fetchall()]


def in_one_unit(db: Database, *steps: Callable[[], object]) -> None:
    """Run ``steps`` in order inside one transaction."""
    with db.transaction():
        for step in steps:
            step()


def inner_transaction(db: Database, run_id: str) -> None:
    with db.transaction():
        add_run(db, run_id)


def fail() -> None:
    raise KeyError("the step after it fails")


def test_an_inner_transaction_commits_only_with_the_outermost(db: Database) -> None:
    seen: list[list[str]] = []
    steps = (lambda: inner_transaction(db, "seg-inner"), lambda: seen.append(run_ids(db)), fail)
    with pytest.raises(KeyError):
        in_one_unit(db, *steps)
    assert seen == [["seg-inner"]]  # visible inside the unit
    assert run_ids(db) == []


def test_an_inner_failure_caught_by_the_caller_still_rolls_the_unit_back(db: Database) -> None:
    def swallowed() -> None:
        with contextlib.suppress(KeyError):  # a caller that goes on after a failed step
            in_one_unit(db, lambda: add_run(db, "seg-inner"), fail)

    with pytest.raises(RuntimeError, match="rolled back"):
        in_one_unit(db, lambda: add_run(db, "seg-before"), swallowed)
    assert run_ids(db) == []


def write_model(path: Path) -> None:
    path.write_bytes(b"model")


def test_a_staged_model_is_renamed_at_commit_and_removed_at_rollback(
    db: Database, tmp_path: Path
) -> None:
    models = tmp_path / "models"
    with db.transaction():
        staged = stage_model(db, models, "seg-kept", write_model)
        add_run(db, "seg-kept")
        assert staged.exists()
        assert not model_path(models, "seg-kept").exists()
    with pytest.raises(KeyError):
        in_one_unit(db, lambda: stage_model(db, models, "seg-lost", write_model), fail)
    assert sorted(p.name for p in models.iterdir()) == ["seg-kept.joblib"]
    assert model_path(models, "seg-kept").read_bytes() == b"model"


def test_a_model_that_cannot_be_written_is_a_workspace_error_and_stores_nothing(
    db: Database, tmp_path: Path
) -> None:
    models = tmp_path / "models"
    models.write_text("a file where the folder should be")
    steps = (lambda: add_run(db, "seg-x"), lambda: stage_model(db, models, "seg-x", write_model))
    with pytest.raises(WorkspaceError, match="cannot write the model of run seg-x"):
        in_one_unit(db, *steps)
    assert run_ids(db) == []


def test_tidying_finishes_a_committed_runs_rename_and_removes_every_orphan(
    db: Database, tmp_path: Path
) -> None:
    models = tmp_path / "models"
    models.mkdir()
    add_run(db, "seg-committed")
    add_run(db, "seg-published")
    (models / "seg-committed.joblib.tmp").write_bytes(b"committed")  # killed before rename
    (models / "seg-published.joblib").write_bytes(b"published")
    (models / "seg-rolled-back.joblib.tmp").write_bytes(b"never committed")
    (models / "seg-old-orphan.joblib").write_bytes(b"written before a run that died")
    (models / "notes.txt").write_text("not ours")
    tidied = tidy_models(db, models)
    assert tidied.published == ["seg-committed"]
    assert sorted(tidied.removed) == ["seg-old-orphan.joblib", "seg-rolled-back.joblib.tmp"]
    assert sorted(p.name for p in models.iterdir()) == [
        "notes.txt",
        "seg-committed.joblib",
        "seg-published.joblib",
    ]
    assert (models / "seg-committed.joblib").read_bytes() == b"committed"


def test_tidying_leaves_a_model_this_process_is_still_writing(db: Database, tmp_path: Path) -> None:
    models = tmp_path / "models"
    with db.transaction():
        staged = stage_model(db, models, "seg-writing", write_model)
        with Database(tmp_path / "other.duckdb") as other:  # another user of the folder
            assert tidy_models(other, models).removed == []
        assert staged.exists()
        add_run(db, "seg-writing")
    assert model_path(models, "seg-writing").exists()


def test_opening_a_workspace_even_to_read_tidies_its_models(tmp_path: Path) -> None:
    folder = tmp_path / "ws"
    Workspace.init(folder).close()
    models = folder / "models"
    models.mkdir()
    (models / "seg-gone.joblib.tmp").write_bytes(b"killed before commit")
    (models / "seg-gone.joblib").write_bytes(b"an older version's orphan")
    with Workspace(folder, access="read") as ws:
        ws.profile()
    assert list(models.iterdir()) == []


def test_tidying_removes_an_interrupted_rewrite_and_keeps_the_runs_file(
    db: Database, tmp_path: Path
) -> None:
    files = ModelFiles(tmp_path / "models", b"s" * 32)
    add_run(db, "seg-erased")
    files.write_bytes("seg-erased", b"the committed file")
    left = files.folder / ".seg-erased.k2j4h1.rewrite.tmp"  # an erase killed mid-write
    left.write_bytes(b"half a rewrite")
    assert tidy_models(db, files.folder).removed == [left.name]
    assert [p.name for p in files.folder.iterdir()] == ["seg-erased.joblib"]
    assert files.read_bytes("seg-erased") == b"the committed file"


def test_tidying_leaves_a_rewrite_this_process_is_still_writing(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = ModelFiles(tmp_path / "models", b"s" * 32)
    add_run(db, "seg-erased")
    seen: list[list[str]] = []

    def tidy_while_writing(fd: int) -> None:  # the moment the bytes are written, not renamed
        seen.append(tidy_models(db, files.folder).removed)

    monkeypatch.setattr("audience.store.model_files.os.fsync", tidy_while_writing)
    files.write_bytes("seg-erased", b"the new file")
    assert seen == [[]]
    assert [p.name for p in files.folder.iterdir()] == ["seg-erased.joblib"]
    assert files.read_bytes("seg-erased") == b"the new file"
