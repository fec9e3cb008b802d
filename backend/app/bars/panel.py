"""Derived bars for many symbols at once: the base bars of the open windows, one row per step.

A live step brings at most one base bar per symbol, and a derived window (5s, 1m, ...) closes
at the same step for every symbol. `StepRows` keeps the steps' bars as ``(steps, n_symbols)``
columns; `StepRows.window` builds the derived bar of every symbol whose window is complete with
a few numpy calls, instead of one `aggregate_bars` call per symbol. The values are bit for bit
those of `aggregate_bars` (first open, last close, and high, low and volume from the same
``ufunc.reduceat`` over the same rows in the same order, one segment per symbol).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.store.bar import BarArrays

__all__ = ["StepRows", "WindowBars", "unfinished_from"]

_HEAD = np.zeros(1, dtype=np.intp)  # one reduceat segment: the whole window
_NONE = np.empty(0, dtype=np.intp)
_NONE.setflags(write=False)


def unfinished_from(anchor_ns: int, close_ns: int, target_ns: int, upto_ns: int) -> int:
    """Return the start of the first window not finished at `upto_ns` (as `aggregate_bars`
    finishes them: the window's end, cut at `close_ns`, is ``<= upto_ns``)."""
    start = anchor_ns + ((upto_ns - anchor_ns) // target_ns) * target_ns
    if min(start + target_ns, close_ns) <= upto_ns:
        start += target_ns  # the window at `upto_ns` is cut by the close, and over
    return start


@dataclass(frozen=True, slots=True)
class WindowBars:
    """One finished window for every symbol.

    Parameters
    ----------
    made : ndarray of int
        Positions of the symbols whose window was complete, increasing.
    bars : BarArrays
        Their derived bars, row ``j`` for symbol ``made[j]`` (all start at the window start).
        The open and close columns may be views of the `StepRows`' own rows: valid until its
        next `push` (take a copy to keep them).
    skipped : ndarray of int
        Positions of the symbols that had some but not all of the window's base bars.
    counts : ndarray of int, or int
        Per symbol, how many of the window's rows hold one of its bars (`StepRows.counts`); an
        int when it is the same for every symbol.
    """

    made: np.ndarray
    bars: BarArrays
    skipped: np.ndarray
    counts: np.ndarray | int


class StepRows:
    """Base bars of `n` symbols, one row per step (a bar start), oldest first.

    Rows are addressed by their absolute index (steps pushed since the last `clear`), which
    stays valid when older rows are dropped.

    Parameters
    ----------
    n : int
        Number of symbols.
    capacity : int
        Rows held before the buffer grows (the longest window's base bars, plus one).
    """

    def __init__(self, n: int, capacity: int) -> None:
        self.n = n
        self._start = np.empty(max(1, capacity), dtype=np.int64)
        self._present = np.zeros((max(1, capacity), n), dtype=bool)
        self._cols = np.empty((5, max(1, capacity), n))  # open, high, low, close, volume
        self._offset = 0  # absolute index of row 0
        self._partial = -1  # absolute index of the last row pushed without every symbol's bar
        self._every = np.arange(n, dtype=np.intp)  # `made` when every symbol's window is complete
        self._every.setflags(write=False)
        self._rows = 0  # rows held

    @property
    def end(self) -> int:
        """Absolute index of the next row pushed."""
        return self._offset + self._rows

    def clear(self) -> None:
        """Drop every row; the next one pushed is row 0."""
        self._offset = self._rows = 0
        self._partial = -1

    def push(self, start: int, idx: np.ndarray | None, bars: BarArrays) -> None:
        """Add the step starting at `start`: row ``j`` of `bars` is the bar of symbol ``idx[j]``
        (None: every symbol, in order). Starts must increase."""
        i = self._rows
        if i == self._start.shape[0]:
            self._grow()
        self._start[i] = start
        present, cols = self._present[i], self._cols[:, i]
        if idx is None:
            present[:] = True
            cols[:] = bars[1:]
        else:
            present[:] = False
            present[idx] = True
            cols[:, idx] = bars[1:]
            self._partial = self._offset + i
        self._rows = i + 1

    def first_at_or_after(self, t: int, lo: int) -> int:
        """Absolute index of the first row at or after absolute row `lo` whose start is >= `t`."""
        a = lo - self._offset
        return lo + int(np.searchsorted(self._start[a : self._rows], t))

    def starts(self, lo: int, hi: int) -> np.ndarray:
        """Starts of the absolute rows ``[lo, hi)``."""
        return self._start[lo - self._offset : hi - self._offset]

    def counts(self, lo: int, hi: int) -> np.ndarray:
        """Per symbol, how many of the absolute rows ``[lo, hi)`` hold one of its bars."""
        a, b = lo - self._offset, hi - self._offset
        return np.count_nonzero(self._present[a:b], axis=0)

    def window(self, lo: int, hi: int, window_start: int, per_window: int) -> WindowBars:
        """Aggregate the absolute rows ``[lo, hi)``, which all lie in one window.

        A symbol with `per_window` bars in those rows gets a bar; one with fewer (but some) is
        skipped; one with none is neither.
        """
        a, w = lo - self._offset, hi - lo
        count: np.ndarray | int
        full: np.ndarray | None = None
        if w == per_window and self._partial < lo:
            count = w  # the usual close: every row holds every symbol's bar (pushed so), nothing to count
        else:
            count = np.count_nonzero(self._present[a : a + w], axis=0)
            full = np.asarray(count == per_window)
        if full is None or full.all():  # every symbol has its window's bars (no index arrays)
            made, skipped, block = self._every, _NONE, self._cols[:, a : a + w]
        else:
            made = np.flatnonzero(full)
            skipped = np.flatnonzero((count > 0) & ~full)
            if made.shape[0] == 0:
                none = np.empty(0)
                return WindowBars(made, BarArrays(np.empty(0, np.int64), *(none,) * 5), skipped, count)
            block = self._cols[:, a : a + w][:, :, made]  # (5, w, k)
        # A complete symbol has a bar in every one of the rows (a row per grid slot), so each
        # symbol's column is its window's bars in time order: one reduceat segment per column,
        # as `aggregate_bars` reduces each symbol's rows.
        bars = BarArrays(np.full(made.shape[0], window_start, dtype=np.int64), block[0, 0],
                         np.maximum.reduceat(block[1], _HEAD, axis=0)[0],
                         np.minimum.reduceat(block[2], _HEAD, axis=0)[0], block[3, w - 1],
                         np.add.reduceat(block[4], _HEAD, axis=0)[0])
        return WindowBars(made, bars, skipped, count)

    def drop_before(self, lo: int) -> None:
        """Forget the rows before absolute index `lo`."""
        k = min(max(0, lo - self._offset), self._rows)
        if k == 0:
            return
        m = self._rows - k
        self._start[:m] = self._start[k : self._rows]
        self._present[:m] = self._present[k : self._rows]
        self._cols[:, :m] = self._cols[:, k : self._rows]
        self._offset += k
        self._rows = m

    def _grow(self) -> None:
        cap = 2 * self._start.shape[0]
        start = np.empty(cap, dtype=np.int64)
        present = np.zeros((cap, self.n), dtype=bool)
        cols = np.empty((5, cap, self.n))
        m = self._rows
        start[:m], present[:m], cols[:, :m] = self._start[:m], self._present[:m], self._cols[:, :m]
        self._start, self._present, self._cols = start, present, cols
