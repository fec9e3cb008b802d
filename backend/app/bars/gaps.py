"""Find the missing bars of a series: maximal runs of expected starts without a bar."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Gap", "find_gaps", "missing_mask"]

FEW_MISSING = 64  # up to this many missing bars, their runs are found in Python (fewer numpy calls)


@dataclass(frozen=True, slots=True)
class Gap:
    """A maximal run of consecutive missing bars.

    Parameters
    ----------
    start_ns : int
        Start of the first missing bar.
    end_ns : int
        Exclusive end: start of the last missing bar plus the interval.
    count : int
        Number of missing bars in the run.
    """

    start_ns: int
    end_ns: int
    count: int


def missing_mask(expected_starts: np.ndarray, present_starts: np.ndarray) -> np.ndarray:
    """Return a bool array, True where an expected start has no present bar.

    Parameters
    ----------
    expected_starts : np.ndarray
        Strictly increasing int64 starts that should exist.
    present_starts : np.ndarray
        Starts that exist, in any order; starts not expected are ignored.

    Raises
    ------
    ValueError
        If `expected_starts` is not strictly increasing.
    """
    expected = np.asarray(expected_starts, dtype=np.int64)
    present = np.asarray(present_starts, dtype=np.int64)
    _check_increasing(expected)
    if present.shape[0] == 0:
        return np.ones(expected.shape[0], dtype=bool)
    if present.shape[0] > 1 and np.count_nonzero(present[1:] < present[:-1]):
        present = np.sort(present)
    pos = np.minimum(present.searchsorted(expected), present.shape[0] - 1)
    return present[pos] != expected


def _check_increasing(expected: np.ndarray) -> None:
    if expected.shape[0] > 1:
        # count_nonzero, not any(): a reduction's set-up costs tens of microseconds in a run
        bad = expected[1:] <= expected[:-1]
        if np.count_nonzero(bad):
            first = int(bad.argmax())  # the first pair out of order
            raise ValueError(
                "expected strictly increasing expected_starts, received "
                f"{int(expected[first + 1])} after {int(expected[first])}"
            )


def find_gaps(
    expected_starts: np.ndarray, present_starts: np.ndarray, interval_ns: int
) -> list[Gap]:
    """Return the maximal runs of consecutive missing expected starts.

    Parameters
    ----------
    expected_starts : np.ndarray
        Strictly increasing int64 starts that should exist (from the calendar).
    present_starts : np.ndarray
        Starts that exist, in any order; starts not in `expected_starts` are ignored (they are
        counted as rejected bars elsewhere).
    interval_ns : int
        Bar length, for the exclusive end of each gap.

    Returns
    -------
    list[Gap]
        In time order. Runs are consecutive in `expected_starts`: a run crossing a closed
        period (overnight, a weekend between two daily bars) stays one gap, so `count` is the
        number of missing bars, not ``(end_ns - start_ns) / interval_ns``. Each missing start
        is in exactly one gap, so ``sum(count) + present-and-expected == len(expected)``.

    Raises
    ------
    ValueError
        If `interval_ns` is not positive or `expected_starts` is not strictly increasing.
    """
    if interval_ns <= 0:
        raise ValueError(f"expected a positive interval_ns, received {interval_ns}")
    expected = np.asarray(expected_starts, dtype=np.int64)
    present = np.asarray(present_starts, dtype=np.int64)
    if present.shape == expected.shape and present.tobytes() == expected.tobytes():  # complete: the usual session
        _check_increasing(expected)  # (int64: equal bytes are equal values; one memcmp, no temporaries)
        return []
    return _runs(expected, present, interval_ns)


def _runs(expected: np.ndarray, present: np.ndarray, interval_ns: int) -> list[Gap]:
    # The general case of `find_gaps` (any present starts, in any order).
    missing = missing_mask(expected, present)
    where = missing.nonzero()[0]
    if where.shape[0] <= FEW_MISSING:  # a handful of missing bars (the usual): runs in Python
        return _runs_of(expected, where.tolist(), interval_ns)
    return _runs_numpy(expected, missing, interval_ns)


def _runs_of(expected: np.ndarray, where: list[int], interval_ns: int) -> list[Gap]:
    # Maximal runs of consecutive positions in `where` (increasing), as gaps.
    gaps = []
    first = last = -2
    for i in where:
        if i != last + 1:
            if first >= 0:
                gaps.append(Gap(int(expected[first]), int(expected[last]) + interval_ns, last + 1 - first))
            first = i
        last = i
    if first >= 0:
        gaps.append(Gap(int(expected[first]), int(expected[last]) + interval_ns, last + 1 - first))
    return gaps


def _runs_numpy(expected: np.ndarray, missing: np.ndarray, interval_ns: int) -> list[Gap]:
    # The same runs, vectorised (many missing bars).
    if not np.count_nonzero(missing):
        return []
    padded = np.concatenate(([0], missing.view(np.int8), [0]))
    edges = padded[1:] - padded[:-1]
    run_first = (edges == 1).nonzero()[0]
    run_end = (edges == -1).nonzero()[0]
    return [
        Gap(int(expected[a]), int(expected[b - 1]) + interval_ns, int(b - a))
        for a, b in zip(run_first.tolist(), run_end.tolist(), strict=True)
    ]
