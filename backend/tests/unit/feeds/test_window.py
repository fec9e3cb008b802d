"""WindowedBarSource (load once, slice many) answers exactly as per-session reads and checks do."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pytest
from app.data.sample import write_sample
from app.feeds.stored import StoredBarSource
from app.feeds.window import WindowedBarSource, window_sessions
from app.store.bar import BarArrays, parse_interval
from app.store.bar_store import BarStore
from app.store.files import bar_path, read_bars_file, write_bars
from app.timing.time_manager import TimeManager

M1, D1 = parse_interval("1m"), parse_interval("1d")
FIRST, LAST = date(2024, 6, 24), date(2024, 7, 12)


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    """A sample store whose AAPL 1m file carries bad rows: NaN, a duplicate, high < low, an
    off-grid start, an overnight bar, and two rows swapped (repaired on load)."""
    root = tmp_path_factory.mktemp("store")
    write_sample(root, symbols=("AAPL", "SPY"), start=date(2024, 6, 17), end=LAST)
    path = bar_path(root, M1, "AAPL")
    bars = read_bars_file(path)
    cols = [c.copy() for c in bars]
    cols[4][2450] = np.nan  # close NaN
    cols[2][2900] = cols[3][2900] - 1.0  # high < low
    cols[0][2600] += 30_000_000_000  # off the minute grid
    order = list(range(len(cols[0])))
    order[3000], order[3001] = order[3001], order[3000]  # out of order: sorted on load, counted
    rows = [np.asarray(c)[order] for c in cols]
    dup = [np.insert(c, 2000, c[2000]) for c in rows]  # a duplicate start
    overnight = int(dup[0][1999]) + 12 * 3_600_000_000_000  # between two sessions
    at = int(np.searchsorted(dup[0], overnight))
    final = [np.insert(c, at, c[at - 1]) for c in dup]
    final[0][at] = overnight
    write_bars(root, M1, "AAPL", BarArrays(*final))
    return root


def _same_history(got, want) -> None:
    for a, b in zip(got.bars, want.bars, strict=True):
        np.testing.assert_array_equal(a, b)
    assert got.per_day == want.per_day and got.rejected == want.rejected


def _sessions(tm: TimeManager) -> tuple[date, ...]:
    return tuple(tm.trading_days(FIRST, LAST))


@pytest.mark.parametrize("window", [1, 2, 5, 100])
def test_session_bars_history_and_rejections_equal_per_session_reads(store, window):
    # Arrange
    tm = TimeManager("XNYS")
    sessions = _sessions(tm)
    reference = StoredBarSource(BarStore(store), tm, M1)
    windowed = WindowedBarSource(BarStore(store), tm, M1, sessions, {"1m": 2, "1d": 3}, window)
    repairs = 0

    for session in sessions:
        # Act
        windowed.begin_session(session)
        days = tuple(tm.trailing_trading_days(session, 2))
        got_hist, want_hist = windowed.history("AAPL", M1, days), reference.history("AAPL", M1, days)
        daily = tuple(tm.trailing_trading_days(session, 3))
        got_daily, want_daily = windowed.history("SPY", D1, daily), reference.history("SPY", D1, daily)
        got, want = windowed.session_bars("AAPL", session), reference.session_bars("AAPL", session)

        # Assert
        for a, b in zip(got.bars, want.bars, strict=True):
            np.testing.assert_array_equal(a, b)
        assert got.rejected == want.rejected, session
        _same_history(got_hist, want_hist)
        _same_history(got_daily, want_daily)
        repairs += got.repairs
    rejected = set().union(*(windowed.session_bars("AAPL", d).rejected for d in sessions))
    assert {"NAN", "HIGH_BELOW_LOW", "OUTSIDE_SESSION", "DUPLICATE"} <= rejected
    assert repairs > 0  # the swapped rows: reported once per window that holds them


def test_derived_history_equals_per_session_aggregation(store):
    # The store has no 5m file: 5m history is built from 1m bars, per day, once per window.
    tm = TimeManager("XNYS")
    sessions = _sessions(tm)
    m5 = parse_interval("5m")
    reference = StoredBarSource(BarStore(store), tm, M1)
    windowed = WindowedBarSource(BarStore(store), tm, M1, sessions, {"5m": 2}, 3)
    for session in sessions:
        windowed.begin_session(session)
        days = tuple(tm.trailing_trading_days(session, 2))
        got, want = windowed.history("AAPL", m5, days), reference.history("AAPL", m5, days)
        _same_history(got, want)


def test_window_size_is_bounded_by_rows_and_sessions():
    assert window_sessions(1, 390) == 128  # few symbols: capped in sessions
    assert window_sessions(200, 390) == 2_000_000 // (200 * 390)  # many: capped in rows
    assert window_sessions(10_000, 23_400) == 1  # never zero


def test_history_beyond_the_planned_margin_widens_the_window_and_stays_exact(store):
    # A source planned with no trailing days still answers a history request (the window is
    # re-read with the wider margin), with the same bars and counts as per-session reads.
    tm = TimeManager("XNYS")
    sessions = _sessions(tm)
    reference = StoredBarSource(BarStore(store), tm, M1)
    windowed = WindowedBarSource(BarStore(store), tm, M1, sessions, {}, 4)
    for session in sessions[:6]:
        windowed.begin_session(session)
        days = tuple(tm.trailing_trading_days(session, 3))
        got, want = windowed.history("AAPL", M1, days), reference.history("AAPL", M1, days)
        _same_history(got, want)
        bars, ref = windowed.session_bars("AAPL", session), reference.session_bars("AAPL", session)
        np.testing.assert_array_equal(bars.bars.start, ref.bars.start)
