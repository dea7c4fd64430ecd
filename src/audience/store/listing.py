"""Read-only listings of stored runs and memberships, paged, for the server and dashboard."""

from __future__ import annotations

from typing import Any

import orjson

from audience.store.database import Database
from audience.store.results import scalar_int


def list_runs(db: Database, limit: int = 50) -> list[dict[str, Any]]:
    """The newest runs first: id, kind, times, status, segments and contacts."""
    rows = db.con.execute(
        """
        SELECT r.run_id, coalesce(json_extract_string(r.config, '$.kind'), 'rules') AS kind,
               r.created_at, r.as_of, r.status,
               (SELECT count(*) FROM segments s WHERE s.run_id = r.run_id) AS segments,
               (SELECT count(*) FROM memberships m WHERE m.run_id = r.run_id) AS contacts
        FROM runs r ORDER BY r.created_at DESC, r.run_id DESC LIMIT ?
        """,
        [limit],
    ).fetchall()
    names = ("run_id", "kind", "created_at", "as_of", "status", "segments", "contacts")
    return [dict(zip(names, row, strict=True)) for row in rows]


def run_summary(db: Database, run_id: str) -> dict[str, Any]:
    """One run with its config and metrics (the candidates of every branch among them)."""
    row = db.con.execute(
        "SELECT run_id, created_at, as_of, status, config, metrics FROM runs WHERE run_id = ?",
        [run_id],
    ).fetchall()[0]
    return {
        "run_id": row[0],
        "created_at": row[1],
        "as_of": row[2],
        "status": row[3],
        "config": orjson.loads(row[4]),
        "metrics": orjson.loads(row[5] or "{}"),
    }


def segment_members(
    db: Database, run_id: str, segment_id: str, *, limit: int, offset: int
) -> tuple[int, list[tuple[str, float | None]]]:
    """A segment's members (with those of the segments under it), ordered by contact id:
    the total and one page of ``(contact_id, probability)``."""
    where = "run_id = $run AND (segment_id = $segment OR starts_with(segment_id, $prefix))"
    params = {"run": run_id, "segment": segment_id, "prefix": f"{segment_id}/"}
    total = scalar_int(db.con, f"SELECT count(*) FROM memberships WHERE {where}", params)
    rows = db.con.execute(
        f"SELECT contact_id, probability FROM memberships WHERE {where} "
        "ORDER BY contact_id LIMIT $limit OFFSET $offset",
        {**params, "limit": limit, "offset": offset},
    ).fetchall()
    return total, [(str(c), _probability(p)) for c, p in rows]


def contact_membership(
    db: Database, run_id: str, contact_id: str
) -> tuple[str, float | None] | None:
    """A contact's segment and probability in a run, or None."""
    rows = db.con.execute(
        "SELECT segment_id, probability FROM memberships WHERE run_id = ? AND contact_id = ?",
        [run_id, contact_id],
    ).fetchall()
    if not rows:
        return None
    segment, probability = rows[0]
    return str(segment), _probability(probability)


def _probability(value: float | None) -> float | None:
    """A stored probability; missing and NaN (no mixture model) are both None."""
    return None if value is None or value != value else float(value)
