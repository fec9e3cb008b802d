"""Properties of gap detection and quality: present + missing == expected, runs are maximal."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import ANCHOR, MINUTE, NS

from app.bars.gaps import find_gaps
from app.bars.quality import compute_quality, historical_quality, live_quality


@st.composite
def expected_and_present(draw):
    """Expected starts for any interval (with closed periods between them) and present starts."""
    interval = draw(st.sampled_from([NS, MINUTE, 5 * MINUTE, 86_400 * NS]))
    steps = draw(st.lists(st.sampled_from([1, 1, 1, 2, 17]), max_size=60))
    expected = ANCHOR + np.cumsum([0, *steps], dtype=np.int64) * interval
    keep = draw(st.lists(st.booleans(), min_size=len(expected), max_size=len(expected)))
    extra = draw(st.lists(st.integers(-5, 5 + len(steps) * 17), max_size=5))
    present = [int(s) for s, k in zip(expected, keep, strict=True) if k]
    present += [ANCHOR + e * interval + interval // 2 for e in extra]  # never expected
    order = draw(st.permutations(present))
    return expected, np.array(order, dtype=np.int64), interval


def naive_gaps(expected, present, interval):
    gaps, run = [], []
    for s in [*expected.tolist(), None]:
        if s is not None and s not in present:
            run.append(s)
        elif run:
            gaps.append((run[0], run[-1] + interval, len(run)))
            run = []
    return gaps


@settings(deadline=None)
@given(data=expected_and_present())
def test_gaps_match_naive_runs_and_never_double_count(data):
    expected, present, interval = data
    # Act
    gaps = find_gaps(expected, present, interval)
    # Assert
    present_set = set(present.tolist())
    got = [(g.start_ns, g.end_ns, g.count) for g in gaps]
    assert got == naive_gaps(expected, present_set, interval)
    in_both = len(set(expected.tolist()) & present_set)
    assert sum(g.count for g in gaps) + in_both == len(expected)


@settings(deadline=None)
@given(
    data=expected_and_present(),
    rejected=st.dictionaries(st.sampled_from(["NAN", "DUPLICATE"]), st.integers(0, 5)),
)
def test_quality_report_adds_up(data, rejected):
    expected, present, interval = data
    report = compute_quality(expected, present, interval, rejected)
    assert report.present + report.missing == report.expected == len(expected)
    assert sum(g.count for g in report.gaps) == report.missing
    assert 0.0 <= report.quality_pct <= 100.0
    want = 100.0 if not len(expected) else report.present / len(expected) * 100
    assert report.quality_pct == want
    assert report.rejected == {k: v for k, v in rejected.items() if v}


@settings(deadline=None)
@given(per_day=st.lists(st.tuples(st.integers(0, 400), st.integers(0, 450)), max_size=20))
def test_historical_quality_is_mean_of_daily_percentages(per_day):
    days = [100.0 if e == 0 else min(100.0, p * 100.0 / e) for e, p in per_day]
    want = sum(days) / len(days) if days else 100.0
    got = historical_quality(per_day)
    assert abs(got - want) < 1e-9
    assert 0.0 <= got <= 100.0


@settings(deadline=None)
@given(
    n_slots=st.integers(1, 400),
    now_offset=st.integers(-10_000, 30_000),
    present=st.integers(0, 400),
)
def test_live_quality_formula(n_slots, now_offset, present):
    open_ns, close_ns = ANCHOR, ANCHOR + n_slots * MINUTE
    now = open_ns + now_offset * NS
    due = (min(now, close_ns) - open_ns) // MINUTE
    want = 100.0 if due <= 0 else min(100.0, present / due * 100.0)
    assert live_quality(open_ns, close_ns, now, MINUTE, present) == want
