"""BarStore: the Parquet folder a backtest reads, one file per (interval, symbol), each read once."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from app.store.bar import BarArrays, Interval
from app.store.files import bar_path, read_bars_file
from app.timing.stopwatch import Stopwatch

__all__ = ["BarStore", "read_window"]


class BarStore:
    """Bars on disk under `root`: ``<root>/<interval>/<SYMBOL>.parquet`` (see `app.store.files`).

    Each file is read at most once per BarStore; the columns are kept in a cache and made
    read-only, so every caller shares one copy and `range` hands out views.

    A file whose timestamps are not non-decreasing is sorted (stable) on load and the number of
    rows that moved is recorded in `repairs` under ``(symbol, interval.label)``. Duplicate
    timestamps are left in place for the caller's bar checks.

    Parameters
    ----------
    root : Path
        The store folder.

    Warnings
    --------
    Not thread-safe: `load`, `range`, `has` and `symbols` are called from one thread (the
    SessionCoordinator). Arrays already returned are read-only and never change, so other
    threads may read those.
    """

    def __init__(self, root: Path, stopwatch: Stopwatch | None = None) -> None:
        self._root = Path(root)
        self.stopwatch = stopwatch or Stopwatch()  # times reads (load_seconds)
        self._cache: dict[tuple[str, str], BarArrays] = {}
        self.repairs: dict[tuple[str, str], int] = {}
        """Rows moved by the load-time sort, per (symbol, interval label); absent when none moved."""
        self.load_seconds: float = 0.0
        """Total time spent reading and sorting files, in seconds."""

    @property
    def root(self) -> Path:
        """The store folder."""
        return self._root

    def path(self, symbol: str, interval: Interval) -> Path:
        """Return the file that holds `symbol` at `interval` (it may not exist)."""
        return bar_path(self._root, interval, symbol)

    def has(self, symbol: str, interval: Interval) -> bool:
        """Return True when the store has a file for `symbol` at `interval`."""
        return (symbol, interval.label) in self._cache or self.path(symbol, interval).is_file()

    def symbols(self, interval: Interval) -> list[str]:
        """Return the symbols that have a file at `interval`, sorted."""
        folder = self._root / interval.label
        if not folder.is_dir():
            return []
        return sorted(p.stem for p in folder.glob("*.parquet") if p.is_file() and not p.name.startswith("."))

    def load(self, symbol: str, interval: Interval) -> BarArrays:
        """Return every bar of `symbol` at `interval`, sorted by start (read-only arrays).

        Raises
        ------
        DataError
            If the file is missing or unreadable (see `app.store.files.read_bars_file`).
        """
        key = (symbol, interval.label)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        began = self.stopwatch.now_ns()
        bars = read_bars_file(self.path(symbol, interval))
        bars, moved = _sort_stable(bars)
        for col in bars:
            col.setflags(write=False)
        self.load_seconds += self.stopwatch.elapsed_ns(began) / 1e9
        if moved:
            self.repairs[key] = moved
        self._cache[key] = bars
        return bars

    def range(self, symbol: str, interval: Interval, start_ns: int, end_ns: int) -> BarArrays:
        """Return the bars whose start lies in ``[start_ns, end_ns)``, as views of the loaded columns.

        Raises
        ------
        DataError
            If the file is missing or unreadable.
        """
        bars = self.load(symbol, interval)
        lo = int(np.searchsorted(bars.start, start_ns, side="left"))
        hi = int(np.searchsorted(bars.start, end_ns, side="left"))
        return bars.slice(lo, max(lo, hi))


def read_window(store: BarStore, symbol: str, interval: Interval, start_ns: int, end_ns: int) -> tuple[BarArrays, int]:
    """Read the bars of `symbol` whose start lies in ``[start_ns, end_ns)`` straight from the file.

    Nothing is cached (a backtest reads a bounded window of sessions at a time, so memory does
    not grow with the run's length). Rows are sorted (stable) by start; returns them read-only
    with the number of rows the sort moved.

    Raises
    ------
    DataError
        If the file is missing or unreadable.
    """
    began = store.stopwatch.now_ns()
    bars, moved = _sort_stable(read_bars_file(store.path(symbol, interval), start_ns, end_ns))
    for col in bars:
        col.setflags(write=False)
    store.load_seconds += store.stopwatch.elapsed_ns(began) / 1e9
    return bars, moved


def _sort_stable(bars: BarArrays) -> tuple[BarArrays, int]:
    start = bars.start
    if start.shape[0] < 2 or bool(np.all(start[1:] >= start[:-1])):
        return bars, 0
    order = np.argsort(start, kind="stable")
    moved = int(np.count_nonzero(order != np.arange(order.shape[0])))
    return BarArrays(*(np.ascontiguousarray(col[order]) for col in bars)), moved
