"""Price traces written as JSON one symbol at a time draw the charts the trace objects drew."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from app.report.html import Page, trace_json
from app.report.run_charts import fill_markers, group_fills
from app.report.run_files import Fills, RunFiles
from app.report.run_page import SYMBOL_CHARTS, build_run_page
from hypothesis import given
from hypothesis import strategies as st

pytestmark = pytest.mark.unit

values = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**6, 10**6), st.none(),
                   st.text(max_size=8), st.just("</script>"))
traces = st.lists(st.dictionaries(st.sampled_from(["type", "name", "x", "y", "marker", "visible"]),
                                  st.one_of(values, st.lists(values, max_size=5),
                                            st.dictionaries(st.sampled_from(["color", "size"]), values))),
                  max_size=4)


@pytest.mark.property
@given(traces, st.dictionaries(st.sampled_from(["title", "xaxis"]), values), st.integers(100, 900))
def test_a_chart_of_written_traces_is_the_chart_of_the_traces(data: list[dict], layout: dict, height: int):
    whole, parts = Page("t"), Page("t")
    whole.chart("c", data, layout, height)
    parts.chart_traces("c", [trace_json(t) for t in data], layout, height)
    assert parts.html_text() == whole.html_text()


def _fills(rows: list[tuple[str, str, str]]) -> Fills:
    n = len(rows)
    return Fills([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], [1.0] * n,
                 [10.0 + i + 0.1 * math.pi for i in range(n)], [0.5] * n)


def test_a_menu_of_symbols_of_which_few_drew_falls_back_to_a_chart_each(tmp_path: Path):
    symbols = [f"S{i:02d}" for i in range(SYMBOL_CHARTS + 1)]  # more than charts: made for a menu ...
    rows = [(f"2024-07-01T10:{i:02d}:00-04:00", s, side) for i, s in enumerate(symbols[1:])
            for side in ("buy", "sell")]  # ... but the first symbol has nothing to draw
    fills = _fills(rows)
    files = RunFiles(tmp_path, {"status": "completed", "symbols": symbols}, [], None, None, None, fills)
    page = build_run_page(files)
    drawn = {json.loads(fig)["layout"]["title"]["text"]: fig for _, fig in page._charts if '"price"' in fig}
    assert len(drawn) == SYMBOL_CHARTS and not any('"updatemenus"' in fig for fig in drawn.values())
    groups = group_fills(fills)
    layout = {"xaxis": {"type": "date", "rangebreaks": []}, "yaxis": {"title": {"text": "price"}},
              "legend": {"orientation": "h", "y": 1.1}}
    for sym in symbols[1:]:
        expected = Page("t")
        expected.chart(f"price_{sym}", fill_markers(fills, groups, sym),
                       {**layout, "title": {"text": f"{sym}: price and fills"}})
        assert drawn[f"{sym}: price and fills"] == expected._charts[0][1]
