"""Contacts re-assigned between runs (``membership_changes``): from where, to where, when.

A contact's *current* segment in a run is its latest change in that run, else its stored
membership (none if it was not in the run). :func:`record_changes` writes a row only for a
contact whose new segment differs from its current one, so recording the same assignment
twice writes it once.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from audience.store.database import Database, registered
from audience.store.results import scalar_int

# Among a run's changes, the latest per contact: by time, then by insertion.
_CURRENT = """
SELECT a.contact_id,
       CASE WHEN c.contact_id IS NULL THEN m.segment_id ELSE c.to_segment END AS from_segment,
       a.segment_id AS to_segment
FROM _assigned a
LEFT JOIN (
    SELECT contact_id, to_segment,
           row_number() OVER (PARTITION BY contact_id ORDER BY changed_at DESC, rowid DESC) AS n
    FROM membership_changes
    WHERE run_id = $run AND contact_id IN (SELECT contact_id FROM _assigned)
) c ON c.contact_id = a.contact_id AND c.n = 1
LEFT JOIN memberships m ON m.run_id = $run AND m.contact_id = a.contact_id
"""


def record_changes(
    db: Database, run_id: str, assigned: pd.DataFrame, at: datetime, source: str
) -> int:
    """Record, at ``at``, each contact of ``assigned`` (``contact_id``, ``segment_id``; one
    row per contact, segment None for none) whose segment in ``run_id`` changes; return
    how many did. In one transaction."""
    frame = assigned[["contact_id", "segment_id"]].astype(object)
    frame = frame.where(frame.notna(), None)
    with db.transaction() as con, registered(con, "_assigned", frame):
        return scalar_int(
            con,
            "INSERT INTO membership_changes "
            f"SELECT $at, $run, contact_id, from_segment, to_segment, $source FROM ({_CURRENT}) "
            "WHERE from_segment IS DISTINCT FROM to_segment",
            {"at": at, "run": run_id, "source": source},
        )


def current_segments(db: Database, run_id: str, contact_ids: list[str]) -> dict[str, str | None]:
    """Each contact's current segment in ``run_id`` (None: none)."""
    frame = pd.DataFrame({"contact_id": contact_ids, "segment_id": None}, dtype=object)
    with registered(db.con, "_assigned", frame):
        rows = db.con.execute(
            f"SELECT contact_id, from_segment FROM ({_CURRENT})", {"run": run_id}
        ).fetchall()
    return {str(contact): segment for contact, segment in rows}
