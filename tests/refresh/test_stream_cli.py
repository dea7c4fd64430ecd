"""`audience stream` from the command line: real processes, a real Redis, kill -9."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis
from typer.testing import CliRunner

from audience import Workspace
from audience.cli import app
from audience.cli.stream import status_text
from audience.refresh.stream import StreamReport
from tests.refresh.calls import count, future, rows, track, xadd
from tests.serve.conftest import copy_workspace

AUDIENCE = str(Path(sys.executable).with_name("audience"))
runner = CliRunner()


@pytest.fixture
def ws(built_segmented: Path, tmp_path: Path) -> Path:
    return copy_workspace(built_segmented, tmp_path)


def small_batches(ws: Path, size: int) -> None:
    config = ws / "audience.toml"
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("batch_size = 1000", f"batch_size = {size}"), encoding="utf-8")


def options(redis_url: str, key: str, ws: Path) -> list[str]:
    return ["--source", redis_url, "--stream", key, "--consumer", "c1", "-w", str(ws)]


def test_json_gives_one_line_per_batch_and_a_summary(
    ws: Path, redis_url: str, client: redis.Redis, stream_key: str
) -> None:
    small_batches(ws, 2)
    for n in range(3):
        xadd(client, stream_key, track("C0000001", "Product Viewed", message_id=f"m-{n}"))

    result = runner.invoke(
        app, ["stream", *options(redis_url, stream_key, ws), "--until-idle", "--json"]
    )

    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(line.get("batch"), line.get("messages")) for line in lines[:2]] == [(1, 2), (2, 1)]
    assert lines[2]["summary"] is True
    assert (lines[2]["batches"], lines[2]["accepted"], lines[2]["reassigned"]) == (2, 3, 2)


def test_a_source_it_cannot_read_is_one_paragraph(ws: Path) -> None:
    result = runner.invoke(app, ["stream", "--source", "amqp://localhost", "-w", str(ws)])

    assert result.exit_code == 1
    assert "is not a stream this Audience reads" in result.stderr
    assert "Traceback" not in result.output


def test_sigterm_stops_after_the_current_batch(
    ws: Path, redis_url: str, client: redis.Redis, stream_key: str
) -> None:
    small_batches(ws, 5)
    for n in range(50):
        xadd(client, stream_key, track("C0000002", "Product Viewed", message_id=f"m-{n}"))
    process = subprocess.Popen(
        [AUDIENCE, "stream", *options(redis_url, stream_key, ws), "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    first = json.loads(process.stdout.readline())
    process.send_signal(signal.SIGTERM)
    out, errors = process.communicate(timeout=60)

    assert process.returncode == 0, errors
    lines = [first, *(json.loads(line) for line in out.splitlines())]
    summary = lines[-1]
    assert summary["summary"] is True
    assert summary["batches"] == len(lines) - 1
    assert client.xpending(stream_key, "audience")["pending"] == 0


def mixed_calls(
    contacts: list[str], n: int, seed: int
) -> tuple[list[dict[str, Any] | bytes], int, int]:
    """``n`` calls: valid ones (some repeating an earlier messageId exactly, some without
    one), and bad ones; with how many distinct events and bad calls they hold."""
    rng = random.Random(seed)
    calls: list[dict[str, Any] | bytes] = []
    valid: list[dict[str, Any]] = []
    distinct = bad = 0
    for i in range(n):
        roll = rng.random()
        contact = rng.choice(contacts)
        if roll < 0.04:
            calls.append(future(contact, f"bad-{i}"))
            bad += 1
        elif roll < 0.06:
            calls.append(b"{not json " + str(i).encode())
            bad += 1
        elif roll < 0.10 and valid:
            calls.append(rng.choice(valid))  # the same call again: a duplicate
        else:
            event = rng.choice(
                ["Product Viewed", "Email Opened", "Order Completed", "Unsubscribed"]
            )
            props = {"revenue": round(rng.uniform(5, 200), 2)} if event == "Order Completed" else {}
            call = track(contact, event, message_id=None if roll > 0.9 else f"m-{i}", **props)
            calls.append(call)
            distinct += 1
            if "messageId" in call:
                valid.append(call)
    return calls, distinct, bad


@pytest.mark.slow
def test_kill_9_while_consuming_loses_nothing_and_doubles_nothing(
    ws: Path, redis_url: str, client: redis.Redis, stream_key: str
) -> None:
    small_batches(ws, 250)
    with Workspace(ws) as opened:
        contacts = [c for (c,) in rows(opened, "SELECT contact_id FROM contacts ORDER BY 1")]
        events_before = count(opened, "SELECT count(*) FROM events")
    calls, distinct, bad = mixed_calls(contacts, 5_000, seed=11)
    pipe = client.pipeline()
    for call in calls:
        pipe.xadd(stream_key, {"data": call if isinstance(call, bytes) else orjson.dumps(call)})
    pipe.execute()

    # Killed three times at different moments: while reading, ingesting, re-assigning...
    pause = random.Random(3)
    for _ in range(3):
        kill_after_batches(options(redis_url, stream_key, ws), 2, pause.uniform(0.0, 0.5))

    again = subprocess.run(
        [AUDIENCE, "stream", *options(redis_url, stream_key, ws), "--json", "--until-idle"],
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert again.returncode == 0, again.stderr
    with Workspace(ws) as opened:
        assert count(opened, "SELECT count(*) FROM events") == events_before + distinct
        assert count(opened, "SELECT count(*) FROM quarantine WHERE source LIKE 'redis:%'") == bad
        assert count(opened, "SELECT count(DISTINCT entry_id) FROM stream_entries") == 5_000
        assert count(opened, "SELECT count(*) FROM stream_entries") == 5_000
        assert broken_chains(opened) == []
    assert client.xpending(stream_key, "audience")["pending"] == 0


def kill_after_batches(arguments: list[str], batches: int, delay: float) -> None:
    """Run ``audience stream`` until it has committed ``batches`` batches, then SIGKILL it
    ``delay`` seconds later."""
    with subprocess.Popen(
        [AUDIENCE, "stream", *arguments, "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as process:
        assert process.stdout is not None
        for _ in range(batches):
            assert json.loads(process.stdout.readline())["messages"] == 250
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)


def broken_chains(ws: Workspace) -> list[tuple[Any, ...]]:
    """Changes whose ``from_segment`` is not the contact's previous ``to_segment`` (a change
    written twice would be one), or that change nothing."""
    return rows(
        ws,
        "SELECT * FROM (SELECT contact_id, from_segment, to_segment, lag(to_segment) OVER "
        "(PARTITION BY contact_id ORDER BY changed_at, rowid) AS previous, row_number() OVER "
        "(PARTITION BY contact_id ORDER BY changed_at, rowid) AS n FROM membership_changes) "
        "WHERE from_segment IS NOT DISTINCT FROM to_segment "
        "OR (n > 1 AND from_segment IS DISTINCT FROM previous)",
    )


def test_the_status_line_counts_and_fits_the_terminal() -> None:
    totals = StreamReport(
        batches=12, messages=12_000, accepted=11_500, quarantined=400, duplicates=100
    )
    totals.reassigned = 3_210

    wide = status_text(totals, width=80)
    narrow = status_text(totals, width=60)

    assert wide == "12 batches, 12,000 msgs, 11,500 ok, 400 quarantined, 100 dup, 3,210 re-assigned"
    assert narrow == "12 batches, 11,500 ok, 400 quarantined, 3,210 re-assigned"


def test_without_json_it_ends_with_the_totals(
    ws: Path, redis_url: str, client: redis.Redis, stream_key: str
) -> None:
    xadd(client, stream_key, track("C0000001", "Product Viewed", message_id="m-1"))

    result = runner.invoke(app, ["stream", *options(redis_url, stream_key, ws), "--until-idle"])

    assert result.exit_code == 0, result.output
    assert "1 batches, 1 msgs, 1 ok, 0 quarantined, 0 dup, 1 re-assigned" in result.stdout
    assert "segment changes recorded (run seg-" in result.stdout


@pytest.mark.slow
def test_other_commands_run_inside_a_running_stream(
    ws: Path, redis_url: str, client: redis.Redis, stream_key: str
) -> None:
    """Issue 12: a stream runs for days; it hosts the workspace, so readers and writers
    (a new segmentation) go on meanwhile, and later batches use the new run's model."""
    process = subprocess.Popen(
        [AUDIENCE, "stream", *options(redis_url, stream_key, ws), "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not (ws / ".audience-host.json").exists():
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the stream never hosted the workspace"
            time.sleep(0.1)
        shown = subprocess.run(
            [AUDIENCE, "segments", "-w", str(ws)], capture_output=True, text=True, timeout=120
        )
        assert shown.returncode == 0, shown.stderr
        made = subprocess.run(
            [AUDIENCE, "segment", "-w", str(ws)], capture_output=True, text=True, timeout=300
        )
        assert made.returncode == 0, made.stderr
        xadd(client, stream_key, track("C0000003", "Order Completed", revenue=80.0))
        assert process.stdout is not None
        batch = json.loads(process.stdout.readline())
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=60)
    assert process.returncode == 0
    with Workspace(ws, access="read") as workspace:
        newest = workspace.run_id()
    assert newest in made.stdout
    assert batch["run_id"] == newest
