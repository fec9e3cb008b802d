"""Derive longer bars from complete sets of base bars (5m from 1m, the daily bar from 1m, ...)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.store.bar import BarArrays, empty_bars

__all__ = ["AggregateResult", "aggregate_bars", "aggregate_daily"]


@dataclass(frozen=True, slots=True)
class AggregateResult:
    """The outcome of `aggregate_bars`.

    Parameters
    ----------
    bars : BarArrays
        The derived bars of the finished, complete windows, in time order.
    skipped_starts : np.ndarray
        Starts (int64 ns) of the finished windows that had some but not all base bars.
    """

    bars: BarArrays
    skipped_starts: np.ndarray


_NO_STARTS = np.empty(0, dtype=np.int64)
_NOTHING = AggregateResult(empty_bars(), _NO_STARTS)
_HEAD = np.zeros(1, dtype=np.intp)  # reduceat over one segment starting at row 0


def aggregate_bars(
    base: BarArrays, base_ns: int, target_ns: int, anchor_ns: int, upto_ns: int, close_ns: int
) -> AggregateResult:
    """Return the derived bars of every window finished by `upto_ns`, built from complete sets.

    Windows are ``[anchor_ns + k * target_ns, anchor_ns + (k + 1) * target_ns)`` cut at
    `close_ns`. A window is *finished* when its (cut) end is ``<= upto_ns``. A finished window
    holding all ``target_ns / base_ns`` base bars gives one bar (first open, max high, min
    low, last close, summed volume, start = window start); a finished window holding some but
    not all of them is *skipped*, and so is every window cut short by `close_ns` (it can never
    be complete). Windows without any bar are neither (gap detection counts those). Windows
    not yet finished are left alone, so a caller streaming base bars passes, at each call,
    the rows of the windows still open at its previous call and gets each window exactly once.

    Parameters
    ----------
    base : BarArrays
        Base bars with strictly increasing starts on the ``anchor_ns + j * base_ns`` grid (as
        `app.bars.checks.check_bars` accepts them). Bars before `anchor_ns` or at/after
        `close_ns` are ignored.
    base_ns, target_ns : int
        Base and target interval lengths; `target_ns` a positive multiple of `base_ns`.
    anchor_ns : int
        Start of the first window (the session open).
    upto_ns : int
        The clock: exclusive end of the newest base bar that may exist.
    close_ns : int
        End of the session.

    Returns
    -------
    AggregateResult

    Raises
    ------
    ValueError
        If the intervals are not positive with `target_ns` a multiple of `base_ns`, or a base
        start is off the grid or not after its predecessor.

    Notes
    -----
    Vectorised: window ids are ``(start - anchor) // target``; groups come from where the id
    changes and OHLCV from ``ufunc.reduceat``. A call whose first window is not finished
    returns after O(log n) work, so one-bar live calls are cheap. Each derived value depends
    only on its own window's rows, so chunked calls give exactly the one-call result.
    """
    if base_ns <= 0 or target_ns <= 0 or target_ns % base_ns:
        raise ValueError(
            f"expected positive intervals with the target a multiple of the base, "
            f"received base_ns={base_ns}, target_ns={target_ns}"
        )
    starts = base.start
    n = starts.shape[0]
    if n == 0:
        return _NOTHING
    lo = int(np.searchsorted(starts, anchor_ns)) if starts[0] < anchor_ns else 0
    hi = int(np.searchsorted(starts, min(close_ns, upto_ns)))
    if lo >= hi:
        return _NOTHING
    first_end = anchor_ns + ((int(starts[lo]) - anchor_ns) // target_ns + 1) * target_ns
    if min(first_end, close_ns) > upto_ns:
        return _NOTHING
    if int(starts[hi - 1]) < first_end <= close_ns:
        return _one_window(base.slice(lo, hi), base_ns, target_ns, anchor_ns, first_end - target_ns)
    return _aggregate_rows(base.slice(lo, hi), base_ns, target_ns, anchor_ns, upto_ns, close_ns)


def _one_window(
    base: BarArrays, base_ns: int, target_ns: int, anchor_ns: int, window_start: int
) -> AggregateResult:
    # Every row lies in one finished window that the close does not cut (the live path: one
    # step at a time). The same values as `_aggregate_rows`, from the same reductions.
    start, o, h, lo, c, v = base
    _check_grid(start, start - np.int64(anchor_ns), base_ns)
    ws = np.array([window_start], dtype=np.int64)
    if start.shape[0] != target_ns // base_ns:
        return AggregateResult(empty_bars(), ws)
    head = _HEAD
    bar = BarArrays(ws, o[:1].copy(), np.maximum.reduceat(h, head), np.minimum.reduceat(lo, head),
                    c[-1:].copy(), np.add.reduceat(v, head))
    return AggregateResult(bar, _NO_STARTS)


def _aggregate_rows(
    base: BarArrays, base_ns: int, target_ns: int, anchor_ns: int, upto_ns: int, close_ns: int
) -> AggregateResult:
    start, o, h, lo, c, v = base
    offset = start - np.int64(anchor_ns)
    _check_grid(start, offset, base_ns)
    window = offset // np.int64(target_ns)
    m = start.shape[0]
    cuts = np.flatnonzero(window[1:] != window[:-1]) + 1
    first = np.concatenate(([0], cuts))
    last = np.concatenate((cuts, [m])) - 1
    window_start = np.int64(anchor_ns) + window[first] * np.int64(target_ns)
    nominal_end = window_start + np.int64(target_ns)
    finished = np.minimum(nominal_end, np.int64(close_ns)) <= np.int64(upto_ns)
    complete = (last - first + 1 == target_ns // base_ns) & (nominal_end <= np.int64(close_ns))
    made = finished & complete
    skipped = window_start[finished & ~complete]
    if not made.any():
        return AggregateResult(empty_bars(), skipped)
    out = BarArrays(
        window_start[made],
        o[first[made]],
        np.maximum.reduceat(h, first)[made],
        np.minimum.reduceat(lo, first)[made],
        c[last[made]],
        np.add.reduceat(v, first)[made],
    )
    return AggregateResult(out, skipped)


def _check_grid(start: np.ndarray, offset: np.ndarray, base_ns: int) -> None:
    off_grid = np.flatnonzero(offset % np.int64(base_ns))
    if off_grid.shape[0]:
        raise ValueError(
            f"expected base bar starts on the {base_ns} ns grid of the session open, "
            f"received start {int(start[off_grid[0]])}"
        )
    if start.shape[0] > 1:
        unordered = np.flatnonzero(start[1:] <= start[:-1])
        if unordered.shape[0]:
            raise ValueError(
                f"expected strictly increasing base bar starts, received start "
                f"{int(start[unordered[0] + 1])} after {int(start[unordered[0]])}"
            )


def aggregate_daily(base: BarArrays, open_ns: int) -> BarArrays:
    """Return the session's daily bar built from whatever base bars are present.

    Parameters
    ----------
    base : BarArrays
        The session's base bars (any number, in time order).
    open_ns : int
        The session open; the start of the daily bar.

    Returns
    -------
    BarArrays
        One bar (first open, max high, min low, last close, summed volume), or none when
        `base` is empty.
    """
    if len(base) == 0:
        return empty_bars()
    return BarArrays(
        np.array([open_ns], dtype=np.int64),
        base.open[:1].copy(),
        np.array([base.high.max()]),
        np.array([base.low.min()]),
        base.close[-1:].copy(),
        np.array([base.volume.sum()]),
    )
