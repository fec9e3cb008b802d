"""Replay of stored bars onto the wall clock: which step is due when, stamped with which start.

Pure: no sockets, no clock. Step ``k`` (all symbols' bars of the k-th stored timestamp on or
after the start date) is stamped ``anchor + (k - history_steps) * interval`` and becomes due
(closed) one interval later. Steps before ``history_steps`` are already closed when the server
starts, so REST serves them at once (warm-up history for a live session).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Final

import numpy as np

from app.errors import DataError
from app.store.bar import NS_PER_SECOND, Interval, parse_interval
from app.store.files import read_bars_file

__all__ = ["Replay", "ReplayBar", "StoredSteps", "load_steps", "served_interval"]

UPDATE_EVERY: Final = 10
"""With restatements on, every 10th bar (index % 10 == 9) gets an ``updatedBars`` restatement."""


@dataclass(frozen=True, slots=True)
class ReplayBar:
    """One restamped bar: `index` numbers every bar of the replay in (step, symbol) order."""

    symbol: str
    start_ns: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    index: int
    step: int


@dataclass(frozen=True, slots=True)
class StoredSteps:
    """Stored bars grouped by timestamp: ``steps[k]`` lists ``(symbol, o, h, l, c, v)`` sorted by symbol.

    ``starts[k]`` is the stored start (int ns UTC) of step ``k`` (what ``--rest-archive`` serves).
    """

    interval: Interval
    symbols: tuple[str, ...]
    first_session: date
    steps: tuple[tuple[tuple[str, float, float, float, float, float], ...], ...]
    starts: tuple[int, ...] = ()


def _read_store_file(path: Path) -> tuple[np.ndarray, np.ndarray]:
    # One seam for the bar store's reader.
    bars = read_bars_file(path)
    return np.asarray(bars.start, dtype=np.int64), np.column_stack([np.asarray(c, dtype=np.float64) for c in bars[1:]])


def load_steps(store: Path, interval_label: str | None, symbols: list[str] | None, start: date | None) -> StoredSteps:
    """Return the stored bars of `store` from the `start` date on (default: the first stored day).

    Raises
    ------
    DataError
        If the interval folder or a requested symbol's file is missing, or no bars remain.
    """
    store = Path(store)
    if interval_label is None:
        folders = sorted(p.name for p in store.iterdir() if p.is_dir()) if store.is_dir() else []
        if len(folders) != 1:
            raise DataError(str(store), f"expected one interval folder or --interval, received folders {folders}")
        interval_label = folders[0]
    interval = parse_interval(interval_label)
    folder = store / interval.label
    names = symbols or sorted(p.stem for p in folder.glob("*.parquet"))
    if not names:
        raise DataError(str(folder), "expected bar files <SYMBOL>.parquet, received none")
    start_ns = 0
    if start is not None:
        start_ns = int(datetime(start.year, start.month, start.day, tzinfo=UTC).timestamp()) * NS_PER_SECOND
    by_start: dict[int, list[tuple[str, float, float, float, float, float]]] = {}
    for name in sorted(names):
        starts, values = _read_store_file(folder / f"{name}.parquet")
        for i in np.flatnonzero(starts >= start_ns):
            o, h, low, c, v = (float(x) for x in values[i])
            by_start.setdefault(int(starts[i]), []).append((name, o, h, low, c, v))
    if not by_start:
        raise DataError(str(folder), f"expected bars on or after {start or 'the first stored day'}, received none")
    first = datetime.fromtimestamp(min(by_start) // NS_PER_SECOND, tz=UTC).date()
    steps = tuple(tuple(sorted(by_start[t])) for t in sorted(by_start))
    return StoredSteps(interval, tuple(sorted(names)), first, steps, tuple(sorted(by_start)))


def served_interval(stored: Interval, speed: int) -> Interval:
    """Return the interval bars are streamed at: `stored` divided by `speed`.

    Raises
    ------
    ValueError
        If `speed` < 1 or the result is not 1s, 1m or 1d (the base intervals a session streams).
    """
    served = {1: "1s", 60: "1m", 86400: "1d"}.get(stored.seconds // speed if speed >= 1 else 0)
    if speed < 1 or stored.seconds % speed != 0 or served is None:
        raise ValueError(
            f"expected --speed to turn {stored.label} bars into 1s, 1m or 1d bars, received {speed!r}"
        )
    return parse_interval(served)


class Replay:
    """The restamped replay: step times, closed steps at an instant, REST queries, restatements."""

    def __init__(
        self, stored: StoredSteps, interval: Interval, anchor_ns: int, *, history_steps: int = 0, updates: bool = False
    ) -> None:
        self.interval = interval
        self.symbols = stored.symbols
        self.anchor_ns = anchor_ns - anchor_ns % interval.ns
        self.history_steps = min(max(history_steps, 0), len(stored.steps))
        self.updates = updates
        self._bars: list[tuple[ReplayBar, ...]] = []
        self._by_symbol: dict[str, list[ReplayBar]] = {s: [] for s in stored.symbols}
        index = 0
        for k, rows in enumerate(stored.steps):
            start = self.step_start_ns(k)
            step = tuple(
                ReplayBar(s, start, o, h, low, c, v, index + i, k) for i, (s, o, h, low, c, v) in enumerate(rows)
            )
            index += len(step)
            self._bars.append(step)
            for bar in step:
                self._by_symbol[bar.symbol].append(bar)

    def __len__(self) -> int:
        return len(self._bars)

    def step_start_ns(self, k: int) -> int:
        """Return the restamped start of step `k`."""
        return self.anchor_ns + (k - self.history_steps) * self.interval.ns

    def due_ns(self, k: int) -> int:
        """Return when step `k` closes (is streamed)."""
        return self.step_start_ns(k) + self.interval.ns

    def step_bars(self, k: int) -> tuple[ReplayBar, ...]:
        """Return the bars of step `k`, sorted by symbol."""
        return self._bars[k]

    def closed_steps(self, now_ns: int) -> int:
        """Return how many steps have closed at `now_ns`."""
        return max(0, min(len(self._bars), (now_ns - self.anchor_ns) // self.interval.ns + self.history_steps))

    def is_restated(self, bar: ReplayBar) -> bool:
        """Return True when `bar` gets an ``updatedBars`` restatement."""
        return self.updates and bar.index % UPDATE_EVERY == UPDATE_EVERY - 1

    def update_due_ns(self, bar: ReplayBar) -> int:
        """Return when the restatement of `bar` is sent: half an interval after the bar."""
        return bar.start_ns + self.interval.ns + self.interval.ns // 2

    def restated(self, bar: ReplayBar) -> ReplayBar:
        """Return the restatement of `bar`: close moved up by 1% of the range (min 0.01), high widened."""
        close = round(bar.close + max(0.01, (bar.high - bar.low) * 0.01), 6)
        return replace(bar, close=close, high=max(bar.high, close))

    def rest_bars(self, symbol: str, start_ns: int, end_ns: int, now_ns: int) -> list[ReplayBar]:
        """Return closed bars of `symbol` with ``start_ns <= start <= end_ns``, final values.

        Both ends are inclusive, like Alpaca's REST bars endpoint.
        """
        rows = self._by_symbol.get(symbol, [])
        closed = self.closed_steps(now_ns)
        lo = bisect.bisect_left(rows, start_ns, key=lambda b: b.start_ns)
        hi = bisect.bisect_right(rows, end_ns, key=lambda b: b.start_ns)
        out = []
        for bar in rows[lo:hi]:
            if bar.step >= closed:
                break
            if self.is_restated(bar) and now_ns >= self.update_due_ns(bar):
                bar = self.restated(bar)
            out.append(bar)
        return out
