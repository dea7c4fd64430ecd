"""Small clusters join their nearest neighbour by Ward's criterion on the centres."""

from __future__ import annotations

import numpy as np
import pytest

from audience.segments.merging import merge_small_clusters


def blobs(sizes: list[int], centres: list[tuple[float, float]], seed: int = 0) -> tuple:
    rng = np.random.default_rng(seed)
    X = np.vstack([rng.normal(c, 0.1, size=(n, 2)) for n, c in zip(sizes, centres, strict=True)])
    labels = np.repeat(np.arange(len(sizes)), sizes)
    return X, labels


def test_small_cluster_joins_its_nearest_neighbour() -> None:
    # Cluster 2 (5 of 1,005 rows) sits next to cluster 1, far from cluster 0.
    X, labels = blobs([600, 400, 5], [(0, 0), (10, 0), (10.5, 0)])
    merged, merges = merge_small_clusters(labels, X, min_share=0.01)
    assert [(m.label, m.into, m.size) for m in merges] == [(2, 1, 5)]
    assert merges[0].share == pytest.approx(5 / 1005)
    assert np.array_equal(merged[labels == 2], np.full(5, 1))
    assert np.array_equal(merged[labels == 0], np.zeros(600))


def test_ward_cost_weighs_the_neighbours_size() -> None:
    # Equally far from both; Ward prefers the smaller neighbour (less variance added).
    X, labels = blobs([1000, 12, 8], [(-5, 0), (5, 0), (0, 0)])
    # Only cluster 2 is small: 8 rows < 1% of 1,020.
    _, merges = merge_small_clusters(labels, X, min_share=0.01)
    assert [(m.label, m.into) for m in merges] == [(2, 1)]


def test_merges_repeat_smallest_first_and_centres_move() -> None:
    X, labels = blobs([1000, 6, 5], [(0, 0), (20, 0), (21, 0)])
    merged, merges = merge_small_clusters(labels, X, min_share=0.02)
    # 5 joins 6 first (nearest), then the merged 11 (still under 2%) joins the big one.
    assert [(m.label, m.into, m.size) for m in merges] == [(2, 1, 5), (1, 0, 11)]
    assert set(np.unique(merged)) == {0}


def test_nothing_under_the_threshold_changes_nothing_but_numbering() -> None:
    X, labels = blobs([100, 300], [(0, 0), (5, 5)])
    merged, merges = merge_small_clusters(labels, X, min_share=0.01)
    assert merges == []
    assert np.array_equal(merged, np.where(labels == 1, 0, 1))  # numbered by size


def test_outliers_are_never_merged() -> None:
    X, labels = blobs([500, 500, 3], [(0, 0), (5, 0), (9, 9)])
    labels[-3:] = -1
    merged, merges = merge_small_clusters(labels, X, min_share=0.01)
    assert merges == []
    assert (merged[-3:] == -1).all()
