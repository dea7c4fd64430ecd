"""Benchmark: a daily refresh against a full re-run, side by side (issue 12; goal >= 5x).

Set-up (once, cached in ``--out``): a generated audience (default 1M contacts, ~50M
events) whose newest events (``--new-share``, default 1%) are held back as the day's file;
contacts and the older events are ingested and segmented at the cut, as "yesterday's" run.

Then, alternately (A B A B), each on a fresh copy of that workspace and in its own process
with the same thread settings:

- **refresh**: the day's file dropped into ``inbox/``, ``audience refresh --as-of DAY``;
- **full re-run**: ``audience ingest DAY-FILE`` then ``audience segment --as-of DAY`` (what
  a refresh replaces: every feature and the whole model selection recomputed).

Printed: each round's seconds, the medians, the ratio, and where the refresh's time goes
(its ``--json`` steps). Benchmarks run alone: on two cores another busy process slows
OpenMP and BLAS by up to 10x.

    .venv/bin/python bench/refresh.py [--contacts 1000000] [--rounds 2] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
AUDIENCE = str(Path(sys.executable).with_name("audience"))
GENERATED_AS_OF = datetime(2026, 11, 1, tzinfo=UTC)
GOAL = 5.0


def _environment(threads: int | None) -> dict[str, str]:
    env = dict(os.environ)
    if threads:
        for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[name] = str(threads)
    return env


def _prepare(out: Path, contacts: int, new_share: float) -> dict[str, Any]:
    """Generate, split off the newest events, build yesterday's workspace (cached)."""
    meta = out / "prepared.json"
    if meta.exists():
        found: dict[str, Any] = json.loads(meta.read_text())
        if found["contacts"] == contacts and found["new_share"] == new_share:
            return found
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from audience import Workspace
    from audience.synth import generate

    started = time.perf_counter()
    generated = generate(out / "data", contacts=contacts, seed=1, as_of=GENERATED_AS_OF)
    events = pq.read_table(generated.events_path)
    stamps = pc.utf8_slice_codeunits(events["timestamp"], 0, 19)
    moments = pc.strptime(stamps, format="%Y-%m-%dT%H:%M:%S", unit="s")
    cut = pc.quantile(moments.cast("int64"), q=1 - new_share)[0].as_py()
    cut_at = datetime.fromtimestamp(int(cut), UTC).replace(microsecond=0)
    limit = pc.cast(moments, "int64")
    older, newer = out / "events-before.parquet", out / "events-day.parquet"
    pq.write_table(events.filter(pc.less_equal(limit, int(cut))), older)
    pq.write_table(events.filter(pc.greater(limit, int(cut))), newer)
    del events
    with Workspace.init(out / "base") as ws:
        ws.ingest(generated.contacts_path, now=GENERATED_AS_OF)
        ws.ingest(older, now=GENERATED_AS_OF)
        ws.segment(cut_at)
    found = {
        "contacts": contacts,
        "new_share": new_share,
        "cut": cut_at.isoformat(),
        "day": (GENERATED_AS_OF - timedelta(seconds=1)).isoformat(),
        "day_file": str(newer),
        "day_events": pq.ParquetFile(newer).metadata.num_rows,
        "all_events": pq.ParquetFile(older).metadata.num_rows
        + pq.ParquetFile(newer).metadata.num_rows,
        "seconds": round(time.perf_counter() - started, 1),
    }
    meta.write_text(json.dumps(found))
    return found


def _timed(commands: list[list[str]], env: dict[str, str]) -> tuple[float, list[str]]:
    started = time.perf_counter()
    outputs = []
    for command in commands:
        done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        if done.returncode not in (0, 3):
            raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr}")
        outputs.append(done.stdout)
    return time.perf_counter() - started, outputs


def _fresh(out: Path, name: str) -> Path:
    target = out / name
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(out / "base", target)
    return target


def _refresh(out: Path, prepared: dict[str, Any], env: dict[str, str]) -> tuple[float, Any]:
    ws = _fresh(out, "refresh")
    (ws / "inbox").mkdir(exist_ok=True)
    shutil.copy(prepared["day_file"], ws / "inbox" / "events-day.parquet")
    seconds, (output,) = _timed(
        [[AUDIENCE, "refresh", "--as-of", prepared["day"], "--json", "-w", str(ws)]], env
    )
    steps = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    return seconds, steps


def _full(out: Path, prepared: dict[str, Any], env: dict[str, str]) -> tuple[float, Any]:
    ws = _fresh(out, "full")
    commands = [
        [AUDIENCE, "ingest", prepared["day_file"], "-w", str(ws)],
        [AUDIENCE, "segment", "--as-of", prepared["day"], "-w", str(ws)],
    ]
    return _timed(commands, env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--new-share", type=float, default=0.01)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None, help="BLAS and OpenMP threads")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "refresh")
    args = parser.parse_args()
    env = _environment(args.threads)
    prepared = _prepare(args.out, args.contacts, args.new_share)
    print(
        f"{prepared['contacts']:,} contacts, {prepared['all_events']:,} events; the day's file "
        f"holds {prepared['day_events']:,} ({prepared['day_events'] / prepared['all_events']:.2%}) "
        f"after {prepared['cut']}; set-up {prepared['seconds']} s (cached)"
    )
    refreshes, fulls, steps = [], [], []
    for round_ in range(1, args.rounds + 1):
        seconds, steps = _refresh(args.out, prepared, env)
        refreshes.append(seconds)
        print(f"round {round_}: refresh      {seconds:7.1f} s")
        seconds, _ = _full(args.out, prepared, env)
        fulls.append(seconds)
        print(f"round {round_}: full re-run  {seconds:7.1f} s")
    refresh, full = statistics.median(refreshes), statistics.median(fulls)
    print(f"median: refresh {refresh:.1f} s, full re-run {full:.1f} s")
    print(f"ratio full / refresh: {full / refresh:.2f}x (goal >= {GOAL:.0f}x)")
    print("the last refresh, step by step:")
    for step in steps:
        if "step" in step:
            print(f"  {step['step']:<9} {step['seconds']:6.2f} s  {step['detail']}")


if __name__ == "__main__":
    main()
