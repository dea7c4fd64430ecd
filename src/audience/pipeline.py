"""The flow, step by step: each function chains packages in the order of the flow.

``ingest_file`` reads a file (:mod:`audience.ingest`), checks every row
(:mod:`audience.validate`) and stores the result atomically (:mod:`audience.store`).
Later steps (features, models, segments) are chained here too; the CLI and the service are
thin layers over these functions.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from audience.config import FeaturesConfig, IngestConfig, WorkspaceConfig
from audience.errors import ConfigError
from audience.ingest import (
    ColumnMapping,
    Kind,
    RawBatch,
    ReadChunk,
    Source,
    open_source,
    resolve_columns,
    to_fields,
)
from audience.ingest.sources import detect_format, guess_kind
from audience.store import Database
from audience.store.loading import Loader, LoadResult, Table
from audience.validate import (
    Checked,
    IngestReport,
    Rules,
    check_contacts,
    check_events,
    check_orders,
)

if TYPE_CHECKING:
    from audience.features.summary import FeatureReport
    from audience.models.summary import SegmentationReport

Progress = Callable[[int], None]

_CHECKS = {"contacts": check_contacts, "events": check_events, "orders": check_orders}
_TABLE: dict[Kind, Table] = {"contacts": "contacts", "events": "events", "orders": "events"}


def resolve_kind(path: Path, kind: Kind | None) -> Kind:
    """The kind given, or the one the file's name or format implies."""
    if kind is not None:
        return kind
    guessed = guess_kind(path, detect_format(path)) if path.is_file() else None
    if guessed is None:
        raise ConfigError(
            f"cannot tell what {path} holds; pass --kind contacts, --kind events or --kind orders."
        )
    return guessed


class _Tally:
    """Where the rows of one ingest went, as they are read."""

    def __init__(self) -> None:
        self.rows_read = 0
        self.reasons: Counter[str] = Counter()
        self.mapping: dict[str, str] = {}
        self.ignored: dict[str, None] = {}

    def saw(self, mapping: ColumnMapping) -> None:
        self.mapping.update(mapping.renames)
        self.ignored.update(dict.fromkeys(mapping.ignored))


def ingest_file(
    db: Database,
    secret: bytes,
    config: IngestConfig,
    path: Path,
    *,
    kind: Kind,
    explicit: Mapping[str, str] | None = None,
    now: datetime,
    encoding: str = "utf-8",
    progress: Progress | None = None,
) -> IngestReport:
    """Ingest one file: every row is accepted, quarantined, or counted as a duplicate.

    Atomic: if anything fails, the workspace is left exactly as it was.
    """
    started = time.perf_counter()
    source = open_source(path, kind, encoding=encoding)
    # CSV and Parquet have one header for the whole file: check it once, before any row.
    header = None
    if source.format != "jsonl":
        header = resolve_columns(source.columns, kind, explicit, source=str(path))
    loader = Loader(db, uuid.uuid4().hex[:16], str(path))
    tally = _Tally()
    # DuckDB's share of memory is smaller while Python validates chunks beside it.
    with db.memory_limit(config.memory_limit):
        try:
            for chunk in source.chunks(config.chunk_rows):
                _ingest_chunk(chunk, loader, tally, header, explicit, secret, config, now)
                if progress is not None:
                    progress(tally.rows_read)

            def finish(result: LoadResult) -> IngestReport:
                return _report(
                    loader.ingest_id, source, kind, tally, result, time.perf_counter() - started
                )

            return loader.commit(now, finish)
        except BaseException:
            loader.discard()
            raise


def _ingest_chunk(
    chunk: ReadChunk,
    loader: Loader,
    tally: _Tally,
    header: ColumnMapping | None,
    explicit: Mapping[str, str] | None,
    secret: bytes,
    config: IngestConfig,
    now: datetime,
) -> None:
    tally.rows_read += chunk.rows
    if chunk.unreadable:
        loader.reject(pd.DataFrame([vars(bad) for bad in chunk.unreadable]))
        tally.reasons.update(bad.reason for bad in chunk.unreadable)
    for batch in chunk.batches:
        mapping = header or resolve_columns(
            list(batch.frame.columns), batch.kind, explicit, require=False
        )
        tally.saw(mapping)
        rules = Rules(now, timedelta(hours=config.future_tolerance_hours), mapping)
        checked = _CHECKS[batch.kind](to_fields(batch.frame, mapping, secret), batch.lines, rules)
        loader.stage(_TABLE[batch.kind], checked.accepted)
        loader.reject(_rejects(batch, checked))
        tally.reasons.update(checked.reasons)


def _rejects(batch: RawBatch, checked: Checked) -> pd.DataFrame:
    positions = checked.rejected
    return pd.DataFrame(
        {
            "line": batch.lines[positions],
            "kind": batch.kind,
            "reason": checked.reasons,
            "detail": checked.details,
            "raw": batch.raw(positions),
        }
    )


def _report(
    ingest_id: str, source: Source, kind: Kind, tally: _Tally, result: LoadResult, seconds: float
) -> IngestReport:
    reasons = dict(tally.reasons)
    if result.conflicts:
        reasons["duplicate_id_conflict"] = (
            reasons.get("duplicate_id_conflict", 0) + result.conflicts
        )
    return IngestReport(
        ingest_id=ingest_id,
        source=str(source.path),
        kind=kind,
        format=source.format,
        rows_read=tally.rows_read,
        accepted=sum(result.inserted.values()) + result.updated,
        quarantined=result.staged_rejects + result.conflicts,
        duplicates=result.duplicates,
        inserted=dict(result.inserted),
        updated=result.updated,
        quarantine_reasons=dict(sorted(reasons.items(), key=lambda item: (-item[1], item[0]))),
        mapping=tally.mapping,
        ignored_columns=tuple(tally.ignored),
        seconds=round(seconds, 3),
    )


def compute_features(
    db: Database,
    config: FeaturesConfig,
    as_of: datetime,
    out: Path | None = None,
    *,
    created_at: datetime,
) -> FeatureReport:
    """Compute every contact's features at ``as_of`` in the engine, store them, summarise them.

    The features at an earlier ``as_of`` stay as they were; those at this ``as_of`` are
    replaced whole, and so is the RFM baseline segmentation stored with them (run
    ``rfm-<as_of>``: one segment per named RFM group).
    """
    # Imported here: Ibis takes a second to import, which ingest-only commands need not pay.
    import ibis

    from audience.features.calendar import as_of_literal
    from audience.features.scores import rfm_group_rules
    from audience.features.summary import FeatureReport, summarize
    from audience.features.table import FEATURE_COLUMNS, feature_table
    from audience.store.engines import duckdb_backend
    from audience.store.features_table import export_features, save_features
    from audience.store.runs import save_feature_rule_run

    started = time.perf_counter()
    backend = duckdb_backend(db.con)
    with db.memory_limit(config.memory_limit):
        # The events in scope are materialised here too: under the features' limit.
        expression = feature_table(
            backend.table("contacts"), backend.table("events"), as_of, config, materialize=True
        )
        rows = save_features(db, str(ibis.to_sql(expression, dialect="duckdb")), as_of)
    stored = backend.table("features")
    stats = summarize(stored.filter(stored.as_of == as_of_literal(as_of)), FEATURE_COLUMNS)
    save_feature_rule_run(
        db,
        run_id=f"rfm-{as_of.astimezone(UTC):%Y%m%dT%H%M%S}",
        prefix="rfm",
        column="rfm_group",
        as_of=as_of,
        created_at=created_at,
        rules=rfm_group_rules(),
        config={"method": "rfm_rules", "features": config.model_dump()},
    )
    if out is not None:
        export_features(db, as_of, out)
    return FeatureReport(as_of, rows, stats, time.perf_counter() - started, out)


StepProgress = Callable[[str, int, int], None]
"""``progress(step, done, total)`` for multi-step work such as segmentation."""


def cluster_contacts(
    db: Database,
    config: WorkspaceConfig,
    as_of: datetime,
    *,
    created_at: datetime,
    method: str | None = None,
    k: int | None = None,
    progress: StepProgress | None = None,
) -> SegmentationReport:
    """Features → preprocessing → model selection → final fit → a stored run.

    ``method`` and ``k`` override ``[models] method`` and ``k``. The features at ``as_of``
    are computed (and stored) first. The run, its segments and every contact's membership
    are stored together, or, if anything fails, nothing is.
    """
    from audience.models.configured import fit_segmenter
    from audience.models.summary import describe_run
    from audience.store.features_table import read_features
    from audience.store.segment_runs import new_run_id, save_cluster_run

    started = time.perf_counter()
    step = progress or (lambda _step, _done, _total: None)
    step("computing features", 0, 1)
    compute_features(db, config.features, as_of, created_at=created_at)
    frame = read_features(db, as_of)
    models = config.models
    chosen_method = method or models.method
    fixed_k = k if k is not None else models.k
    step("preprocessing", 0, 1)
    segmenter, inputs = fit_segmenter(
        frame, models, config.preprocess, method=chosen_method, k=fixed_k, progress=progress
    )
    report = describe_run(segmenter, inputs, chosen_method, fixed_k)
    run_id = new_run_id(db, created_at)
    save_cluster_run(
        db,
        run_id=run_id,
        as_of=as_of,
        created_at=created_at,
        contact_ids=frame["contact_id"].tolist(),
        labels=segmenter.labels_,
        probabilities=report.probabilities,
        config={
            "method": chosen_method,
            "k": fixed_k,
            "models": models.model_dump(),
            "preprocess": config.preprocess.model_dump(),
        },
        metrics=report.metrics(),
        definitions=report.definitions(),
    )
    return report.stored(run_id, as_of, time.perf_counter() - started)
