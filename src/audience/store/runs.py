"""Segmentation runs: ``runs``, ``segments`` and ``memberships``, written together or not at all."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime

import orjson
import pandas as pd

from audience.store.database import Database
from audience.store.features_table import TABLE as FEATURES
from audience.store.results import scalar_int


def segment_slug(name: str) -> str:
    """``"Can't Lose Them"`` → ``"cant-lose-them"``."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower().replace("'", "")).strip("-")


def save_feature_rule_run(
    db: Database,
    *,
    run_id: str,
    prefix: str,
    column: str,
    as_of: datetime,
    created_at: datetime,
    rules: Mapping[str, str],
    config: Mapping[str, object],
) -> int:
    """Store a rules-based segmentation read from a column of the features at ``as_of``.

    Each value of ``column`` is the segment ``<prefix>/<slug of the value>`` defined by
    ``rules[value]`` (a value without a rule fails the whole run); a run with the same id is
    replaced whole. Returns the number of segments.
    """
    segments = pd.DataFrame(
        {
            "name": list(rules),
            "segment_id": [f"{prefix}/{segment_slug(name)}" for name in rules],
            "definition": [orjson.dumps({"rule": rule}).decode() for rule in rules.values()],
        }
    )
    with db.transaction() as con:
        for table in ("memberships", "segments", "runs"):
            con.execute(f"DELETE FROM {table} WHERE run_id = ?", [run_id])
        con.execute(
            "INSERT INTO runs VALUES (?, ?, ?, 'complete', ?, NULL)",
            [run_id, created_at, as_of, orjson.dumps(dict(config)).decode()],
        )
        con.register("_rule_segments", segments)
        try:
            con.execute(
                "INSERT INTO memberships SELECT ?, f.contact_id, r.segment_id, NULL "
                f"FROM {FEATURES} f LEFT JOIN _rule_segments r ON r.name = f.{column} "
                "WHERE f.as_of = ?",
                [run_id, as_of],
            )
            con.execute(
                "INSERT INTO segments SELECT ?, r.segment_id, NULL, r.name, count(*), "
                "any_value(r.definition) FROM memberships m "
                "JOIN _rule_segments r ON r.segment_id = m.segment_id "
                "WHERE m.run_id = ? GROUP BY r.segment_id, r.name",
                [run_id, run_id],
            )
        finally:
            con.unregister("_rule_segments")
        segments_stored = scalar_int(
            con, "SELECT count(*) FROM segments WHERE run_id = ?", [run_id]
        )
    return segments_stored
