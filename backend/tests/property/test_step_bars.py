"""step_bars: a batch's bars in (step, symbol) order and each symbol's visible count after each step,
against a naive walk of the same steps."""

from __future__ import annotations

import hypothesis.strategies as st
import numpy as np
from hypothesis import given

from app.bars.step_bars import step_bars
from app.bars.steps import build_steps
from app.store.bar import Bar, BarArrays
from app.store.series import BarSeries

MIN = 60_000_000_000


def _series(symbol: str, minutes: list[int]) -> BarSeries:
    start = np.array(minutes, dtype=np.int64) * MIN
    price = 100.0 + np.arange(len(minutes), dtype=np.float64) / 8  # distinct per row
    series = BarSeries(f"{symbol}/1m", preloaded=BarArrays(start, price, price + 1, price - 1, price + 0.5,
                                                         np.full(len(minutes), 7.0)))
    series.publish(len(minutes))
    return series


@given(st.lists(st.sets(st.integers(0, 40), max_size=25), min_size=1, max_size=5), st.data())
def test_each_step_holds_its_bars_in_symbol_order_and_the_counts_carry_over(per_symbol, data):
    symbols = tuple(f"S{i}" for i in range(len(per_symbol)))
    series = [_series(s, sorted(m)) for s, m in zip(symbols, per_symbol, strict=True)]
    ends, idx = build_steps([s.view().start for s in series], MIN)
    idx = idx.astype(data.draw(st.sampled_from([np.int32, np.int64])))  # the step sources hand int32 rows
    lo = data.draw(st.integers(0, idx.shape[0]))
    hi = data.draw(st.integers(lo, idx.shape[0]))
    # Naive: walk every step from the session's start, symbol by symbol.
    counts = [0] * len(symbols)
    for k in range(lo):
        counts = [r + 1 if r >= 0 else c for r, c in zip(idx[k].tolist(), counts, strict=True)]
    before = list(counts)
    want_bars, want_counts, want_bounds = [], [], [0]
    for k in range(lo, hi):
        for s, row in enumerate(idx[k].tolist()):
            if row >= 0:
                want_bars.append(Bar(symbols[s], *series[s].row(row)))
                counts[s] = row + 1
        want_counts.append(list(counts))
        want_bounds.append(len(want_bars))

    flat, bounds, got_counts = step_bars(symbols, series, idx[lo:hi], before)

    assert flat == want_bars
    assert all(type(b) is Bar for b in flat)
    assert bounds == want_bounds
    assert got_counts == want_counts
    if hi - lo == 1:  # a live step hands its bars over as columns: the same tuples
        rows = [series[s].row(r) for s, r in enumerate(idx[lo].tolist()) if r >= 0]
        columns = BarArrays(*(np.array(c, dtype=np.int64 if j == 0 else np.float64)
                              for j, c in enumerate(zip(*rows, strict=True)))) if rows else None
        if columns is not None:
            assert step_bars(symbols, series, idx[lo:hi], before, columns) == (flat, bounds, got_counts)
            row = idx[lo].tolist()
            if min(row) == max(row) >= 0:  # every symbol at one row: as StepBatch.every_row says
                assert step_bars(symbols, series, idx[lo:hi], before, columns, row[0]) == (flat, bounds, got_counts)


@given(st.sets(st.integers(0, 40), min_size=1, max_size=25), st.integers(2, 5), st.data())
def test_a_step_of_every_symbol_at_one_row_reads_nothing_of_its_rows(minutes, n, data):
    # Arrange: every symbol has a bar in every step, so step k holds row k of each
    symbols = tuple(f"S{i}" for i in range(n))
    series = [_series(s, sorted(minutes)) for s in symbols]
    _, idx = build_steps([s.view().start for s in series], MIN)
    k = data.draw(st.integers(0, idx.shape[0] - 1))
    columns = BarArrays(*(np.array(c, dtype=np.int64 if j == 0 else np.float64)
                          for j, c in enumerate(zip(*[s.row(k) for s in series], strict=True))))
    # Act
    got = step_bars(symbols, series, idx[k:k + 1], [k] * n, columns, k)
    # Assert: what the general path reads from the rows
    assert got == step_bars(symbols, series, idx[k:k + 1], [k] * n)
    assert all(type(b) is Bar for b in got[0])
