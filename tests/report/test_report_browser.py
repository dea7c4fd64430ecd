"""The report in headless Chromium, offline: every chart drawn, no error, no request out.

Drives Debian's /usr/bin/chromium through Playwright (never a browser Playwright downloads).
The report is the full fixture with a segment named ``<script>alert(1)</script>``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from audience.report import report_figures, write_report
from tests.report.browser import DRAWN, Loaded, needs_chromium, open_offline
from tests.report.fixtures import HOSTILE, MOVES, TOTAL, hostile, report_data

pytestmark = [pytest.mark.slow, needs_chromium]


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loaded]:
    data = hostile(report_data(hierarchical=True))
    path = write_report(data, tmp_path_factory.mktemp("report") / "report.html")
    with open_offline(path, list(report_figures(data))) as seen:
        yield seen


def test_page_loads_offline_without_errors_or_dialogs(loaded: Loaded) -> None:
    assert loaded.errors == []
    assert loaded.blocked == []
    assert loaded.dialogs == []  # the segment named <script>alert(1)</script> ran nothing


def test_every_embedded_chart_is_drawn(loaded: Loaded) -> None:
    drawn = loaded.page.evaluate(DRAWN)
    assert [chart["id"] for chart in drawn] == loaded.figures
    assert len(drawn) == 9
    assert all(chart["svg"] > 0 and chart["traces"] > 0 for chart in drawn), drawn
    projection = next(chart for chart in drawn if chart["id"] == "fig-projection")
    assert projection["canvas"] > 0  # Scattergl draws on WebGL canvases


def test_heatmap_and_scatter_hold_the_data(loaded: Loaded) -> None:
    page = loaded.page
    # _fullData: the traces as Plotly drew them (numeric arrays arrive base64-encoded in .data)
    shape = page.evaluate(
        """() => { const z = document.getElementById('fig-lift')._fullData[0].z;
                   return [z.length, z[0].length]; }"""
    )
    assert shape == [4, 3]
    heatmap_texts = page.locator("#fig-lift text").all_text_contents()
    assert "3.10" in heatmap_texts
    points = page.evaluate(
        """() => document.getElementById('fig-projection')._fullData
                 .reduce((n, t) => n + t._length, 0)"""
    )
    assert points == TOTAL


def test_sankey_draws_every_move(loaded: Loaded) -> None:
    page = loaded.page
    links = page.evaluate(
        """() => { const link = document.getElementById('fig-changes')._fullData[0].link;
                   return [link.value.length, link.value.reduce((a, b) => a + b, 0)]; }"""
    )
    assert links == [len(MOVES), 210]
    assert page.locator("#fig-changes .sankey-link").count() == len(MOVES)
    assert page.locator("#fig-changes .sankey-node").count() == 11


def test_hostile_segment_name_is_shown_as_plain_text(loaded: Loaded) -> None:
    page = loaded.page
    card = page.locator('.card[data-segment="customers/high-value"] h3')
    assert card.inner_text() == HOSTILE
    assert page.locator("#fig-tree text", has_text=HOSTILE).count() >= 1
    assert page.locator("#fig-changes .node-label", has_text=HOSTILE).count() == 2
    assert page.evaluate("document.querySelectorAll('body script').length") == len(loaded.figures)


def test_nothing_rendered_points_outside_the_file(loaded: Loaded) -> None:
    outside = loaded.page.evaluate(
        """() => [...document.querySelectorAll('[src], [href], [srcset]')]
                 .flatMap(e => ['src', 'href', 'srcset'].map(a => e.getAttribute(a)))
                 .filter(v => v && !v.startsWith('#') && !v.startsWith('data:'))"""
    )
    assert outside == []


def test_nav_link_takes_the_reader_to_its_section(loaded: Loaded) -> None:
    page = loaded.page
    page.get_by_role("link", name="Dendrogram").click()
    page.wait_for_function("location.hash === '#dendrogram'")
    top = page.evaluate("document.getElementById('dendrogram').getBoundingClientRect().top")
    assert 0 <= top < 120
    assert page.locator("#dendrogram h2").is_visible()
