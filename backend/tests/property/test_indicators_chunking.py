"""Indicators have no lookahead and do not depend on how rows are chunked (bit for bit)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import series_bars, split_points

from app.indicators.registry import SESSION_INDICATORS, compute_indicator, make_indicator

periods = st.integers(1, 10)


def same(a, b):
    return np.array_equal(a, b, equal_nan=True)


@pytest.mark.parametrize("name", SESSION_INDICATORS)
@settings(deadline=None, max_examples=min(100, settings.default.max_examples))  # 7 indicators each
@given(data=st.data(), period=periods)
def test_state_fed_in_chunks_equals_one_shot(name, data, period):
    # Arrange
    bars = data.draw(series_bars(max_size=80))
    cuts = data.draw(split_points(len(bars)))
    state = make_indicator(name, period)
    # Act
    parts = [state.update(bars.slice(a, b)) for a, b in zip(cuts, cuts[1:])]
    # Assert
    assert same(np.concatenate(parts), compute_indicator(name, bars, period))
    assert state.rows_seen == len(bars)


@pytest.mark.parametrize("name", [n for n in SESSION_INDICATORS if n != "vwap"])  # vwap ignores history
@settings(deadline=None, max_examples=min(100, settings.default.max_examples))  # 7 indicators each
@given(data=st.data(), period=periods)
def test_warm_up_then_update_equals_the_tail_of_one_pass(name, data, period):
    # warm_up may read only the rows that can change a future value (a window's last period - 1)
    bars = data.draw(series_bars(max_size=80))
    k = data.draw(st.integers(0, len(bars)))
    state = make_indicator(name, period)
    state.warm_up(bars.slice(0, k))
    assert same(state.update(bars.slice(k, len(bars))), compute_indicator(name, bars, period)[k:])


@pytest.mark.parametrize("name", SESSION_INDICATORS)
@settings(deadline=None, max_examples=min(100, settings.default.max_examples))  # 7 indicators each
@given(data=st.data(), period=periods)
def test_appending_rows_never_changes_earlier_values(name, data, period):
    bars = data.draw(series_bars(max_size=60))
    k = data.draw(st.integers(0, len(bars)))
    full = compute_indicator(name, bars, period)
    assert same(compute_indicator(name, bars.slice(0, k), period), full[:k])


@pytest.mark.parametrize("name", SESSION_INDICATORS)
@settings(deadline=None, max_examples=min(100, settings.default.max_examples))  # 7 indicators each
@given(data=st.data(), period=periods)
def test_values_from_lo_equal_the_tail_of_the_one_shot(name, data, period):
    bars = data.draw(series_bars(max_size=60))
    lo = data.draw(st.integers(0, len(bars)))
    tail = compute_indicator(name, bars, period)[lo:]
    assert same(compute_indicator(name, bars, period, lo=lo), tail)


@pytest.mark.parametrize("name", ["ema", "vwap", "rsi", "atr", "sma"])
@settings(deadline=None, max_examples=min(100, settings.default.max_examples))  # 7 indicators each
@given(data=st.data(), period=periods)
def test_two_symbols_in_alternation_equal_each_alone(name, data, period):
    # Arrange: one state per symbol, updates interleaved one bar at a time (BEHAVIOURS 22)
    a, b = data.draw(series_bars(max_size=30)), data.draw(series_bars(max_size=30))
    states = {"A": make_indicator(name, period), "B": make_indicator(name, period)}
    got = {"A": [], "B": []}
    # Act
    for i in range(max(len(a), len(b))):
        for sym, bars in (("A", a), ("B", b)):
            if i < len(bars):
                got[sym].append(states[sym].update(bars.slice(i, i + 1)))
    # Assert
    for sym, bars in (("A", a), ("B", b)):
        joined = np.concatenate(got[sym]) if got[sym] else np.empty(0)
        assert same(joined, compute_indicator(name, bars, period))
