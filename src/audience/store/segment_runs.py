"""Storing a clustering run: ``runs`` (config and selection table), ``segments`` and every
contact's ``memberships`` row, in one transaction or not at all."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime

import duckdb
import numpy as np
import orjson
import pandas as pd
import pyarrow as pa

from audience.segment_ids import cluster_ids
from audience.store.database import Database
from audience.store.results import scalar_int


def new_run_id(db: Database, created_at: datetime) -> str:
    """``seg-20260630-142501``, with ``-2``, ``-3``… if that second is taken."""
    base = f"seg-{created_at.astimezone(UTC):%Y%m%d-%H%M%S}"
    taken = scalar_int(db.con, "SELECT count(*) FROM runs WHERE run_id LIKE ?", [f"{base}%"])
    return base if taken == 0 else f"{base}-{taken + 1}"


def segment_names(n_segments: int) -> list[str]:
    """Segment ids by label + 1: ``outliers`` for noise (-1), then ``cluster-01``…"""
    return cluster_ids(n_segments)


def save_cluster_run(
    db: Database,
    *,
    run_id: str,
    as_of: datetime,
    created_at: datetime,
    contact_ids: Sequence[str],
    labels: np.ndarray,
    probabilities: np.ndarray | None,
    config: Mapping[str, object],
    metrics: Mapping[str, object],
    definitions: Mapping[int, Mapping[str, object]],
) -> int:
    """Store the run, one segment per label and one membership per contact; return segments."""
    names = segment_names(int(labels.max()) + 1 if labels.size else 0)
    members = pa.table(
        {
            "contact_id": pa.array(contact_ids, type=pa.string()),
            "segment_id": pa.array(np.asarray(names, dtype=object)[labels + 1], type=pa.string()),
            "probability": pa.array(probabilities, type=pa.float64())
            if probabilities is not None
            else pa.nulls(len(labels), type=pa.float64()),
        }
    )
    used = [int(v) for v in np.unique(labels)]
    segments = pd.DataFrame(
        {
            "segment_id": [names[v + 1] for v in used],
            "definition": [orjson.dumps(dict(definitions.get(v, {}))).decode() for v in used],
        }
    )
    with db.transaction() as con:
        _insert_run(con, run_id, as_of, created_at, config, metrics)
        con.register("_members", members)
        con.register("_cluster_segments", segments)
        try:
            con.execute(
                "INSERT INTO memberships "
                "SELECT ?, contact_id, segment_id, probability FROM _members",
                [run_id],
            )
            con.execute(
                "INSERT INTO segments SELECT ?, s.segment_id, NULL, NULL, count(*), "
                "any_value(s.definition) FROM _members m JOIN _cluster_segments s "
                "USING (segment_id) GROUP BY s.segment_id",
                [run_id],
            )
        finally:
            con.unregister("_members")
            con.unregister("_cluster_segments")
        return scalar_int(con, "SELECT count(*) FROM segments WHERE run_id = ?", [run_id])


def _insert_run(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    as_of: datetime,
    created_at: datetime,
    config: Mapping[str, object],
    metrics: Mapping[str, object],
) -> None:
    con.execute(
        "INSERT INTO runs VALUES (?, ?, ?, 'complete', ?, ?)",
        [run_id, created_at, as_of, orjson.dumps(dict(config)).decode(), _json(metrics)],
    )


def _json(value: Mapping[str, object]) -> str:
    option = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS
    return orjson.dumps(dict(value), option=option).decode()


def save_tree_run(
    db: Database,
    *,
    run_id: str,
    as_of: datetime,
    created_at: datetime,
    memberships: pd.DataFrame,
    segments: pd.DataFrame,
    config: Mapping[str, object],
    metrics: Mapping[str, object],
    also: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
) -> int:
    """Store a segment tree: ``memberships`` (contact_id, segment_id, probability) and
    ``segments`` (segment_id, parent_id, name, size, definition as a mapping), with the run,
    in one transaction; names given with ``segments rename`` win. ``also`` writes more
    in the same transaction (it gets the connection). Return the segments."""
    members = pa.Table.from_pandas(
        memberships[["contact_id", "segment_id", "probability"]], preserve_index=False
    )
    nodes = segments[["segment_id", "parent_id", "name", "size"]].assign(
        definition=[_json(d) for d in segments["definition"]]
    )
    with db.transaction() as con:
        _insert_run(con, run_id, as_of, created_at, config, metrics)
        con.register("_members", members)
        con.register("_tree", nodes)
        try:
            con.execute(
                "INSERT INTO memberships "
                "SELECT ?, contact_id, segment_id, probability FROM _members",
                [run_id],
            )
            con.execute(
                "INSERT INTO segments SELECT ?, t.segment_id, t.parent_id, "
                "coalesce(n.name, t.name), t.size, t.definition "
                "FROM _tree t LEFT JOIN segment_names n USING (segment_id)",
                [run_id],
            )
        finally:
            con.unregister("_members")
            con.unregister("_tree")
        if also is not None:
            also(con)
        return scalar_int(con, "SELECT count(*) FROM segments WHERE run_id = ?", [run_id])


def rename_segment(db: Database, run_id: str, segment_id: str, name: str, at: datetime) -> None:
    """Give ``segment_id`` a name in ``run_id`` and in every later run that has that id."""
    with db.transaction() as con:
        con.execute(
            "UPDATE segments SET name = ? WHERE run_id = ? AND segment_id = ?",
            [name, run_id, segment_id],
        )
        con.execute("INSERT OR REPLACE INTO segment_names VALUES (?, ?, ?)", [segment_id, name, at])


def latest_tree_run(db: Database) -> str | None:
    """The newest segment-tree run (``runs.config.kind = 'tree'``), or None."""
    rows = db.con.execute(
        "SELECT run_id FROM runs WHERE json_extract_string(config, '$.kind') = 'tree' "
        "ORDER BY created_at DESC, run_id DESC LIMIT 1"
    ).fetchall()
    return str(rows[0][0]) if rows else None


def read_tree(db: Database, run_id: str) -> pd.DataFrame:
    """The run's segments: segment_id, parent_id, name, size, definition (a dict)."""
    frame: pd.DataFrame = (
        db.con.sql(
            "SELECT segment_id, parent_id, name, size, definition FROM segments "
            "WHERE run_id = $run ORDER BY segment_id",
            params={"run": run_id},
        )
        .to_arrow_table()
        .to_pandas()
    )
    frame["definition"] = [orjson.loads(d) if d else {} for d in frame["definition"]]
    return frame


def read_run(
    db: Database, run_id: str
) -> tuple[datetime, datetime, dict[str, object], dict[str, object]]:
    """``(created_at, as_of, config, metrics)`` of a run."""
    rows = db.con.execute(
        "SELECT created_at, as_of, config, metrics FROM runs WHERE run_id = ?", [run_id]
    ).fetchall()
    created_at, as_of, config, metrics = rows[0]
    return created_at, as_of, orjson.loads(config), orjson.loads(metrics or "{}")


def run_exists(db: Database, run_id: str) -> bool:
    return scalar_int(db.con, "SELECT count(*) FROM runs WHERE run_id = ?", [run_id]) > 0
