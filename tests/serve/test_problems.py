"""Error bodies stay one short paragraph whatever the request held (issue 18, items 3 and 5)."""

from __future__ import annotations

import orjson
import pytest
from fastapi.testclient import TestClient

from audience.errors import QUOTE_LIMIT, quoted
from audience.serve.problems import INTERNAL, MAX_DETAIL, bounded, invalid_request
from tests.serve.conftest import Served

TIMESTAMP = "2024-01-01T00:00:00Z"
HUGE = "a" * 3_000_000


def test_quoted_cuts_a_long_value_and_says_how_long_it_was() -> None:
    assert quoted("short") == "'short'"
    long = quoted("x" * 5_000)
    assert long == repr("x" * QUOTE_LIMIT) + "… (5,000 characters)"


def test_bounded_cuts_unbroken_runs_and_keeps_the_paragraphs_ends() -> None:
    cut = bounded(f"'email' is not valid, got '{HUGE}'. Fix the traits and retry.")
    assert len(cut) < 300
    assert cut.startswith("'email' is not valid, got 'aaa")
    assert "a…" in cut
    assert cut.endswith("Fix the traits and retry.")
    words = " ".join(["word"] * 2_000) + " the fix."
    kept = bounded(words)
    assert len(kept) <= MAX_DETAIL + 50
    assert kept.endswith("the fix.")
    assert "characters cut" in kept
    assert bounded("A plain message.") == "A plain message."


def test_a_422_cuts_the_names_the_caller_chose() -> None:
    errors = [{"loc": ("body", "traits", "k" * 10_000), "msg": "Extra inputs", "type": "x"}]
    code, body = invalid_request(errors)
    assert code == 422
    assert len(orjson.dumps(body)) < 1_500
    assert body["errors"][0]["loc"][:2] == ["body", "traits"]


def _post(served: Served, path: str, body: bytes) -> tuple[int, dict[str, object]]:
    response = served.client.post(
        path, content=body, headers={**served.as_admin(), "content-type": "application/json"}
    )
    return response.status_code, response.json()


def test_a_huge_rejected_value_is_cut_in_every_answer(served: Served) -> None:
    call = {"type": "track", "userId": "u1", "event": "Order Completed", "timestamp": HUGE}
    code, body = _post(served, "/api/events", orjson.dumps({"batch": [call]}))
    assert code == 200
    assert len(orjson.dumps(body)) < 1_000
    rejected = body["rejected"]
    assert isinstance(rejected, list)
    assert rejected[0]["reason"] == "unparseable_timestamp"
    live = {"traits": {"email": HUGE}}
    code, body = _post(served, "/api/assign/live", orjson.dumps(live))
    assert code == 422
    assert len(str(body["detail"])) < 600
    unknown_field = orjson.dumps({"features": {HUGE: 1}})
    code, body = _post(served, "/api/assign", unknown_field)
    assert code == 422
    assert len(orjson.dumps(body)) < 1_500
    response = served.client.get("/api/jobs/" + "j" * 10_000, headers=served.as_reader())
    assert response.status_code == 404
    assert len(response.json()["detail"]) < 400


def test_a_lone_surrogate_in_a_batch_quarantines_its_call_alone(served: Served) -> None:
    # JSON may escape a lone surrogate; it is no text, so its call is refused as that
    # line of a file would be, and the others go in (issue 18.5: it was a 500).
    good = b'{"type": "track", "userId": "u1", "event": "Order Completed", "timestamp": "%s"}'
    bad = b'{"type": "track", "userId": "u2", "event": "\\udfff", "timestamp": "%s"}'
    batch = b'{"batch": [' + good % TIMESTAMP.encode() + b", " + bad % TIMESTAMP.encode() + b"]}"
    code, body = _post(served, "/api/events", batch)
    assert code == 200, body
    assert (body["accepted"], body["quarantined"]) == (1, 1)
    rejected = body["rejected"]
    assert isinstance(rejected, list)
    assert [(r["index"], r["reason"]) for r in rejected] == [(1, "malformed_json")]
    assert "surrogate" in rejected[0]["detail"]


def test_a_lone_surrogate_in_live_assignment_is_refused_where_it_is(served: Served) -> None:
    event = b'{"event": "\\ud800", "timestamp": "%s"}' % TIMESTAMP.encode()
    live = b'{"traits": {"email": "a@b.com"}, "events": [' + event + b"]}"
    code, body = _post(served, "/api/assign/live", live)
    assert code == 200, body
    rejected = body["rejected"]
    assert isinstance(rejected, list)
    assert [r["reason"] for r in rejected] == ["malformed_json"]
    code, body = _post(served, "/api/assign/live", b'{"traits": {"email": "\\udfff@b.com"}}')
    assert code == 422
    assert "surrogate" in str(body["detail"])


@pytest.mark.parametrize("k", [2**63, 10**30, -(2**63)])
def test_an_int_out_of_range_is_422_naming_the_field(served: Served, k: int) -> None:
    code, body = _post(served, "/api/runs", b'{"k": %d}' % k)
    assert code == 422
    assert "body.k" in str(body["detail"])
    response = served.client.get(f"/api/runs?limit={k}", headers=served.as_reader())
    assert response.status_code == 422
    assert "query.limit" in response.json()["detail"]


def test_a_bug_is_a_json_500_that_says_it_is_not_the_callers_fault(served: Served) -> None:
    def broken() -> None:
        raise RuntimeError("a bug")

    app = served.client.app
    app.add_api_route("/api/broken", broken)  # type: ignore[attr-defined]
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/api/broken")
    assert response.status_code == 500
    assert response.json() == {"detail": INTERNAL}


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("timestamp", "-0044-03-15T00:00:00Z", "timestamp_out_of_range"),
        ("timestamp", -1, "timestamp_out_of_range"),
        ("quantity", 2**63, "number_out_of_range"),
        ("quantity", 1e19, "number_out_of_range"),
    ],
)
def test_an_absurd_value_over_the_api_is_quarantined_and_breaks_nothing_later(
    served: Served, field: str, value: object, reason: str
) -> None:
    call: dict[str, object] = {"type": "track", "userId": "u1", "event": "Order Completed"}
    call["timestamp"] = TIMESTAMP
    if field == "timestamp":
        call["timestamp"] = value
    else:
        call["properties"] = {"revenue": 10, field: value}
    good = {"type": "track", "userId": "u2", "event": "Email Opened", "timestamp": TIMESTAMP}
    code, body = _post(served, "/api/events", orjson.dumps({"batch": [call, good]}))
    assert code == 200, body
    rejected = body["rejected"]
    assert isinstance(rejected, list)
    assert [(r["index"], r["reason"]) for r in rejected] == [(0, reason)]
    # What once broke every later command: a stored date before year 1.
    profile = served.workspace.profile()
    assert profile.first_event is not None
    assert profile.first_event.year >= 1990
    assert profile.quarantine_by_reason[reason] >= 1
