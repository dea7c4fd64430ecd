"""`audience keys` and `audience serve` from the command line."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner

from audience import Workspace
from audience.cli import app
from audience.cli.service import check_bind
from audience.errors import ConfigError
from audience.store.keys import verify_key
from tests.conftest import flat
from tests.serve.conftest import copy_workspace

runner = CliRunner()
AUDIENCE = str(Path(sys.executable).with_name("audience"))


@pytest.fixture
def ws(built_workspace: Path, tmp_path: Path) -> Path:
    return copy_workspace(built_workspace, tmp_path)


def test_a_key_is_shown_once_and_stored_only_as_a_hash(ws: Path) -> None:
    made = runner.invoke(app, ["keys", "create", "--role", "admin", "--name", "ops", "-w", str(ws)])
    assert made.exit_code == 0, made.output
    key = made.stdout.strip().splitlines()[-1]
    assert key.startswith("aud_")
    with Workspace(ws) as workspace:
        found = verify_key(workspace.database, key)
        stored = workspace.database.con.execute("SELECT * FROM api_keys").fetchall()
    assert found is not None
    assert (found.role, found.name) == ("admin", "ops")
    assert key.split("_", 2)[2] not in repr(stored)
    listed = runner.invoke(app, ["keys", "list", "-w", str(ws)], env={"COLUMNS": "200"})
    assert found.key_id in listed.output
    assert "active" in listed.output
    revoked = runner.invoke(app, ["keys", "revoke", found.key_id, "-w", str(ws)])
    assert revoked.exit_code == 0
    with Workspace(ws) as workspace:
        assert verify_key(workspace.database, key) is None


def test_bad_key_commands_are_one_paragraph(ws: Path) -> None:
    wrong_role = runner.invoke(app, ["keys", "create", "--role", "owner", "-w", str(ws)])
    assert wrong_role.exit_code == 2
    unknown = runner.invoke(app, ["keys", "revoke", "nope", "-w", str(ws)])
    assert unknown.exit_code == 1
    assert "no API key 'nope'" in flat(unknown.output)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::", "example.com"])
def test_serve_refuses_a_reachable_address_without_allow_remote(ws: Path, host: str) -> None:
    result = runner.invoke(app, ["serve", "--host", host, "-w", str(ws)])
    assert result.exit_code == 1
    assert "--allow-remote" in flat(result.output)
    with pytest.raises(ConfigError):
        check_bind(host, allow_remote=False)
    check_bind(host, allow_remote=True)


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost", "127.0.0.2"])
def test_loopback_addresses_need_no_flag(host: str) -> None:
    check_bind(host, allow_remote=False)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.slow
def test_audience_serve_answers_with_a_key_and_stops_on_ctrl_c(ws: Path) -> None:
    made = runner.invoke(app, ["keys", "create", "--role", "read", "-w", str(ws)])
    key = made.stdout.strip().splitlines()[-1]
    port = free_port()
    server = subprocess.Popen(
        [AUDIENCE, "serve", "--port", str(port), "-w", str(ws)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=1) as response:
                    assert json.load(response)["status"] == "ok"
                break
            except OSError:
                assert server.poll() is None, "the server stopped"
                assert time.monotonic() < deadline, "no answer within 60 s"
                time.sleep(0.2)
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{base}/api/runs", timeout=5)
        assert refused.value.code == 401
        refused.value.close()
        request = urllib.request.Request(f"{base}/api/runs", headers={"X-API-Key": key})
        with urllib.request.urlopen(request, timeout=5) as response:
            assert any(run["kind"] == "tree" for run in json.load(response))
    finally:
        server.send_signal(signal.SIGINT)
        _out, errors = server.communicate(timeout=30)
    assert server.returncode == 0, errors
