"""check_bars: one reason per rejected bar, first matching reason wins."""

from __future__ import annotations

import numpy as np
import pytest

from app.bars.checks import RejectReason, check_bars
from app.store.bar import BarArrays, empty_bars

M = 60_000_000_000
GOOD = (10.0, 11.0, 9.0, 10.5, 100.0)
NAN = float("nan")


def bars(rows, starts=None):
    starts = list(range(len(rows))) if starts is None else starts
    cols = list(zip(*rows, strict=True))
    start = np.array([s * M for s in starts], np.int64)
    return BarArrays(start, *(np.array(c, np.float64) for c in cols))


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ((NAN, 11.0, 9.0, 10.5, 100.0), RejectReason.NAN),
        ((10.0, 11.0, 9.0, 10.5, float("inf")), RejectReason.NAN),
        ((10.0, 11.0, 0.0, 10.5, 100.0), RejectReason.NON_POSITIVE_PRICE),
        ((10.0, 9.0, 11.0, 10.0, 100.0), RejectReason.HIGH_BELOW_LOW),
        ((12.0, 11.0, 9.0, 10.5, 100.0), RejectReason.OPEN_CLOSE_OUTSIDE_RANGE),
        ((10.0, 11.0, 9.0, 8.5, 100.0), RejectReason.OPEN_CLOSE_OUTSIDE_RANGE),
        ((10.0, 11.0, 9.0, 10.5, -1.0), RejectReason.NEGATIVE_VOLUME),
    ],
)
def test_single_bar_reasons(row, reason):
    result = check_bars(bars([GOOD, row, GOOD], starts=[0, 1, 2]))
    assert result.rejected_index.tolist() == [1]
    assert result.rejected_reason.tolist() == [reason.value]
    assert result.counts[reason] == 1
    assert result.accepted.start.tolist() == [0, 2 * M]


def test_first_matching_reason_wins():
    # NaN close and negative volume and non-positive open: NAN comes first
    result = check_bars(bars([(-1.0, 11.0, 9.0, NAN, -5.0), (-1.0, 9.0, 11.0, 10.0, -5.0)]))
    reasons = [RejectReason(r) for r in result.rejected_reason]
    assert reasons == [RejectReason.NAN, RejectReason.NON_POSITIVE_PRICE]


def test_out_of_order_and_duplicate_against_accepted_bars_only():
    # Arrange: starts 0, 2, 1 (before max 2), 2 (duplicate), 3 (bad values), 3 (first good 3), 3
    rows = [GOOD, GOOD, GOOD, GOOD, (NAN, 1.0, 1.0, 1.0, 1.0), GOOD, GOOD]
    # Act
    result = check_bars(bars(rows, starts=[0, 2, 1, 2, 3, 3, 3]))
    # Assert
    assert result.accepted.start.tolist() == [0, 2 * M, 3 * M]
    assert result.rejected_index.tolist() == [2, 3, 4, 6]
    assert [RejectReason(r).name for r in result.rejected_reason] == [
        "OUT_OF_ORDER", "DUPLICATE", "NAN", "DUPLICATE"
    ]


def test_outside_session_after_order_checks():
    # start 5 is not allowed; later start 4 is then still in order (5 was never accepted)
    allowed = np.array([4 * M, 0, M], np.int64)  # any order
    result = check_bars(bars([GOOD, GOOD, GOOD, GOOD], starts=[0, 5, 4, 4]), allowed_starts=allowed)
    assert result.accepted.start.tolist() == [0, 4 * M]
    reasons = [RejectReason(r).name for r in result.rejected_reason]
    assert reasons == ["OUTSIDE_SESSION", "DUPLICATE"]
    assert result.rejected_count == 2


def test_no_allowed_starts_rejects_everything_good_as_outside_session():
    result = check_bars(bars([GOOD]), allowed_starts=np.empty(0, np.int64))
    assert result.counts[RejectReason.OUTSIDE_SESSION] == 1
    assert len(result.accepted) == 0


def test_all_good_bars_are_returned_without_copy():
    data = bars([GOOD, GOOD])
    result = check_bars(data)
    assert result.accepted.start is data.start
    assert result.rejected_index.shape == (0,)
    assert set(result.counts.values()) == {0}


def test_empty_input():
    result = check_bars(empty_bars(), allowed_starts=np.array([0], np.int64))
    assert len(result.accepted) == 0
    assert result.rejected_index.dtype == np.int64
    assert result.rejected_reason.dtype == np.int8
    assert len(result.counts) == len(RejectReason)
