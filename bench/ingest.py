"""Benchmark: generate and ingest a synthetic audience (default 1M contacts, ~50M events).

Each phase runs in its own process, so the peak RSS printed is that phase's alone. As a
reference ceiling, the same events file is also loaded by DuckDB alone (read_parquet into
a table: no validation, no dedupe, no quarantine), and the ratio is printed.

    .venv/bin/python bench/ingest.py [--contacts 1000000] [--format parquet] [--out bench/out]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

AS_OF = datetime(2026, 11, 1, tzinfo=UTC)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _generate(out: str, contacts: int, fmt: str) -> dict[str, Any]:
    from audience.synth import generate

    started = time.perf_counter()
    result = generate(Path(out), contacts=contacts, seed=1, as_of=AS_OF, events_format=fmt)  # type: ignore[arg-type]
    return {
        "seconds": time.perf_counter() - started,
        "rows": result.contact_rows + result.event_rows,
        "events": result.event_rows,
        "events_path": str(result.events_path),
        "contacts_path": str(result.contacts_path),
        "rss": _peak_rss_mb(),
    }


def _ingest(workspace: str, path: str, again: bool = False) -> dict[str, Any]:
    from audience import Workspace

    started = time.perf_counter()
    with Workspace(workspace) as ws:
        report = ws.ingest(path, now=AS_OF, again=again)
    return {
        "seconds": time.perf_counter() - started,
        "rows": report.rows_read,
        "accepted": report.accepted,
        "rss": _peak_rss_mb(),
    }


def _duckdb_alone(path: str, database: str) -> dict[str, Any]:
    import duckdb

    started = time.perf_counter()
    con = duckdb.connect(database)
    con.execute("SET memory_limit = '1GB'")
    con.execute("SET preserve_insertion_order = false")
    rows = con.execute(f"CREATE TABLE events AS SELECT * FROM read_parquet('{path}')").fetchone()
    con.close()
    return {
        "seconds": time.perf_counter() - started,
        "rows": rows[0] if rows else 0,
        "rss": _peak_rss_mb(),
    }


def _in_child(function: Any, *args: Any) -> dict[str, Any]:
    with mp.get_context("spawn").Pool(1) as pool:
        return pool.apply(function, args)  # type: ignore[no-any-return]


def _line(name: str, result: dict[str, Any]) -> str:
    rate = result["rows"] / result["seconds"]
    return (
        f"{name:<34} {result['rows']:>12,} rows {result['seconds']:>8.1f} s "
        f"{rate:>12,.0f} rows/s   peak RSS {result['rss']:>7,.0f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--format", choices=["parquet", "jsonl"], default="parquet")
    parser.add_argument("--out", type=Path, default=Path("bench/out"))
    args = parser.parse_args()
    shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True)
    data, workspace = args.out / "data", args.out / "ws"

    from audience import Workspace

    Workspace.init(workspace).close()
    generated = _in_child(_generate, str(data), args.contacts, args.format)
    print(_line(f"generate ({args.format})", generated), flush=True)
    contacts = _in_child(_ingest, str(workspace), generated["contacts_path"])
    print(_line("ingest contacts.csv", contacts), flush=True)
    events = _in_child(_ingest, str(workspace), generated["events_path"])
    print(_line(f"ingest events.{args.format}", events), flush=True)
    if args.format == "parquet":
        alone = _in_child(_duckdb_alone, generated["events_path"], str(args.out / "alone.duckdb"))
        print(_line("reference: DuckDB read_parquet only", alone), flush=True)
        ratio = events["seconds"] / alone["seconds"]
        print(f"validated ingest takes {ratio:.1f}x the time of a bare load (no checks, no dedupe)")
    known = _in_child(_ingest, str(workspace), generated["events_path"])
    print(_line("the same file again (not read)", known), flush=True)
    again = _in_child(_ingest, str(workspace), generated["events_path"], True)
    print(_line("re-ingest events --again (all dups)", again), flush=True)
    assert known["accepted"] == again["accepted"] == 0, "re-ingest stored rows again"


if __name__ == "__main__":
    main()
