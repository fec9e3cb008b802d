"""Properties of aggregate_bars: OHLCV of complete windows only, chunk-invariant, idempotent."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import ANCHOR, MINUTE, grid_bars

from app.bars.aggregate import aggregate_bars, aggregate_daily
from app.store.bar import BarArrays


def naive_aggregate(bars, base_ns, target_ns, anchor, upto, close):
    """Reference: walk every window, collect its bars with a list comprehension."""
    per = target_ns // base_ns
    made, skipped = [], []
    k = 0
    while anchor + k * target_ns < close:
        w0 = anchor + k * target_ns
        w1 = w0 + target_ns
        k += 1
        if min(w1, close) > upto:
            break
        rows = [i for i in range(len(bars)) if w0 <= bars.start[i] < w1 and bars.start[i] < close]
        if not rows:
            continue
        if len(rows) == per and w1 <= close:
            made.append((w0, float(bars.open[rows[0]]), max(float(bars.high[i]) for i in rows),
                         min(float(bars.low[i]) for i in rows), float(bars.close[rows[-1]]),
                         sum(float(bars.volume[i]) for i in rows)))
        else:
            skipped.append(w0)
    return made, skipped


def as_rows(bars):
    return [
        (int(s), float(o), float(h), float(lo), float(c), float(v))
        for s, o, h, lo, c, v in zip(*bars, strict=True)
    ]


@st.composite
def sessions(draw):
    """A session of base bars: (bars, per, target_ns, close_ns, n_slots)."""
    per = draw(st.sampled_from([1, 2, 3, 5]))
    n_slots = draw(st.integers(0, 40))
    bars = draw(grid_bars(n_slots, fill=draw(st.sampled_from([0.5, 0.9, 1.0]))))
    return bars, per, per * MINUTE, ANCHOR + n_slots * MINUTE


@settings(deadline=None)
@given(session=sessions(), upto_slots=st.none() | st.integers(0, 45))
def test_aggregate_matches_naive_reference(session, upto_slots):
    # Arrange: the clock anywhere, often exactly at the close (None)
    bars, _, target, close = session
    upto = close if upto_slots is None else ANCHOR + upto_slots * MINUTE
    visible = bars.slice(0, int(np.searchsorted(bars.start, upto)))
    # Act
    result = aggregate_bars(visible, MINUTE, target, ANCHOR, upto, close)
    # Assert: high = max, low = min, volume = sum, first open, last close, complete sets only
    made, skipped = naive_aggregate(visible, MINUTE, target, ANCHOR, upto, close)
    assert as_rows(result.bars) == made
    assert result.skipped_starts.tolist() == skipped


@settings(deadline=None)
@given(session=sessions(), clock_steps=st.lists(st.integers(1, 7), max_size=12))
def test_chunked_calls_equal_one_call(session, clock_steps):
    # Arrange: a streaming caller (like the DataProcessor) advances the clock in drawn steps
    bars, _, target, close = session
    whole = aggregate_bars(bars, MINUTE, target, ANCHOR, close, close)
    made, skipped, lo, upto = [], [], 0, ANCHOR
    for step in [*clock_steps, 10**6]:
        upto = min(close, upto + step * MINUTE)
        hi = int(np.searchsorted(bars.start, upto))
        # Act
        part = aggregate_bars(bars.slice(lo, hi), MINUTE, target, ANCHOR, upto, close)
        made += as_rows(part.bars)
        skipped += part.skipped_starts.tolist()
        lo = int(np.searchsorted(bars.start, ANCHOR + (upto - ANCHOR) // target * target))
        if upto == close:
            break
    # Assert
    assert made == as_rows(whole.bars)
    assert skipped == whole.skipped_starts.tolist()


@settings(deadline=None)
@given(session=sessions())
def test_aggregating_derived_bars_again_is_identity(session):
    bars, _, target, close = session
    derived = aggregate_bars(bars, MINUTE, target, ANCHOR, close, close).bars
    again = aggregate_bars(derived, target, target, ANCHOR, close, close)
    assert as_rows(again.bars) == as_rows(derived)
    assert again.skipped_starts.shape[0] == 0


@settings(deadline=None)
@given(
    bars=grid_bars(60, fill=0.95),
    middle=st.sampled_from([2, 3, 5]),
    outer=st.sampled_from([2, 3]),
)
def test_two_stage_aggregation_equals_direct(bars, middle, outer):
    close = ANCHOR + 60 * MINUTE
    mid = aggregate_bars(bars, MINUTE, middle * MINUTE, ANCHOR, close, close).bars
    outer_ns = middle * outer * MINUTE
    via_mid = aggregate_bars(mid, middle * MINUTE, outer_ns, ANCHOR, close, close).bars
    direct = aggregate_bars(bars, MINUTE, outer_ns, ANCHOR, close, close).bars
    assert as_rows(via_mid) == as_rows(direct)


@settings(deadline=None)
@given(bars=grid_bars(30))
def test_daily_bar_is_ohlcv_of_everything_present(bars):
    daily = aggregate_daily(bars, ANCHOR)
    if len(bars) == 0:
        assert len(daily) == 0
        return
    rows = as_rows(bars)
    assert as_rows(daily) == [(ANCHOR, rows[0][1], max(r[2] for r in rows), min(r[3] for r in rows),
                               rows[-1][4], sum(r[5] for r in rows))]



@settings(deadline=None)
@given(volumes=st.lists(st.floats(0, 1e9, allow_nan=False), min_size=60, max_size=60),
       prices=st.lists(st.floats(1, 1e4, allow_nan=False), min_size=60, max_size=60))
def test_the_one_window_path_gives_the_general_paths_values_bit_for_bit(volumes, prices):
    from app.bars.aggregate import _aggregate_rows

    p = np.array(prices)
    starts = ANCHOR + np.arange(60, dtype=np.int64) * MINUTE
    bars = BarArrays(starts, p, p + 1, p - 1, p, np.array(volumes))
    hour = 60 * MINUTE
    fast = aggregate_bars(bars, MINUTE, hour, ANCHOR, ANCHOR + hour, ANCHOR + 6 * hour)
    general = _aggregate_rows(bars, MINUTE, hour, ANCHOR, ANCHOR + hour, ANCHOR + 6 * hour)
    assert [c.tobytes() for c in fast.bars] == [c.tobytes() for c in general.bars]
    assert fast.skipped_starts.tolist() == general.skipped_starts.tolist() == []
    short = aggregate_bars(bars.slice(0, 59), MINUTE, hour, ANCHOR, ANCHOR + hour, ANCHOR + 6 * hour)
    assert len(short.bars) == 0 and short.skipped_starts.tolist() == [ANCHOR]
