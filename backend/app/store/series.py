"""BarSeries and ValueSeries: append-only columns with a published length (zero-copy views)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from app.errors import InvariantError
from app.store.bar import BarArrays, empty_bars

__all__ = ["BarSeries", "SingleWriter", "ValueSeries", "read_only", "snapshot_slot"]


def read_only(arr: np.ndarray) -> np.ndarray:
    """Return a read-only view of `arr` (no copy): what readers of a series are handed."""
    view = arr.view()
    view.setflags(write=False)
    return view



_EMPTY = BarArrays(*(read_only(c) for c in empty_bars()))


class SingleWriter:
    """The first thread that writes owns the series (or table); a second writer is a bug (rule 4)."""

    __slots__ = ("_name", "_writer")

    def __init__(self, name: str) -> None:
        self._name = name
        self._writer: int | None = None

    def check(self) -> None:
        me = threading.get_ident()
        if self._writer is None:
            self._writer = me
        elif self._writer != me:
            raise InvariantError(
                f"series {self._name}: second writer thread {threading.current_thread().name} "
                f"(the first writer owns it)"
            )


class BarSeries:
    """Bars of one (symbol, interval) in time order: append-only, published length, views.

    The columns live in one snapshot ``(columns, length)`` replaced by a single reference
    assignment; rows below ``length`` are never written again, so a reader that took a view
    keeps a valid, unchanging picture while the writer appends (DESIGN.md rule 4).

    Warnings
    --------
    One writer thread (the first to call `append`/`publish`); any thread may read `view`,
    `__len__` and `row`. Views are read-only numpy views, never copies.
    """

    __slots__ = ("_owner", "_ro", "_snap", "name")

    def __init__(self, name: str, capacity: int = 512, preloaded: BarArrays | None = None) -> None:
        self.name = name
        self._owner = SingleWriter(name)
        if preloaded is not None:
            # Backtests hand the store's arrays in: nothing is copied, `publish` reveals rows.
            self._snap: tuple[BarArrays, int] = (BarArrays(*(read_only(c) for c in preloaded)), 0)
            self._ro = self._snap[0]
        else:
            cap = max(1, capacity)
            cols = BarArrays(np.empty(cap, np.int64), *(np.empty(cap, np.float64) for _ in range(5)))
            self._snap = (cols, 0)
            self._ro = BarArrays(*(read_only(c) for c in cols))

    def __len__(self) -> int:
        return self._snap[1]

    @property
    def capacity(self) -> int:
        return int(self._snap[0].start.shape[0])

    def publish(self, length: int) -> None:
        """Reveal preloaded rows up to `length` (never fewer than before)."""
        self._owner.check()
        cols, old = self._snap
        if length < old or length > cols.start.shape[0]:
            raise InvariantError(
                f"series {self.name}: publish({length}) with {old} published, capacity {cols.start.shape[0]}"
            )
        self._snap = (cols, length)

    def append(self, bars: BarArrays) -> None:
        """Copy `bars` (sorted, later than every published bar) to the end and publish them."""
        self._owner.check()
        cols, n = self._snap
        k = len(bars)
        if k == 0:
            return
        if n and int(bars.start[0]) <= int(cols.start[n - 1]):
            raise InvariantError(
                f"series {self.name}: appended bar at {int(bars.start[0])} is not after {int(cols.start[n - 1])}"
            )
        if n + k > cols.start.shape[0]:
            cols = self._grow(cols, n, n + k)
        for dst, src in zip(cols, bars, strict=True):
            dst[n : n + k] = src
        self._snap = (cols, n + k)  # one assignment publishes rows and (maybe) new arrays

    def append_one(self, start: int, open_: float, high: float, low: float, close: float, volume: float) -> None:
        """Append one bar given as scalars (the live path: no temporary arrays)."""
        self._owner.check()
        cols, n = self._snap
        if n and start <= cols.start[n - 1]:
            raise InvariantError(f"series {self.name}: appended bar at {start} is not after {int(cols.start[n - 1])}")
        if n + 1 > cols.start.shape[0]:
            cols = self._grow(cols, n, n + 1)
        cols.start[n] = start
        cols.open[n] = open_
        cols.high[n] = high
        cols.low[n] = low
        cols.close[n] = close
        cols.volume[n] = volume
        self._snap = (cols, n + 1)

    def _grow(self, cols: BarArrays, n: int, need: int) -> BarArrays:
        # Old arrays are never written again, so views readers hold stay valid.
        cap = max(2 * cols.start.shape[0], need)
        grown = BarArrays(*(np.empty(cap, c.dtype) for c in cols))
        for dst, src in zip(grown, cols, strict=True):
            dst[:n] = src[:n]
        self._ro = BarArrays(*(read_only(c) for c in grown))
        return grown

    def row(self, index: int) -> tuple[int, float, float, float, float, float]:
        """Return published row `index` as Python scalars ``(start, open, high, low, close, volume)``.

        Raises
        ------
        IndexError
            If `index` is not a published row.
        """
        cols, n = self._snap
        if not 0 <= index < n:
            raise IndexError(f"series {self.name}: row {index} of {n} published")
        return (int(cols.start[index]), float(cols.open[index]), float(cols.high[index]),
                float(cols.low[index]), float(cols.close[index]), float(cols.volume[index]))

    def view(self, upto: int | None = None) -> BarArrays:
        """Return read-only views of rows ``[0, min(upto, len))`` (no copy)."""
        ro = self._ro
        cols, n = self._snap
        if ro.start.shape[0] < n:  # raced a growth: rows past the old capacity are only in `cols`
            ro = BarArrays(*(read_only(c) for c in cols))
        if upto is not None and upto < n:
            n = max(0, upto)
        if n == 0:
            return _EMPTY
        s, o, h, lo, c, v = ro
        return BarArrays(s[:n], o[:n], h[:n], lo[:n], c[:n], v[:n])


class ValueSeries:
    """One float per bar of a series (an indicator): append-only with a published length.

    Warnings
    --------
    One writer thread; any thread may read. `value(i)` and `view(n)` never see unwritten rows.
    """

    __slots__ = ("_owner", "_snap", "name")

    def __init__(self, name: str, capacity: int = 512) -> None:
        self.name = name
        self._owner = SingleWriter(name)
        self._snap: tuple[np.ndarray, int] = (np.full(max(1, capacity), np.nan), 0)

    def __len__(self) -> int:
        return self._snap[1]

    def append(self, values: np.ndarray) -> None:
        self._owner.check()
        arr, n = self._snap
        k = int(values.shape[0])
        if n + k > arr.shape[0]:
            grown = np.full(max(2 * arr.shape[0], n + k), np.nan)
            grown[:n] = arr[:n]
            arr = grown
        arr[n : n + k] = values
        self._snap = (arr, n + k)

    def append_one(self, value: float) -> None:
        """Append one value (the live path: no temporary array)."""
        self._owner.check()
        arr, n = self._snap
        if n + 1 > arr.shape[0]:
            grown = np.full(max(2 * arr.shape[0], n + 1), np.nan)
            grown[:n] = arr[:n]
            arr = grown
        arr[n] = value
        self._snap = (arr, n + 1)

    def value(self, index: int) -> float:
        """Return row `index` (NaN when not yet written)."""
        arr, n = self._snap
        return float(arr[index]) if 0 <= index < n else float("nan")

    def view(self, upto: int | None = None) -> np.ndarray:
        arr, n = self._snap
        if upto is not None and upto < n:
            n = max(0, upto)
        out = arr[:n]
        out.setflags(write=False)
        return out


def snapshot_slot(cls: type[BarSeries] | type[ValueSeries]) -> tuple[Callable[[Any, Any], None], Callable[[Any], Any]]:
    """Return the C-level ``(set, get)`` of `cls`'s snapshot ``(columns, length)``.

    For tables that own the columns of many series (`store.panel.BarPanel`,
    `store.value_panel.ValuePanel`): they publish a series' rows as the series itself does, by
    replacing its snapshot in one reference assignment, without a Python call per series. The
    snapshot's layout is this module's: ``(BarArrays, length)`` for a `BarSeries`,
    ``(values, length)`` for a `ValueSeries`.
    """
    slot = cls.__dict__["_snap"]
    return slot.__set__, slot.__get__
