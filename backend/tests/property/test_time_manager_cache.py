"""TimeManager's cached answers equal the uncached calendar's, across exchanges and dates."""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import hypothesis.strategies as st
from hypothesis import given

from app.store.bar import parse_interval
from app.timing.calendar import TradingCalendar
from app.timing.time_manager import TimeManager

EXCHANGES = ("XNYS", "XLON", "XTKS", "XHKG", "24/7")
MINUTE = parse_interval("1m")


@lru_cache(maxsize=None)
def _tm(code: str) -> TimeManager:
    return TimeManager(code, cache_size=8)  # small, so the LRU evicts during the test


days = st.dates(min_value=date(2010, 1, 4), max_value=date(2026, 6, 30))


@given(code=st.sampled_from(EXCHANGES), queries=st.lists(days, min_size=1, max_size=25))
def test_cached_answers_equal_uncached_ones(code, queries):
    tm = _tm(code)
    cal: TradingCalendar = tm.uncached
    for d in queries + queries[::-1]:  # repeats hit the caches, in another order
        assert tm.is_trading_day(d) == cal.is_session(d)
        assert tm.get_first_trading_date(d) == cal.first_session_on_or_after(d)
        assert tm.get_last_trading_date(d) == cal.last_session_on_or_before(d)
        assert tm.next_trading_date(d) == cal.next_session(d)
        assert tm.previous_trading_date(d) == cal.previous_session(d)
        if cal.is_session(d):
            assert tm.session_bounds_ns(d) == cal.session_bounds_ns(d)
            assert tm.is_early_close(d) == cal.is_early_close(d)
            assert tm.expected_bar_starts(d, MINUTE).tolist() == cal.bar_starts(d, MINUTE.ns).tolist()


@given(code=st.sampled_from(EXCHANGES), d=days, n=st.integers(1, 12))
def test_trailing_days_are_n_sessions_ending_before_the_day(code, d, n):
    tm = _tm(code)
    trailing = tm.trailing_trading_days(d, n)
    naive, cursor = [], d - timedelta(days=1)
    while len(naive) < n:
        if tm.uncached.is_session(cursor):
            naive.append(cursor)
        cursor -= timedelta(days=1)
    assert list(trailing) == naive[::-1]


def test_invalidate_clears_every_cache_and_answers_stay_equal():
    tm = TimeManager("XNYS")
    d = date(2024, 11, 29)
    first = tm.session_bounds_ns(d)
    tm.session_bounds_ns(d)
    assert tm.cache_info()["session_bounds_ns"]["currsize"] == 1
    tm.invalidate()
    assert tm.cache_info()["session_bounds_ns"]["currsize"] == 0
    assert tm.session_bounds_ns(d) == first


@given(code=st.sampled_from(EXCHANGES),
       seconds=st.lists(st.integers(1_262_304_000, 1_782_000_000), min_size=0, max_size=30))
def test_isoformat_many_equals_one_datetime_per_instant(code, seconds):
    tm = _tm(code)
    ns = [s * 1_000_000_000 for s in seconds]
    import numpy as np

    assert tm.isoformat_many(np.array(ns, dtype=np.int64)) == [tm.to_local(t).isoformat() for t in ns]
