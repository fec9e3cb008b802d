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

import mmap
from collections import deque
from collections.abc import Callable, Sequence
from itertools import repeat
from typing import Any

import numpy as np

from app.errors import InvariantError
from app.store.bar import BarArrays
from app.store.series import BarSeries, SingleWriter, read_only, snapshot_slot

# The slot `BarSeries.publish` assigns ``(columns, length)`` to (the panel publishes its rows).
_SET_SNAP, _GET_SNAP = snapshot_slot(BarSeries)

__all__ = ["BarPanel"]

HUGE_PAGE_MIN_BYTES = 4 << 20
PRETOUCH_ROWS = 512  # rows written at construction (a 4 KB page of each symbol's rows when by symbol)


class BarPanel:
    """The bars of one interval for `names` (one per symbol), `capacity` rows each.

    Parameters
    ----------
    names : sequence of str
        Each row's series name (e.g. ``"SYM/1s"``), in the session's symbol order.
    capacity : int
        Rows per symbol (the session's steps; never grown).
    """

    def __init__(self, names: Sequence[str], capacity: int, *, by_symbol: bool = False) -> None:
        n, cap = len(names), max(1, capacity)
        # Untouched pages are never made resident: memory follows the rows written (`_lazy`).
        # by_symbol: each symbol's rows contiguous (the same arrays, numerically, as a BarSeries
        # of its own); else a step's bars side by side (the cheaper write, strided series).
        shape, view = ((n, cap), np.transpose) if by_symbol else ((cap, n), np.asarray)
        self.cols = BarArrays(view(_lazy(shape, np.int64)), *(view(_lazy(shape, np.float64)) for _ in range(5)))
        for col in self.cols:  # the first rows' pages made resident now, not in a live step's way
            col[:PRETOUCH_ROWS] = 0
        self.lens = np.zeros(n, dtype=np.int64)
        self.series: list[BarSeries] = [_PanelSeries(name, BarArrays(*(col[:, i] for col in self.cols)), self, i)
                                        for i, name in enumerate(names)]
        self._all = np.arange(n, dtype=np.int64)
        self._cols = [_GET_SNAP(one)[0] for one in self.series]  # each series' (read-only) columns
        self._owner = SingleWriter("bar panel")
        self._ro = BarArrays(*(read_only(col) for col in self.cols))
        self._even = 0  # every symbol's length when they are all equal, else -1
        self._latest = np.iinfo(np.int64).min  # the latest start written (for `append_all`)

    @property
    def capacity(self) -> int:
        return int(self.cols.start.shape[0])

    def row(self, r: int) -> BarArrays:
        """Return row `r` of every symbol (read-only views; published rows never change)."""
        return BarArrays(*(col[r] for col in self._ro))

    def append_all(self, start: int, values: Sequence[Sequence[float] | np.ndarray]) -> int | None:
        """Append a bar starting at `start` to every symbol's series (OHLCV columns `values`, item
        ``s`` symbol ``s``'s) and publish them; return the row written, the same for all.

        The common live step, in a few plain row writes. Returns None, writing nothing, unless
        every series has the same length (then `append_step`) and `start` is after every bar
        written; raises as `append_step` when the series are full.
        """
        self._owner.check()
        r = self._even
        if r < 0 or start <= self._latest:
            return None
        cols = self.cols
        if r >= cols.start.shape[0]:
            raise InvariantError(f"series {self.series[0].name}: full ({r} rows)")
        cols.start[r] = start
        cols.open[r], cols.high[r], cols.low[r], cols.close[r], cols.volume[r] = values
        self.lens.fill(r + 1)
        self._even, self._latest = r + 1, start
        deque(map(_SET_SNAP, self.series, zip(self._cols, repeat(r + 1))), maxlen=0)
        return r

    def append_rows(self, s: int, bars: BarArrays) -> None:
        """Append `bars` (sorted) to symbol `s`'s series and publish them (`BarSeries.append` of a
        row's series: the per-symbol paths)."""
        self._owner.check()
        k = len(bars)
        if k == 0:
            return
        n, cols, series = int(self.lens[s]), self.cols, self.series[s]
        if n + k > cols.start.shape[0]:
            raise InvariantError(f"series {series.name}: full ({cols.start.shape[0]} rows)")
        if n and int(bars.start[0]) <= int(cols.start[n - 1, s]):
            raise InvariantError(f"series {series.name}: appended bar at {int(bars.start[0])} is not after "
                                 f"{int(cols.start[n - 1, s])}")
        for dst, src in zip(cols, bars, strict=True):
            dst[n:n + k, s] = src
        self.lens[s] = n + k
        self._even = -1 if len(self.series) > 1 else n + k
        self._latest = max(self._latest, int(bars.start[k - 1]))
        _SET_SNAP(series, (self._cols[s], n + k))

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
        lens = self.lens
        self._even = int(lens[0]) if int(lens.min()) == int(lens.max()) else -1
        self._latest = max(self._latest, int(bars.start.max()))
        publish_rows(_SET_SNAP, self.series, self._cols, None if idx is None else which, after)
        return rows


def publish_rows(set_snap: Callable[[Any, Any], None], series: Sequence[Any], cols: Sequence[Any],
                 idx: np.ndarray | None, lengths: np.ndarray) -> None:
    """Publish ``lengths[j]`` rows of ``series[idx[j]]`` (None: of every series, in order): each
    snapshot ``(its columns, length)`` replaced by one reference assignment through `set_snap`,
    as `BarSeries.publish` does, in C (no Python frame per series). The rows are written before."""
    if idx is None:
        deque(map(set_snap, series, zip(cols, lengths.tolist(), strict=True)), maxlen=0)
        return
    at = idx.tolist()
    deque(map(set_snap, map(series.__getitem__, at), zip(map(cols.__getitem__, at), lengths.tolist(), strict=True)),
          maxlen=0)


def _lazy(shape: tuple[int, int], dtype: type[np.generic]) -> np.ndarray:
    """An uninitialised array whose pages are made resident one small page at a time, as rows are
    written. numpy's own large arrays ask the kernel for huge pages: the first write to each 2 MB
    then costs ~0.1-0.3 ms (measured: a 76 ms step when a window's bars first touched every
    symbol's rows), in the middle of a live step."""
    size = max(1, shape[0] * shape[1]) * np.dtype(dtype).itemsize
    if size < HUGE_PAGE_MIN_BYTES:  # numpy asks for huge pages from 4 MB on; below, its own allocator
        return np.empty(shape, dtype=dtype)
    buf = mmap.mmap(-1, size)  # anonymous, zero-filled on first touch
    no_huge = getattr(mmap, "MADV_NOHUGEPAGE", None)
    if no_huge is not None:
        buf.madvise(no_huge)
    return np.frombuffer(buf, dtype=dtype, count=shape[0] * shape[1]).reshape(shape)


class _PanelSeries(BarSeries):
    """A symbol's series in a `BarPanel`: a preloaded series whose appends go through the panel."""

    __slots__ = ("_i", "_panel")

    def __init__(self, name: str, cols: BarArrays, panel: BarPanel, i: int) -> None:
        super().__init__(name, preloaded=cols)
        self._panel, self._i = panel, i

    def append(self, bars: BarArrays) -> None:
        self._panel.append_rows(self._i, bars)

    def append_one(self, start: int, open_: float, high: float, low: float, close: float, volume: float) -> None:
        self._panel.append_rows(self._i, BarArrays(np.array([start], dtype=np.int64),
                                                   *(np.array([x], dtype=np.float64)
                                                     for x in (open_, high, low, close, volume))))
