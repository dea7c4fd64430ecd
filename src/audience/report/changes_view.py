"""What the "What changed" section shows (the report's and the dashboard's): the turnover
in a sentence, one row per segment size and the drift worth reading, as plain values for
the templates (which escape them)."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from audience.report.data import is_empty
from audience.segments.change_summary import flagged_drift, turnover
from audience.segments.changes import POPULATION


def changes_summary(transitions: pd.DataFrame) -> str:
    """``"1,431 of 2,000 contacts stayed in their segment, 326 moved, …"``."""
    counts = turnover(transitions)
    return (
        f"{counts.stayed:,} of {counts.total:,} contacts stayed in their segment, "
        f"{counts.moved:,} moved to another, {counts.new:,} are new and {counts.gone:,} "
        "are no longer segmented."
    )


def size_rows(sizes: pd.DataFrame, names: dict[str, str]) -> list[dict[str, Any]]:
    """One row per segment: segment_id, name, previous, current and the change as text
    (``new``, ``gone``, ``0`` or ``+12 (+3.4 %)``)."""
    if is_empty(sizes):
        return []
    return [
        {
            "segment_id": str(row["segment_id"]),
            "name": names.get(str(row["segment_id"]), str(row["segment_id"])),
            "previous": int(row["previous"]),
            "current": int(row["current"]),
            "change": change_text(row),
        }
        for row in sizes.to_dict(orient="records")
    ]


def change_text(row: dict[Any, Any]) -> str:
    """A size change as people read it: ``new``, ``gone``, ``0`` or ``+12 (+3.4 %)``."""
    if row["previous"] == 0:
        return "new"
    if row["current"] == 0:
        return "gone"
    if row["change"] == 0:
        return "0"
    return f"{int(row['change']):+,} ({100 * float(row['relative_change']):+.1f} %)"


def drift_rows(drift: pd.DataFrame, names: dict[str, str]) -> dict[str, Any]:
    """``population``: every feature of the population; ``segments``: the segments' features
    at watch or alert (with the segment's name); ``ok``: how many segment tests were ok."""
    if is_empty(drift):
        return {"population": [], "segments": [], "ok": 0, "scopes": 0}
    population = drift[drift["scope"] == POPULATION]
    segments = drift[drift["scope"] != POPULATION]
    flagged = flagged_drift(segments)
    return {
        "population": [_drift_row(row, names) for row in population.to_dict(orient="records")],
        "segments": [_drift_row(row, names) for row in flagged.to_dict(orient="records")],
        "ok": len(segments) - len(flagged),
        "scopes": segments["scope"].nunique(),
    }


def _drift_row(row: dict[Any, Any], names: dict[str, str]) -> dict[str, Any]:
    scope = str(row["scope"])
    ks = float(row["ks"])
    return {
        "scope": scope,
        "name": names.get(scope, scope),
        "feature": str(row["feature"]),
        "psi": float(row["psi"]),
        "ks": None if math.isnan(ks) else ks,
        "status": str(row["status"]),
    }
