"""Helpers of the dashboard tests: signing in through the form, a real server in a thread."""

from __future__ import annotations

import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from audience import Workspace

SCRIPT_NAME = "<script>alert(1)</script>"
"""A segment name that would run if a page forgot to escape it."""
SCRIPT_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


def persona_segment(ws: Workspace) -> dict[str, Any]:
    """The largest segment with a persona (the default config clusters several): it has a
    lift chart, surrogate rules and more members than a page shows."""
    tree = ws.segments()
    named = tree[[bool(d.get("persona")) for d in tree["definition"]]]
    row = named.sort_values("size", ascending=False).iloc[0]
    return {str(key): value for key, value in row.items()}


def sign_in(client: TestClient, key: str, next_path: str = "/") -> Any:
    """Post the login form as a person would; the session cookie stays in ``client``.

    Returns the TestClient's response (an httpx or httpx2 one, by Starlette's version)."""
    return client.post("/login", data={"key": key, "next": next_path}, follow_redirects=False)


def signed_in(app: FastAPI, key: str) -> TestClient:
    """A client of its own (its own cookies) on ``app``, signed in with ``key``."""
    client = TestClient(app)
    response = sign_in(client, key)
    assert response.status_code == 303, response.text
    return client


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@contextmanager
def live_server(app: FastAPI, timeout: float = 20.0) -> Iterator[str]:
    """``app`` served by uvicorn on a free loopback port in a thread; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="dashboard-server", daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for_health(base, thread, timeout)
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout)


def _wait_for_health(base: str, thread: threading.Thread, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not thread.is_alive():
            raise RuntimeError("the dashboard server stopped while starting")
        try:
            with urllib.request.urlopen(f"{base}/health", timeout=1.0) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError):
            pass  # not listening yet
        time.sleep(0.05)
    raise TimeoutError(f"the dashboard server did not answer {base}/health in {timeout} s")
