"""The rendered page: its sections, tables, escaping, and that it refers to nothing outside."""

from __future__ import annotations

import dataclasses
import re
from importlib.resources import files
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from markupsafe import escape
from plotly.offline import get_plotlyjs

from audience.report import ReportData, render_report, report_figures, write_report
from audience.report.html import format_count, format_metric, format_share
from tests.report.fixtures import HOSTILE, HOSTILE_LINK, hostile, report_data
from tests.report.page import Page

SECTION_IDS = [
    "ingest",
    "tree",
    "changes",
    "personas",
    "lift",
    "projection",
    "selection",
    "dendrogram",
    "features",
    "rules",
]


@pytest.fixture(scope="module")
def full() -> ReportData:
    return report_data(hierarchical=True)


@pytest.fixture(scope="module")
def page_html(full: ReportData) -> str:
    return render_report(full)


def test_every_section_is_there_in_order_with_a_nav_link(page_html: str) -> None:
    page = Page(page_html)
    sections = [attrs["id"] for attrs in page.tags("section")]
    assert sections == SECTION_IDS
    assert "summary" in page.ids()
    links = [attrs["href"] for attrs in page.tags("a")]
    assert links == [f"#{s}" for s in SECTION_IDS]


def test_header_shows_run_method_k_and_dates(page_html: str) -> None:
    text = " ".join(" ".join(Page(page_html).texts).split())
    for fact in (
        "Run run-2025-06-01-0001",
        "As of 2025-06-01 00:00 UTC",
        "Method ward",
        "Segments (k) 3",
        "Created 2025-06-01 12:30 UTC",
    ):
        assert fact in text


def test_every_figure_is_embedded_once_with_its_div(full: ReportData, page_html: str) -> None:
    figures = report_figures(full)
    assert list(figures) == [
        "fig-tree",
        "fig-changes",
        "fig-lift",
        "fig-projection",
        "fig-elbow",
        "fig-silhouette",
        "fig-bic",
        "fig-dendrogram",
        "fig-features",
    ]
    page = Page(page_html)
    graph_divs = [a["id"] for a in page.tags("div") if "plotly-graph-div" in a.get("class", "")]
    assert graph_divs == list(figures)
    # One script for Plotly's library, one per figure: nothing else runs.
    assert len(page.tags("script")) == 1 + len(figures)


def test_plotly_library_is_embedded_exactly_once(page_html: str) -> None:
    library = get_plotlyjs()
    assert page_html.count(library[:2000]) == 1
    assert page_html.count(library[-2000:]) == 1


def test_chosen_candidate_row_is_highlighted(page_html: str) -> None:
    rows = [row for row in Page(page_html).rows if row.cells and row.cells[0] in METHODS]
    assert len(rows) == 15
    chosen = [row for row in rows if row.css_class == "chosen"]
    assert len(chosen) == 1
    assert chosen[0].cells[:2] == ["ward", "3"]
    assert chosen[0].cells[8] == "chosen"
    rejected = [row.cells[:2] for row in rows if row.css_class == "rejected"]
    assert rejected == [[m, "6"] for m in METHODS]


METHODS = ("kmeans", "gmm", "ward")


def test_selection_numbers_are_formatted_and_missing_ones_dashed(page_html: str) -> None:
    rows = {tuple(row.cells[:2]): row.cells for row in Page(page_html).rows if row.cells}
    kmeans_3 = rows[("kmeans", "3")]
    assert kmeans_3[2:8] == ["0.520", "215.8", "—", "310.0", "0.700", "0.900"]
    assert rows[("gmm", "2")][4] == "4,320"


def test_a_tree_runs_candidates_name_their_branch_and_the_segments_that_got_contacts(
    full: ReportData,
) -> None:
    """The whole candidates table (issue 13.6: the CLI shows four columns, --verbose and the
    report the rest); a mixture whose k=4 filled 3 segments reads apart from its k=3."""
    selection = full.selection.assign(
        branch="customers", n_segments=full.selection["k"], smallest_share=0.125,
        noise_share=0.0, elbow=3,
    )  # fmt: skip
    selection.loc[(selection["method"] == "gmm") & (selection["k"] == 4), "n_segments"] = 3
    page = Page(render_report(dataclasses.replace(full, selection=selection)))
    [header] = [row.cells for row in page.rows if row.cells[:2] == ["Branch", "Method"]]
    assert header[-6:] == ["Segments", "Smallest", "Noise", "Elbow", "Status", "Reason"]
    rows = {tuple(row.cells[1:3]): row.cells for row in page.rows if row.cells[0] == "customers"}
    assert rows[("gmm", "4")][-6:-2] == ["3", "12.5 %", "0.0 %", "3"]
    assert rows[("gmm", "3")][-6] == "3"


@pytest.mark.parametrize("name", [HOSTILE, HOSTILE_LINK])
def test_segment_names_are_escaped_never_raw(name: str) -> None:
    data = hostile(report_data(), name)
    text = render_report(data)
    assert name not in text  # not as markup, nor raw inside a chart's JSON
    page = Page(text)
    assert name in page.texts  # shown as the text it is (persona card, tree table, rules)
    assert len(page.tags("script")) == 1 + len(report_figures(data))
    assert not [a for a in page.tags("a") if not a["href"].startswith("#")]
    assert str(escape(name)) in text


def test_chart_labels_escape_plotly_markup() -> None:
    data = hostile(report_data(), HOSTILE_LINK)
    figures = report_figures(data)
    labels = list(figures["fig-tree"].data[0].labels)
    assert '&lt;a href="https://evil.example/x"&gt;click&lt;/a&gt;' in labels
    assert HOSTILE_LINK not in labels
    legend = [trace.name for trace in figures["fig-projection"].data]
    assert HOSTILE_LINK not in legend
    assert figures["fig-lift"].data[0].x[0].startswith("&lt;a href")
    sankey = list(figures["fig-changes"].data[0].node.label)
    assert sankey.count('&lt;a href="https://evil.example/x"&gt;click&lt;/a&gt;') == 2  # both runs
    assert HOSTILE_LINK not in sankey


def test_no_resource_or_link_leaves_the_file(page_html: str) -> None:
    page = Page(page_html)
    references = page.attribute_values("src", "href", "srcset", "action", "data", "poster")
    assert references  # the nav links are found, so the parser sees attributes
    assert all(ref.startswith("#") for ref in references), references
    assert not page.tags("link")
    assert not page.tags("iframe")
    styles = re.findall(r"<style>(.*?)</style>", page_html, flags=re.S)
    assert styles
    assert not [s for s in styles if "@import" in s or "url(" in s]


def test_dendrogram_section_only_with_a_linkage(full: ReportData) -> None:
    without = dataclasses.replace(full, dendrogram=None)
    page = Page(render_report(without))
    assert "dendrogram" not in page.ids()
    assert "fig-dendrogram" not in page.ids()
    assert "#dendrogram" not in [a["href"] for a in page.tags("a")]
    assert "fig-dendrogram" not in report_figures(without)
    assert "fig-dendrogram" in Page(render_report(full)).ids()


def test_bic_chart_only_when_some_candidate_has_a_bic(full: ReportData) -> None:
    no_bic = dataclasses.replace(full, selection=full.selection.assign(bic=np.nan))
    assert "fig-bic" not in report_figures(no_bic)
    assert "fig-bic" not in Page(render_report(no_bic)).ids()
    assert "fig-bic" in report_figures(full)
    assert list(report_figures(full)["fig-bic"].data[0].x) == [2, 3, 4, 5, 6]


def test_elbow_chart_only_when_some_candidate_has_an_inertia(full: ReportData) -> None:
    no_inertia = dataclasses.replace(full, selection=full.selection.assign(inertia=np.nan))
    figures = report_figures(no_inertia)
    assert "fig-elbow" not in figures
    assert "fig-silhouette" in figures


def test_empty_tables_say_there_is_nothing_instead_of_failing(full: ReportData) -> None:
    empty = dataclasses.replace(
        full,
        ingest=pd.DataFrame(),
        quality=pd.DataFrame(columns=["reason", "rows"]),
        merges=pd.DataFrame(),
        selection=pd.DataFrame(),
        lift=pd.DataFrame(),
        projection=pd.DataFrame(),
        features=pd.DataFrame(),
        tree=pd.DataFrame(),
        personas=[],
        rules={},
        surrogate_fidelity=None,
        previous_run_id=None,
        previous_names={},
        transitions=pd.DataFrame(),
        size_changes=pd.DataFrame(),
        drift=pd.DataFrame(),
    )
    text = render_report(empty)
    for sentence in (
        "No ingest was recorded.",
        "No row was quarantined.",
        "No segment tree was recorded.",
        "No persona was written.",
        "No lift was computed.",
        "No projection was computed.",
        "No model selection was recorded.",
        "No feature values were given.",
        "No surrogate rules were computed.",
        "This is the first run: nothing to compare.",
    ):
        assert sentence in text
    assert "Small segments merged" not in text
    assert list(report_figures(empty)) == ["fig-dendrogram"]
    assert [a["id"] for a in Page(text).tags("section")] == SECTION_IDS


def test_merges_table_shows_when_segments_were_merged(page_html: str) -> None:
    assert "Small segments merged" in page_html
    rows = [row.cells for row in Page(page_html).rows if row.cells[:1] == ["customers/lapsed-vip"]]
    assert rows == [
        ["customers/lapsed-vip", "customers/high-value", "3", "smaller than 2 % of the audience"]
    ]


def test_ingest_table_totals_the_sources(page_html: str) -> None:
    totals = [row.cells for row in Page(page_html).rows if row.cells[:1] == ["Total"]]
    assert totals == [["Total", "1,742", "1,721", "9", "12"]]


def test_tree_table_lists_children_under_their_parent(page_html: str) -> None:
    rows = [row for row in Page(page_html).rows if "data-depth" in row.attrs]
    assert [row.cells[1] for row in rows] == [
        "customers",
        "customers/high-value",
        "customers/occasional",
        "prospects",
        "prospects/engaged",
        "suppressed",
    ]
    assert [row.attrs["data-depth"] for row in rows] == ["0", "1", "1", "0", "1", "0"]


def test_rules_section_names_segments_and_shows_fidelity(page_html: str) -> None:
    text = " ".join(" ".join(Page(page_html).texts).split())
    assert "agrees with the model on 93.4 % of contacts" in text
    assert "High-value frequent customers/high-value orders_365d >= 4" in text


def test_write_report_creates_folders_and_a_small_enough_file(
    full: ReportData, tmp_path: Path
) -> None:
    path = write_report(full, tmp_path / "out" / "report.html")
    assert path == tmp_path / "out" / "report.html"
    assert path.read_text(encoding="utf-8") == render_report(full)
    assert path.stat().st_size < 6_000_000


def test_the_template_ships_inside_the_package() -> None:
    templates = files("audience.report") / "templates"
    assert (templates / "report.html.j2").is_file()
    assert (templates / "sections" / "dendrogram.html.j2").is_file()


@pytest.mark.parametrize(
    ("value", "count", "share", "metric"),
    [
        (0.25, "0", "25.0 %", "0.250"),
        (1234.5, "1,234", "123450.0 %", "1,234"),
        (123.456, "123", "12345.6 %", "123.5"),
        (np.float32(2), "2", "200.0 %", "2.000"),
        (np.nan, "—", "—", "—"),
        (None, "—", "—", "—"),
        (pd.NA, "—", "—", "—"),
    ],
)
def test_numbers_are_formatted_for_people(
    value: object, count: str, share: str, metric: str
) -> None:
    assert (format_count(value), format_share(value), format_metric(value)) == (
        count,
        share,
        metric,
    )
