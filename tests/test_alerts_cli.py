"""`audience alerts`: the stored alerts as a table that fits 80 columns."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx2 as httpx
from typer.testing import CliRunner

from audience import Workspace
from audience.activate.webhooks import WebhookSender
from audience.cli import app
from audience.config import AlertsConfig, WebhookDestination
from audience.refresh.alerts import Alert, raise_alerts, refresh_failed_alert
from tests.conftest import NOW, flat

runner = CliRunner()
RUN = "seg-20250601-120000"


def run(*args: str, columns: int = 80) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env={"COLUMNS": str(columns)})
    return result.exit_code, result.output


def store_alerts(ws: Workspace) -> None:
    """Two raised at NOW on RUN (the drift one delivered, the size one refused), and a
    failed refresh a day later without webhooks."""
    ws.database.con.execute(
        "INSERT INTO runs VALUES (?, ?, ?, 'done', '{\"kind\": \"tree\"}', '{}')", [RUN, NOW, NOW]
    )
    drift = Alert(
        "drift", "alert", "population", "The population drifted on 1 feature: x (PSI 0.30).",
        run_id=RUN,
    )  # fmt: skip
    size = Alert(
        "size", "alert", "customers/[bold]loyal",
        "Segment customers/[bold]loyal grew by 80%, from 100 to 180 contacts.", run_id=RUN,
    )  # fmt: skip

    def endpoint(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200 if b'"drift"' in request.content else 410)

    config = AlertsConfig(webhooks=[WebhookDestination(url="https://h.test/a", secret_env="S")])
    transport = httpx.MockTransport(endpoint)
    with WebhookSender(ws.database, ws.path, transport=transport, environ={"S": "k"}) as sender:
        raise_alerts(ws.database, config, ws.path, [drift, size], now=NOW, sender=sender)
    later = datetime(2025, 6, 2, 8, 30, tzinfo=UTC)
    failed = refresh_failed_alert("cannot read inbox/contacts.csv: permission denied", "rf-7")
    raise_alerts(ws.database, AlertsConfig(), ws.path, [failed], now=later)


def row_of(output: str, subject: str) -> tuple[str, str]:
    """The two lines of the alert about ``subject``: when, severity, subject, delivery;
    then time, kind, message."""
    lines = output.splitlines()
    at = next(i for i, line in enumerate(lines) if f" {subject} " in line)
    return " ".join(lines[at].split()), " ".join(lines[at + 1].split())


def test_alerts_lists_newest_first_with_delivery_state(workspace: Workspace) -> None:
    store_alerts(workspace)
    code, output = run("alerts", "--workspace", str(workspace.path), columns=200)
    assert code == 0, output
    assert output.index("rf-7") < output.index("population")  # newest first
    assert row_of(output, "rf-7") == (
        "2025-06-02 alert rf-7 none",  # no webhook for this one
        "08:30 refresh failed Refresh rf-7 failed: cannot read inbox/contacts.csv: "
        "permission denied.",
    )
    assert row_of(output, "population") == (
        "2025-06-01 alert population delivered",
        "12:00 drift The population drifted on 1 feature: x (PSI 0.30).",
    )
    first, second = row_of(output, "customers/[bold]loyal")  # text, not read as markup
    assert first.endswith("customers/[bold]loyal failed")
    assert second.endswith("grew by 80%, from 100 to 180 contacts.")


def test_alerts_fit_80_columns(workspace: Workspace) -> None:
    store_alerts(workspace)
    code, output = run("alerts", "--workspace", str(workspace.path), columns=80)
    assert code == 0, output
    assert max(len(line) for line in output.splitlines()) <= 80
    message = "Refresh rf-7 failed: cannot read inbox/contacts.csv: permission denied."
    assert set(message.split()) <= set(flat(output).split())  # wrapped, not cut


def test_limit_and_run_filter(workspace: Workspace) -> None:
    store_alerts(workspace)
    code, output = run("alerts", "--limit", "1", "--workspace", str(workspace.path))
    assert code == 0, output
    assert "rf-7" in output
    assert "population" not in output
    code, output = run("alerts", "--run", RUN, "--workspace", str(workspace.path), columns=200)
    assert code == 0, output
    assert "rf-7" not in output
    assert "population" in output
    assert "customers/[bold]loyal" in output


def test_no_alerts_yet(workspace: Workspace) -> None:
    code, output = run("alerts", "--workspace", str(workspace.path))
    assert (code, output.strip()) == (0, "no alerts yet")


def test_an_unknown_run_is_one_paragraph(workspace: Workspace) -> None:
    result = runner.invoke(app, ["alerts", "--run", "seg-nope", "--workspace", str(workspace.path)])
    assert result.exit_code == 1
    assert "run 'seg-nope' does not exist" in flat(result.output)
    assert "Traceback" not in result.output
