"""Stable segment ids: hand-built runs with known overlaps, and the optimality of the match."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audience.config import IdentityConfig
from audience.segments.identity import NewCluster, Predecessor, stable_ids

CONFIG = IdentityConfig()


def previous(
    groups: Mapping[str, Iterable[int]], means: dict[str, dict[str, float]] | None = None
) -> Predecessor:
    """A previous run whose clusters (under ``branch``) hold the given contacts."""
    members = pd.DataFrame(
        [(f"c{n}", segment) for segment, contacts in groups.items() for n in contacts],
        columns=["contact_id", "segment_id"],
    )
    segments = pd.DataFrame(
        [
            {
                "segment_id": segment,
                "parent_id": "branch",
                "kind": "cluster",
                "means": (means or {}).get(segment, {}),
            }
            for segment in groups
        ]
        + [{"segment_id": "branch", "parent_id": None, "kind": "rule", "means": {}}]
    )
    return Predecessor("run-1", members, segments)


def new_run(groups: Mapping[str, Iterable[int]]) -> tuple[list[NewCluster], pd.DataFrame]:
    clusters = [NewCluster(c, "branch", f"slug-{c.rsplit('-', 1)[-1]}") for c in groups]
    members = pd.DataFrame(
        [(f"c{n}", cluster) for cluster, contacts in groups.items() for n in contacts],
        columns=["contact_id", "segment_id"],
    )
    return clusters, members


def identify(
    old: Predecessor | None,
    new: Mapping[str, Iterable[int]],
    *,
    features: pd.DataFrame | None = None,
    taken: set[str] | None = None,
    config: IdentityConfig = CONFIG,
) -> tuple[dict[str, str], pd.DataFrame]:
    clusters, members = new_run(new)
    if features is None:
        features = pd.DataFrame({"x": np.zeros(len(members))})
    found = stable_ids(
        clusters=clusters,
        nodes=["branch", *new],
        members=members,
        features=features,
        previous=old,
        taken=taken or set(),
        config=config,
    )
    return found.ids, found.lineage.set_index("segment_id")


def test_a_cluster_keeps_the_id_of_the_segment_it_continues_whatever_its_number() -> None:
    old = previous({"branch/lapsed": range(0, 10), "branch/loyal": range(10, 20)})
    # Numbered by size, the new run lists loyal first: the id follows the members.
    ids, lineage = identify(
        old, {"branch/cluster-01": range(10, 21), "branch/cluster-02": range(9)}
    )
    assert ids == {"branch/cluster-01": "branch/loyal", "branch/cluster-02": "branch/lapsed"}
    assert lineage.loc["branch/loyal", "jaccard"] == pytest.approx(10 / 11)
    assert lineage.loc["branch/lapsed", "jaccard"] == pytest.approx(9 / 10)
    assert set(lineage["status"]) == {"kept"}
    assert lineage.loc["branch/loyal", "matched_by"] == "membership"


def test_a_weak_overlap_is_a_new_segment_and_the_old_one_is_retired() -> None:
    old = previous({"branch/lapsed": range(0, 10)})
    ids, lineage = identify(old, {"branch/cluster-01": range(7, 40)})  # Jaccard 3/40
    assert ids == {"branch/cluster-01": "branch/slug-01"}
    assert lineage.loc["branch/slug-01", "status"] == "new"
    assert lineage.loc["branch/lapsed", "status"] == "retired"


def test_a_new_segment_never_takes_an_id_used_before() -> None:
    taken = {"branch/slug-01", "branch/slug-01-2"}  # e.g. a retired segment and its rename
    ids, _lineage = identify(None, {"branch/cluster-01": range(5)}, taken=taken)
    assert ids == {"branch/cluster-01": "branch/slug-01-3"}


def test_a_split_is_recorded_against_the_segment_it_left() -> None:
    old = previous({"branch/big": range(0, 20)})
    ids, lineage = identify(
        old, {"branch/cluster-01": range(0, 12), "branch/cluster-02": range(12, 20)}
    )
    assert ids["branch/cluster-01"] == "branch/big"  # Jaccard 12/20 beats 8/20
    split = lineage.loc[ids["branch/cluster-02"]]
    assert (split["status"], split["related"]) == ("split", "branch/big")


def test_a_segment_of_new_contacts_did_not_split_from_anything() -> None:
    old = previous({"branch/big": range(0, 20)})
    # cluster-02: 3 contacts from big, 40 new to the run; 3 / 43 is under link_min_share.
    new = {
        "branch/cluster-01": range(0, 17),
        "branch/cluster-02": [*range(17, 20), *range(100, 140)],
    }
    ids, lineage = identify(old, new)
    assert lineage.loc[ids["branch/cluster-02"], "status"] == "new"


def test_a_merge_is_recorded_against_the_segment_it_joined() -> None:
    old = previous({"branch/a": range(0, 10), "branch/b": range(10, 14)})
    ids, lineage = identify(old, {"branch/cluster-01": range(0, 14)})
    assert ids == {"branch/cluster-01": "branch/a"}  # Jaccard 10/14
    merged = lineage.loc["branch/b"]
    assert (merged["status"], merged["related"]) == ("merged", "branch/a")


def test_fixed_segments_are_kept_or_new_by_their_id() -> None:
    old = previous({"branch/a": range(0, 10)})
    _ids, lineage = identify(old, {"branch/cluster-01": range(0, 10)})
    assert (lineage.loc["branch", "status"], lineage.loc["branch", "matched_by"]) == ("kept", "id")


def test_without_common_contacts_clusters_are_matched_by_their_centres() -> None:
    # A new export with other contacts: memberships say nothing, the centres do.
    old = previous(
        {"branch/low": range(0, 10), "branch/high": range(10, 20)},
        means={"branch/low": {"x": 1.0}, "branch/high": {"x": 9.0}},
    )
    new = {"branch/cluster-01": range(100, 110), "branch/cluster-02": range(110, 120)}
    x = np.r_[np.full(10, 9.2), np.full(10, 1.1)]  # cluster-01 is high, cluster-02 low
    ids, lineage = identify(old, new, features=pd.DataFrame({"x": x}))
    assert ids == {"branch/cluster-01": "branch/high", "branch/cluster-02": "branch/low"}
    spread = float(np.std(x))
    assert lineage.loc["branch/high", "matched_by"] == "centroid"
    assert lineage.loc["branch/high", "distance"] == pytest.approx(0.2 / spread, abs=1e-6)
    assert lineage.loc["branch/low", "distance"] == pytest.approx(0.1 / spread, abs=1e-6)


def test_centres_too_far_apart_are_not_the_same_segment() -> None:
    old = previous({"branch/low": range(0, 10)}, means={"branch/low": {"x": 0.0}})
    x = np.r_[np.full(10, 5.0), np.full(10, 6.0)]
    new = {"branch/cluster-01": range(100, 110), "branch/cluster-02": range(110, 120)}
    ids, lineage = identify(old, new, features=pd.DataFrame({"x": x}))
    assert set(ids.values()) == {"branch/slug-01", "branch/slug-02"}
    assert lineage.loc["branch/low", "status"] == "retired"


@settings(max_examples=60, deadline=None)
@given(
    old_labels=st.lists(st.integers(0, 3), min_size=8, max_size=40),
    data=st.data(),
)
def test_the_matching_maximises_the_total_jaccard_index(
    old_labels: list[int], data: st.DataObject
) -> None:
    """The Hungarian assignment against every one-to-one assignment (brute force)."""
    n = len(old_labels)
    new_labels = data.draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
    old_groups: dict[str, list[int]] = {}
    for contact, label in enumerate(old_labels):
        old_groups.setdefault(f"branch/old-{label}", []).append(contact)
    new_groups: dict[str, list[int]] = {}
    for contact, label in enumerate(new_labels):
        new_groups.setdefault(f"branch/cluster-{label}", []).append(contact)
    loose = IdentityConfig(min_jaccard=1e-9)
    ids, lineage = identify(previous(old_groups), new_groups, config=loose)

    def jaccard(a: list[int], b: list[int]) -> float:
        return len(set(a) & set(b)) / len(set(a) | set(b))

    olds, news = sorted(old_groups), sorted(new_groups)
    best = 0.0
    for chosen in itertools.permutations(olds, min(len(olds), len(news))):
        for targets in itertools.permutations(news, len(chosen)):
            total = sum(
                jaccard(old_groups[o], new_groups[t]) for o, t in zip(chosen, targets, strict=True)
            )
            best = max(best, total)
    kept = lineage[lineage["status"] == "kept"].dropna(subset=["jaccard"])
    assert kept["jaccard"].sum() == pytest.approx(best, abs=1e-5)
    assert len(set(ids.values())) == len(ids)  # one-to-one
