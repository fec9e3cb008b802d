"""A window aggregated across symbols (StepRows) equals aggregate_bars per symbol, bit for bit."""

from __future__ import annotations

import numpy as np
from app.bars.aggregate import aggregate_bars
from app.bars.panel import StepRows
from app.store.bar import BarArrays
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import ANCHOR, ohlcv_rows

SECOND = 1_000_000_000

# Volumes with fractions and mixed magnitudes, so a different summation order would show.
volumes = st.floats(0, 1e9, allow_nan=False, allow_infinity=False)


@st.composite
def window_steps(draw, max_symbols=5, max_per_window=12):
    """One window of `per` base slots; the steps (slots where some symbol has a bar) and bars."""
    n = draw(st.integers(1, max_symbols))
    per = draw(st.one_of(st.integers(1, max_per_window), st.just(60)))  # 60: a 1m window of 1s bars
    present = np.array(
        draw(st.lists(st.lists(st.booleans(), min_size=n, max_size=n), min_size=per, max_size=per)),
        dtype=bool,
    )
    rows = draw(ohlcv_rows(per * n))
    cols = np.array(rows, dtype=np.float64).reshape(per, n, 5)
    cols[:, :, 4] = np.array(draw(st.lists(volumes, min_size=per * n, max_size=per * n))).reshape(
        per, n
    )
    # Complete windows should be common, not one in 2**per.
    full = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    if draw(st.booleans()):
        full = [True] * n  # every symbol complete: the usual live close
    present[:, np.array(full, dtype=bool)] = True
    return n, per, present, cols


@settings(deadline=None)
@given(case=window_steps(), offset=st.integers(0, 3), steps_everywhere=st.booleans(), whole=st.booleans())
def test_window_across_symbols_equals_aggregate_bars_per_symbol(case, offset, steps_everywhere, whole):
    # Arrange: the window starts `offset` windows after the anchor; rows are pushed step by step
    n, per, present, cols = case
    base, target = SECOND, per * SECOND
    window_start = ANCHOR + offset * target
    rows = StepRows(n, capacity=2)  # grows as needed
    rows.push(
        window_start - base, None, BarArrays(np.zeros(n, np.int64), *np.ones((5, n)))
    )  # an older row
    first = rows.end
    for k in range(per):
        idx = np.flatnonzero(present[k])
        if not idx.shape[0] and not steps_everywhere:
            continue  # backtests: no step where no symbol has a bar
        start = window_start + k * base
        every = idx.shape[0] == n and (k % 2 == 0 or whole)  # whole: as live pushes a full step
        bars = BarArrays(np.full(idx.shape[0], start), *(cols[k, idx, c] for c in range(5)))
        rows.push(start, None if every else idx, bars)
    rows.drop_before(first)
    # Act
    got = rows.window(first, rows.end, window_start, per)
    # Assert: each symbol as aggregate_bars sees it
    made, skipped = [], []
    for s in range(n):
        ks = np.flatnonzero(present[:, s])
        mine = BarArrays(
            window_start + ks * base, *(np.ascontiguousarray(cols[ks, s, c]) for c in range(5))
        )
        expected = aggregate_bars(
            mine, base, target, ANCHOR, window_start + target, ANCHOR + 10**6 * target
        )
        if len(expected.bars):
            made.append(s)
            j = len(made) - 1
            for col in range(6):
                assert got.bars[col][j] == expected.bars[col][0]
                assert (
                    np.asarray(got.bars[col][j]).tobytes()
                    == np.asarray(expected.bars[col][0]).tobytes()
                )
        if expected.skipped_starts.shape[0]:
            skipped.append(s)
    assert got.made.tolist() == made
    assert got.skipped.tolist() == skipped
    assert len(got.bars) == len(made)


def test_rows_keep_their_absolute_index_across_drops_and_growth():
    rows = StepRows(2, capacity=1)
    for k in range(10):
        rows.push(
            ANCHOR + k * SECOND,
            None if k % 3 else np.array([1]),
            BarArrays(
                np.full(2 if k % 3 else 1, ANCHOR + k * SECOND),
                *np.full((5, 2 if k % 3 else 1), float(k)),
            ),
        )
    rows.drop_before(4)
    assert rows.end == 10
    assert rows.first_at_or_after(ANCHOR + 6 * SECOND, 4) == 6
    assert rows.starts(6, 8).tolist() == [ANCHOR + 6 * SECOND, ANCHOR + 7 * SECOND]
    assert rows.counts(4, 10).tolist() == [4, 6]  # rows 6 and 9 hold only symbol 1
    rows.clear()
    assert rows.end == 0
