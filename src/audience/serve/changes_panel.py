"""The dashboard's "What changed": the newest run against the previous one, as the report
draws it (:mod:`audience.report.changes_view`, the Sankey of :mod:`audience.report.charts`)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from audience.report.changes_view import changes_summary, drift_rows, size_rows
from audience.report.charts import moves_figure
from audience.report.html import figure_html
from audience.serve.service import Service


def changes_panel(service: Service, run_id: str, tree: pd.DataFrame) -> dict[str, Any] | None:
    """What the overview's "What changed" shows for ``run_id`` (whose segments are
    ``tree``), or None for a first run."""
    _run, changes = service.changes(run_id)
    if changes is None:
        return None
    _previous, before = service.tree(changes.previous_run_id)
    now_names = _names(tree)
    names = _names(before) | now_names  # a segment keeping its id keeps its (new) name
    drift = drift_rows(changes.drift, names)
    flagged = [row for row in drift["population"] if row["status"] != "ok"] + drift["segments"]
    return {
        "previous_run_id": changes.previous_run_id,
        "summary": changes_summary(changes.transitions),
        "sankey": figure_html(moves_figure(changes.transitions, names, now_names), "fig-changes"),
        "sizes": size_rows(changes.sizes, names),
        "current": set(now_names),
        "drifted": flagged,
    }


def _names(tree: pd.DataFrame) -> dict[str, str]:
    return dict(zip(tree["segment_id"].astype(str), tree["name"].astype(str), strict=True))
