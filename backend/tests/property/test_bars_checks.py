"""Properties of check_bars: every bar accepted xor rejected once, matching a naive loop."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import ANCHOR, MINUTE, messy_bars

from app.bars.checks import RejectReason, check_bars


def naive_check(bars, allowed):
    """Reference: one bar at a time, reasons tested in the documented order."""
    accepted, reasons, max_start, seen = [], {}, None, set()
    for i in range(len(bars)):
        s = int(bars.start[i])
        o, h, lo, c, v = (float(col[i]) for col in bars[1:])
        if any(math.isnan(x) or math.isinf(x) for x in (o, h, lo, c, v)):
            reasons[i] = RejectReason.NAN
        elif min(o, h, lo, c) <= 0:
            reasons[i] = RejectReason.NON_POSITIVE_PRICE
        elif h < lo:
            reasons[i] = RejectReason.HIGH_BELOW_LOW
        elif not (lo <= o <= h and lo <= c <= h):
            reasons[i] = RejectReason.OPEN_CLOSE_OUTSIDE_RANGE
        elif v < 0:
            reasons[i] = RejectReason.NEGATIVE_VOLUME
        elif max_start is not None and s < max_start:
            reasons[i] = RejectReason.OUT_OF_ORDER
        elif s in seen:
            reasons[i] = RejectReason.DUPLICATE
        elif allowed is not None and s not in allowed:
            reasons[i] = RejectReason.OUTSIDE_SESSION
        else:
            accepted.append(i)
            seen.add(s)
            max_start = s if max_start is None else max(max_start, s)
    return accepted, reasons


allowed_sets = st.none() | st.sets(st.integers(0, 15)).map(
    lambda s: np.array([ANCHOR + k * MINUTE for k in s], np.int64)
)


@settings(deadline=None)
@given(bars=messy_bars(), allowed=allowed_sets)
def test_every_bar_is_accepted_xor_rejected_with_one_reason(bars, allowed):
    # Act
    result = check_bars(bars, allowed)
    # Assert: a partition of the input rows
    rejected = result.rejected_index.tolist()
    assert len(rejected) == len(set(rejected))
    assert len(result.accepted) + len(rejected) == len(bars)
    assert sum(result.counts.values()) == len(rejected)
    assert set(result.counts) == set(RejectReason)
    for reason in RejectReason:
        assert result.counts[reason] == int((result.rejected_reason == reason.value).sum())
    assert np.all(np.diff(result.accepted.start) > 0)


@settings(deadline=None)
@given(bars=messy_bars(), allowed=allowed_sets)
def test_check_bars_matches_naive_reference(bars, allowed):
    accepted, reasons = naive_check(bars, None if allowed is None else set(allowed.tolist()))
    result = check_bars(bars, allowed)
    assert result.accepted.start.tolist() == [int(bars.start[i]) for i in accepted]
    for got, want in zip(result.accepted[1:], bars[1:], strict=True):
        np.testing.assert_array_equal(got, want[accepted])
    got = zip(result.rejected_index.tolist(), result.rejected_reason.tolist(), strict=True)
    assert dict(got) == {i: r.value for i, r in reasons.items()}


@settings(deadline=None)
@given(bars=messy_bars())
def test_checking_accepted_bars_again_rejects_nothing(bars):
    once = check_bars(bars)
    twice = check_bars(once.accepted)
    assert twice.rejected_index.shape[0] == 0
    assert twice.accepted.start.tolist() == once.accepted.start.tolist()
