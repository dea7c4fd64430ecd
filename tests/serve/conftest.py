"""A real segmented workspace, built once, copied for each test that serves it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from audience import Workspace
from audience.serve import create_app
from audience.store.keys import create_key
from audience.synth import generate
from tests.models.audiences import AS_OF

CONTACTS = 2_500


@pytest.fixture(scope="session")
def built_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Generated, ingested and segmented (the tree) at AS_OF; closed, to be copied."""
    folder = tmp_path_factory.mktemp("served")
    generated = generate(folder / "data", contacts=CONTACTS, seed=3, as_of=AS_OF)
    with Workspace.init(folder / "ws") as ws:
        ws.ingest(generated.contacts_path, now=AS_OF)
        ws.ingest(generated.events_path, now=AS_OF)
        ws.segment(AS_OF)
    return folder / "ws"


@dataclass
class Served:
    client: TestClient
    workspace: Workspace
    admin: str
    read: str

    def as_admin(self) -> dict[str, str]:
        return {"X-API-Key": self.admin}

    def as_reader(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.read}"}


def copy_workspace(built: Path, into: Path) -> Path:
    target = into / "ws"
    shutil.copytree(built, target)
    return target


@pytest.fixture
def served(built_workspace: Path, tmp_path: Path) -> Iterator[Served]:
    """A TestClient on a fresh copy of the built workspace, with an admin and a read key."""
    ws = Workspace(copy_workspace(built_workspace, tmp_path))
    now = datetime.now(UTC)
    _admin, admin = create_key(ws.database, "admin", "tests admin", now)
    _read, read = create_key(ws.database, "read", "tests reader", now)
    with TestClient(create_app(ws)) as client:
        yield Served(client, ws, admin, read)
