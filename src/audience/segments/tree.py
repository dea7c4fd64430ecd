"""The segment tree: rule branches (see :mod:`audience.segments.branches`), then clusters
inside each broad segment that asks for them, with small clusters merged.

Node ids are paths. Before naming, clusters are ``<branch>/cluster-01`` … by decreasing
size and outliers ``<branch>/outliers``; :mod:`audience.segments.tree_run` renames clusters after
their personas. Memberships go to leaves only: a cluster, an unclustered broad segment,
``suppressed/<reason>``, or the fallback.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from audience.config import BroadSegment, ModelsConfig, PreprocessConfig, SegmentsConfig
from audience.errors import SegmentationError
from audience.features.preprocess import Preprocessor
from audience.models.base import NOISE
from audience.models.configured import fit_segmenter
from audience.models.inputs import ClusteringInput
from audience.models.summary import SegmentationReport, describe_fit, describe_run
from audience.models.warm import can_refit_warm, refit_warm
from audience.progress import StepProgress
from audience.segment_ids import CLUSTER, OUTLIERS, SUPPRESSED, cluster_ids, suppressed_id
from audience.segments.assign import BranchAssigner
from audience.segments.branches import RulePlan
from audience.segments.merging import merge_small_clusters


@dataclass(frozen=True)
class Node:
    """One segment of the tree."""

    id: str
    parent: str | None
    kind: str
    """``suppressed``, ``rule``, ``cluster``, ``outliers`` or ``fallback``."""
    size: int
    definition: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BranchModel:
    """What assigning a new contact of a branch needs: no refit, only transform and predict."""

    preprocessor: Preprocessor
    estimator: Any
    features: tuple[str, ...]
    label_map: dict[int, int]
    """The estimator's label → the branch's label after small clusters were merged."""


@dataclass(frozen=True)
class BranchFit:
    """How one broad segment was clustered (or why it was not)."""

    branch: str
    contacts: int
    report: SegmentationReport | None
    note: str
    merges: list[dict[str, Any]]
    linkage: np.ndarray | None = None
    """The hierarchical model's linkage matrix (for a dendrogram), when one was chosen."""
    model: BranchModel | None = None
    """None when not clustered, or for k-prototypes (its category codes are not kept)."""


@dataclass(frozen=True)
class WarmStart:
    """A previous run's fitted branches to refit from, instead of selecting a model again."""

    run_id: str
    branches: Mapping[str, BranchAssigner]


@dataclass(frozen=True)
class SegmentTree:
    """Nodes, each contact's leaf (``None``: no segment) and probability (NaN: none)."""

    nodes: list[Node]
    leaf: pd.Series
    probability: np.ndarray
    fits: list[BranchFit]

    def leaves(self) -> list[Node]:
        parents = {node.parent for node in self.nodes}
        return [node for node in self.nodes if node.id not in parents]


def build_tree(
    frame: pd.DataFrame,
    branch: pd.Series,
    plan: RulePlan,
    segments: SegmentsConfig,
    models: ModelsConfig,
    preprocess: PreprocessConfig,
    progress: StepProgress | None = None,
    warm: WarmStart | None = None,
) -> SegmentTree:
    """Cluster inside each broad segment of ``branch`` (aligned with ``frame``'s rows).

    With ``warm``, a branch the previous run clustered with k-means or a mixture (on the same
    features) is refitted from that model's centres (:mod:`audience.models.warm`) instead of
    selecting a model again; the other branches select as usual."""
    leaf = branch.astype(object).where(branch.notna(), None).reset_index(drop=True)
    probability = np.full(len(frame), np.nan)
    definitions = plan.definitions()
    nodes = _rule_nodes(leaf, plan, definitions)
    fits = []
    for broad, _rule in plan.broad:
        if not broad.cluster:
            continue
        rows = np.flatnonzero((leaf == broad.id).to_numpy())
        previous = _warm_branch(warm, broad.id, models)
        fit, labels, proba, report = _cluster(
            frame.iloc[rows], broad, segments, models, preprocess, progress, previous
        )
        fits.append(fit)
        if labels is None or report is None:
            continue
        names = _cluster_ids(broad.id, labels)
        leaf.iloc[rows] = names
        if proba is not None:
            probability[rows] = proba
        nodes += _cluster_nodes(broad.id, names, labels, report)
    return SegmentTree(nodes, leaf, probability, fits)


def _rule_nodes(
    leaf: pd.Series, plan: RulePlan, definitions: dict[str, dict[str, Any]]
) -> list[Node]:
    counts = leaf.value_counts().to_dict()
    suppressed = [suppressed_id(reason) for reason, _ in plan.suppress]
    nodes = [Node(SUPPRESSED, None, SUPPRESSED, sum(counts.get(s, 0) for s in suppressed),
                  definitions[SUPPRESSED])]  # fmt: skip
    nodes += [Node(s, SUPPRESSED, SUPPRESSED, counts.get(s, 0), definitions[s]) for s in suppressed]
    nodes += [
        Node(b.id, None, "rule", counts.get(b.id, 0), {**definitions[b.id], "name": b.name})
        for b, _ in plan.broad
    ]
    if plan.fallback:
        nodes.append(
            Node(plan.fallback, None, "fallback", counts.get(plan.fallback, 0),
                 definitions[plan.fallback])
        )  # fmt: skip
    return nodes


def _warm_branch(warm: WarmStart | None, branch: str, models: ModelsConfig) -> _Warm | None:
    if warm is None or branch not in warm.branches:
        return None
    found = warm.branches[branch]
    if not can_refit_warm(found.estimator) or tuple(found.features) != tuple(models.features):
        return None  # another kind of model, or other features: select again
    return _Warm(warm.run_id, found)


@dataclass(frozen=True)
class _Warm:
    run_id: str
    model: BranchAssigner


def _cluster(
    rows: pd.DataFrame,
    broad: BroadSegment,
    segments: SegmentsConfig,
    models: ModelsConfig,
    preprocess: PreprocessConfig,
    progress: StepProgress | None,
    warm: _Warm | None = None,
) -> tuple[BranchFit, np.ndarray | None, np.ndarray | None, SegmentationReport | None]:
    """Fit the configured segmenter inside one broad segment (or refit ``warm``'s); merge
    its small clusters."""
    if len(rows) < segments.min_cluster_contacts:
        note = (
            f"not clustered: {len(rows)} contacts, fewer than segments.min_cluster_contacts "
            f"({segments.min_cluster_contacts})"
        )
        return BranchFit(broad.id, len(rows), None, note, []), None, None, None
    if progress:
        progress(f"clustering {broad.id}", 0, 1)
    method = broad.method or models.method
    k = broad.k if broad.k is not None else models.k
    try:
        if warm is not None:
            estimator, inputs, report = _refit(rows, warm, models, method, k)
        else:
            segmenter, inputs = fit_segmenter(
                rows.reset_index(drop=True), models, preprocess, method=method, k=k,
                progress=progress,
            )  # fmt: skip
            estimator, report = segmenter.estimator_, describe_run(segmenter, inputs, method, k)
    except SegmentationError as exc:
        # One branch with no trustworthy clusters stays one segment; the others still split.
        return BranchFit(broad.id, len(rows), None, f"not clustered: {exc}", []), None, None, None
    fitted = np.asarray(estimator.labels_, dtype=np.int64)
    labels, merges = merge_small_clusters(fitted, inputs.matrix, segments.min_share)
    proba = report.probabilities if not merges else None  # a merged cluster has no probability
    merged = [
        {"label": m.label, "into": m.into, "size": m.size, "share": round(m.share, 6)}
        for m in merges
    ]
    note = f"{report.method}, {report.n_segments} clusters"
    if warm is not None:
        note += f" (refit from {warm.run_id})"
    if merges:
        note += f", {len(merges)} under {segments.min_share:.1%} merged"
    linkage = getattr(estimator, "linkage_", None)
    model = None
    if not inputs.categorical:
        pairs = set(zip(fitted.tolist(), labels.tolist(), strict=True))
        features = tuple(c for c in models.features)
        model = BranchModel(inputs.preprocessor, estimator, features, dict(pairs))
    fit = BranchFit(broad.id, len(rows), report, note, merged, linkage, model)
    return fit, labels, proba, report


def _refit(
    rows: pd.DataFrame, warm: _Warm, models: ModelsConfig, method: str, k: int | None
) -> tuple[Any, ClusteringInput, SegmentationReport]:
    """The previous model of the branch refitted on its new rows, in its own units."""
    preprocessor = warm.model.preprocessor
    matrix = np.asarray(preprocessor.transform(rows[list(models.features)]), dtype=np.float64)
    columns = [str(name) for name in preprocessor.get_feature_names_out()]
    inputs = ClusteringInput(matrix, columns, preprocessor, [], {})
    estimator, selection = refit_warm(
        warm.model.estimator,
        matrix,
        previous_run=warm.run_id,
        sample_size=models.sample_size,
        silhouette_sample=models.silhouette_sample,
        random_state=models.random_state,
    )
    chosen = str(selection["method"].iloc[0])
    return estimator, inputs, describe_fit(estimator, chosen, selection, inputs, method, k)


def _cluster_ids(branch: str, labels: np.ndarray) -> np.ndarray:
    k = int(labels.max()) + 1 if labels.size else 0
    ids = np.array(cluster_ids(k, prefix=f"{branch}/"), dtype=object)
    return ids[labels + 1]  # type: ignore[no-any-return]


def _cluster_nodes(
    branch: str,
    ids: np.ndarray,
    labels: np.ndarray,
    report: SegmentationReport,
) -> list[Node]:
    nodes = []
    for label in np.unique(labels):
        members = labels == label
        node_id = str(ids[np.flatnonzero(members)[0]])
        kind = OUTLIERS if label == NOISE else CLUSTER
        definition: dict[str, Any] = {"kind": kind, "method": report.method, "label": int(label)}
        nodes.append(Node(node_id, branch, kind, int(members.sum()), definition))
    return nodes
