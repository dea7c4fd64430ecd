"""Signed webhooks against a real local receiver: signature, retries, the delivery log."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import socket
import time
from collections.abc import Callable
from email.utils import formatdate
from pathlib import Path
from typing import Any

import httpx2 as httpx
import orjson
import pytest

from audience import Workspace
from audience.activate.webhooks import (
    USER_AGENT,
    Backoff,
    WebhookSender,
    public_url,
    retry_after_seconds,
    sign,
    verify_signature,
)
from audience.config import WebhookDestination
from audience.errors import ConfigError
from audience.store.deliveries import DeliveryAttempt, delivery_attempts
from tests.activate.receiver import Reply, receiving

SECRET = "whsec-tests-5f1c0b7e9a"
ENV = {"HOOK_SECRET": SECRET}
PAYLOAD = {"type": "test", "id": 7, "text": "héllo", "items": [1, 2.5, None]}
KEY = "alerts.webhooks[0]"


class Sleeps:
    """The injected sleeper: records each wait instead of sleeping."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def sender(
    ws: Workspace, sleeps: Sleeps, *, draw: float = 1.0, clock: Callable[[], float] = time.time
) -> WebhookSender:
    """A real sender on the workspace's database, its waits recorded, jitter fixed."""
    return WebhookSender(
        ws.database, ws.path, sleep=sleeps, draw=lambda: draw, clock=clock, environ=ENV
    )


def to(url: str, **kwargs: object) -> WebhookDestination:
    return WebhookDestination(url=url, secret_env="HOOK_SECRET", **kwargs)  # type: ignore[arg-type]


def attempts(ws: Workspace, delivery_id: str) -> list[DeliveryAttempt]:
    return delivery_attempts(ws.database, delivery_id)


# -- the signature --------------------------------------------------------------------------


def test_signature_is_the_hmac_sha256_of_timestamp_dot_body() -> None:
    body = b'{"a":1}'
    expected = hmac.new(b"s3cret", b"1748779200." + body, hashlib.sha256).hexdigest()
    assert sign(b"s3cret", "1748779200", body) == f"sha256={expected}"


@pytest.mark.parametrize(
    ("secret", "timestamp", "body", "now", "valid"),
    [
        ("s3cret", "1748779200", b'{"a":1}', 1748779200.0, True),
        ("s3cret", 1748779200, b'{"a":1}', 1748779500.0, True),  # 300 s late: still fresh
        ("s3cret", "1748779200", b'{"a":1}', 1748779501.0, False),  # 301 s late
        ("s3cret", "1748779200", b'{"a":1}', 1748778899.0, False),  # from the future
        ("s3cret", "1748779200", b'{"a":2}', 1748779200.0, False),  # body changed
        ("other", "1748779200", b'{"a":1}', 1748779200.0, False),  # another secret
        ("s3cret", "1748779201", b'{"a":1}', 1748779200.0, False),  # timestamp changed
        ("s3cret", "not-a-time", b'{"a":1}', 1748779200.0, False),
    ],
)
def test_verify_signature(
    secret: str, timestamp: str | int, body: bytes, now: float, valid: bool
) -> None:
    header = "sha256=" + hmac.new(b"s3cret", b"1748779200." + b'{"a":1}', "sha256").hexdigest()
    assert verify_signature(secret, timestamp, body, header, now=now) is valid


@pytest.mark.parametrize("header", ["", "sha256=", "sha1=abc", "sha256=zz", "ünïcode"])
def test_a_malformed_signature_header_is_false(header: str) -> None:
    assert not verify_signature("s3cret", "1748779200", b"{}", header, now=1748779200.0)


# -- backoff and Retry-After ----------------------------------------------------------------


def test_full_jitter_backoff_doubles_from_base_up_to_cap() -> None:
    backoff = Backoff(base=0.5, cap=30.0)
    assert [backoff.wait(n, 1.0, None) for n in range(1, 9)] == [
        0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0,
    ]  # fmt: skip
    assert backoff.wait(3, 0.25, None) == 0.5  # a quarter of 2 s
    assert backoff.wait(3, 0.0, None) == 0.0


def test_retry_after_replaces_the_backoff_capped() -> None:
    backoff = Backoff(retry_after_cap=60.0)
    assert backoff.wait(1, 1.0, 7.0) == 7.0
    assert backoff.wait(1, 1.0, 3600.0) == 60.0


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = 1748779200.0
    assert retry_after_seconds("120", now) == 120.0
    assert retry_after_seconds(formatdate(now + 12, usegmt=True), now) == 12.0
    assert retry_after_seconds(formatdate(now - 50, usegmt=True), now) == 0.0
    assert retry_after_seconds("soon", now) is None
    assert retry_after_seconds(None, now) is None


def test_public_url_drops_credentials_and_query() -> None:
    url = "https://user:pa55@hooks.example.com:8443/in/abc?token=t0k#x"
    assert public_url(url) == "https://hooks.example.com:8443/in/abc"


# -- against a real receiver ----------------------------------------------------------------


def test_a_real_receiver_verifies_the_signature(workspace: Workspace, sleeps: Sleeps) -> None:
    with receiving(SECRET.encode()) as receiver, sender(workspace, sleeps) as hooks:
        result = hooks.send(to(receiver.url), PAYLOAD, subject="thing-1", key=KEY)
    assert result.ok
    assert (result.attempts, result.status_code, result.error) == (1, 200, None)
    assert receiver.verified == len(receiver.requests) == 1
    request = receiver.requests[0]
    assert request["path"] == "/hooks/audience"
    assert orjson.loads(request["body"]) == PAYLOAD
    assert b" " not in request["body"].replace(b"h\xc3\xa9llo", b"")  # compact JSON
    headers = {k.lower(): v for k, v in request["headers"].items()}
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"] == USER_AGENT
    assert headers["x-audience-delivery"] == result.delivery_id
    [row] = attempts(workspace, result.delivery_id)
    assert (row.attempt, row.status_code, row.ok, row.error) == (1, 200, True, None)
    assert (row.destination, row.subject) == (receiver.url, "thing-1")
    assert row.body_sha256 == hashlib.sha256(request["body"]).hexdigest()


def test_a_503_is_retried_under_the_same_delivery_id(workspace: Workspace, sleeps: Sleeps) -> None:
    with (
        receiving(SECRET.encode(), [Reply(503), Reply(200)]) as receiver,
        sender(workspace, sleeps, draw=0.5) as hooks,
    ):
        result = hooks.send(to(receiver.url), PAYLOAD, subject="thing-2", key=KEY)
    assert result.ok
    assert result.attempts == 2
    ids = {r["headers"]["X-Audience-Delivery"] for r in receiver.requests}
    assert ids == {result.delivery_id}
    assert receiver.verified == 2  # each attempt signed
    assert sleeps.waits == [0.25]  # half of the 0.5 s base
    rows = attempts(workspace, result.delivery_id)
    assert [(r.attempt, r.status_code, r.ok) for r in rows] == [(1, 503, False), (2, 200, True)]
    assert rows[0].error == "HTTP 503 Service Unavailable"


def test_retry_after_of_a_429_is_honoured(workspace: Workspace, sleeps: Sleeps) -> None:
    replies = [Reply(429, {"Retry-After": "7"}), Reply(200)]
    with receiving(SECRET.encode(), replies) as receiver, sender(workspace, sleeps) as hooks:
        result = hooks.send(to(receiver.url), PAYLOAD, subject="thing-3", key=KEY)
    assert result.ok
    assert sleeps.waits == [7.0]


def test_retry_after_as_an_http_date(workspace: Workspace, sleeps: Sleeps) -> None:
    clock = 1748779200.0
    replies = [Reply(503, {"Retry-After": formatdate(clock + 20, usegmt=True)}), Reply(204)]
    with (
        receiving(SECRET.encode(), replies, clock=lambda: clock) as receiver,
        sender(workspace, sleeps, clock=lambda: clock) as hooks,
    ):
        result = hooks.send(to(receiver.url), PAYLOAD, subject="thing-4", key=KEY)
    assert result.ok
    assert sleeps.waits == [20.0]
    assert receiver.verified == 2


def test_gives_up_after_max_attempts(
    workspace: Workspace, sleeps: Sleeps, caplog: pytest.LogCaptureFixture
) -> None:
    with receiving(SECRET.encode(), [Reply(500)]) as receiver, sender(workspace, sleeps) as hooks:
        result = hooks.send(to(receiver.url, max_attempts=3), PAYLOAD, subject="t-5", key=KEY)
    assert not result.ok
    assert (result.attempts, result.status_code) == (3, 500)
    assert len(receiver.requests) == 3
    assert sleeps.waits == [0.5, 1.0]  # full jitter drawn at its top: base, then twice
    rows = attempts(workspace, result.delivery_id)
    assert [(r.attempt, r.ok) for r in rows] == [(1, False), (2, False), (3, False)]
    failed = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(failed) == 1
    assert "failed after 3 attempt(s): HTTP 500" in failed[0].getMessage()


@pytest.mark.parametrize("status", [400, 401, 404, 410, 422])
def test_other_4xx_are_not_retried(workspace: Workspace, sleeps: Sleeps, status: int) -> None:
    with (
        receiving(SECRET.encode(), [Reply(status), Reply(200)]) as receiver,
        sender(workspace, sleeps) as hooks,
    ):
        result = hooks.send(to(receiver.url), PAYLOAD, subject="thing-6", key=KEY)
    assert not result.ok
    assert (result.attempts, result.status_code) == (1, status)
    assert len(receiver.requests) == 1
    assert sleeps.waits == []


def test_a_connection_refused_is_retried(workspace: Workspace, sleeps: Sleeps) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/hook"
    with sender(workspace, sleeps) as hooks:
        result = hooks.send(to(url, max_attempts=2), PAYLOAD, subject="thing-7", key=KEY)
    assert not result.ok
    rows = attempts(workspace, result.delivery_id)
    assert [r.attempt for r in rows] == [1, 2]
    assert all(r.status_code is None and "ConnectError" in (r.error or "") for r in rows)


def test_a_timeout_is_retried(workspace: Workspace, sleeps: Sleeps) -> None:
    replies = [Reply(200, delay=1.0), Reply(200)]
    with receiving(SECRET.encode(), replies) as receiver, sender(workspace, sleeps) as hooks:
        destination = to(receiver.url, timeout_seconds=0.2)
        result = hooks.send(destination, PAYLOAD, subject="thing-8", key=KEY)
    assert result.ok
    rows = attempts(workspace, result.delivery_id)
    assert [(r.attempt, r.ok) for r in rows] == [(1, False), (2, True)]
    assert (rows[0].error or "").startswith("timed out")


# -- secrets --------------------------------------------------------------------------------


def test_the_secret_is_in_no_table_and_no_log(
    workspace: Workspace, sleeps: Sleeps, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # httpx's and httpcore's own logs too
    replies = [Reply(503), Reply(400)]
    with receiving(SECRET.encode(), replies) as receiver, sender(workspace, sleeps) as hooks:
        hooks.send(to(receiver.url), PAYLOAD, subject="thing-9", key=KEY)
    with pytest.raises(ConfigError):
        WebhookSender(workspace.database, workspace.path, environ={"HOOK_SECRET": ""}).send(
            to(receiver.url), PAYLOAD, subject="thing-10", key=KEY
        )
    rows = workspace.database.con.execute("SELECT * FROM deliveries").fetchall()
    assert len(rows) == 3
    assert SECRET not in repr(rows)
    assert "héllo" not in repr(rows)  # nor the body
    assert caplog.records  # something was logged
    assert SECRET not in caplog.text


def test_a_missing_secret_names_the_key_and_sends_nothing(
    workspace: Workspace, sleeps: Sleeps
) -> None:
    with receiving(SECRET.encode()) as receiver:
        hooks = WebhookSender(workspace.database, workspace.path, environ={}, sleep=sleeps)
        with hooks, pytest.raises(ConfigError, match=r"alerts\.webhooks\[0\]\.secret_env"):
            hooks.send(to(receiver.url), PAYLOAD, subject="thing-11", key=KEY)
    assert receiver.requests == []
    [row] = workspace.database.con.execute(
        "SELECT attempt, ok, status_code, error FROM deliveries WHERE subject = 'thing-11'"
    ).fetchall()
    assert row[:3] == (0, False, None)
    assert row[3].startswith("not sent: alerts.webhooks[0].secret_env")


def test_a_secret_file_is_read_relative_to_the_workspace(
    workspace: Workspace, sleeps: Sleeps
) -> None:
    (workspace.path / "hook.secret").write_text("from-a-file\n", encoding="utf-8")
    with receiving(b"from-a-file") as receiver, sender(workspace, sleeps) as hooks:
        destination = WebhookDestination(url=receiver.url, secret_file="hook.secret")
        result = hooks.send(destination, PAYLOAD, subject="thing-12", key=KEY)
    assert result.ok
    assert receiver.verified == 1


@pytest.mark.parametrize(
    ("content", "reason"), [(None, "cannot be read"), ("\n", "is empty")], ids=["missing", "empty"]
)
def test_a_bad_secret_file_names_the_key(
    workspace: Workspace, sleeps: Sleeps, content: str | None, reason: str
) -> None:
    path: Path = workspace.path / "hook.secret"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    destination = WebhookDestination(url="http://127.0.0.1:9/x", secret_file="hook.secret")
    with sender(workspace, sleeps) as hooks, pytest.raises(ConfigError) as raised:
        hooks.send(destination, PAYLOAD, subject="thing-13", key="alerts.webhooks[2]")
    assert str(raised.value).startswith(f"alerts.webhooks[2].secret_file is {path}")
    assert reason in str(raised.value)


def test_credentials_in_the_url_are_not_logged_in_the_table(
    workspace: Workspace, sleeps: Sleeps
) -> None:
    with receiving(SECRET.encode()) as receiver, sender(workspace, sleeps) as hooks:
        url = receiver.url.replace("http://", "http://me:pa55w0rd@") + "?token=t0k3n"
        result = hooks.send(to(url), PAYLOAD, subject="thing-14", key=KEY)
    assert result.ok
    [row] = attempts(workspace, result.delivery_id)
    assert row.destination == receiver.url


def test_the_readme_receiver_accepts_what_the_sender_signs(workspace: Workspace) -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    [code] = re.findall(r"```python\n(import hashlib[^`]*?def is_from_audience[^`]*)```", readme)
    namespace: dict[str, Any] = {}
    exec(code, namespace)
    is_from_audience = namespace["is_from_audience"]
    sent: list[httpx.Request] = []

    def endpoint(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200)

    with WebhookSender(
        workspace.database, workspace.path, transport=httpx.MockTransport(endpoint), environ=ENV
    ) as hooks:
        hooks.send(to("https://hooks.test/in"), PAYLOAD, subject="thing-15", key=KEY)
    [request] = sent
    assert is_from_audience(SECRET.encode(), request.headers, request.content)
    assert not is_from_audience(SECRET.encode(), request.headers, request.content + b" ")
    assert not is_from_audience(b"another", request.headers, request.content)
