"""The per-session shortcuts of the DataProcessor and DataUpkeep give exactly the general results.

Indicator states kept across sessions (`IndicatorState.reset`) are new states bit for bit; a window
indicator's warm-up that keeps only the newest values equals feeding them; the complete-session
path of `find_gaps`/`compute_quality` and the binary search of `expected_over` equal the general
computations; a processor without derived intervals, reused over sessions and fed any mix of
batch sizes, publishes what a new one fed whole sessions does.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
from app.bars.gaps import _runs, _runs_numpy, _runs_of, find_gaps
from app.bars.quality import QualityReport, compute_quality, expected_over, session_quality
from app.indicators.bank import IndicatorBank, SessionIndicator
from app.indicators.registry import SESSION_INDICATORS, make_indicator
from app.metrics.collect import RunMetrics
from app.store.bar import BarArrays
from app.store.series import BarSeries
from app.store.session_data import SessionState
from app.sync.stop import StopToken
from app.threads.events import SessionEnd, SessionStart, StepBatch
from app.threads.processor import DataProcessor
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import ANCHOR, MINUTE, NS, series_bars
from test_processor_paths import BASE, SECOND, _Clock, _Outbox, _same, feed_steps, sessions


def same(a, b):
    return np.array_equal(a, b, equal_nan=True)


def params_of(name):
    return {"num_std": 1.5} if name.startswith("bbands") else {}


def _fields(state):
    # A state's fields, arrays as bytes (so that == compares them exactly, NaN included).
    return {k: (v.dtype.str, v.tobytes()) if isinstance(v, np.ndarray) else v for k, v in vars(state).items()}


@pytest.mark.parametrize("name", SESSION_INDICATORS)
@settings(deadline=None, max_examples=min(60, settings.default.max_examples))  # 7 indicators each
@given(data=st.data(), period=st.integers(1, 10))
def test_a_reset_state_is_a_new_state(name, data, period):
    # Arrange: a state that has seen a session (warm-up and rows), and a new one
    used = make_indicator(name, period, params=params_of(name))
    used.warm_up(data.draw(series_bars(max_size=20)))
    used.update(data.draw(series_bars(max_size=40)))
    new = make_indicator(name, period, params=params_of(name))
    # Act
    used.reset()
    # Assert: the same fields, and the same values through the next session's warm-up and rows
    assert _fields(used) == _fields(new)
    history, bars = data.draw(series_bars(max_size=20)), data.draw(series_bars(max_size=40))
    for state in (used, new):
        state.warm_up(history)
    assert same(used.update(bars), new.update(bars))


@pytest.mark.parametrize("name", ["sma", "bbands_upper"])
@settings(deadline=None, max_examples=min(100, settings.default.max_examples))
@given(data=st.data(), period=st.integers(1, 10))
def test_window_warm_up_keeps_what_feeding_the_lookback_keeps(name, data, period):
    # The general warm-up: the last `lookback` rows fed through `_compute` (after any earlier rows)
    before = data.draw(series_bars(max_size=15))
    history = data.draw(series_bars(max_size=15))
    fast = make_indicator(name, period, params=params_of(name))
    slow = make_indicator(name, period, params=params_of(name))
    for state in (fast, slow):
        state.update(before)
    fast.warm_up(history)
    n = len(history)
    rows = history.slice(max(0, n - slow.lookback), n)
    if len(rows):
        slow._compute(rows)
    assert _fields(fast) == _fields(slow)
    more = data.draw(series_bars(max_size=20))
    assert same(fast.update(more), slow.update(more))


@st.composite
def complete_or_not(draw):
    """Strictly increasing expected starts, and present starts equal to them or nearly."""
    interval = draw(st.sampled_from([NS, MINUTE, 86_400 * NS]))
    steps = draw(st.lists(st.sampled_from([1, 1, 2, 17]), max_size=40))
    expected = ANCHOR + np.cumsum([0, *steps], dtype=np.int64) * interval
    present = expected.copy()
    change = draw(st.sampled_from(["none", "drop", "extra", "shift"]))
    if change == "drop" and present.shape[0]:
        present = np.delete(present, draw(st.integers(0, present.shape[0] - 1)))
    elif change == "extra":
        present = np.sort(np.append(present, ANCHOR - interval))
    elif change == "shift" and present.shape[0]:
        present[draw(st.integers(0, present.shape[0] - 1))] += 1
    return expected, present, interval


@settings(deadline=None)
@given(case=complete_or_not(), rejected=st.dictionaries(st.sampled_from(["OHLC", "NAN"]), st.integers(0, 3)))
def test_complete_session_shortcut_equals_the_general_report(case, rejected):
    expected, present, interval = case
    general = _runs(expected, present, interval)
    missing = sum(g.count for g in general)
    n = expected.shape[0]
    want = QualityReport(n, n - missing, missing, tuple(general),
                         {k: v for k, v in rejected.items() if v}, session_quality(n, n - missing))
    assert find_gaps(expected, present, interval) == general
    assert compute_quality(expected, present, interval, rejected) == want


@settings(deadline=None)
@given(missing=st.lists(st.booleans(), max_size=200), interval=st.sampled_from([NS, MINUTE]))
def test_runs_found_in_python_equal_the_vectorised_runs(missing, interval):
    expected = ANCHOR + np.arange(len(missing), dtype=np.int64) * 3 * interval
    mask = np.array(missing, dtype=bool)
    assert _runs_of(expected, mask.nonzero()[0].tolist(), interval) == _runs_numpy(expected, mask, interval)


def test_the_complete_shortcut_still_refuses_unordered_expected_starts():
    starts = np.array([3, 2, 5], dtype=np.int64)
    with pytest.raises(ValueError, match="received 2 after 3"):
        find_gaps(starts, starts.copy(), 1)


@settings(deadline=None)
@given(
    steps=st.lists(st.integers(1, 5), max_size=30),
    lo=st.integers(-3, 100),
    hi=st.integers(-3, 110),
    interval=st.integers(1, 4),
    daily=st.booleans(),
)
def test_expected_over_equals_the_mask(steps, lo, hi, interval, daily):
    expected = np.cumsum([0, *steps], dtype=np.int64)
    expected.setflags(write=False)  # as the TimeManager hands them out
    close = int(expected[-1]) + interval
    over_at = np.full_like(expected, close) if daily else expected + interval
    want = expected[(expected >= lo) & (over_at <= hi)]
    got = expected_over(expected, lo, hi, interval, close if daily else None)
    assert got.tobytes() == want.tobytes()


def _session_state(case, index):
    n, slots, history = case[0], case[1], case[4]
    day = date(2024, 1, 2 + index)
    shift = index * 10**6 * SECOND
    state = SessionState(day, ANCHOR + shift, ANCHOR + shift + slots * SECOND, False)
    rng = np.random.default_rng(index)
    symbols = [f"S{i}" for i in range(n)]
    for s, symbol in enumerate(symbols):
        starts = ANCHOR + shift - SECOND * np.arange(history, 0, -1, dtype=np.int64)
        close = 10.0 + s + rng.random(history).cumsum()
        state.history[(symbol, BASE.label)] = BarArrays(
            starts, close, close + 1, close - 1, close, rng.random(history) * 100)
        state.bars[(symbol, BASE.label)] = BarSeries(f"{symbol}/1s", capacity=4)
    return state, symbols, shift


def _run_sessions(case, batch_sizes, sessions_=(0, 1)):
    # Sessions through one DataProcessor (data-driven: not paced, no derived interval).
    n, _, present, prices, _, _, specs, every_slot = case
    symbols = [f"S{i}" for i in range(n)]
    # All on the base (no derived interval here), one spec per key as the run builds them.
    on_base = dict.fromkeys((name, period) for name, period, _label in specs)
    bank = IndicatorBank([SessionIndicator(name, period, BASE, params=params_of(name))
                          for name, period in on_base])
    out = _Outbox()
    proc = DataProcessor(symbols, BASE, [], bank, None, out, RunMetrics("backtest", 0), _Clock(), False,
                         StopToken(), lambda failure: None)
    results = []
    for index in sessions_:
        state, _, shift = _session_state(case, index)
        first = len(out.events)
        proc._begin(SessionStart(index, state))
        feed_steps(proc, state, symbols, present, prices * (1 + index), batch_sizes, every_slot, ANCHOR + shift)
        proc._end(SessionEnd(index, state))
        batches = [e for e in out.events[first:] if isinstance(e, StepBatch)]
        assert all(e.derived == {} for e in batches)
        results.append((state, {}))
    return results


@settings(deadline=None, max_examples=min(60, settings.default.max_examples))
@given(case=sessions(), sizes=st.lists(st.integers(1, 12), min_size=1, max_size=6))
def test_processor_reused_over_sessions_equals_a_new_one_per_session(case, sizes):
    # Arrange / Act: two sessions through one processor, in batches of any size (one-step
    # batches build the one-step panel mid-session); each session alone through a new one
    reused = _run_sessions(case, sizes)
    alone = [_run_sessions(case, [10**6], sessions_=(i,))[0] for i in (0, 1)]
    # Assert: the same indicator values, bit for bit
    for got, want in zip(reused, alone, strict=True):
        _same(got, want)

