"""Random bodies for the endpoints that take raw calls: never a 5xx, errors always a JSON
``{"detail": …}`` (issue 18.5). Seeded and bounded, so a failure is the same every run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audience import Workspace
from audience.serve import create_app
from audience.store.keys import create_key
from tests.serve.conftest import copy_workspace

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Num:
    """A JSON number written as is: 1e400, 2**70, -0, 1E-400."""

    text: str


@dataclass(frozen=True)
class Raw:
    """JSON text put in as is (deep nesting)."""

    text: str


def encode(value: object) -> str:
    """JSON text of ``value``; lone surrogates escaped as JSON allows, NaN as Python writes it."""
    if isinstance(value, Num | Raw):
        return value.text
    if isinstance(value, dict):
        return "{" + ", ".join(f"{encode(k)}: {encode(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(encode(v) for v in value) + "]"
    return json.dumps(value)


surrogates = st.sampled_from(["\udfff", "\ud800", "a\udc00b", "\ud83d"])
texts = st.one_of(
    st.text(max_size=30),
    surrogates,
    st.sampled_from(["Order Completed", "Email Opened", "2024-01-01T00:00:00Z", "a@b.com", ""]),
    st.integers(1_000, 300_000).map(lambda n: "x" * n),
)
numbers = st.one_of(
    st.integers(),
    st.integers(2**62, 2**80),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["1e400", "-1e400", "1e19", "9223372036854775808", "-0", "1E-400"]).map(Num),
    st.integers(20, 400).map(lambda n: Num("9" * n)),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, texts)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
) | st.integers(1, 3_000).map(lambda n: Raw("[" * n + "]" * n))

CALL_FIELDS = ["type", "userId", "anonymousId", "event", "timestamp", "messageId", "name"]
PROPERTIES = ["revenue", "quantity", "price", "campaign_id", "category", "is_machine_open"]
TRAITS = ["email", "consent", "created_at", "country", "firstName"]


def shaped(fields: list[str]) -> st.SearchStrategy[dict[object, object]]:
    """An object with some of these fields (and now and then another), each any value."""
    return st.dictionaries(st.sampled_from(fields) | st.text(max_size=6), values, max_size=6)


calls = st.builds(
    lambda base, kind, props, traits: {
        **base,
        "type": kind,
        "properties": props,
        "traits": traits,
    },
    shaped(CALL_FIELDS),
    st.sampled_from(["track", "identify", "page"]) | values,
    shaped(PROPERTIES) | values,
    shaped(TRAITS) | values,
)
batches = st.one_of(
    st.builds(lambda items: {"batch": items}, st.lists(calls, min_size=1, max_size=5)),
    st.builds(lambda items: {"batch": items}, values),
    values,
)
live = st.one_of(
    st.builds(
        lambda traits, events: {"traits": traits, "events": events},
        shaped(TRAITS) | values,
        st.lists(calls, max_size=4) | values,
    ),
    values,
)
raw_bodies = st.binary(max_size=300) | st.sampled_from([b"", b"{", b'{"batch": [', b"\xff\xfe"])


@pytest.fixture(scope="module")
def client(built_workspace: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    ws = Workspace(copy_workspace(built_workspace, tmp_path_factory.mktemp("random")))
    _key, key = create_key(ws.database, "admin", "random requests", datetime.now(UTC))
    with TestClient(create_app(ws), raise_server_exceptions=False) as test_client:
        yield Client(test_client, {"X-API-Key": key, "content-type": "application/json"})


@dataclass
class Client:
    http: TestClient
    headers: dict[str, str]

    def check(self, path: str, body: bytes) -> None:
        response = self.http.post(path, content=body, headers=self.headers)
        assert response.status_code < 500, (response.status_code, body[:500], response.text)
        answer = response.json()  # JSON whatever the status
        if response.status_code >= 400:
            assert isinstance(answer, dict)
            assert isinstance(answer["detail"], str)
            assert len(answer["detail"]) < 5_000


EXAMPLES = settings(
    max_examples=40,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.mark.parametrize("path", ["/api/events", "/api/assign/live"])
@EXAMPLES
@given(body=raw_bodies)
def test_random_bytes_are_never_a_5xx(client: Client, path: str, body: bytes) -> None:
    client.check(path, body)


@EXAMPLES
@given(body=batches)
def test_random_batches_are_never_a_5xx(client: Client, body: object) -> None:
    client.check("/api/events", encode(body).encode("utf-8", "surrogatepass"))


@EXAMPLES
@given(body=live)
def test_random_live_calls_are_never_a_5xx(client: Client, body: object) -> None:
    client.check("/api/assign/live", encode(body).encode("utf-8", "surrogatepass"))
