"""Plotly figures of the report, one small function per chart.

Every text taken from the data goes through :func:`label` first: Plotly reads a small HTML
subset in labels (``<b>``, ``<a href>``…), so names are entity-escaped and shown as typed.
:func:`report_figures` decides which charts a report has, keyed by the id of their ``div``.
"""

from __future__ import annotations

import html
import math
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go  # type: ignore[import-untyped]
from plotly.subplots import make_subplots  # type: ignore[import-untyped]
from scipy.cluster.hierarchy import dendrogram  # type: ignore[import-untyped]

from audience.report.data import ReportData, is_empty, is_missing

MAX_PROJECTION_POINTS = 20_000
"""Points drawn in the 2-D projection; more are sampled down (with a fixed seed)."""
HISTOGRAM_BINS = 30
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"
PALETTE = (
    "#4c78a8",
    "#f58518",
    "#54a24b",
    "#e45756",
    "#72b7b2",
    "#b279a2",
    "#eeca3b",
    "#9d755d",
    "#ff9da6",
    "#bab0ac",
)
LIFT_LIMIT = 16.0
"""Lifts are coloured on a log2 scale clipped to [1/16, 16]; the text shows the true value."""


def label(text: object) -> str:
    """Text for Plotly: its pseudo-HTML is escaped, so the text shows exactly as given."""
    return html.escape(str(text), quote=False)


def _style(fig: Any, title: str, height: int) -> Any:
    fig.update_layout(
        title={"text": title, "x": 0.0, "xanchor": "left"},
        height=height,
        template="plotly_white",
        font={"family": FONT, "size": 12},
        colorway=list(PALETTE),
        margin={"l": 60, "r": 20, "t": 50, "b": 50},
    )
    return fig


def tree_figure(tree: pd.DataFrame) -> Any:
    """Treemap of the segment tree; parents sized by their own size when that covers children."""
    ids = tree["segment_id"].astype(str).tolist()
    parents = ["" if is_missing(p) else str(p) for p in tree["parent_id"]]
    sizes = pd.to_numeric(tree["size"], errors="coerce").fillna(0).tolist()
    children_total: dict[str, float] = {}
    for parent, size in zip(parents, sizes, strict=True):
        children_total[parent] = children_total.get(parent, 0.0) + size
    consistent = all(size >= children_total.get(i, 0.0) for i, size in zip(ids, sizes, strict=True))
    hover = [
        f"{label(name)}<br>{label(i)}<br>kind: {label(kind)}"
        for name, i, kind in zip(tree["name"], ids, tree["kind"], strict=True)
    ]
    fig = go.Figure(
        go.Treemap(
            ids=ids,
            parents=parents,
            labels=[label(name) for name in tree["name"]],
            values=sizes,
            branchvalues="total" if consistent else "remainder",
            textinfo="label+value+percent root",
            hovertext=hover,
            hoverinfo="text+value",
        )
    )
    fig = _style(fig, "Segments by size", 520)
    fig.update_layout(margin={"l": 10, "r": 10, "t": 50, "b": 10})
    return fig


def lift_figure(lift: pd.DataFrame, names: dict[str, str]) -> Any:
    """Heatmap of feature lift per segment: diverging colours centred at a lift of 1."""
    values = lift.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float, copy=True)
    values[~np.isfinite(values)] = np.nan
    clipped = np.clip(values, 1 / LIFT_LIMIT, LIFT_LIMIT)
    ticks = [0.25, 0.5, 1, 2, 4]
    columns = [label(names.get(str(c), str(c))) for c in lift.columns]
    fig = go.Figure(
        go.Heatmap(
            z=np.log2(clipped),
            x=columns,
            y=[label(f) for f in lift.index],
            text=[["" if np.isnan(v) else f"{v:.2f}" for v in row] for row in values],
            texttemplate="%{text}",
            hovertemplate="%{y} in %{x}: lift %{text}<extra></extra>",
            colorscale="RdBu",
            zmid=0.0,
            colorbar={
                "title": {"text": "lift"},
                "tickvals": [math.log2(t) for t in ticks],
                "ticktext": [str(t) for t in ticks],
            },
        )
    )
    fig = _style(fig, "Lift of each feature in each segment (1 = average)", _lift_height(lift))
    fig.update_layout(margin={"l": 160, "r": 20, "t": 50, "b": 80})
    fig.update_yaxes(autorange="reversed")
    return fig


def _lift_height(lift: pd.DataFrame) -> int:
    return max(320, 26 * len(lift.index) + 150)


def projection_figure(projection: pd.DataFrame) -> Any:
    """WebGL scatter of the 2-D projection, one trace (legend entry, colour) per segment."""
    points = projection
    if len(points) > MAX_PROJECTION_POINTS:
        points = points.sample(n=MAX_PROJECTION_POINTS, random_state=0)
    fig = go.Figure()
    segments = points["segment"].astype(str)
    for i, segment in enumerate(sorted(segments.unique())):
        rows = points[segments == segment]
        fig.add_trace(
            go.Scattergl(
                x=rows["x"].to_numpy(dtype=np.float32),
                y=rows["y"].to_numpy(dtype=np.float32),
                mode="markers",
                name=label(segment),
                marker={"size": 4, "opacity": 0.7, "color": PALETTE[i % len(PALETTE)]},
                hovertemplate=f"{label(segment)}<extra></extra>",
            )
        )
    shown = f"{len(points):,} of {len(projection):,} contacts"
    fig = _style(fig, f"2-D projection (PCA), {shown}", 560)
    fig.update_layout(legend={"itemsizing": "constant"})
    fig.update_xaxes(title="component 1")
    fig.update_yaxes(title="component 2")
    return fig


def metric_figure(selection: pd.DataFrame, column: str, title: str) -> Any:
    """One line per method of a selection score against k; the chosen candidate starred."""
    rows = selection.assign(
        k=pd.to_numeric(selection["k"], errors="coerce"),
        value=pd.to_numeric(selection[column], errors="coerce"),
    ).dropna(subset=["k", "value"])
    fig = go.Figure()
    for i, (method, group) in enumerate(rows.groupby("method", sort=True)):
        group = group.sort_values("k")
        fig.add_trace(
            go.Scatter(
                x=group["k"],
                y=group["value"],
                mode="lines+markers",
                name=label(method),
                line={"color": PALETTE[i % len(PALETTE)]},
            )
        )
    chosen = rows[rows["status"] == "chosen"]
    if len(chosen):
        fig.add_trace(
            go.Scatter(
                x=chosen["k"],
                y=chosen["value"],
                mode="markers",
                name="chosen",
                marker={"symbol": "star", "size": 16, "color": "#111"},
            )
        )
    fig = _style(fig, title, 380)
    fig.update_xaxes(title="k (segments)", dtick=1)
    fig.update_yaxes(title=column.replace("_", " "))
    return fig


def has_values(selection: pd.DataFrame, column: str) -> bool:
    """True when the selection table has at least one number in ``column`` (with a k)."""
    if is_empty(selection) or column not in selection.columns:
        return False
    k = pd.to_numeric(selection["k"], errors="coerce")
    values = pd.to_numeric(selection[column], errors="coerce")
    return bool((k.notna() & values.notna()).any())


def dendrogram_figure(linkage: np.ndarray[Any, Any], n_segments: int) -> Any:
    """The last 30 merges of a linkage as line traces, coloured by the cut into n_segments."""
    heights = np.asarray(linkage, dtype=float)[:, 2]
    threshold = None
    if 2 <= n_segments <= len(heights):
        threshold = (heights[-n_segments] + heights[-(n_segments - 1)]) / 2
    tree = dendrogram(
        linkage,
        no_plot=True,
        truncate_mode="lastp",
        p=30,
        color_threshold=threshold,
        above_threshold_color="#888888",
    )
    colours = sorted(set(tree["color_list"]))
    fig = go.Figure()
    for colour in colours:
        xs: list[float | None] = []
        ys: list[float | None] = []
        for xi, yi, c in zip(tree["icoord"], tree["dcoord"], tree["color_list"], strict=True):
            if c == colour:
                xs.extend([*xi, None])
                ys.extend([*yi, None])
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="lines",
                line={"color": _dendrogram_colour(colour), "width": 1.5},
                hoverinfo="y",
                showlegend=False,
            )
        )
    if threshold is not None:
        fig.add_hline(y=threshold, line={"dash": "dash", "color": "#444", "width": 1})
    fig = _style(fig, f"Dendrogram (last merges), cut into {n_segments} segments", 420)
    leaves = tree["ivl"]
    fig.update_xaxes(tickvals=[5 + 10 * i for i in range(len(leaves))], ticktext=leaves)
    fig.update_yaxes(title="merge distance")
    return fig


def _dendrogram_colour(name: str) -> str:
    if name.startswith("C") and name[1:].isdigit():
        return PALETTE[int(name[1:]) % len(PALETTE)]
    return name


def features_figure(features: pd.DataFrame, columns: int = 3) -> Any:
    """Small multiples: one histogram per feature; heavy right tails drawn as log10(1 + x)."""
    names = list(features.columns)
    rows = math.ceil(len(names) / columns)
    titles = []
    fig = make_subplots(
        rows=rows,
        cols=columns,
        vertical_spacing=min(0.12, 0.9 / max(rows - 1, 1)) if rows > 1 else 0.0,
        horizontal_spacing=0.06,
    )
    for i, name in enumerate(names):
        values = pd.to_numeric(features[name], errors="coerce").to_numpy(dtype=float)
        values = values[np.isfinite(values)]
        log = _heavy_tailed(values)
        if log:
            values = np.log10(1 + values)
        titles.append(f"{label(name)} (log10 1 + x)" if log else label(name))
        centres, counts, width = _histogram(values)
        fig.add_trace(
            go.Bar(
                x=centres,
                y=counts,
                width=width,
                marker={"color": PALETTE[0]},
                showlegend=False,
                hovertemplate="%{x}: %{y}<extra></extra>",
            ),
            row=i // columns + 1,
            col=i % columns + 1,
        )
    for i, title in enumerate(titles):
        axis = "" if i == 0 else str(i + 1)
        fig.layout[f"xaxis{axis}"].title = {"text": title, "font": {"size": 11}}
    fig = _style(fig, f"Histograms of {len(features):,} contacts", 80 + 230 * rows)
    fig.update_layout(bargap=0.0)
    return fig


def _heavy_tailed(values: np.ndarray[Any, np.dtype[np.float64]]) -> bool:
    if len(values) < 3 or values.min() < 0:
        return False
    spread = float(values.std())
    if spread == 0.0:
        return False
    skewness = float(np.mean((values - values.mean()) ** 3)) / spread**3
    return skewness > 2.0


def _histogram(
    values: np.ndarray[Any, np.dtype[np.float64]],
) -> tuple[list[float], list[int], float]:
    if len(values) == 0:
        return [], [], 1.0
    low, high = values.min(), values.max()
    whole = bool(np.all(values == np.round(values))) and high - low < HISTOGRAM_BINS
    bins = np.arange(low - 0.5, high + 1.5) if whole else HISTOGRAM_BINS  # one bar per count
    counts, edges = np.histogram(values, bins=bins)
    centres = (edges[:-1] + edges[1:]) / 2
    return centres.tolist(), counts.tolist(), float(edges[1] - edges[0])


NEW_CONTACTS, NOT_IN_RUN = "New contacts", "Not in this run"
OUTSIDE_COLOUR = "#cbd2d9"
"""The Sankey's colour for contacts outside a run (new ones, or gone), not in PALETTE."""


def moves_figure(transitions: pd.DataFrame, before: dict[str, str], now: dict[str, str]) -> Any:
    """Sankey of the contacts from each segment of the previous run (left) to this run's
    (right); names by id on each side, a segment keeps its colour on both."""
    sides = [
        [None if is_missing(v) else str(v) for v in transitions[column]]
        for column in ("from_segment", "to_segment")
    ]
    left, right = (sorted(set(ids), key=lambda v: (v is None, v or "")) for ids in sides)
    ids = sorted({v for v in left + right if v is not None})
    colours = {v: PALETTE[i % len(PALETTE)] for i, v in enumerate(ids)}
    names = [before.get(v, v) if v else NEW_CONTACTS for v in left]
    names += [now.get(v, v) if v else NOT_IN_RUN for v in right]
    node_colours = [colours.get(v or "", OUTSIDE_COLOUR) for v in left + right]
    index = {("from", v): i for i, v in enumerate(left)}
    index |= {("to", v): len(left) + i for i, v in enumerate(right)}
    fig = go.Figure(
        go.Sankey(
            arrangement="snap",
            node={
                "label": [label(name) for name in names],
                "color": node_colours,
                "pad": 12,
                "thickness": 14,
                "hovertemplate": "%{label}: %{value:,} contacts<extra></extra>",
            },
            link={
                "source": [index[("from", v)] for v in sides[0]],
                "target": [index[("to", v)] for v in sides[1]],
                "value": pd.to_numeric(transitions["contacts"]).tolist(),
                "color": [_translucent(node_colours[index[("from", v)]]) for v in sides[0]],
                "hovertemplate": "%{source.label} → %{target.label}: "
                "%{value:,} contacts<extra></extra>",
            },
        )
    )
    height = max(360, 34 * max(len(left), len(right)) + 120)
    fig = _style(fig, "Where contacts went: the previous run (left) → this run (right)", height)
    fig.update_layout(margin={"l": 10, "r": 10, "t": 50, "b": 10})
    return fig


def _translucent(colour: str) -> str:
    red, green, blue = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red}, {green}, {blue}, 0.35)"


def segment_names(data: ReportData) -> dict[str, str]:
    """Display names of segments by id, from the personas and then the tree."""
    names: dict[str, str] = {}
    if not is_empty(data.tree):
        ids, labels = data.tree["segment_id"].astype(str), data.tree["name"].astype(str)
        names.update(zip(ids, labels, strict=True))
    for persona in data.personas:
        names[str(persona["segment_id"])] = str(persona["name"])
    return names


def report_figures(data: ReportData) -> dict[str, Any]:
    """The report's figures in page order, keyed by the id of the ``div`` drawing each."""
    figures: dict[str, Any] = {}
    if not is_empty(data.tree):
        figures["fig-tree"] = tree_figure(data.tree)
    if not is_empty(data.transitions):
        now = segment_names(data)
        before = data.previous_names | now  # a segment keeping its id keeps its (new) name
        figures["fig-changes"] = moves_figure(data.transitions, before, now)
    if not is_empty(data.lift):
        figures["fig-lift"] = lift_figure(data.lift, segment_names(data))
    if not is_empty(data.projection):
        figures["fig-projection"] = projection_figure(data.projection)
    for column, div, title in (
        ("inertia", "fig-elbow", "Elbow: inertia against k"),
        ("silhouette", "fig-silhouette", "Silhouette against k (higher is better)"),
        ("bic", "fig-bic", "BIC against k (lower is better)"),
    ):
        if has_values(data.selection, column):
            figures[div] = metric_figure(data.selection, column, title)
    if data.dendrogram is not None:
        figures["fig-dendrogram"] = dendrogram_figure(data.dendrogram, data.n_segments)
    if len(data.features.columns) > 0 and not is_empty(data.features):
        figures["fig-features"] = features_figure(data.features)
    return figures
