"""aggregate_bars / aggregate_daily on hand-written sessions."""

from __future__ import annotations

import numpy as np
import pytest

from app.bars.aggregate import aggregate_bars, aggregate_daily
from app.store.bar import BarArrays, empty_bars

M = 60_000_000_000
OPEN = 1_000 * M
CLOSE = OPEN + 390 * M


def minute_bars(slots, base=M):
    """Bar at slot j: open j+1, high j+3, low j+0.5, close j+2, volume 10*(j+1)."""
    j = np.array(slots, dtype=np.float64)
    start = OPEN + np.array(slots, np.int64) * base
    return BarArrays(start, j + 1, j + 3, j + 0.5, j + 2, 10 * (j + 1))


def rows(b):
    return [tuple(float(c[i]) if k else int(c[i]) for k, c in enumerate(b)) for i in range(len(b))]


def test_complete_windows_give_ohlcv_bars():
    result = aggregate_bars(minute_bars(range(10)), M, 5 * M, OPEN, OPEN + 10 * M, CLOSE)
    assert rows(result.bars) == [
        (OPEN, 1.0, 7.0, 0.5, 6.0, 150.0),
        (OPEN + 5 * M, 6.0, 12.0, 5.5, 11.0, 400.0),
    ]
    assert result.skipped_starts.tolist() == []


def test_window_missing_a_bar_is_skipped_not_built():
    base = minute_bars([0, 1, 3, 4, 5, 6, 7, 8, 9])
    result = aggregate_bars(base, M, 5 * M, OPEN, OPEN + 10 * M, CLOSE)
    assert [r[0] for r in rows(result.bars)] == [OPEN + 5 * M]
    assert result.skipped_starts.tolist() == [OPEN]


def test_window_without_any_bar_is_neither_built_nor_skipped():
    result = aggregate_bars(minute_bars([5, 6, 7, 8, 9]), M, 5 * M, OPEN, OPEN + 10 * M, CLOSE)
    assert [r[0] for r in rows(result.bars)] == [OPEN + 5 * M]
    assert result.skipped_starts.tolist() == []


def test_unfinished_window_is_left_for_a_later_call():
    base = minute_bars([0, 1, 2])
    early = aggregate_bars(base, M, 5 * M, OPEN, OPEN + 3 * M, CLOSE)
    assert len(early.bars) == 0
    assert early.skipped_starts.tolist() == []
    # at the window's end with two bars still missing, it is skipped
    late = aggregate_bars(base, M, 5 * M, OPEN, OPEN + 5 * M, CLOSE)
    assert late.skipped_starts.tolist() == [OPEN]


def test_window_cut_by_the_close_is_skipped_even_with_every_bar_present():
    # early close after 150 minutes: the 60m window 120..180 can never be complete
    close = OPEN + 150 * M
    result = aggregate_bars(minute_bars(range(150)), M, 60 * M, OPEN, close, close)
    assert [r[0] for r in rows(result.bars)] == [OPEN, OPEN + 60 * M]
    assert result.skipped_starts.tolist() == [OPEN + 120 * M]


def test_close_off_the_base_grid_cuts_the_window_even_if_its_slots_are_present():
    # the close falls inside the last base bar of the window: the window is cut, so skipped
    close = OPEN + 4 * M + M // 2
    result = aggregate_bars(minute_bars(range(5)), M, 5 * M, OPEN, close, close)
    assert len(result.bars) == 0
    assert result.skipped_starts.tolist() == [OPEN]


def test_bars_before_the_anchor_or_after_the_close_are_ignored():
    close = OPEN + 5 * M
    base = minute_bars([-2, -1, 0, 1, 2, 3, 4, 5, 6])
    result = aggregate_bars(base, M, 5 * M, OPEN, close + 5 * M, close)
    assert rows(result.bars) == [(OPEN, 1.0, 7.0, 0.5, 6.0, 150.0)]
    assert result.skipped_starts.tolist() == []


def test_target_equal_to_base_copies_bars():
    base = minute_bars([0, 2])
    result = aggregate_bars(base, M, M, OPEN, OPEN + 3 * M, CLOSE)
    assert rows(result.bars) == rows(base)


def test_target_must_be_a_multiple_of_base():
    message = (
        r"expected positive intervals with the target a multiple of the base, "
        r"received base_ns=60000000000, target_ns=90000000000"
    )
    with pytest.raises(ValueError, match=message):
        aggregate_bars(minute_bars([0]), M, 90_000_000_000, OPEN, OPEN + M, OPEN + M)


def test_off_grid_start_is_an_error():
    base = minute_bars([0, 1])
    base = base._replace(start=base.start + np.array([0, 1], np.int64))
    message = (
        rf"expected base bar starts on the {M} ns grid of the session open, "
        rf"received start {OPEN + M + 1}"
    )
    with pytest.raises(ValueError, match=message):
        aggregate_bars(base, M, 5 * M, OPEN, OPEN + 5 * M, OPEN + 5 * M)


def test_unsorted_starts_are_an_error():
    base = minute_bars([0, 2, 1])
    message = (
        rf"expected strictly increasing base bar starts, received start "
        rf"{OPEN + M} after {OPEN + 2 * M}"
    )
    with pytest.raises(ValueError, match=message):
        aggregate_bars(base, M, 5 * M, OPEN, OPEN + 5 * M, OPEN + 5 * M)


def test_empty_base():
    result = aggregate_bars(empty_bars(), M, 5 * M, OPEN, OPEN + 5 * M, OPEN + 5 * M)
    assert len(result.bars) == 0
    assert result.skipped_starts.dtype == np.int64


def test_daily_bar_from_whatever_is_present():
    daily = aggregate_daily(minute_bars([3, 7, 8]), OPEN)
    assert rows(daily) == [(OPEN, 4.0, 11.0, 3.5, 10.0, 40.0 + 80.0 + 90.0)]
    assert len(aggregate_daily(empty_bars(), OPEN)) == 0
