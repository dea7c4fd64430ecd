"""The drop folders (``[refresh] drop``): which files in them are new.

A file is new unless an earlier ingest had the same bytes (checksum, stored with every
ingest, under whatever name; :mod:`audience.store.known_files`, which ``audience ingest``
asks too). Sizes are compared first: a file whose size no ingest had is new without being
read; only a file of a known size is hashed. Files are taken contacts
first, then orders, then events (so a refresh that brings a new contact and its first order
scores the order against the contact), and by name within a kind.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from audience.errors import ConfigError
from audience.ingest import Kind
from audience.ingest.fingerprint import fingerprint
from audience.ingest.sources import detect_format, guess_kind
from audience.store.database import Database
from audience.store.known_files import earlier_ingest, known_sizes

_ORDER: dict[Kind, int] = {"contacts": 0, "orders": 1, "events": 2}
_IGNORED_PREFIXES = (".", "~", "_")
"""Hidden, temporary and partial files (``.part``, ``~$book.xlsx``, ``_tmp``) are not data."""


@dataclass(frozen=True)
class DropFile:
    path: Path
    kind: Kind


def drop_folders(workspace: Path, drop: list[str]) -> list[Path]:
    """The configured drop folders, resolved against the workspace; a missing one is made."""
    folders = []
    for name in drop:
        folder = (workspace / name).resolve()
        if folder.exists() and not folder.is_dir():
            raise ConfigError(f"refresh.drop names {folder}, which is a file, not a folder.")
        folder.mkdir(parents=True, exist_ok=True)
        folders.append(folder)
    return folders


def new_files(db: Database, folders: list[Path]) -> tuple[list[DropFile], list[Path]]:
    """The files not ingested before, in ingest order, and those already ingested."""
    sizes = known_sizes(db)
    candidates = sorted(
        path
        for folder in folders
        for path in folder.iterdir()
        if path.is_file() and not path.name.startswith(_IGNORED_PREFIXES)
    )
    fresh: list[DropFile] = []
    seen: list[Path] = []
    for path in candidates:
        if path.stat().st_size in sizes and earlier_ingest(db, fingerprint(path)) is not None:
            seen.append(path)
            continue
        fresh.append(DropFile(path, _kind(path)))
    fresh.sort(key=lambda found: (_ORDER[found.kind], found.path.name))
    return fresh, seen


def _kind(path: Path) -> Kind:
    kind = guess_kind(path, detect_format(path))
    if kind is None:
        raise ConfigError(
            f"cannot tell what {path} holds: name a drop file after its kind (contacts…, "
            "customers…, orders…, events…) or give it the .jsonl extension for Segment "
            "calls. Nothing was ingested from the drop folders."
        )
    return kind
