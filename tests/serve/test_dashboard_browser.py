"""The dashboard in headless Chromium against a real server: sign in, open, rename, see it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import ConsoleMessage, Error, Page, Route, sync_playwright

from audience import Workspace
from audience.serve import create_app
from audience.serve.dashboard import segment_url
from audience.store.keys import create_key
from tests.report.browser import ARGS, CHROMIUM, DRAWN, needs_chromium
from tests.serve.conftest import copy_workspace
from tests.serve.dashboard_fixtures import live_server, persona_segment

pytestmark = [pytest.mark.slow, needs_chromium]


@dataclass
class Browsing:
    """A page on the live dashboard, and what went wrong on it."""

    base: str
    admin: str
    page: Page
    segment_id: str
    """A clustered segment with a persona (so a lift chart) and more than 20 members."""
    name: str
    errors: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def browsing(built_workspace: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browsing]:
    ws = Workspace(copy_workspace(built_workspace, tmp_path_factory.mktemp("browser")))
    _key, admin = create_key(ws.database, "admin", "browser admin", datetime.now(UTC))
    segment = persona_segment(ws)
    try:
        with live_server(create_app(ws)) as base, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            seen = Browsing(base, admin, page, str(segment["segment_id"]), str(segment["name"]))
            _watch(seen)
            yield seen
            browser.close()
    finally:
        ws.close()


def _watch(seen: Browsing) -> None:
    """Record console errors and page errors; abort any request that leaves 127.0.0.1."""

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            seen.errors.append(f"console: {message.text}")

    def on_page_error(error: Error) -> None:
        seen.errors.append(f"page error: {error.message}")

    def loopback_only(route: Route) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            seen.blocked.append(route.request.url)
            route.abort()

    seen.page.on("console", on_console)
    seen.page.on("pageerror", on_page_error)
    seen.page.route("**/*", loopback_only)


def drawn(page: Page, div_id: str) -> dict[str, int]:
    """The chart ``div_id`` once Plotly has drawn it (an svg.main-svg inside it)."""
    page.wait_for_selector(f"#{div_id} svg.main-svg", timeout=30_000)
    charts = {chart["id"]: chart for chart in page.evaluate(DRAWN)}
    return charts[div_id]  # type: ignore[no-any-return]


def test_sign_in_open_a_segment_rename_it_and_see_it_on_the_overview(
    browsing: Browsing,
) -> None:
    page = browsing.page
    page.goto(f"{browsing.base}/")
    assert urlsplit(page.url).path == "/login"
    page.fill("input[name=key]", browsing.admin)
    page.click("button:has-text('Sign in')")
    page.wait_for_url(f"{browsing.base}/")
    assert "browser admin" in page.inner_text("header")
    tree_chart = drawn(page, "fig-tree")
    assert tree_chart["svg"] > 0
    assert tree_chart["traces"] == 1

    segment_page = f"{browsing.base}{segment_url(browsing.segment_id)}"
    page.get_by_role("link", name=browsing.name, exact=True).click()
    page.wait_for_url(segment_page)
    assert page.inner_text("h1") == browsing.name
    lift_chart = drawn(page, "fig-lift")
    assert lift_chart["svg"] > 0
    assert lift_chart["traces"] == 1
    assert page.locator("table.members a").count() == 20

    page.fill("input[name=name]", "Win back before they go")
    page.click("button:has-text('Rename')")
    page.wait_for_url(segment_page)
    assert page.inner_text("h1") == "Win back before they go"

    page.click("nav a:has-text('Overview')")
    page.wait_for_url(f"{browsing.base}/")
    names = page.locator("table.tree a").all_inner_texts()
    assert "Win back before they go" in names
    assert browsing.name not in names
    drawn(page, "fig-tree")

    assert browsing.errors == []
    assert browsing.blocked == []
