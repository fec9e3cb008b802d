"""BarPanel: one interval's bars of every symbol of a live session, appended a step at a time.

A live step brings at most one bar per symbol. Appending them one `BarSeries.append_one` at a
time costs a handful of numpy scalar writes per symbol; the panel keeps the interval's columns
of all the symbols as ``(capacity, n_symbols)`` tables and writes a step's bars with one
vector write per column (`append_step`). Row-major by step: a step's bars lie side by side
(symbol-major tables cost ~4x more per write on a 2-core VM: a page, and its TLB entry, per
symbol). Each symbol's `BarSeries` is a column of the tables (a preloaded series: a strided,
read-only view), with its own published length: readers see exactly what they saw
before (``view()``, ``row()``, ``len()``), and rows below a published length are never
written again (DESIGN.md rule 4): a step writes the row at each symbol's length, then
publishes it.

Warnings
--------
One writer thread (the first to call `append_step` owns every row's series). The capacity is
fixed: a live session's base series holds at most one bar per step of the session.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

import numpy as np

from app.errors import InvariantError
from app.store.bar import BarArrays
from app.store.series import BarSeries, _SingleWriter

# The slot `BarSeries.publish` assigns ``(columns, length)`` to (the panel publishes its rows).
_SET_SNAP = BarSeries._snap.__set__  # type: ignore[misc,attr-defined]

__all__ = ["BarPanel"]


class BarPanel:
    """The bars of one interval for `names` (one per symbol), `capacity` rows each.

    Parameters
    ----------
    names : sequence of str
        Each row's series name (e.g. ``"SYM/1s"``), in the session's symbol order.
    capacity : int
        Rows per symbol (the session's steps; never grown).
    """

    def __init__(self, names: Sequence[str], capacity: int) -> None:
        n, cap = len(names), max(1, capacity)
        # Untouched pages of np.empty are never made resident: memory follows the rows written.
        self.cols = BarArrays(np.empty((cap, n), np.int64), *(np.empty((cap, n), np.float64) for _ in range(5)))
        self.lens = np.zeros(n, dtype=np.int64)
        self.series = [BarSeries(name, preloaded=BarArrays(*(col[:, i] for col in self.cols)))
                       for i, name in enumerate(names)]
        self._all = np.arange(n, dtype=np.int64)
        self._cols = [one._snap[0] for one in self.series]  # each series' (read-only) columns
        self._owner = _SingleWriter("bar panel")

    @property
    def capacity(self) -> int:
        return int(self.cols.start.shape[0])

    def append_step(self, idx: np.ndarray | None, bars: BarArrays) -> np.ndarray:
        """Append row ``j`` of `bars` to the series of symbol ``idx[j]`` (None: row ``j`` to symbol
        ``j``, every symbol) and publish them; return those symbols' row indices written.

        Raises
        ------
        InvariantError
            If a series is full, or a bar does not start after that symbol's last bar (nothing
            is written then).
        """
        self._owner.check()
        k = len(bars)
        if k == 0:
            return np.empty(0, dtype=np.int64)
        which = self._all if idx is None else np.asarray(idx, dtype=np.int64)
        if which.shape[0] != k:
            raise InvariantError(f"bar panel: {k} bars for {which.shape[0]} symbols")
        rows = self.lens[which]
        cols = self.cols
        cap = cols.start.shape[0]
        if np.count_nonzero(rows >= cap):
            s = int(which[np.flatnonzero(rows >= cap)[0]])
            raise InvariantError(f"series {self.series[s].name}: full ({cap} rows)")
        had = np.flatnonzero(rows > 0)
        if had.shape[0]:
            last = cols.start[rows[had] - 1, which[had]]
            bad = np.flatnonzero(bars.start[had] <= last)
            if bad.shape[0]:
                j = int(had[bad[0]])
                raise InvariantError(f"series {self.series[int(which[j])].name}: appended bar at "
                                     f"{int(bars.start[j])} is not after {int(last[bad[0]])}")
        for dst, src in zip(cols, bars, strict=True):
            dst[rows, which] = src  # rows at or past each published length only
        after = rows + 1
        self.lens[which] = after
        # Publish: each series' snapshot replaced by one reference assignment, as
        # `BarSeries.publish` does (the rows are written before; the writer was checked above).
        if idx is None:
            deque(map(_SET_SNAP, self.series, zip(self._cols, after.tolist(), strict=True)), maxlen=0)
        else:
            at = which.tolist()
            deque(map(_SET_SNAP, map(self.series.__getitem__, at),
                      zip(map(self._cols.__getitem__, at), after.tolist(), strict=True)), maxlen=0)
        return rows
