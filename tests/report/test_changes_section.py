"""The report's "What changed": the Sankey of the moves, the size table and the drift table,
on the hand-built fixture (its MOVES are worked out in tests/report/fixtures.py)."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from audience.report import ReportData, ReportDataError, render_report, report_figures
from audience.report.charts import NEW_CONTACTS, NOT_IN_RUN
from tests.report.fixtures import HOSTILE, MOVES, hostile, report_data
from tests.report.page import Page


@pytest.fixture(scope="module")
def data() -> ReportData:
    return report_data()


@pytest.fixture(scope="module")
def rows(data: ReportData) -> dict[str, list[str]]:
    """The size table's rows by segment id (its second cell)."""
    page = Page(render_report(data))
    return {row.cells[1]: row.cells for row in page.rows if len(row.cells) == 5}


def test_sankey_links_every_move_between_named_segments(data: ReportData) -> None:
    sankey = report_figures(data)["fig-changes"].data[0]
    labels = list(sankey.node.label)
    assert labels == [
        "High-value frequent",
        "Lapsed VIPs",
        "Occasional buyers",
        "Engaged prospects",
        "Suppressed (unsubscribed)",
        NEW_CONTACTS,
        "High-value frequent",
        "Occasional buyers",
        "Engaged prospects",
        "Suppressed (unsubscribed)",
        NOT_IN_RUN,
    ]
    links = {
        (labels[s], labels[t], v)
        for s, t, v in zip(sankey.link.source, sankey.link.target, sankey.link.value, strict=True)
    }
    assert ("Lapsed VIPs", "Occasional buyers", 8) in links
    assert (NEW_CONTACTS, "Engaged prospects", 5) in links
    assert ("Engaged prospects", NOT_IN_RUN, 8) in links
    assert len(links) == len(MOVES)
    assert sum(sankey.link.value) == 210  # every contact of either run, once


def test_size_table_shows_before_now_and_the_change(rows: dict[str, list[str]]) -> None:
    assert rows["customers/high-value"] == [
        "High-value frequent", "customers/high-value", "55", "60", "+5 (+9.1 %)",
    ]  # fmt: skip
    assert rows["customers/lapsed-vip"] == [
        "Lapsed VIPs", "customers/lapsed-vip", "12", "0", "gone",
    ]  # fmt: skip
    assert rows["prospects/engaged"][2:] == ["58", "50", "-8 (-13.8 %)"]
    assert rows["suppressed"][2:] == ["8", "10", "+2 (+25.0 %)"]


def test_drift_table_lists_the_population_then_flagged_segments(data: ReportData) -> None:
    page = Page(render_report(data))
    drift = [row for row in page.rows if row.css_class.startswith("drift-")]
    assert [(row.cells[0], row.cells[1], row.cells[-1]) for row in drift] == [
        ("Population", "orders_365d", "ok"),
        ("Population", "recency_days", "watch"),
        ("Population", "top_category", "ok"),
        ("High-value frequent customers/high-value", "recency_days", "alert"),
    ]
    assert drift[2].cells[3] == "—"  # no KS for a categorical feature
    text = " ".join(" ".join(page.texts).split())
    assert "2 feature tests ok across 2 segment(s) tested" in text
    assert (
        "165 of 210 contacts stayed in their segment, 28 moved to another, 7 are new and 10 "
        "are no longer segmented" in text
    )


def test_a_first_run_says_there_is_nothing_to_compare(data: ReportData) -> None:
    first = dataclasses.replace(
        data,
        previous_run_id=None,
        transitions=pd.DataFrame(),
        size_changes=pd.DataFrame(),
        drift=pd.DataFrame(),
    )
    assert "fig-changes" not in report_figures(first)
    assert "This is the first run: nothing to compare." in render_report(first)


def test_names_in_the_sankey_and_tables_are_escaped(data: ReportData) -> None:
    text = render_report(hostile(data))
    assert HOSTILE not in text
    labels = list(report_figures(hostile(data))["fig-changes"].data[0].node.label)
    assert labels.count("&lt;script&gt;alert(1)&lt;/script&gt;") == 2
    sizes = [row.cells for row in Page(text).rows if row.cells[1:2] == ["customers/high-value"]]
    assert sizes[0][0] == HOSTILE  # shown as the text it is


def test_transitions_without_their_columns_are_refused(data: ReportData) -> None:
    with pytest.raises(ReportDataError, match="transitions lacks column"):
        dataclasses.replace(data, transitions=pd.DataFrame({"contacts": [1]}))
