"""A segment-tree run: rules → clusters inside each broad segment → personas → stored.

1. Every rule of ``[segments]`` is parsed and checked first: a bad rule changes nothing.
2. Features at ``as_of`` are computed and stored; the rules are evaluated in the engine.
3. Each broad segment that asks for it is clustered (:mod:`audience.segments.tree`) and
   its small clusters merged.
4. Contactable segments (not suppressed) are profiled against each other and named after
   their personas. A cluster that continues a segment of the previous tree run keeps its id
   (and any rename); any other gets its branch and its name's slug
   (``customers/high-value-frequent-buyers``): :mod:`audience.segments.identity`. A
   surrogate decision tree explains them.
5. The run, every node of the tree and every contact's leaf are stored in one transaction,
   with the segments' lineage and what changed since the previous tree run
   (:mod:`audience.segments.changes`).

The whole run is one transaction, the features of step 2 included: a run that fails or is
killed leaves the workspace as it was. Its model file is written under a temporary name and
renamed when the transaction commits (:mod:`audience.store.model_files`). A caller that
opens a transaction around it (``Workspace.segment`` with the run's alerts, a refresh)
makes those part of the same unit.
"""

from __future__ import annotations

import re
import time
from dataclasses import replace
from datetime import datetime
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from audience.config import ModelsConfig, WorkspaceConfig
from audience.features.compute import compute_features
from audience.personas import (
    Persona,
    Profiles,
    Surrogate,
    name_segments,
    profile_segments,
    surrogate_rules,
)
from audience.progress import StepProgress, no_progress
from audience.segment_ids import CLUSTER, OUTLIERS, SUPPRESSED
from audience.segments.assign import BranchAssigner, SegmentAssigner
from audience.segments.branches import (
    RulePlan,
    assign_branches,
    branch_case,
    is_suppressed,
    plan_rules,
)
from audience.segments.changes import changes_writer, previous_tree_run
from audience.segments.identity import (
    Identity,
    NewCluster,
    read_predecessor,
    stable_ids,
    used_ids,
    write_lineage,
)
from audience.segments.summary import TreeReport
from audience.segments.tree import Node, SegmentTree, WarmStart, build_tree
from audience.store.database import Database
from audience.store.features_table import read_features
from audience.store.model_files import ModelFiles
from audience.store.segment_runs import new_run_id, save_tree_run


def segment_tree_run(
    db: Database,
    config: WorkspaceConfig,
    as_of: datetime,
    *,
    created_at: datetime,
    method: str | None = None,
    k: int | None = None,
    progress: StepProgress | None = None,
    models: ModelFiles | None = None,
    warm: WarmStart | None = None,
    features_ready: bool = False,
) -> TreeReport:
    """Run and store the tree (see the module docstring); ``method`` and ``k`` override
    ``[models]`` in every broad segment that does not set its own. With ``models``,
    what assigning new contacts needs is kept there as ``<run_id>.joblib``. With ``warm``,
    branches refit the previous run's models instead of selecting again
    (:func:`audience.segments.tree.build_tree`); with ``features_ready``, the features at
    ``as_of`` are already stored (a refresh computed them incrementally)."""
    started = time.perf_counter()
    step = progress or no_progress
    plan = plan_rules(config.segments)
    # One unit: the features, the run and the model file are all kept, or none is.
    with db.transaction():
        if not features_ready:
            step("computing features", 0, 1)
            compute_features(db, config.features, as_of, created_at=created_at, summary=False)
        frame = read_features(db, as_of)
        branches = assign_branches(db, plan, as_of)
        if not frame["contact_id"].reset_index(drop=True).equals(branches["contact_id"]):
            raise AssertionError("features and branches are not in the same contact order")
        chosen = config.models.model_copy(
            update={key: value for key, value in {"method": method, "k": k}.items() if value}
        )
        tree = build_tree(
            frame,
            branches["branch"],
            plan,
            config.segments,
            chosen,
            config.preprocess,
            progress,
            warm,
        )
        step("naming segments", 0, 1)
        active = (tree.leaf.notna() & ~is_suppressed(tree.leaf)).to_numpy()
        people = frame[active].reset_index(drop=True)
        profiles = profile_segments(people, tree.leaf[active].to_numpy())
        personas = name_segments(profiles)
        previous = previous_tree_run(db, created_at)
        identity = _identity(db, config, tree, personas, frame, previous)
        renamed, personas = _renamed(tree, personas, identity.ids)
        ids = {old.id: new.id for old, new in zip(tree.nodes, renamed.nodes, strict=True)}
        profiles = _with_ids(profiles, ids)
        tree = renamed
        step("explaining segments", 0, 1)
        surrogate = surrogate_rules(people, tree.leaf[active].to_numpy())
        nodes = _node_table(tree, personas, profiles, surrogate, len(frame))
        run_id = new_run_id(db, created_at)
        step("storing", 0, 1)
        members = _memberships(frame, tree)
        changes = changes_writer(db, config, run_id, previous, members, frame)

        def also(con: duckdb.DuckDBPyConnection) -> None:
            write_lineage(con, run_id, previous, identity.lineage)
            if changes is not None:
                changes(con)

        if models is not None:  # renamed into place when the run commits
            models.stage(db, run_id, _assigner(run_id, plan, tree))
        save_tree_run(
            db,
            run_id=run_id,
            as_of=as_of,
            created_at=created_at,
            memberships=members,
            segments=nodes,
            config=_run_config(config, chosen, method, k, warm),
            metrics=_metrics(tree, surrogate),
            also=also,
        )
    return TreeReport(
        run_id=run_id,
        as_of=as_of,
        segments=nodes.drop(columns=["definition"]),
        branches=_branch_table(tree),
        selection=_selection(tree),
        fidelity=float(surrogate.fidelity),
        unassigned=int(tree.leaf.isna().sum()),
        seconds=time.perf_counter() - started,
    )


def _run_config(
    config: WorkspaceConfig,
    models: ModelsConfig,
    method: str | None,
    k: int | None,
    warm: WarmStart | None,
) -> dict[str, Any]:
    return {
        "kind": "tree",
        "method": method,
        "k": k,
        "refit_from": warm.run_id if warm else None,
        "segments": config.segments.model_dump(),
        "models": models.model_dump(),
        "preprocess": config.preprocess.model_dump(),
    }


def _assigner(run_id: str, plan: RulePlan, tree: SegmentTree) -> SegmentAssigner:
    """The run's rules and fitted branch models, with the labels mapped to final ids."""
    leaf_of = {
        (node.parent, node.definition["label"]): node.id
        for node in tree.nodes
        if node.kind in (CLUSTER, OUTLIERS)
    }
    branches = {
        fit.branch: BranchAssigner(
            fit.model.preprocessor,
            fit.model.estimator,
            fit.model.features,
            {
                label: leaf_of[(fit.branch, merged)]
                for label, merged in fit.model.label_map.items()
                if (fit.branch, merged) in leaf_of
            },
        )
        for fit in tree.fits
        if fit.model is not None
    }
    return SegmentAssigner(run_id, branch_case(plan), branches)


def slug(name: str) -> str:
    """``High-value frequent buyers`` → ``high-value-frequent-buyers``."""
    text = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return text[:60].rstrip("-") or "segment"


def _identity(
    db: Database,
    config: WorkspaceConfig,
    tree: SegmentTree,
    personas: dict[str, Persona],
    frame: pd.DataFrame,
    previous: str | None,
) -> Identity:
    """Which clusters continue the previous run's segments; the others' new ids."""
    clusters = [
        NewCluster(node.id, str(node.parent), _cluster_slug(node, personas))
        for node in tree.nodes
        if node.kind == CLUSTER
    ]
    assigned = tree.leaf.notna().to_numpy()
    members = pd.DataFrame(
        {
            "contact_id": frame["contact_id"].to_numpy()[assigned],
            "segment_id": tree.leaf[assigned].astype(str).to_numpy(),
        }
    )
    return stable_ids(
        clusters=clusters,
        nodes=[node.id for node in tree.nodes],
        members=members,
        features=frame.loc[assigned, list(config.models.features)].reset_index(drop=True),
        previous=read_predecessor(db, previous) if previous is not None else None,
        taken=used_ids(db),
        config=config.segments.identity,
    )


def _cluster_slug(node: Node, personas: dict[str, Persona]) -> str:
    persona = personas.get(node.id)
    return slug(persona.name) if persona is not None else node.id.rsplit("/", 1)[-1]


def _renamed(
    tree: SegmentTree, personas: dict[str, Persona], ids: dict[str, str]
) -> tuple[SegmentTree, dict[str, Persona]]:
    """The tree and personas under the clusters' final ids."""
    nodes = [replace(node, id=ids.get(node.id, node.id)) for node in tree.nodes]
    leaf = tree.leaf.map(lambda v: ids.get(v, v) if v is not None else None)
    personas = {
        ids.get(key, key): replace(persona, segment_id=ids.get(key, key))
        for key, persona in personas.items()
    }
    return replace(tree, nodes=nodes, leaf=leaf), personas


def _with_ids(profiles: Profiles, ids: dict[str, str]) -> Profiles:
    """``profiles`` under the segments' final ids (cheaper than profiling again)."""

    def rename(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.assign(segment_id=frame["segment_id"].map(lambda s: ids.get(s, s)))

    return replace(profiles, segments=rename(profiles.segments), features=rename(profiles.features))


def _node_table(
    tree: SegmentTree,
    personas: dict[str, Persona],
    profiles: Profiles,
    surrogate: Surrogate,
    total: int,
) -> pd.DataFrame:
    kpis = profiles.segments.set_index("segment_id")
    rows = []
    for node in tree.nodes:
        persona = personas.get(node.id)
        definition: dict[str, Any] = dict(node.definition)
        name = definition.pop("name", None)
        if persona is not None:
            definition["persona"] = {
                "traits": list(persona.traits),
                "stage": persona.stage,
                "messaging": persona.messaging,
                "actions": list(persona.actions),
            }
            name = name or persona.name
        if node.id in kpis.index:
            definition["profile"] = _plain(kpis.loc[node.id].to_dict())
            definition["features"] = _feature_profile(profiles, node.id)
        rules = [rule.text for rule in surrogate.rules.get(node.id, ())]
        if rules:
            definition["rules"] = rules
        rows.append(
            {
                "segment_id": node.id,
                "parent_id": node.parent,
                "name": name or _default_name(node),
                "kind": node.kind,
                "size": node.size,
                "share": node.size / total if total else 0.0,
                "stage": persona.stage if persona else None,
                "traits": list(persona.traits) if persona else [],
                "definition": {**definition, "kind": node.kind},
            }
        )
    return pd.DataFrame(rows)


def _feature_profile(profiles: Profiles, segment_id: str) -> dict[str, dict[str, Any]]:
    """Each feature's mean, median, audience mean and lift in the segment."""
    rows = profiles.features[profiles.features["segment_id"] == segment_id]
    return {
        str(row["feature"]): _plain(
            {k: row[k] for k in ("mean", "median", "population_mean", "lift", "z")}
        )
        for _, row in rows.iterrows()
    }


def _plain(values: dict[Any, Any]) -> dict[str, Any]:
    """JSON-ready: missing values as None, numpy scalars as Python numbers."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, float | int | np.floating | np.integer):
            out[str(key)] = None if pd.isna(value) else round(float(value), 6)
        else:
            out[str(key)] = value
    return out


def _default_name(node: Node) -> str:
    if node.id == SUPPRESSED:
        return "Suppressed (not contactable)"
    if node.kind == SUPPRESSED:
        return f"Suppressed: {node.id.split('/', 1)[1].replace('_', ' ')}"
    return node.id.rsplit("/", 1)[-1].replace("-", " ").replace("_", " ").capitalize()


def _memberships(frame: pd.DataFrame, tree: SegmentTree) -> pd.DataFrame:
    assigned = tree.leaf.notna().to_numpy()
    return pd.DataFrame(
        {
            "contact_id": frame["contact_id"].to_numpy()[assigned],
            "segment_id": tree.leaf[assigned].astype(str).to_numpy(),
            "probability": tree.probability[assigned],
        }
    )


def _branch_table(tree: SegmentTree) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "branch": fit.branch,
                "contacts": fit.contacts,
                "method": fit.report.method if fit.report else None,
                "n_clusters": fit.report.n_segments if fit.report else None,
                "note": fit.note,
            }
            for fit in tree.fits
        ],
        columns=["branch", "contacts", "method", "n_clusters", "note"],
    )


def _selection(tree: SegmentTree) -> pd.DataFrame:
    tables = [fit.report.selection.assign(branch=fit.branch) for fit in tree.fits if fit.report]
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()


def _metrics(tree: SegmentTree, surrogate: Surrogate) -> dict[str, Any]:
    branches = {}
    for fit in tree.fits:
        entry: dict[str, Any] = {"contacts": fit.contacts, "note": fit.note, "merges": fit.merges}
        if fit.report is not None:
            entry |= fit.report.metrics()
        if fit.linkage is not None:
            entry["linkage"] = fit.linkage.tolist()
        branches[fit.branch] = entry
    return {
        "branches": branches,
        "surrogate_fidelity": float(surrogate.fidelity),
        "unassigned": int(tree.leaf.isna().sum()),
        "sizes": {str(k): int(v) for k, v in tree.leaf.value_counts().items()},
    }
