"""Hypothesis: drawdown, Sharpe and percentiles against deliberately naive references."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.metrics.running import RunningStat
from app.metrics.stats import max_drawdown_pct, sharpe_ratio

equity_values = st.floats(min_value=1.0, max_value=1e7, allow_nan=False, allow_infinity=False)


def _naive_drawdown_pct(series):
    worst = 0.0
    for i in range(len(series)):
        for j in range(i + 1, len(series)):
            worst = max(worst, (series[i] - series[j]) / series[i])
    return worst * 100.0


@settings(deadline=None)
@given(start=equity_values, equity=st.lists(equity_values, max_size=60))
def test_max_drawdown_matches_the_quadratic_reference(start, equity):
    expected = _naive_drawdown_pct([start, *equity])
    assert max_drawdown_pct(np.array(equity), start) == pytest.approx(expected, rel=1e-9, abs=1e-9)


@settings(deadline=None)
@given(start=equity_values, ends=st.lists(equity_values, max_size=30))
def test_sharpe_matches_the_textbook_formula(start, ends):
    result = sharpe_ratio(ends, start)
    if len(ends) < 2:
        assert result == 0.0
        return
    prev = [start, *ends[:-1]]
    returns = [e / p - 1.0 for e, p in zip(ends, prev, strict=True)]
    std = statistics.stdev(returns)
    if std == 0.0:
        assert result == 0.0
    else:
        expected = statistics.fmean(returns) / std * math.sqrt(252)
        assert result == pytest.approx(expected, rel=1e-6, abs=1e-9)


durations = st.lists(st.integers(min_value=0, max_value=10**12), min_size=1, max_size=300)


def _nearest_rank(values, q):
    ordered = sorted(values)
    return ordered[max(1, math.ceil(round(q * len(ordered), 9))) - 1]


@settings(deadline=None)
@given(values=durations, q=st.sampled_from([0.01, 0.25, 0.5, 0.9, 0.99, 1.0]))
def test_percentile_is_within_one_sixteenth_of_the_exact_rank(values, q):
    stat = RunningStat()
    for v in values:
        stat.record(v)

    exact = _nearest_rank(values, q)
    estimate = stat.percentile_ns(q)

    assert min(values) <= estimate <= max(values)
    assert abs(estimate - exact) <= exact / 16
    summary = (stat.count, stat.total_ns, stat.min_ns, stat.max_ns)
    assert summary == (len(values), sum(values), min(values), max(values))


@settings(deadline=None)
@given(a=durations, b=durations)
def test_merge_equals_recording_everything_in_one(a, b):
    left, right, whole = RunningStat(), RunningStat(), RunningStat()
    for v in a:
        left.record(v)
        whole.record(v)
    for v in b:
        right.record(v)
        whole.record(v)

    left.merge(right)

    assert left.as_dict("ns") == whole.as_dict("ns")


@settings(deadline=None)
@given(before=durations, a=durations, b=durations)
def test_a_reset_stat_reused_and_merged_equals_a_fresh_one(before, a, b):
    # reset and merge touch only the occupied bucket range: a reused stat must hold no leftovers
    reused, right, whole = RunningStat(), RunningStat(), RunningStat()
    for v in before:
        reused.record(v)
    reused.reset()
    for v in a:
        reused.record(v)
        whole.record(v)
    for v in b:
        right.record(v)
        whole.record(v)

    reused.merge(right)

    assert reused.as_dict("ns") == whole.as_dict("ns")
    assert reused._buckets == whole._buckets
