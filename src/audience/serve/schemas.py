"""Request and response bodies of the JSON API (they are its OpenAPI schema too)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from audience.config import CATEGORICAL, ClusterMethod
from audience.features.table import FEATURE_COLUMNS

MAX_ASSIGN_BATCH = 10_000
MAX_EVENT_BATCH = 5_000
MAX_LIVE_EVENTS = 2_000

Finite = Annotated[float, Field(allow_inf_nan=False)]
Text = Annotated[str, Field(max_length=500)]

_feature_fields: dict[str, Any] = {
    name: ((Text | None) if name in CATEGORICAL else (Finite | None), None)
    for name in FEATURE_COLUMNS
}
ContactFeatures: type[BaseModel] = create_model(
    "ContactFeatures",
    __config__=ConfigDict(extra="forbid"),
    __doc__=(
        "A contact's features as `audience features` computes them (any left out count as "
        "missing and are imputed as at fit), plus the contact fields rules may read."
    ),
    consent=(Text | None, None),
    signup_at=(datetime | None, None),
    email_domain=(Text | None, None),
    **_feature_fields,
)


class AssignRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    features: ContactFeatures


class AssignBatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    contacts: list[ContactFeatures] = Field(min_length=1, max_length=MAX_ASSIGN_BATCH)


class LiveAssignRequest(BaseModel):
    """Raw attributes (Segment ``identify`` traits) and recent events (``track`` calls)."""

    model_config = ConfigDict(extra="forbid")
    traits: dict[str, Any] = Field(
        description="The contact's attributes as an identify call's traits: email, consent, "
        "created_at/signup date, country…"
    )
    events: list[dict[str, Any]] = Field(
        default_factory=list,
        max_length=MAX_LIVE_EVENTS,
        description="Segment track calls (event, timestamp, properties); userId is set here.",
    )
    as_of: datetime | None = Field(None, description="Moment of the features (default: now).")


class Assignment(BaseModel):
    run_id: str
    segment_id: str | None
    segment_name: str | None
    probability: float | None = Field(
        description="For mixture models, the probability of the assigned cluster; else null."
    )


class LiveAssignment(Assignment):
    features: dict[str, Any]
    rejected: list[dict[str, Any]]


class AssignBatchResponse(BaseModel):
    run_id: str
    assignments: list[Assignment]


class EventBatch(BaseModel):
    """A batch as Segment's HTTP batch API takes it: ``{"batch": [call, …]}``."""

    model_config = ConfigDict(extra="forbid")
    batch: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_EVENT_BATCH)


class RejectedEvent(BaseModel):
    index: int = Field(description="Position of the call in the batch, from 0.")
    reason: str
    detail: str


class EventBatchResponse(BaseModel):
    ingest_id: str
    received: int
    accepted: int
    quarantined: int
    duplicates: int
    quarantine_reasons: dict[str, int]
    rejected: list[RejectedEvent]


class RunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    as_of: datetime | None = Field(None, description="Features at this moment (default: now).")
    method: ClusterMethod | None = Field(None, description="Override `[models] methods`.")
    k: int | None = Field(None, ge=2, le=50)


class JobStatus(BaseModel):
    job_id: str
    status: Literal["queued", "running", "succeeded", "failed"]
    step: str
    done: int
    total: int
    run_id: str | None
    error: str | None
    started_at: datetime
    finished_at: datetime | None


class RunInfo(BaseModel):
    run_id: str
    kind: str
    created_at: datetime
    as_of: datetime
    status: str
    segments: int
    contacts: int


class AlertDelivery(BaseModel):
    state: str = Field(
        description="`none` (no webhook configured), `delivered`, `failed` or `2/3 delivered`."
    )
    destinations: int = Field(description="Webhooks the alert was sent to.")
    delivered: int = Field(description="Of those, how many answered 2xx.")
    attempts: int = Field(description="HTTP attempts, retries included.")


class AlertInfo(BaseModel):
    alert_id: str
    created_at: datetime
    run_id: str | None = Field(description="The run it was raised on (null: a failed refresh).")
    kind: Literal["drift", "size", "quality", "refresh_failed", "segments"]
    severity: Literal["watch", "alert"]
    subject: str = Field(description="The segment, branch, `population`, or the refresh id.")
    message: str = Field(description="One plain sentence.")
    details: dict[str, Any] = Field(description="The figures behind the message.")
    delivery: AlertDelivery


class Segment(BaseModel):
    segment_id: str
    parent_id: str | None
    name: str | None
    size: int
    share: float
    kind: str
    stage: str | None
    traits: list[str]
    definition: dict[str, Any] = Field(
        description="Rule, persona (traits, messaging, actions), KPIs, per-feature "
        "mean/median/lift and surrogate rules."
    )


class SegmentTree(BaseModel):
    run_id: str
    segments: list[Segment]


class Member(BaseModel):
    contact_id: str
    probability: float | None


class MembersPage(BaseModel):
    run_id: str
    segment_id: str
    total: int
    offset: int
    limit: int
    members: list[Member]


class ContactSegment(BaseModel):
    contact_id: str
    run_id: str
    segment_id: str
    segment_name: str
    probability: float | None
    why: list[str]


class RenameRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # At least one character that is not whitespace or a control character; the same set
    # under JSON Schema's (ECMA) and pydantic's (Rust) regex engines, and wider than what
    # Python's str.strip() removes, so a name the schema allows is never empty to the store.
    name: str = Field(min_length=1, max_length=120, pattern=r"[^\s\x00-\x1f\x7f-\x9f\ufeff]")


class KeyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["read", "admin"]
    name: str = Field("", max_length=120)


class KeyInfo(BaseModel):
    key_id: str
    name: str
    role: str
    created_at: datetime
    revoked_at: datetime | None


class NewKey(KeyInfo):
    key: str = Field(description="The whole key; it is shown this once and never stored.")


class Erasure(BaseModel):
    erasure_id: str = Field(description="The erasure log entry (which holds no id or email).")
    erased_at: datetime
    contacts: int = Field(description="How many contact ids were erased.")
    counts: dict[str, int] = Field(description="Rows removed from each table.")
    models: dict[str, str] = Field(
        description="Model files of the person's runs: run id → `rewritten` (per-contact "
        "labels dropped) or `removed` (the model kept training rows; that run answers 409 "
        "until segmented again)."
    )


class Transition(BaseModel):
    from_segment: str | None = Field(
        description="The segment in the previous run; null: not in it (a new contact, or "
        "one that matched no rule then)."
    )
    to_segment: str | None = Field(description="The segment in this run; null: not in it.")
    contacts: int


class SizeChange(BaseModel):
    segment_id: str
    previous: int = Field(description="Contacts in the previous run (0: a new segment).")
    current: int = Field(description="Contacts in this run (0: gone).")
    change: int
    relative_change: float | None = Field(description="change / previous; null for a new segment.")


class FeatureDrift(BaseModel):
    scope: str = Field(description='"": the contactable population; else a segment id.')
    feature: str
    psi: float | None = Field(description="Population stability index.")
    ks: float | None = Field(
        description="Two-sample Kolmogorov-Smirnov statistic; null for a categorical feature."
    )
    status: Literal["ok", "watch", "alert"] = Field(description="Judged by `[drift]`.")


class RunChanges(BaseModel):
    """What changed in a run since the previous segment-tree run. The workspace's first
    run has nothing to compare: `previous_run_id` is null and the lists are empty."""

    run_id: str
    previous_run_id: str | None
    transitions: list[Transition] = Field(description="Most contacts first.")
    sizes: list[SizeChange] = Field(description="One per segment of either run, by id.")
    drift: list[FeatureDrift] = Field(description="The population first, then segments.")
