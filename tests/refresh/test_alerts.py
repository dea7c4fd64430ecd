"""Alerts from hand-built run tables (drift, transitions, lineage, metrics), then raised:
stored, logged and delivered to a real local receiver."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import httpx2 as httpx
import orjson
import pytest

from audience import Workspace
from audience.activate.webhooks import WebhookSender
from audience.config import AlertsConfig, WebhookDestination
from audience.errors import NotFoundError
from audience.refresh.alerts import (
    Alert,
    evaluate_run_alerts,
    raise_alerts,
    refresh_failed_alert,
)
from audience.store.alerts import list_alerts
from tests.activate.receiver import Reply, receiving
from tests.conftest import NOW

PREVIOUS, CURRENT, FIRST = "seg-20250501-000000", "seg-20250601-000000", "seg-20250401-000000"
SECRET = "alerts-tests-secret-81d2"


def chosen(
    method: str, k: int, silhouette: float | None, stability: float | None
) -> dict[str, Any]:
    row = {"method": method, "k": k, "n_segments": k, "status": "chosen"}
    return row | {"silhouette": silhouette, "stability": stability, "reason": ""}


METRICS = {
    "branches": {
        "customers": {"selection": [
            {"method": "kmeans", "k": 3, "status": "not chosen", "silhouette": 0.01},
            chosen("kmeans", 4, 0.03, 0.9),  # silhouette under 0.05
        ]},
        "prospects": {"selection": [chosen("gmm", 3, 0.2, 0.41)]},  # stability under 0.6
        "lapsed": {"selection": [chosen("kmeans", 2, 0.01, None)]},  # no stability computed
        "fine": {"selection": [chosen("kmeans", 5, 0.3, 0.8)]},
        "whole": {"contacts": 40, "note": "too few contacts to cluster"},  # nothing chosen
    }
}  # fmt: skip


def insert(ws: Workspace, table: str, rows: Sequence[Sequence[object]]) -> None:
    if not rows:
        return
    marks = ", ".join("?" * len(rows[0]))
    ws.database.con.executemany(f"INSERT INTO {table} VALUES ({marks})", [list(r) for r in rows])


def add_run(ws: Workspace, run_id: str, metrics: dict[str, Any], names: dict[str, str]) -> None:
    run = (run_id, NOW, NOW, "done", '{"kind": "tree"}', orjson.dumps(metrics).decode())
    insert(ws, "runs", [run])
    segments = [(run_id, s, None, name, 1, "{}") for s, name in names.items()]
    insert(ws, "segments", segments)


@pytest.fixture
def ws(workspace: Workspace) -> Workspace:
    """Two runs with every table an evaluation reads filled by hand."""
    add_run(workspace, FIRST, {}, {"customers/a": "Loyal"})
    insert(
        workspace, "segment_lineage", [(FIRST, None, "customers/a", "new", None, None, None, None)]
    )
    add_run(workspace, PREVIOUS, {}, {"customers/old": "Old timers", "customers/m": "Merged"})
    add_run(workspace, CURRENT, METRICS, {"customers/n": "Newcomers", "customers/s": "Split"})
    insert(workspace, "drift", [
        (CURRENT, PREVIOUS, "", "order_count", 0.31, 0.22, "alert"),
        (CURRENT, PREVIOUS, "", "recency_days", 0.12, 0.05, "watch"),
        (CURRENT, PREVIOUS, "", "tenure_days", 0.01, 0.02, "ok"),
        (CURRENT, PREVIOUS, "", "open_rate", 0.27, None, "alert"),
        (CURRENT, PREVIOUS, "customers/a", "revenue", 0.15, 0.1, "watch"),
        (CURRENT, PREVIOUS, "customers/b", "revenue", 0.02, 0.01, "ok"),
        (PREVIOUS, FIRST, "", "order_count", 0.9, 0.9, "alert"),  # another run's
    ])  # fmt: skip
    insert(workspace, "transitions", [
        # a: 100 before, 60 + 50 = 110 after (+10%); b: 200 before, 490 after (+145%)
        (CURRENT, PREVIOUS, "customers/a", "customers/a", 60),
        (CURRENT, PREVIOUS, "customers/a", "customers/b", 40),
        (CURRENT, PREVIOUS, "customers/old", "customers/a", 50),
        (CURRENT, PREVIOUS, "customers/b", "customers/b", 200),
        (CURRENT, PREVIOUS, None, "customers/b", 250),
        # c: 100 before, 40 after (-60%); d: 100 → 150 (+50%, at the threshold); e: 100 → 149
        (CURRENT, PREVIOUS, "customers/c", "customers/c", 40),
        (CURRENT, PREVIOUS, "customers/c", None, 60),
        (CURRENT, PREVIOUS, "customers/d", "customers/d", 100),
        (CURRENT, PREVIOUS, None, "customers/d", 50),
        (CURRENT, PREVIOUS, "customers/e", "customers/e", 100),
        (CURRENT, PREVIOUS, None, "customers/e", 49),
    ])  # fmt: skip
    insert(workspace, "segment_lineage", [
        (CURRENT, PREVIOUS, "customers/a", "kept", "customers/a", "membership", 0.8, None),
        (CURRENT, PREVIOUS, "customers/n", "new", None, None, None, None),
        (CURRENT, PREVIOUS, "customers/s", "split", "customers/a", None, None, None),
        (CURRENT, PREVIOUS, "customers/old", "retired", None, None, None, None),
        (CURRENT, PREVIOUS, "customers/m", "merged", "customers/b", None, None, None),
    ])  # fmt: skip
    return workspace


def summary(alerts: Sequence[Alert]) -> list[tuple[str, str, str]]:
    return [(a.kind, a.severity, a.subject) for a in alerts]


def by_subject(alerts: Sequence[Alert], kind: str) -> dict[str, Alert]:
    return {a.subject: a for a in alerts if a.kind == kind}


# -- evaluation -----------------------------------------------------------------------------


def test_every_rule_on_hand_built_tables(ws: Workspace) -> None:
    alerts = evaluate_run_alerts(ws.database, AlertsConfig(), CURRENT)
    assert summary(alerts) == [
        ("drift", "alert", "population"),
        ("quality", "alert", "customers"),
        ("quality", "alert", "lapsed"),
        ("quality", "alert", "prospects"),
        ("size", "alert", "customers/b"),
        ("size", "alert", "customers/c"),
        ("size", "alert", "customers/d"),
        ("drift", "watch", "customers/a"),
        ("segments", "watch", "customers/m"),
        ("segments", "watch", "customers/n"),
        ("segments", "watch", "customers/old"),
        ("segments", "watch", "customers/s"),
    ]
    assert all(a.run_id == CURRENT for a in alerts)


def test_drift_names_features_and_values(ws: Workspace) -> None:
    drift = by_subject(evaluate_run_alerts(ws.database, AlertsConfig(), CURRENT), "drift")
    assert drift["population"].message == (
        "The population drifted on 2 features: order_count (PSI 0.31, KS 0.22), "
        "open_rate (PSI 0.27), and 1 more feature(s) to watch."
    )
    assert drift["customers/a"].message == (
        "Segment customers/a shifted slightly on 1 feature: revenue (PSI 0.15, KS 0.10)."
    )
    features = drift["population"].details["features"]
    assert [(f["feature"], f["status"]) for f in features] == [
        ("order_count", "alert"), ("open_rate", "alert"), ("recency_days", "watch"),
    ]  # fmt: skip
    assert features[1]["ks"] is None
    assert drift["population"].details["previous_run_id"] == PREVIOUS


def test_a_long_drift_list_is_cut_in_the_message_not_the_details(workspace: Workspace) -> None:
    add_run(workspace, CURRENT, {}, {})
    rows = [(CURRENT, PREVIOUS, "", f"f{i}", 0.5 - i / 100, 0.0, "alert") for i in range(8)]
    insert(workspace, "drift", rows)
    [alert] = evaluate_run_alerts(workspace.database, AlertsConfig(), CURRENT)
    assert alert.message.endswith("f4 (PSI 0.46, KS 0.00) and 3 more.")
    assert len(alert.details["features"]) == 8


def test_size_changes_at_and_over_the_threshold(ws: Workspace) -> None:
    sizes = by_subject(evaluate_run_alerts(ws.database, AlertsConfig(), CURRENT), "size")
    assert sizes["customers/b"].message == (
        "Segment customers/b grew by 145%, from 200 to 490 contacts."
    )
    assert sizes["customers/c"].message == (
        "Segment customers/c shrank by 60%, from 100 to 40 contacts."
    )
    assert sizes["customers/d"].details == {
        "previous_run_id": PREVIOUS,
        "previous_size": 100,
        "size": 150,
        "change": 0.5,
        "size_change": 0.5,
    }
    stricter = evaluate_run_alerts(ws.database, AlertsConfig(size_change=1.0), CURRENT)
    assert list(by_subject(stricter, "size")) == ["customers/b"]


def test_new_split_retired_and_merged_segments(ws: Workspace) -> None:
    lineage = by_subject(evaluate_run_alerts(ws.database, AlertsConfig(), CURRENT), "segments")
    assert lineage["customers/n"].message == (
        "Segment customers/n (Newcomers) is new: no segment of the previous run continues into it."
    )
    assert lineage["customers/s"].message == (
        "Segment customers/s (Split) is new, split from customers/a."
    )
    assert lineage["customers/old"].message == (
        "Segment customers/old (Old timers) was retired: no segment of this run continues it."
    )
    assert lineage["customers/m"].message == (
        "Segment customers/m (Merged) was retired, merged into customers/b."
    )


def test_a_first_run_raises_no_lineage_alert(ws: Workspace) -> None:
    assert evaluate_run_alerts(ws.database, AlertsConfig(), FIRST) == []


def test_quality_under_either_floor(ws: Workspace) -> None:
    quality = by_subject(evaluate_run_alerts(ws.database, AlertsConfig(), CURRENT), "quality")
    assert quality["customers"].message == (
        "Branch customers: the chosen model (kmeans, 4 segments) has silhouette 0.03 (under 0.05)."
    )
    assert quality["prospects"].message == (
        "Branch prospects: the chosen model (gmm, 3 segments) has stability 0.41 (under 0.60)."
    )
    assert quality["lapsed"].details["stability"] is None  # not computed: not judged
    both = evaluate_run_alerts(
        ws.database, AlertsConfig(min_silhouette=0.5, min_stability=0.95), CURRENT
    )
    assert by_subject(both, "quality")["fine"].message.endswith(
        "has silhouette 0.30 (under 0.50) and stability 0.80 (under 0.95)."
    )


def test_a_flat_run_is_judged_as_one_branch(workspace: Workspace) -> None:
    add_run(
        workspace, "seg-flat", {"method": "gmm", "selection": [chosen("gmm", 6, 0.02, 0.7)]}, {}
    )
    [alert] = evaluate_run_alerts(workspace.database, AlertsConfig(), "seg-flat")
    assert (alert.kind, alert.subject) == ("quality", "run")
    assert alert.message.startswith("The run: the chosen model (gmm, 6 segments)")


def test_an_unknown_run_is_not_found(workspace: Workspace) -> None:
    with pytest.raises(NotFoundError, match="seg-nope"):
        evaluate_run_alerts(workspace.database, AlertsConfig(), "seg-nope")


def test_a_failed_refresh_is_one_line() -> None:
    alert = refresh_failed_alert("cannot read inbox/x.csv:\n  permission denied.", "rf-1")
    assert (alert.kind, alert.severity, alert.subject) == ("refresh_failed", "alert", "rf-1")
    assert alert.message == "Refresh rf-1 failed: cannot read inbox/x.csv: permission denied."
    assert alert.details["error"] == "cannot read inbox/x.csv:\n  permission denied."


# -- raising --------------------------------------------------------------------------------


def hooks(url: str, **kwargs: Any) -> AlertsConfig:
    return AlertsConfig(webhooks=[WebhookDestination(url=url, secret_env="AL_SECRET", **kwargs)])


def sender(ws: Workspace, environ: dict[str, str] | None = None, **kwargs: Any) -> WebhookSender:
    env = {"AL_SECRET": SECRET} if environ is None else environ
    return WebhookSender(ws.database, ws.path, sleep=lambda _s: None, environ=env, **kwargs)


def test_raise_stores_logs_and_delivers_to_a_real_receiver(
    ws: Workspace, caplog: pytest.LogCaptureFixture
) -> None:
    alerts = evaluate_run_alerts(ws.database, AlertsConfig(), CURRENT)
    with receiving(SECRET.encode()) as receiver, sender(ws) as active:
        raised = raise_alerts(
            ws.database, hooks(receiver.url), ws.path, alerts, now=NOW, sender=active
        )
    assert len(raised) == len(receiver.requests) == receiver.verified == 12
    assert all(a.delivery.label == "delivered" for a in raised)
    bodies = {
        orjson.loads(r["body"])["alert_id"]: orjson.loads(r["body"]) for r in receiver.requests
    }
    first = raised[0]
    assert bodies[first.alert_id] == {
        "type": "alert",
        "alert_id": first.alert_id,
        "created_at": NOW.isoformat(),
        "run_id": CURRENT,
        "kind": "drift",
        "severity": "alert",
        "subject": "population",
        "message": first.message,
        "details": first.details,
    }
    stored = list_alerts(ws.database, limit=100)
    assert [a.alert_id for a in stored] == [a.alert_id for a in raised]
    assert stored[0].delivery.label == "delivered"
    warnings = [r for r in caplog.records if r.name == "audience.refresh.alerts"]
    assert len(warnings) == 12
    assert all(r.levelno == logging.WARNING and "\n" not in r.getMessage() for r in warnings)
    assert warnings[0].getMessage() == f"alert drift [alert] population: {first.message}"


def test_alerts_are_committed_before_anything_is_sent(ws: Workspace) -> None:
    seen: list[int] = []

    def endpoint(request: httpx.Request) -> httpx.Response:
        other = ws.database.con.cursor()  # another connection: sees only committed rows
        seen.append(other.execute("SELECT count(*) FROM alerts").fetchall()[0][0])
        other.close()
        return httpx.Response(200)

    alerts = [refresh_failed_alert("disk full", "rf-2"), refresh_failed_alert("again", "rf-3")]
    with sender(ws, transport=httpx.MockTransport(endpoint)) as active:
        raise_alerts(
            ws.database, hooks("https://hooks.test/in"), ws.path, alerts, now=NOW, sender=active
        )
    assert seen == [2, 2]


def test_a_failed_delivery_never_raises(ws: Workspace, caplog: pytest.LogCaptureFixture) -> None:
    alert = refresh_failed_alert("disk full", "rf-4")
    with receiving(SECRET.encode(), [Reply(503)]) as receiver, sender(ws) as active:
        config = hooks(receiver.url, max_attempts=2)
        [raised] = raise_alerts(ws.database, config, ws.path, [alert], now=NOW, sender=active)
    assert len(receiver.requests) == 2
    assert (raised.delivery.label, raised.delivery.attempts) == ("failed", 2)
    assert any("failed after 2 attempt(s)" in r.getMessage() for r in caplog.records)
    assert list_alerts(ws.database)[0].alert_id == raised.alert_id  # stored all the same


def test_a_missing_secret_is_logged_not_raised(
    ws: Workspace, caplog: pytest.LogCaptureFixture
) -> None:
    alert = refresh_failed_alert("disk full", "rf-5")
    with sender(ws, environ={}) as active:
        [raised] = raise_alerts(
            ws.database, hooks("https://hooks.test/in"), ws.path, [alert], now=NOW, sender=active
        )
    assert (raised.delivery.label, raised.delivery.attempts) == ("failed", 0)
    logged = [r.getMessage() for r in caplog.records if "not sent to" in r.getMessage()]
    assert len(logged) == 1
    assert "alerts.webhooks[0].secret_env" in logged[0]


def test_without_webhooks_alerts_are_stored_and_logged_only(ws: Workspace) -> None:
    raised = raise_alerts(
        ws.database, AlertsConfig(), ws.path, [refresh_failed_alert("x", "rf-6")], now=NOW
    )
    assert raised[0].delivery.label == "none"
    assert ws.database.con.execute("SELECT count(*) FROM deliveries").fetchall() == [(0,)]


def test_list_alerts_filters_by_run_and_limits(ws: Workspace) -> None:
    alerts = evaluate_run_alerts(ws.database, AlertsConfig(), CURRENT)
    later = datetime(2025, 6, 2, tzinfo=UTC)
    raise_alerts(ws.database, AlertsConfig(), ws.path, alerts, now=NOW)
    raise_alerts(ws.database, AlertsConfig(), ws.path, [refresh_failed_alert("x", "r")], now=later)
    assert len(list_alerts(ws.database, limit=100)) == 13
    assert list_alerts(ws.database, limit=1)[0].kind == "refresh_failed"  # newest first
    of_run = list_alerts(ws.database, limit=100, run_id=CURRENT)
    assert len(of_run) == 12
    assert [a.severity for a in of_run] == ["alert"] * 7 + ["watch"] * 5
