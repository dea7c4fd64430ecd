"""Benchmark: dedupe an overlapping file against the stored events, old join vs id key.

Ingests an events file (default: the 200k-contact audience's ~11M events), then stages a
second file of the same size whose events are 99% already stored and 1% new, and times
the step of the commit that matches staged events with stored ones, both ways, on the
same tables in one process, alternating (old, new, old, new):

- old: ``JOIN events ON message_id`` (every stored id string hashed and compared);
- new: ``JOIN events ON id_key AND message_id`` (the 8-byte key first, the strings only
  where the keys are equal; what :mod:`audience.store.loading` does now).

The machine is shared: quote the ratio of one run, not the absolute times. Also times
``audience ingest`` of the same file again (recognised by its bytes, not read).

    .venv/bin/python bench/dedupe.py [--events FILE] [--out bench/out/dedupe] [--rounds 2]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

from audience import Workspace
from audience.store.loading import _content_hash, _staged_values

AS_OF = datetime(2026, 11, 1, tzinfo=UTC)


def _stage_overlapping(ws: Workspace, new_share: float) -> int:
    """A staged file as the loader stages one: stored events, and a share with new ids."""
    con = ws.database.con
    fields = [c for c in _stored_columns(ws) if c not in ("ingest_id", "id_key")]
    kept = ", ".join(f'"{c}"' for c in fields)
    renamed = kept.replace('"message_id"', "'new-' || message_id")
    con.execute(
        f"CREATE OR REPLACE TABLE bench_stage AS SELECT 0::BIGINT AS line, {kept}, "
        "0::UBIGINT AS _h, 0::UBIGINT AS id_key FROM events LIMIT 0"
    )
    stored, new = 100 * (1 - new_share), 100 * new_share
    con.execute(
        f"INSERT INTO bench_stage SELECT {_staged_values('events', 's')} FROM "
        f"(SELECT row_number() OVER () AS line, * FROM ("
        f"SELECT {kept} FROM events USING SAMPLE {stored} PERCENT (bernoulli, 1) UNION ALL "
        f"SELECT {renamed} FROM events USING SAMPLE {new} PERCENT (bernoulli, 2))) s"
    )
    return int(con.execute("SELECT count(*) FROM bench_stage").fetchall()[0][0])


def _stored_columns(ws: Workspace) -> list[str]:
    rows = ws.database.con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'events' "
        "ORDER BY ordinal_position"
    ).fetchall()
    return [str(row[0]) for row in rows]


def _match(ws: Workspace, on: str) -> tuple[float, int]:
    fields = [c for c in _stored_columns(ws) if c not in ("message_id", "ingest_id", "id_key")]
    con = ws.database.con
    started = time.perf_counter()
    con.execute(
        "CREATE OR REPLACE TEMP TABLE bench_stored AS "
        f"SELECT k.line, k._h = {_content_hash('e', fields)} AS same "
        f"FROM bench_stage k JOIN events e ON {on}"
    )
    seconds = time.perf_counter() - started
    matched = int(con.execute("SELECT count(*) FROM bench_stored WHERE same").fetchall()[0][0])
    return seconds, matched


OLD = "e.message_id = k.message_id"
NEW = "e.id_key = k.id_key AND e.message_id = k.message_id"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=Path, default=Path("/work/data/a200k/events.parquet"))
    parser.add_argument("--out", type=Path, default=Path("bench/out/dedupe"))
    parser.add_argument("--new-share", type=float, default=0.01)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True)
    with Workspace.init(args.out / "ws") as ws:
        started = time.perf_counter()
        first = ws.ingest(args.events, "events", now=AS_OF)
        print(f"ingest {args.events.name}: {first.accepted:,} events in "
              f"{time.perf_counter() - started:.1f} s", flush=True)  # fmt: skip
        started = time.perf_counter()
        skipped = ws.ingest(args.events, "events", now=AS_OF)
        seconds, size = time.perf_counter() - started, args.events.stat().st_size / 1e6
        print(f"the same file again ({size:.0f} MB): {type(skipped).__name__} in {seconds:.3f} s")
        staged = _stage_overlapping(ws, args.new_share)
        print(f"staged {staged:,} events, {args.new_share:.0%} new", flush=True)
        times: dict[str, list[float]] = {"old": [], "new": []}
        for _ in range(args.rounds):
            for name, on in (("old", OLD), ("new", NEW)):
                seconds, matched = _match(ws, on)
                times[name].append(seconds)
                print(f"  {name}: {seconds:6.2f} s, {matched:,} duplicates", flush=True)
    old, new = statistics.median(times["old"]), statistics.median(times["new"])
    print(f"old join on message_id / new join on id_key: {old / new:.2f}x (medians, one run)")


if __name__ == "__main__":
    main()
