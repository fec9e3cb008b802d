"""The equity curve thinned a chunk at a time (`EquityThinner`) is the whole curve's `equity_view`."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from app.report.equity_thin import EquityThinner
from app.report.run_charts import EquityView, equity_view
from app.report.run_files import Equity, StampRows
from hypothesis import given
from hypothesis import strategies as st

pytestmark = pytest.mark.unit

# Few distinct values: ties within a bucket (the first one is drawn), NaN runs, a peak at or below 0.
values = st.sampled_from([100.0, 101.5, 99.0, 100.0, 0.0, -5.0, float("nan"), 1e6, 100.25])


def stamp_rows(n: int) -> np.ndarray:
    text = "".join(f"2024-01-{1 + i // 1440:02d}T{i % 1440 // 60:02d}:{i % 60:02d}:00-05:00" for i in range(n))
    return np.frombuffer(text.encode("ascii"), dtype=np.uint8).reshape(n, 25)


def chunks_of(rows: np.ndarray, eq: np.ndarray, cuts: list[int]) -> list[tuple[np.ndarray, np.ndarray]]:
    bounds = [0, *sorted(c % (len(eq) + 1) for c in cuts), len(eq)]
    return [(rows[a:b], eq[a:b]) for a, b in itertools.pairwise(bounds)]


def same_view(a: EquityView, b: EquityView) -> None:
    assert a.x == b.x and a.total == b.total
    np.testing.assert_array_equal(np.array(a.equity), np.array(b.equity))  # (NaN equals NaN here)
    np.testing.assert_array_equal(np.array(a.drawdown), np.array(b.drawdown))


@pytest.mark.property
@given(st.lists(values, max_size=700), st.integers(6, 80), st.lists(st.integers(0, 10_000), max_size=12),
       st.booleans())
def test_chunk_by_chunk_draws_the_whole_curves_points(eq_list: list[float], max_points: int, cuts: list[int],
                                                       known: bool):
    eq = np.array(eq_list, dtype=np.float64)
    rows = stamp_rows(len(eq))
    thinner = EquityThinner(len(eq) if known else None, max_points)
    for chunk in chunks_of(rows, eq, cuts):
        thinner.append(chunk)
    try:
        same_view(thinner.view(), equity_view(Equity(StampRows(rows), eq), max_points))
    finally:
        thinner.close()


def test_a_long_curve_in_the_outputs_chunks_is_thinned_as_a_whole():
    rng = np.random.default_rng(7)
    n = 100_003  # several 32,768-row chunks, buckets cut by them, a short last bucket
    eq = 1e5 + np.cumsum(rng.normal(0, 50, n))
    eq[500:900] = np.nan
    rows = stamp_rows(n)
    thinner = EquityThinner(n)
    for at in range(0, n, 32_768):
        thinner.append((rows[at:at + 32_768], eq[at:at + 32_768]))
    view = thinner.view()
    assert view.thinned and len(view.x) <= 5_000
    same_view(view, equity_view(Equity(StampRows(rows), eq)))


def test_more_or_fewer_points_than_announced_is_an_error(tmp_path: Path):
    rows, eq = stamp_rows(10), np.arange(10.0)
    thinner = EquityThinner(5)
    with pytest.raises(ValueError, match="more than the 5 points"):
        thinner.append((rows, eq))
    short = EquityThinner(20)
    short.append((rows, eq))
    with pytest.raises(ValueError, match="10 points; 20 were announced"):
        short.view()
    spooled = EquityThinner(None, spool_dir=tmp_path)
    spooled.append((rows, eq))
    assert spooled.view().total == 10 and spooled.view() is spooled.view()
    with pytest.raises(ValueError, match="after the view was made"):
        spooled.append((rows, eq))
    spooled.close()
