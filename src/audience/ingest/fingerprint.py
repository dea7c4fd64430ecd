"""A file's fingerprint: the SHA-256 of its bytes and its size.

Stored with every ingest, so that a file seen before (the same bytes, under any name) is
recognised without reading its rows again: ``audience refresh`` skips such files.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

_BLOCK = 1 << 20


@dataclass(frozen=True)
class Fingerprint:
    checksum: str
    """``sha256:<hex>`` of the file's bytes."""
    size: int
    """Its size in bytes."""


def fingerprint(path: Path) -> Fingerprint:
    """The file's fingerprint, read in 1 MiB blocks (memory stays flat for any size)."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while block := handle.read(_BLOCK):
            digest.update(block)
            size += len(block)
    return Fingerprint(f"sha256:{digest.hexdigest()}", size)
