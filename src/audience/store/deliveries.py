"""The delivery log (table ``deliveries``): every attempt to send something to an outside
endpoint, whatever it carried (an alert, later a membership change).

A row says what was sent only by its SHA-256 and its ``subject`` (the id of what it
carried), never the body or a secret. One delivery (``delivery_id``) has one row per
attempt, numbered from 1; attempt 0 records a delivery refused before anything was sent
(its signing secret could not be read).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from audience.store.database import Database


@dataclass(frozen=True)
class DeliveryAttempt:
    """One row of ``deliveries``."""

    delivery_id: str
    destination: str
    subject: str
    attempt: int
    sent_at: datetime
    body_sha256: str
    status_code: int | None
    ok: bool
    error: str | None


@dataclass(frozen=True)
class DeliveryState:
    """How the deliveries of one subject went: to how many destinations, how many arrived."""

    destinations: int = 0
    delivered: int = 0
    attempts: int = 0

    @property
    def label(self) -> str:
        """``none`` (nowhere to send), ``delivered``, ``failed`` or ``2/3 delivered``."""
        if self.destinations == 0:
            return "none"
        if self.delivered == self.destinations:
            return "delivered"
        if self.delivered == 0:
            return "failed"
        return f"{self.delivered}/{self.destinations} delivered"


def record_attempt(db: Database, attempt: DeliveryAttempt) -> None:
    """Append one attempt (committed at once: the log survives a crash mid-retry)."""
    db.con.execute(
        "INSERT INTO deliveries VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            attempt.delivery_id,
            attempt.destination,
            attempt.subject,
            attempt.attempt,
            attempt.sent_at,
            attempt.body_sha256,
            attempt.status_code,
            attempt.ok,
            attempt.error,
        ],
    )


def delivery_attempts(db: Database, delivery_id: str) -> list[DeliveryAttempt]:
    """Every attempt of one delivery, in order."""
    rows = db.con.execute(
        "SELECT * FROM deliveries WHERE delivery_id = ? ORDER BY attempt", [delivery_id]
    ).fetchall()
    return [DeliveryAttempt(*row) for row in rows]


def delivery_states(db: Database, subjects: Sequence[str]) -> dict[str, DeliveryState]:
    """Per subject: its deliveries, those with a successful attempt, and all attempts.
    Subjects never delivered anywhere are absent."""
    if not subjects:
        return {}
    rows = db.con.execute(
        """
        SELECT subject, count(*) AS destinations, count(*) FILTER (WHERE delivered),
               sum(attempts)
        FROM (SELECT subject, delivery_id, bool_or(ok) AS delivered,
                     count(*) FILTER (WHERE attempt > 0) AS attempts
              FROM deliveries WHERE list_contains(?, subject) GROUP BY subject, delivery_id)
        GROUP BY subject
        """,
        [list(subjects)],
    ).fetchall()
    return {
        str(subject): DeliveryState(int(destinations), int(delivered), int(attempts))
        for subject, destinations, delivered, attempts in rows
    }
