"""Pure parts of `app.data fetch` and the feed server's REST faults: row parsing, day runs, 429/500 decisions."""

from __future__ import annotations

import math
from datetime import date, timedelta
from itertools import pairwise

import numpy as np
import pytest
from app.data.fetch import _runs, parse_items
from app.feed.rest_faults import RateLimit, RestFaults, parse_rate_limit
from hypothesis import given
from hypothesis import strategies as st

S = 1_000_000_000


def test_parse_items_keeps_good_rows_and_names_the_unparseable_ones():
    items = [
        {"t": "2024-01-02T14:30:00Z", "o": 1, "h": 2, "l": 0.5, "c": 1.5, "v": 10},
        {"t": "2024-01-02T14:31:00Z", "o": None, "h": 2, "l": 0.5, "c": 1.5, "v": 10},  # null: NaN, for the checks
        {"t": "not a time", "o": 1, "h": 2, "l": 0.5, "c": 1.5, "v": 10},
        {"o": 1, "h": 2, "l": 0.5, "c": 1.5, "v": 10},
        {"t": "2024-01-02T14:32:00Z", "o": "1", "h": 2, "l": 0.5, "c": 1.5, "v": 10},
        {"t": "2024-01-02T14:33:00Z", "o": True, "h": 2, "l": 0.5, "c": 1.5, "v": 10},
        {"t": "2024-01-02T14:34:00Z", "h": 2, "l": 0.5, "c": 1.5, "v": 10},
        [1, 2, 3],
    ]

    bars, kept, bad = parse_items(items)

    assert kept.tolist() == [0, 1]
    assert bad.tolist() == [2, 3, 4, 5, 6, 7]
    assert bars.start.tolist() == [1704205800 * S, 1704205860 * S]
    assert bars.open[0] == 1.0 and math.isnan(bars.open[1])


@given(st.sets(st.integers(0, 30)), st.integers(1, 6))
def test_runs_are_consecutive_missing_days_at_most_size_long(missing_idx, size):
    days = [date(2024, 1, 1) + timedelta(days=i) for i in range(31)]
    missing = [days[i] for i in sorted(missing_idx)]

    runs = _runs(missing, days, size)

    assert [d for run in runs for d in run] == missing
    for run in runs:
        assert 1 <= len(run) <= size
        assert all((b - a).days == 1 for a, b in pairwise(run))
    for a, b in pairwise(runs):  # a run is cut only by a held day or by its size
        assert (b[0] - a[-1]).days > 1 or len(a) == size


def test_rate_limit_answers_429_with_retry_after_until_the_window_moves():
    faults = RestFaults(RateLimit(2, 60 * S))

    assert faults.check(0) is None
    assert faults.check(10 * S) is None
    assert faults.check(20 * S) == (429, {"message": "too many requests"}, {"Retry-After": "40"})
    assert faults.check(59 * S) == (429, {"message": "too many requests"}, {"Retry-After": "1"})
    assert faults.check(60 * S) is None  # the first call left the window
    assert (faults.passed, faults.limited) == (3, 2)


def test_fail_rest_answers_500_n_times_after_k_served():
    faults = RestFaults(fail_rest=2, fail_after=1)

    answers = [faults.check(i) for i in range(5)]

    assert [a and a[0] for a in answers] == [None, 500, 500, None, None]


def test_faults_off_answer_nothing():
    faults = RestFaults()
    assert all(faults.check(i * S) is None for i in range(1000))


@pytest.mark.parametrize(
    ("text", "calls", "window"), [("200/min", 200, 60 * S), ("3/s", 3, S), (" 5 / min ", 5, 60 * S)]
)
def test_parse_rate_limit(text, calls, window):
    assert parse_rate_limit(text) == RateLimit(calls, window)


@pytest.mark.parametrize("text", ["0/min", "5", "5/h", "-1/s", "x/min"])
def test_parse_rate_limit_refuses(text):
    with pytest.raises(ValueError, match="expected N/min or N/s"):
        parse_rate_limit(text)



def test_daily_bars_stamped_at_midnight_new_york_move_to_the_session_open():
    from app.data.fetch import _daily_opens
    from app.store.bar import BarArrays
    from app.timing.time_manager import TimeManager

    tm = TimeManager("XNYS")
    midnight = [1704171600 * S, 1704344400 * S]  # 2024-01-02 and 2024-01-04 00:00 America/New_York
    other = 1704207600 * S  # 2024-01-02 15:00Z: not midnight, left for the checks
    ones = [1.0, 1.0, 1.0]
    bars = BarArrays(np.array([*midnight, other], dtype=np.int64), *(np.array(ones) for _ in range(5)))

    moved = _daily_opens(tm, bars)

    assert moved.start.tolist() == [1704205800 * S, 1704378600 * S, other]  # 14:30Z opens
