"""A refresh of the features: the stored features carried forward, only what changed computed.

``refresh_features`` stores at ``as_of`` exactly the rows
:func:`~audience.features.compute.compute_features` would (same table, columns, types and
values; the same RFM baseline run and summary), starting from the features stored at
``previous_as_of``:

1. :func:`~audience.features.touched.refresh_plan` flags the contacts whose events or
   contact row changed, with the kinds of features (email, site, visits) that changed;
2. the email features of contacts whose new email events are all of campaigns new to
   them are the stored ones plus those events (:mod:`~audience.features.email_delta`);
3. the feature table itself is computed for the other flagged contacts only, from their
   history of the kinds of events that changed (the same Ibis definitions);
4. every other stored feature is carried forward, moved on by the clock, and the RFM
   scores, groups and engagement tiers of everyone are computed again
   (:mod:`~audience.features.carried`).

Everything is computed again instead (and the report and the log say why) when ``as_of``
is not after ``previous_as_of``, when nothing (or no record of how it was computed) is
stored at ``previous_as_of``, when the features config or definitions differ from those
the stored features were computed with, or when events were removed since.
"""

from __future__ import annotations

import logging
import time
from contextlib import ExitStack
from dataclasses import replace
from datetime import datetime

import ibis
import ibis.expr.types as ir

from audience.config import FeaturesConfig
from audience.features.calendar import as_of_literal
from audience.features.carried import carried_forward, combined, rescored
from audience.features.compute import StoredFeatures, compute_features, finish_feature_set
from audience.features.definitions import definition_config, definitions_fingerprint
from audience.features.email_delta import email_events_since, merged_email, opened_or_clicked
from audience.features.scope import EMAIL_EVENTS, READ_COLUMNS, SITE_EVENTS
from audience.features.summary import FeatureRefresh, FeatureReport
from audience.features.table import FEATURE_COLUMNS, feature_table
from audience.features.touched import Span, refresh_plan
from audience.store import Database
from audience.store.engines import duckdb_backend
from audience.store.feature_sets import FeatureSet, Snapshot, read_feature_set, take_snapshot
from audience.store.features_table import count_features, replace_features, stored_columns
from audience.store.results import scalar_int

log = logging.getLogger(__name__)


def refresh_features(
    db: Database,
    config: FeaturesConfig,
    as_of: datetime,
    *,
    previous_as_of: datetime,
    created_at: datetime,
) -> FeatureReport:
    """Store the features at ``as_of`` from those at ``previous_as_of`` and what changed since.

    The result equals :func:`~audience.features.compute.compute_features` at ``as_of``,
    which runs instead when the stored features cannot be carried forward
    (``report.refresh.fallback`` says why).
    """
    started = time.perf_counter()
    snapshot = take_snapshot(db)
    definitions = definitions_fingerprint(config)
    record = read_feature_set(db, previous_as_of)
    reason = _why_not_incremental(db, config, as_of, previous_as_of, record, definitions)
    if reason is None:
        assert record is not None
        new_ingests = tuple(sorted(set(snapshot.ingests) - set(record.snapshot.ingests)))
        reason = _events_removed(db, snapshot, record, new_ingests)
    if reason is not None:
        log.info("features at %s: computing every contact, because %s", as_of, reason)
        report = compute_features(db, config, as_of, created_at=created_at)
        outcome = FeatureRefresh(previous_as_of, False, reason, report.contacts, 0)
        return replace(report, refresh=outcome)
    span = Span(previous_as_of, as_of, new_ingests, config.abandon_hours)
    with db.transaction():  # one unit, as compute_features is
        with db.memory_limit(config.memory_limit):
            rows, recomputed = _store_refreshed(db, config, span)
        stored = StoredFeatures(
            as_of, rows, snapshot, definitions, "incremental", previous_as_of, recomputed
        )
        report = finish_feature_set(db, config, stored, created_at=created_at, started=started)
    log.info(
        "features at %s from those at %s: %d of %d contacts computed again",
        as_of, previous_as_of, recomputed, rows,
    )  # fmt: skip
    return replace(
        report, refresh=FeatureRefresh(previous_as_of, True, None, recomputed, rows - recomputed)
    )


def _why_not_incremental(
    db: Database,
    config: FeaturesConfig,
    as_of: datetime,
    previous_as_of: datetime,
    record: FeatureSet | None,
    definitions: str,
) -> str | None:
    """Why the features at ``previous_as_of`` cannot be carried forward, or None."""
    if as_of <= previous_as_of:
        return f"as_of {as_of.isoformat()} is not after previous_as_of {previous_as_of.isoformat()}"
    stored = count_features(db, previous_as_of)
    if stored == 0:
        return f"no features are stored at {previous_as_of.isoformat()}"
    if record is None:
        return (
            f"there is no record of how the features at {previous_as_of.isoformat()} were computed"
        )
    if record.contacts != stored:
        return f"the features at {previous_as_of.isoformat()} changed after they were recorded"
    changed = _config_changes(record.config, definition_config(config))
    if changed:
        return f"the features config differs from theirs ({changed})"
    if record.definitions != definitions or [c for c, _ in stored_columns(db)] != [
        "contact_id", "as_of", *FEATURE_COLUMNS
    ]:  # fmt: skip
        return f"the feature definitions changed since the features at {previous_as_of.isoformat()}"
    return None


def _config_changes(before: dict[str, object], now: dict[str, object]) -> str:
    keys = sorted(set(before) | set(now))
    return ", ".join(
        f"{key} {before.get(key)!r} → {now.get(key)!r}"
        for key in keys
        if before.get(key) != now.get(key)
    )


def _events_removed(
    db: Database, snapshot: Snapshot, record: FeatureSet, new_ingests: tuple[str, ...]
) -> str | None:
    """Events can only be added by ingests: any other change makes the stored rows stale."""
    added = 0
    if new_ingests:
        marks = ", ".join("?" for _ in new_ingests)
        added = scalar_int(
            db.con, f"SELECT count(*) FROM events WHERE ingest_id IN ({marks})", list(new_ingests)
        )
    if snapshot.events - added == record.snapshot.events:
        return None
    return (
        f"the events changed outside ingests since {record.as_of.isoformat()} "
        f"({record.snapshot.events} then, {snapshot.events - added} now without the new ingests)"
    )


def _store_refreshed(db: Database, config: FeaturesConfig, span: Span) -> tuple[int, int]:
    """Compute and store the features at ``span.as_of``; return (rows, contacts recomputed)."""
    backend = duckdb_backend(db.con)
    contacts, events = backend.table("contacts"), backend.table("events")
    features = backend.table("features")
    previous = features.filter(features.as_of == as_of_literal(span.previous))
    # Each intermediate table is read several times: kept, and dropped on the way out.
    with ExitStack() as cached:
        flags = cached.enter_context(refresh_plan(contacts, events, previous, span).cache())
        candidates = flags.filter(flags.email_new & ~flags.email_late & ~flags.full)
        delta = cached.enter_context(email_events_since(events, candidates, span).cache())
        opened = opened_or_clicked(delta).select("campaign_id").distinct()
        campaigns = opened.campaign_id.to_pyarrow().to_pylist()
        merged = merged_email(events, previous, delta, campaigns, span)
        merged = cached.enter_context(merged.cache())
        plan = cached.enter_context(_final_plan(flags, merged).cache())
        _log_plan(plan)
        again = plan.filter(plan.email | plan.site | plan.visits)
        # Their events first, on their own: the feature steps read them several times.
        recompute = cached.enter_context(_events_to_recompute(events, again, span).cache())
        fresh = feature_table(
            contacts.semi_join(again, "contact_id"), recompute, span.as_of, config
        )
        # Computed on its own: Ibis then compiles the rest as a small query on top of it.
        fresh = cached.enter_context(fresh.cache())
        carried = carried_forward(previous, span, config.btyd_period, fresh.schema())
        added = merged.filter(merged.ok).drop("ok")
        refreshed = rescored(combined(fresh, added, carried, plan), span.as_of, config)
        rows = replace_features(db, _as_stored(db, refreshed), span.as_of)
        stored = features.filter(features.as_of == as_of_literal(span.as_of))
        recomputed = int(stored.semi_join(again, "contact_id").count().to_pyarrow().as_py())
    return rows, recomputed


def _final_plan(flags: ir.Table, merged: ir.Table) -> ir.Table:
    """Per changed contact, what to compute again: ``email``, ``site`` or only ``visits``
    from their events, or the email features ``merged`` from the stored row and the
    events since."""
    t = flags.left_join(merged.select("contact_id", "ok"), "contact_id").drop("contact_id_right")
    added = t.ok.fill_null(False)
    email = t.full | t.email_late | (t.email_new & ~added)
    site = t.full | t.site
    return t.select(
        "contact_id", "full", email=email, site=site, visits=t.visits & ~site, merged=added & ~email
    )


def _log_plan(plan: ir.Table) -> None:
    counts = plan.aggregate(
        **{flag: plan[flag].sum() for flag in ("full", "email", "site", "visits", "merged")}
    )
    row = counts.to_pyarrow().to_pylist()[0]
    log.info(
        "contacts changed: %s new or updated; computed again: %s email features, %s site "
        "features, %s visits only; %s email features carried forward with the events since",
        row["full"], row["email"], row["site"], row["visits"], row["merged"],
    )  # fmt: skip


def _events_to_recompute(events: ir.Table, plan: ir.Table, span: Span) -> ir.Table:
    """The events of the planned contacts, of the kinds whose features they need again
    (for visits only, the site events the visit windows can see)."""
    joined = events.join(plan, "contact_id")
    recent = joined.timestamp >= as_of_literal(span.visit_horizon())
    # A CASE, not an OR of kinds: DuckDB would take the kinds alone to filter every event
    # while reading, before the join keeps only the planned contacts' few.
    wanted = ibis.cases(
        (joined.event.isin(EMAIL_EVENTS), joined.email),
        (joined.event.isin(SITE_EVENTS), joined.site | (joined.visits & recent)),
        else_=False,
    )
    return joined.filter(wanted).select(*READ_COLUMNS)


def _as_stored(db: Database, refreshed: ir.Table) -> str:
    """The SQL of ``refreshed`` with the stored table's column types.

    Ibis does not always know the type DuckDB gives a column (a sum of flags is a HUGEINT
    to DuckDB and an int64 to Ibis); the stored table's own types are the ones to keep
    (the refresh ran because its columns are those of today's definitions).
    """
    casts = ", ".join(f'CAST("{name}" AS {kind}) AS "{name}"' for name, kind in stored_columns(db))
    return f"SELECT {casts} FROM ({ibis.to_sql(refreshed, dialect='duckdb')}) AS refreshed"
