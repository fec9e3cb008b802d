"""find_gaps and the quality arithmetic on hand-written cases."""

from __future__ import annotations

import numpy as np
import pytest

from app.bars.checks import RejectReason
from app.bars.gaps import Gap, find_gaps, missing_mask
from app.bars.quality import compute_quality, historical_quality, live_quality, session_quality

S = 1_000_000_000
M = 60 * S
D = 86_400 * S
OPEN = 1_000 * M


def starts(*slots, step=M):
    return np.array([OPEN + s * step for s in slots], np.int64)


@pytest.mark.parametrize("step", [S, M, 5 * M])
def test_runs_of_missing_intraday_bars(step):
    expected = starts(*range(10), step=step)
    present = starts(0, 3, 4, 8, step=step)
    assert find_gaps(expected, present, step) == [
        Gap(OPEN + 1 * step, OPEN + 3 * step, 2),
        Gap(OPEN + 5 * step, OPEN + 8 * step, 3),
        Gap(OPEN + 9 * step, OPEN + 10 * step, 1),
    ]


def test_daily_gap_across_a_weekend_is_one_run_of_two_sessions():
    # Thu, Fri, Mon, Tue sessions; Fri and Mon missing
    expected = np.array([OPEN, OPEN + D, OPEN + 4 * D, OPEN + 5 * D], np.int64)
    present = np.array([OPEN, OPEN + 5 * D], np.int64)
    assert find_gaps(expected, present, D) == [Gap(OPEN + D, OPEN + 5 * D, 2)]


def test_present_starts_outside_expected_are_ignored():
    expected = starts(0, 1, 2)
    present = starts(2, 7)
    off_grid = np.concatenate([present, [OPEN + 30 * S]])
    assert find_gaps(expected, off_grid, M) == [Gap(OPEN, OPEN + 2 * M, 2)]
    assert missing_mask(expected, present).tolist() == [True, True, False]


def test_nothing_missing_and_nothing_present():
    expected = starts(0, 1)
    assert find_gaps(expected, starts(1, 0), M) == []
    assert find_gaps(expected, np.empty(0, np.int64), M) == [Gap(OPEN, OPEN + 2 * M, 2)]
    assert find_gaps(np.empty(0, np.int64), starts(1), M) == []


def test_gap_errors():
    with pytest.raises(ValueError, match="expected a positive interval_ns, received 0"):
        find_gaps(starts(0), starts(0), 0)
    message = rf"expected strictly increasing expected_starts, received {OPEN} after {OPEN + M}"
    with pytest.raises(ValueError, match=message):
        find_gaps(starts(1, 0), starts(0), M)


def test_session_quality():
    assert session_quality(390, 390) == 100.0
    assert session_quality(400, 300) == 75.0
    assert session_quality(10, 12) == 100.0
    assert session_quality(0, 0) == 100.0
    message = "expected non-negative bar counts, received expected=-1, present=0"
    with pytest.raises(ValueError, match=message):
        session_quality(-1, 0)


def test_compute_quality_report():
    # Arrange: 6 expected, 4 present (one extra unexpected start), 2 rejections by reason
    report = compute_quality(starts(*range(6)), starts(0, 1, 3, 5, 9), M,
                             {RejectReason.DUPLICATE: 2, RejectReason.NAN: 0, "OUTSIDE_SESSION": 1})
    # Assert
    assert (report.expected, report.present, report.missing) == (6, 4, 2)
    assert report.gaps == (Gap(OPEN + 2 * M, OPEN + 3 * M, 1), Gap(OPEN + 4 * M, OPEN + 5 * M, 1))
    assert report.rejected == {"DUPLICATE": 2, "OUTSIDE_SESSION": 1}
    assert report.quality_pct == pytest.approx(400 / 6)


def test_historical_quality_is_unweighted_mean_of_days():
    # a full day (100), an early-close day with half its bars (50), a missing day (0)
    assert historical_quality([(390, 390), (210, 105), (390, 0)]) == pytest.approx(50.0)
    assert historical_quality([]) == 100.0
    assert historical_quality([(1, 1), (1, 0), (1, 1), (1, 1)]) == 75.0


def test_live_quality():
    close = OPEN + 390 * M
    assert live_quality(OPEN, close, OPEN - 5 * M, M, 0) == 100.0  # before the open
    assert live_quality(OPEN, close, OPEN + 30 * S, M, 0) == 100.0  # no bar due yet
    assert live_quality(OPEN, close, OPEN + 10 * M + 30 * S, M, 8) == 80.0  # floor(10.5) = 10 due
    assert live_quality(OPEN, close, close + 60 * M, M, 195) == 50.0  # capped at the close
    early = OPEN + 210 * M
    assert live_quality(OPEN, early, early, M, 210) == 100.0
    with pytest.raises(ValueError, match="expected a positive interval_ns, received -60"):
        live_quality(OPEN, close, close, -60, 1)
