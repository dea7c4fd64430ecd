"""Stable segment ids: a new run's clusters keep the ids of the previous run's segments.

A cluster is born as ``<branch>/cluster-NN``; before it is named, it is matched, inside its
branch, with the previous run's clusters of that branch (``[segments.identity]``):

1. **Membership.** When at least ``min_common_share`` of the contacts in the branch (in either
   run) are in both runs, each pair (old segment, new cluster) is scored by the Jaccard index
   of their members, and an optimal one-to-one assignment (the Hungarian method,
   :func:`scipy.optimize.linear_sum_assignment`) maximises the total; a pair counts only when
   its index is at least ``min_jaccard``.
2. **Centres.** Otherwise (different contacts: a new export, a new market), pairs are scored
   by the root-mean-square distance between their feature means, each feature in standard
   deviations of the branch's contacts; the assignment minimises it and a pair counts up to
   ``max_centroid_distance``.

A matched cluster takes the old id, and with it any rename (``segment_names`` is keyed by id).
An unmatched cluster gets ``<branch>/<slug of its persona>``, never an id used before (a
retired segment's rename must not stick to a stranger). The lineage records every segment of
the new run as ``kept`` (same id), ``new`` or ``split`` (an unmatched cluster that took at least
``link_min_share`` of its members from an old segment which continues elsewhere; ``related``
names it), and every old segment without a successor as ``retired`` or ``merged`` (at least
``link_min_share`` of its members went into a new segment that continues another one).
Segments that are not clusters (suppression reasons, rule branches, the fallback, outliers)
have fixed ids: ``kept`` when the previous run had them, else ``new``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from scipy.optimize import linear_sum_assignment  # type: ignore[import-untyped]

from audience.config import IdentityConfig
from audience.segment_ids import CLUSTER
from audience.store.database import Database, registered

LINEAGE_COLUMNS = ("segment_id", "status", "related", "matched_by", "jaccard", "distance")


@dataclass(frozen=True)
class Predecessor:
    """What matching needs of the previous run."""

    run_id: str
    members: pd.DataFrame
    """``contact_id``, ``segment_id`` (each contact's leaf)."""
    segments: pd.DataFrame
    """``segment_id``, ``parent_id``, ``kind`` and ``means`` (feature → mean, for centres)."""


@dataclass(frozen=True)
class NewCluster:
    """A cluster of the new run before it has its final id."""

    id: str
    branch: str
    slug: str
    """Its persona's slug: the id it gets when it matches nothing."""


@dataclass(frozen=True)
class Identity:
    ids: dict[str, str]
    """Each new cluster's provisional id → its final id."""
    lineage: pd.DataFrame
    """One row per segment (:data:`LINEAGE_COLUMNS`), for the ``segment_lineage`` table."""


@dataclass(frozen=True)
class _Match:
    old: str
    new: str
    by: str
    jaccard: float | None
    distance: float | None


def read_predecessor(db: Database, run_id: str) -> Predecessor:
    """The previous run's leaves per contact and its segments with their feature means."""
    members = db.con.sql(
        "SELECT contact_id, segment_id FROM memberships WHERE run_id = $run", params={"run": run_id}
    ).df()
    rows = db.con.execute(
        "SELECT segment_id, parent_id, json_extract_string(definition, '$.kind'), "
        "CAST(json_extract(definition, '$.features') AS VARCHAR) "
        "FROM segments WHERE run_id = ?",
        [run_id],
    ).fetchall()
    segments = pd.DataFrame(
        [
            {"segment_id": sid, "parent_id": parent, "kind": kind, "means": _means(features)}
            for sid, parent, kind, features in rows
        ],
        columns=["segment_id", "parent_id", "kind", "means"],
    )
    return Predecessor(run_id, members, segments)


def _means(features_json: str | None) -> dict[str, float]:
    if not features_json:
        return {}
    parsed = orjson.loads(features_json)
    return {
        str(name): float(values["mean"])
        for name, values in parsed.items()
        if isinstance(values, dict) and values.get("mean") is not None
    }


def used_ids(db: Database) -> set[str]:
    """Every segment id any run stored or any rename named: never given to a new segment."""
    rows = db.con.execute(
        "SELECT segment_id FROM segments UNION SELECT segment_id FROM segment_names"
    ).fetchall()
    return {str(row[0]) for row in rows}


def stable_ids(
    *,
    clusters: list[NewCluster],
    nodes: Iterable[str],
    members: pd.DataFrame,
    features: pd.DataFrame,
    previous: Predecessor | None,
    taken: set[str],
    config: IdentityConfig,
) -> Identity:
    """Final ids and the lineage of a new run (see the module docstring).

    ``clusters``: the new clusters; ``nodes``: every node id of the new tree (clusters
    included); ``members``: ``contact_id``, ``segment_id`` (provisional leaf ids);
    ``features``: the feature columns for the centres, aligned with ``members``' rows;
    ``taken``: ids that may not be given to a new segment (:func:`used_ids`).
    """
    matches: list[_Match] = []
    if previous is not None:
        for branch in sorted({cluster.branch for cluster in clusters}):
            matches += _match_branch(
                branch, [c.id for c in clusters if c.branch == branch], members, features,
                previous, config,
            )  # fmt: skip
    ids = {match.new: match.old for match in matches}
    reserved = set(taken) | set(ids.values()) | {n for n in nodes if n not in ids}
    for cluster in clusters:
        if cluster.id not in ids:
            ids[cluster.id] = _fresh(f"{cluster.branch}/{cluster.slug}", reserved)
            reserved.add(ids[cluster.id])
    lineage = _lineage(clusters, list(nodes), members, previous, matches, ids, config)
    return Identity(ids, lineage)


def _fresh(base: str, taken: set[str]) -> str:
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}-{n}", n + 1
    return candidate


def _match_branch(
    branch: str,
    new_ids: list[str],
    members: pd.DataFrame,
    features: pd.DataFrame,
    previous: Predecessor,
    config: IdentityConfig,
) -> list[_Match]:
    old = previous.segments
    in_branch = old.loc[(old["parent_id"] == branch) & (old["kind"] == CLUSTER), "segment_id"]
    old_ids = sorted(str(segment) for segment in in_branch)
    if not old_ids or not new_ids:
        return []
    old_members = previous.members[previous.members["segment_id"].isin(old_ids)]
    new_members = members[members["segment_id"].isin(new_ids)]
    if _comparable(old_members, new_members, previous.members, members, config):
        return _by_membership(old_ids, new_ids, old_members, new_members, config)
    return _by_centres(old_ids, new_ids, old, members, features, config)


def _comparable(
    old_members: pd.DataFrame,
    new_members: pd.DataFrame,
    everyone_before: pd.DataFrame,
    everyone_now: pd.DataFrame,
    config: IdentityConfig,
) -> bool:
    """Whether enough of the branch's contacts are in both runs for memberships to count."""
    old, new = old_members["contact_id"], new_members["contact_id"]
    in_both_branches = int(_is_in(old, new).sum())
    union = len(old) + len(new) - in_both_branches
    if union == 0:
        return False
    # A contact of both branches is in both runs; it is counted on each side, so once less.
    both = (
        _is_in(old, everyone_now["contact_id"]).sum()
        + _is_in(new, everyone_before["contact_id"]).sum()
    )
    return float(both - in_both_branches) / union >= config.min_common_share


def _is_in(values: pd.Series, reference: pd.Series) -> np.ndarray:
    """``values.isin(reference)`` for contact ids, in Arrow (pandas' Arrow strings test
    membership row by row in Python: 16 s at a million contacts)."""
    found = pc.is_in(_strings(values), value_set=_strings(reference))
    return np.asarray(found.to_numpy(zero_copy_only=False), dtype=bool)


def _strings(values: pd.Series) -> pa.Array[Any]:
    strings: pa.Array[Any] = pa.array(values).cast(pa.large_string())  # zero-copy from Arrow
    return strings


def _by_membership(
    old_ids: list[str],
    new_ids: list[str],
    old_members: pd.DataFrame,
    new_members: pd.DataFrame,
    config: IdentityConfig,
) -> list[_Match]:
    both = old_members.merge(new_members, on="contact_id", suffixes=("_old", "_new"))
    counts = pd.crosstab(both["segment_id_old"], both["segment_id_new"])
    overlap = counts.reindex(index=old_ids, columns=new_ids, fill_value=0).to_numpy(float)
    old_sizes = old_members["segment_id"].value_counts().reindex(old_ids, fill_value=0)
    new_sizes = new_members["segment_id"].value_counts().reindex(new_ids, fill_value=0)
    union = old_sizes.to_numpy(float)[:, None] + new_sizes.to_numpy(float)[None, :] - overlap
    jaccard = np.divide(overlap, union, out=np.zeros_like(overlap), where=union > 0)
    rows, cols = linear_sum_assignment(-jaccard)
    return [
        _Match(old_ids[r], new_ids[c], "membership", round(float(jaccard[r, c]), 6), None)
        for r, c in zip(rows, cols, strict=True)
        if jaccard[r, c] >= config.min_jaccard
    ]


def _by_centres(
    old_ids: list[str],
    new_ids: list[str],
    old: pd.DataFrame,
    members: pd.DataFrame,
    features: pd.DataFrame,
    config: IdentityConfig,
) -> list[_Match]:
    in_branch = members["segment_id"].isin(new_ids).to_numpy()
    rows = features[in_branch].select_dtypes("number")
    spread = rows.std(ddof=0)
    columns = [c for c in rows.columns if np.isfinite(spread[c]) and spread[c] > 0]
    new_means = rows[columns].groupby(members.loc[in_branch, "segment_id"].to_numpy()).mean()
    old_means = old.set_index("segment_id").loc[old_ids, "means"]
    distance = np.full((len(old_ids), len(new_ids)), np.inf)
    for i, old_id in enumerate(old_ids):
        for j, new_id in enumerate(new_ids):
            centre = pd.Series(new_means.loc[new_id], index=columns)
            distance[i, j] = _centre_distance(old_means[old_id], centre, spread, columns)
    finite = np.where(np.isfinite(distance), distance, 1e12)
    pairs = linear_sum_assignment(finite)
    return [
        _Match(old_ids[r], new_ids[c], "centroid", None, round(float(distance[r, c]), 6))
        for r, c in zip(*pairs, strict=True)
        if distance[r, c] <= config.max_centroid_distance
    ]


def _centre_distance(
    old: Mapping[str, float], new: pd.Series, spread: pd.Series, columns: list[str]
) -> float:
    shared = [c for c in columns if c in old and np.isfinite(old[c]) and np.isfinite(new[c])]
    if not shared:
        return float("inf")
    gaps = [(old[c] - float(new[c])) / float(spread[c]) for c in shared]
    return float(np.sqrt(np.mean(np.square(gaps))))


def _lineage(
    clusters: list[NewCluster],
    nodes: list[str],
    members: pd.DataFrame,
    previous: Predecessor | None,
    matches: list[_Match],
    ids: dict[str, str],
    config: IdentityConfig,
) -> pd.DataFrame:
    provisional = {cluster.id for cluster in clusters}
    old_all = set() if previous is None else set(previous.segments["segment_id"].astype(str))
    flows = _flows(previous, members) if previous is not None else pd.DataFrame()
    by_new = {m.new: m for m in matches}
    continued = {m.old for m in matches}
    rows: list[tuple[str, str, str | None, str | None, float | None, float | None]] = []
    for node in nodes:
        if node in by_new:
            m = by_new[node]
            rows.append((ids[node], "kept", m.old, m.by, m.jaccard, m.distance))
        elif node in provisional:
            source = _main_link(flows, new=node, among=continued, config=config)
            status = "split" if source else "new"
            rows.append((ids[node], status, source, None, None, None))
        else:
            status = "kept" if node in old_all else "new"
            rows.append((node, status, node if status == "kept" else None, "id", None, None))
    now = {row[0] for row in rows}
    targets = {m.new for m in matches}
    for old_id in sorted(old_all - now):
        sink = _main_link(flows, old=old_id, among=targets, config=config)
        if sink:
            rows.append((old_id, "merged", ids.get(sink, sink), None, None, None))
        else:
            rows.append((old_id, "retired", None, None, None, None))
    return pd.DataFrame(rows, columns=list(LINEAGE_COLUMNS))


def _flows(previous: Predecessor, members: pd.DataFrame) -> pd.DataFrame:
    """Contacts per (old segment, new provisional segment), with each segment's whole size
    (contacts new to the run, or gone from it, count in its size: a segment made of new
    contacts did not split from anything)."""
    both = previous.members.merge(members, on="contact_id", suffixes=("_old", "_new"))
    counts = both.groupby(["segment_id_old", "segment_id_new"]).size().rename("contacts")
    flows = counts.reset_index()
    old_sizes = previous.members["segment_id"].value_counts()
    new_sizes = members["segment_id"].value_counts()
    flows["old_size"] = flows["segment_id_old"].map(old_sizes).to_numpy()
    flows["new_size"] = flows["segment_id_new"].map(new_sizes).to_numpy()
    return flows


def _main_link(
    flows: pd.DataFrame,
    *,
    config: IdentityConfig,
    among: set[str],
    new: str | None = None,
    old: str | None = None,
) -> str | None:
    """The largest flow into ``new`` from an old segment in ``among`` (or out of ``old`` into
    a new segment in ``among``) carrying at least ``link_min_share`` of its side."""
    if flows.empty:
        return None
    if new is not None:
        rows = flows[(flows["segment_id_new"] == new) & flows["segment_id_old"].isin(among)]
        share, other = rows["contacts"] / rows["new_size"], "segment_id_old"
    else:
        rows = flows[(flows["segment_id_old"] == old) & flows["segment_id_new"].isin(among)]
        share, other = rows["contacts"] / rows["old_size"], "segment_id_new"
    strong = rows[share >= config.link_min_share]
    if strong.empty:
        return None
    return str(strong[other].to_numpy()[np.argmax(strong["contacts"].to_numpy())])


def write_lineage(
    con: duckdb.DuckDBPyConnection, run_id: str, previous_run_id: str | None, lineage: pd.DataFrame
) -> None:
    """Insert a run's lineage on ``con`` (the caller's transaction)."""
    rows = lineage.assign(run_id=run_id, previous_run_id=previous_run_id)
    columns = ["run_id", "previous_run_id", *LINEAGE_COLUMNS]
    names = ", ".join(columns)
    with registered(con, "_lineage", pa.Table.from_pandas(rows[columns], preserve_index=False)):
        con.execute(f"INSERT INTO segment_lineage ({names}) SELECT {names} FROM _lineage")


def read_lineage(db: Database, run_id: str) -> pd.DataFrame:
    """A run's lineage rows (:data:`LINEAGE_COLUMNS`), new run's segments first."""
    frame: pd.DataFrame = db.con.execute(
        f"SELECT {', '.join(LINEAGE_COLUMNS)} FROM segment_lineage WHERE run_id = ? "
        "ORDER BY status IN ('retired', 'merged'), segment_id",
        [run_id],
    ).df()
    return frame
