"""``audience refresh``: one idempotent command for schedulers.

1. **Scan** the drop folders (:mod:`audience.refresh.drop`): files already ingested (same
   checksum) are skipped.
2. **Ingest** each new file, each in its own transaction
   (:func:`audience.store.ingesting.ingest_file`).
3. **Nothing to do** when nothing was ingested since the newest tree run (by the refresh,
   the CLI, the API or a stream), and neither another ``as_of`` nor a full selection was
   asked for: exit 0, no new run.
4. **Features** as of ``as_of`` (default: now), from the previous run's features and what
   changed since (:func:`audience.features.incremental.refresh_features`: exactly what a
   full compute gives, or a full compute where the stored ones cannot be carried forward).
5. **Segment** with stable ids (:func:`audience.segments.tree_run.segment_tree_run`): the
   full model selection when ``[refresh] reselect`` says so (``always``; ``drift``: the
   population drifted to an alert on a sample, or the previous run's models fell under the
   quality floors of ``[alerts]``; or no usable previous run), else each branch refits the
   previous run's model from its centres (:mod:`audience.models.warm`).
6. **Alerts** of the new run (:mod:`audience.refresh.alerts`): stored, logged, sent.

Steps 4 to 6 are one unit, as ``audience segment`` is: the features, the run, its model
file and its stored alerts commit together (the alerts are sent after), so a refresh that
fails or is killed there leaves them as they were. Every refresh is recorded in the
``refreshes`` table (steps, run, exit code). A refresh that fails raises a
``refresh_failed`` alert and exits 1; the files it ingested before failing stay ingested
(each ingest is atomic), so the next refresh continues from there. A refresh killed before it
could raise its run's alerts is found by the next one, which raises them.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import orjson
import pandas as pd

from audience.config import WorkspaceConfig
from audience.errors import AudienceError
from audience.features.compute import compute_features
from audience.features.drift import feature_drift
from audience.features.incremental import refresh_features
from audience.refresh.alerts import (
    deliver_alerts,
    evaluate_run_alerts,
    raise_alerts,
    refresh_failed_alert,
    store_alerts,
)
from audience.refresh.drop import drop_folders, new_files
from audience.segments.assign import SegmentAssigner
from audience.segments.tree import WarmStart
from audience.segments.tree_run import segment_tree_run
from audience.store.alerts import StoredAlert
from audience.store.database import Database
from audience.store.ingesting import ingest_file
from audience.store.model_files import ModelFiles
from audience.store.segment_runs import latest_tree_run, read_run

log = logging.getLogger(__name__)

EXIT_OK = 0
"""Nothing to do, or done without alerts."""
EXIT_FAILED = 1
EXIT_ALERTS = 3
"""Done, and the new run raised at least one alert of severity ``alert``."""

Status = Literal["running", "nothing_to_do", "done", "failed", "interrupted"]
_DRIFT_SAMPLE = 20_000
"""Contacts per run compared before segmenting, to decide whether to select again: PSI's
sampling noise at 20,000 is about bins / n = 0.0005, far under the thresholds."""


@dataclass
class Step:
    """One step of a refresh, as ``--json`` prints it."""

    step: str
    status: Literal["done", "skipped", "failed"]
    detail: str
    seconds: float = 0.0
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "status": self.status,
            "detail": self.detail,
            "seconds": round(self.seconds, 3),
            **self.data,
        }


@dataclass
class RefreshReport:
    refresh_id: str
    started_at: datetime
    as_of: datetime
    status: Status = "running"
    steps: list[Step] = field(default_factory=list)
    run_id: str | None = None
    alerts: list[StoredAlert] = field(default_factory=list)
    error: str | None = None

    @property
    def exit_code(self) -> int:
        if self.status == "failed":
            return EXIT_FAILED
        if any(alert.severity == "alert" for alert in self.alerts):
            return EXIT_ALERTS
        return EXIT_OK


@dataclass(frozen=True)
class RefreshTarget:
    """The workspace a refresh works on (the pieces of :class:`audience.Workspace` it uses)."""

    db: Database
    config: WorkspaceConfig
    folder: Path
    secret: bytes
    models: ModelFiles


def run_refresh(
    target: RefreshTarget,
    *,
    now: datetime,
    as_of: datetime | None = None,
    full: bool = False,
    force: bool = False,
    on_step: Callable[[Step], None] | None = None,
) -> RefreshReport:
    """Refresh the workspace (see the module docstring); ``now`` is when (the ingests'
    reference for "in the future" and the new run's time), ``as_of`` the moment the features
    describe (default ``now``); ``full`` forces the model selection (and so a new run);
    ``force`` makes a new run even with nothing new."""
    report = RefreshReport(uuid.uuid4().hex[:12], now, as_of or now)
    db = target.db
    _record(db, report)
    steps = _Steps(report, db, on_step)
    in_unit = False  # inside the features-to-alerts transaction: a failure there keeps none
    try:
        _catch_up(target, report, steps, now)
        ingested = _ingest(target, steps, now)
        if not (ingested or force or full or _new_data_since_run(db, as_of)):
            steps.add(Step("segment", "skipped", "nothing new since the newest run"))
            report.status = "nothing_to_do"
            return report
        in_unit = True
        stored = _segment_unit(target, steps, report, now, full)
        in_unit = False
        report.alerts.extend(deliver_alerts(db, target.config.alerts, target.folder, stored))
        report.status = "done"
        return report
    except Exception as exc:
        report.status, report.error = "failed", _message(exc)
        if in_unit:
            report.run_id = None
            report.error += " (nothing after the ingests was kept)"
        steps.add(Step("failed", "failed", report.error))
        _raise_failure(target, report, now)
        raise
    finally:
        _record(db, report, finished=True)


class _Steps:
    """The steps done so far: kept on the report, stored, and told to ``on_step``."""

    def __init__(
        self, report: RefreshReport, db: Database, on_step: Callable[[Step], None] | None
    ) -> None:
        self.report, self.db, self.on_step = report, db, on_step

    def add(self, step: Step) -> None:
        self.report.steps.append(step)
        _record(self.db, self.report)
        if self.on_step is not None:
            self.on_step(step)


def _catch_up(target: RefreshTarget, report: RefreshReport, steps: _Steps, now: datetime) -> None:
    """A refresh killed after storing its run but before raising its alerts: raise them now."""
    rows = target.db.con.execute(
        "SELECT refresh_id, run_id, steps FROM refreshes WHERE status = 'running' "
        "AND refresh_id <> ?",
        [report.refresh_id],
    ).fetchall()
    for refresh_id, run_id, done in rows:
        names = {step.get("step") for step in orjson.loads(done or "[]")}
        target.db.con.execute(
            "UPDATE refreshes SET status = 'interrupted' WHERE refresh_id = ?", [refresh_id]
        )
        if run_id is not None and "alerts" not in names:
            stored = _raise_run_alerts(target, run_id, now)
            report.alerts.extend(stored)
            steps.add(
                Step("alerts", "done", f"{len(stored)} alerts of run {run_id}, whose refresh "
                     f"{refresh_id} was interrupted", data={"run_id": run_id})
            )  # fmt: skip


def _ingest(target: RefreshTarget, steps: _Steps, now: datetime) -> int:
    started = time.perf_counter()
    folders = drop_folders(target.folder, list(target.config.refresh.drop))
    fresh, seen = new_files(target.db, folders)
    steps.add(
        Step(
            "scan",
            "done",
            f"{len(fresh)} new files, {len(seen)} already ingested",
            time.perf_counter() - started,
            {"new": [str(f.path) for f in fresh], "already_ingested": [str(p) for p in seen]},
        )
    )
    for found in fresh:
        started = time.perf_counter()
        ingest = ingest_file(
            target.db,
            target.secret,
            target.config.ingest,
            found.path,
            kind=found.kind,
            now=now,
        )
        steps.add(
            Step(
                "ingest",
                "done",
                f"{found.path.name}: {ingest.accepted:,} accepted, {ingest.quarantined:,} "
                f"quarantined, {ingest.duplicates:,} duplicates",
                time.perf_counter() - started,
                {"file": str(found.path), "kind": found.kind, **_counts(ingest.to_dict())},
            )
        )
    return len(fresh)


def _counts(report: dict[str, Any]) -> dict[str, Any]:
    keys = ("rows_read", "accepted", "quarantined", "duplicates")
    return {key: report[key] for key in keys}


def _new_data_since_run(db: Database, as_of: datetime | None) -> bool:
    """Whether anything was ingested since the newest tree run, or another moment is asked."""
    run = latest_tree_run(db)
    if run is None:
        return True
    created_at, run_as_of, _config, _metrics = read_run(db, run)
    if as_of is not None and as_of != run_as_of:
        return True
    rows = db.con.execute("SELECT count(*) FROM ingests WHERE started_at > ?", [created_at])
    return bool(rows.fetchall()[0][0])


def _segment_unit(
    target: RefreshTarget, steps: _Steps, report: RefreshReport, now: datetime, full: bool
) -> list[StoredAlert]:
    """Features, run and the run's alerts, stored (not yet delivered) as one unit, as
    ``audience segment`` stores them: the model file, the alerts and these steps' records
    are kept together with the run, or none is."""
    db = target.db
    previous = latest_tree_run(db)
    # Taken before the features are computed: at the same as_of they would replace these.
    before = _previous_sample(target, previous)
    with db.transaction():
        _features(target, steps, report.as_of, now, previous)
        run_id = _segment(target, steps, report.as_of, now, previous, full, before)
        report.run_id = run_id
        return _alerts(target, steps, run_id, now)


def _features(
    target: RefreshTarget, steps: _Steps, as_of: datetime, now: datetime, previous: str | None
) -> None:
    """The features at ``as_of``: carried forward from the previous run's when they can be
    (exactly what a full compute gives), else computed for every contact."""
    started = time.perf_counter()
    config = target.config.features
    if previous is None:
        report = compute_features(target.db, config, as_of, created_at=now)
        how = "computed (first run)"
    else:
        _created, previous_as_of, _config, _metrics = read_run(target.db, previous)
        report = refresh_features(
            target.db, config, as_of, previous_as_of=previous_as_of, created_at=now
        )
        outcome = report.refresh
        if outcome is not None and outcome.incremental:
            how = f"{outcome.recomputed:,} recomputed, {outcome.carried:,} carried forward"
        else:
            how = f"computed ({outcome.fallback if outcome else 'no previous features'})"
    steps.add(
        Step(
            "features",
            "done",
            f"{report.contacts:,} contacts as of {as_of:%Y-%m-%d %H:%M} UTC: {how}",
            time.perf_counter() - started,
            {"contacts": report.contacts, "how": how},
        )
    )


def _segment(
    target: RefreshTarget,
    steps: _Steps,
    as_of: datetime,
    now: datetime,
    previous: str | None,
    full: bool,
    before: pd.DataFrame,
) -> str:
    started = time.perf_counter()
    warm, why = _warm_start(target, as_of, previous, full, before)
    tree = segment_tree_run(
        target.db,
        target.config,
        as_of,
        created_at=now,
        models=target.models,
        warm=warm,
        features_ready=True,
    )
    steps.add(
        Step(
            "segment",
            "done",
            f"run {tree.run_id}: {len(tree.leaves)} segments ({why})",
            time.perf_counter() - started,
            {"run_id": tree.run_id, "mode": "refit" if warm else "select", "why": why},
        )
    )
    return tree.run_id


def _warm_start(
    target: RefreshTarget, as_of: datetime, previous: str | None, full: bool, before: pd.DataFrame
) -> tuple[WarmStart | None, str]:
    """Whether to refit the previous run's models (and from which), and why."""
    policy = target.config.refresh.reselect
    if full or policy == "always":
        return None, "model selection: asked for"
    if previous is None:
        return None, "model selection: first run"
    _created, _as_of, previous_config, metrics = read_run(target.db, previous)
    if not target.models.exists(previous):
        return None, f"model selection: run {previous} kept no models"
    if _config_changed(target.config, previous_config):
        return None, "model selection: [segments], [models] or [preprocess] changed"
    if policy == "drift":
        reason = _reselect_reason(target, as_of, before, metrics)
        if reason:
            return None, f"model selection: {reason}"
    assigner = SegmentAssigner.load(target.models, previous)
    return WarmStart(previous, assigner.branches), f"refit from {previous}"


def _config_changed(config: WorkspaceConfig, stored: dict[str, Any]) -> bool:
    current = {
        "segments": config.segments.model_dump(mode="json"),
        "models": config.models.model_dump(mode="json"),
        "preprocess": config.preprocess.model_dump(mode="json"),
    }
    before = {key: stored.get(key) for key in current}
    return bool(
        orjson.dumps(current, option=orjson.OPT_SORT_KEYS)
        != orjson.dumps(before, option=orjson.OPT_SORT_KEYS)
    )


def _reselect_reason(
    target: RefreshTarget, as_of: datetime, before: pd.DataFrame, metrics: dict[str, Any]
) -> str | None:
    """Why the population or the previous models call for a new selection, or None."""
    alerts = target.config.alerts
    for branch, entry in dict(metrics.get("branches", {})).items():
        chosen = [row for row in entry.get("selection", []) if row.get("status") == "chosen"]
        for row in chosen:
            silhouette, stability = row.get("silhouette"), row.get("stability")
            if isinstance(silhouette, float) and silhouette < alerts.min_silhouette:
                return f"{branch}'s silhouette {silhouette:.2f} is under alerts.min_silhouette"
            if isinstance(stability, float) and stability < alerts.min_stability:
                return f"{branch}'s stability {stability:.2f} is under alerts.min_stability"
    if before.empty:
        return "the previous run's features are no longer stored"
    numeric = list(target.config.models.features)
    after = _features_sample(target.db, as_of, numeric)
    drift = feature_drift(before, after, numeric, [], target.config.drift)
    drifted = drift[drift["status"] == "alert"]["feature"].tolist()
    if drifted:
        return f"the population drifted ({', '.join(drifted)})"
    return None


def _previous_sample(target: RefreshTarget, previous: str | None) -> pd.DataFrame:
    """A seeded sample of the previous run's features (empty when none are stored)."""
    if previous is None:
        return pd.DataFrame()
    _created, as_of, _config, _metrics = read_run(target.db, previous)
    return _features_sample(target.db, as_of, list(target.config.models.features))


def _features_sample(db: Database, as_of: datetime, columns: list[str]) -> pd.DataFrame:
    """Up to :data:`_DRIFT_SAMPLE` stored feature rows at ``as_of`` (a repeatable sample)."""
    stored = {row[0] for row in db.con.execute("DESCRIBE features").fetchall()}
    if not set(columns) <= stored:
        return pd.DataFrame()
    # As numbers (money is stored as DECIMAL); a categorical feature reads as missing.
    names = ", ".join(f'TRY_CAST("{c}" AS DOUBLE) AS "{c}"' for c in columns)
    frame: pd.DataFrame = db.con.execute(
        f"SELECT {names} FROM features WHERE as_of = ? "
        f"USING SAMPLE reservoir({_DRIFT_SAMPLE} ROWS) REPEATABLE (0)",
        [as_of],
    ).df()
    return frame


def _alerts(target: RefreshTarget, steps: _Steps, run_id: str, now: datetime) -> list[StoredAlert]:
    """The new run's alerts, stored (in the run's transaction) and not yet delivered."""
    started = time.perf_counter()
    found = evaluate_run_alerts(target.db, target.config.alerts, run_id)
    stored = store_alerts(target.db, found, now=now)
    severe = sum(alert.severity == "alert" for alert in stored)
    steps.add(
        Step(
            "alerts",
            "done",
            f"{len(stored)} alerts ({severe} at severity alert)",
            time.perf_counter() - started,
            {"run_id": run_id, "alerts": len(stored), "severe": severe},
        )
    )
    return stored


def _raise_run_alerts(target: RefreshTarget, run_id: str, now: datetime) -> list[StoredAlert]:
    found = evaluate_run_alerts(target.db, target.config.alerts, run_id)
    return raise_alerts(target.db, target.config.alerts, target.folder, found, now=now)


def _raise_failure(target: RefreshTarget, report: RefreshReport, now: datetime) -> None:
    alert = refresh_failed_alert(report.error or "", report.refresh_id)
    try:
        stored = raise_alerts(target.db, target.config.alerts, target.folder, [alert], now=now)
        report.alerts.extend(stored)
    except Exception:  # the failure itself is what the caller must hear about
        log.exception("could not raise the alert of failed refresh %s", report.refresh_id)


def _message(exc: Exception) -> str:
    if isinstance(exc, AudienceError):
        return str(exc)
    return f"internal error: {exc!r}"


def _record(db: Database, report: RefreshReport, *, finished: bool = False) -> None:
    """The refresh as the ``refreshes`` table keeps it (inserted first, updated after)."""
    steps = orjson.dumps([step.to_dict() for step in report.steps]).decode()
    ended = datetime.now(report.started_at.tzinfo) if finished else None
    db.con.execute(
        "INSERT OR REPLACE INTO refreshes (refresh_id, started_at, finished_at, as_of, status, "
        "exit_code, run_id, steps, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            report.refresh_id,
            report.started_at,
            ended,
            report.as_of,
            report.status,
            report.exit_code if finished else None,
            report.run_id,
            steps,
            report.error,
        ],
    )
