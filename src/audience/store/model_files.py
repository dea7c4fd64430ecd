"""A tree run's model file (``models/<run_id>.joblib``), kept only for a committed run.

A run's rows and its model file cannot be written in one atomic step, so the file goes
through a temporary name: :func:`stage_model` writes ``<run_id>.joblib.tmp`` inside the
run's transaction, which renames it to ``<run_id>.joblib`` after committing and removes it
when rolling back. A process killed in between leaves a temporary file; :func:`tidy_models`,
called whenever a workspace is opened, finishes what the kill interrupted: a temporary file
whose run is committed is renamed (the commit happened, only the rename is missing), any
other is removed, and so is a model file of no stored run (left by versions that wrote the
final name first). Files this process is still writing are left alone, so a reader in a
host never takes a writer's file for an orphan.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from audience.errors import WorkspaceError
from audience.store.database import Database

log = logging.getLogger(__name__)

SUFFIX = ".joblib"
TEMPORARY = ".joblib.tmp"

_in_flight: set[Path] = set()
_in_flight_lock = threading.Lock()


def model_path(models_dir: Path, run_id: str) -> Path:
    """Where a committed run's model is kept."""
    return models_dir / f"{run_id}{SUFFIX}"


def stage_model(
    db: Database, models_dir: Path, run_id: str, write: Callable[[Path], object]
) -> Path:
    """Write a run's model with ``write(path)`` under a temporary name, to be renamed to
    :func:`model_path` when ``db``'s open transaction commits and removed if it rolls back.
    A folder that cannot be written is a :class:`WorkspaceError` (the transaction then rolls
    back: nothing is stored). Returns the temporary path."""
    final = model_path(models_dir, run_id)
    temporary = models_dir / f"{run_id}{TEMPORARY}"
    db.on_outcome(commit=lambda: _publish(temporary, final), rollback=lambda: _discard(temporary))
    with _in_flight_lock:
        _in_flight.add(temporary.absolute())
    try:
        models_dir.mkdir(parents=True, exist_ok=True)
        write(temporary)
        _sync(temporary)
    except OSError as exc:
        raise WorkspaceError(
            f"cannot write the model of run {run_id} to {temporary}: {exc.strerror or exc}. "
            f"Nothing was stored; make {models_dir} a writable folder and run again."
        ) from None
    return temporary


def _sync(path: Path) -> None:
    """The file's bytes on disk before the run that owns it commits."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _publish(temporary: Path, final: Path) -> None:
    try:
        os.replace(temporary, final)
    finally:
        _release(temporary)


def _discard(temporary: Path) -> None:
    """Never raises: it runs while the error that rolled the run back is on its way up."""
    try:
        temporary.unlink(missing_ok=True)
    except OSError as exc:  # e.g. the folder is not one: then there is nothing to remove
        log.warning("could not remove %s: %s", temporary, exc)
    finally:
        _release(temporary)


def _release(temporary: Path) -> None:
    with _in_flight_lock:
        _in_flight.discard(temporary.absolute())


@dataclass
class Tidied:
    """What :func:`tidy_models` did."""

    published: list[str] = field(default_factory=list)
    """Runs whose model was still under its temporary name."""
    removed: list[str] = field(default_factory=list)
    """Files of no committed run."""


def tidy_models(db: Database, models_dir: Path) -> Tidied:
    """Finish or undo what a killed run left in ``models_dir`` (see the module docstring).
    A file that cannot be moved or removed is logged and left: nothing depends on it."""
    tidied = Tidied()
    if not models_dir.is_dir():
        return tidied
    # Listed before reading the runs: a model file is renamed into place only after its
    # run committed, so any final file listed here has its run visible below.
    names = [p.name for p in models_dir.iterdir() if p.name.endswith((SUFFIX, TEMPORARY))]
    if not names:
        return tidied
    runs = {str(row[0]) for row in db.con.execute("SELECT run_id FROM runs").fetchall()}
    for name in names:
        _tidy(models_dir / name, runs, tidied)
    return tidied


def _tidy(path: Path, runs: set[str], tidied: Tidied) -> None:
    temporary = path.name.endswith(TEMPORARY)
    run_id = path.name.removesuffix(TEMPORARY if temporary else SUFFIX)
    with _in_flight_lock:
        if path.absolute() in _in_flight:
            return
    try:
        if temporary and run_id in runs:
            os.replace(path, model_path(path.parent, run_id))
            tidied.published.append(run_id)
        elif run_id not in runs:
            path.unlink()
            tidied.removed.append(path.name)
    except FileNotFoundError:
        return  # a writer of this process finished it meanwhile
    except OSError as exc:
        log.warning("could not tidy %s: %s", path, exc)
