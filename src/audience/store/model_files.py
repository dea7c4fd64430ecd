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
"""

from __future__ import annotations

import hashlib
import hmac
import io
import os
import tempfile
from pathlib import Path

import joblib  # type: ignore[import-untyped]

from audience.errors import ModelMissingError, ModelSignatureError

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
        return self.folder / f"{run_id}{SUFFIX}"

    def exists(self, run_id: str) -> bool:
        return self.path(run_id).is_file()

    def run_ids(self) -> list[str]:
        """The runs that have a model file, in name order."""
        if not self.folder.is_dir():
            return []
        return sorted(p.name.removesuffix(SUFFIX) for p in self.folder.glob(f"*{SUFFIX}"))

    def save(self, run_id: str, value: object) -> Path:
        """Pickle ``value``, sign it and write it as the run's file (atomically: a temporary
        file in the folder, then a rename over the old one)."""
        buffer = io.BytesIO()
        joblib.dump(value, buffer)
        payload = buffer.getvalue()
        return self.write_bytes(run_id, MAGIC + _signature(self._key, payload) + b"\n" + payload)

    def write_bytes(self, run_id: str, content: bytes) -> Path:
        """Replace the run's file with ``content`` (already signed) in one rename."""
        target = self.path(run_id)
        self.folder.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=self.folder, prefix=f".{run_id}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(content)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
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
