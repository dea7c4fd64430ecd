"""The workspace secret used as the key of the pseudonymous email hash (HMAC-SHA256).

It lives in its own file beside the database, never inside it, so that a copy of the
database alone cannot be used to test guesses of email addresses against the hashes.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from audience.errors import WorkspaceError

SECRET_FILE = ".audience-secret"
_SECRET_BYTES = 32


def create_secret(folder: Path) -> Path:
    """Write a new random secret readable only by the owner (mode 0600); never overwrite."""
    path = folder / SECRET_FILE
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        raise WorkspaceError(
            f"{path} already exists; refusing to replace the workspace secret, because every "
            f"stored email hash depends on it."
        ) from None
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(secrets.token_hex(_SECRET_BYTES) + "\n")
    return path


def read_secret(folder: Path) -> bytes:
    """Read the workspace secret; refuse one that other users can read."""
    path = folder / SECRET_FILE
    if not path.exists():
        raise WorkspaceError(
            f"the workspace secret {path} is missing. It is created by 'audience init' and "
            f"keys every email hash; restore it from your backup (a new one would not match "
            f"the stored hashes)."
        )
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise WorkspaceError(
            f"the workspace secret {path} is readable by other users (mode {mode:o}); "
            f"run 'chmod 600 {path}' and retry."
        )
    text = path.read_text(encoding="ascii").strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise WorkspaceError(f"the workspace secret {path} is not a hex string.") from None
    if len(key) < 16:
        raise WorkspaceError(f"the workspace secret {path} is too short ({len(key)} bytes).")
    return key
