"""The features step from end to end: compute in the engine, store, summarise.

``compute_features`` builds :func:`audience.features.table.feature_table` on the workspace's
DuckDB connection, stores it (table ``features``, replaced whole per ``as_of``), summarises
it and stores the named RFM groups as the rules baseline run ``rfm-<as_of>``.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import ibis

from audience.config import FeaturesConfig
from audience.features.calendar import as_of_literal
from audience.features.scores import rfm_group_rules
from audience.features.summary import FeatureReport, summarize
from audience.features.table import FEATURE_COLUMNS, feature_table
from audience.store import Database
from audience.store.engines import duckdb_backend
from audience.store.features_table import export_features, save_features
from audience.store.runs import save_feature_rule_run


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
