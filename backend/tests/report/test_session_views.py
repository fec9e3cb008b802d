"""SessionViews keeps session_view's dicts compact: the charts read the same values as from a list."""

from __future__ import annotations

import pytest
from app.report.prices import session_spans
from app.report.run_charts import quality_grid, session_pnl
from app.report.run_files import SessionViews, session_view, sessions_with
from hypothesis import given
from hypothesis import strategies as st

pytestmark = pytest.mark.unit

symbols = st.sampled_from(["AAA", "BBB", "CCC"])
floats = st.floats(-1e6, 1e6, allow_nan=False)
quality = st.fixed_dictionaries({"expected": st.integers(0, 400), "present": st.integers(0, 400),
                                 "missing": st.integers(0, 10), "quality_pct": st.one_of(st.none(), floats),
                                 "gaps": st.lists(st.fixed_dictionaries({"bars": st.integers(1, 5)}), max_size=2)})
record = st.fixed_dictionaries(
    {"date": st.dates().map(str)},
    optional={
        "open": st.just("2024-06-24 09:30:00 America/New_York"),
        "close": st.just("2024-06-24 16:00:00 America/New_York"),
        "trading": st.fixed_dictionaries({"pnl": floats, "by_symbol": st.dictionaries(
            symbols, st.fixed_dictionaries({"pnl": floats, "fills": st.integers(0, 9)}))}),
        "quality": st.dictionaries(symbols, quality),
        "metrics": st.fixed_dictionaries({"stages": st.dictionaries(
            st.sampled_from(["coordinator", "data_processor", "session_gap"]),
            st.fixed_dictionaries({"count": st.integers(0, 3), "p99_ms": floats}))}),
        "ignored": st.integers(),
    })


@pytest.mark.property
@given(st.lists(record, max_size=12), st.integers(1, 5))
def test_the_compact_views_give_back_what_was_appended_and_the_same_charts(records: list[dict], batch: int):
    listed = [session_view(r) for r in records]
    views = SessionViews(batch)
    for view in listed:
        views.append(view)
    assert len(views) == len(listed)
    back = list(views)
    assert back == listed and [list(v) for v in back] == [list(v) for v in listed]  # the keys' order too
    assert list(views.only("date", "quality")) == [{k: v[k] for k in v if k in ("date", "quality")} for v in listed]
    names = ["AAA", "BBB", "CCC", "ZZZ"]
    for chart in (session_pnl, quality_grid):
        keys = ("date", "trading") if chart is session_pnl else ("date", "quality")
        assert chart(sessions_with(views, *keys), names) == chart(listed, names)
    spans, expected = session_spans(sessions_with(views, "close", "date", "open")), session_spans(listed)
    assert (spans is None) == (expected is None)
    if spans is not None and expected is not None:
        assert spans.dates == expected.dates and (spans.open_ns == expected.open_ns).all()
