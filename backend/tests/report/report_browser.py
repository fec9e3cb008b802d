"""Open a report in headless Chromium (Debian's chromium, through playwright) and say what rendered."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

INSTALL_HINT = "run .ci/install-browser.sh (installs Debian's chromium) and try again"

CHARTS_JS = """() => Array.from(document.querySelectorAll('[data-chart]')).map(gd => ({
    name: gd.dataset.chart,
    plotted: gd.classList.contains('js-plotly-plot'),
    points: (gd.data || []).map(t => (t.x || []).length),
    values: (gd.data || []).map(t => ((t.type === 'heatmap' ? t.z : t.y) || []).length),
    drawn: gd.querySelectorAll('.trace').length + gd.querySelectorAll('.heatmaplayer image').length,
}))"""


def chromium_path() -> str | None:
    """The chromium executable (Debian installs /usr/bin/chromium), or None."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


@dataclass
class Rendered:
    """What a page showed: its charts, console errors, page errors and requests off the file."""

    charts: list[dict[str, Any]]
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    text: str = ""


def render(browser: Any, page_file: Path, screenshot: Path, full_page: bool = False) -> Rendered:
    """Open `page_file` (file://) with every network request refused and recorded, wait for the
    charts, and save a PNG of the window (or the whole page) to `screenshot`."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    out = Rendered([])
    page.on("console", lambda m: out.errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: out.errors.append(f"pageerror: {e}"))

    def route(r: Any) -> None:
        if r.request.url.startswith("file://"):
            r.continue_()
        else:
            out.requests.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    try:
        page.goto(page_file.resolve().as_uri(), wait_until="load")
        page.wait_for_function("document.querySelectorAll('[data-chart]').length === "
                               "document.querySelectorAll('[data-chart].js-plotly-plot').length", timeout=20_000)
        out.charts = page.evaluate(CHARTS_JS)
        out.text = page.inner_text("body")
        # Bytes written here: playwright's own file writing starts an executor thread that outlives a test.
        screenshot.write_bytes(page.screenshot(full_page=full_page))
    finally:
        context.close()
    return out


def assert_rendered(result: Rendered, expected: set[str]) -> None:
    """Every expected chart is drawn with data points; no console error, page error or request."""
    assert not result.errors, result.errors
    assert not result.requests, f"the page asked the network for {result.requests}"
    names = {c["name"] for c in result.charts}
    assert expected <= names, f"missing charts {expected - names}"
    for chart in result.charts:
        assert chart["plotted"] and chart["points"], chart
        assert all(n > 0 for n in chart["points"]) and all(n > 0 for n in chart["values"]), chart
        assert chart["drawn"] > 0, chart
