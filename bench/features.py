"""Benchmark: every feature for 1M contacts / ~50M events, DuckDB (Ibis) vs plain pandas.

Both read the same workspace. DuckDB computes in the engine and stores the ``features``
table; the baseline loads the tables into pandas (the columns it needs) and runs the
groupby implementation a data scientist would write (``tests/features/pandas_reference.py``,
also the test oracle). Each side runs in its own process, so each peak RSS is its own.

    .venv/bin/python bench/features.py [--workspace DIR] [--contacts 1000000]

Without ``--workspace``, an audience is generated and ingested first (several minutes);
``bench/ingest.py --out DIR`` leaves one in ``DIR/ws`` to reuse.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import shutil
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

AS_OF = datetime(2026, 11, 1, 23, 59, 59, tzinfo=UTC)
ROOT = Path(__file__).resolve().parent.parent


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _duckdb(workspace: str) -> dict[str, Any]:
    from audience import Workspace

    started = time.perf_counter()
    with Workspace(workspace) as ws:
        report = ws.features(AS_OF)
    return {
        "seconds": time.perf_counter() - started,
        "rows": report.contacts,
        "rss": _peak_rss_mb(),
    }


def _pandas(workspace: str) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    import duckdb

    from tests.features.pandas_reference import features

    started = time.perf_counter()
    con = duckdb.connect(str(Path(workspace) / "audience.duckdb"), read_only=True)
    con.execute("SET TimeZone = 'UTC'")
    contacts = (
        con.sql("SELECT contact_id, country, consent, signup_at FROM contacts")
        .to_arrow_table()
        .to_pandas()
    )
    events = (
        con.sql(
            "SELECT contact_id, event, timestamp, revenue, category, campaign_id, "
            "is_machine_open, bounce_type FROM events"
        )
        .to_arrow_table()
        .to_pandas()
    )
    con.close()
    loaded = time.perf_counter()
    result = features(contacts, events, AS_OF)
    done = time.perf_counter()
    return {
        "seconds": done - started,
        "load": loaded - started,
        "compute": done - loaded,
        "rows": len(result),
        "rss": _peak_rss_mb(),
    }


def _prepare(out: Path, contacts: int) -> Path:
    from audience import Workspace
    from audience.synth import generate

    shutil.rmtree(out, ignore_errors=True)
    generated = generate(out / "data", contacts=contacts, seed=1, as_of=AS_OF)
    with Workspace.init(out / "ws") as ws:
        ws.ingest(generated.contacts_path, now=AS_OF)
        ws.ingest(generated.events_path, now=AS_OF)
    return out / "ws"


def _in_child(function: Any, *args: Any) -> dict[str, Any]:
    with mp.get_context("spawn").Pool(1) as pool:
        return pool.apply(function, args)  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workspace", type=Path)
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=Path("bench/out/features"))
    args = parser.parse_args()
    workspace = args.workspace or _in_child(_prepare, args.out, args.contacts)
    import duckdb

    con = duckdb.connect(str(Path(workspace) / "audience.duckdb"), read_only=True)
    n_contacts, n_events = con.execute(
        "SELECT (SELECT count(*) FROM contacts), (SELECT count(*) FROM events)"
    ).fetchone() or (0, 0)
    con.close()
    print(f"workspace {workspace}: {n_contacts:,} contacts, {n_events:,} events", flush=True)
    ours = _in_child(_duckdb, str(workspace))
    print(f"DuckDB (Ibis)  {ours['seconds']:8.1f} s   peak RSS {ours['rss']:7,.0f} MB", flush=True)
    base = _in_child(_pandas, str(workspace))
    print(
        f"pandas         {base['seconds']:8.1f} s   peak RSS {base['rss']:7,.0f} MB   "
        f"(load {base['load']:.1f} s + compute {base['compute']:.1f} s)",
        flush=True,
    )
    assert ours["rows"] == base["rows"], "the two implementations disagree on the row count"
    print(
        f"speed-up: {base['seconds'] / ours['seconds']:.1f}x end to end, "
        f"{base['compute'] / ours['seconds']:.1f}x against pandas' compute alone; "
        f"goal >= 3x with DuckDB peak RSS <= 4,096 MB"
    )


if __name__ == "__main__":
    main()
