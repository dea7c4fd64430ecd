"""The JSON API under ``/api``: read with any key, change things with an admin key."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated, Any

import numpy as np
import orjson
import pandas as pd
from fastapi import APIRouter, Path, Query, Request, Response, status
from pydantic import BaseModel, Field

from audience.errors import NotFoundError, quoted
from audience.serve.auth import Admin, Reader, service_of
from audience.serve.batching import AssignBatcher
from audience.serve.jobs import Job
from audience.serve.problems import bounded
from audience.serve.schemas import (
    AlertInfo,
    AssignBatchRequest,
    AssignBatchResponse,
    Assignment,
    AssignRequest,
    ContactSegment,
    Erasure,
    EventBatch,
    EventBatchResponse,
    JobStatus,
    KeyInfo,
    KeyRequest,
    LiveAssignment,
    LiveAssignRequest,
    MembersPage,
    NewKey,
    RenameRequest,
    RunChanges,
    RunInfo,
    RunRequest,
    Segment,
    SegmentTree,
)
from audience.store.alerts import StoredAlert
from audience.store.keys import ApiKey


class Problem(BaseModel):
    detail: str = Field(description="What was wrong, in one paragraph, and how to fix it.")


class InvalidRequest(BaseModel):
    detail: str = Field(description="Every field that was wrong, in one paragraph.")
    errors: list[dict[str, Any]] | None = Field(
        None, description="The same, one entry per field (`loc`, `msg`, `type`)."
    )


_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "The body is not valid JSON"},
    401: {"model": Problem, "description": "No API key, or not a valid one"},
    403: {"model": Problem, "description": "A read key asked to change something"},
    404: {"model": Problem, "description": "No such run, segment, contact, job or key"},
    408: {"model": Problem, "description": "The body did not arrive in time"},
    409: {"model": Problem, "description": "Nothing segmented yet, or a run is already going"},
    413: {"model": Problem, "description": "The body is over the size limit"},
    422: {
        "model": InvalidRequest,
        "description": "A field is missing, of the wrong type or "
        "out of range, or the data was refused (the detail says which and why)",
    },
}
router = APIRouter(prefix="/api", responses=_ERRORS)

RunQuery = Annotated[
    str | None, Query(description="A run id (default: the newest segmentation).", max_length=100)
]
SegmentPath = Annotated[str, Path(description="The segment's id: its path in the tree.")]
_JSON = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS | orjson.OPT_NAIVE_UTC


def _json(content: object, code: int = 200) -> Response:
    # orjson straight to bytes: FastAPI's own encoding costs more than the assignment.
    return Response(
        orjson.dumps(content, option=_JSON, default=str), code, media_type="application/json"
    )


# -- runs ---------------------------------------------------------------------------------


@router.get("/runs", response_model=list[RunInfo], tags=["runs"], summary="Runs, newest first")
def list_runs(
    request: Request, _key: Reader, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> Response:
    return _json(service_of(request).runs(limit))


@router.post(
    "/runs",
    response_model=JobStatus,
    status_code=status.HTTP_202_ACCEPTED,
    tags=["runs"],
    summary="Start a segmentation run in the background",
)
def start_run(request: Request, body: RunRequest, _key: Admin) -> Response:
    as_of = (
        body.as_of if body.as_of is None or body.as_of.tzinfo else body.as_of.replace(tzinfo=UTC)
    )
    job = service_of(request).start_run(as_of, body.method, body.k)
    return _json(_job(job), status.HTTP_202_ACCEPTED)


@router.get("/runs/{run_id}", tags=["runs"], summary="A run's config and metrics")
def get_run(request: Request, run_id: str, _key: Reader) -> Response:
    return _json(service_of(request).run(run_id))


@router.get(
    "/runs/{run_id}/changes",
    response_model=RunChanges,
    tags=["runs"],
    summary="What changed since the previous run: moves, sizes, feature drift",
)
def get_changes(request: Request, run_id: str, _key: Reader) -> Response:
    run, changes = service_of(request).changes(run_id)
    previous = None if changes is None else changes.previous_run_id  # None: a first run
    tables = {name: _records(getattr(changes, name)) if changes else [] for name in _CHANGES}
    return _json({"run_id": run, "previous_run_id": previous} | tables)


_CHANGES = ("transitions", "sizes", "drift")


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [_finite(row) for row in frame.to_dict(orient="records")]


@router.get(
    "/jobs/{job_id}", response_model=JobStatus, tags=["runs"], summary="A background run's status"
)
def get_job(request: Request, job_id: str, _key: Reader) -> Response:
    job = service_of(request).jobs.get(job_id)
    if job is None:
        raise NotFoundError(f"There is no job {quoted(job_id)} on this server.")
    return _json(_job(job))


def _job(job: Job) -> dict[str, Any]:
    fields = ("job_id", "status", "step", "done", "total", "run_id", "error")
    return {
        **{f: getattr(job, f) for f in fields},
        "started_at": job.started_at,
        "finished_at": job.finished_at,
    }


# -- alerts -------------------------------------------------------------------------------


@router.get(
    "/alerts", response_model=list[AlertInfo], tags=["alerts"], summary="Alerts, newest first"
)
def list_alerts(
    request: Request,
    _key: Reader,
    limit: Annotated[int, Query(ge=1, le=1_000)] = 50,
    run: Annotated[
        str | None, Query(description="Only this run's alerts (default: all).", max_length=100)
    ] = None,
) -> Response:
    return _json([_alert(a) for a in service_of(request).alerts(limit, run)])


def _alert(alert: StoredAlert) -> dict[str, Any]:
    fields = asdict(alert)
    fields["details"] = _finite(alert.details)
    fields["delivery"] = {"state": alert.delivery.label, **asdict(alert.delivery)}
    return fields


# -- segments -----------------------------------------------------------------------------


@router.get("/segments", response_model=SegmentTree, tags=["segments"], summary="The segment tree")
def segment_tree(request: Request, _key: Reader, run: RunQuery = None) -> Response:
    run_id, tree = service_of(request).tree(run)
    return _json({"run_id": run_id, "segments": [_segment(row) for _, row in tree.iterrows()]})


@router.get(
    "/segments/{segment_id:path}/members",
    response_model=MembersPage,
    tags=["segments"],
    summary="A segment's members, paged (with those of the segments under it)",
)
def segment_members(
    request: Request,
    segment_id: SegmentPath,
    _key: Reader,
    run: RunQuery = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    offset: Annotated[int, Query(ge=0, le=100_000_000)] = 0,
) -> Response:
    run_id, total, page = service_of(request).members(segment_id, run, limit=limit, offset=offset)
    members = [{"contact_id": c, "probability": p} for c, p in page]
    return _json(
        {
            "run_id": run_id,
            "segment_id": segment_id,
            "total": total,
            "offset": offset,
            "limit": limit,
            "members": members,
        }
    )


@router.get(
    "/segments/{segment_id:path}",
    response_model=Segment,
    tags=["segments"],
    summary="One segment: persona, KPIs, features, rules",
)
def get_segment(
    request: Request, segment_id: SegmentPath, _key: Reader, run: RunQuery = None
) -> Response:
    _run, row = service_of(request).segment(segment_id, run)
    return _json(_segment(row))


@router.patch(
    "/segments/{segment_id:path}",
    response_model=Segment,
    tags=["segments"],
    summary="Rename a segment (later runs keep the name for the same id)",
)
def rename_segment(
    request: Request,
    segment_id: SegmentPath,
    body: RenameRequest,
    _key: Admin,
    run: RunQuery = None,
) -> Response:
    return _json(_segment(service_of(request).rename(segment_id, body.name, run)))


def _segment(row: pd.Series) -> dict[str, Any]:
    share = float(row["share"])
    return {
        "segment_id": row["segment_id"],
        "parent_id": row["parent_id"] if isinstance(row["parent_id"], str) else None,
        "name": row["name"] if isinstance(row["name"], str) else None,
        "size": int(row["size"]),
        "share": share if np.isfinite(share) else 0.0,
        "kind": row["kind"],
        "stage": row["stage"] if isinstance(row["stage"], str) else None,
        "traits": list(row["traits"]),
        "definition": _finite(row["definition"]),
    }


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity: they become null."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


# -- contacts and assignment --------------------------------------------------------------


@router.get(
    "/contacts/{contact_id}",
    response_model=ContactSegment,
    tags=["contacts"],
    summary="A contact's segment and why it is there",
)
def get_contact(request: Request, contact_id: str, _key: Reader, run: RunQuery = None) -> Response:
    return _json(service_of(request).contact(contact_id, run))


@router.delete(
    "/contacts/{contact_id}",
    response_model=Erasure,
    tags=["contacts"],
    summary="Erase a contact from every table and the model files (admin key)",
)
def erase_contact(request: Request, contact_id: str, key: Admin) -> Response:
    result = service_of(request).erase(contact_id, key.key_id)
    return _json(asdict(result))


@router.post(
    "/assign",
    response_model=Assignment,
    tags=["assignment"],
    summary="Assign one contact from its features (current model, no refit)",
)
async def assign(request: Request, body: AssignRequest, _key: Reader) -> Response:
    batcher: AssignBatcher = request.app.state.assign_batcher
    return _json(await batcher.submit(body.features.model_dump()))


@router.post(
    "/assign/batch",
    response_model=AssignBatchResponse,
    tags=["assignment"],
    summary="Assign up to 10,000 contacts from their features",
)
def assign_batch(request: Request, body: AssignBatchRequest, _key: Reader) -> Response:
    service = service_of(request)
    assignments = service.assign_records([contact.model_dump() for contact in body.contacts])
    run_id = assignments[0]["run_id"] if assignments else service.model().run_id
    return _json({"run_id": run_id, "assignments": assignments})


@router.post(
    "/assign/live",
    response_model=LiveAssignment,
    tags=["assignment"],
    summary="Assign one contact from its raw attributes and recent events",
)
def assign_live(request: Request, body: LiveAssignRequest, _key: Reader) -> Response:
    service = service_of(request)
    as_of = body.as_of or datetime.now(UTC)
    as_of = as_of if as_of.tzinfo else as_of.replace(tzinfo=UTC)
    answer, live = service.assign_live(body.traits, body.events, as_of)
    features = {k: _finite(v) for k, v in live.row.iloc[0].to_dict().items()}
    rejected = [
        {"line": r["line"], "reason": r["reason"], "detail": bounded(r["detail"])}
        for r in live.rejected
    ]
    return _json({**answer, "features": features, "rejected": rejected})


# -- events -------------------------------------------------------------------------------


@router.post(
    "/events",
    response_model=EventBatchResponse,
    tags=["events"],
    summary="Ingest a batch of Segment calls, checked exactly as a file's rows are",
)
def ingest_events(request: Request, body: EventBatch, _key: Admin) -> Response:
    report, rejected = service_of(request).ingest_events(body.batch)
    return _json(
        {
            "ingest_id": report.ingest_id,
            "received": report.rows_read,
            "accepted": report.accepted,
            "quarantined": report.quarantined,
            "duplicates": report.duplicates,
            "quarantine_reasons": report.quarantine_reasons,
            "rejected": [
                {"index": int(r["line"]) - 1, "reason": r["reason"], "detail": bounded(r["detail"])}
                for r in rejected
            ],
        }
    )


# -- keys ---------------------------------------------------------------------------------


@router.get(
    "/keys", response_model=list[KeyInfo], tags=["keys"], summary="The API keys (no secrets)"
)
def list_keys(request: Request, _key: Admin) -> Response:
    return _json([_key_info(k) for k in service_of(request).list_keys()])


@router.post(
    "/keys",
    response_model=NewKey,
    status_code=status.HTTP_201_CREATED,
    tags=["keys"],
    summary="Create a key; the response is the only time it is shown",
)
def create_key(request: Request, body: KeyRequest, _key: Admin) -> Response:
    key, text = service_of(request).create_key(body.role, body.name)
    return _json({**_key_info(key), "key": text}, status.HTTP_201_CREATED)


@router.delete(
    "/keys/{key_id}",
    response_model=KeyInfo,
    tags=["keys"],
    summary="Revoke a key",
)
def revoke_key(request: Request, key_id: str, _key: Admin) -> Response:
    return _json(_key_info(service_of(request).revoke_key(key_id)))


def _key_info(key: ApiKey) -> dict[str, Any]:
    return {
        "key_id": key.key_id,
        "name": key.name,
        "role": key.role,
        "created_at": key.created_at,
        "revoked_at": key.revoked_at,
    }
