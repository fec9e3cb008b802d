"""Validate a batch of bars: accept the good ones, reject each bad one with exactly one reason."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final

import numpy as np

from app.store.bar import BarArrays

__all__ = ["CheckResult", "RejectReason", "check_bars"]

_INT64_MIN: Final = np.iinfo(np.int64).min


class RejectReason(enum.IntEnum):
    """Why a bar was rejected; when several apply, the first in this order wins.

    The integer values are what `CheckResult.rejected_reason` holds (0 means accepted).
    """

    NAN = 1
    """A price or the volume is NaN or infinite."""
    NON_POSITIVE_PRICE = 2
    """Open, high, low or close is <= 0."""
    HIGH_BELOW_LOW = 3
    """high < low."""
    OPEN_CLOSE_OUTSIDE_RANGE = 4
    """Open or close lies outside [low, high]."""
    NEGATIVE_VOLUME = 5
    """volume < 0."""
    OUT_OF_ORDER = 6
    """start is before the latest start accepted so far."""
    DUPLICATE = 7
    """start equals a start accepted earlier (the first one is kept)."""
    OUTSIDE_SESSION = 8
    """start is not one of the allowed starts (the calendar's expected bar starts)."""


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The outcome of `check_bars`.

    Parameters
    ----------
    accepted : BarArrays
        The accepted bars in input order (strictly increasing starts). When every bar is
        accepted this is the input itself (no copy).
    rejected_index : np.ndarray
        Positions (int64) in the input of the rejected bars, increasing.
    rejected_reason : np.ndarray
        The `RejectReason` value (int8) of each rejected bar, aligned with `rejected_index`.
    counts : dict[RejectReason, int]
        Rejections per reason, every reason present (zero when none).
    """

    accepted: BarArrays
    rejected_index: np.ndarray
    rejected_reason: np.ndarray
    counts: dict[RejectReason, int]

    @property
    def rejected_count(self) -> int:
        """Return the number of rejected bars."""
        return int(self.rejected_index.shape[0])


def check_bars(bars: BarArrays, allowed_starts: np.ndarray | None = None) -> CheckResult:
    """Split `bars` into accepted bars and rejected ones, each with exactly one reason.

    Parameters
    ----------
    bars : BarArrays
        Bars in the order they arrived (normally sorted by start).
    allowed_starts : np.ndarray or None
        The bar starts that may exist (int64 ns, any order); None accepts any start.

    Returns
    -------
    CheckResult
        Every input bar is either accepted or appears once in ``rejected_index``.

    Notes
    -----
    The rule for each bar, first match wins, is the `RejectReason` order: NAN,
    NON_POSITIVE_PRICE, HIGH_BELOW_LOW, OPEN_CLOSE_OUTSIDE_RANGE, NEGATIVE_VOLUME (each a
    test of the bar alone), then OUT_OF_ORDER (start < the greatest start accepted before
    it), DUPLICATE (start == that greatest start) and OUTSIDE_SESSION. Bars are never
    reordered or repaired: an out-of-order bar is rejected, not moved.

    Vectorised: the "greatest accepted start so far" is the exclusive running maximum
    (``np.maximum.accumulate``) over the bars that pass the single-bar tests and the session
    test. That equals the maximum over accepted bars, because a bar rejected as out of order
    or duplicate has a start <= that maximum and so cannot raise it. Cost O(n) plus
    O(n log m) for the session test with m allowed starts.
    """
    n = len(bars)
    if n == 0:
        return _result(bars, np.zeros(0, dtype=np.int8))
    start, o, h, lo, c, v = bars
    finite = np.isfinite(o) & np.isfinite(h) & np.isfinite(lo) & np.isfinite(c) & np.isfinite(v)
    bad_number = ~finite
    non_positive = (o <= 0) | (h <= 0) | (lo <= 0) | (c <= 0)
    high_below_low = h < lo
    outside_range = (o < lo) | (o > h) | (c < lo) | (c > h)
    reason = np.select(
        [bad_number, non_positive, high_below_low, outside_range, v < 0],
        [np.int8(r) for r in range(1, 6)],
        np.int8(0),
    ).astype(np.int8, copy=False)
    single_ok = reason == 0
    in_session = _in_session(start, allowed_starts)
    eligible = single_ok & in_session
    running = np.maximum.accumulate(np.where(eligible, start, _INT64_MIN))
    prior_max = np.empty(n, dtype=np.int64)
    prior_max[0] = _INT64_MIN
    prior_max[1:] = running[:-1]
    has_prior = np.zeros(n, dtype=bool)
    has_prior[1:] = np.logical_or.accumulate(eligible)[:-1]
    ordered_check = single_ok & has_prior
    out_of_order = ordered_check & (start < prior_max)
    duplicate = ordered_check & (start == prior_max)
    reason[out_of_order] = RejectReason.OUT_OF_ORDER
    reason[duplicate] = RejectReason.DUPLICATE
    reason[single_ok & ~out_of_order & ~duplicate & ~in_session] = RejectReason.OUTSIDE_SESSION
    return _result(bars, reason)


def _in_session(start: np.ndarray, allowed_starts: np.ndarray | None) -> np.ndarray:
    if allowed_starts is None:
        return np.ones(start.shape[0], dtype=bool)
    allowed = np.asarray(allowed_starts, dtype=np.int64)
    if allowed.shape[0] == 0:
        return np.zeros(start.shape[0], dtype=bool)
    if allowed.shape[0] > 1 and not bool(np.all(allowed[1:] >= allowed[:-1])):
        allowed = np.sort(allowed)
    pos = np.minimum(np.searchsorted(allowed, start), allowed.shape[0] - 1)
    return allowed[pos] == start


def _result(bars: BarArrays, reason: np.ndarray) -> CheckResult:
    rejected_index = np.flatnonzero(reason).astype(np.int64, copy=False)
    tally = np.bincount(reason, minlength=len(RejectReason) + 1)
    counts = {r: int(tally[r.value]) for r in RejectReason}
    if rejected_index.shape[0] == 0:
        accepted = bars
    else:
        keep = reason == 0
        accepted = BarArrays(*(col[keep] for col in bars))
    return CheckResult(accepted, rejected_index, reason[rejected_index], counts)
