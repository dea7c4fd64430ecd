"""The workspace's model files (``models/<run_id>.joblib``), signed with the workspace secret.

A model file is a pickle (joblib), and unpickling runs whatever code the file names: a file
someone else could write must never be loaded. Each file therefore starts with one line,
``AUDIENCE-MODEL-HMAC-SHA256 <hex>``, the HMAC-SHA256 of the joblib bytes that follow, keyed
by a key derived from the workspace secret (which lives outside the database, mode 0600).
:meth:`ModelFiles.load` reads the bytes, checks the signature, and only then hands them to
joblib; a file without the line (written before files were signed) or with a signature that
does not match is refused with :class:`~audience.errors.ModelSignatureError`.

The signature sits in the file rather than beside it so a file is written with one rename:
a crash never leaves a model and a signature from two different writes.

**Kept only for a committed run.** A run's rows and its model file cannot be written in one
atomic step, so the file goes through a temporary name: :func:`stage_model` writes
``<run_id>.joblib.tmp`` inside the run's transaction, which renames it to
``<run_id>.joblib`` after committing and removes it when rolling back. A process killed in
between leaves a temporary file; :func:`tidy_models`, called whenever a workspace is opened,
finishes what the kill interrupted: a temporary file whose run is committed is renamed (the
commit happened, only the rename is missing), any other is removed, and so is a model file
of no stored run (left by versions that wrote the final name first), and so is an
interrupted rewrite of a committed run's file (:meth:`ModelFiles.write_bytes`, which an
erasure uses). Files this process is
still writing are left alone, so a reader in a host never takes a writer's file for an
orphan.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import logging
import os
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import joblib  # type: ignore[import-untyped]

from audience.errors import ModelMissingError, ModelSignatureError, WorkspaceError
from audience.store.database import Database

log = logging.getLogger(__name__)

MAGIC = b"AUDIENCE-MODEL-HMAC-SHA256 "
_DIGEST_HEX = 64
_HEADER = len(MAGIC) + _DIGEST_HEX + 1  # the magic, the hex digest, a newline
_PURPOSE = b"audience model files v1"
"""Model files are signed with a key derived from the secret, not the secret itself: the
secret also keys the email hashes, and one key should serve one purpose."""

SUFFIX = ".joblib"


def model_key(secret: bytes) -> bytes:
    """The key that signs model files, derived from the workspace secret."""
    return hmac.new(secret, _PURPOSE, hashlib.sha256).digest()


def _signature(key: bytes, payload: bytes) -> bytes:
    return hmac.new(key, payload, hashlib.sha256).hexdigest().encode("ascii")


class ModelFiles:
    """A workspace's ``models`` folder: one signed joblib file per tree run."""

    def __init__(self, folder: Path, secret: bytes) -> None:
        self.folder = folder
        self._key = model_key(secret)

    def path(self, run_id: str) -> Path:
        return model_path(self.folder, run_id)

    def exists(self, run_id: str) -> bool:
        return self.path(run_id).is_file()

    def run_ids(self) -> list[str]:
        """The runs that have a model file, in name order."""
        if not self.folder.is_dir():
            return []
        return sorted(p.name.removesuffix(SUFFIX) for p in self.folder.glob(f"*{SUFFIX}"))

    def signed(self, value: object) -> bytes:
        """``value`` pickled, behind the header that signs it."""
        buffer = io.BytesIO()
        joblib.dump(value, buffer)
        payload = buffer.getvalue()
        return MAGIC + _signature(self._key, payload) + b"\n" + payload

    def save(self, run_id: str, value: object) -> Path:
        """Pickle ``value``, sign it and write it as the run's file (atomically: a temporary
        file in the folder, then a rename over the old one)."""
        return self.write_bytes(run_id, self.signed(value))

    def stage(self, db: Database, run_id: str, value: object) -> Path:
        """Write ``value``, signed, as the model of a run being stored in ``db``'s open
        transaction: kept when it commits, removed if it rolls back (:func:`stage_model`)."""
        content = self.signed(value)
        return stage_model(db, self.folder, run_id, lambda path: path.write_bytes(content))

    def tidy(self, db: Database) -> Tidied:
        """Finish or undo what a killed run left in the folder (:func:`tidy_models`)."""
        return tidy_models(db, self.folder)

    def write_bytes(self, run_id: str, content: bytes) -> Path:
        """Replace the run's file with ``content`` (already signed) in one rename."""
        target = self.path(run_id)
        self.folder.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=self.folder, prefix=f".{run_id}.", suffix=REWRITING)
        temporary = Path(name)
        with _in_flight_lock:  # so that a tidy meanwhile leaves it alone
            _in_flight.add(temporary.absolute())
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(content)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, target)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        finally:
            _release(temporary)
        return target

    def read_bytes(self, run_id: str) -> bytes:
        """The run's whole file as stored (header and payload), unchecked."""
        return self.path(run_id).read_bytes()

    def load(self, run_id: str) -> object:
        """The run's unpickled model, once its signature has been checked."""
        path = self.path(run_id)
        if not path.is_file():
            raise ModelMissingError(
                f"{path} does not exist: the run was made before runs kept their models, or "
                "the file was removed. Run `audience segment` again."
            )
        payload = self._verified(path, path.read_bytes())
        return joblib.load(io.BytesIO(payload))

    def _verified(self, path: Path, content: bytes) -> bytes:
        """The joblib bytes of ``content``; an error, before anything is unpickled, unless
        the header holds this workspace's signature of exactly those bytes."""
        header, payload = content[:_HEADER], content[_HEADER:]
        if not header.startswith(MAGIC) or not header.endswith(b"\n"):
            raise ModelSignatureError(
                f"{path} is not signed: it was written before Audience signed its model "
                "files, or by something else. It was not loaded, since loading a model file "
                "runs code from it. Run `audience segment` to make a new run with a signed "
                "model (or delete the file if you do not need that run's models)."
            )
        expected = _signature(self._key, payload)
        if not hmac.compare_digest(header[len(MAGIC) : -1], expected):
            raise ModelSignatureError(
                f"{path} does not carry this workspace's signature: it was changed after "
                "Audience wrote it, or copied from another workspace. It was not loaded, "
                "since loading a model file runs code from it. Run `audience segment` to "
                "make a new run with a signed model (or restore the file from a backup of "
                "this workspace)."
            )
        return payload


TEMPORARY = ".joblib.tmp"
REWRITING = ".rewrite.tmp"
"""The end of the name :meth:`ModelFiles.write_bytes` writes a new version of a committed
run's file under (``.<run_id>.<random>.rewrite.tmp``): one left by a kill is removed by
:func:`tidy_models`, and the run keeps the file it had."""

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
    names = [
        p.name for p in models_dir.iterdir() if p.name.endswith((SUFFIX, TEMPORARY, REWRITING))
    ]
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
        if path.name.endswith(REWRITING):  # an interrupted rewrite: the run's file is intact
            path.unlink()
            tidied.removed.append(path.name)
        elif temporary and run_id in runs:
            os.replace(path, model_path(path.parent, run_id))
            tidied.published.append(run_id)
        elif run_id not in runs:
            path.unlink()
            tidied.removed.append(path.name)
    except FileNotFoundError:
        return  # a writer of this process finished it meanwhile
    except OSError as exc:
        log.warning("could not tidy %s: %s", path, exc)
