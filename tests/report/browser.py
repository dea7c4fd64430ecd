"""Open a report in Debian's headless Chromium through Playwright, offline, and record what
went wrong: JavaScript errors, dialogs, and every request that tried to leave the file."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import ConsoleMessage, Dialog, Error, Page, Route, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]

needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian's chromium is not installed at /usr/bin/chromium (make system-deps)",
)

ALL_DRAWN = """() => {
  const divs = [...document.querySelectorAll('.plotly-graph-div')];
  return divs.length > 0 && divs.every(d => d._fullLayout && d.querySelector('svg.main-svg'));
}"""

DRAWN = """() => [...document.querySelectorAll('.plotly-graph-div')].map(d => ({
    id: d.id,
    svg: d.querySelectorAll('svg.main-svg').length,
    canvas: d.querySelectorAll('canvas').length,
    traces: d.data.length,
}))"""


@dataclass
class Loaded:
    """The open page and what happened while it loaded."""

    page: Page
    figures: list[str]
    errors: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)


@contextmanager
def open_offline(path: Path, figures: list[str]) -> Iterator[Loaded]:
    """``path`` loaded with every non-file request aborted, once every chart is drawn."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        seen = Loaded(page, figures)

        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                seen.errors.append(f"console: {message.text}")

        def on_page_error(error: Error) -> None:
            seen.errors.append(f"page error: {error.message}")

        def on_dialog(dialog: Dialog) -> None:
            seen.dialogs.append(dialog.message)
            dialog.dismiss()

        def offline(route: Route) -> None:
            if route.request.url.startswith("file://"):
                route.continue_()
            else:
                seen.blocked.append(route.request.url)
                route.abort()

        page.on("console", on_console)
        page.on("pageerror", on_page_error)
        page.on("dialog", on_dialog)
        page.route("**/*", offline)
        page.goto(path.as_uri(), wait_until="load")
        page.wait_for_function(ALL_DRAWN, timeout=30_000)
        try:
            yield seen
        finally:
            browser.close()
