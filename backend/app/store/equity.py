"""EquityLog: the equity curve since the last `forget` (a session), one point per time step, preallocated."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["EquityLog"]


class EquityLog:
    """Append-only ``(ns, equity, cash)`` columns with a published length (like `BarSeries`).

    The engine appends a batch of steps at a time; the columns grow by doubling, and the
    snapshot ``(columns, length)`` is replaced by one assignment, so a reader (the status line,
    the outputs) never sees a half-written point.

    Warnings
    --------
    One writer thread (the AnalysisEngine); any thread may read.
    """

    __slots__ = ("_before", "_snap")

    def __init__(self, capacity: int = 4096) -> None:
        cap = max(1, capacity)
        self._snap: tuple[tuple[np.ndarray, np.ndarray, np.ndarray], int] = (
            (np.empty(cap, np.int64), np.empty(cap, np.float64), np.empty(cap, np.float64)), 0)
        self._before: float | None = None  # the last forgotten point's equity

    def forget(self) -> None:
        """Drop the points so far (they were journaled); the next point goes to row 0 again.

        Called between sessions while the writer is quiescent, so a run holds one session's
        points, not its whole curve. `last_equity` still answers.
        """
        cols, n = self._snap
        if n:
            self._before = float(cols[1][n - 1])
        self._snap = (cols, 0)

    def __len__(self) -> int:
        return self._snap[1]

    def extend(self, ns: Sequence[int], equity: Sequence[float] | np.ndarray,
               cash: Sequence[float] | np.ndarray) -> None:
        """Append the points of one batch (three lists or arrays of equal length)."""
        cols, n = self._snap
        k = len(ns)
        if not k:
            return
        if n + k > cols[0].shape[0]:
            cap = max(2 * cols[0].shape[0], n + k)
            grown = tuple(np.empty(cap, c.dtype) for c in cols)
            for dst, src in zip(grown, cols, strict=True):
                dst[:n] = src[:n]
            cols = grown  # type: ignore[assignment]
        cols[0][n : n + k] = ns
        cols[1][n : n + k] = equity
        cols[2][n : n + k] = cash
        self._snap = (cols, n + k)

    def _column(self, i: int) -> np.ndarray:
        cols, n = self._snap
        out = cols[i][:n]
        out.setflags(write=False)
        return out

    @property
    def ns(self) -> np.ndarray:
        """Step end times (int64 ns UTC), read-only."""
        return self._column(0)

    @property
    def equity(self) -> np.ndarray:
        return self._column(1)

    @property
    def cash(self) -> np.ndarray:
        return self._column(2)

    def last_equity(self) -> float | None:
        """The newest point's equity, or None before the first step."""
        cols, n = self._snap
        return float(cols[1][n - 1]) if n else self._before
