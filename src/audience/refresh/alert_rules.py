"""What raises an alert: rules over a run's stored tables.

Each rule reads one table of the run and returns :class:`Alert` values, not stored:

- ``drift`` (table ``drift``): one alert per scope (the population, or a segment) with a
  feature at status ``alert`` (severity alert) or only at ``watch`` (severity watch),
  naming the features and their PSI and KS.
- ``size`` (table ``transitions``): a segment in both runs whose size changed by at least
  ``[alerts] size_change`` of its previous size (severity alert). Its previous size is the
  contacts that moved out of it, its new size those that moved into it.
- ``segments`` (table ``segment_lineage``): a segment that is new or split off, retired or
  merged away (severity watch). A first run (no previous run) raises none.
- ``quality`` (``runs.metrics``): a branch whose chosen model's silhouette is under
  ``min_silhouette`` or stability under ``min_stability`` (severity alert); a score that
  was not computed is not judged.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any, Literal

from audience.config import AlertsConfig
from audience.store.database import Database
from audience.store.segment_runs import read_run

AlertKind = Literal["drift", "size", "quality", "refresh_failed", "segments"]
Severity = Literal["watch", "alert"]
NAMED_FEATURES = 5
"""A drift alert's message names this many features at most (its details hold all)."""


@dataclass(frozen=True)
class Alert:
    """Something a person should look at, before it is stored: ``message`` is one plain
    sentence; ``details`` the figures behind it (JSON-serialisable)."""

    kind: AlertKind
    severity: Severity
    subject: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)
    run_id: str | None = None


# -- drift --------------------------------------------------------------------------------


def drift_alerts(db: Database, run_id: str) -> list[Alert]:
    """One alert per scope with drifting features, the worst status giving the severity."""
    rows = db.con.execute(
        """
        SELECT scope, feature, psi, ks, status, previous_run_id FROM drift
        WHERE run_id = ? AND status IN ('watch', 'alert')
        ORDER BY scope, status = 'alert' DESC, psi DESC NULLS LAST, ks DESC NULLS LAST, feature
        """,
        [run_id],
    ).fetchall()
    return [
        _drift_alert(run_id, str(scope), list(group))
        for scope, group in groupby(rows, key=lambda row: row[0])
    ]


def _drift_alert(run_id: str, scope: str, rows: list[tuple[Any, ...]]) -> Alert:
    alerted = [row for row in rows if row[4] == "alert"]
    watched = [row for row in rows if row[4] == "watch"]
    who = "The population" if scope == "" else f"Segment {scope}"
    if alerted:
        message = f"{who} drifted on {_features(alerted)}"
        if watched:
            message += f", and {len(watched)} more feature(s) to watch"
    else:
        message = f"{who} shifted slightly on {_features(watched)}"
    features = [
        {"feature": f, "psi": _number(psi), "ks": _number(ks), "status": status}
        for _scope, f, psi, ks, status, _previous in rows
    ]
    return Alert(
        kind="drift",
        severity="alert" if alerted else "watch",
        subject=scope or "population",
        message=message + ".",
        details={"scope": scope, "previous_run_id": rows[0][5], "features": features},
        run_id=run_id,
    )


def _features(rows: Sequence[tuple[Any, ...]]) -> str:
    named = [f"{row[1]} ({_scores(row[2], row[3])})" for row in rows[:NAMED_FEATURES]]
    more = len(rows) - len(named)
    text = ", ".join(named) + (f" and {more} more" if more else "")
    return f"{len(rows)} feature{'s' if len(rows) != 1 else ''}: {text}"


def _scores(psi: object, ks: object) -> str:
    parts = [
        f"{name} {value:.2f}"
        for name, value in (("PSI", _number(psi)), ("KS", _number(ks)))
        if value is not None
    ]
    return ", ".join(parts) or "no score"


def _number(value: object) -> float | None:
    """A stored score; missing and NaN are both None (JSON has no NaN)."""
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return None


# -- sizes --------------------------------------------------------------------------------


def size_alerts(db: Database, config: AlertsConfig, run_id: str) -> list[Alert]:
    """Segments in both runs whose size changed by at least ``size_change`` of the old."""
    rows = db.con.execute(
        """
        WITH before AS (
            SELECT from_segment AS segment_id, sum(contacts) AS size,
                   any_value(previous_run_id) AS previous_run_id
            FROM transitions WHERE run_id = $run AND from_segment IS NOT NULL GROUP BY 1),
        after AS (
            SELECT to_segment AS segment_id, sum(contacts) AS size
            FROM transitions WHERE run_id = $run AND to_segment IS NOT NULL GROUP BY 1)
        SELECT segment_id, b.size, a.size, b.previous_run_id
        FROM before b JOIN after a USING (segment_id)
        WHERE b.size > 0 ORDER BY segment_id
        """,
        {"run": run_id},
    ).fetchall()
    return [
        _size_alert(run_id, str(segment), int(old), int(new), config.size_change, previous)
        for segment, old, new, previous in rows
        if abs(new - old) >= config.size_change * old
    ]


def _size_alert(
    run_id: str, segment: str, old: int, new: int, threshold: float, previous: str
) -> Alert:
    change = (new - old) / old
    verb = "grew" if new > old else "shrank"
    return Alert(
        kind="size",
        severity="alert",
        subject=segment,
        message=f"Segment {segment} {verb} by {abs(change):.0%}, from {old:,} to {new:,} contacts.",
        details={
            "previous_run_id": previous,
            "previous_size": old,
            "size": new,
            "change": round(change, 6),
            "size_change": threshold,
        },
        run_id=run_id,
    )


# -- lineage ------------------------------------------------------------------------------

_LINEAGE = {
    "new": "Segment {id} ({name}) is new: no segment of the previous run continues into it.",
    "split": "Segment {id} ({name}) is new, split from {related}.",
    "retired": "Segment {id} ({name}) was retired: no segment of this run continues it.",
    "merged": "Segment {id} ({name}) was retired, merged into {related}.",
}


def lineage_alerts(db: Database, run_id: str) -> list[Alert]:
    """Segments that appeared (new, split) or went away (retired, merged) in this run."""
    rows = db.con.execute(
        """
        SELECT l.segment_id, l.status, l.related, l.previous_run_id,
               coalesce(this.name, prior.name, l.segment_id)
        FROM segment_lineage l
        LEFT JOIN segments this ON this.run_id = l.run_id AND this.segment_id = l.segment_id
        LEFT JOIN segments prior
               ON prior.run_id = l.previous_run_id AND prior.segment_id = l.segment_id
        WHERE l.run_id = ? AND l.previous_run_id IS NOT NULL AND list_contains(?, l.status)
        ORDER BY l.status, l.segment_id
        """,
        [run_id, list(_LINEAGE)],
    ).fetchall()
    return [
        Alert(
            kind="segments",
            severity="watch",
            subject=str(segment),
            message=_LINEAGE[status].format(id=segment, name=name, related=related),
            details={"status": status, "related": related, "previous_run_id": previous},
            run_id=run_id,
        )
        for segment, status, related, previous, name in rows
    ]


# -- quality ------------------------------------------------------------------------------


def quality_alerts(db: Database, config: AlertsConfig, run_id: str) -> list[Alert]:
    """Branches whose chosen model scores under ``min_silhouette`` or ``min_stability``."""
    _created, _as_of, _config, metrics = read_run(db, run_id)
    alerts = []
    for branch, chosen in _chosen_models(metrics):
        scores = {
            "silhouette": (_number(chosen.get("silhouette")), config.min_silhouette),
            "stability": (_number(chosen.get("stability")), config.min_stability),
        }
        low = [
            f"{name} {value:.2f} (under {floor:.2f})"
            for name, (value, floor) in scores.items()
            if value is not None and value < floor
        ]
        if low:
            alerts.append(_quality_alert(run_id, branch, chosen, low, scores))
    return alerts


def _quality_alert(
    run_id: str,
    branch: str,
    chosen: dict[str, Any],
    low: list[str],
    scores: dict[str, tuple[float | None, float]],
) -> Alert:
    where = f"Branch {branch}" if branch else "The run"
    model = f"{chosen.get('method')}, {chosen.get('n_segments')} segments"
    return Alert(
        kind="quality",
        severity="alert",
        subject=branch or "run",
        message=f"{where}: the chosen model ({model}) has {' and '.join(low)}.",
        details={
            "branch": branch,
            "method": chosen.get("method"),
            "n_segments": chosen.get("n_segments"),
            **{name: value for name, (value, _floor) in scores.items()},
            "min_silhouette": scores["silhouette"][1],
            "min_stability": scores["stability"][1],
        },
        run_id=run_id,
    )


def _chosen_models(metrics: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(branch, the selection row with status chosen)`` per clustered branch; a flat run
    is one branch named ``""``. Branches kept whole (nothing chosen) are left out."""
    branches = metrics.get("branches")
    if not isinstance(branches, dict):
        branches = {"": metrics}
    for branch, entry in branches.items():
        rows = entry.get("selection") if isinstance(entry, dict) else None
        chosen = [row for row in rows or [] if row.get("status") == "chosen"]
        if chosen:
            yield str(branch), chosen[0]
