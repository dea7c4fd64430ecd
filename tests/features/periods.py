"""A generated events file cut in two periods: what a workspace holds at a first ``as_of``,
and what arrives after it (with, optionally, some earlier events arriving late)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb


def split_events(
    events: Path, at: datetime, folder: Path, *, late_per_mille: int = 0
) -> tuple[Path, Path]:
    """Write ``first.parquet`` (events at or before ``at``) and ``second.parquet`` (the
    rest) to ``folder``; ``late_per_mille`` of the first period's events, picked by a hash
    of their id, go to the second file instead: late arrivals."""
    folder.mkdir(parents=True, exist_ok=True)
    first, second = folder / "first.parquet", folder / "second.parquet"
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        source = str(events).replace("'", "''")
        con.execute(
            "CREATE TEMP TABLE cut AS SELECT *, CAST(timestamp AS TIMESTAMPTZ) > $at "
            "OR hash(message_id) % 1000 < $late AS later "
            f"FROM read_parquet('{source}')",
            {"at": at, "late": late_per_mille},
        )
        for path, later in ((first, False), (second, True)):
            target = str(path).replace("'", "''")
            con.execute(
                f"COPY (SELECT * EXCLUDE (later) FROM cut WHERE later = {later}) "
                f"TO '{target}' (FORMAT parquet)"
            )
    finally:
        con.close()
    return first, second
