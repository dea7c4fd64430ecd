"""Stored alerts (table ``alerts``) and how their deliveries went (table ``deliveries``,
whose ``subject`` is the alert's id)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from audience.store.database import Database
from audience.store.deliveries import DeliveryState, delivery_states


@dataclass(frozen=True)
class StoredAlert:
    """One row of ``alerts``, with the state of its deliveries when it was read."""

    alert_id: str
    created_at: datetime
    run_id: str | None
    kind: str
    severity: str
    subject: str
    message: str
    details: dict[str, Any]
    delivery: DeliveryState = field(default_factory=DeliveryState)

    def payload(self) -> dict[str, Any]:
        """What a webhook receives: every stored field (``created_at`` in ISO 8601)."""
        return {
            "type": "alert",
            "alert_id": self.alert_id,
            "created_at": self.created_at.isoformat(),
            "run_id": self.run_id,
            "kind": self.kind,
            "severity": self.severity,
            "subject": self.subject,
            "message": self.message,
            "details": self.details,
        }


def insert_alerts(db: Database, alerts: Sequence[StoredAlert]) -> None:
    """Store alerts in one transaction: all of them or none."""
    rows = [
        [
            a.alert_id,
            a.created_at,
            a.run_id,
            a.kind,
            a.severity,
            a.subject,
            a.message,
            orjson.dumps(a.details, option=orjson.OPT_NON_STR_KEYS).decode(),
        ]
        for a in alerts
    ]
    if not rows:
        return
    with db.transaction() as con:
        con.executemany("INSERT INTO alerts VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)


def list_alerts(db: Database, *, limit: int = 50, run_id: str | None = None) -> list[StoredAlert]:
    """The newest alerts first (of one run, when given), with their delivery state; alerts
    raised together come severity ``alert`` first, then by kind and subject."""
    where, params = ("WHERE run_id = ?", [run_id]) if run_id is not None else ("", [])
    rows = db.con.execute(
        f"SELECT alert_id, created_at, run_id, kind, severity, subject, message, details "
        f"FROM alerts {where} "
        "ORDER BY created_at DESC, severity = 'alert' DESC, kind, subject, alert_id LIMIT ?",
        [*params, limit],
    ).fetchall()
    states = delivery_states(db, [str(row[0]) for row in rows])
    return [
        StoredAlert(
            alert_id=str(alert_id),
            created_at=created_at,
            run_id=run,
            kind=str(kind),
            severity=str(severity),
            subject=str(subject),
            message=str(message),
            details=orjson.loads(details) if details else {},
            delivery=states.get(str(alert_id), DeliveryState()),
        )
        for alert_id, created_at, run, kind, severity, subject, message, details in rows
    ]
