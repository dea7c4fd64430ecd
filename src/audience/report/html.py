"""Render :class:`ReportData` into one self-contained HTML page.

The page needs nothing but itself: Plotly's JavaScript is embedded once in the head, each
figure is a ``div`` drawn by an inline script, and the CSS is inline. Text from the data is
escaped by the template (Jinja2 autoescape) and, inside charts, by :func:`charts.label`.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from numbers import Real
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd
from markupsafe import Markup
from plotly.offline import get_plotlyjs  # type: ignore[import-untyped]

from audience.report.changes_view import changes_summary, drift_rows, size_rows
from audience.report.charts import report_figures, segment_names
from audience.report.data import ReportData, is_empty, is_missing

logger = logging.getLogger(__name__)

PLOTLY_CONFIG = {"displaylogo": False, "responsive": True}
DASH = "—"


@dataclass(frozen=True)
class Section:
    """One part of the page: the id its nav link points to, and its heading."""

    id: str
    title: str


def sections(data: ReportData) -> list[Section]:
    """The page's sections in order; the dendrogram only for a hierarchical model."""
    parts = [
        Section("ingest", "Ingest & data quality"),
        Section("tree", "Segment tree"),
        Section("changes", "What changed"),
        Section("personas", "Personas"),
        Section("lift", "Lift"),
        Section("projection", "2-D projection"),
        Section("selection", "Model selection"),
        Section("dendrogram", "Dendrogram"),
        Section("features", "Feature distributions"),
        Section("rules", "Surrogate rules"),
    ]
    return [s for s in parts if s.id != "dendrogram" or data.dendrogram is not None]


def render_report(data: ReportData) -> str:
    """The report as one HTML document (UTF-8 text) that works offline."""
    figures = report_figures(data)
    charts = {div: figure_html(fig, div) for div, fig in figures.items()}
    template = _environment().get_template("report.html.j2")
    return template.render(
        data=data,
        sections=sections(data),
        charts=charts,
        plotly_js=Markup(plotly_js()),
        names=segment_names(data),
        ingest=_records(data.ingest),
        ingest_totals=_ingest_totals(data.ingest),
        quality=_records(data.quality),
        selection=_records(data.selection),
        tree=tree_rows(data.tree),
        merges=_records(data.merges),
        personas=[persona_view(p) for p in data.personas],
        changes=changes_view(data),
    )


def changes_view(data: ReportData) -> dict[str, Any]:
    """The "What changed" section: the turnover sentence, size rows and drift rows, with
    segments named as in this run (or the previous one, for a segment gone since)."""
    names = {**data.previous_names, **segment_names(data)}
    moved = not is_empty(data.transitions)
    return {
        "summary": changes_summary(data.transitions) if moved else "",
        "sizes": size_rows(data.size_changes, names),
        "drift": drift_rows(data.drift, names),
    }


def write_report(data: ReportData, path: str | Path) -> Path:
    """Write the report to ``path`` (parent folders are created); return the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    text = render_report(data)
    target.write_text(text, encoding="utf-8")
    logger.info("wrote report of run %s to %s (%d bytes)", data.run_id, target, len(text))
    return target


def template_environment(package: str) -> jinja2.Environment:
    """Jinja2 over ``package``'s templates: autoescaped (names are free text), strict about
    undefined names, with the number and time filters the report and dashboard share."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader(package, "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(count=format_count, pct=format_share, metric=format_metric, when=format_when)
    return env


@cache
def _environment() -> jinja2.Environment:
    return template_environment("audience.report")


@cache
def plotly_js() -> str:
    return str(get_plotlyjs())


def figure_html(fig: Any, div_id: str) -> Markup:
    height = fig.layout.height
    return Markup(
        fig.to_html(
            full_html=False,
            include_plotlyjs=False,
            div_id=div_id,
            config=PLOTLY_CONFIG,
            default_height=f"{height}px" if height else "450px",
        )
    )


def format_count(value: object) -> str:
    """A whole number with thousands separators; a dash when missing."""
    number = _number(value)
    return DASH if number is None else f"{round(number):,}"


def format_share(value: object) -> str:
    """A fraction as a percentage with one decimal; a dash when missing."""
    number = _number(value)
    return DASH if number is None else f"{100 * number:.1f} %"


def format_metric(value: object) -> str:
    """A score: three decimals, fewer when large; a dash when missing."""
    number = _number(value)
    if number is None:
        return DASH
    if abs(number) >= 1000:
        return f"{number:,.0f}"
    return f"{number:.1f}" if abs(number) >= 100 else f"{number:.3f}"


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, Real):
        return None
    number = float(value)
    return None if math.isnan(number) else number


def format_when(value: datetime) -> str:
    """A timestamp to the minute, with its time zone when it has one."""
    return value.strftime("%Y-%m-%d %H:%M %Z").strip()


def _records(table: pd.DataFrame) -> list[dict[str, Any]]:
    if is_empty(table):
        return []
    return [{str(k): v for k, v in row.items()} for row in table.to_dict(orient="records")]


def _ingest_totals(ingest: pd.DataFrame) -> dict[str, int]:
    columns = ("rows_read", "accepted", "quarantined", "duplicates")
    if is_empty(ingest):
        return dict.fromkeys(columns, 0)
    return {c: int(pd.to_numeric(ingest[c], errors="coerce").fillna(0).sum()) for c in columns}


def tree_rows(tree: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of the tree depth-first from its roots (in table order), each with its depth."""
    rows = _records(tree)
    children: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        parent = "" if is_missing(row["parent_id"]) else str(row["parent_id"])
        children.setdefault(parent, []).append(i)
    order: list[tuple[int, int]] = []
    stack = [(i, 0) for i in reversed(children.get("", []))]
    while stack:
        i, depth = stack.pop()
        order.append((i, depth))
        below = children.get(str(rows[i]["segment_id"]), [])
        stack.extend((child, depth + 1) for child in reversed(below))
    reached = {i for i, _ in order}
    order += [(i, 0) for i in range(len(rows)) if i not in reached]  # a cycle has no root
    return [{**rows[i], "depth": depth} for i, depth in order]


def persona_view(persona: dict[str, Any]) -> dict[str, Any]:
    def texts(key: str) -> list[str]:
        value = persona.get(key) or []
        return [value] if isinstance(value, str) else [str(v) for v in value]

    return {
        "segment_id": str(persona["segment_id"]),
        "name": str(persona["name"]),
        "size": persona["size"],
        "share": persona["share"],
        "stage": str(persona.get("stage") or ""),
        "messaging": str(persona.get("messaging") or ""),
        "traits": texts("traits"),
        "actions": texts("actions"),
        "rules": texts("rules"),
    }
