"""Data quality: present / expected bars per session, historical and live (pure arithmetic)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from app.bars.checks import RejectReason
from app.bars.gaps import Gap, find_gaps

__all__ = [
    "QualityReport",
    "compute_quality",
    "expected_over",
    "historical_quality",
    "live_quality",
    "session_quality",
]


@dataclass(frozen=True, slots=True)
class QualityReport:
    """Quality of one series over one session.

    Parameters
    ----------
    expected : int
        Bars the calendar expects.
    present : int
        Expected bars that exist (bars at unexpected starts are not counted).
    missing : int
        ``expected - present``.
    gaps : tuple[Gap, ...]
        The missing bars as maximal runs; their counts sum to `missing`.
    rejected : dict[str, int]
        Bars rejected by `app.bars.checks.check_bars`, per reason name.
    quality_pct : float
        `session_quality` of `expected` and `present`.
    """

    expected: int
    present: int
    missing: int
    gaps: tuple[Gap, ...]
    rejected: dict[str, int]
    quality_pct: float


def session_quality(expected_count: int, present_count: int) -> float:
    """Return ``min(100, present / expected * 100)``, or 100.0 when nothing is expected.

    Raises
    ------
    ValueError
        If either count is negative.
    """
    if expected_count < 0 or present_count < 0:
        raise ValueError(
            "expected non-negative bar counts, received "
            f"expected={expected_count}, present={present_count}"
        )
    if expected_count == 0:
        return 100.0
    return min(100.0, present_count / expected_count * 100.0)


def compute_quality(
    expected_starts: np.ndarray,
    present_starts: np.ndarray,
    interval_ns: int,
    rejected_counts: Mapping[RejectReason, int] | Mapping[str, int] | None = None,
) -> QualityReport:
    """Return the QualityReport of a series against the starts the calendar expects.

    Parameters
    ----------
    expected_starts : np.ndarray
        Strictly increasing int64 starts (early closes already applied by the caller).
    present_starts : np.ndarray
        Starts of the bars that exist.
    interval_ns : int
        Bar length.
    rejected_counts : Mapping or None
        Rejections per reason (`RejectReason` or str keys); zero counts are dropped.

    Raises
    ------
    ValueError
        As `app.bars.gaps.find_gaps`.
    """
    expected = np.asarray(expected_starts, dtype=np.int64)
    gaps = tuple(find_gaps(expected, present_starts, interval_ns))
    rejected = {
        getattr(k, "name", str(k)): int(v) for k, v in rejected_counts.items() if int(v)
    } if rejected_counts else {}
    n = int(expected.shape[0])
    if not gaps:  # every expected bar is there (the usual session): session_quality(n, n) is 100.0
        return QualityReport(n, n, 0, gaps, rejected, 100.0)
    missing = sum(g.count for g in gaps)
    present = n - missing
    return QualityReport(
        expected=n,
        present=present,
        missing=missing,
        gaps=gaps,
        rejected=rejected,
        quality_pct=session_quality(n, present),
    )


def expected_over(expected_starts: np.ndarray, lo: int, hi: int, interval_ns: int,
                  close_ns: int | None = None) -> np.ndarray:
    """Return the expected starts from `lo` on whose bar is over by `hi` (a view, no copy).

    A bar is over at ``start + interval_ns``, or at `close_ns` when given (a daily bar covers
    its session). The same starts as ``expected[(expected >= lo) & (over_at <= hi)]``, found by
    binary search: `expected_starts` is strictly increasing, so they are one run of it.
    """
    expected = expected_starts
    n = expected.shape[0]
    if n and lo <= int(expected[0]) and (int(expected[-1]) + interval_ns if close_ns is None else close_ns) <= hi:
        return expected  # all of them (the usual session): no search
    if close_ns is not None:
        return expected[expected.searchsorted(lo) if close_ns <= hi else expected.shape[0]:]
    a = int(expected.searchsorted(lo))
    return expected[a:max(a, int(expected.searchsorted(hi - interval_ns, side="right")))]


def historical_quality(per_day: Sequence[tuple[int, int]]) -> float:
    """Return the unweighted mean of the daily `session_quality` percentages.

    Parameters
    ----------
    per_day : sequence of (expected, present)
        One pair per trading day of the trailing window (an early-close day expects fewer
        bars; a day with no bars at all is ``(expected, 0)`` and must be included).

    Returns
    -------
    float
        100.0 when `per_day` is empty.

    Notes
    -----
    Unweighted, as the replaced system did: a short early-close day weighs as much as a full
    day. For daily bars each day is ``(1, 0 or 1)``, so the mean is present days / expected
    days over the whole window.
    """
    if not per_day:
        return 100.0
    return sum(session_quality(e, p) for e, p in per_day) / len(per_day)


def live_quality(
    open_ns: int, close_ns: int, now_ns: int, interval_ns: int, present_count: int
) -> float:
    """Return the quality of a streamed series so far (BEHAVIOURS 13).

    ``min(100, present / floor((min(now, close) - open) / interval) * 100)``; 100.0 while no
    bar can have closed yet (before the open or in its first interval).

    Raises
    ------
    ValueError
        If `interval_ns` is not positive or `present_count` is negative.
    """
    if interval_ns <= 0:
        raise ValueError(f"expected a positive interval_ns, received {interval_ns}")
    due = (min(now_ns, close_ns) - open_ns) // interval_ns
    return session_quality(max(0, due), present_count)
