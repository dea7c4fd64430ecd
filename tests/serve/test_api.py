"""The JSON API over a real segmented workspace: every endpoint, auth, and bad input."""

from __future__ import annotations

import threading
from typing import Any

import orjson
import pandas as pd
import pytest

from audience import Workspace
from audience.serve.jobs import Job
from audience.serve.schemas import MAX_ASSIGN_BATCH
from audience.store.results import scalar_int
from tests.models.audiences import AS_OF
from tests.serve.conftest import Served

RULE_ROWS_SQL = (
    "SELECT f.*, c.consent, c.signup_at, "
    "nullif(lower(split_part(c.email, '@', 2)), '') AS email_domain "
    "FROM features f JOIN contacts c USING (contact_id) WHERE f.as_of = ? ORDER BY contact_id"
)

EVERY_ENDPOINT: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/api/runs", None),
    ("POST", "/api/runs", {}),
    ("GET", "/api/runs/x", None),
    ("GET", "/api/jobs/x", None),
    ("GET", "/api/segments", None),
    ("GET", "/api/segments/customers", None),
    ("PATCH", "/api/segments/customers", {"name": "x"}),
    ("GET", "/api/segments/customers/members", None),
    ("GET", "/api/contacts/C0000001", None),
    ("DELETE", "/api/contacts/C0000001", None),
    ("POST", "/api/assign", {"features": {}}),
    ("POST", "/api/assign/batch", {"contacts": [{}]}),
    ("POST", "/api/assign/live", {"traits": {}}),
    ("POST", "/api/events", {"batch": [{}]}),
    ("GET", "/api/keys", None),
    ("POST", "/api/keys", {"role": "read"}),
    ("DELETE", "/api/keys/x", None),
]
ADMIN_ONLY = [e for e in EVERY_ENDPOINT if e[0] in ("POST", "PATCH", "DELETE") or "keys" in e[1]]
ADMIN_ONLY = [e for e in ADMIN_ONLY if not e[1].startswith("/api/assign")]


def call(served: Served, method: str, path: str, body: Any, headers: dict[str, str]) -> Any:
    return served.client.request(method, path, json=body, headers=headers)


def rule_rows(served: Served) -> pd.DataFrame:
    rows = served.workspace.database.con.execute(RULE_ROWS_SQL, [AS_OF]).df()
    return rows


def stored(served: Served, run_id: str) -> pd.Series:
    frame = served.workspace.database.con.execute(
        "SELECT contact_id, segment_id FROM memberships WHERE run_id = ?", [run_id]
    ).df()
    return frame.set_index("contact_id")["segment_id"]


def as_json_features(row: pd.Series) -> dict[str, Any]:
    """A feature row as a client would send it: JSON numbers, strings and nulls."""
    out: dict[str, Any] = {}
    for name, value in row.items():
        if name in ("contact_id", "as_of"):
            continue
        if pd.api.types.is_scalar(value) and pd.isna(value):
            out[str(name)] = None
        elif isinstance(value, pd.Timestamp):
            out[str(name)] = value.isoformat()
        elif hasattr(value, "item"):
            out[str(name)] = value.item()
        else:
            out[str(name)] = value
    return out


def test_health_says_when_the_warm_up_is_done(served: Served) -> None:
    service = served.client.app.state.service  # type: ignore[attr-defined]
    thread = service.warm_up()
    thread.join(120)
    assert served.client.get("/health").json()["warm"] is True
    assert served.workspace.run_id() in service._profiles
    assert service._current is not None


def test_health_needs_no_key(served: Served) -> None:
    response = served.client.get("/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


@pytest.mark.parametrize(("method", "path", "body"), EVERY_ENDPOINT)
def test_every_endpoint_refuses_a_missing_or_wrong_key(
    served: Served, method: str, path: str, body: Any
) -> None:
    missing = call(served, method, path, body, {})
    assert missing.status_code == 401, path
    assert "X-API-Key" in missing.json()["detail"]
    assert missing.headers["www-authenticate"] == "Bearer"
    wrong = call(served, method, path, body, {"X-API-Key": served.admin[:-4] + "abcd"})
    assert wrong.status_code == 401, path
    assert "not valid" in wrong.json()["detail"]


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ONLY)
def test_a_read_key_cannot_change_anything(
    served: Served, method: str, path: str, body: Any
) -> None:
    tables = ("runs", "segments", "segment_names", "events", "quarantine", "api_keys")
    con = served.workspace.database.con
    before = {t: scalar_int(con, f"SELECT count(*) FROM {t}") for t in tables}
    response = call(served, method, path, body, served.as_reader())
    assert response.status_code == 403, path
    assert "read role" in response.json()["detail"]
    assert {t: scalar_int(con, f"SELECT count(*) FROM {t}") for t in tables} == before
    assert served.client.app.state.service.jobs.all() == []  # type: ignore[attr-defined]


def test_runs_lists_the_tree_run_and_the_rfm_baseline(served: Served) -> None:
    runs = served.client.get("/api/runs", headers=served.as_reader()).json()
    kinds = {run["kind"]: run for run in runs}
    assert set(kinds) == {"tree", "rules"}
    tree_run = kinds["tree"]
    assert tree_run["contacts"] == scalar_int(
        served.workspace.database.con, "SELECT count(*) FROM contacts"
    )
    detail = served.client.get(f"/api/runs/{tree_run['run_id']}", headers=served.as_reader())
    assert detail.status_code == 200
    assert detail.json()["config"]["kind"] == "tree"
    assert "branches" in detail.json()["metrics"]


def test_an_unknown_run_is_404_and_names_the_command(served: Served) -> None:
    response = served.client.get("/api/runs/seg-1999", headers=served.as_reader())
    assert response.status_code == 404
    assert "seg-1999" in response.json()["detail"]
    tree = served.client.get("/api/segments?run=seg-1999", headers=served.as_reader())
    assert tree.status_code == 404


def test_the_tree_has_every_stored_segment_with_its_persona(served: Served) -> None:
    body = served.client.get("/api/segments", headers=served.as_reader()).json()
    expected = served.workspace.segments()
    assert [s["segment_id"] for s in body["segments"]] == expected["segment_id"].tolist()
    clustered = [s for s in body["segments"] if s["kind"] == "cluster"]
    assert clustered
    for segment in clustered:
        assert segment["name"]
        assert segment["traits"] == segment["definition"]["persona"]["traits"]
        assert segment["definition"]["persona"]["messaging"]
    roots = [s for s in body["segments"] if s["parent_id"] is None]
    assert sum(s["share"] for s in roots) == pytest.approx(1.0)


def test_one_segment_and_an_unknown_one(served: Served) -> None:
    tree = served.workspace.segments()
    leaf = tree[tree["kind"] == "cluster"].iloc[0]
    response = served.client.get(f"/api/segments/{leaf['segment_id']}", headers=served.as_reader())
    assert response.status_code == 200
    assert response.json()["size"] == leaf["size"]
    assert response.json()["definition"]["features"]
    missing = served.client.get("/api/segments/customers/nobody", headers=served.as_reader())
    assert missing.status_code == 404
    assert "customers/nobody" in missing.json()["detail"]


def test_members_are_paged_without_overlap_and_add_up(served: Served) -> None:
    size = int(served.workspace.find_segment("customers")["size"])
    seen: list[str] = []
    offset = 0
    while True:
        page = served.client.get(
            f"/api/segments/customers/members?limit=400&offset={offset}",
            headers=served.as_reader(),
        ).json()
        assert page["total"] == size
        seen += [m["contact_id"] for m in page["members"]]
        offset += 400
        if offset >= page["total"]:
            break
    assert len(seen) == len(set(seen)) == size
    assert seen == sorted(seen)
    run = served.workspace.run_id()
    segments = stored(served, run).loc[seen]
    assert segments.str.startswith("customers/").all()


def test_members_limits_are_checked(served: Served) -> None:
    for query in ("limit=0", "limit=10001", "offset=-1", "limit=abc"):
        response = served.client.get(
            f"/api/segments/customers/members?{query}", headers=served.as_reader()
        )
        assert response.status_code == 422, query
        assert "query" in response.json()["detail"]


def test_a_contact_has_its_segment_and_reasons(served: Served) -> None:
    run = served.workspace.run_id()
    segments = stored(served, run)
    clustered = segments[segments.str.startswith("customers/")]
    contact_id = clustered.index[0]
    body = served.client.get(f"/api/contacts/{contact_id}", headers=served.as_reader()).json()
    assert body["segment_id"] == clustered.iloc[0]
    assert body["run_id"] == run
    assert body["why"]
    assert body["segment_name"] == served.workspace.find_segment(body["segment_id"])["name"]
    missing = served.client.get("/api/contacts/NOBODY", headers=served.as_reader())
    assert missing.status_code == 404
    assert "NOBODY" in missing.json()["detail"]


def test_assigning_stored_contacts_gives_their_stored_segments(served: Served) -> None:
    rows = rule_rows(served)
    run = served.workspace.run_id()
    expected = stored(served, run).loc[rows["contact_id"]].to_numpy()
    sample = list(range(0, len(rows), 97))
    for i in sample:
        body = {"features": as_json_features(rows.iloc[i])}
        response = served.client.post("/api/assign", json=body, headers=served.as_reader())
        assert response.status_code == 200, response.text
        assert response.json()["segment_id"] == expected[i]
        assert response.json()["run_id"] == run
    batch = {"contacts": [as_json_features(row) for _, row in rows.iterrows()]}
    response = served.client.post(
        "/api/assign/batch",
        content=orjson.dumps(batch),
        headers={**served.as_reader(), "content-type": "application/json"},
    )
    assert response.status_code == 200
    got = [a["segment_id"] for a in response.json()["assignments"]]
    assert got == expected.tolist()


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"features": {"order_count": "many"}}, "features.order_count"),
        ({"features": {"recency_days": float("nan")}}, "features.recency_days"),
        ({"features": {"recency_dayz": 3}}, "features.recency_dayz"),
        ({"feature": {}}, "body.features"),
        ([1, 2], "body"),
    ],
)
def test_wrong_types_and_unknown_fields_are_422_naming_the_field(
    served: Served, body: Any, needle: str
) -> None:
    content = (
        orjson.dumps(body) if "nan" not in str(body) else b'{"features": {"recency_days": NaN}}'
    )
    response = served.client.post(
        "/api/assign",
        content=content,
        headers={**served.as_reader(), "content-type": "application/json"},
    )
    assert response.status_code in (400, 422)
    assert needle.split(".")[-1] in response.json()["detail"]


def test_malformed_json_is_400(served: Served) -> None:
    response = served.client.post(
        "/api/events",
        content=b'{"batch": [',
        headers={**served.as_admin(), "content-type": "application/json"},
    )
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["detail"]


def test_oversized_batches_are_refused(served: Served) -> None:
    too_many = {"contacts": [{}] * (MAX_ASSIGN_BATCH + 1)}
    response = served.client.post("/api/assign/batch", json=too_many, headers=served.as_reader())
    assert response.status_code == 422
    assert "10000" in response.json()["detail"]
    huge = b'{"batch": [' + b",".join([b'{"event": "' + b"x" * 1000 + b'"}'] * 9000) + b"]}"
    response = served.client.post(
        "/api/events",
        content=huge,
        headers={**served.as_admin(), "content-type": "application/json"},
    )
    assert response.status_code == 413
    assert "limit" in response.json()["detail"]


def test_live_assignment_computes_features_from_raw_calls(served: Served) -> None:
    body = {
        "traits": {
            "email": "new.buyer@example.com",
            "consent": "subscribed",
            "created_at": "2026-01-10T09:00:00Z",
            "country": "DE",
        },
        "events": [
            {
                "event": "Order Completed",
                "timestamp": "2026-06-20T10:00:00Z",
                "properties": {"order_id": "o-1", "revenue": 80.0},
            },
            {
                "event": "Order Completed",
                "timestamp": "2026-06-25T10:00:00Z",
                "properties": {"order_id": "o-2", "revenue": 40.0},
            },
            {"event": "Order Completed", "timestamp": "not a time"},
        ],
        "as_of": AS_OF.isoformat(),
    }
    response = served.client.post("/api/assign/live", json=body, headers=served.as_reader())
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["features"]["order_count"] == 2
    assert result["features"]["revenue_total"] == pytest.approx(120.0)
    assert result["features"]["r_score"] in range(1, 6)
    assert result["segment_id"].startswith("customers/")
    assert [r["line"] for r in result["rejected"]] == [4]  # line 1 is the identify call


def test_live_assignment_with_rejected_attributes_is_422(served: Served) -> None:
    body = {
        "traits": {"email": "not an email", "consent": "subscribed"},
        "as_of": AS_OF.isoformat(),
    }
    response = served.client.post("/api/assign/live", json=body, headers=served.as_reader())
    assert response.status_code == 422
    assert "rejected" in response.json()["detail"]


def test_events_are_checked_like_a_file_and_rejects_listed(served: Served) -> None:
    con = served.workspace.database.con
    events_before = scalar_int(con, "SELECT count(*) FROM events")
    batch = [
        {
            "type": "track",
            "userId": "C0000001",
            "event": "Email Opened",
            "timestamp": "2026-06-01T08:00:00Z",
            "messageId": "api-1",
            "properties": {"campaign_id": "c1"},
        },
        {"type": "track", "event": "Email Opened", "timestamp": "2026-06-01T08:00:00Z"},
        {
            "type": "track",
            "userId": "C0000002",
            "event": "Email Clicked",
            "timestamp": "2999-01-01T00:00:00Z",
            "messageId": "api-3",
        },
        {"type": "alias", "userId": "C0000003"},
    ]
    response = served.client.post("/api/events", json={"batch": batch}, headers=served.as_admin())
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["received"], body["accepted"], body["quarantined"]) == (4, 1, 3)
    assert sorted(r["index"] for r in body["rejected"]) == [1, 2, 3]
    assert sum(body["quarantine_reasons"].values()) == 3
    assert scalar_int(con, "SELECT count(*) FROM events") == events_before + 1
    kept = scalar_int(
        con, "SELECT count(*) FROM quarantine WHERE ingest_id = ?", [body["ingest_id"]]
    )
    assert kept == 3
    again = served.client.post("/api/events", json={"batch": batch[:1]}, headers=served.as_admin())
    assert again.json()["duplicates"] == 1
    assert scalar_int(con, "SELECT count(*) FROM events") == events_before + 1


def test_an_empty_event_batch_is_422_and_changes_nothing(served: Served) -> None:
    con = served.workspace.database.con
    before = scalar_int(con, "SELECT count(*) FROM ingests")
    response = served.client.post("/api/events", json={"batch": []}, headers=served.as_admin())
    assert response.status_code == 422
    assert scalar_int(con, "SELECT count(*) FROM ingests") == before


def test_renaming_needs_a_name_and_sticks(served: Served) -> None:
    empty = served.client.patch(
        "/api/segments/customers", json={"name": ""}, headers=served.as_admin()
    )
    assert empty.status_code == 422
    renamed = served.client.patch(
        "/api/segments/customers", json={"name": "Buyers"}, headers=served.as_admin()
    )
    assert renamed.status_code == 200
    assert renamed.json()["name"] == "Buyers"
    assert served.workspace.find_segment("customers")["name"] == "Buyers"


def test_a_background_run_is_stored_and_becomes_the_model(served: Served) -> None:
    before = served.workspace.run_id()
    response = served.client.post(
        "/api/runs", json={"as_of": AS_OF.isoformat(), "k": 3}, headers=served.as_admin()
    )
    assert response.status_code == 202
    job_id = response.json()["job_id"]
    service = served.client.app.state.service  # type: ignore[attr-defined]
    service.jobs.wait(job_id, timeout=300)
    status = served.client.get(f"/api/jobs/{job_id}", headers=served.as_reader()).json()
    assert status["status"] == "succeeded", status
    assert status["run_id"] != before
    assert served.workspace.run_id() == status["run_id"]
    assigned = served.client.post(
        "/api/assign", json={"features": {"order_count": 2}}, headers=served.as_reader()
    )
    assert assigned.json()["run_id"] == status["run_id"]


@pytest.mark.slow
def test_assignments_during_a_model_swap_each_use_one_model_whole(served: Served) -> None:
    """Issue 12: a new run is picked up without a restart; an assignment in flight finishes
    on the model it started with, with that model's segment names, and every request after
    the swap uses the new model."""
    service = served.client.app.state.service  # type: ignore[attr-defined]
    old = service.model().run_id
    body = {"contacts": [{"order_count": n % 4, "revenue_total": 40.0 * n} for n in range(300)]}
    answers: list[dict[str, Any]] = []
    stop = threading.Event()

    def keep_assigning() -> None:
        while not stop.is_set():
            response = served.client.post(
                "/api/assign/batch", json=body, headers=served.as_reader()
            )
            answers.append(response.json())

    worker = threading.Thread(target=keep_assigning)
    worker.start()
    try:
        with Workspace(served.workspace.path) as other:
            new = other.segment(AS_OF, k=3).run_id
        service.workspace_changed()
        after = served.client.post("/api/assign/batch", json=body, headers=served.as_reader())
    finally:
        stop.set()
        worker.join(60)
    assert after.json()["run_id"] == new
    names = {
        run: dict(zip(tree["segment_id"], tree["name"], strict=True))
        for run in (old, new)
        for tree in [served.workspace.segments(run)]
    }
    assert old in {answer["run_id"] for answer in answers}  # the worker ran during the run
    for answer in answers:
        assert answer["run_id"] in (old, new)
        for one in answer["assignments"]:
            assert one["run_id"] == answer["run_id"]
            assert one["segment_name"] == names[answer["run_id"]][one["segment_id"]]


def test_a_second_run_while_one_is_going_is_409(served: Served) -> None:
    service = served.client.app.state.service  # type: ignore[attr-defined]
    busy = Job("busy0000", None, None, None, status="running")
    service.jobs._jobs[busy.job_id] = busy
    response = served.client.post("/api/runs", json={}, headers=served.as_admin())
    assert response.status_code == 409
    assert "busy0000" in response.json()["detail"]
    assert served.client.get("/api/jobs/nope", headers=served.as_reader()).status_code == 404


def test_a_failed_run_reports_why(served: Served) -> None:
    response = served.client.post(
        "/api/runs", json={"as_of": "1990-01-01T00:00:00Z"}, headers=served.as_admin()
    )
    job_id = response.json()["job_id"]
    service = served.client.app.state.service  # type: ignore[attr-defined]
    job = service.jobs.wait(job_id, timeout=120)
    assert job.status == "failed"
    assert job.error
    assert "internal error" not in job.error


def test_keys_made_over_the_api_work_and_revoked_ones_stop(served: Served) -> None:
    made = served.client.post(
        "/api/keys", json={"role": "read", "name": "crm sync"}, headers=served.as_admin()
    )
    assert made.status_code == 201
    key = made.json()["key"]
    assert served.client.get("/api/runs", headers={"X-API-Key": key}).status_code == 200
    listed = served.client.get("/api/keys", headers=served.as_admin()).json()
    assert "crm sync" in [k["name"] for k in listed]
    assert all("key" not in k and "secret_hash" not in k for k in listed)
    revoked = served.client.delete(f"/api/keys/{made.json()['key_id']}", headers=served.as_admin())
    assert revoked.json()["revoked_at"] is not None
    assert served.client.get("/api/runs", headers={"X-API-Key": key}).status_code == 401
    unknown = served.client.delete("/api/keys/nokey", headers=served.as_admin())
    assert unknown.status_code == 404


def test_the_fast_assign_path_keeps_the_body_limit(served: Served) -> None:
    huge = b'{"features": {"country": "' + b"x" * (9 * 1024 * 1024) + b'"}}'
    response = served.client.post(
        "/api/assign",
        content=huge,
        headers={**served.as_reader(), "content-type": "application/json"},
    )
    assert response.status_code == 413
    assert "limit" in response.json()["detail"]


def test_assign_before_any_run_is_409(built_workspace: Any, tmp_path: Any) -> None:
    from datetime import UTC, datetime

    from fastapi.testclient import TestClient

    from audience import Workspace
    from audience.serve import create_app
    from audience.store.keys import create_key

    ws = Workspace.init(tmp_path / "empty")
    _key, text = create_key(ws.database, "read", "r", datetime.now(UTC))
    with TestClient(create_app(ws)) as client:
        response = client.post("/api/assign", json={"features": {}}, headers={"X-API-Key": text})
    assert response.status_code == 409
    assert "POST /api/runs" in response.json()["detail"]


def test_a_run_whose_models_were_removed_is_a_409_not_a_422(served: Served) -> None:
    """Issue 17: the missing file is the workspace's state, not a mistake in the request."""
    run = served.workspace.run_id()
    (served.workspace.path / "models" / f"{run}.joblib").unlink()
    response = served.client.post(
        "/api/assign", json={"features": {"order_count": 1}}, headers=served.as_reader()
    )
    assert response.status_code == 409
    assert "does not exist" in response.json()["detail"]
