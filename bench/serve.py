"""Benchmark: real-time assignment over HTTP, and in-process batch assignment.

1. ``http``: ``audience serve`` is started as a user starts it (its own process, loopback),
   with a read key made by ``audience keys create``. Concurrent keep-alive clients POST
   one contact's features each to ``/api/assign`` for a bounded time (``--seconds``),
   cycling through real feature rows of the workspace. Throughput, p50/p90/p99/max latency
   and non-200 answers are printed. The clients are asyncio streams in this process: a
   light generator, so the server keeps a core of its own.
2. ``batch``: ``Workspace.assigner().assign(rows)`` on ``--rows`` rows (the workspace's
   feature rows repeated), best of three, in contacts per second.

Goals (issue 6): >= 1,000 assignments/s with p99 <= 10 ms from one server process on this
2-core machine, and >= 1M contacts/s in-process. The ratios to the goals are printed.

    .venv/bin/python bench/serve.py [--workspace DIR] [--seconds 15] [--clients 8]

Without ``--workspace`` a 20k-contact audience is generated, ingested and segmented into
``--out`` first (about 20 s). A workspace without a segment-tree run (as
``bench/models.py`` leaves one) is segmented first. Otherwise it is only read (and one
key added).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
AUDIENCE = str(Path(sys.executable).with_name("audience"))
AS_OF = datetime(2026, 6, 30, 23, 59, 59, tzinfo=UTC)
GOAL_RATE = 1_000.0
GOAL_P99_MS = 10.0
GOAL_BATCH_RATE = 1_000_000.0


def build_workspace(out: Path, contacts: int) -> Path:
    from audience import Workspace
    from audience.synth import generate

    if out.exists():
        shutil.rmtree(out)
    generated = generate(out / "data", contacts=contacts, seed=11, as_of=AS_OF)
    with Workspace.init(out / "ws") as ws:
        ws.ingest(generated.contacts_path, now=AS_OF)
        ws.ingest(generated.events_path, now=AS_OF)
        ws.segment(AS_OF)
    return out / "ws"


def ensure_tree_run(workspace: Path) -> None:
    """Segment the workspace (at its newest features' as-of) if it has no tree run yet, as
    after ``bench/models.py``, which stores only a flat clustering."""
    from audience import Workspace
    from audience.errors import WorkspaceError

    with Workspace(workspace) as ws:
        try:
            ws.run_id()
        except WorkspaceError:
            as_of = ws.database.con.execute("SELECT max(as_of) FROM features").fetchall()[0][0]
            started = time.perf_counter()
            ws.segment(as_of)
            print(f"segmented {workspace} at {as_of} in {time.perf_counter() - started:.1f} s")


def feature_rows(workspace: Path) -> tuple[str, pd.DataFrame]:
    from audience import Workspace
    from audience.segments.branches import rule_rows_sql

    with Workspace(workspace) as ws:
        run = ws.run_id()
        where = " WHERE f.as_of = (SELECT as_of FROM runs WHERE run_id = ?) ORDER BY contact_id"
        rows = ws.database.con.execute(rule_rows_sql() + where, [run]).df()
    return run, rows


def payloads(rows: pd.DataFrame, n: int = 2_000) -> list[bytes]:
    """JSON bodies of ``n`` real contacts, as a client would send them."""
    picked = rows.sample(min(n, len(rows)), random_state=0).drop(columns=["contact_id", "as_of"])
    records = orjson.loads(picked.to_json(orient="records", date_format="iso"))
    return [orjson.dumps({"features": record}) for record in records]


def make_key(workspace: Path) -> str:
    done = subprocess.run(
        [AUDIENCE, "keys", "create", "--role", "read", "--name", "bench", "-w", str(workspace)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return done.stdout.strip().splitlines()[-1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(workspace: Path, port: int) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        [AUDIENCE, "serve", "--port", str(port), "-w", str(workspace)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            # Measured once warm: the model compiled and the run's profiles computed.
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as answer:
                if orjson.loads(answer.read())["warm"]:
                    return server
                time.sleep(0.2)
        except OSError:
            if server.poll() is not None:
                raise SystemExit(f"the server stopped: {server.stderr.read().decode()}") from None
            time.sleep(0.2)
    server.kill()
    raise SystemExit("the server was not warm within 120 s")


def request_bytes(port: int, key: str, body: bytes) -> bytes:
    head = (
        f"POST /api/assign HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-API-Key: {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def client(
    port: int, requests: list[bytes], offset: int, stop: float, latencies: list[float]
) -> int:
    """One keep-alive connection sending requests back to back; returns non-200 answers."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    failures, i = 0, offset
    try:
        while time.perf_counter() < stop:
            started = time.perf_counter()
            writer.write(requests[i % len(requests)])
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            failures += not head.startswith(b"HTTP/1.1 200")
            i += 1
    finally:
        writer.close()
    return failures


async def drive(port: int, requests: list[bytes], clients: int, seconds: float) -> dict[str, Any]:
    # A short warm-up loads the model and fills caches, then the measured window.
    await asyncio.gather(
        *(client(port, requests, c, time.perf_counter() + 1.0, []) for c in range(clients))
    )
    latencies: list[float] = []
    started = time.perf_counter()
    stop = started + seconds
    failures = await asyncio.gather(
        *(client(port, requests, c * 101, stop, latencies) for c in range(clients))
    )
    wall = time.perf_counter() - started
    ms = np.asarray(latencies) * 1000
    return {
        "requests": len(ms),
        "rate": len(ms) / wall,
        "p50": float(np.percentile(ms, 50)),
        "p90": float(np.percentile(ms, 90)),
        "p99": float(np.percentile(ms, 99)),
        "max": float(ms.max()),
        "failures": int(sum(failures)),
    }


def batch_rate(workspace: Path, rows: pd.DataFrame, n: int) -> dict[str, float]:
    from audience import Workspace

    with Workspace(workspace) as ws:
        assigner = ws.assigner()
    repeated = rows.iloc[np.arange(n) % len(rows)].reset_index(drop=True)
    seconds = []
    for _ in range(3):
        started = time.perf_counter()
        assigner.assign(repeated)
        seconds.append(time.perf_counter() - started)
    one = rows.iloc[[0]]
    singles = []
    for _ in range(500):
        started = time.perf_counter()
        assigner.assign(one)
        singles.append(time.perf_counter() - started)
    return {
        "rows": float(n),
        "seconds": min(seconds),
        "rate": n / min(seconds),
        "one_p50_ms": float(np.percentile(singles, 50) * 1000),
        "one_p99_ms": float(np.percentile(singles, 99) * 1000),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workspace", type=Path, help="a segmented workspace (else one is built)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "serve")
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()

    workspace = args.workspace or build_workspace(args.out, args.contacts)
    ensure_tree_run(workspace)
    run, rows = feature_rows(workspace)
    print(f"workspace {workspace}, run {run}, {len(rows):,} contacts; CPUs: {os.cpu_count()}")

    batch = batch_rate(workspace, rows, args.rows)
    print(
        f"in-process batch: {batch['rows']:,.0f} rows in {batch['seconds']:.3f} s = "
        f"{batch['rate']:,.0f} contacts/s ({batch['rate'] / GOAL_BATCH_RATE:.2f}x the goal "
        f"of 1M/s); one row: p50 {batch['one_p50_ms']:.2f} ms, p99 {batch['one_p99_ms']:.2f} ms"
    )

    key = make_key(workspace)
    port = free_port()
    server = start_server(workspace, port)
    try:
        requests = [request_bytes(port, key, body) for body in payloads(rows)]
        http = asyncio.run(drive(port, requests, args.clients, args.seconds))
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
    print(
        f"HTTP /api/assign, {args.clients} clients, {args.seconds:.0f} s: {http['requests']:,} "
        f"requests, {http['rate']:,.0f}/s ({http['rate'] / GOAL_RATE:.2f}x the goal of 1,000/s); "
        f"latency p50 {http['p50']:.2f} ms, p90 {http['p90']:.2f} ms, p99 {http['p99']:.2f} ms "
        f"({GOAL_P99_MS / http['p99']:.2f}x under the 10 ms goal), max {http['max']:.1f} ms; "
        f"non-200: {http['failures']}"
    )


if __name__ == "__main__":
    main()
