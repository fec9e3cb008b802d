"""StoredBarSource: bars for backtests (and live warm-up) from the Parquet bar store."""

from __future__ import annotations

from datetime import date

import numpy as np

from app.bars.aggregate import aggregate_bars, aggregate_daily
from app.bars.checks import check_bars
from app.feeds.base import HistoryLoad, SessionLoad
from app.store.bar import BarArrays, Interval, empty_bars
from app.store.bar_store import BarStore
from app.timing.time_manager import TimeManager

__all__ = ["StoredBarSource", "concat_bars", "derive_day"]


def concat_bars(parts: list[BarArrays]) -> BarArrays:
    """Return one BarArrays with the rows of `parts` in order (a copy; used off the hot path)."""
    parts = [p for p in parts if len(p)]
    if not parts:
        return empty_bars()
    if len(parts) == 1:
        return parts[0]
    return BarArrays(*(np.concatenate(cols) for cols in zip(*parts, strict=True)))


def derive_day(base_bars: BarArrays, base: Interval, interval: Interval, open_ns: int, close_ns: int) -> BarArrays:
    """Return the `interval` bars of the session ``[open_ns, close_ns)`` built from `base_bars` (sorted)."""
    starts = base_bars.start
    day = base_bars.slice(int(np.searchsorted(starts, open_ns)), int(np.searchsorted(starts, close_ns)))
    if interval.is_daily:
        return aggregate_daily(day, open_ns)
    return aggregate_bars(day, base.ns, interval.ns, open_ns, close_ns, close_ns).bars


def _counts(counts: dict) -> dict[str, int]:
    return {getattr(k, "name", str(k)): int(v) for k, v in counts.items() if int(v)}


class StoredBarSource:
    """Reads, checks and (when the store lacks an interval) derives bars for sessions.

    Warnings
    --------
    Used by the SessionCoordinator thread only (the BarStore cache is not shared).
    """

    def __init__(self, store: BarStore, time_manager: TimeManager, base: Interval) -> None:
        self.store = store
        self.tm = time_manager
        self.base = base
        self._repairs_reported: set[tuple[str, str]] = set()

    def begin_session(self, session: date) -> None:
        """Nothing to select: every file is read whole, once (see `WindowedBarSource` for backtests)."""

    def session_bars(self, symbol: str, session: date) -> SessionLoad:
        open_ns, close_ns = self.tm.session_bounds_ns(session)
        expected = self.tm.expected_bar_starts(session, self.base)
        raw = self.store.range(symbol, self.base, open_ns, close_ns)
        result = check_bars(raw, allowed_starts=expected)
        # The store sorts a whole file once; its repair count is reported with the first
        # session that reads the file, not again with every later one.
        key = (symbol, self.base.label)
        repairs = 0 if key in self._repairs_reported else self.store.repairs.get(key, 0)
        self._repairs_reported.add(key)
        return SessionLoad(result.accepted, _counts(result.counts), repairs)

    def history(self, symbol: str, interval: Interval, days: tuple[date, ...]) -> HistoryLoad:
        if not days:
            return HistoryLoad(empty_bars(), ())
        if self.store.has(symbol, interval):
            return self._stored_history(symbol, interval, days)
        return self._derived_history(symbol, interval, days)

    def _stored_history(self, symbol: str, interval: Interval, days: tuple[date, ...]) -> HistoryLoad:
        raw = self._raw_history(symbol, interval, days)
        expected = [self.tm.expected_bar_starts(d, interval) for d in days]
        allowed = np.concatenate(expected)
        result = check_bars(raw, allowed_starts=allowed)
        per_day = []
        starts = result.accepted.start
        for d, exp in zip(days, expected, strict=True):
            lo, hi = self.tm.session_bounds_ns(d)
            present = int(np.searchsorted(starts, hi) - np.searchsorted(starts, lo))
            per_day.append((int(exp.shape[0]), present))
        return HistoryLoad(result.accepted, tuple(per_day), _counts(result.counts))

    def _raw_history(self, symbol: str, interval: Interval, days: tuple[date, ...]) -> BarArrays:
        # The unchecked bars of `days` (live runs add what the store lacks from REST).
        first_open, _ = self.tm.session_bounds_ns(days[0])
        _, last_close = self.tm.session_bounds_ns(days[-1])
        return self.store.range(symbol, interval, first_open, last_close)

    def _derived_history(self, symbol: str, interval: Interval, days: tuple[date, ...]) -> HistoryLoad:
        base_hist = self._stored_history(symbol, self.base, days)
        parts, per_day = [], []
        for d in days:
            out = derive_day(base_hist.bars, self.base, interval, *self.tm.session_bounds_ns(d))
            parts.append(out)
            per_day.append((int(self.tm.expected_bar_starts(d, interval).shape[0]), len(out)))
        return HistoryLoad(concat_bars(parts), tuple(per_day), base_hist.rejected)
