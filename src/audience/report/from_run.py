"""The HTML report of a stored segment-tree run: read from the workspace, drawn by
:mod:`audience.report`.

What is not stored is recomputed from what is, at the run's ``as_of``: the lift of each
feature per segment (:func:`audience.personas.profile_segments` on the stored features and
memberships) and a 2-D PCA projection of a seeded sample of contactable contacts,
preprocessed as for clustering. "What changed" is read as stored with the run
(:func:`audience.segments.changes.read_changes`), with the previous run's names.
"""

from __future__ import annotations

from collections.abc import Hashable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA  # type: ignore[import-untyped]

from audience.config import WorkspaceConfig
from audience.features.preprocess import build_preprocessor
from audience.personas import profile_segments
from audience.report.data import ReportData
from audience.report.html import write_report
from audience.segment_ids import is_suppressed_id
from audience.segments.changes import read_changes
from audience.segments.explaining import contactable_features
from audience.store.database import Database
from audience.store.segment_runs import read_run, read_tree

PROJECTION_SAMPLE = 5_000
DISTRIBUTION_SAMPLE = 20_000


def write_run_report(db: Database, config: WorkspaceConfig, run_id: str, path: Path) -> Path:
    """Write the report of ``run_id`` to ``path``."""
    return write_report(run_report_data(db, config, run_id), path)


def run_report_data(db: Database, config: WorkspaceConfig, run_id: str) -> ReportData:
    created_at, as_of, _config, metrics = read_run(db, run_id)
    tree = read_tree(db, run_id)
    active = contactable_features(db, run_id, as_of)
    columns = list(config.models.features)
    lift = (
        profile_segments(active, active["segment_id"].to_numpy(), columns).lift_matrix()
        if len(active)
        else pd.DataFrame()
    )
    names = dict(zip(tree["segment_id"], tree["name"], strict=True))
    branches: dict[str, Any] = dict(metrics.get("branches", {}))  # type: ignore[call-overload]
    total = int(tree.loc[tree["parent_id"].isna(), "size"].sum())
    leaves = _leaves(tree)
    # Persona cards for the segments people can be sent to: not suppressed, not empty.
    contactable = leaves[(leaves["size"] > 0) & ~leaves["segment_id"].map(is_suppressed_id)]
    return ReportData(
        title=f"Audience segments, {as_of:%Y-%m-%d}",
        run_id=run_id,
        as_of=as_of,
        created_at=created_at,
        method=_methods(branches),
        n_segments=len(contactable),
        ingest=_ingests(db),
        quality=_quarantine(db),
        features=_sample(active[columns], DISTRIBUTION_SAMPLE),
        selection=_selection(branches),
        projection=_projection(active, columns, names, config),
        dendrogram=_dendrogram(branches),
        lift=lift.rename(columns=names) if not lift.empty else lift,
        personas=[_persona(row, total) for row in contactable.to_dict(orient="records")],
        tree=_tree_table(tree, total),
        merges=_merges(branches),
        surrogate_fidelity=_float(metrics.get("surrogate_fidelity")),
        rules={
            str(row["segment_id"]): list(row["definition"].get("rules", []))
            for row in leaves.to_dict(orient="records")
            if row["definition"].get("rules")
        },
        **_changes(db, run_id),
    )


def _changes(db: Database, run_id: str) -> dict[str, Any]:
    """ReportData's "What changed" fields (none for a first run)."""
    changes = read_changes(db, run_id)
    if changes is None:
        return {}
    before = read_tree(db, changes.previous_run_id)
    return {
        "previous_run_id": changes.previous_run_id,
        "previous_names": dict(zip(before["segment_id"], before["name"], strict=True)),
        "transitions": changes.transitions,
        "size_changes": changes.sizes,
        "drift": changes.drift,
    }


def _leaves(tree: pd.DataFrame) -> pd.DataFrame:
    parents = set(tree["parent_id"].dropna())
    return tree[~tree["segment_id"].isin(parents)]


def _methods(branches: dict[str, Any]) -> str:
    methods = sorted({str(b["method"]) for b in branches.values() if b.get("method")})
    return ", ".join(methods) or "rules only"


def _ingests(db: Database) -> pd.DataFrame:
    frame: pd.DataFrame = (
        db.con.sql(
            "SELECT source, kind, rows_read, accepted, quarantined, duplicates FROM ingests "
            "ORDER BY started_at"
        )
        .to_arrow_table()
        .to_pandas()
    )
    return frame


def _quarantine(db: Database) -> pd.DataFrame:
    frame: pd.DataFrame = (
        db.con.sql("SELECT reason, count(*) AS rows FROM quarantine GROUP BY 1 ORDER BY 2 DESC, 1")
        .to_arrow_table()
        .to_pandas()
    )
    return frame


def _sample(frame: pd.DataFrame, n: int) -> pd.DataFrame:
    return frame.sample(n=n, random_state=0) if len(frame) > n else frame


def _selection(branches: dict[str, Any]) -> pd.DataFrame:
    tables = [
        pd.DataFrame(entry["selection"]).assign(branch=branch)
        for branch, entry in branches.items()
        if entry.get("selection")
    ]
    if not tables:
        return pd.DataFrame()
    table = pd.concat(tables, ignore_index=True)
    numeric = ["silhouette", "inertia", "bic", "calinski_harabasz", "davies_bouldin", "stability"]
    return table.astype({c: "float64" for c in numeric if c in table})


def _projection(
    active: pd.DataFrame, columns: list[str], names: dict[str, str], config: WorkspaceConfig
) -> pd.DataFrame:
    if len(active) < 3:
        return pd.DataFrame()
    sample = _sample(active, PROJECTION_SAMPLE)
    matrix = build_preprocessor(config.preprocess).fit_transform(sample[columns])
    xy = PCA(n_components=2, random_state=0).fit_transform(matrix)
    return pd.DataFrame(
        {"x": xy[:, 0], "y": xy[:, 1], "segment": sample["segment_id"].map(names).to_numpy()}
    )


def _dendrogram(branches: dict[str, Any]) -> np.ndarray | None:
    for entry in branches.values():
        if entry.get("linkage"):
            return np.asarray(entry["linkage"], dtype=np.float64)
    return None


def _persona(row: dict[Hashable, Any], total: int) -> dict[str, Any]:
    persona = row["definition"].get("persona") or {}
    return {
        "segment_id": row["segment_id"],
        "name": row["name"],
        "size": int(row["size"]),
        "share": row["size"] / total if total else 0.0,
        "stage": persona.get("stage", ""),
        "traits": persona.get("traits", []),
        "messaging": persona.get("messaging", ""),
        "actions": persona.get("actions", []),
        "rules": row["definition"].get("rules", []),
    }


def _tree_table(tree: pd.DataFrame, total: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "segment_id": tree["segment_id"],
            "parent_id": tree["parent_id"].where(tree["parent_id"].notna(), None),
            "name": tree["name"],
            "size": tree["size"].astype("int64"),
            "share": tree["size"] / total if total else 0.0,
            "kind": [d.get("kind", "") for d in tree["definition"]],
        }
    )


def _merges(branches: dict[str, Any]) -> pd.DataFrame:
    rows = [
        {
            "segment_id": f"{branch}/cluster {m['label'] + 1}",
            "into": f"{branch}/cluster {m['into'] + 1}",
            "size": m["size"],
            "reason": f"{m['share']:.2%} of {branch}, under segments.min_share",
        }
        for branch, entry in branches.items()
        for m in entry.get("merges", [])
    ]
    return pd.DataFrame(rows)


def _float(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None
