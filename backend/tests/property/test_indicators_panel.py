"""Indicators across symbols (panels) equal the per-symbol states, bit for bit, however mixed."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
from app.indicators.bank import IndicatorBank, SessionIndicator
from app.indicators.panel import make_panel
from app.indicators.registry import SESSION_INDICATORS, make_indicator
from app.store.bar import BarArrays, parse_interval
from app.store.series import BarSeries
from app.store.session_data import SessionState
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import ANCHOR, MINUTE, make_bars, ohlcv_rows, series_bars

ONE_M = parse_interval("1m")


def same(a, b):
    return np.array_equal(a, b, equal_nan=True)


def params_of(name):
    return {"num_std": 1.5} if name.startswith("bbands") else {}


def one_shot(name, period, history, bars):
    """Reference: one state per symbol, warmed up on its history, fed all its bars at once."""
    state = make_indicator(name, period, params=params_of(name))
    if len(history):
        state.warm_up(history)
    return state.update(bars), state


@st.composite
def symbols_bars(draw, max_symbols=4, max_rows=40):
    """Per symbol: a history and the session's bars (each symbol its own length)."""
    n = draw(st.integers(1, max_symbols))
    out = []
    for _ in range(n):
        # Often no history: the symbol's first bars then warm the indicator up in the session.
        history = draw(st.one_of(st.just(make_bars([], [])), series_bars(max_size=12)))
        size = draw(st.integers(0, max_rows))
        start = ANCHOR + 100 * MINUTE
        out.append(
            (history, make_bars([start + j * MINUTE for j in range(size)], draw(ohlcv_rows(size))))
        )
    return out


@pytest.mark.parametrize("name", SESSION_INDICATORS)
@settings(deadline=None, max_examples=min(60, settings.default.max_examples))  # costly: ~7 indicators x examples
@given(data=st.data(), period=st.integers(1, 12))
def test_panel_steps_equal_per_symbol_updates(name, data, period):
    # Arrange: per symbol a history and bars; at each step a random subset of symbols has a bar
    per_symbol = data.draw(symbols_bars())
    n = len(per_symbol)
    states = []
    for history, _ in per_symbol:
        state = make_indicator(name, period, params=params_of(name))
        if len(history):
            state.warm_up(history)
        states.append(state)
    panel = make_panel(make_indicator(name, period, params=params_of(name)), n)
    panel.load(states)
    fed = [0] * n
    got = [[] for _ in range(n)]
    # Act: steps until every symbol's bars are used
    while any(fed[s] < len(per_symbol[s][1]) for s in range(n)):
        left = [s for s in range(n) if fed[s] < len(per_symbol[s][1])]
        chosen = data.draw(st.lists(st.sampled_from(left), min_size=1, unique=True).map(sorted))
        everyone = len(chosen) == n and data.draw(st.booleans())
        idx = None if everyone else np.asarray(chosen, dtype=np.intp)
        rows = [per_symbol[s][1].slice(fed[s], fed[s] + 1) for s in chosen]
        bars = BarArrays(*(np.concatenate([r[c] for r in rows]) for c in range(6)))
        values = panel.step(idx, bars)
        for j, s in enumerate(chosen):
            got[s].append(values[j])
            fed[s] += 1
    panel.store(states)
    # Assert
    for s, (history, bars) in enumerate(per_symbol):
        expected, ref_state = one_shot(name, period, history, bars)
        assert same(np.asarray(got[s], dtype=np.float64), expected)
        assert states[s].rows_seen == len(bars)
        # The handed-back state goes on exactly like the reference state.
        more = data.draw(series_bars(min_size=1, max_size=6))
        assert same(states[s].update(more), ref_state.update(more))


def _session(per_symbol, label="1m"):
    state = SessionState(date(2024, 1, 2), ANCHOR, ANCHOR + 10**6 * MINUTE, False)
    symbols = [f"S{i}" for i in range(len(per_symbol))]
    for symbol, (history, bars) in zip(symbols, per_symbol, strict=True):
        state.history[(symbol, label)] = history
        series = state.bars[(symbol, label)] = BarSeries(f"{symbol}/{label}", capacity=4)
        series.append(bars)
    return state, symbols


@settings(deadline=None, max_examples=min(60, settings.default.max_examples))  # costly: ~7 indicators x examples
@given(
    data=st.data(),
    period=st.integers(1, 9),
    names=st.lists(st.sampled_from(SESSION_INDICATORS), min_size=1, max_size=3, unique=True),
)
def test_bank_mixing_steps_and_row_batches_equals_one_shot(data, period, names):
    # Arrange: a bank with several indicators on one interval
    per_symbol = data.draw(symbols_bars(max_symbols=3, max_rows=30))
    state, symbols = _session(per_symbol)
    specs = [SessionIndicator(name, period, ONE_M, params=params_of(name)) for name in names]
    bank = IndicatorBank(specs)
    bank.begin_session(state, symbols)
    if data.draw(st.booleans()):  # a paced session's start: panels built and loaded before any row
        bank.prepare_steps(["1m", "5m"])  # (no indicator on 5m: nothing to prepare there)
    n = len(symbols)
    fed = [0] * n
    # Act: at random, one symbol's next rows in a batch, or one row for a subset of symbols
    while any(fed[s] < len(per_symbol[s][1]) for s in range(n)):
        left = [s for s in range(n) if fed[s] < len(per_symbol[s][1])]
        if data.draw(st.booleans()):
            s = data.draw(st.sampled_from(left))
            k = data.draw(st.integers(1, len(per_symbol[s][1]) - fed[s]))
            bank.update(state, symbols[s], "1m", fed[s], fed[s] + k)
            fed[s] += k
        else:
            chosen = data.draw(st.lists(st.sampled_from(left), min_size=1, unique=True).map(sorted))
            idx = None if len(chosen) == n else np.asarray(chosen, dtype=np.intp)
            rows = [per_symbol[s][1].slice(fed[s], fed[s] + 1) for s in chosen]
            bank.update_step(
                "1m", idx, BarArrays(*(np.concatenate([r[c] for r in rows]) for c in range(6)))
            )
            for s in chosen:
                fed[s] += 1
    # Assert
    for spec in specs:
        for s, (history, bars) in enumerate(per_symbol):
            expected, _ = one_shot(spec.name, period, history, bars)
            assert same(state.indicators[(symbols[s], spec.key)].view(), expected)


def test_long_windows_and_many_symbols_are_bit_identical():
    # Periods long enough for numpy's pairwise summation (blocks of 8 and 128) and 60 symbols.
    rng = np.random.default_rng(7)
    n, rows = 60, 420
    prices = 10.0 ** rng.uniform(-2, 5, (rows, n)) * (1 + rng.random((rows, n)))
    spread = prices * rng.random((rows, n)) * 0.01
    volume = rng.random((rows, n)) * 10.0 ** rng.integers(0, 7, (rows, n))
    cols = (prices, prices + spread, prices - spread, prices + spread / 2, volume)
    for name in SESSION_INDICATORS:
        for period in (8, 9, 17, 130, 300):
            states = [make_indicator(name, period, params=params_of(name)) for _ in range(n)]
            panel = make_panel(make_indicator(name, period, params=params_of(name)), n)
            panel.load(states)
            got = np.stack(
                [
                    panel.step(None, BarArrays(np.zeros(n, np.int64), *(c[k] for c in cols)))
                    for k in range(rows)
                ]
            )
            for s in range(n):
                bars = BarArrays(
                    np.arange(rows, dtype=np.int64), *(np.ascontiguousarray(c[:, s]) for c in cols)
                )
                expected, _ = one_shot(name, period, make_bars([], []), bars)
                assert same(got[:, s], expected), (name, period, s)
