"""`GET /api/alerts` and the dashboard's Alerts page, on a real workspace with alerts."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx2 as httpx
import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient

from audience import Workspace
from audience.activate.webhooks import WebhookSender
from audience.config import AlertsConfig, WebhookDestination
from audience.refresh.alerts import Alert, evaluate_run_alerts, raise_alerts, refresh_failed_alert
from audience.serve import create_app
from audience.serve.schemas import AlertInfo
from audience.store.keys import create_key
from audience.store.segment_runs import read_run
from tests.conftest import NOW
from tests.serve.conftest import Served
from tests.serve.dashboard_fixtures import SCRIPT_ESCAPED, SCRIPT_NAME, signed_in
from tests.serve.test_openapi import check_operation

RUN = "seg-20250601-120000"


@dataclass
class Alerted:
    client: TestClient
    read: str

    @property
    def app(self) -> FastAPI:
        app: FastAPI = self.client.app  # type: ignore[assignment]
        return app


@pytest.fixture
def alerted(workspace: Workspace) -> Iterator[Alerted]:
    """A workspace with one run, two alerts on it (one delivered, one whose webhook failed)
    and a failed refresh a day later; served, with a read key."""
    con = workspace.database.con
    con.execute("INSERT INTO runs VALUES (?, ?, ?, 'done', '{}', '{}')", [RUN, NOW, NOW])
    on_run = [
        Alert("drift", "alert", "population", "The population drifted.", {"psi": 0.3}, RUN),
        Alert("segments", "watch", SCRIPT_NAME, f"Segment {SCRIPT_NAME} is new.", {}, RUN),
    ]
    config = AlertsConfig(webhooks=[WebhookDestination(url="https://h.test/a", secret_env="S")])

    def endpoint(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200 if b'"drift"' in request.content else 500)

    transport = httpx.MockTransport(endpoint)
    with WebhookSender(
        workspace.database, workspace.path, transport=transport, sleep=lambda _s: None,
        environ={"S": "k"},
    ) as sender:  # fmt: skip
        raise_alerts(workspace.database, config, workspace.path, on_run, now=NOW, sender=sender)
    later = datetime(2025, 6, 2, tzinfo=UTC)
    failed = [refresh_failed_alert("disk full", "rf-1")]
    raise_alerts(workspace.database, AlertsConfig(), workspace.path, failed, now=later)
    _key, read = create_key(workspace.database, "read", "reader", NOW)
    with TestClient(create_app(workspace)) as client:
        yield Alerted(client, read)


def get(alerted: Alerted, query: str = "") -> httpx.Response:
    response: httpx.Response = alerted.client.get(
        f"/api/alerts{query}", headers={"X-API-Key": alerted.read}
    )
    return response


def test_alerts_newest_first_with_delivery_state(alerted: Alerted) -> None:
    response = get(alerted)
    assert response.status_code == 200
    body = response.json()
    [AlertInfo.model_validate(item) for item in body]  # the documented shape
    assert [(a["kind"], a["subject"]) for a in body] == [
        ("refresh_failed", "rf-1"), ("drift", "population"), ("segments", SCRIPT_NAME),
    ]  # fmt: skip
    refresh, drift, new = body
    assert refresh["run_id"] is None
    assert refresh["delivery"] == {
        "state": "none",
        "destinations": 0,
        "delivered": 0,
        "attempts": 0,
    }
    assert drift["delivery"] == {
        "state": "delivered",
        "destinations": 1,
        "delivered": 1,
        "attempts": 1,
    }
    assert new["delivery"]["state"] == "failed"
    assert new["delivery"]["attempts"] == 5  # max_attempts of a 500, each one retried
    assert drift["details"] == {"psi": 0.3}
    assert drift["created_at"].startswith("2025-06-01T12:00:00")


def test_limit_and_run(alerted: Alerted) -> None:
    assert [a["subject"] for a in get(alerted, "?limit=1").json()] == ["rf-1"]
    assert [a["run_id"] for a in get(alerted, f"?run={RUN}").json()] == [RUN, RUN]


def test_an_unknown_run_is_404(alerted: Alerted) -> None:
    response = get(alerted, "?run=seg-nope")
    assert response.status_code == 404
    assert "seg-nope" in response.json()["detail"]


def test_a_key_is_needed(alerted: Alerted) -> None:
    assert alerted.client.get("/api/alerts").status_code == 401


def test_the_schema_documents_the_endpoint(alerted: Alerted) -> None:
    schema = alerted.client.get("/openapi.json").json()
    operation = schema["paths"]["/api/alerts"]["get"]
    assert {p["name"] for p in operation["parameters"]} == {"limit", "run"}
    assert "AlertInfo" in schema["components"]["schemas"]


@pytest.mark.slow
def test_generated_requests_keep_to_the_schema(alerted: Alerted) -> None:
    # The whole API's schemathesis run (test_openapi.py) covers this endpoint too; this
    # one runs on a workspace that has alerts in every delivery state.
    schema = schemathesis.openapi.from_asgi("/openapi.json", alerted.app)
    check_operation(schema["/api/alerts"]["GET"], alerted.read)


def test_the_dashboard_page_escapes_and_shows_states(alerted: Alerted) -> None:
    reader = signed_in(alerted.app, alerted.read)
    page = reader.get("/alerts")
    assert page.status_code == 200
    assert SCRIPT_NAME not in page.text
    assert f"Segment {SCRIPT_ESCAPED} is new." in page.text
    assert page.text.count('<tr data-severity="alert">') == 2
    assert page.text.count('<tr data-severity="watch">') == 1
    assert '<span class="badge delivered">delivered</span>' in page.text
    assert '<span class="badge failed">failed</span>' in page.text
    assert "(5 attempts)" in page.text
    assert '<a href="/alerts" aria-current="page">Alerts</a>' in page.text


def test_the_page_says_when_there_is_no_alert(workspace: Workspace) -> None:
    _key, read = create_key(workspace.database, "read", "reader", NOW)
    with TestClient(create_app(workspace)) as client:
        page = signed_in(client.app, read).get("/alerts")  # type: ignore[arg-type]
    assert page.status_code == 200
    assert "No alert yet" in page.text


@pytest.mark.slow
def test_a_real_runs_quality_alerts_are_served(served: Served) -> None:
    """On a run the tree really stored (its metrics as tree_run writes them), floors no
    model can reach raise one quality alert per clustered branch, which the API serves."""
    ws = served.workspace
    run_id = ws.run_id()
    strict = AlertsConfig(min_silhouette=0.99, min_stability=1.0)
    alerts = evaluate_run_alerts(ws.database, strict, run_id)
    raise_alerts(ws.database, strict, ws.path, alerts, now=NOW)
    branches = read_run(ws.database, run_id)[3]["branches"]
    clustered = {b for b, entry in branches.items() if entry.get("selection")}
    assert clustered  # the default config clusters customers and prospects
    assert [a.kind for a in alerts] == ["quality"] * len(clustered)
    assert {a.subject for a in alerts} == clustered
    body = served.client.get(f"/api/alerts?run={run_id}", headers=served.as_reader()).json()
    assert {a["subject"] for a in body} == clustered
    assert all(a["message"].startswith(f"Branch {a['subject']}: the chosen model (") for a in body)
