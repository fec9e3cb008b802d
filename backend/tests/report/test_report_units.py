"""Pure parts of the reports: thinning keeps the extremes, fills are matched exactly, sweep cells average."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from app.report.compare_page import diff_fills
from app.report.downsample import PRICE_STEPS_S, bucket_last, coarser_step, extreme_indices
from app.report.run_files import Fills, RunFiles
from app.report.run_page import SYMBOL_CHARTS, build_run_page, write_run_report_safely
from app.report.sweep_page import heatmap_grid

pytestmark = pytest.mark.unit

finite = st.floats(-1e9, 1e9, allow_nan=False)


@pytest.mark.property
@given(arrays(np.float64, st.integers(1, 40_000), elements=finite), st.integers(10, 6_000))
def test_thinning_keeps_every_extreme_and_the_ends(values: np.ndarray, max_points: int):
    dd = values - np.maximum.accumulate(values)
    idx = extreme_indices([values, dd], max_points)
    assert len(idx) <= max(max_points, 6) and (np.diff(idx) > 0).all()
    assert idx[0] == 0 and idx[-1] == len(values) - 1
    assert values[idx].min() == values.min() and values[idx].max() == values.max()
    assert dd[idx].min() == dd.min()  # the deepest drawdown is drawn exactly


def test_short_series_are_drawn_whole():
    values = np.arange(100.0)
    assert extreme_indices([values], 5_000).tolist() == list(range(100))


def test_coarser_step_keeps_the_base_when_it_fits_and_coarsens_a_year_of_minutes():
    assert coarser_step(4_000, 60) == 60
    assert coarser_step(97_000, 60) == 1800  # a year of 1m bars: 30m closes (~3,200 points)
    assert coarser_step(10**9, 60) == PRICE_STEPS_S[-1]
    assert coarser_step(86_400, 1) == 60  # a day of 1s bars: 1m


def test_bucket_last_gives_each_bucket_its_first_index_and_last_value():
    first, last = bucket_last(np.array([1, 1, 2, 2, 2, 5]), np.array([10.0, 11, 12, 13, 14, 15]))
    assert first.tolist() == [0, 2, 5] and last.tolist() == [11.0, 14.0, 15.0]


def _fills(rows: list[tuple[str, str, str, float, float]]) -> Fills:
    cols = list(zip(*rows, strict=True)) if rows else [(), (), (), (), ()]
    return Fills(*(list(c) for c in cols), commission=[1.0] * len(rows))


def test_fills_are_matched_by_time_symbol_side_quantity_and_price():
    a = _fills([("t1", "AAPL", "buy", 10, 100.0), ("t2", "AAPL", "sell", 10, 101.0), ("t3", "SPY", "buy", 5, 50.0),
                ("t4", "SPY", "sell", 5, 51.0)])
    b = _fills([("t1", "AAPL", "buy", 10, 100.0), ("t2", "AAPL", "sell", 10, 101.5), ("t5", "MSFT", "buy", 1, 9.0),
                ("t4", "SPY", "sell", 5, 51.0)])
    d = diff_fills(a, b)
    assert d.matched == 2
    assert d.differing == [(("t2", "AAPL", "sell", 10, 101.0), ("t2", "AAPL", "sell", 10, 101.5))]
    assert d.only_a == [("t3", "SPY", "buy", 5, 50.0)] and d.only_b == [("t5", "MSFT", "buy", 1, 9.0)]
    assert not d.identical and diff_fills(a, a).identical and diff_fills(None, None).identical


fill_rows = st.lists(st.tuples(st.sampled_from(["t1", "t2", "t3"]), st.sampled_from(["A", "B"]),
                               st.sampled_from(["buy", "sell"]), st.integers(1, 3).map(float),
                               st.sampled_from([1.0, 2.0])), max_size=30)


@pytest.mark.property
@given(fill_rows, fill_rows)
def test_every_fill_is_matched_or_listed_once(ra, rb):
    d = diff_fills(_fills(ra), _fills(rb))
    assert d.matched + len(d.only_a) + len(d.differing) == len(ra)
    assert d.matched + len(d.only_b) + len(d.differing) == len(rb)
    assert all(x[:3] == y[:3] and x != y for x, y in d.differing)
    assert (d.identical) == (sorted(ra) == sorted(rb))


def test_heatmap_cells_are_means_over_the_other_parameters():
    xs, ys, z, n = heatmap_grid([1, 1, 2, 2, 10], ["a", "a", "a", "b", "b"], [1.0, 3.0, 5.0, None, 7.0])
    assert xs == [1, 2, 10] and ys == ["a", "b"]  # numbers in numeric order, not as text
    assert z == [[2.0, 5.0, None], [None, None, 7.0]] and n == [[2, 1, 0], [0, 0, 1]]


def test_a_report_that_cannot_be_written_is_a_warning_and_touches_nothing(tmp_path: Path, caplog):
    (tmp_path / "summary.json").write_text('{"status": "completed", "session_name": "x"}')
    (tmp_path / "report.html").mkdir()  # the rename onto it fails
    with caplog.at_level(logging.WARNING, logger="app.report.run_page"):
        assert write_run_report_safely(tmp_path) is None
    assert "report.html not written" in caplog.text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html", "summary.json"]
    assert (tmp_path / "summary.json").read_text() == '{"status": "completed", "session_name": "x"}'


def test_many_symbols_share_one_price_chart_with_a_menu(tmp_path: Path):
    symbols = [f"S{i:02d}" for i in range(SYMBOL_CHARTS + 2)]
    rows = [(f"2024-07-01T10:{i:02d}:00-04:00", s, side, 1.0, 10.0 + i)
            for i, s in enumerate(symbols) for side in ("buy", "sell")]
    files = RunFiles(tmp_path, {"status": "completed", "symbols": symbols}, [], None, None, None, _fills(rows))
    page = build_run_page(files)
    [(_, fig)] = [c for c in page._charts if '"updatemenus"' in c[1]]
    figure = json.loads(fig)
    buttons = figure["layout"]["updatemenus"][0]["buttons"]
    assert [b["label"] for b in buttons] == symbols
    owners = [t["name"].split()[0] for t in figure["data"]]
    assert [t["visible"] for t in figure["data"]] == [o == symbols[0] for o in owners]
    for b in buttons:  # each entry shows exactly its symbol's buy and sell markers
        assert [o for o, v in zip(owners, b["args"][0]["visible"], strict=True) if v] == [b["label"]] * 2


def test_text_from_the_files_cannot_end_a_script_or_add_markup(tmp_path: Path):
    hostile = "</script><img src=x onerror=alert(1)>"
    summary = {"status": "failed", "status_detail": hostile, "session_name": hostile, "symbols": [hostile]}
    files = RunFiles(tmp_path, summary, [], {"strategy": {"class": hostile}}, f"# {hostile}\n", None,
                     _fills([("2024-07-01T10:00:00-04:00", hostile, "buy", 1.0, 10.0)]))
    text = build_run_page(files).html_text()
    assert text.lower().count("</script") == text.lower().count("<script") == 2  # plotly.js, then the charts
    markup = re.sub(r"<script>.*?</script>", "", text, flags=re.DOTALL)
    assert "<img" not in markup and "&lt;img src=x" in markup  # shown as text, not markup


@pytest.mark.property
@given(st.one_of(st.text(), st.integers(), st.floats(), st.none()))
def test_esc_is_the_standard_html_escape(value):
    import html

    from app.report.html import esc

    assert esc(value) == html.escape(str(value), quote=True)
