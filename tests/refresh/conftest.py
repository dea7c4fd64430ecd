"""Fixtures for the stream: a real Redis server, and small segmented workspaces.

Redis is Debian's ``redis-server`` (``make system-deps`` installs it), started once per
session on a free loopback port with persistence off, and stopped at the end.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from audience import Workspace
from audience.synth import generate
from tests.models.audiences import AS_OF
from tests.serve.conftest import copy_workspace

CONTACTS = 1_200


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Redis server of this session's own: ``redis://127.0.0.1:<port>/0``."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed: run `make system-deps`.")
    port = _free_port()
    folder = tmp_path_factory.mktemp("redis")
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    command += ["--appendonly", "no", "--dir", str(folder)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        client = redis.Redis.from_url(url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.05)
        client.close()
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    made = redis.Redis.from_url(redis_url)
    yield made
    made.close()


@pytest.fixture
def stream_key() -> str:
    """A stream of this test's own (the server is shared by the session)."""
    return f"events-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A generated audience's contacts and events files."""
    data = generate(tmp_path_factory.mktemp("data"), contacts=CONTACTS, seed=5, as_of=AS_OF)
    return data.contacts_path, data.events_path


@pytest.fixture(scope="session")
def built_segmented(tmp_path_factory: pytest.TempPathFactory, generated: tuple[Path, Path]) -> Path:
    """Ingested and segmented (the tree) at AS_OF; closed, to be copied."""
    folder = tmp_path_factory.mktemp("segmented") / "ws"
    with Workspace.init(folder) as ws:
        for path in generated:
            ws.ingest(path, now=AS_OF)
        ws.segment(AS_OF)
    return folder


@pytest.fixture(scope="session")
def built_unsegmented(
    tmp_path_factory: pytest.TempPathFactory, generated: tuple[Path, Path]
) -> Path:
    """Only the contacts ingested: no features, no run."""
    folder = tmp_path_factory.mktemp("unsegmented") / "ws"
    with Workspace.init(folder) as ws:
        ws.ingest(generated[0], now=AS_OF)
    return folder


@pytest.fixture
def segmented(built_segmented: Path, tmp_path: Path) -> Iterator[Workspace]:
    with Workspace(copy_workspace(built_segmented, tmp_path)) as ws:
        yield ws


@pytest.fixture
def unsegmented(built_unsegmented: Path, tmp_path: Path) -> Iterator[Workspace]:
    with Workspace(copy_workspace(built_unsegmented, tmp_path)) as ws:
        yield ws
