"""The reports in a real browser: headless Debian chromium opens each page from disk (network refused),
every chart is drawn with its data points, nothing is logged as an error, and a screenshot is saved."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from report_browser import INSTALL_HINT, assert_rendered, chromium_path, render
from report_support import Runs

from app.report.compare_page import write_compare_report
from app.report.sweep_page import write_sweep_report

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = chromium_path()
    if executable is None:
        pytest.fail(f"chromium is not installed: {INSTALL_HINT}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=executable, headless=True)
        try:
            yield launched
        finally:
            launched.close()


RUN_CHARTS = {"equity", "pnl_sessions", "pnl_symbols", "price_AAPL", "price_SPY", "quality", "latency",
              "latency_sessions"}


def test_a_run_report_renders_every_chart(browser: Any, runs: Runs, tmp_path: Path):
    result = render(browser, runs.a / "report.html", tmp_path / "run.png", full_page=True)
    assert_rendered(result, RUN_CHARTS)
    assert "Status: completed" in result.text and "Total return %" in result.text
    assert (tmp_path / "run.png").stat().st_size > 10_000
    summary = json.loads((runs.a / "summary.json").read_text())
    equity = next(c for c in result.charts if c["name"] == "equity")
    assert equity["points"] == [summary["steps"]] * 2  # a short run is drawn whole
    fills = sum(n for c in result.charts if c["name"].startswith("price_") for n in c["points"][1:])
    assert fills == summary["trading"]["fills"]  # every fill is a marker


def test_a_failed_run_says_so_at_the_top(browser: Any, runs: Runs, tmp_path: Path):
    result = render(browser, runs.failed / "report.html", tmp_path / "failed.png")
    assert_rendered(result, {"equity", "quality"})
    head = result.text[: result.text.index("Headline metrics")]
    assert "Status: failed" in head and "planned failure in session 3" in head


def test_the_comparison_renders_both_curves_and_lists_the_fills_that_differ(browser: Any, runs: Runs,
                                                                            tmp_path: Path):
    page = write_compare_report(runs.a, runs.b, tmp_path / "compare.html")
    result = render(browser, page, tmp_path / "compare.png")
    assert_rendered(result, {"equity_compare"})
    [equity] = [c for c in result.charts if c["name"] == "equity_compare"]
    assert len(equity["points"]) == 2
    assert "Only in A" in result.text and "Only in B" in result.text and "B - A" in result.text


def _fake_sweep(folder: Path, walk_forward: bool) -> Path:
    folder.mkdir()
    rows: dict[str, list[Any]] = {"rank": [], "param.fast": [], "param.slow": [], "param.mode": [],
                                  "total_return_pct": [], "sharpe": [], "status": [], "error": []}
    if walk_forward:
        rows.update(window=[], phase=[], start_date=[], end_date=[])
    rank = 0
    for window in (0, 1) if walk_forward else (None,):
        for phase in ("train", "test") if walk_forward else (None,):
            for fast in (5, 10, 20):
                for slow in (30, 60):
                    for mode in ("a", "b"):
                        rank += 1
                        failed = fast == 20 and slow == 60 and mode == "b"
                        rows["rank"].append(None if failed else rank)
                        rows["param.fast"].append(fast)
                        rows["param.slow"].append(slow)
                        rows["param.mode"].append(mode)
                        rows["total_return_pct"].append(float("nan") if failed else fast / slow - 0.2)
                        rows["sharpe"].append(float("nan") if failed else 1.0 - slow / 100)
                        rows["status"].append("failed" if failed else "completed")
                        rows["error"].append("ValueError: bad params" if failed else "")
                        if walk_forward:
                            rows["window"].append(window)
                            rows["phase"].append(phase)
                            rows["start_date"].append("2024-01-02")
                            rows["end_date"].append("2024-02-01")
    pq.write_table(pa.table(rows), folder / "results.parquet")
    meta: dict[str, Any] = {"name": folder.name, "metric": "total_return_pct", "ascending": False,
                            "params": ["fast", "slow", "mode"], "status": "completed", "completed": rank - 1}
    if walk_forward:
        pq.write_table(pa.table({"window": [0, 1], "train_start": ["2024-01-02", "2024-02-01"],
                                 "train_end": ["2024-01-31", "2024-02-29"], "test_start": ["2024-02-01", "2024-03-01"],
                                 "test_end": ["2024-02-29", "2024-03-29"], "param.fast": [10, 5],
                                 "param.slow": [30, 30], "param.mode": ["a", "b"],
                                 "train_total_return_pct": [0.13, 0.0], "test_total_return_pct": [-0.05, 0.02],
                                 "status": ["completed", "completed"]}), folder / "walk_forward.parquet")
        meta.update(best_by="total_return_pct", test_return_pct_compounded={"all": -3.1})
    (folder / "sweep.json").write_text(json.dumps(meta))
    return folder


def test_a_sweep_report_renders_the_ranked_table_heatmaps_and_walk_forward(browser: Any, tmp_path: Path):
    page = write_sweep_report(_fake_sweep(tmp_path / "wf", walk_forward=True))
    assert page == tmp_path / "wf" / "report.html"
    result = render(browser, page, tmp_path / "sweep.png")
    assert_rendered(result, {"sweep_heatmap", "walk_forward"})
    [heat] = [c for c in result.charts if c["name"] == "sweep_heatmap"]
    assert len(heat["points"]) == 3  # fast x slow, fast x mode, slow x mode (a menu picks one)
    assert "Ranked runs" in result.text and "ValueError: bad params" in result.text
    assert "Test windows chained" in result.text


def test_a_sweep_without_optional_columns_still_renders(browser: Any, tmp_path: Path):
    folder = tmp_path / "bare"
    folder.mkdir()
    pq.write_table(pa.table({"param.fast": [5, 10, 20], "total_return_pct": [0.1, -0.2, 0.3]}),
                   folder / "results.parquet")
    result = render(browser, write_sweep_report(folder), tmp_path / "bare.png")
    assert_rendered(result, {"sweep_param"})
    assert "Walk-forward" not in result.text
