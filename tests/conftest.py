"""Shared fixtures: a real workspace (DuckDB file and secret) in a temporary folder."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from audience import Workspace

# Real servers for the engine tests: a PostgreSQL started in a temporary folder, local Spark.
pytest_plugins = ["tests.engine_fixtures"]

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[Workspace]:
    ws = Workspace.init(tmp_path / "ws")
    yield ws
    ws.close()


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def table_contents(ws: Workspace) -> dict[str, list[tuple[object, ...]]]:
    """Every workspace table's rows, sorted: equal content whatever the file's bytes."""
    con = ws.database.con
    names = [
        row[0]
        for row in con.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'main' AND table_type = 'BASE TABLE' ORDER BY 1"
        ).fetchall()
    ]
    return {
        name: sorted(con.execute(f"SELECT * FROM {name}").fetchall(), key=repr) for name in names
    }


def flat(text: str) -> str:
    """Console output without box drawing and line wrapping, for phrase assertions."""
    return " ".join(re.sub(r"[│╭╮╰╯─┃━┏┓┗┛]", " ", text).split())


def synthetic_workspace(folder: Path, *, contacts: int, seed: int, as_of: datetime) -> Path:
    """A workspace at ``folder/ws`` holding a generated audience (files under ``folder/data``),
    ingested as of ``as_of``."""
    from audience.synth import generate

    generated = generate(folder / "data", contacts=contacts, seed=seed, as_of=as_of)
    with Workspace.init(folder / "ws") as workspace:
        workspace.ingest(generated.contacts_path, now=as_of)
        workspace.ingest(generated.events_path, now=as_of)
    return folder / "ws"
