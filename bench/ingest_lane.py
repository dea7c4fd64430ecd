"""Benchmark: validated ingest with the engine lane vs the Python checks alone (issue 13.1).

For each file, A B A B: a fresh workspace per run, each run its own process, once with
``[ingest] engine_checks = true`` (DuckDB checks the rows that plainly pass) and once with
``false`` (every row through the pandas checks), plus DuckDB alone reading the file into a
table (no checks, no dedupe: the ceiling). Prints rows/s, peak RSS and the ratios.

    .venv/bin/python bench/ingest_lane.py EVENTS_FILE [EVENTS_FILE ...] [--rounds 2]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

AS_OF = datetime(2026, 11, 1, tzinfo=UTC)


def _ingest(folder: str, path: str, engine: bool) -> dict[str, Any]:
    from audience import Workspace
    from audience.config import CONFIG_FILE

    Workspace.init(folder).close()
    config = Path(folder) / CONFIG_FILE
    text = config.read_text(encoding="utf-8")
    config.write_text(
        text.replace("engine_checks = true", f"engine_checks = {str(engine).lower()}")
    )
    started = time.perf_counter()
    with Workspace(folder) as ws:
        report = ws.ingest(path, kind="events", now=AS_OF)
    return {
        "seconds": time.perf_counter() - started,
        "rows": report.rows_read,
        "in_engine": report.checked_in_engine,
        "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _duckdb_alone(folder: str, path: str) -> dict[str, Any]:
    import duckdb

    reader = {".parquet": "read_parquet", ".csv": "read_csv", ".jsonl": "read_json"}[
        Path(path).suffix
    ]
    started = time.perf_counter()
    con = duckdb.connect(str(Path(folder) / "alone.duckdb"))
    con.execute("SET memory_limit = '1GB'")
    row = con.execute(f"CREATE TABLE events AS SELECT * FROM {reader}('{path}')").fetchone()
    con.close()
    return {
        "seconds": time.perf_counter() - started,
        "rows": row[0] if row else 0,
        "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _child(function: Any, *args: Any) -> dict[str, Any]:
    with mp.get_context("spawn").Pool(1) as pool:
        return pool.apply(function, args)


def _fresh(function: Any, path: str, *args: Any) -> dict[str, Any]:
    folder = tempfile.mkdtemp(prefix="bench-lane-")
    try:
        return _child(function, folder, path, *args)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    for path in args.files:
        runs: dict[str, list[dict[str, Any]]] = {"lane": [], "python": [], "duckdb": []}
        for _ in range(args.rounds):
            runs["lane"].append(_fresh(_ingest, path, True))
            runs["python"].append(_fresh(_ingest, path, False))
            runs["duckdb"].append(_fresh(_duckdb_alone, path))
        seconds = {name: statistics.median(r["seconds"] for r in rs) for name, rs in runs.items()}
        rows = runs["lane"][0]["rows"]
        print(f"{path}: {rows:,} rows, median of {args.rounds}")
        for name, rs in runs.items():
            rss = max(r["rss"] for r in rs)
            rate = rows / seconds[name]
            print(f"  {name:7s} {seconds[name]:7.2f} s  {rate:>10,.0f} rows/s  {rss:6.0f} MB")
        print(f"  checked in the engine: {runs['lane'][0]['in_engine']:,} rows")
        print(f"  lane vs python checks: {seconds['python'] / seconds['lane']:.2f}x faster")
        print(f"  lane vs duckdb alone:  {seconds['duckdb'] / seconds['lane']:.2f}x of its speed")


if __name__ == "__main__":
    main()
