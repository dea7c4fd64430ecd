"""Alerts: judged from a run's stored tables, stored, logged, sent to signed webhooks.

:func:`evaluate_run_alerts` applies the rules of :mod:`audience.refresh.alert_rules` to a
stored run; :func:`refresh_failed_alert` says a refresh failed; :func:`raise_alerts`
stores alerts (table ``alerts``, committed before anything is sent), logs each one (one
WARNING line) and delivers each to every ``[[alerts.webhooks]]`` destination through
:class:`audience.activate.webhooks.WebhookSender`. A run's own alerts are stored inside
the run's transaction instead (:func:`store_alerts`) and delivered once it has committed
(:func:`deliver_alerts`). A webhook's payload is
:meth:`StoredAlert.payload`; its deliveries have the alert's id as their ``subject``.

A delivery that fails (the endpoint is down, refuses, or its secret cannot be read) is
recorded and logged, and never raises out of :func:`raise_alerts`: the alert is stored
whatever happens to its delivery.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from audience.activate.webhooks import WebhookSender
from audience.config import AlertsConfig, WebhookDestination
from audience.errors import ConfigError, NotFoundError
from audience.refresh.alert_rules import (
    Alert,
    AlertKind,
    Severity,
    drift_alerts,
    lineage_alerts,
    quality_alerts,
    size_alerts,
)
from audience.store.alerts import StoredAlert, insert_alerts
from audience.store.database import Database
from audience.store.deliveries import DeliveryState, delivery_states
from audience.store.segment_runs import run_exists

__all__ = [
    "Alert",
    "AlertKind",
    "Severity",
    "deliver_alerts",
    "evaluate_run_alerts",
    "raise_alerts",
    "refresh_failed_alert",
    "store_alerts",
]

logger = logging.getLogger(__name__)


def evaluate_run_alerts(db: Database, config: AlertsConfig, run_id: str) -> list[Alert]:
    """Every alert a stored run raises against the previous one: drift, sizes, segments
    that appeared or went away, model quality. Severity ``alert`` first, then by kind and
    subject (the order :func:`audience.store.alerts.list_alerts` shows them in). A run
    without drift, transitions or lineage rows raises only quality alerts."""
    if not run_exists(db, run_id):
        raise NotFoundError(
            f"run {run_id!r} does not exist; GET /api/runs or the dashboard's Runs page lists them."
        )
    found = [
        *drift_alerts(db, run_id),
        *size_alerts(db, config, run_id),
        *lineage_alerts(db, run_id),
        *quality_alerts(db, config, run_id),
    ]
    return sorted(found, key=lambda a: (a.severity != "alert", a.kind, a.subject))


def refresh_failed_alert(error: str, refresh_id: str) -> Alert:
    """The alert of a refresh that failed with ``error`` (its message is kept whole in the
    details; the alert's message is one line)."""
    line = " ".join(error.split()).rstrip(".") or "no reason given"
    return Alert(
        kind="refresh_failed",
        severity="alert",
        subject=refresh_id,
        message=f"Refresh {refresh_id} failed: {line}.",
        details={"refresh_id": refresh_id, "error": error},
    )


def raise_alerts(
    db: Database,
    config: AlertsConfig,
    workspace_path: Path,
    alerts: Sequence[Alert],
    *,
    now: datetime,
    sender: WebhookSender | None = None,
) -> list[StoredAlert]:
    """Store ``alerts`` (created at ``now``), log each, deliver each to every webhook.

    Returns them as stored, with the state of their deliveries. ``sender`` defaults to a
    real :class:`WebhookSender` on ``db`` (made only when a webhook is configured);
    ``workspace_path`` is where ``secret_file`` paths start.
    """
    stored = store_alerts(db, alerts, now=now)
    return deliver_alerts(db, config, workspace_path, stored, sender=sender)


def store_alerts(db: Database, alerts: Sequence[Alert], *, now: datetime) -> list[StoredAlert]:
    """Store ``alerts`` (created at ``now``) without sending them: inside a run's
    transaction, so that a run and its alerts are kept together; deliver them with
    :func:`deliver_alerts` once it has committed (an alert of a run rolled back is never
    sent)."""
    stored = [_stored(alert, now) for alert in alerts]
    insert_alerts(db, stored)
    return stored


def deliver_alerts(
    db: Database,
    config: AlertsConfig,
    workspace_path: Path,
    stored: Sequence[StoredAlert],
    *,
    sender: WebhookSender | None = None,
) -> list[StoredAlert]:
    """Log each stored alert and deliver it to every webhook (see :func:`raise_alerts`)."""
    for alert in stored:
        logger.warning(
            "alert %s [%s] %s: %s", alert.kind, alert.severity, alert.subject, alert.message
        )
    if not stored or not config.webhooks:
        return list(stored)
    own = sender is None
    active = sender or WebhookSender(db, workspace_path)
    try:
        for alert in stored:
            for index, destination in enumerate(config.webhooks):
                _deliver(active, destination, alert, f"alerts.webhooks[{index}]")
    finally:
        if own:
            active.close()
    states = delivery_states(db, [alert.alert_id for alert in stored])
    return [replace(a, delivery=states.get(a.alert_id, DeliveryState())) for a in stored]


def _stored(alert: Alert, now: datetime) -> StoredAlert:
    return StoredAlert(
        alert_id=f"alert-{secrets.token_hex(6)}",
        created_at=now,
        run_id=alert.run_id,
        kind=alert.kind,
        severity=alert.severity,
        subject=alert.subject,
        message=alert.message,
        details=alert.details,
    )


def _deliver(
    sender: WebhookSender, destination: WebhookDestination, alert: StoredAlert, key: str
) -> None:
    """One alert to one destination; the sender records and logs a failed delivery, and a
    secret that cannot be read is logged here (the message names the key, not the secret)."""
    try:
        sender.send(destination, alert.payload(), subject=alert.alert_id, key=key)
    except ConfigError as exc:
        logger.warning("alert %s not sent to %s: %s", alert.alert_id, key, exc)
