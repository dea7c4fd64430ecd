"""A real `audience serve` process for the tests that talk to it over sockets."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.serve.test_cli_serve import free_port

AUDIENCE = str(Path(sys.executable).with_name("audience"))


def start_serve(folder: Path) -> tuple[subprocess.Popen[bytes], int]:
    """`audience serve` on a free loopback port, once its /health answers (within 60 s)."""
    port = free_port()
    process = subprocess.Popen(
        [AUDIENCE, "serve", "--port", str(port), "-w", str(folder)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5):
                return process, port
        except OSError:
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "no answer within 60 s"
            time.sleep(0.2)
