"""Storing a clustering run: ``runs`` (config and selection table), ``segments`` and every
contact's ``memberships`` row, in one transaction or not at all."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa

from audience.store.database import Database
from audience.store.results import scalar_int

NOISE_SEGMENT = "outliers"


def new_run_id(db: Database, created_at: datetime) -> str:
    """``seg-20260630-142501``, with ``-2``, ``-3``… if that second is taken."""
    base = f"seg-{created_at.astimezone(UTC):%Y%m%d-%H%M%S}"
    taken = scalar_int(db.con, "SELECT count(*) FROM runs WHERE run_id LIKE ?", [f"{base}%"])
    return base if taken == 0 else f"{base}-{taken + 1}"


def segment_names(n_segments: int) -> list[str]:
    """Segment ids by label + 1: ``outliers`` for noise (-1), then ``cluster-01``…"""
    width = max(2, len(str(n_segments)))
    return [NOISE_SEGMENT, *(f"cluster-{label + 1:0{width}d}" for label in range(n_segments))]


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
        con.execute(
            "INSERT INTO runs VALUES (?, ?, ?, 'complete', ?, ?)",
            [
                run_id,
                created_at,
                as_of,
                orjson.dumps(dict(config)).decode(),
                orjson.dumps(
                    dict(metrics), option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS
                ).decode(),
            ],
        )
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
