"""The features step from end to end: compute in the engine, store, summarise.

``compute_features`` builds :func:`audience.features.table.feature_table` on the workspace's
DuckDB connection, stores it (table ``features``, replaced whole per ``as_of``), summarises
it, stores the named RFM groups as the rules baseline run ``rfm-<as_of>`` and records how
the features were computed (``feature_sets``), which a later refresh starts from.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import ibis

from audience.config import FeaturesConfig
from audience.features.calendar import as_of_literal
from audience.features.definitions import definition_config, definitions_fingerprint
from audience.features.scores import rfm_group_rules
from audience.features.summary import FeatureReport, FeatureStat, summarize
from audience.features.table import FEATURE_COLUMNS, feature_table
from audience.store import Database
from audience.store.engines import duckdb_backend
from audience.store.feature_sets import (
    FeatureSet,
    Method,
    Snapshot,
    save_feature_set,
    take_snapshot,
)
from audience.store.features_table import export_features, save_features
from audience.store.runs import save_feature_rule_run


def compute_features(
    db: Database,
    config: FeaturesConfig,
    as_of: datetime,
    out: Path | None = None,
    *,
    created_at: datetime,
    summary: bool = True,
) -> FeatureReport:
    """Compute every contact's features at ``as_of`` in the engine, store them, summarise them.

    With ``summary=False`` the report's ``stats`` are left empty: a segmentation run that
    goes straight on to clustering reads none of them, and they cost a pass over the table.

    The features at an earlier ``as_of`` stay as they were; those at this ``as_of`` are
    replaced whole, and so are the RFM baseline segmentation stored with them (run
    ``rfm-<as_of>``: one segment per named RFM group) and their ``feature_sets`` record.
    """
    started = time.perf_counter()
    # Read before computing: an ingest committed meanwhile counts as unseen next time.
    snapshot = take_snapshot(db)
    backend = duckdb_backend(db.con)
    # One unit: the rows, the RFM run and the feature_sets record agree, or nothing changed.
    with db.transaction():
        with db.memory_limit(config.memory_limit):
            # The events in scope are materialised here too: under the features' limit.
            expression = feature_table(
                backend.table("contacts"), backend.table("events"), as_of, config, materialize=True
            )
            rows = save_features(db, str(ibis.to_sql(expression, dialect="duckdb")), as_of)
        stored = StoredFeatures(
            as_of=as_of,
            rows=rows,
            snapshot=snapshot,
            definitions=definitions_fingerprint(config),
            method="full",
            previous_as_of=None,
            recomputed=rows,
        )
        report = finish_feature_set(
            db, config, stored, created_at=created_at, started=started, summary=summary
        )
    if out is None:
        return report
    return replace(report, out=export_features(db, as_of, out))


@dataclass(frozen=True)
class StoredFeatures:
    """Features just stored at ``as_of``, and how they were computed."""

    as_of: datetime
    rows: int
    snapshot: Snapshot
    definitions: str
    method: Method
    previous_as_of: datetime | None
    recomputed: int


def finish_feature_set(
    db: Database,
    config: FeaturesConfig,
    stored: StoredFeatures,
    *,
    created_at: datetime,
    started: float,
    summary: bool = True,
) -> FeatureReport:
    """What follows storing features, however they were computed: the summary (unless
    ``summary`` is False), the RFM baseline run ``rfm-<as_of>`` and the ``feature_sets``
    record (in the caller's transaction)."""
    as_of = stored.as_of
    stats = _summary(db, as_of) if summary else []
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
    record = FeatureSet(
        as_of=as_of,
        computed_at=created_at,
        method=stored.method,
        previous_as_of=stored.previous_as_of,
        definitions=stored.definitions,
        config=definition_config(config),
        snapshot=stored.snapshot,
        contacts=stored.rows,
        recomputed=stored.recomputed,
    )
    save_feature_set(db, record)
    return FeatureReport(as_of, stored.rows, stats, time.perf_counter() - started, None)


def _summary(db: Database, as_of: datetime) -> list[FeatureStat]:
    table = duckdb_backend(db.con).table("features")
    return summarize(table.filter(table.as_of == as_of_literal(as_of)), FEATURE_COLUMNS)
