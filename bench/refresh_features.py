"""Benchmark: a daily feature refresh against a full compute, on the same workspace.

An audience is generated up to a Tuesday evening (a newsletter went out that day, as on
two days a week), its events cut one day before the end: the workspace ingests the
contacts and the first period, computes the features then, and ingests the last day. Then,
A B A B on the same connection and threads: ``compute_features`` at the end (A) and
``refresh_features`` from the day before (B), each storing the features at the end. The
two results are compared cell by cell, and the share of contacts the refresh had to
compute again is printed with what changed.

    .venv/bin/python bench/refresh_features.py [--contacts 200000] [--threads N] [--reuse]

``--reuse`` starts from the workspace a previous run prepared in ``--out``.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
END = datetime(2026, 11, 3, 23, 59, 59, tzinfo=UTC)  # a Tuesday, a newsletter day
START = END - timedelta(days=1)


def prepare(out: Path, contacts: int) -> Path:
    """Generate, cut, ingest the first period, compute the features at START, ingest the rest."""
    sys.path.insert(0, str(ROOT))
    from audience import Workspace
    from audience.synth import generate
    from tests.features.periods import split_events

    shutil.rmtree(out, ignore_errors=True)
    started = time.perf_counter()
    generated = generate(out / "data", contacts=contacts, seed=1, as_of=END)
    first, second = split_events(generated.events_path, START, out / "data")
    with Workspace.init(out / "ws") as ws:
        ws.ingest(generated.contacts_path, now=START)
        ws.ingest(first, kind="events", now=START)
        ws.features(START)
        ws.ingest(second, kind="events", now=END)
        # The day's contacts export: those who signed up since (refused as in the future
        # when the file was ingested the day before).
        ws.ingest(generated.contacts_path, now=END)
    print(f"prepared in {time.perf_counter() - started:.0f} s", flush=True)
    return out / "ws"


class _Lines(logging.Handler):
    """Keeps the refresh's log lines, to print what it computed again."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def differences(a: pd.DataFrame, b: pd.DataFrame) -> dict[str, int]:
    """Cells that differ, per column."""
    if list(a.contact_id) != list(b.contact_id):
        return {"contact_id": abs(len(a) - len(b)) or 1}
    counts = {}
    for column in a.columns:
        x, y = a[column], b[column]
        same = ((x == y) | (x.isna() & y.isna())).to_numpy(dtype=bool)
        if not same.all():
            counts[column] = int((~same).sum())
    return counts


def timed_pair(ws: Any) -> tuple[dict[str, list[float]], dict[str, pd.DataFrame], Any]:
    """A B A B: the full compute and the refresh at END; timings, results, the refresh's
    outcome."""
    from audience.features.compute import compute_features
    from audience.features.incremental import refresh_features
    from audience.store.features_table import read_features

    db, config = ws.database, ws.config.features
    steps = {
        "full": lambda: compute_features(db, config, END, created_at=END),
        "refresh": lambda: refresh_features(db, config, END, previous_as_of=START, created_at=END),
    }
    timings: dict[str, list[float]] = {"full": [], "refresh": []}
    results: dict[str, pd.DataFrame] = {}
    outcome = None
    for side in ("full", "refresh", "full", "refresh"):
        started = time.perf_counter()
        report = steps[side]()
        timings[side].append(time.perf_counter() - started)
        print(f"{side:8s} {timings[side][-1]:7.2f} s", flush=True)
        results[side] = read_features(db, END)
        outcome = report.refresh or outcome
    return timings, results, outcome


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--contacts", type=int, default=200_000)
    parser.add_argument("--threads", type=int, help="DuckDB threads (default: the store's)")
    parser.add_argument("--out", type=Path, default=Path("bench/out/refresh_features"))
    parser.add_argument("--reuse", action="store_true", help="reuse the prepared workspace")
    args = parser.parse_args()
    workspace = args.out / "ws" if args.reuse else prepare(args.out, args.contacts)

    from audience import Workspace

    lines = _Lines()
    logger = logging.getLogger("audience.features.incremental")
    logger.addHandler(lines)
    logger.setLevel(logging.INFO)
    with Workspace(workspace) as ws:
        con = ws.database.con
        if args.threads is not None:
            con.execute(f"SET threads = {int(args.threads)}")
        threads = con.execute("SELECT current_setting('threads')").fetchall()[0][0]
        n_contacts, n_events = con.execute(
            "SELECT (SELECT count(*) FROM contacts), (SELECT count(*) FROM events)"
        ).fetchall()[0]
        print(f"{n_contacts:,} contacts, {n_events:,} events, DuckDB threads {threads}")
        timings, results, outcome = timed_pair(ws)
    full, refresh = min(timings["full"]), min(timings["refresh"])
    print(f"best of two: full {full:.2f} s, refresh {refresh:.2f} s, ratio {refresh / full:.3f}")
    if outcome is None or not outcome.incremental:
        print(f"the refresh computed everything: {outcome}")
        return
    share = outcome.recomputed / n_contacts
    print(
        f"computed again from their events: {outcome.recomputed:,} of {n_contacts:,} ({share:.1%})"
    )
    for line in lines.lines[-2:]:
        print(f"  {line}")
    diff = differences(results["full"], results["refresh"])
    print("results equal" if not diff else f"results DIFFER: {diff}")


if __name__ == "__main__":
    main()
