"""What changed between a segment-tree run and the previous one: where contacts moved, how
segment sizes changed, and how far features drifted (tables ``transitions`` and ``drift``).

The previous run is the newest tree run created before (:func:`previous_tree_run`). Its
memberships and its features at its ``as_of`` are read from the store; the new run's are
given, before it is stored (:func:`compare_runs`), so that :func:`write_changes` can write
them in the run's own transaction. The first run has nothing to compare and stores nothing.

Transitions
    One row per (from, to) pair with its count of contacts, over every contact with a
    membership in either run (suppressed segments included): ``from_segment`` is NULL for a
    contact not in the previous run (new, or matched no rule then), ``to_segment`` NULL for
    one not in this run.
Sizes
    Each segment's contacts in the previous and this run (the transitions summed), the
    change and the change relative to the previous size (``NaN`` for a new segment).
Drift (:mod:`audience.features.drift`)
    PSI and KS of ``[models] features``, and PSI of the ``[preprocess] categorical``
    features, of the contactable contacts (not suppressed; scope ``''``) and of each
    contactable segment present in both runs with at least ``[drift] min_contacts`` contacts
    in both (scope: its id), on a seeded sample of ``[drift] sample`` contacts of each run.
    Status ``ok``/``watch``/``alert`` by the ``[drift]`` thresholds. When the previous
    features are no longer stored (the ``features`` table was rebuilt after a definition
    changed), there is no drift, and a warning is logged. Two runs at the same ``as_of``
    share one set of stored features (the newer computation replaces the older), so drift
    between them reflects only which contacts are in which segment.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import duckdb
import pandas as pd
import pyarrow as pa

from audience.config import WorkspaceConfig
from audience.features.drift import feature_drift
from audience.segments.branches import is_suppressed
from audience.sql_text import identifier
from audience.store.database import Database
from audience.store.segment_runs import read_run

log = logging.getLogger(__name__)

TRANSITION_COLUMNS = ("from_segment", "to_segment", "contacts")
SIZE_COLUMNS = ("segment_id", "previous", "current", "change", "relative_change")
DRIFT_COLUMNS = ("scope", "feature", "psi", "ks", "status")
POPULATION = ""
"""The drift scope of the whole contactable audience."""

_TREE_RUNS = "json_extract_string(config, '$.kind') = 'tree'"


@dataclass(frozen=True, eq=False)
class RunChanges:
    """A run against the previous tree run."""

    previous_run_id: str
    transitions: pd.DataFrame
    """from_segment (None: not in the previous run), to_segment (None: not in this run),
    contacts; most contacts first."""
    sizes: pd.DataFrame
    """segment_id, previous, current, change, relative_change (``NaN`` when previous is 0),
    one row per segment with members in either run, by segment_id."""
    drift: pd.DataFrame
    """scope (``''``: the contactable population, else a segment id), feature, psi, ks
    (``NaN`` for categorical features), status (``ok``, ``watch`` or ``alert``); the
    population first."""


def previous_tree_run(db: Database, before: str | datetime) -> str | None:
    """The newest tree run created before ``before`` (a run id, or a moment), or None."""
    params: list[object]
    if isinstance(before, datetime):
        query, params = f"{_TREE_RUNS} AND created_at < ?", [before]
    else:
        created_at = read_run(db, before)[0]
        query = f"{_TREE_RUNS} AND (created_at < ? OR (created_at = ? AND run_id < ?))"
        params = [created_at, created_at, before]
    rows = db.con.execute(
        f"SELECT run_id FROM runs WHERE {query} ORDER BY created_at DESC, run_id DESC LIMIT 1",
        params,
    ).fetchall()
    return str(rows[0][0]) if rows else None


def compare_runs(
    db: Database,
    config: WorkspaceConfig,
    *,
    previous_run_id: str,
    memberships: pd.DataFrame,
    features: pd.DataFrame,
) -> RunChanges:
    """The new run (``memberships``: contact_id, segment_id; ``features``: its feature frame
    at its ``as_of``, with contact_id) against the stored ``previous_run_id``."""
    transitions = _transitions(db, previous_run_id, memberships)
    _created, as_of, _config, _metrics = read_run(db, previous_run_id)
    numeric, categorical = _drift_features(config, features, _stored_features(db))
    before = _stored_contactable(db, previous_run_id, as_of, numeric, categorical)
    after = features[["contact_id", *numeric, *categorical]].merge(
        memberships[["contact_id", "segment_id"]], on="contact_id"
    )
    after = after[~is_suppressed(after["segment_id"])]
    if before.empty and not after.empty:
        log.warning(
            "the features of run %s (as of %s) are no longer stored: no drift measured",
            previous_run_id,
            as_of,
        )
    return RunChanges(
        previous_run_id=previous_run_id,
        transitions=transitions,
        sizes=segment_sizes(transitions),
        drift=_drift(before, after, numeric, categorical, config),
    )


def changes_writer(
    db: Database,
    config: WorkspaceConfig,
    run_id: str,
    previous_run_id: str | None,
    memberships: pd.DataFrame,
    features: pd.DataFrame,
) -> Callable[[duckdb.DuckDBPyConnection], None] | None:
    """The new run ``run_id`` compared with ``previous_run_id`` (:func:`previous_tree_run`),
    as a function writing it on the connection of the run's transaction; None for a first
    run (:func:`audience.store.segment_runs.save_tree_run` takes it as ``also``)."""
    if previous_run_id is None:
        return None
    changes = compare_runs(
        db, config, previous_run_id=previous_run_id, memberships=memberships, features=features
    )
    return lambda con: write_changes(con, run_id, changes)


def segment_sizes(transitions: pd.DataFrame) -> pd.DataFrame:
    """Each segment's size before and now, from the transitions (see :class:`RunChanges`)."""
    before = transitions.groupby("from_segment")["contacts"].sum()
    after = transitions.groupby("to_segment")["contacts"].sum()
    sizes = pd.concat({"previous": before, "current": after}, axis=1).fillna(0).astype("int64")
    sizes = sizes.sort_index().rename_axis("segment_id").reset_index()
    change = sizes["current"] - sizes["previous"]
    relative = change / sizes["previous"].where(sizes["previous"] > 0)
    sizes = sizes.assign(change=change, relative_change=relative.astype("float64"))
    return sizes[list(SIZE_COLUMNS)]


def write_changes(con: duckdb.DuckDBPyConnection, run_id: str, changes: RunChanges) -> None:
    """Insert the transitions and drift of ``run_id`` on ``con`` (the caller's transaction)."""
    tables = {"transitions": changes.transitions, "drift": changes.drift}
    columns = {"transitions": TRANSITION_COLUMNS, "drift": DRIFT_COLUMNS}
    for table, frame in tables.items():
        names = ", ".join(columns[table])
        con.register(
            "_changes", pa.Table.from_pandas(frame[list(columns[table])], preserve_index=False)
        )
        try:
            con.execute(
                f"INSERT INTO {table} (run_id, previous_run_id, {names}) "
                f"SELECT ?, ?, {names} FROM _changes",
                [run_id, changes.previous_run_id],
            )
        finally:
            con.unregister("_changes")


def read_changes(db: Database, run_id: str) -> RunChanges | None:
    """The stored changes of ``run_id``, or None when none were stored (its first run)."""
    transitions = _frame(
        db,
        "SELECT previous_run_id, from_segment, to_segment, contacts FROM transitions "
        "WHERE run_id = $run ORDER BY contacts DESC, from_segment NULLS FIRST, "
        "to_segment NULLS FIRST",
        run_id,
    )
    if transitions.empty:
        return None
    drift = _frame(
        db,
        "SELECT scope, feature, psi, ks, status FROM drift WHERE run_id = $run "
        "ORDER BY scope, feature",
        run_id,
    )
    transitions = _missing_as_none(transitions)
    return RunChanges(
        previous_run_id=str(transitions["previous_run_id"].iloc[0]),
        transitions=transitions[list(TRANSITION_COLUMNS)],
        sizes=segment_sizes(transitions),
        drift=drift.astype({"psi": "float64", "ks": "float64"}),
    )


def _transitions(db: Database, previous_run_id: str, memberships: pd.DataFrame) -> pd.DataFrame:
    members = pa.Table.from_pandas(memberships[["contact_id", "segment_id"]], preserve_index=False)
    db.con.register("_new_members", members)
    try:
        frame = _frame(
            db,
            "SELECT p.segment_id AS from_segment, n.segment_id AS to_segment, "
            "count(*) AS contacts FROM "
            "(SELECT contact_id, segment_id FROM memberships WHERE run_id = $run) p "
            "FULL OUTER JOIN _new_members n USING (contact_id) GROUP BY ALL "
            "ORDER BY contacts DESC, from_segment NULLS FIRST, to_segment NULLS FIRST",
            previous_run_id,
        )
    finally:
        db.con.unregister("_new_members")
    return _missing_as_none(frame)


def _drift(
    before: pd.DataFrame,
    after: pd.DataFrame,
    numeric: list[str],
    categorical: list[str],
    config: WorkspaceConfig,
) -> pd.DataFrame:
    if before.empty or after.empty:
        return pd.DataFrame(columns=list(DRIFT_COLUMNS))
    settings = config.drift
    before, after = _sample(before, settings.sample), _sample(after, settings.sample)
    tables = [feature_drift(before, after, numeric, categorical, settings).assign(scope=POPULATION)]
    earlier, later = before.groupby("segment_id"), after.groupby("segment_id")
    sizes_before, sizes_after = earlier.size(), later.size()
    for segment in sorted(set(sizes_before.index) & set(sizes_after.index)):
        if min(sizes_before[segment], sizes_after[segment]) < settings.min_contacts:
            continue
        table = feature_drift(
            earlier.get_group(segment), later.get_group(segment), numeric, categorical, settings
        )
        tables.append(table.assign(scope=segment))
    return pd.concat(tables, ignore_index=True)[list(DRIFT_COLUMNS)]


def _drift_features(
    config: WorkspaceConfig, features: pd.DataFrame, stored: set[str]
) -> tuple[list[str], list[str]]:
    """The numeric ``[models] features`` and the ``[preprocess] categorical`` features the
    new frame has and the stored features table has too."""
    present = set(features.columns) & stored
    categorical = [c for c in config.preprocess.categorical if c in present]
    numeric = [
        c
        for c in config.models.features
        if c in present and c not in categorical and pd.api.types.is_numeric_dtype(features[c])
    ]
    return numeric, categorical


def _stored_features(db: Database) -> set[str]:
    rows = db.con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'features'"
    ).fetchall()
    return {str(name) for (name,) in rows}


def _stored_contactable(
    db: Database, run_id: str, as_of: datetime, numeric: list[str], categorical: list[str]
) -> pd.DataFrame:
    """A stored run's contactable contacts: segment_id and the drift features at ``as_of``
    (numbers as DOUBLE), by contact_id. Only these columns are read, joined in DuckDB:
    reading every feature and merging in pandas took four times as long."""
    if not numeric and not categorical:
        return pd.DataFrame()
    columns = [f"CAST(f.{identifier(c)} AS DOUBLE) AS {identifier(c)}" for c in numeric]
    columns += [f"CAST(f.{identifier(c)} AS VARCHAR) AS {identifier(c)}" for c in categorical]
    frame: pd.DataFrame = (
        db.con.sql(
            f"SELECT m.segment_id, {', '.join(columns)} FROM features f "
            "JOIN memberships m USING (contact_id) WHERE f.as_of = $as_of AND m.run_id = $run "
            "ORDER BY f.contact_id",
            params={"as_of": as_of, "run": run_id},
        )
        .to_arrow_table()
        .to_pandas()
    )
    return frame[~is_suppressed(frame["segment_id"])].reset_index(drop=True)


def _sample(frame: pd.DataFrame, n: int) -> pd.DataFrame:
    return frame.sample(n=n, random_state=0) if 0 < n < len(frame) else frame


def _frame(db: Database, sql: str, run_id: str) -> pd.DataFrame:
    frame: pd.DataFrame = db.con.sql(sql, params={"run": run_id}).to_arrow_table().to_pandas()
    return frame


def _missing_as_none(transitions: pd.DataFrame) -> pd.DataFrame:
    """Segment columns as objects with None for "not in that run" (never NaN)."""
    segments = {
        column: transitions[column].astype(object).where(transitions[column].notna(), None)
        for column in ("from_segment", "to_segment")
    }
    return transitions.assign(**segments)
