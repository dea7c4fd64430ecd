"""Each chart against numbers computed by hand or by scipy."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.cluster.hierarchy import dendrogram, linkage

from audience.report.charts import (
    MAX_PROJECTION_POINTS,
    dendrogram_figure,
    features_figure,
    label,
    lift_figure,
    metric_figure,
    projection_figure,
    tree_figure,
)
from tests.report.fixtures import lift, selection, tree


def test_label_escapes_plotly_pseudo_html() -> None:
    assert label("<b>A & B</b>") == "&lt;b&gt;A &amp; B&lt;/b&gt;"
    assert label(3) == "3"


def test_tree_uses_total_branch_values_when_parents_cover_children() -> None:
    trace = tree_figure(tree()).data[0]
    assert trace.branchvalues == "total"
    assert list(trace.parents) == ["", "customers", "customers", "", "prospects", ""]
    assert list(trace.values) == [140, 60, 80, 50, 50, 10]


def test_tree_falls_back_to_remainder_when_a_parent_is_smaller_than_its_children() -> None:
    table = tree()
    table.loc[table["segment_id"] == "customers", "size"] = 0  # a pure grouping node
    assert tree_figure(table).data[0].branchvalues == "remainder"


def test_lift_is_coloured_on_log2_centred_at_one_and_labelled_with_true_values() -> None:
    table = lift()
    trace = lift_figure(table, {"customers/high-value": "High"}).data[0]
    z = np.asarray(trace.z, dtype=float)
    assert trace.zmid == 0.0
    assert z[0, 0] == pytest.approx(math.log2(0.4))
    assert z[1, 2] == pytest.approx(-4.0)  # lift 0 clipped to 1/16
    assert trace.text[1][2] == "0.00"
    assert trace.text[2][0] == "3.10"
    assert list(trace.x) == ["High", "customers/occasional", "prospects/engaged"]


def test_lift_leaves_infinite_and_missing_cells_blank() -> None:
    table = pd.DataFrame({"a": [np.inf, np.nan, 2.0]}, index=["f", "g", "h"])
    trace = lift_figure(table, {}).data[0]
    assert [row[0] for row in trace.text] == ["", "", "2.00"]


def test_projection_has_one_webgl_trace_per_segment_with_all_points() -> None:
    points = pd.DataFrame({"x": [0.0, 1, 2, 3], "y": [1.0, 1, 0, 0], "segment": list("abba")})
    fig = projection_figure(points)
    assert [t.type for t in fig.data] == ["scattergl", "scattergl"]
    assert [t.name for t in fig.data] == ["a", "b"]
    assert list(fig.data[1].x) == [1.0, 2.0]


def test_projection_samples_down_to_the_cap() -> None:
    n = MAX_PROJECTION_POINTS + 500
    rng = np.random.default_rng(0)
    points = pd.DataFrame({"x": rng.normal(size=n), "y": rng.normal(size=n), "segment": "s"})
    fig = projection_figure(points)
    assert sum(len(t.x) for t in fig.data) == MAX_PROJECTION_POINTS
    assert f"{MAX_PROJECTION_POINTS:,} of {n:,} contacts" in fig.layout.title.text


def test_metric_chart_has_a_line_per_method_and_stars_the_chosen_candidate() -> None:
    fig = metric_figure(selection("kmeans"), "silhouette", "Silhouette")
    assert [t.name for t in fig.data] == ["gmm", "kmeans", "ward", "chosen"]
    assert list(fig.data[-1].x) == [3]
    assert list(fig.data[-1].y) == [pytest.approx(0.52)]


def test_metric_chart_skips_methods_without_the_score() -> None:
    fig = metric_figure(selection("kmeans"), "inertia", "Elbow")
    assert [t.name for t in fig.data] == ["kmeans", "chosen"]
    assert list(fig.data[0].y) == pytest.approx([900.0 / k**1.3 for k in range(2, 7)])


def test_dendrogram_draws_scipy_links_and_cuts_between_the_right_merges() -> None:
    rng = np.random.default_rng(3)
    z = linkage(rng.normal(size=(40, 2)), method="ward")
    fig = dendrogram_figure(z, 3)
    expected = dendrogram(z, no_plot=True, truncate_mode="lastp", p=30)
    drawn_links = sum(list(t.x).count(None) for t in fig.data)
    assert drawn_links == len(expected["icoord"]) == 29
    cut = fig.layout.shapes[0].y0
    assert z[-3, 2] < cut < z[-2, 2]
    assert list(fig.layout.xaxis.ticktext) == expected["ivl"]


def test_features_are_histograms_in_a_grid_with_heavy_tails_on_log_scale() -> None:
    rng = np.random.default_rng(1)
    features = pd.DataFrame(
        {
            "uniform": rng.uniform(0, 10, 500),
            "orders": rng.poisson(2.0, 500),
            "spend": rng.lognormal(3, 1.5, 500),
            "constant": np.full(500, 4.0),
        }
    )
    fig = features_figure(features, columns=3)
    assert len(fig.data) == 4
    assert [sum(t.y) for t in fig.data] == [500, 500, 500, 500]
    assert fig.layout.xaxis.title.text == "uniform"
    assert fig.layout.xaxis3.title.text == "spend (log10 1 + x)"
    assert fig.layout.xaxis4.title.text == "constant"
    orders = features["orders"]
    assert list(fig.data[1].x) == list(range(orders.min(), orders.max() + 1))  # one bar per count
    assert fig.data[3].yaxis == "y4"


def test_features_ignore_missing_and_infinite_values() -> None:
    features = pd.DataFrame({"ratio": [1.0, 2.0, np.inf, np.nan, 2.0], "empty": np.nan})
    fig = features_figure(features)
    assert sum(fig.data[0].y) == 3
    assert list(fig.data[1].y) == []
